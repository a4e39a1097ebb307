"""The MLflow backend: champions in an MLflow Model Registry (`pip install ci-ml[mlflow]`).

Layout in MLflow, for registered model <name>:

    version N          a registered model version of a run in experiment `ci-ml/<name>`.
                       The run's `ci-ml/` folder holds ci-ml's own model file,
                       model-card.json (and profile.json): the file ci-ml loads, checked
                       against its sha256 (a Spark ML folder: its deterministic tar,
                       unpacked and checked on read; such a version has no model/).
                       Its `model/` folder, the version's source, is
                       the same estimator logged as an MLflow model (sklearn flavour,
                       with signature and input example from the eval rows), so
                       `mlflow.pyfunc.load_model("models:/<name>@champion")` and
                       `mlflow models serve` work; ci-ml itself never loads it.
    run metrics/params the challenger's metrics and the estimator's params.
    version tags       lineage for people: sha256, commit, estimator, data hashes,
                       metric.<name>; `ci-ml.card` holds the whole model card (JSON).
    alias `champion`   the champion; promotion and rollback move it.
    model tags         `ci-ml.audit.000001`, `…002`, …: one JSON audit entry per tag;
                       `ci-ml.lease`: the promotion lease while a change is under way.

Why the audit log lives in registered-model tags, not in a JSON artifact: an
artifact belongs to a run, and appending to it means read-modify-write of one
file, where two writers lose an entry and a crash can truncate it. One tag per
entry is written in one request and never rewritten, so the log is append-only
by construction and is read with the registered model in one request. The
champion history that rollback needs is replayed from that log
(`replay_history`), so history and audit can never disagree.

Compare-and-swap. MLflow has no conditional update, so a promotion takes a
lease first (Fischer's timed mutual exclusion over a model tag):

1. read `ci-ml.lease`; if another unexpired lease is there, wait and retry;
2. write the lease with this run's random token; if more than `window`
   seconds passed between starting that read and the write being acknowledged,
   back off and start again at (1), where our own lease counts as free for us
   (deleting it could delete a competitor's lease that overwrote it);
3. sleep `settle` (> `window`) and read the lease again: only if the token is
   still ours do we hold it. A competitor that saw the lease free before our
   write landed has, by (2), written within `window`, i.e. before our re-read,
   so at most one of us reads back its own token;
4. holding it, read the alias again, refuse unless it is still `expected`,
   move it, append the audit entry, re-read the alias, release the lease.

Guarantee: two ci-ml runs never both move the champion away from the same
`expected`, provided reads after a write see that write (one MLflow server on
one database; not a lagging read replica), and a holder does not stall for
longer than the lease's `ttl` (an expired lease is taken over, so a crashed run
blocks others for at most `ttl`; expiry compares wall clocks). Changes made
outside ci-ml (the MLflow UI) are not covered; they are noticed at the next
promotion or rollback and logged as a `sync` entry.

Trust: the champion alias names a version, and loading checks the model file
against that version's tags (sha256, format, trusted_types, model_file), written
once when the version was registered; the card and artifacts must agree with them.

Crash safety: a version is registered only after all its files are uploaded
(a dead server mid-upload leaves an unregistered run, no version); the champion
moves in one request (the alias), so it is either the old or the new one. Its
audit entry is written first as an intent (model tag `ci-ml.pending`), then the
alias moves, then the entry is appended and the intent removed. A run killed in
between leaves the intent: the audit reader shows it when the alias did move,
and the next change (or the rerun) appends it, or drops it when the alias did not
move. A champion moved outside ci-ml is recorded as a `sync` entry.

Credentials come only from the environment (MLFLOW_TRACKING_URI,
MLFLOW_TRACKING_TOKEN, MLFLOW_TRACKING_USERNAME/PASSWORD), read by the MLflow
client itself; messages never contain them.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import random
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ci_ml import lineage
from ci_ml.bundle import (
    CARD,
    PROFILE,
    SPARK_PIPELINE,
    ModelBundle,
    ModelFile,
    as_one_file,
    open_model,
    stored_name,
    unpack_model,
    verify,
)
from ci_ml.environment import Environment, current, export_defaults
from ci_ml.errors import EnvironmentProblem, IntegrityError
from ci_ml.registry.base import (
    MissingVersion,
    Version,
    Who,
    parse_audit,
    replay_history,
    rollback_target,
    stale_champion,
)

if TYPE_CHECKING:
    from ci_ml.config import RegistryConfig

ALIAS = "champion"
LEASE_TAG = "ci-ml.lease"
AUDIT_PREFIX = "ci-ml.audit."
CARD_TAG = "ci-ml.card"
PENDING_TAG = "ci-ml.pending"
SHA_TAG = "sha256"
TRUSTED_TAG = "trusted_types"
SIZE_TAG = "size_bytes"
FOLDER = "ci-ml"
MODEL_FOLDER = "model"  # the MLflow model, for MLflow's serving tools
MAX_PARAM_VALUE = 6000  # MLflow's limit on a param's value
MAX_TAG_VALUE = 90_000
# The SQL stores insert a new tag after a lookup: two first writers collide.
CONFLICT = re.compile(r"unique constraint|duplicate|integrityerror", re.IGNORECASE)

# Fail in seconds, not minutes, when the server is gone (users may override).
CLIENT_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}


@dataclass(frozen=True)
class Lease:
    """Timing of the promotion lease (seconds); see the module docstring."""

    ttl: float = 120.0
    window: float = 1.5
    settle: float = 2.0
    wait: float = 150.0


def open_mlflow(settings: RegistryConfig, env: Environment | None = None) -> MlflowRegistry:
    env = env or current()
    uri = settings.tracking_uri or env.mlflow.tracking_uri
    if not uri:
        raise EnvironmentProblem(
            "registry.backend mlflow: no tracking server; set MLFLOW_TRACKING_URI in the "
            "environment or registry.tracking_uri in ci-ml.yaml"
        )
    return MlflowRegistry(uri, settings.model_name, env=env)


def safe_uri(uri: str) -> str:
    """The URI without any user:password@ part."""
    return re.sub(r"://[^/@\s]*@", "://", uri)


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return safe_uri(text)


class MlflowRegistry:
    def __init__(
        self,
        tracking_uri: str,
        model_name: str,
        lease: Lease | None = None,
        env: Environment | None = None,
    ) -> None:
        export_defaults(CLIENT_DEFAULTS)
        self.uri, self.name, self.lease = tracking_uri, model_name, lease or Lease()
        self.where = f"MLflow model {model_name!r} at {safe_uri(tracking_uri)}"
        self._secrets = (env or current()).mlflow.secrets
        _probe(tracking_uri, self._secrets)
        self._client = _client(tracking_uri)
        self._cache = Path(tempfile.mkdtemp(prefix="ci-ml-mlflow-"))  # downloads
        atexit.register(shutil.rmtree, self._cache, ignore_errors=True)

    # -- reading -------------------------------------------------------------

    def versions(self) -> list[Version]:
        found = [mv for mv in self._search() if SHA_TAG in mv.tags]
        return [self._version(mv) for mv in sorted(found, key=lambda mv: int(mv.version))]

    def version(self, number: int) -> Version:
        return self._version(self._model_version(number))

    def champion(self) -> Version | None:
        number, _ = self._state()
        return None if number is None else self.version(number)

    def model_file(self, number: int) -> ModelFile:
        model_version = self._model_version(number)
        version = self._version(model_version)
        folder = self._cache / str(number)
        where = f"{self.where}: version {number}"
        sealed = _sealed(dict(model_version.tags))
        record = ModelBundle(folder, version.card).vouched(None, sealed, where)
        name = stored_name(record)
        self._download(model_version.run_id, name, folder)
        if name != record.path.name:  # a folder model: checked as it is unpacked
            try:
                unpack_model(folder / name, record, f"{where}: {name}")
            finally:
                (folder / name).unlink(missing_ok=True)
        verify(record, where)
        return record

    def profile(self, number: int) -> dict[str, Any] | None:
        model_version = self._model_version(number)
        folder = self._cache / str(number)
        try:
            self._download(model_version.run_id, PROFILE, folder)
        except EnvironmentProblem:
            return None  # a version trained before profiles existed
        return ModelBundle(folder, {}).profile()

    def audit_log(self, fresh: bool = True) -> list[dict[str, Any]]:
        current, tags = self._state()
        entries = _entries(tags)
        pending = _pending(tags)
        if pending and pending.get("version") == current and pending not in entries:
            entries.append(pending)  # its alias move landed; the append did not yet
        return entries

    # -- writing -------------------------------------------------------------

    def add(self, folder: Path) -> Version:
        bundle = ModelBundle.read(folder)
        record = bundle.model_file
        verify(record, f"{folder}: the trained model")
        versions = self.versions()
        if versions and bundle.stored_as(versions[-1]):
            return versions[-1]
        self._ensure_registered_model()
        run_id, source = self._upload(bundle, record)
        tags = _tags(bundle.card, record)
        with self._server("registering the new version"):
            model_version = self._client.create_model_version(
                self.name, source, run_id=run_id, tags=tags, await_creation_for=0
            )
        return self._version(model_version)

    def promote(self, number: int, expected: int | None, who: Who) -> None:
        self.version(number)
        current = self._state()[0]
        if current not in {expected, number}:  # fail fast, before waiting for the lease
            raise stale_champion(current, expected)
        with self._leased():
            current, tags = self._state()
            if current == number:  # a rerun: complete the audit entry it may have left
                self._synced(current, tags, who)
                return
            if current != expected:
                raise stale_champion(current, expected)
            entries = self._synced(current, tags, who)
            self._move(number, entries, who.entry("promote", number, current))

    def rollback(self, who: Who, to: int | None = None) -> Version:
        if self._registered_model() is None:
            target, _ = rollback_target(None, [], to)
            return self.version(target)  # no versions yet: refused
        with self._leased():
            current, tags = self._state()
            entries = self._synced(current, tags, who)
            target, _ = rollback_target(current, replay_history(entries), to)
            self.version(target)
            self._move(target, entries, who.entry("rollback", target, current))
        return self.version(target)

    def note(self, entry: dict[str, Any]) -> None:
        with self._leased():  # the lease numbers audit tags without collision
            self._append(_entries(self._state()[1]), entry)

    # -- champion, audit -------------------------------------------------------

    def _state(self) -> tuple[int | None, dict[str, str]]:
        """The champion (alias) and the registered model's tags, read in one request."""
        model = self._registered_model()
        if model is None:
            return None, {}
        alias = (model.aliases or {}).get(ALIAS)
        return (int(alias) if alias else None), dict(model.tags or {})

    def _synced(self, current: int | None, tags: dict[str, str], who: Who) -> list[dict[str, Any]]:
        """The audit log, first completing (or dropping) a killed change's intent, then
        recording a champion move that it still lacks."""
        entries = _entries(tags)
        pending = _pending(tags)
        if pending and pending.get("version") == current and pending not in entries:
            self._append(entries, pending)
        if PENDING_TAG in tags:
            self._forget_intent()
        logged = entries[-1].get("version") if entries else None
        if current is not None and current != logged:
            why = "the champion alias moved without an audit entry (crash or outside ci-ml)"
            self._append(entries, who.entry("sync", current, logged) | {"reason": why})
        return entries

    def _move(self, number: int, entries: list[dict[str, Any]], entry: dict[str, Any]) -> None:
        with self._server("recording the change's intent"):
            value = json.dumps(entry, sort_keys=True, default=str)
            self._client.set_registered_model_tag(self.name, PENDING_TAG, value)
        with self._server("moving the champion alias"):
            self._client.set_registered_model_alias(self.name, ALIAS, str(number))
        self._append(entries, json.loads(value))
        self._forget_intent()
        if self._state()[0] != number:
            raise EnvironmentProblem(
                f"{self.where}: the champion alias changed while ci-ml moved it; "
                "check `ci-ml registry history`"
            )

    def _forget_intent(self) -> None:
        with self._server("removing the change's intent"):
            self._client.delete_registered_model_tag(self.name, PENDING_TAG)

    def _append(self, entries: list[dict[str, Any]], entry: dict[str, Any]) -> None:
        key = f"{AUDIT_PREFIX}{len(entries) + 1:06d}"
        value = json.dumps(entry, sort_keys=True, default=str)
        with self._server("writing the audit log"):
            self._client.set_registered_model_tag(self.name, key, value)
        entries.append(entry)

    # -- the lease -------------------------------------------------------------

    @contextlib.contextmanager
    def _leased(self) -> Iterator[None]:
        token = self._acquire()
        try:
            yield
        finally:
            self._release(token)

    def _acquire(self) -> str:
        token, deadline = uuid.uuid4().hex, time.monotonic() + self.lease.wait
        while time.monotonic() < deadline:
            if self._try_lease(token):
                return token
            time.sleep(random.uniform(0.1, 0.2 + self.lease.settle / 2))
        raise EnvironmentProblem(
            f"{self.where}: another ci-ml run held the promotion lease ({LEASE_TAG}) for "
            f"{self.lease.wait:.0f}s; try again later"
        )

    def _try_lease(self, token: str) -> bool:
        """One round of the protocol; a lease left by our own slow round counts as free."""
        started = time.monotonic()
        if self._lease_holder() not in {None, token}:
            return False
        lease = {"token": token, "expires": time.time() + self.lease.ttl, "actor": lineage.actor()}
        if not self._write_lease(json.dumps(lease)):
            return False
        if time.monotonic() - started > self.lease.window:
            return False  # too slow to trust; not deleted, as it may no longer be ours
        time.sleep(self.lease.settle)
        return self._lease_holder() == token

    def _write_lease(self, value: str) -> bool:
        """Write the lease tag; False when a concurrent first write of it collided."""
        from mlflow.exceptions import MlflowException

        with self._server("taking the promotion lease"):
            try:
                self._client.set_registered_model_tag(self.name, LEASE_TAG, value)
            except MlflowException as exc:
                if not CONFLICT.search(str(exc.message)):
                    raise
                return False
        return True

    def _lease_holder(self) -> str | None:
        """The token of the unexpired lease, if any."""
        raw = self._state()[1].get(LEASE_TAG)
        try:
            lease = json.loads(raw) if raw else {}
            return str(lease["token"]) if float(lease["expires"]) > time.time() else None
        except (ValueError, KeyError, TypeError):
            return None

    def _release(self, token: str) -> None:
        with contextlib.suppress(EnvironmentProblem):  # if it stays, it expires after ttl
            if self._lease_holder() == token:
                with self._server("releasing the promotion lease"):
                    self._client.delete_registered_model_tag(self.name, LEASE_TAG)

    # -- MLflow calls ----------------------------------------------------------

    @contextlib.contextmanager
    def _server(self, doing: str) -> Iterator[None]:
        """Turn MLflow and network failures into one clear EnvironmentProblem."""
        from mlflow.exceptions import MlflowException

        try:
            yield
        except (MlflowException, OSError) as exc:
            detail = redact(str(getattr(exc, "message", None) or exc), self._secrets)[:400]
            raise EnvironmentProblem(f"{self.where}: {doing} failed: {detail}") from exc

    def _registered_model(self) -> Any:
        with self._server("reading the registered model"):
            return _none_if_missing(lambda: self._client.get_registered_model(self.name))

    def _model_version(self, number: int) -> Any:
        with self._server(f"reading version {number}"):
            found = _none_if_missing(lambda: self._client.get_model_version(self.name, number))
        if found is None or SHA_TAG not in found.tags:
            raise MissingVersion(self.where, number)
        return found

    def _search(self) -> list[Any]:
        found: list[Any] = []
        token = None
        with self._server("listing versions"):
            while True:
                page = self._client.search_model_versions(f"name='{self.name}'", page_token=token)
                found.extend(page)
                token = page.token
                if not token:
                    return found

    def _version(self, model_version: Any) -> Version:
        number = int(model_version.version)
        card_text = model_version.tags.get(CARD_TAG)
        if card_text is None:
            folder = self._cache / str(number)
            self._download(model_version.run_id, CARD, folder)
            card_text = (folder / CARD).read_text(encoding="utf-8")
        created = datetime.fromtimestamp(model_version.creation_timestamp / 1000, UTC)
        card = _parse_card(card_text, f"{self.where}: version {number}")
        at = created.isoformat(timespec="seconds")
        return Version(number, card, at, str(model_version.tags[SHA_TAG]))

    def _download(self, run_id: str, name: str, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        with self._server(f"downloading {name}"):
            self._client.download_artifacts(run_id, f"{FOLDER}/{name}", str(folder))
        moved = folder / FOLDER / name
        if moved.is_file():
            moved.replace(folder / name)

    def _ensure_registered_model(self) -> None:
        from mlflow.exceptions import MlflowException

        with self._server("creating the registered model"):
            try:
                self._client.create_registered_model(
                    self.name, description="Champion versions managed by ci-ml."
                )
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise

    def _experiment(self) -> str:
        from mlflow.exceptions import MlflowException

        name = f"ci-ml/{self.name}"
        with self._server("finding the experiment"):
            found = self._client.get_experiment_by_name(name)
            if found is not None:
                return str(found.experiment_id)
            try:
                return str(self._client.create_experiment(name))
            except MlflowException:  # created meanwhile by a concurrent run
                return str(self._client.get_experiment_by_name(name).experiment_id)

    def _upload(self, bundle: ModelBundle, record: ModelFile) -> tuple[str, str]:
        """A finished run holding the files, the MLflow model, metrics and params;
        (run id, source URI of its MLflow model)."""
        experiment = self._experiment()
        sha = bundle.model_file.sha256
        with self._server("uploading the model"):
            run = self._client.create_run(experiment, run_name=f"{self.name} {sha[:12]}")
            run_id = run.info.run_id
            try:
                self._log_files(run_id, bundle, record)
                if record.format != SPARK_PIPELINE:
                    self._log_mlflow_model(run_id, bundle, record)
                self._log_numbers(run_id, bundle)
            except BaseException:
                with contextlib.suppress(Exception):
                    self._client.set_terminated(run_id, "FAILED")
                raise
            self._client.set_terminated(run_id)
        # A Spark ML folder has no MLflow model here (that needs a Spark session): the
        # version's source is ci-ml's own folder, its archive and card.
        shown = FOLDER if record.format == SPARK_PIPELINE else MODEL_FOLDER
        return run_id, f"{run.info.artifact_uri}/{shown}"

    def _log_files(self, run_id: str, bundle: ModelBundle, record: ModelFile) -> None:
        """The model as one artifact (a folder as its archive), with the card and profile."""
        with tempfile.TemporaryDirectory(prefix="ci-ml-mlflow-files-") as scratch:
            for path in [as_one_file(record, Path(scratch)), *bundle.carried()]:
                self._client.log_artifact(run_id, str(path), FOLDER)

    def _log_mlflow_model(self, run_id: str, bundle: ModelBundle, record: ModelFile) -> None:
        """The estimator as an MLflow model in the run's model/ folder: for the MLflow UI
        and for serving, never loaded by ci-ml."""
        model = open_model(record, "the trained model").model  # verified by add()
        with tempfile.TemporaryDirectory(prefix="ci-ml-mlflow-model-") as tmp:
            path = Path(tmp) / MODEL_FOLDER
            _save_flavour(model, path, bundle, record)
            self._client.log_artifacts(run_id, str(path), MODEL_FOLDER)

    def _log_numbers(self, run_id: str, bundle: ModelBundle) -> None:
        """The challenger's metrics and the estimator's params, as run metrics and params."""
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, 0) for k, v in _numbers(bundle.card.get("metrics"))]
        params = [Param(k, v) for k, v in _params(bundle.card)]
        self._client.log_batch(run_id, metrics=metrics, params=params)


def _save_flavour(model: Any, path: Path, bundle: ModelBundle, record: ModelFile) -> None:
    """The sklearn flavour (its pyfunc loads it), in skops when ci-ml saved skops, with the
    signature inferred from the input example and the library versions of the card."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    example = bundle.input_example()
    signature = None if example is None else infer_signature(example, model.predict(example))
    skops = record.format == "skops"
    mlflow.sklearn.save_model(
        model,
        str(path),
        signature=signature,
        input_example=example,
        pip_requirements=[f"{k}=={v}" for k, v in sorted(record.libraries.items())] or None,
        serialization_format="skops" if skops else "cloudpickle",
        skops_trusted_types=list(record.trusted_types) if skops else None,
    )


def _numbers(values: object) -> list[tuple[str, float]]:
    items = values.items() if isinstance(values, dict) else []
    return [
        (str(k), float(v))
        for k, v in items
        if isinstance(v, int | float) and v is not True and v is not False
    ]


def _params(card: dict[str, Any]) -> list[tuple[str, str]]:
    """The estimator and its params as MLflow run params (values cut to MLflow's limit)."""
    raw = card.get("params")
    found = {"estimator": card.get("estimator"), **(raw if isinstance(raw, dict) else {})}
    shown = {k: v if isinstance(v, str) else json.dumps(v, default=str) for k, v in found.items()}
    return [(str(k), v[:MAX_PARAM_VALUE]) for k, v in shown.items()]


def _client(uri: str) -> Any:
    try:
        from mlflow import MlflowClient
    except ImportError as exc:
        raise EnvironmentProblem(
            "registry.backend mlflow needs the mlflow package: pip install 'ci-ml[mlflow]'"
        ) from exc
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _probe(uri: str, secrets: tuple[str, ...]) -> None:
    """Fail fast and clearly when an HTTP tracking server does not answer at all."""
    if urlsplit(uri).scheme not in {"http", "https"}:
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=10):
            return
    except urllib.error.HTTPError:
        return  # it answered; authentication and the rest are checked by real requests
    except (OSError, ValueError) as exc:
        reason = redact(str(getattr(exc, "reason", None) or exc), secrets)
        raise EnvironmentProblem(
            f"MLflow tracking server {safe_uri(uri)} is unreachable: {reason}; "
            "check MLFLOW_TRACKING_URI or registry.tracking_uri"
        ) from exc


def _none_if_missing(call: Any) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return call()
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise


def _tags(card: dict[str, Any], record: ModelFile) -> dict[str, str]:
    """Lineage as version tags, readable in the MLflow UI."""
    data = card.get("data") or {}
    tags = {
        SHA_TAG: record.sha256,
        "model_file": record.path.name,
        "format": record.format,
        SIZE_TAG: str(record.size_bytes),
        TRUSTED_TAG: json.dumps(list(record.trusted_types)),
        "estimator": str(card.get("estimator")),
        "commit": str((card.get("git") or {}).get("commit")),
        "data.train.sha256": str((data.get("train") or {}).get("sha256")),
        "data.eval.sha256": str((data.get("eval") or {}).get("sha256")),
        **{f"metric.{k}": str(v) for k, v in (card.get("metrics") or {}).items()},
    }
    text = json.dumps(card, sort_keys=True, default=str)
    return tags | ({CARD_TAG: text} if len(text) <= MAX_TAG_VALUE else {})


def _sealed(tags: dict[str, str]) -> dict[str, Any]:
    """A version's record, from the tags written once when it was registered."""
    record: dict[str, Any] = {"sha256": tags.get(SHA_TAG)}
    if TRUSTED_TAG not in tags:
        return record  # registered before the tags carried the whole seal
    try:
        trusted = json.loads(tags[TRUSTED_TAG])
    except ValueError:
        trusted = tags[TRUSTED_TAG]  # refused as malformed by the bundle
    seal = {"file": tags.get("model_file"), "format": tags.get("format"), "trusted_types": trusted}
    size = tags.get(SIZE_TAG, "")
    sized = {"size_bytes": int(size)} if size.isdigit() else {}  # older versions: no tag
    return record | {"model_file": seal | sized | {"sha256": tags.get(SHA_TAG)}}


def _pending(tags: dict[str, str]) -> dict[str, Any] | None:
    try:
        found = json.loads(tags[PENDING_TAG]) if PENDING_TAG in tags else None
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _entries(tags: dict[str, str]) -> list[dict[str, Any]]:
    keys = sorted(k for k in tags if k.startswith(AUDIT_PREFIX))
    return parse_audit("\n".join(tags[k] for k in keys))


def _parse_card(text: str, what: str) -> dict[str, Any]:
    try:
        card = json.loads(text)
    except ValueError as exc:
        raise IntegrityError(f"{what}: model card is not valid JSON: {exc}") from exc
    if not isinstance(card, dict):
        raise IntegrityError(f"{what}: model card is not a JSON object")
    return card
