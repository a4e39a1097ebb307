"""The github-releases registry: versions are GitHub releases, the champion a git branch.

    release  <prefix>v<N>       (prefix default `ci-ml/<name>/`): one model version,
                                assets = the model bundle (ci_ml.bundle): model file
                                (a Spark ML folder as one deterministic tar, unpacked
                                and checked against the seal on read),
                                model-card.json, profile.json (when present) and
                                record.json (version, sha256, created_at, seal)
    branch   ci-ml/<name>/registry   a commit chain of its own (no code in it): each commit
                                holds champion.json {version, history, updated_at, models}
                                and audit.jsonl, the parent's log plus the one record of
                                the promotion or rollback that commit made

Trust. Release assets can be replaced by anyone who can edit releases, together. So
champion.json carries the seal (sha256, format, trusted skops types) of the champion
and of every earlier champion, and a model file is loaded only if it matches that
seal; the card and record.json must agree with it.

Adding a version. The number is reserved by creating the tag `<prefix>v<N>` through the
refs API, which GitHub refuses (422) when the tag exists: two racing adds never share a
number, the loser tries N+1. The release is created as a draft, the assets uploaded
(record.json last), their sizes and sha256 digests checked against the local files,
and only then is it published. Drafts are not versions, so a failure half-way leaves
no visible version; the draft and the tag are deleted when the server still answers.
Else (a killed run) the draft's body says until when its upload may take; a later
add deletes ci-ml's own drafts past that time, with their tags, and nothing else.

Moving the champion (compare-and-swap). GitHub has no conditional write for release
assets, but it has one for refs: a non-forced ref update is refused (422 "Update is
not a fast forward") unless the new commit descends from the one the ref points at.
A promotion reads the branch head H, checks that champion.json in H names the expected
champion, writes a commit whose parent is H, and moves the branch to it without force.
If another run moved the branch meanwhile, H is no longer the head, the new commit is
not a descendant of the head, and GitHub refuses: the run re-reads, and gives up with
RegistryRefused if the champion is no longer the expected one. The first promotion
creates the branch, which GitHub refuses when it already exists. So of two racing
promotions exactly one wins, and nothing is half-promoted: the champion and its audit
record change in one ref update. The guarantee is GitHub's own ref update; it assumes
nobody force-pushes the registry branch (protect it against force pushes).

A branch (not a custom ref namespace) because GitHub's API documents it, a GITHUB_TOKEN
with `contents: write` may push it, its commits hold no workflow files so pushing it
runs no workflow, and people can read champion.json and audit.jsonl in GitHub's UI.
No branch (404) means no champion yet: the first run.

One read per run. A run's stages may be separate processes (pr-check.yml runs validate,
train, evaluate, gate and report as steps). The first stage that reads the champion keeps
what it read in the run folder (champion-read.json: the branch head, champion.json and
audit.jsonl as read, the champion's release and its JSON assets); later stages of that
run folder compare against that same snapshot instead of asking GitHub again. The model
file itself is still checked against the snapshot's seal before it is loaded, and a
promotion or rollback always reads the branch afresh for its compare-and-swap.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ci_ml import lineage
from ci_ml.bundle import (
    CARD,
    PROFILE,
    RECORD,
    ModelBundle,
    ModelFile,
    as_one_file,
    holds,
    stored_name,
    unpack_model,
)
from ci_ml.data import sha256_file
from ci_ml.environment import gh_cli_token
from ci_ml.errors import EnvironmentProblem, IntegrityError
from ci_ml.github import (
    ClientOptions,
    GitHubCallFailed,
    GitHubSettings,
    ReleaseInfo,
    ReleaseStore,
)
from ci_ml.github.releases import AssetInfo
from ci_ml.github.remote import remote_repository
from ci_ml.registry.base import (
    AUDIT,
    POINTER,
    MissingVersion,
    RegistryRefused,
    Version,
    Who,
    parse_audit,
    rollback_target,
    stale_champion,
)
from ci_ml.rundir import write_json_atomic

if TYPE_CHECKING:
    from ci_ml.config import Config

RESERVE_TRIES = 20  # numbers tried when racing adds keep taking the next one
DRAFT_MARK = "ci-ml: upload in progress; a later ci-ml run deletes this draft after "
DRAFT_LIFETIME = timedelta(hours=1)
SWAP_TRIES = 5  # re-reads when the branch moved but the champion is still the expected one
# Tests shrink pacing and backoff here; github.com wants the defaults.
CLIENT_OPTIONS = ClientOptions()


def open_github_releases(
    config: Config, reads: ChampionReads | None = None
) -> GitHubReleasesRegistry:
    """The registry named by ci-ml.yaml; token and API URL come from the environment only.
    With `reads`, the champion is read once per run folder (see the module's docstring)."""
    settings = GitHubSettings.from_env()
    if not settings.token and not settings.in_actions:
        settings = dataclasses.replace(settings, token=gh_cli_token())
    if not settings.token:
        raise EnvironmentProblem(
            "registry.backend github-releases needs a GitHub token: set GITHUB_TOKEN or "
            "GH_TOKEN, or log in with `gh auth login` (reading the champion needs only "
            "read access; promoting needs contents: write); to run offline against a "
            "local registry instead, use `ci-ml --registry local ...`"
        )
    repository = config.registry.repository or settings.repository or remote_repository(config.root)
    if not repository:
        raise EnvironmentProblem(
            "registry.backend github-releases: no repository; set registry.repository "
            "in the config or GITHUB_REPOSITORY (owner/name), or run in a clone whose "
            "git remote is on GitHub"
        )
    cache = config.root / ".ci-ml" / "cache" / "github-releases" / repository.replace("/", "+")
    registry = GitHubReleasesRegistry.connect(
        settings, repository, config.name, config.registry.tag_prefix, cache, CLIENT_OPTIONS
    )
    if reads is not None and settings.run_id:
        reads = dataclasses.replace(reads, run=f"{settings.run_id}:{settings.job}")
    registry.reads = reads
    registry.reuse_run_read()
    return registry


@dataclass(frozen=True)
class ChampionReads:
    """Where a run keeps its champion read, and whether this stage may reuse one."""

    path: Path  # the run folder's champion-read.json
    reuse: bool  # False for the run's first stage: it reads GitHub and records
    # The Actions run and job this stage belongs to: a read is reused only within the
    # job that made it, never by a later run on a laptop's left-over folder ("": never).
    run: str = ""


@dataclass(frozen=True)
class ChampionRead:
    """The registry branch and the champion's release as a run's first stage read them."""

    head: str | None
    pointer: dict[str, Any]  # champion.json
    audit: str  # audit.jsonl
    releases: dict[str, ReleaseInfo]  # by tag: the champion's published release
    assets: dict[int, bytes]  # asset id -> bytes of record.json, model-card.json, profile.json
    run: str = ""  # ChampionReads.run of the stage that read it

    def to_json(self) -> dict[str, Any]:
        releases = {tag: dataclasses.asdict(r) for tag, r in self.releases.items()}
        assets = {str(i): b.decode("utf-8") for i, b in self.assets.items()}
        head = {"run": self.run, "head": self.head, "pointer": self.pointer, "audit": self.audit}
        return head | {"releases": releases, "assets": assets}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChampionRead:
        releases = {tag: _release_of(r) for tag, r in data["releases"].items()}
        assets = {int(i): str(text).encode("utf-8") for i, text in data["assets"].items()}
        pointer, audit = dict(data["pointer"]), str(data["audit"])
        return cls(data["head"], pointer, audit, releases, assets, str(data["run"]))


def _release_of(data: dict[str, Any]) -> ReleaseInfo:
    assets = tuple(AssetInfo(**a) for a in data["assets"])
    return ReleaseInfo(**{**data, "assets": assets})


class GitHubReleasesRegistry:
    def __init__(
        self,
        store: ReleaseStore | Callable[[], ReleaseStore],
        name: str,
        tag_prefix: str | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        # Opened on first use: a stage that reuses its run's champion read asks GitHub nothing.
        self._store = store
        self.name = name
        self.tag_prefix = tag_prefix or f"ci-ml/{name}/"
        self.branch = f"ci-ml/{name}/registry"
        self.cache_dir = cache_dir or Path(tempfile.mkdtemp(prefix="ci-ml-releases-"))
        self._tag = re.compile(re.escape(self.tag_prefix) + r"v([1-9][0-9]*)$")
        # the pointer branch as this process last read it: (head, champion.json, audit)
        self._last_read: tuple[str | None, dict[str, Any], str] | None = None
        self._seen: dict[str, Any] | None = None  # the pointer champion() last read
        self._bytes: dict[int, bytes] = {}  # asset id -> content; assets never change in place
        self.reads: ChampionReads | None = None  # keep/reuse the run's champion read
        self._snapshot: ChampionRead | None = None  # the run's champion read, once known
        self._reusing = False  # the snapshot came from the run folder: no pointer read
        self._releases: dict[str, ReleaseInfo] = {}  # releases this process read, by tag

    @classmethod
    def connect(
        cls,
        settings: GitHubSettings,
        repository: str,
        name: str,
        tag_prefix: str | None = None,
        cache_dir: Path | None = None,
        options: ClientOptions | None = None,
    ) -> GitHubReleasesRegistry:
        """The registry of model `name` in `repository`, through ci_ml.github's client."""
        return cls(lambda: ReleaseStore(settings, repository, options), name, tag_prefix, cache_dir)

    @property
    def store(self) -> ReleaseStore:
        if not isinstance(self._store, ReleaseStore):
            self._store = self._store()
        return self._store

    # -- versions ---------------------------------------------------------------------

    def versions(self) -> list[Version]:
        return [self._version_of(n, r) for n, r in sorted(self._published().items())]

    def version(self, number: int) -> Version:
        return self._version_of(number, self._release(number))

    def champion(self) -> Version | None:
        kept = self._snapshot if self._reusing else None
        pointer = kept.pointer if kept is not None else self._first_read()
        self._seen = pointer
        number = pointer.get("version")
        found = None if number is None else self.version(int(number))
        self._keep_read()
        return found

    def _first_read(self) -> dict[str, Any]:
        """champion.json read afresh; the process's first read is the run's snapshot."""
        head, pointer, audit = self._read_pointer()
        if self._snapshot is None:
            self._snapshot = ChampionRead(head, pointer, audit, {}, {})
        return pointer

    def reuse_run_read(self) -> None:
        """Take the champion as this run's first stage read it, when it kept one."""
        if self.reads is None:
            return
        if not self.reads.reuse:  # the run's first stage: an earlier run's read must go
            with contextlib.suppress(OSError):
                self.reads.path.unlink(missing_ok=True)
        if not self.reads.reuse or not self.reads.path.is_file():
            return
        try:
            snapshot = ChampionRead.from_json(json.loads(self.reads.path.read_text("utf-8")))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return  # unreadable: this stage reads GitHub and records afresh
        if not self.reads.run or snapshot.run != self.reads.run:
            return  # another job's read, or no job at all: read GitHub afresh
        self._releases.update(snapshot.releases)
        self._bytes.update(snapshot.assets)
        self._last_read = (snapshot.head, snapshot.pointer, snapshot.audit)
        self._snapshot, self._reusing = snapshot, True

    def _keep_read(self) -> None:
        """Record the run's champion read (and the assets read since) for later stages."""
        if self.reads is None or self._snapshot is None:
            return
        snapshot = dataclasses.replace(
            self._snapshot,
            releases=dict(self._releases),
            assets=dict(self._bytes),
            run=self.reads.run,
        )
        write_json_atomic(self.reads.path, snapshot.to_json())

    def model_file(self, number: int) -> ModelFile:
        release = self._release(number)
        version = self._version_of(number, release)
        folder = self.cache_dir / self.name / f"v{number}"
        # The pointer champion() just read vouches as well as a new read (seals never
        # change for a version); a PR run then makes no extra request for it.
        pointer = self._seen if self._seen is not None else self._read_pointer()[1]
        seal = (pointer.get("models") or {}).get(str(number))
        record = self._json_asset(release, RECORD)
        expected = ModelBundle(folder, version.card).vouched(seal, record, f"release {release.tag}")
        if not holds(expected):
            self._fetch(release, expected)
        return expected

    def profile(self, number: int) -> dict[str, Any] | None:
        release = self._release(number)
        folder = self.cache_dir / self.name / f"v{number}"
        card = self._version_of(number, release).card
        bundle = ModelBundle(folder, card)
        if release.asset(PROFILE) is not None:
            (folder / PROFILE).parent.mkdir(parents=True, exist_ok=True)
            (folder / PROFILE).write_bytes(self._asset_bytes(release, PROFILE))
            self._keep_read()
        return bundle.profile()

    def _fetch(self, release: ReleaseInfo, model: ModelFile) -> None:
        """The model into the cache: a file as it is (its hash is checked by load_model,
        before any unpickling), a folder unpacked from its archive and checked at once."""
        name = stored_name(model)
        target = model.path.with_name(name)
        self._download(release, target)
        if name != model.path.name:
            try:
                unpack_model(target, model, f"release {release.tag}: {name}")
            finally:
                target.unlink(missing_ok=True)

    def _download(self, release: ReleaseInfo, target: Path) -> None:
        asset = release.asset(target.name)
        if asset is None:
            raise IntegrityError(f"release {release.tag}: no asset {target.name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        self.store.download_asset(asset.id, partial)
        partial.replace(target)

    def _published(self) -> dict[int, ReleaseInfo]:
        return self._versions_in(self.store.releases())

    def _versions_in(self, listed: list[ReleaseInfo]) -> dict[int, ReleaseInfo]:
        """Published releases of this model that carry a record: the versions."""
        found = {}
        for release in listed:
            match = self._tag.match(release.tag)
            if match and not release.draft and release.asset(RECORD) is not None:
                found[int(match.group(1))] = release
        return found

    def _release(self, number: int) -> ReleaseInfo:
        tag = f"{self.tag_prefix}v{number}"
        release = self._releases.get(tag) or self.store.published_release(tag)
        if release is not None and release.asset(RECORD) is not None:
            self._releases[tag] = release
        if release is None or release.asset(RECORD) is None:
            detail = f"(no published release {self.tag_prefix}v{number} with a record.json)"
            raise MissingVersion(self.store_name, number, detail)
        return release

    @property
    def store_name(self) -> str:
        return f"github-releases {self.tag_prefix}"

    def _version_of(self, number: int, release: ReleaseInfo) -> Version:
        record = self._json_asset(release, RECORD)
        if record.get("version") != number or not isinstance(record.get("sha256"), str):
            raise IntegrityError(
                f"release {release.tag}: record.json names version {record.get('version')} "
                "or has no sha256; refusing it"
            )
        card = self._json_asset(release, CARD)
        return Version(number, card, str(record.get("created_at", "")), record["sha256"])

    def _json_asset(self, release: ReleaseInfo, name: str) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self._asset_bytes(release, name))
        except ValueError as exc:
            raise IntegrityError(f"release {release.tag}: {name} is corrupt: {exc}") from exc
        return data

    def _asset_bytes(self, release: ReleaseInfo, name: str) -> bytes:
        asset = release.asset(name)
        if asset is None:
            raise IntegrityError(f"release {release.tag}: asset {name} is missing")
        if asset.id not in self._bytes:
            self._bytes[asset.id] = self.store.asset_bytes(asset.id)
        return self._bytes[asset.id]

    # -- adding a version -------------------------------------------------------------

    def add(self, folder: Path) -> Version:
        bundle = ModelBundle.read(folder)
        model = bundle.model_file
        if not holds(model):
            raise IntegrityError(f"{model.path}: missing or does not match its model card")
        with tempfile.TemporaryDirectory(prefix="ci-ml-model-") as scratch:
            return self._add(bundle, as_one_file(model, Path(scratch)))

    def _add(self, bundle: ModelBundle, stored: Path) -> Version:
        """Add the bundle whose model is uploaded as the one file `stored`."""
        model = bundle.model_file
        listed = self.store.releases()  # one listing: drafts to clean, the latest, the next
        self._clean_stale_drafts(listed)
        sha = model.sha256 if stored == model.path else sha256_file(stored)
        latest = self._latest(listed, stored.name, sha)
        if latest is not None and bundle.stored_as(latest):
            return latest
        tag_commit = self._tag_commit(bundle.card, model)
        number, tag = self._reserve(self._next_number(listed), tag_commit)
        release = self._draft(tag, number)
        try:
            self._fill(release, number, bundle, [stored, *bundle.carried()])
        except EnvironmentProblem as error:
            self._discard(release, tag)
            error.message += f"; version {number} was not added, the champion is unchanged"
            error.args = (error.message,)
            raise
        except BaseException:
            self._discard(release, tag)
            raise
        return self.version(number)

    def _next_number(self, listed: list[ReleaseInfo]) -> int:
        numbers = [int(m.group(1)) for r in listed if (m := self._tag.match(r.tag))]
        return max(numbers, default=0) + 1

    def _latest(self, listed: list[ReleaseInfo], name: str, sha: str) -> Version | None:
        """The highest published version when its model asset has this very sha256 (a
        rerun finding its own bundle); read only then, so an add costs no extra request."""
        published = self._versions_in(listed)
        if not published:
            return None
        release = published[max(published)]
        asset = release.asset(name)
        if asset is None or asset.digest != f"sha256:{sha}":
            return None
        return self._version_of(max(published), release)

    def _tag_commit(self, card: dict[str, Any], model: ModelFile) -> str:
        """A commit of its own for the version tags to point at: the model card, no code."""
        message = f"ci-ml {self.name}: model {model.path.name} sha256 {model.sha256}"
        text = json.dumps(card, indent=2, sort_keys=True, default=str) + "\n"
        return self.store.create_commit({CARD: text}, None, message)

    def _reserve(self, number: int, sha: str) -> tuple[int, str]:
        """Create the tag of the first free number from `number` on: the reservation."""
        for candidate in range(number, number + RESERVE_TRIES):
            tag = f"{self.tag_prefix}v{candidate}"
            if self._set_ref(f"tags/{tag}", None, sha):
                return candidate, tag
        raise EnvironmentProblem(
            f"{self.store_name}: {RESERVE_TRIES} version numbers from {number} on are taken; "
            "too many concurrent adds, try again"
        )

    def _set_ref(self, ref: str, old: str | None, sha: str) -> bool:
        """Create `ref` (old None) or fast-forward it from `old` to `sha`. False when another
        run moved it first; an error when GitHub refuses for another reason."""
        store = self.store
        if store.create_ref(ref, sha) if old is None else store.advance_ref(ref, sha):
            return True
        now = store.ref_target(ref)
        if now == sha:  # GitHub did it, but its answer was lost and the retry refused
            return True
        if now == old:  # nobody else moved it: a rule refused us, not the race
            raise EnvironmentProblem(
                f"GitHub refused to {'create' if old is None else 'move'} refs/{ref} although no "
                "other run changed it; is it protected (rulesets, tag or branch protection)? "
                "Nothing was changed"
            )
        return False

    def _draft(self, tag: str, number: int) -> ReleaseInfo:
        until = (datetime.now(UTC) + DRAFT_LIFETIME).isoformat(timespec="seconds")
        try:
            return self.store.create_draft_release(tag, self._title(number), DRAFT_MARK + until)
        except BaseException:
            self._forget_tag(tag)
            raise

    def _title(self, number: int) -> str:
        return f"{self.name} model version {number}"

    def _fill(
        self, release: ReleaseInfo, number: int, bundle: ModelBundle, files: list[Path]
    ) -> None:
        record = bundle.record(number, lineage.now())
        with tempfile.TemporaryDirectory(prefix="ci-ml-record-") as tmp:
            record_path = Path(tmp) / RECORD
            record_path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
            expected = {p.name: (p.stat().st_size, sha256_file(p)) for p in [*files, record_path]}
            for path in [*files, record_path]:  # record.json last: it marks a complete upload
                self._upload(release.id, path)
        self._verify(self.store.release(release.id), expected)
        body = f"```json\n{json.dumps(record, indent=2)}\n```\n"
        self.store.publish_release(release.id, self._title(number), body)

    def _upload(self, release_id: int, path: Path) -> None:
        try:
            self.store.upload_asset(release_id, path, path.name)
        except GitHubCallFailed as error:
            # 422 "already_exists": a retried upload whose first answer was lost; _verify
            # checks that what arrived is whole.
            if error.status != 422:
                raise

    def _verify(self, release: ReleaseInfo, expected: dict[str, tuple[int, str]]) -> None:
        for name, (size, sha) in expected.items():
            asset = release.asset(name)
            found = None if asset is None else (asset.size, asset.digest)
            if asset is None or asset.size != size or asset.digest not in (None, f"sha256:{sha}"):
                raise IntegrityError(
                    f"release {release.tag}: uploaded {name} came back as {found}, "
                    f"expected {size} bytes with sha256 {sha[:12]}…; not published"
                )

    def _clean_stale_drafts(self, listed: list[ReleaseInfo]) -> None:
        """Drafts a killed add left: only this model's, only ci-ml's, only expired."""
        for release in listed:
            if release.draft and self._tag.match(release.tag) and _expired(release.body):
                self._discard(release, release.tag)

    def _discard(self, release: ReleaseInfo, tag: str) -> None:
        """Best effort: remove a half-made version (a draft is invisible anyway)."""
        try:
            self.store.delete_release(release.id)
        except EnvironmentProblem:
            return  # the server is gone: the draft stays invisible, the number skipped
        self._forget_tag(tag)

    def _forget_tag(self, tag: str) -> None:
        # A tag left without a published release is no version; its number is skipped.
        with contextlib.suppress(EnvironmentProblem):
            self.store.delete_ref(f"tags/{tag}")

    # -- the champion pointer ---------------------------------------------------------

    def promote(self, number: int, expected: int | None, who: Who) -> None:
        self.version(number)
        if self._read_pointer()[1].get("version") == number:
            return  # a rerun: the commit that moved the champion carried its audit entry

        def decide(pointer: dict[str, Any]) -> tuple[int, list[int], dict[str, Any]]:
            current = pointer.get("version")
            if current != expected:
                raise stale_champion(current, expected)
            history = [*pointer.get("history", []), *([current] if current else [])]
            return number, history, who.entry("promote", number, current)

        self._swap(decide)

    def rollback(self, who: Who, to: int | None = None) -> Version:
        def decide(pointer: dict[str, Any]) -> tuple[int, list[int], dict[str, Any]]:
            current = pointer.get("version")
            target, history = rollback_target(current, list(pointer.get("history", [])), to)
            self.version(target)
            return target, history, who.entry("rollback", target, current)

        return self.version(self._swap(decide))

    def audit_log(self, fresh: bool = True) -> list[dict[str, Any]]:
        if not fresh and self._last_read is not None:
            return parse_audit(self._last_read[2])  # read with the champion, this run
        if not fresh and self.reads is not None:
            self._first_read()
            self._keep_read()
            return parse_audit(self._snapshot.audit if self._snapshot else "")
        return parse_audit(self._read_pointer()[2])

    def note(self, entry: dict[str, Any]) -> None:
        """A commit that appends `entry` to the audit log and keeps the pointer as it is."""
        line = json.dumps(entry, sort_keys=True, default=str) + "\n"
        for _ in range(SWAP_TRIES):
            head, pointer, audit = self._read_pointer()
            files = {POINTER: json.dumps(pointer, indent=2) + "\n", AUDIT: audit + line}
            message = f"ci-ml {self.name}: {entry['event']} version {entry.get('version')}\n"
            if self._set_ref(
                f"heads/{self.branch}", head, self.store.create_commit(files, head, message)
            ):
                return
        raise RegistryRefused(f"audit entry not written: branch {self.branch} kept moving")

    def _read_pointer(self) -> tuple[str | None, dict[str, Any], str]:
        """(branch head, champion.json, audit.jsonl); no branch is the first run."""
        head = self.store.ref_target(f"heads/{self.branch}")
        if head is None:
            return None, {}, ""
        files = self.store.commit_files(head)
        try:
            pointer = json.loads(files[POINTER])
            audit = files.get(AUDIT, b"").decode("utf-8")
        except (KeyError, ValueError) as exc:
            raise IntegrityError(
                f"branch {self.branch} ({head[:12]}): no readable {POINTER}: {exc}"
            ) from exc
        self._last_read = (head, pointer, audit)
        return head, pointer, audit

    def _swap(
        self, decide: Callable[[dict[str, Any]], tuple[int, list[int], dict[str, Any]]]
    ) -> int:
        """Compare-and-swap the champion; `decide` sees the current pointer and may refuse."""
        for _ in range(SWAP_TRIES):
            head, pointer, audit = self._read_pointer()
            number, history, entry = decide(pointer)
            seals = self._seals(pointer, number, history)
            sha = self._pointer_commit(head, {"history": history, "models": seals}, entry, audit)
            if self._set_ref(f"heads/{self.branch}", head, sha):
                return number
        raise RegistryRefused(
            f"not changed: branch {self.branch} kept moving under {SWAP_TRIES} tries; run again"
        )

    def _seals(self, pointer: dict[str, Any], number: int, history: list[int]) -> dict[str, Any]:
        """The seals the new pointer carries: kept for earlier champions, and for a
        version never champion before, its record checked against its card."""
        keep = {str(v) for v in [*history, number]}
        seals = {k: v for k, v in (pointer.get("models") or {}).items() if k in keep}
        if str(number) not in seals:
            release = self._release(number)
            bundle = ModelBundle(self.cache_dir, self._version_of(number, release).card)
            record = self._json_asset(release, RECORD)
            seals[str(number)] = bundle.vouched(None, record, f"release {release.tag}").to_dict()
        return seals

    def _pointer_commit(
        self, head: str | None, change: dict[str, Any], entry: dict[str, Any], audit: str
    ) -> str:
        number = entry["version"]
        pointer = {"version": number, **change, "updated_at": entry["at"]}
        files = {
            POINTER: json.dumps(pointer, indent=2) + "\n",
            AUDIT: audit + json.dumps(entry, sort_keys=True, default=str) + "\n",
        }
        message = f"ci-ml {self.name}: {entry['event']} version {number}\n\n{entry['reason']}"
        return self.store.create_commit(files, head, message.strip() + "\n")


def _expired(body: str) -> bool:
    """A draft ci-ml marked, past the time its upload could still be running."""
    if not body.startswith(DRAFT_MARK):
        return False
    try:
        until = datetime.fromisoformat(body[len(DRAFT_MARK) :].strip())
    except ValueError:
        return False
    return until < datetime.now(UTC)
