"""publish(): comment + commit status, and what happens when GitHub says no."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from ci_ml.github import COMMENT_LIMIT, publish
from tests.fakegithub import SECONDARY_RATE_LIMIT_MESSAGE, FakeGitHub, Fault
from tests.github_support import (
    FAST,
    HEAD_SHA,
    REPO,
    TOKEN,
    marked,
    open_pr,
    pull_request_env,
    set_env,
    settings_for,
)

RUN_URL = "https://github.invalid/octo/demo/actions/runs/4242"


def report(n_sections: int = 3, rows: int = 5) -> str:
    parts = ["# ci-ml report: model\n\nVerdict: **promote**\n"]
    for s in range(n_sections):
        table = "\n".join(f"| metric_{r} | 0.{r:04d} | 0.{r + 1:04d} |" for r in range(rows))
        parts.append(
            f"## Section {s}\n\n| metric | champion | challenger |\n|---|---|---|\n{table}\n"
        )
    return "\n".join(parts)


def test_publish_posts_the_comment_and_a_success_status(fake_github: FakeGitHub) -> None:
    pr = open_pr(fake_github)
    result = publish(settings_for(fake_github, pr), report(), "model", "promote", options=FAST)

    assert result.posted and result.ok
    assert result.comment is not None and result.comment.action == "created"
    assert marked(fake_github, pr)[0]["body"].endswith(report())
    (status,) = fake_github.state.repo(REPO).statuses[HEAD_SHA]
    assert status["context"] == "ci-ml/model"
    assert status["state"] == "success"
    assert status["target_url"] == RUN_URL
    assert 0 < len(status["description"]) <= 140


@pytest.mark.parametrize(
    ("verdict", "state"),
    [("promote", "success"), ("block", "failure"), ("invalid-data", "failure"), ("?", "error")],
)
def test_status_state_follows_the_verdict(
    fake_github: FakeGitHub, verdict: str, state: str
) -> None:
    pr = open_pr(fake_github)
    result = publish(settings_for(fake_github, pr), "r", "model", verdict, options=FAST)

    assert result.status_state == state
    assert [s["state"] for s in fake_github.state.repo(REPO).statuses[HEAD_SHA]] == [state]


def test_a_second_publish_updates_the_same_comment(fake_github: FakeGitHub) -> None:
    pr = open_pr(fake_github)
    settings = settings_for(fake_github, pr)
    first = publish(settings, "run 1", "model", "block", options=FAST)
    second = publish(settings, "run 2", "model", "promote", options=FAST)

    assert first.comment and second.comment
    assert second.comment.comment_id == first.comment.comment_id
    assert len(fake_github.state.comments(REPO, pr)) == 1
    assert [s["state"] for s in fake_github.state.repo(REPO).statuses[HEAD_SHA]] == [
        "failure",
        "success",
    ]


def test_fork_pr_read_only_token_is_a_warning_and_a_saved_comment(
    fake_github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pr = open_pr(fake_github)
    fake_github.forbid("comments.create")
    fake_github.forbid("statuses.create")

    result = publish(
        settings_for(fake_github, pr),
        report(),
        "model",
        "block",
        fallback_dir=tmp_path,
        options=FAST,
    )

    out = capsys.readouterr().err
    assert not result.posted
    assert len(result.failures) == 2
    assert "403" in result.failures[0] and "read-only" in result.failures[0]
    assert out.count("::warning title=ci-ml::could not post the PR comment") == 1
    assert "::warning title=ci-ml::could not set the commit status" in out
    assert (tmp_path / "comment.md").read_text(encoding="utf-8") == report()
    meta = json.loads((tmp_path / "comment-meta.json").read_text())
    assert meta == {
        "pr_number": pr,
        "report_id": "model",
        "head_sha": HEAD_SHA,
        "comment_mode": "update",
    }
    assert fake_github.state.comments(REPO, pr) == []
    assert TOKEN not in out


def test_server_errors_are_retried_until_success(fake_github: FakeGitHub) -> None:
    pr = open_pr(fake_github)
    fake_github.fail("comments.list", status=500, times=2)
    fake_github.fail("comments.create", status=503, times=1)

    result = publish(settings_for(fake_github, pr), "body", "model", "promote", options=FAST)

    assert result.posted and result.ok
    assert len(marked(fake_github, pr)) == 1
    assert fake_github.state.count("comments.create") == 2


def test_server_errors_after_all_retries_are_a_failure_not_an_exception(
    fake_github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pr = open_pr(fake_github)
    fake_github.fail("comments.list", status=502, times=None)

    result = publish(
        settings_for(fake_github, pr),
        "body",
        "model",
        "promote",
        fallback_dir=tmp_path,
        options=FAST,
    )

    assert not result.posted
    assert "502" in result.failures[0]
    assert fake_github.state.count("comments.list") == FAST.retries + 1
    assert (tmp_path / "comment.md").read_text(encoding="utf-8") == "body"
    assert result.status_state == "success"  # the status went through regardless
    assert "::warning" in capsys.readouterr().err


def test_secondary_rate_limit_waits_as_asked_then_succeeds(fake_github: FakeGitHub) -> None:
    pr = open_pr(fake_github)
    fake_github.secondary_rate_limit("comments.create", retry_after=1)

    started = time.monotonic()
    result = publish(settings_for(fake_github, pr), "body", "model", "promote", options=FAST)

    assert result.posted and result.ok
    assert time.monotonic() - started >= 1.0
    assert len(marked(fake_github, pr)) == 1
    assert fake_github.state.count("comments.create") == 2


def test_a_rate_limit_longer_than_the_budget_gives_up_quickly(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    pr = open_pr(fake_github)
    fake_github.secondary_rate_limit("comments.list", retry_after=600)

    started = time.monotonic()
    result = publish(
        settings_for(fake_github, pr),
        "body",
        "model",
        "promote",
        fallback_dir=tmp_path,
        options=FAST,
    )

    assert time.monotonic() - started < FAST.max_wait
    assert not result.posted
    assert "secondary rate limit" in result.failures[0]
    assert (tmp_path / "comment.md").exists()


def test_unreachable_api_is_a_failure_not_an_exception(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = FakeGitHub().start()
    gone.stop()  # nothing listens on this port any more
    settings = settings_for(gone, 7)

    result = publish(settings, "body", "model", "promote", fallback_dir=tmp_path, options=FAST)

    assert not result.posted and len(result.failures) == 2
    assert "ConnectionError" in result.failures[0]
    assert (tmp_path / "comment.md").exists()
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err


def test_a_report_over_the_comment_limit_is_cut_with_a_pointer(fake_github: FakeGitHub) -> None:
    pr = open_pr(fake_github)
    big = report(n_sections=40, rows=60)
    assert len(big) > COMMENT_LIMIT

    publish(settings_for(fake_github, pr), big, "model", "block", options=FAST)

    (comment,) = marked(fake_github, pr)
    body = comment["body"]
    assert len(body) <= COMMENT_LIMIT
    assert "Report truncated" in body
    assert f"[job summary]({RUN_URL})" in body and "`ci-ml-report` artifact" in body
    kept = body.split("\n", 1)[1].split("\n---\n\n**Report truncated**")[0]
    assert big.startswith(kept)
    assert big[len(kept) :].lstrip("\n").startswith("## Section ")  # cut at a section start


def test_enterprise_base_url(fake_ghe: FakeGitHub) -> None:
    pr = open_pr(fake_ghe)
    assert fake_ghe.url.endswith("/api/v3")

    result = publish(settings_for(fake_ghe, pr), "body", "model", "promote", options=FAST)

    assert result.posted and result.ok
    assert len(marked(fake_ghe, pr)) == 1
    assert fake_ghe.state.requests
    # REST under /api/v3, GraphQL (who the token writes as) at GHES's /api/graphql
    rest = [r for r in fake_ghe.state.requests if r.route != "graphql.query"]
    assert rest and all(r.raw_path.startswith("/api/v3/") for r in rest)
    assert [r.raw_path for r in fake_ghe.state.requests if r.route == "graphql.query"] == [
        "/api/graphql"
    ]


def test_not_in_actions_posts_nothing_but_saves_the_comment(
    fake_github: FakeGitHub, tmp_path: Path
) -> None:
    pr = open_pr(fake_github)
    settings = settings_for(fake_github, pr, in_actions=False)

    result = publish(settings, "body", "model", "promote", fallback_dir=tmp_path, options=FAST)

    assert not result.posted and result.ok
    assert result.reason == "not running in GitHub Actions"
    assert fake_github.state.requests == []
    assert (tmp_path / "comment.md").read_text(encoding="utf-8") == "body"


def test_forced_off_and_mode_off(fake_github: FakeGitHub, tmp_path: Path) -> None:
    pr = open_pr(fake_github)
    settings = settings_for(fake_github, pr)

    forced_off = publish(settings, "b", "model", "promote", force=False, options=FAST)
    mode_off = publish(settings, "b", "model", "promote", "off", tmp_path, options=FAST)

    assert not forced_off.posted and forced_off.reason == "posting turned off"
    assert not mode_off.posted and mode_off.ok
    assert fake_github.state.comments(REPO, pr) == []
    assert mode_off.status_state == "success"  # "off" is about the comment only
    assert not (tmp_path / "comment.md").exists()


def test_the_token_never_shows(
    fake_github: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pr = open_pr(fake_github)
    fake_github.fail("comments.list", status=401, times=None, message=f"Bad token {TOKEN}")
    settings = settings_for(fake_github, pr)

    result = publish(settings, "b", "model", "promote", fallback_dir=tmp_path, options=FAST)

    captured = capsys.readouterr()
    shown = captured.out + captured.err + repr(settings) + str(settings) + repr(result)
    shown += "".join(p.read_text() for p in tmp_path.iterdir())
    assert result.failures
    assert TOKEN not in shown
    assert "token=" not in repr(settings)
    assert "***" in result.failures[0]  # the server echoed it; we redacted it


def test_429_with_retry_after_is_waited_out(fake_github: FakeGitHub) -> None:
    pr = open_pr(fake_github)
    fault = Fault(429, SECONDARY_RATE_LIMIT_MESSAGE, headers={"Retry-After": "1"})
    fake_github.inject("comments.list", fault)

    started = time.monotonic()
    result = publish(settings_for(fake_github, pr), "body", "model", "promote", options=FAST)

    assert result.posted and result.ok
    assert time.monotonic() - started >= 1.0
    assert len(marked(fake_github, pr)) == 1


def test_an_exhausted_rate_limit_never_hides_the_verdict(
    example, run_cli, fake_github: FakeGitHub, tmp_path, monkeypatch
) -> None:
    pr = open_pr(fake_github)
    set_env(monkeypatch, pull_request_env(tmp_path, pr, fake_github))
    fake_github.exhaust_rate_limit(TOKEN, reset_in=600)
    reset = time.strftime("%H:%M:%S UTC", time.gmtime(fake_github.state.tokens[TOKEN].reset))

    result = run_cli("check", cwd=example("diabetes"))

    assert result.code == 0  # the verdict's exit code (promote), not 3
    assert "rate limit exhausted" in result.err and reset in result.err
    assert "Traceback" not in result.err
    assert fake_github.state.comments(REPO, pr) == []
