"""`ci-ml promote --from-artifact`: after a merge, the model the PR's check trained and
gated is promoted, nothing retrained; verified, compare-and-swap, re-gated if the
champion moved. Real runs of examples/penguins with the local registry."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_ml.cli import main
from tests.fakegithub import FakeGitHub
from tests.github_support import FAST, REPO, TOKEN

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MERGE = ["--pull-request", "7", "--merge-commit", "m" * 40, "--merged-by", "octocat"]
TRAINED_BY = ["--trained-by", "https://github.invalid/octo/demo/actions/runs/41"]


def project(tmp_path: Path, **params: Any) -> Path:
    folder = tmp_path / "penguins"
    if not folder.exists():
        shutil.copytree(EXAMPLES / "penguins", folder, ignore=shutil.ignore_patterns(".ci-ml"))
    config = yaml.safe_load((folder / "ci-ml.yaml").read_text())
    config["model"]["params"] |= params
    (folder / "ci-ml.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return folder


def pr_check(folder: Path, artifact: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """What the PR check leaves as its artifact: its run folder, downloaded elsewhere."""
    monkeypatch.chdir(folder)
    assert main(["check", "--run-dir", str(folder / ".ci-ml" / "pr-run")]) in (0, 1)
    shutil.copytree(folder / ".ci-ml" / "pr-run", artifact)
    return artifact


def promote(folder: Path, artifact: Path, *extra: str) -> int:
    args = ["promote", "-c", str(folder / "ci-ml.yaml"), "--from-artifact", str(artifact)]
    return main([*args, *MERGE, *TRAINED_BY, *extra])


def registry_json(folder: Path, *what: str) -> Any:
    return json.loads(
        _stdout(lambda: main(["registry", *what, "--json", "-c", str(folder / "ci-ml.yaml")]))
    )


def _stdout(call: Any) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert call() == 0
    return out.getvalue()


def artifact_sha(artifact: Path) -> str:
    return str(json.loads((artifact / "report.json").read_text())["challenger"]["sha256"])


def test_the_gated_model_is_promoted_with_the_merge_in_the_audit_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = project(tmp_path)
    artifact = pr_check(folder, tmp_path / "artifact", monkeypatch)
    assert promote(folder, artifact, "--expect-champion", "0") == 0
    listed = registry_json(folder, "list")
    assert listed["champion"] == 1
    [version] = listed["versions"]
    assert version["sha256"] == artifact_sha(artifact)  # exactly what the check gated
    [entry] = registry_json(folder, "history")["audit"]
    assert entry["pull_request"] == 7 and entry["merge_commit"] == "m" * 40
    assert entry["merged_by"] == "octocat"
    assert entry["trained_by_run"].endswith("/actions/runs/41")
    assert entry["regated"] is False and entry["compared_with"] is None

    assert promote(folder, artifact) == 0  # the merge event delivered twice: nothing new
    assert len(registry_json(folder, "list")["versions"]) == 1


def test_an_artifact_that_is_gone_promotes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = project(tmp_path)
    monkeypatch.chdir(folder)
    assert promote(folder, tmp_path / "expired") == 3
    err = capsys.readouterr().err
    assert "artifact has no report.json" in err and "nothing promoted" in err
    assert "Traceback" not in err
    assert not (folder / ".ci-ml" / "registry").exists() or (
        registry_json(folder, "list")["champion"] is None
    )


def test_a_model_file_changed_after_the_check_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = project(tmp_path)
    artifact = pr_check(folder, tmp_path / "artifact", monkeypatch)
    model = next(p for p in (artifact / "challenger").iterdir() if p.name.startswith("model."))
    model.write_bytes(model.read_bytes() + b"tampered")
    assert promote(folder, artifact) == 3
    assert "does not match its record" in capsys.readouterr().err
    assert registry_json(folder, "list")["champion"] is None


def test_a_blocked_check_is_not_promoted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = project(tmp_path, n_estimators=1, max_depth=1)  # below the accuracy floor
    artifact = pr_check(folder, tmp_path / "artifact", monkeypatch)
    assert json.loads((artifact / "report.json").read_text())["verdict"] == "block"
    assert promote(folder, artifact) == 1
    assert "Not promoted" in capsys.readouterr().err
    assert registry_json(folder, "list")["champion"] is None


def test_expecting_another_champion_than_the_check_compared_with_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = project(tmp_path)
    artifact = pr_check(folder, tmp_path / "artifact", monkeypatch)
    assert promote(folder, artifact, "--expect-champion", "3") == 2


def test_a_moved_champion_means_the_same_model_is_gated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = project(tmp_path, n_estimators=50)
    artifact = pr_check(folder, tmp_path / "artifact", monkeypatch)  # against no champion
    gated = artifact_sha(artifact)
    project(tmp_path, n_estimators=200)  # another PR merged first and became v1
    monkeypatch.chdir(folder)
    assert main(["check", "--promote"]) == 0
    project(tmp_path, n_estimators=50)  # the merge commit's config is this PR's again

    code = promote(folder, artifact)
    err = capsys.readouterr().err
    assert "champion moved" in err and "gated again" in err
    rescored = json.loads((artifact / "report.json").read_text())
    assert rescored["champion"] == 1  # scored against the new champion
    assert rescored["challenger"]["sha256"] == gated  # the same model, not retrained
    listed = registry_json(folder, "list")
    if code == 0:
        assert listed["champion"] == 2 and listed["versions"][-1]["sha256"] == gated
        assert registry_json(folder, "history")["audit"][-1]["regated"] is True
    else:
        assert code == 1 and listed["champion"] == 1 and rescored["verdict"] == "block"


def test_changed_eval_rows_cannot_be_regated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = project(tmp_path, n_estimators=50)
    artifact = pr_check(folder, tmp_path / "artifact", monkeypatch)
    project(tmp_path, n_estimators=200)
    assert main(["check", "--promote"]) == 0
    project(tmp_path, n_estimators=50)
    eval_file = folder / "data" / "eval.csv"
    eval_file.write_text("".join(eval_file.read_text().splitlines(keepends=True)[:-5]))
    assert promote(folder, artifact) == 3
    assert "eval rows changed since the PR check" in capsys.readouterr().err
    assert registry_json(folder, "list")["champion"] == 1


# -- the github-releases registry, changed by hand between the check and the merge --------


@pytest.fixture
def on_github(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_github: FakeGitHub
) -> tuple[Path, Path]:
    """penguins on the github-releases registry: v1 the champion, then a PR's check
    (n_estimators 50) compared with v1, its artifact downloaded."""
    from ci_ml.registry import github_releases

    monkeypatch.setattr(github_releases, "CLIENT_OPTIONS", FAST)
    for name, value in {"GITHUB_API_URL": fake_github.url, "GITHUB_REPOSITORY": REPO}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    folder = project(tmp_path)
    config = yaml.safe_load((folder / "ci-ml.yaml").read_text())
    config["registry"] = {"backend": "github-releases"}
    (folder / "ci-ml.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    monkeypatch.chdir(folder)
    assert main(["check", "--promote"]) == 0
    project(tmp_path, n_estimators=50)
    artifact = pr_check(folder, tmp_path / "artifact", monkeypatch)
    assert json.loads((artifact / "report.json").read_text())["champion"] == 1
    _forget()
    return folder, artifact


def _forget() -> None:
    from ci_ml.github import releases

    releases.forget()  # the merge's job is another process


def tags(fake: FakeGitHub) -> list[str]:
    return sorted(r["tag_name"] for r in fake.state.repo(REPO).releases.values())


def test_a_champion_release_deleted_by_hand_promotes_nothing(
    on_github: tuple[Path, Path], fake_github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, artifact = on_github
    state = fake_github.state.repo(REPO)
    [v1] = [k for k, r in state.releases.items() if r["tag_name"].endswith("/v1")]
    del state.releases[v1]
    branch_before = dict(state.refs)
    assert promote(folder, artifact) == 3
    err = capsys.readouterr().err
    assert "no version 1" in err and "Traceback" not in err
    assert tags(fake_github) == [] and state.refs == branch_before  # nothing added or moved


def test_a_force_pushed_champion_branch_is_refused_not_followed(
    on_github: tuple[Path, Path], fake_github: FakeGitHub, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, artifact = on_github
    state = fake_github.state.repo(REPO)
    [branch] = [r for r in state.refs if r.endswith("/registry")]
    # Someone rewrites the branch by hand: one new root commit, the audit log emptied.
    files = state.files_at(branch) | {"audit.jsonl": b""}
    orphan = fake_github.push(REPO, branch, files, "rewritten by hand")
    state.objects[orphan]["parents"] = []
    before = tags(fake_github)
    assert promote(folder, artifact) == 3
    err = capsys.readouterr().err
    assert "history was rewritten by hand" in err and "refused" in err
    assert tags(fake_github) == before and state.refs[branch] == orphan
