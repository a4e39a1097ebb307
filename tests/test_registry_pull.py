"""`ci-ml registry pull`: the champion (or a version), verified, in a folder for serving.

The contract runs on every backend; the CLI tests use github-releases on the fake
GitHub with a read-only token, as a deploy job has."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
import yaml

import ci_ml
from ci_ml.errors import ENVIRONMENT, USAGE, ConfigError, EnvironmentProblem, IntegrityError
from ci_ml.registry import github_releases
from ci_ml.registry.base import replay_history
from ci_ml.registry.pull import PULLED, load_pulled, pull
from tests.github_support import FAST, REPO, TOKEN
from tests.registry_support import WHO, add, backend

__all__ = ["backend"]


def _promoted(backend, tmp_path, *names: str) -> None:
    numbers = add(backend, tmp_path, *names)
    previous = None
    for number in numbers:
        backend.registry.promote(number, previous, WHO)
        previous = number


def test_pull_writes_the_champion_its_card_and_what_it_was_vouched_as(backend, tmp_path):
    _promoted(backend, tmp_path, "a", "b")
    out = tmp_path / "serve"
    pulled = pull(backend.fresh(), out, where="the registry")
    champion = backend.registry.version(2)
    assert pulled.version == 2 and pulled.champion
    assert json.loads((out / "model-card.json").read_text()) == champion.card
    record = json.loads((out / PULLED).read_text())
    assert record["version"] == 2 and record["model_file"]["sha256"] == champion.sha256
    served = load_pulled(out)
    assert list(served.model.predict([[0.0], [3.0]])) == [0, 1]


def test_pull_a_chosen_version_that_is_not_the_champion(backend, tmp_path):
    _promoted(backend, tmp_path, "a", "b")
    pulled = pull(backend.fresh(), tmp_path / "serve", number=1)
    assert pulled.version == 1 and not pulled.champion
    assert pulled.model_file.sha256 == backend.registry.version(1).sha256


def test_a_tampered_model_file_is_refused_and_nothing_is_left(backend, tmp_path):
    _promoted(backend, tmp_path, "a")
    backend.tamper_file(1)
    out = tmp_path / "serve"
    with pytest.raises(IntegrityError, match="does not match") as caught:
        pull(backend.fresh(), out)
    assert caught.value.exit_code == ENVIRONMENT
    assert not any(out.glob("model.*")) and not (out / PULLED).exists()


def test_a_card_that_disagrees_with_the_seal_is_refused(backend, tmp_path):
    _promoted(backend, tmp_path, "a")
    card = json.loads(backend.stored(1, "model-card.json"))
    card["model_file"]["sha256"] = "0" * 64
    backend.replace(1, "model-card.json", json.dumps(card).encode())
    with pytest.raises(IntegrityError):
        pull(backend.fresh(), tmp_path / "serve")


def test_no_champion_is_an_environment_error(backend, tmp_path):
    add(backend, tmp_path, "a")
    with pytest.raises(EnvironmentProblem, match="no champion yet"):
        pull(backend.fresh(), tmp_path / "serve")


def test_a_folder_ci_ml_did_not_write_is_left_alone(backend, tmp_path):
    _promoted(backend, tmp_path, "a")
    out = tmp_path / "serve"
    out.mkdir()
    (out / "model.skops").write_bytes(b"someone else's")
    with pytest.raises(ConfigError, match="not a ci-ml pull") as caught:
        pull(backend.fresh(), out)
    assert caught.value.exit_code == USAGE
    assert (out / "model.skops").read_bytes() == b"someone else's"


def test_a_second_pull_replaces_the_first(backend, tmp_path):
    _promoted(backend, tmp_path, "a", "b")
    out = tmp_path / "serve"
    pull(backend.fresh(), out, number=1)
    assert pull(backend.fresh(), out).version == 2
    assert load_pulled(out).version == 2


def test_an_announce_note_moves_no_champion_and_keeps_the_history(backend, tmp_path):
    _promoted(backend, tmp_path, "a", "b")
    entry = {"event": "announce", "of": "promote", "version": 2, "announced": "failed"}
    backend.registry.note(entry | {"actor": "t", "at": WHO.at})
    fresh = backend.fresh()
    audit = fresh.audit_log()
    assert [e["event"] for e in audit] == ["promote", "promote", "announce"]
    assert audit[-1]["announced"] == "failed"
    assert replay_history(audit) == [1]
    assert fresh.champion().number == 2
    assert fresh.rollback(WHO).number == 1


# -- through the CLI, with a deploy job's read-only token ------------------------------


@pytest.fixture
def project(example, fake_github, monkeypatch) -> Path:
    folder = example("diabetes")
    config = yaml.safe_load((folder / "ci-ml.yaml").read_text())
    config["registry"] = {"backend": "github-releases"}
    (folder / "ci-ml.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("GITHUB_API_URL", fake_github.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setattr(github_releases, "CLIENT_OPTIONS", FAST)
    return folder


def _reader(fake_github, monkeypatch) -> None:
    reader = "ghs_READONLYtoken0123456789"
    fake_github.token(reader, permissions={"contents": "read"})
    monkeypatch.setenv("GITHUB_TOKEN", reader)


def test_pull_through_the_cli_with_a_reading_token(project, run_cli, fake_github, monkeypatch):
    assert run_cli("check", "--promote", cwd=project).code == 0
    _reader(fake_github, monkeypatch)
    result = run_cli("registry", "pull", "-o", "serve", "--json", cwd=project)
    assert result.code == 0, result.err
    shown = json.loads(result.out)
    assert shown["version"] == 1 and shown["champion"] is True
    cli_schema = json.loads(
        (Path(ci_ml.__file__).parent / "schemas" / "cli.schema.json").read_text()
    )
    jsonschema.validate(shown, cli_schema | {"$ref": "#/$defs/registry_pull"})
    assert "verified" in result.err
    rows = pd.read_csv(project / "data" / "eval.csv").drop(columns=["progression"]).head(5)
    assert len(load_pulled(project / "serve").predict(rows)) == 5


def test_a_tampered_champion_asset_makes_pull_exit_3(project, run_cli, fake_github, monkeypatch):
    assert run_cli("check", "--promote", cwd=project).code == 0
    state = fake_github.state.repo(REPO)
    (model,) = [a for a in state.assets.values() if a["name"].startswith("model.")]
    model["content"] = model["content"] + b"\x00"
    _reader(fake_github, monkeypatch)
    result = run_cli("registry", "pull", "-o", "serve", cwd=project)
    assert result.code == 3
    assert "does not match its record" in result.err and "Traceback" not in result.err
    assert not (project / "serve" / PULLED).exists()
