"""Champion events: tell deploy jobs that a promotion or rollback happened.

Two channels, both opt-in under `events:` in ci-ml.yaml:

- `repository_dispatch: true`: a GitHub `repository_dispatch` event of type
  `ci-ml-champion` to $GITHUB_REPOSITORY (the token needs `contents: write`);
- `webhook: {url_env, secret_env}`: a POST of the same JSON payload to the URL in
  environment variable `url_env`, signed with HMAC-SHA256 of the exact body under the
  secret in `secret_env`, sent as `X-CI-ML-Signature-256: sha256=<hex>`.

Delivery happens after the champion moved and never undoes it: a failure is a
warning, a step output and an `announce` audit entry saying what went out.
A local registry announces nothing unless `events.local: true` (a laptop's
promotion is no deployment).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ci_ml.errors import EnvironmentProblem

if TYPE_CHECKING:
    from ci_ml.environment import Environment

EVENT_TYPE = "ci-ml-champion"
SIGNATURE_HEADER = "X-CI-ML-Signature-256"
EVENT_HEADER = "X-CI-ML-Event"
WEBHOOK_TIMEOUT = 15  # seconds


@dataclass(frozen=True)
class WebhookConfig:
    url_env: str
    secret_env: str | None = None


@dataclass(frozen=True)
class EventsConfig:
    """The `events:` section of ci-ml.yaml."""

    repository_dispatch: bool = False
    webhook: WebhookConfig | None = None
    local: bool = False  # announce changes of a local registry too

    def wanted(self, backend: str) -> bool:
        channels = self.repository_dispatch or self.webhook is not None
        return channels and (backend != "local" or self.local)


def parse_events(section: dict[str, Any] | None) -> EventsConfig:
    section = section or {}
    hook = section.get("webhook")
    webhook = WebhookConfig(hook["url_env"], hook.get("secret_env")) if hook else None
    return EventsConfig(
        repository_dispatch=bool(section.get("repository_dispatch", False)),
        webhook=webhook,
        local=bool(section.get("local", False)),
    )


@dataclass(frozen=True)
class ChampionEvent:
    """What changed: the payload both channels send."""

    model: str
    action: str  # promote | rollback
    version: int
    previous: int | None
    sha256: str
    report: str | None  # the run that promoted (its report), when known
    actor: str
    registry: str
    at: str

    def payload(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "action": self.action,
            "version": self.version,
            "previous": self.previous,
            "sha256": self.sha256,
            "report": self.report,
            "actor": self.actor,
            "registry": self.registry,
            "at": self.at,
        }


@dataclass(frozen=True)
class Delivery:
    """One channel's outcome."""

    channel: str  # repository_dispatch | webhook
    sent: bool
    detail: str = ""


@dataclass(frozen=True)
class Announcement:
    """Every channel's outcome; `status` is what the audit log and step output say."""

    deliveries: tuple[Delivery, ...] = ()

    @property
    def status(self) -> str:
        """sent, failed (at least one channel failed) or none (events off)."""
        if not self.deliveries:
            return "none"
        return "sent" if all(d.sent for d in self.deliveries) else "failed"

    @property
    def warnings(self) -> list[str]:
        return [f"{d.channel}: {d.detail}" for d in self.deliveries if not d.sent]

    def audit(self, event: ChampionEvent) -> dict[str, Any]:
        """The `announce` audit entry (no `previous`: it moves no champion)."""
        return {
            "id": uuid.uuid4().hex,
            "event": "announce",
            "of": event.action,
            "version": event.version,
            "actor": event.actor,
            "at": event.at,
            "announced": self.status,
            "channels": {d.channel: "sent" if d.sent else "failed" for d in self.deliveries},
            "reason": "; ".join(self.warnings),
        }


def announce(config: EventsConfig, env: Environment, event: ChampionEvent) -> Announcement:
    """Send `event` on every configured channel; failures are recorded, never raised."""
    found = []
    if config.repository_dispatch:
        found.append(_deliver("repository_dispatch", lambda: _dispatch(env, event)))
    if config.webhook is not None:
        hook = config.webhook
        found.append(_deliver("webhook", lambda: _post_webhook(hook, env, event)))
    return Announcement(tuple(found))


def _deliver(channel: str, send: Any) -> Delivery:
    try:
        send()
    except EnvironmentProblem as exc:
        return Delivery(channel, False, exc.message)
    return Delivery(channel, True)


def _dispatch(env: Environment, event: ChampionEvent) -> None:
    from ci_ml.github.dispatch import send_dispatch

    send_dispatch(env.github, EVENT_TYPE, event.payload())


def signature(secret: str, body: bytes) -> str:
    """The header value a receiver recomputes: `sha256=` + HMAC-SHA256(secret, body) in hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _post_webhook(hook: WebhookConfig, env: Environment, event: ChampionEvent) -> None:
    url = env.variables.get(hook.url_env, "")
    if not url.startswith(("https://", "http://")):
        found = "is not set" if not url else "is not an http(s) URL"
        raise EnvironmentProblem(f"events.webhook.url_env: ${hook.url_env} {found}")
    body = json.dumps(event.payload(), sort_keys=True).encode()
    headers = {"Content-Type": "application/json", EVENT_HEADER: EVENT_TYPE}
    if hook.secret_env:
        secret = env.variables.get(hook.secret_env, "")
        if not secret:
            raise EnvironmentProblem(f"events.webhook.secret_env: ${hook.secret_env} is not set")
        headers[SIGNATURE_HEADER] = signature(secret, body)
    _post(url, body, headers, hook.url_env)


def _post(url: str, body: bytes, headers: dict[str, str], url_env: str) -> None:
    # here, not at the top: config imports this module, and urllib.request (with ssl) costs
    # every command ~25 ms that only a run with a webhook needs
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT):
            return
    except urllib.error.HTTPError as exc:
        raise EnvironmentProblem(f"the webhook (${url_env}) answered {exc.code}") from exc
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise EnvironmentProblem(f"the webhook (${url_env}) is unreachable: {reason}") from exc
