"""API economy: a PR run and a promotion cost the same number of API requests whatever
the registry's size (counted by the fake GitHub; benchmarks/api_requests.py tabulates)."""

from __future__ import annotations

from pathlib import Path

from tests.github_support import measure_requests

PR_RUN_BOUND = 15  # validate, train, evaluate, gate, report, comment, status
# pr-check.yml's steps (one process per stage) cost no more: later stages reuse the run
# folder's champion read (champion-read.json) instead of reading GitHub again.
STAGED_PR_RUN_BOUND = PR_RUN_BOUND
PROMOTION_BOUND = 30  # add a version (tag, draft, 4 uploads, verify, publish) + move the champion


def test_a_pr_run_and_a_promotion_cost_the_same_at_1_and_50_versions(tmp_path: Path) -> None:
    one = measure_requests(1, tmp_path / "one")
    fifty = measure_requests(50, tmp_path / "fifty")

    assert (one.pr_code, one.promote_code, fifty.pr_code, fifty.promote_code) == (0, 0, 0, 0)
    assert one.pr_run == fifty.pr_run <= PR_RUN_BOUND
    assert one.promotion == fifty.promotion <= PROMOTION_BOUND
    assert one.staged_codes == fifty.staged_codes == (0, 0, 0, 0, 0)
    assert one.staged == fifty.staged
    assert one.staged_run <= STAGED_PR_RUN_BOUND, one.staged
    # the champion is read once per run: evaluate and report ask GitHub nothing for it
    assert (one.staged["train"], one.staged["evaluate"], one.staged["gate"]) == (0, 0, 0)
    # weekly-retrain.yml's drift step compares with the champion its validate step read
    assert one.retrain["validate"] > 0
    assert one.retrain["drift"] == fifty.retrain["drift"] == 0, one.retrain
