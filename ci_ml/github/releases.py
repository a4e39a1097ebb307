"""Releases, assets and git data, for the github-releases registry."""

from __future__ import annotations

import hashlib
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ci_ml.github.client import (
    CallContext,
    ClientOptions,
    GitHubCallFailed,
    describe_error,
    github_call,
    github_message,
    make_client,
    redact,
)
from ci_ml.github.settings import GitHubSettings

T = TypeVar("T")


# -- releases and git data, for the github-releases registry ------------------------------


@dataclass(frozen=True)
class AssetInfo:
    id: int
    name: str
    size: int
    digest: str | None  # "sha256:<hex>" where GitHub computed it
    state: str = "uploaded"  # "starter": an upload that failed half-way left it empty


@dataclass(frozen=True)
class ReleaseInfo:
    id: int
    tag: str
    draft: bool
    assets: tuple[AssetInfo, ...]
    upload_url: str = ""
    body: str = ""

    def asset(self, name: str) -> AssetInfo | None:
        return next((a for a in self.assets if a.name == name), None)


READ, WRITE = "contents: read", "contents: write"


@dataclass
class _Immutable:
    """What never changes once written, kept for the process: a published release (by tag),
    an asset's bytes (by id), a commit's files (by sha). Stages that each open the registry
    then pay for these once per run."""

    repo: Any = None  # the PyGithub Repository
    releases: dict[str, ReleaseInfo] = field(default_factory=dict)
    assets: dict[int, bytes] = field(default_factory=dict)
    files: dict[str, dict[str, bytes]] = field(default_factory=dict)


_KEPT: dict[tuple[str, str, str], _Immutable] = {}


def forget() -> None:
    """Drop what the process kept (a test's new fake GitHub is a new GitHub)."""
    _KEPT.clear()


REF_UPDATE_FAILED = "Reference update failed"  # GitHub's transient 422 on a ref write
REF_TRIES = 3


def unless_refused(what: str, action: Callable[[], object], context: CallContext) -> bool:
    """True when a ref write is done, False on a refusal (422: exists, not a fast-forward);
    GitHub's transient 422 "Reference update failed" is no refusal and is tried again."""
    for attempt in range(1, REF_TRIES + 1):
        try:
            github_call(what, action, context, WRITE)
            return True
        except GitHubCallFailed as error:
            if error.status != 422:
                raise
            if error.reason != REF_UPDATE_FAILED:
                return False
            if attempt == REF_TRIES:
                raise
            time.sleep(context.options.backoff_factor * attempt)
    raise AssertionError("unreachable: the loop returns or raises")


class ReleaseStore:
    """One repository's releases, assets, refs and git objects, as plain values.

    Every call waits out rate limits and turns a failure into GitHubCallFailed with
    the token redacted. Refs are given without the leading "refs/" ("heads/x").
    No call reads every asset again (PyGithub's `raw_data` would): a listing costs one
    request per 100 releases, one version one request, whatever the registry's size.
    Uploads and downloads go through `transfer` (timeouts on the other hosts too)."""

    def __init__(
        self, settings: GitHubSettings, repository: str, options: ClientOptions | None = None
    ) -> None:
        self._options = options or ClientOptions()
        self._token = settings.token
        self._context = CallContext.of(settings, self._options)
        # Not lazy: a lazy GitRef keeps the GET-only /git/ref/ URL and cannot be PATCHed.
        # The repository is read once per process (each stage opens the registry).
        key = (settings.api_url, repository, hashlib.sha256(settings.token.encode()).hexdigest())
        self._kept = _KEPT.setdefault(key, _Immutable())
        if self._kept.repo is None:
            client = make_client(settings, self._options)
            self._kept.repo = self._call(
                f"open {repository}", lambda: client.get_repo(repository), READ
            )
        self._repo = self._kept.repo
        self._upload_urls: dict[int, str] = {}  # release id -> its uploads host URL
        self._objects: dict[Any, Any] = {}  # PyGithub objects by ("ref"|"commit", key)
        self._transfer = Transfer(settings.token, self._options)

    def _call(self, what: str, action: Callable[[], T], permission: str = WRITE) -> T:
        return github_call(what, action, self._context, permission)

    def _json(self, what: str, verb: str, url: str, **kwargs: Any) -> Any:
        requester = self._repo.requester
        permission = READ if verb == "GET" else WRITE
        _, data = self._call(
            what, lambda: requester.requestJsonAndCheck(verb, url, **kwargs), permission
        )
        return data

    # releases and assets

    def releases(self) -> list[ReleaseInfo]:
        """Every release, drafts included (a token with push access sees them)."""
        return [_release_info(r) for r in self._release_pages()]

    def published_release(self, tag: str) -> ReleaseInfo | None:
        """The published release of `tag` in one request (drafts are not found), or None."""
        if tag in self._kept.releases:
            return self._kept.releases[tag]
        url = f"{self._repo.url}/releases/tags/{urllib.parse.quote(tag, safe='')}"
        try:
            found = _release_info(self._json(f"read release {tag}", "GET", url))
        except GitHubCallFailed as error:
            if error.status == 404:
                return None
            raise
        self._kept.releases[tag] = found
        return found

    def _release_pages(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        per_page = self._options.per_page
        for page in range(1, 1000):
            params = {"per_page": per_page, "page": page}
            url = f"{self._repo.url}/releases"
            batch = self._json("list releases", "GET", url, parameters=params)
            found.extend(batch)
            if len(batch) < per_page:
                return found
        return found

    def release(self, release_id: int) -> ReleaseInfo:
        url = f"{self._repo.url}/releases/{release_id}"
        return _release_info(self._json(f"read release {release_id}", "GET", url))

    def create_draft_release(self, tag: str, title: str, body: str) -> ReleaseInfo:
        fields = {"tag_name": tag, "name": title, "body": body, "draft": True}
        url = f"{self._repo.url}/releases"
        created = _release_info(
            self._json(f"create a draft release for {tag}", "POST", url, input=fields)
        )
        self._upload_urls[created.id] = created.upload_url
        return created

    def upload_asset(self, release_id: int, path: Path, name: str) -> None:
        """Upload `path` as asset `name`. After a failed upload GitHub may keep an empty
        asset in state `starter` (as documented), which refuses the name: it is deleted
        and the upload tried again."""
        upload_url = self._upload_urls.get(release_id) or self.release(release_id).upload_url
        try:
            self._transfer.upload(upload_url, path, name)
            return
        except GitHubCallFailed:
            left = self.release(release_id).asset(name)
            if left is not None and left.state == "uploaded":
                return  # it arrived, only the answer was lost: the caller verifies it
            if left is None:
                raise
        self._delete_asset(left)
        self._transfer.upload(upload_url, path, name)

    def _delete_asset(self, asset: AssetInfo) -> None:
        url = f"{self._repo.url}/releases/assets/{asset.id}"
        self._call(
            f"delete the half-uploaded asset {asset.name}",
            lambda: self._repo.requester.requestJsonAndCheck("DELETE", url),
        )

    def publish_release(self, release_id: int, title: str, body: str) -> None:
        fields = {"name": title, "body": body, "draft": False, "make_latest": "false"}
        url = f"{self._repo.url}/releases/{release_id}"
        self._json(f"publish release {release_id}", "PATCH", url, input=fields)

    def delete_release(self, release_id: int) -> None:
        url = f"{self._repo.url}/releases/{release_id}"
        self._json(f"delete release {release_id}", "DELETE", url)

    def download_asset(self, asset_id: int, path: Path) -> None:
        self._transfer.download(f"{self._repo.url}/releases/assets/{asset_id}", path)

    def asset_bytes(self, asset_id: int) -> bytes:
        if asset_id not in self._kept.assets:
            url = f"{self._repo.url}/releases/assets/{asset_id}"
            self._kept.assets[asset_id] = self._transfer.fetch(url)
        return self._kept.assets[asset_id]

    # refs and commits

    def ref_target(self, ref: str) -> str | None:
        """The sha `ref` points at, or None if there is no such ref (404)."""
        try:
            found = self._call(f"read ref {ref}", lambda: self._repo.get_git_ref(ref), READ)
        except GitHubCallFailed as error:
            if error.status == 404:
                return None
            raise
        self._objects["ref", ref] = found
        return str(found.object.sha)

    def create_ref(self, ref: str, sha: str) -> bool:
        """Create `ref` at `sha`; False if it already exists (GitHub answers 422)."""
        return self._unless_422(
            f"create ref {ref}", lambda: self._repo.create_git_ref(f"refs/{ref}", sha)
        )

    def advance_ref(self, ref: str, sha: str) -> bool:
        """Move `ref` to `sha` only as a fast-forward; False when GitHub refuses (422)."""
        found = self._objects.get(("ref", ref)) or self._call(
            f"read ref {ref}", lambda: self._repo.get_git_ref(ref), READ
        )
        return self._unless_422(f"move ref {ref}", lambda: found.edit(sha, force=False))

    def delete_ref(self, ref: str) -> None:
        self._call(f"delete ref {ref}", lambda: self._repo.get_git_ref(ref).delete())

    def _unless_422(self, what: str, action: Callable[[], object]) -> bool:
        return unless_refused(what, action, self._context)

    def commit_files(self, sha: str) -> dict[str, bytes]:
        """The files at the top of commit `sha`'s tree (a commit sha names its tree too)."""
        import base64

        if sha not in self._kept.files:
            tree = self._call("read a tree", lambda: self._repo.get_git_tree(sha), READ)
            blobs = [e for e in tree.tree if e.type == "blob"]
            files = {e.path: base64.b64decode(self._blob(e.sha).content) for e in blobs}
            self._kept.files[sha] = files
        return dict(self._kept.files[sha])

    def _blob(self, sha: str) -> Any:
        return self._call(f"read blob {sha[:12]}", lambda: self._repo.get_git_blob(sha), READ)

    def create_commit(self, files: Mapping[str, str], parent: str | None, message: str) -> str:
        """A new commit holding exactly `files` (text), child of `parent`; its sha."""
        from github import InputGitTreeElement

        entries = [InputGitTreeElement(n, "100644", "blob", content=t) for n, t in files.items()]
        tree = self._call("create a tree", lambda: self._repo.create_git_tree(entries))
        parents = [self._commit(parent)] if parent else []
        commit = self._call(
            "create a commit", lambda: self._repo.create_git_commit(message, tree, parents)
        )
        self._objects["commit", commit.sha] = commit
        return str(commit.sha)

    def _commit(self, sha: str) -> Any:
        if ("commit", sha) not in self._objects:
            found = self._call(
                f"read commit {sha[:12]}", lambda: self._repo.get_git_commit(sha), READ
            )
            self._objects["commit", sha] = found
        return self._objects["commit", sha]


def _release_info(data: dict[str, Any]) -> ReleaseInfo:
    assets = tuple(_asset_info(a) for a in data.get("assets") or [])
    upload = str(data.get("upload_url") or "").split("{", 1)[0]
    body = str(data.get("body") or "")
    return ReleaseInfo(
        int(data["id"]), str(data["tag_name"]), bool(data["draft"]), assets, upload, body
    )


def _asset_info(data: dict[str, Any]) -> AssetInfo:
    state = str(data.get("state") or "uploaded")
    return AssetInfo(
        int(data["id"]), str(data["name"]), int(data["size"]), data.get("digest"), state
    )


# -- uploads and downloads: other hosts, each with a timeout and a deadline ------------------

CHUNK = 65536


class Transfer:
    """Asset uploads (uploads host) and downloads (a 302 to a storage host) on requests,
    with a timeout on every connection and a deadline on every transfer: PyGithub opens
    its own connections for other hosts without any timeout, so a stall would hang."""

    def __init__(self, token: str, options: ClientOptions) -> None:
        self._token = token
        self._options = options
        self._session: Any = None

    def _http(self) -> Any:
        if self._session is None:
            import requests
            from requests.adapters import HTTPAdapter

            from ci_ml.github.client import make_retry

            self._session = requests.Session()
            adapter = HTTPAdapter(max_retries=make_retry(self._options))
            self._session.mount("http://", adapter)
            self._session.mount("https://", adapter)
        return self._session

    def upload(self, upload_url: str, path: Path, name: str) -> None:
        url = f"{upload_url}?{urllib.parse.urlencode({'name': name})}"
        headers = self._auth() | {"Content-Type": "application/octet-stream"}
        with path.open("rb") as body:
            headers["Content-Length"] = str(path.stat().st_size)
            answer = self._send(f"upload {name}", "POST", url, headers=headers, data=body)
        self._check(f"upload {name}", answer)

    def download(self, url: str, target: Path) -> None:
        with target.open("wb") as out:
            for chunk in self._chunks(url):
                out.write(chunk)

    def fetch(self, url: str) -> bytes:
        return b"".join(self._chunks(url))

    def _chunks(self, url: str) -> Iterator[bytes]:
        what = f"download {url.rsplit('/', 1)[-1]}"
        headers = self._auth() | {"Accept": "application/octet-stream"}
        answer = self._send(what, "GET", url, headers=headers, stream=True)
        if answer.status_code in (301, 302, 303, 307, 308) and "location" in answer.headers:
            # The storage host gets no token: its URL is signed (as GitHub's are).
            location = answer.headers["location"]
            accept = {"Accept": "application/octet-stream"}
            answer = self._send(what, "GET", location, headers=accept, stream=True)
        self._check(what, answer)
        deadline = time.monotonic() + self._deadline()
        try:
            for chunk in answer.iter_content(CHUNK):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"transfer exceeded {self._deadline():.0f} s")
                yield chunk
        except Exception as error:
            raise self._failed(what, answer.url, error) from error
        finally:
            answer.close()

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _deadline(self) -> float:
        return self._options.transfer_deadline

    def _send(self, what: str, verb: str, url: str, **kwargs: Any) -> Any:
        timeout = (self._options.timeout, self._options.timeout)
        try:
            return self._http().request(verb, url, timeout=timeout, allow_redirects=False, **kwargs)
        except Exception as error:
            raise self._failed(what, url, error) from error

    def _failed(self, what: str, url: str, error: Exception) -> GitHubCallFailed:
        host = urllib.parse.urlsplit(url).netloc
        text = f"GitHub: could not {what} ({host}): {type(error).__name__}: {error}"
        return GitHubCallFailed(redact(text, self._token))

    def _check(self, what: str, answer: Any) -> None:
        if answer.status_code < 300:
            return
        from github.GithubException import GithubException

        try:
            data = answer.json()
        except ValueError:
            data = {"message": answer.text[:200]}
        error = GithubException(answer.status_code, data, dict(answer.headers))
        host = urllib.parse.urlsplit(answer.url).netloc
        text = f"GitHub: could not {what} ({host}): {describe_error(error, WRITE)}"
        answer.close()
        raise GitHubCallFailed(redact(text, self._token), answer.status_code, github_message(error))
