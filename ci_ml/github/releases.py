"""Releases, assets and git data, for the github-releases registry."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ci_ml.errors import EnvironmentProblem

if TYPE_CHECKING:
    pass

from ci_ml.github.client import ClientOptions, make_client, with_backoff
from ci_ml.github.publish import _describe, _redact
from ci_ml.github.settings import GitHubSettings

T = TypeVar("T")


# -- releases and git data, for the github-releases registry ------------------------------


class GitHubCallFailed(EnvironmentProblem):
    """A GitHub API call failed; `status` is the HTTP status, None when no answer came."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class AssetInfo:
    id: int
    name: str
    size: int
    digest: str | None  # "sha256:<hex>" where GitHub computed it


@dataclass(frozen=True)
class ReleaseInfo:
    id: int
    tag: str
    draft: bool
    assets: tuple[AssetInfo, ...]

    def asset(self, name: str) -> AssetInfo | None:
        return next((a for a in self.assets if a.name == name), None)


class ReleaseStore:
    """One repository's releases, assets, refs and git objects, as plain values.

    Every call waits out rate limits and turns a failure into GitHubCallFailed with
    the token redacted. Refs are given without the leading "refs/" ("heads/x")."""

    def __init__(
        self, settings: GitHubSettings, repository: str, options: ClientOptions | None = None
    ) -> None:
        self._options = options or ClientOptions()
        self._token = settings.token
        # Not lazy: a lazy GitRef keeps the GET-only /git/ref/ URL and cannot be PATCHed.
        client = make_client(settings, self._options)
        self._repo = self._call(f"open {repository}", lambda: client.get_repo(repository))
        self._objects: dict[Any, Any] = {}  # PyGithub objects by ("release"|"asset"|..., key)

    def _call(self, what: str, action: Callable[[], T]) -> T:
        from github.GithubException import GithubException
        from requests.exceptions import RequestException

        try:
            return with_backoff(action, self._options)
        except GithubException as error:
            text = f"GitHub: could not {what}: {_describe(error)}"
            raise GitHubCallFailed(_redact(text, self._token), error.status) from error
        except (RequestException, OSError) as error:
            text = f"GitHub: could not {what}: {type(error).__name__}: {error}"
            raise GitHubCallFailed(_redact(text, self._token)) from error

    # releases and assets

    def releases(self) -> list[ReleaseInfo]:
        """Every release, drafts included (a token with push access sees them)."""
        found = self._call("list releases", lambda: list(self._repo.get_releases()))
        return [self._release_info(r) for r in found]

    def release(self, release_id: int) -> ReleaseInfo:
        found = self._call(f"read release {release_id}", lambda: self._repo.get_release(release_id))
        return self._release_info(found)

    def _release_info(self, release: Any) -> ReleaseInfo:
        self._objects["release", release.id] = release
        assets = []
        for asset in release.assets:
            self._objects["asset", asset.id] = asset
            assets.append(AssetInfo(asset.id, asset.name, asset.size, asset.raw_data.get("digest")))
        return ReleaseInfo(release.id, release.tag_name, release.draft, tuple(assets))

    def create_draft_release(self, tag: str, title: str, body: str) -> ReleaseInfo:
        created = self._call(
            f"create a draft release for {tag}",
            lambda: self._repo.create_git_release(tag, title, body, draft=True),
        )
        return self._release_info(created)

    def upload_asset(self, release_id: int, path: Path, name: str) -> None:
        release = self._objects["release", release_id]
        self._call(
            f"upload {name}",
            lambda: release.upload_asset(
                str(path), name=name, content_type="application/octet-stream"
            ),
        )

    def publish_release(self, release_id: int, title: str, body: str) -> None:
        release = self._objects["release", release_id]
        self._call(
            f"publish release {release.tag_name}",
            lambda: release.update_release(title, body, draft=False, make_latest="false"),
        )

    def delete_release(self, release_id: int) -> None:
        release = self._objects["release", release_id]
        self._call(f"delete release {release.tag_name}", release.delete_release)

    def download_asset(self, asset_id: int, path: Path) -> None:
        asset = self._objects["asset", asset_id]
        self._call(
            f"download {asset.name}", lambda: asset.download_asset(str(path), chunk_size=65536)
        )

    def asset_bytes(self, asset_id: int) -> bytes:
        asset = self._objects["asset", asset_id]

        def fetch() -> bytes:
            _, _, chunks = asset.download_asset(chunk_size=65536)
            return b"".join(chunks)

        return self._call(f"download {asset.name}", fetch)

    # refs and commits

    def ref_target(self, ref: str) -> str | None:
        """The sha `ref` points at, or None if there is no such ref (404)."""
        try:
            found = self._call(f"read ref {ref}", lambda: self._repo.get_git_ref(ref))
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
            f"read ref {ref}", lambda: self._repo.get_git_ref(ref)
        )
        return self._unless_422(f"move ref {ref}", lambda: found.edit(sha, force=False))

    def delete_ref(self, ref: str) -> None:
        self._call(f"delete ref {ref}", lambda: self._repo.get_git_ref(ref).delete())

    def _unless_422(self, what: str, action: Callable[[], object]) -> bool:
        try:
            self._call(what, action)
        except GitHubCallFailed as error:
            if error.status == 422:
                return False
            raise
        return True

    def commit_files(self, sha: str) -> dict[str, bytes]:
        """The files at the top of commit `sha`'s tree."""
        import base64

        commit = self._commit(sha)
        tree = self._call("read a tree", lambda: self._repo.get_git_tree(commit.tree.sha))
        blobs = [e for e in tree.tree if e.type == "blob"]
        return {e.path: base64.b64decode(self._blob(e.sha).content) for e in blobs}

    def _blob(self, sha: str) -> Any:
        return self._call(f"read blob {sha[:12]}", lambda: self._repo.get_git_blob(sha))

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
            found = self._call(f"read commit {sha[:12]}", lambda: self._repo.get_git_commit(sha))
            self._objects["commit", sha] = found
        return self._objects["commit", sha]
