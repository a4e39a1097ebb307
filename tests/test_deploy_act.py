"""workflows/deploy-on-champion.yml, run by `act` against the fake GitHub: the weekly
retrain promotes, ci-ml sends the ci-ml-champion repository_dispatch event, and that
event (as the fake received it) starts the deploy workflow, which pulls exactly the
announced version, verified; a tampered champion fails the deploy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.act.harness import REPO, git, make_repo, run_act
from tests.fakegithub import FakeGitHub

EXAMPLE = REPO / "examples" / "github-repo"
WORKFLOWS = REPO / "workflows"
DEPLOY = "ci-ml-deploy-on-champion.yml"
WEEKLY = "ci-ml-weekly-retrain.yml"
TOKEN = "fake-token-for-act"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub() as api:
        yield api


def deploying_repo(base: Path) -> Path:
    """The example repository with events on and a deploy script that copies the
    pulled folder to `base/deployed` (where a real one would build an image)."""
    repo = make_repo(base / "demo", EXAMPLE, {DEPLOY: WORKFLOWS / "deploy-on-champion.yml"})
    config = yaml.safe_load((repo / "ci-ml.yaml").read_text(encoding="utf-8"))
    config["registry"]["path"] = str(base / "registry")  # outlives the runner, as releases do
    config["events"] = {"repository_dispatch": True, "local": True}
    (repo / "ci-ml.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    script = repo / "scripts" / "deploy.sh"
    script.parent.mkdir(exist_ok=True)
    script.write_text(f'#!/usr/bin/env bash\nset -euo pipefail\ncp -r "$1" "{base / "deployed"}"\n')
    script.chmod(0o755)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Announce champions; deploy them")
    return repo


def _act(repo: Path, fake: FakeGitHub, event: str, workflow: str, payload: dict) -> object:
    return run_act(
        repo, event, workflow, payload,
        env={"GITHUB_API_URL": fake.url},
        variables={"CI_ML_RETRAIN_MODE": "auto"},
        secrets={"GITHUB_TOKEN": TOKEN},
        timeout=600,  # the first run builds the action's environment
    )  # fmt: skip


def test_a_promotion_s_event_starts_the_deploy_of_that_version(tmp_path, fake):
    repo = deploying_repo(tmp_path)
    retrain = _act(repo, fake, "schedule", WEEKLY, {"schedule": "23 5 * * 1"})
    assert retrain.code == 0, retrain.log()[-6000:]
    assert retrain.outputs("promote", job="promote")["event"] == "sent"
    (sent,) = fake.state.repo("octo/demo").dispatches
    assert sent["event_type"] == "ci-ml-champion"
    payload = sent["client_payload"]
    assert (payload["action"], payload["version"], payload["previous"]) == ("promote", 1, None)

    # GitHub delivers the event as `action` + `client_payload` to repository_dispatch workflows
    event = {"action": sent["event_type"], "client_payload": payload}
    deploy = _act(repo, fake, "repository_dispatch", DEPLOY, event)
    assert deploy.code == 0, deploy.log()[-6000:]
    assert deploy.job_results() == {"deploy": "success"}
    pulled = deploy.outputs("pull", job="deploy")
    assert pulled["version"] == "1" and pulled["sha256"] == payload["sha256"]
    deployed = tmp_path / "deployed"
    assert (deployed / "pulled.json").is_file() and (deployed / "model-card.json").is_file()

    model = next((tmp_path / "registry" / "versions" / "1").glob("model.*"))
    model.write_bytes(model.read_bytes() + b"\0")  # the champion's file, changed
    refused = _act(repo, fake, "repository_dispatch", DEPLOY, event)
    assert refused.code != 0
    assert refused.outputs("pull", job="deploy").get("exit-code") == "3"
    assert "does not match its record" in refused.log()
