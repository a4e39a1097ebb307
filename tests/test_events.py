"""Champion events: repository_dispatch to the fake GitHub, a signed webhook to a real
receiver on 127.0.0.1; a failed delivery keeps the champion and is on the record."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from ci_ml.events import EVENT_TYPE, SIGNATURE_HEADER
from ci_ml.registry import github_releases
from tests.github_support import FAST, REPO, TOKEN

SECRET = "webhook-secret-0123456789"


@dataclass
class Receiver:
    """A deploy system's endpoint: keeps what arrived (header names lower-cased, as
    HTTP headers are case-insensitive), answers `status`."""

    url: str = ""
    status: int = 204
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def verified(self, headers: dict[str, str], body: bytes) -> bool:
        """What a receiver does: recompute the HMAC of the raw body, compare in constant time."""
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, headers.get(SIGNATURE_HEADER.lower(), ""))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            found.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(found.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    found.url = f"http://127.0.0.1:{server.server_address[1]}/deploy"
    yield found
    server.shutdown()
    server.server_close()


def _configure(folder: Path, registry: dict[str, Any], events: dict[str, Any]) -> None:
    for name in ("ci-ml.yaml", "ci-ml.fresh.yaml"):
        config = yaml.safe_load((folder / name).read_text())
        config["registry"], config["events"] = registry, events
        (folder / name).write_text(yaml.safe_dump(config))


EVENTS = {
    "repository_dispatch": True,
    "webhook": {"url_env": "DEPLOY_HOOK_URL", "secret_env": "DEPLOY_HOOK_SECRET"},
}


@pytest.fixture
def project(example, fake_github, receiver, monkeypatch, tmp_path) -> Path:
    """examples/diabetes on github-releases with both channels, as in a workflow."""
    folder = example("diabetes")
    _configure(folder, {"backend": "github-releases"}, EVENTS)
    for name, value in {
        "GITHUB_API_URL": fake_github.url,
        "GITHUB_REPOSITORY": REPO,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_ACTIONS": "true",
        "GITHUB_SERVER_URL": "https://github.invalid",
        "GITHUB_RUN_ID": "77",
        "GITHUB_ACTOR": "octocat",
        "GITHUB_OUTPUT": str(tmp_path / "output"),
        "DEPLOY_HOOK_URL": receiver.url,
        "DEPLOY_HOOK_SECRET": SECRET,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(github_releases, "CLIENT_OPTIONS", FAST)
    return folder


def _audit(run_cli, project: Path) -> list[dict[str, Any]]:
    result = run_cli("registry", "history", "--json", cwd=project)
    assert result.code == 0, result.err
    return list(json.loads(result.out)["audit"])


def _outputs(tmp_path: Path) -> str:
    return (tmp_path / "output").read_text()


def test_a_promotion_sends_the_dispatch_and_the_signed_webhook(
    project, run_cli, fake_github, receiver, tmp_path
):
    result = run_cli("check", "--promote", cwd=project)
    assert result.code == 0, result.err
    (dispatch,) = fake_github.state.repo(REPO).dispatches
    assert dispatch["event_type"] == EVENT_TYPE == "ci-ml-champion"
    payload = dispatch["client_payload"]
    sha = json.loads(run_cli("registry", "show", "--format", "json", cwd=project).out)["sha256"]
    assert payload == {
        "model": "diabetes",
        "action": "promote",
        "version": 1,
        "previous": None,
        "sha256": sha,
        "report": "https://github.invalid/octo/demo/actions/runs/77",
        "actor": "octocat",
        "registry": "github-releases",
        "at": payload["at"],
    }
    ((headers, body),) = receiver.received
    assert receiver.verified(headers, body)
    assert json.loads(body) == payload
    audit = _audit(run_cli, project)
    assert [e["event"] for e in audit] == ["promote", "announce"]
    assert audit[-1]["announced"] == "sent"
    assert audit[-1]["channels"] == {"repository_dispatch": "sent", "webhook": "sent"}
    assert "event=sent" in _outputs(tmp_path)


def test_a_rollback_is_announced_with_the_version_it_replaced(
    project, run_cli, fake_github, receiver
):
    assert run_cli("check", "--promote", cwd=project).code == 0
    assert run_cli("check", "-c", "ci-ml.fresh.yaml", "--promote", cwd=project).code == 0
    result = run_cli("rollback", "--reason", "bad in prod", cwd=project)
    assert result.code == 0, result.err
    last = fake_github.state.repo(REPO).dispatches[-1]["client_payload"]
    assert (last["action"], last["version"], last["previous"]) == ("rollback", 1, 2)
    assert json.loads(receiver.received[-1][1])["action"] == "rollback"
    assert all(receiver.verified(h, b) for h, b in receiver.received)


def test_a_failed_webhook_keeps_the_champion_and_is_recorded(
    project, run_cli, fake_github, receiver, tmp_path
):
    receiver.status = 500
    result = run_cli("check", "--promote", cwd=project)
    assert result.code == 0, result.err
    assert "::warning" in result.err and "the webhook ($DEPLOY_HOOK_URL) answered 500" in result.err
    assert receiver.url not in result.err  # the URL may carry a token; only its variable shows
    shown = run_cli("registry", "show", "--format", "json", cwd=project)
    assert json.loads(shown.out)["version"] == 1
    announce = _audit(run_cli, project)[-1]
    assert announce["announced"] == "failed"
    assert announce["channels"] == {"repository_dispatch": "sent", "webhook": "failed"}
    assert "event=failed" in _outputs(tmp_path)


def test_a_dispatch_refused_for_permission_names_contents_write(
    example, run_cli, fake_github, monkeypatch, tmp_path
):
    """A local registry (asked to announce) and a job whose token only reads."""
    folder = example("diabetes")
    _configure(folder, {"backend": "local"}, {"repository_dispatch": True, "local": True})
    reader = "ghs_READONLYtoken0123456789"
    fake_github.token(reader, permissions={"contents": "read"})
    monkeypatch.setenv("GITHUB_API_URL", fake_github.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_TOKEN", reader)
    result = run_cli("check", "--promote", cwd=folder)
    assert result.code == 0, result.err
    assert "403" in result.err and "contents: write" in result.err
    assert fake_github.state.repo(REPO).dispatches == []
    audit = _audit(run_cli, folder)
    assert audit[0]["event"] == "promote" and audit[-1]["announced"] == "failed"
    assert "contents: write" in audit[-1]["reason"]


def test_an_unreachable_webhook_is_a_warning_not_a_failure(example, run_cli, monkeypatch):
    folder = example("diabetes")
    events = {"webhook": {"url_env": "DEPLOY_HOOK_URL"}, "local": True}
    _configure(folder, {"backend": "local"}, events)
    monkeypatch.setenv("DEPLOY_HOOK_URL", "http://127.0.0.1:9/nobody")
    result = run_cli("check", "--promote", cwd=folder)
    assert result.code == 0, result.err
    assert "warning: promote: the champion changed" in result.err and "unreachable" in result.err
    assert _audit(run_cli, folder)[-1]["channels"] == {"webhook": "failed"}


def test_a_local_registry_announces_nothing_unless_asked(example, run_cli, receiver, monkeypatch):
    folder = example("diabetes")
    _configure(folder, {"backend": "local"}, {"webhook": {"url_env": "DEPLOY_HOOK_URL"}})
    monkeypatch.setenv("DEPLOY_HOOK_URL", receiver.url)
    assert run_cli("check", "--promote", cwd=folder).code == 0
    assert receiver.received == []
    assert [e["event"] for e in _audit(run_cli, folder)] == ["promote"]


def test_an_events_key_outside_the_schema_is_exit_2(example, run_cli):
    folder = example("diabetes")
    _configure(folder, {"backend": "local"}, {"webhook": {"url": "https://x.invalid"}})
    result = run_cli("registry", "list", cwd=folder)
    assert result.code == 2
    assert "events.webhook" in result.err
