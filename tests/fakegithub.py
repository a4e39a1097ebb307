"""A fake GitHub REST API on 127.0.0.1, for driving the real PyGithub client in tests.

It behaves like GitHub where ci-ml depends on it:

- every answer is checked against GitHub's OpenAPI description (tests/fakegithub_openapi.py,
  `@octokit/openapi` pinned in tests/openapi); `stop()` raises if one did not validate, so
  the test that caused it fails from the fixture's teardown;
- three hosts: the API (`.url`), uploads (`.uploads_url`, where `upload_url` points) and
  storage (`.storage_url`): an asset download is a 302 there, and storage refuses a token;
- tokens carry permissions as a job's `permissions:` grants them (`fake.token(...)`); a
  write without one is 403 "Resource not accessible by integration", a fork's token is
  read-only, a repository the token cannot see (or that does not exist) is 404, an
  expired token 401 "Bad credentials"; GET /user is 403 for an installation token, and
  GraphQL's `viewer { login }` names who any token writes as (`<app>[bot]` for an app);
- X-RateLimit-* headers on every API answer, a primary limit that runs out (403 with
  X-RateLimit-Remaining 0 and the reset), secondary limits (403 with Retry-After);
- the repository setting that lets GITHUB_TOKEN open pull requests is off, as on a new
  repository (403 "GitHub Actions is not permitted to create or approve pull requests").

One routing table (ROUTES) maps (verb, path pattern) to a handler method named after the
route. State is plain dicts a test can read and seed directly (`fake.state`). Only the
repositories given (default octo/demo) or seeded with `state.repo(name)` exist.

Use (fixtures `fake_github` and `fake_ghe` in tests/conftest.py; or `with FakeGitHub() as f`):

    repo = Github(auth=Auth.Token("t"), base_url=fake_github.url).get_repo("octo/demo")
    pr = fake_github.state.add_pull("octo/demo", head_sha="a" * 40)   # seed directly
    fake_github.token(TOKEN, permissions={"contents": "read"})       # a read-only job
    fake_github.token(TOKEN, fork=True) / (expired=True) / (repositories={"octo/x"})
    fake_github.token("ghp_me", login="octocat", installation=False) # a person's token
    fake_github.exhaust_rate_limit(TOKEN, reset_in=600)
    fake_github.allow_pull_requests_from_actions("octo/demo")
    fake_github.starter_upload()          # next upload: 502, leaves an empty `starter` asset
    fake_github.ref_update_failed("refs.create")  # GitHub's transient 422
    fake_github.stall("storage.download")  # half the bytes, then silence
    fake_github.fail("comments.create", status=500, times=2)          # then 2 x 500
    fake_github.forbid("statuses.create")                              # always 403
    fake_github.secondary_rate_limit("assets.upload", retry_after=1)
    fake_github.disconnect("assets.upload")                            # die mid-upload
    fake_github.fail_after_acting("comments.create")   # acted, but the client sees 502
    fake_github.race_duplicate_comment("octo/demo", pr, body)
    fake_github.state.repo("octo/demo").assets  # {id: {"name", "content": bytes, ...}}
    fake_github.state.repo("octo/demo").files_at("refs/heads/x")  # git data
    fake_github.state.repo("octo/demo").contents  # {(branch, path): bytes}
    fake_github.state.repo("octo/demo").dispatches  # repository_dispatch events received
    fake_github.push("octo/demo", "refs/heads/x", {"f": b"1"}, "msg")  # someone else commits
    fake_github.state.count("assets.upload")    # requests that reached a route
    fake_github.state.api_requests()            # requests counted against the rate limit

The same routes answer under the GitHub Enterprise prefix `/api/v3` (uploads under
`/api/uploads`, storage under `/api/storage`, on the API host as on GHES). Git data
(blobs, trees, commits) is stored per repository in `objects`; as on GitHub, a ref
update without `force` must be a fast-forward, else 422. Asset JSON carries GitHub's
`digest` ("sha256:<hex>").
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
import time
import urllib.parse
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests import fakegithub_openapi as openapi

PER_PAGE_DEFAULT = 30
PER_PAGE_MAX = 100
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

SECONDARY_RATE_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)
FORK_READ_ONLY_MESSAGE = "Resource not accessible by integration"
NOT_ACCESSIBLE = FORK_READ_ONLY_MESSAGE  # GitHub's 403 for a write the token may not make
BAD_CREDENTIALS = "Bad credentials"
PRIMARY_RATE_LIMIT_MESSAGE = "API rate limit exceeded for installation ID 4242."
ACTIONS_BOT = "github-actions[bot]"  # who GITHUB_TOKEN writes as
PR_CREATION_REFUSED = "GitHub Actions is not permitted to create or approve pull requests."
RATE_LIMIT = 5000  # a GITHUB_TOKEN gets 1,000 an hour per repository; tests set their own
ALL_WRITE = {
    scope: "write"
    for scope in ("actions", "contents", "issues", "pull-requests", "statuses", "checks")
} | {"metadata": "read"}

_PIECES = {
    "{repo}": r"(?P<owner>[^/]+)/(?P<name>[^/]+)",
    "{n}": r"(?P<n>\d+)",
    "{id}": r"(?P<id>\d+)",
    "{sha}": r"(?P<sha>[^/]+)",
    "{tag}": r"(?P<tag>[^/]+)",
    "{ref}": r"(?P<ref>.+)",
}

# verb, path pattern (after the /api/v3 prefix is removed), route name. The handler of
# route "a.b" is FakeGitHub.a_b. Order matters: first match wins. Uploads answer only on
# the uploads host, asset bytes only on the storage host. The operation an answer is
# checked against is the description's path the request's path matches.
ROUTES: list[tuple[str, str, str]] = [
    ("GET", "/user", "user.get"),
    # GraphQL is not in the REST description: its answers are not checked against it
    ("POST", "/graphql", "graphql.query"),
    ("POST", "/api/graphql", "graphql.query"),  # GitHub Enterprise's GraphQL endpoint
    ("GET", "/repos/{repo}", "repo.get"),
    ("GET", "/repos/{repo}/issues/comments/{id}", "comments.get"),
    ("PATCH", "/repos/{repo}/issues/comments/{id}", "comments.edit"),
    ("DELETE", "/repos/{repo}/issues/comments/{id}", "comments.delete"),
    ("GET", "/repos/{repo}/issues/{n}/comments", "comments.list"),
    ("POST", "/repos/{repo}/issues/{n}/comments", "comments.create"),
    ("GET", "/repos/{repo}/issues/{n}", "issues.get"),
    ("PATCH", "/repos/{repo}/issues/{n}", "issues.edit"),
    ("GET", "/repos/{repo}/issues", "issues.list"),
    ("POST", "/repos/{repo}/issues", "issues.create"),
    ("GET", "/repos/{repo}/pulls/{n}", "pulls.get"),
    ("GET", "/repos/{repo}/pulls", "pulls.list"),
    ("POST", "/repos/{repo}/pulls", "pulls.create"),
    ("GET", "/repos/{repo}/commits/{sha}/statuses", "statuses.list"),
    ("GET", "/repos/{repo}/commits/{sha}/status", "statuses.combined"),
    ("GET", "/repos/{repo}/commits/{sha}", "commits.get"),
    ("POST", "/repos/{repo}/statuses/{sha}", "statuses.create"),
    ("GET", "/repos/{repo}/releases/assets/{id}", "assets.get"),
    ("DELETE", "/repos/{repo}/releases/assets/{id}", "assets.delete"),
    ("GET", "/repos/{repo}/releases/latest", "releases.latest"),
    ("GET", "/repos/{repo}/releases/tags/{tag}", "releases.by_tag"),
    ("GET", "/repos/{repo}/releases/{id}/assets", "assets.list"),
    ("GET", "/repos/{repo}/releases/{id}", "releases.get"),
    ("PATCH", "/repos/{repo}/releases/{id}", "releases.edit"),
    ("DELETE", "/repos/{repo}/releases/{id}", "releases.delete"),
    ("GET", "/repos/{repo}/releases", "releases.list"),
    ("POST", "/repos/{repo}/releases", "releases.create"),
    ("GET", "/repos/{repo}/git/ref/{ref}", "refs.get"),
    ("GET", "/repos/{repo}/git/refs/{ref}", "refs.get"),  # older spelling
    ("PATCH", "/repos/{repo}/git/refs/{ref}", "refs.update"),
    ("DELETE", "/repos/{repo}/git/refs/{ref}", "refs.delete"),
    ("POST", "/repos/{repo}/git/refs", "refs.create"),
    ("POST", "/repos/{repo}/git/blobs", "blobs.create"),
    ("GET", "/repos/{repo}/git/blobs/{sha}", "blobs.get"),
    ("POST", "/repos/{repo}/git/trees", "trees.create"),
    ("GET", "/repos/{repo}/git/trees/{sha}", "trees.get"),
    ("POST", "/repos/{repo}/git/commits", "git_commits.create"),
    ("GET", "/repos/{repo}/git/commits/{sha}", "git_commits.get"),
    ("GET", "/repos/{repo}/contents/{ref}", "contents.get"),
    ("PUT", "/repos/{repo}/contents/{ref}", "contents.put"),
    ("POST", "/repos/{repo}/dispatches", "dispatches.create"),
]
UPLOAD_ROUTES: list[tuple[str, str, str]] = [
    ("POST", "/repos/{repo}/releases/{id}/assets", "assets.upload"),
]
STORAGE_ROUTES: list[tuple[str, str, str]] = [
    ("GET", "/assets/{id}", "storage.download"),  # not the API: a signed URL, no token
]
ALL_ROUTES = {name for table in (ROUTES, UPLOAD_ROUTES, STORAGE_ROUTES) for _, _, name in table}

# Which permission (as a job's `permissions:` names it) a route reads or writes with.
SCOPES = {
    "comments": "issues",  # PR comments are issue comments: pull-requests: write does too
    "issues": "issues",
    "pulls": "pull-requests",
    "statuses": "statuses",
    "commits": "contents",
    "contents": "contents",
    "releases": "contents",
    "assets": "contents",
    "refs": "contents",
    "blobs": "contents",
    "trees": "contents",
    "git_commits": "contents",
    "dispatches": "contents",  # repository_dispatch needs contents: write
    "repo": "metadata",
}
ALTERNATIVE_SCOPES = {"issues": ("pull-requests",)}  # comments on a PR


def _compile(pattern: str) -> re.Pattern[str]:
    regex = re.escape(pattern)
    for piece, group in _PIECES.items():
        regex = regex.replace(re.escape(piece), group)
    return re.compile(f"^{regex}$")


def _table(routes: list[tuple[str, str, str]]) -> list[tuple[str, re.Pattern[str], str]]:
    return [(verb, _compile(pattern), name) for verb, pattern, name in routes]


_TABLES = {
    "api": _table(ROUTES),
    "uploads": _table(UPLOAD_ROUTES),
    "storage": _table(STORAGE_ROUTES),
}


@dataclass
class Token:
    """What a token may do, as a job's `permissions:` (or a PAT's owner) would grant.

    `installation` tokens (GITHUB_TOKEN, a GitHub App's) write as `login` and cannot
    read GET /user (403); a user's token reads its own login there. A fork PR's token
    is read-only whatever the workflow asks for."""

    login: str = "github-actions[bot]"
    permissions: dict[str, str] = field(default_factory=lambda: dict(ALL_WRITE))
    installation: bool = True
    repositories: set[str] | None = None  # None: every repository
    fork: bool = False
    expired: bool = False
    rate_limit: int = RATE_LIMIT
    used: int = 0
    reset: int = 0  # epoch seconds when `used` goes back to 0

    def may(self, scope: str, write: bool) -> bool:
        scopes = (scope, *ALTERNATIVE_SCOPES.get(scope, ()))
        granted = [self.permissions.get(s, "none") for s in scopes]
        if write:
            return not self.fork and "write" in granted
        return scope == "metadata" or any(g in ("read", "write") for g in granted)


class HttpError(Exception):
    """Raised by a handler to answer with a GitHub-shaped error body."""

    def __init__(self, status: int, message: str, errors: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


@dataclass
class Request:
    verb: str
    path: str
    route: str
    params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    api: str  # absolute API root as the client sees it, e.g. http://127.0.0.1:1234/api/v3
    uploads: str  # absolute uploads root
    login: str = "github-actions[bot]"  # who the token writes as
    token: Token | None = None

    @property
    def repo(self) -> str:
        return f"{self.params['owner']}/{self.params['name']}"

    def json(self) -> dict[str, Any]:
        return json.loads(self.body or b"{}")  # type: ignore[no-any-return]


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-able, or bytes sent as is
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """What to do instead of (or after) the real handler for one request."""

    status: int = 500
    message: str = "Server Error"
    headers: dict[str, str] = field(default_factory=dict)
    disconnect: bool = False  # read part of the body, then close the socket: no response
    after_handler: bool = False  # let the handler act (state changes), then answer the fault
    times: int | None = 1  # None: every request from now on
    stall: bool = False  # stop sending (a download: after half the body), never finish


@dataclass
class LoggedRequest:
    verb: str
    path: str  # without the /api/v3 prefix
    raw_path: str  # as sent, prefix and query included
    route: str
    status: int
    headers: dict[str, str]
    body: bytes
    host: str = "api"  # "api", "uploads" or "storage"


@dataclass
class RepoState:
    full_name: str
    id: int
    default_branch: str = "main"
    # "Allow GitHub Actions to create and approve pull requests": off on a new repository.
    actions_can_create_pull_requests: bool = False
    contents: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (branch, path)
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)  # pulls are issues too
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    releases: dict[int, dict[str, Any]] = field(default_factory=dict)
    assets: dict[int, dict[str, Any]] = field(default_factory=dict)  # "content" holds the bytes
    refs: dict[str, str] = field(default_factory=dict)  # "refs/heads/main" -> sha
    # git objects by sha: {"type": "blob", "content": bytes}, {"type": "tree", "entries": [...]},
    # {"type": "commit", "tree": sha, "parents": [sha], "message": str, "at": str}
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    # repository_dispatch events received: {"event_type": str, "client_payload": {...}}
    dispatches: list[dict[str, Any]] = field(default_factory=list)

    def descends(self, sha: str, ancestor: str) -> bool:
        """Whether commit `sha` is `ancestor` or has it among its ancestors."""
        seen, todo = set(), [sha]
        while todo:
            current = todo.pop()
            if current == ancestor:
                return True
            if current not in seen:
                seen.add(current)
                todo.extend(self.objects.get(current, {}).get("parents", []))
        return False

    def files_at(self, ref: str) -> dict[str, bytes]:
        """The top-level files of the commit `ref` points at (for assertions)."""
        commit = self.objects[self.refs[ref]]
        entries = self.objects[commit["tree"]]["entries"]
        return {e["path"]: self.objects[e["sha"]]["content"] for e in entries}


@dataclass
class FakeState:
    repos: dict[str, RepoState] = field(default_factory=dict)
    requests: list[LoggedRequest] = field(default_factory=list)
    user: str = "github-actions[bot]"  # who writes when a request names no known token
    tokens: dict[str, Token] = field(default_factory=dict)
    strict_tokens: bool = False  # True: a token not in `tokens` is 401 Bad credentials
    violations: list[str] = field(default_factory=list)  # answers the description refuses
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))

    def next_id(self) -> int:
        return next(self._ids)

    def repo(self, full_name: str) -> RepoState:
        """The repository, created on first use (any owner/name exists)."""
        if full_name not in self.repos:
            self.repos[full_name] = RepoState(full_name, self.next_id())
        return self.repos[full_name]

    def comments(self, full_name: str, number: int) -> list[dict[str, Any]]:
        """Comments on issue/PR `number`, oldest first."""
        found = self.repo(full_name).comments.values()
        return sorted((c for c in found if c["issue"] == number), key=lambda c: c["id"])

    def add_comment(
        self, full_name: str, number: int, body: str, user: str = "someone"
    ) -> dict[str, Any]:
        cid = self.next_id()
        comment = {"id": cid, "issue": number, "body": body, "user": user, "at": _stamp(cid)}
        comment["updated"] = comment["at"]
        self.repo(full_name).comments[cid] = comment
        return comment

    def add_issue(
        self,
        full_name: str,
        title: str = "An issue",
        body: str = "",
        user: str | None = None,
        labels: tuple[str, ...] = (),
    ) -> int:
        repo = self.repo(full_name)
        number = max(repo.issues, default=0) + 1
        repo.issues[number] = {
            "number": number,
            "title": title,
            "body": body,
            "state": "open",
            "labels": list(labels),
            "user": user or self.user,
            "at": _stamp(self.next_id()),
        }
        return number

    def add_pull(
        self,
        full_name: str,
        head_sha: str = "a" * 40,
        head_ref: str = "feature",
        base_ref: str = "main",
        title: str = "A change",
        fork: bool = False,
    ) -> int:
        number = self.add_issue(full_name, title)
        self.repo(full_name).pulls[number] = {
            "head_sha": head_sha,
            "head_ref": head_ref,
            "base_ref": base_ref,
            "fork": fork,
        }
        return number

    def count(self, route: str) -> int:
        """How many requests reached `route` (including faulted ones)."""
        return sum(1 for r in self.requests if r.route == route)

    def api_requests(self) -> int:
        """Requests that count against the rate limit (API and uploads hosts, not storage)."""
        return sum(1 for r in self.requests if r.host != "storage")


def _stamp(seq: int) -> str:
    # A clock driven by ids keeps created_at strictly ordered, as on GitHub.
    return (EPOCH + timedelta(seconds=seq)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _user(login: str, api: str) -> dict[str, Any]:
    return {
        "login": login,
        "id": zlib.crc32(login.encode()) % 10**6,
        "type": "Bot" if login.endswith("[bot]") else "User",
        "url": f"{api}/users/{urllib.parse.quote(login)}",
        "html_url": f"https://github.invalid/{login}",
    }


class FakeGitHub:
    """The server: start(), .url, .state, fault injection, stop().

    Three hosts on 127.0.0.1, as github.com has: the API (`.url`), uploads (`.uploads_url`,
    where releases' upload_url points) and storage (`.storage_url`, where an asset download
    is redirected with 302, as to release-assets.githubusercontent.com). With the
    Enterprise prefix, uploads answer under /api/uploads on the API host, as on GHES.
    Every API answer is checked against GitHub's OpenAPI description (state.violations)."""

    def __init__(self, prefix: str = "", repositories: tuple[str, ...] = ("octo/demo",)) -> None:
        self.state = FakeState()
        for name in repositories:
            self.state.repo(name)
        self.prefix = prefix  # what .url ends with; both prefixes are served regardless
        self._faults: dict[str, list[Fault]] = {}
        self._after: dict[str, list[Callable[[Request], None]]] = {}
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._servers: dict[str, ThreadingHTTPServer] = {}
        self._ports: dict[str, int] = {}  # kept after stop(): a stopped fake is unreachable
        self._starter = 0  # uploads still to be left in state `starter`

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> FakeGitHub:
        from ci_ml.github import releases

        releases.forget()  # a new GitHub: nothing ci-ml kept from another one applies
        for host in ("api", "uploads", "storage"):
            server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self, host))
            server.daemon_threads = True
            threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            ).start()
            self._servers[host] = server
            self._ports[host] = server.server_address[1]
        return self

    def stop(self) -> None:
        """Stop serving; raise if any answer did not match GitHub's description (so the
        test that caused it fails, from the fixture's teardown)."""
        self._stopping.set()  # stalled answers give up
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        self._servers.clear()
        if self.state.violations:
            found, self.state.violations = self.state.violations, []
            raise AssertionError(
                f"the fake GitHub gave {len(found)} answer(s) GitHub's OpenAPI description "
                f"({openapi.version()}) refuses:\n" + "\n".join(found[:20])
            )

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _root(self, host: str) -> str:
        assert host in self._ports, "start() the fake first"
        return f"http://127.0.0.1:{self._ports[host]}"

    @property
    def root(self) -> str:
        return self._root("api")

    @property
    def url(self) -> str:
        """The base_url to give PyGithub (GITHUB_API_URL)."""
        return self.root + self.prefix

    @property
    def uploads_url(self) -> str:
        return self.root + "/api/uploads" if self.prefix else self._root("uploads")

    @property
    def storage_url(self) -> str:
        return self._root("storage")

    # -- tokens, limits, settings ------------------------------------------------

    def token(self, value: str, **grant: Any) -> Token:
        """Register token `value` with what it may do (see Token); returns it."""
        if "permissions" in grant and grant["permissions"] is not None:
            grant["permissions"] = {"metadata": "read"} | dict(grant["permissions"])
        self.state.tokens[value] = Token(**grant)
        return self.state.tokens[value]

    def exhaust_rate_limit(self, token: str, reset_in: int = 3600) -> None:
        """The token has used its primary rate limit; it resets in `reset_in` seconds."""
        grant = self.state.tokens.get(token) or self.token(token)
        grant.used, grant.reset = grant.rate_limit, int(time.time()) + reset_in

    def allow_pull_requests_from_actions(self, full_name: str = "octo/demo") -> None:
        """Turn on "Allow GitHub Actions to create and approve pull requests"."""
        self.state.repo(full_name).actions_can_create_pull_requests = True

    # -- fault injection -------------------------------------------------------

    def inject(self, route: str, fault: Fault) -> None:
        if route not in ALL_ROUTES:
            raise ValueError(f"unknown route {route!r}")
        with self._lock:
            self._faults.setdefault(route, []).append(fault)

    def fail(
        self, route: str, status: int = 500, times: int | None = 1, message: str = "Server Error"
    ) -> None:
        """The next `times` requests to `route` answer `status` (None: all of them)."""
        self.inject(route, Fault(status=status, message=message, times=times))

    def fail_after_acting(self, route: str, status: int = 502, times: int = 1) -> None:
        """The handler acts (e.g. the comment is created), then the client sees `status`."""
        self.inject(
            route, Fault(status=status, message="Bad Gateway", after_handler=True, times=times)
        )

    def forbid(
        self, route: str, message: str = FORK_READ_ONLY_MESSAGE, times: int | None = None
    ) -> None:
        """403 as a fork PR's read-only GITHUB_TOKEN gets on writes."""
        self.inject(route, Fault(status=403, message=message, times=times))

    def secondary_rate_limit(self, route: str, retry_after: int = 1, times: int = 1) -> None:
        headers = {"Retry-After": str(retry_after)}
        fault = Fault(403, SECONDARY_RATE_LIMIT_MESSAGE, headers=headers, times=times)
        self.inject(route, fault)

    def disconnect(self, route: str, times: int = 1) -> None:
        """Close the connection mid-request (e.g. die during an asset upload)."""
        self.inject(route, Fault(disconnect=True, times=times))

    def starter_upload(self, times: int = 1) -> None:
        """An upload answered 502 that leaves an empty asset in state `starter` (as GitHub
        documents); a second upload of that name is 422 already_exists until it is deleted."""
        self.inject("assets.upload", Fault(502, "Bad Gateway", after_handler=True, times=times))
        self._starter += times

    def ref_update_failed(self, route: str = "refs.create", times: int = 1) -> None:
        """GitHub's transient 422 on a ref write; the same call succeeds when repeated."""
        self.fail(route, status=422, times=times, message="Reference update failed")

    def stall(self, route: str, times: int = 1) -> None:
        """The server stops sending: a download after half its bytes, else before answering."""
        self.inject(route, Fault(stall=True, times=times))

    def after(self, route: str, hook: Callable[[Request], None], times: int = 1) -> None:
        """Run `hook` after `route` has answered (state changes the client did not see)."""
        with self._lock:
            self._after.setdefault(route, []).extend([hook] * times)

    def race_duplicate_comment(self, full_name: str, number: int, body: str) -> None:
        """Between the client's next comment listing and its create, someone posts `body`."""

        def post(req: Request) -> None:
            if int(req.params["n"]) == number:
                self.state.add_comment(full_name, number, body, user=self.state.user)

        self.after("comments.list", post)

    def push(self, full_name: str, ref: str, files: dict[str, bytes], message: str) -> str:
        """Someone else commits `files` (a flat tree) on top of `ref` and moves it there."""
        repo = self.state.repo(full_name)
        with self._lock:
            entries = [
                {"path": path, "mode": "100644", "type": "blob", "sha": self._store(repo, blob)}
                for path, blob in ((p, {"type": "blob", "content": c}) for p, c in files.items())
            ]
            tree = self._store(repo, {"type": "tree", "entries": entries})
            parents = [repo.refs[ref]] if ref in repo.refs else []
            commit = {"type": "commit", "tree": tree, "parents": parents, "message": message}
            repo.refs[ref] = self._store(repo, commit | {"at": _stamp(self.state.next_id())})
            return repo.refs[ref]

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._after.clear()

    def _take_fault(self, route: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(route) or []
            if not queue:
                return None
            fault = queue[0]
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    queue.pop(0)
            return fault

    def _take_after(self, route: str) -> Callable[[Request], None] | None:
        with self._lock:
            hooks = self._after.get(route) or []
            return hooks.pop(0) if hooks else None

    # -- answering: tokens, rate limits, faults, the handler, the description ---------

    def answer(self, req: Request, fault: Fault | None, host: str, spec: str) -> Response:
        with self._lock:
            response = self._answer(req, fault, host)
            if host == "storage":
                return response
            response.headers = self._rate_headers(req.token) | response.headers
            if spec and not isinstance(response.body, bytes):
                response.body = openapi.complete(spec, req.verb, response.status, response.body)
                found = openapi.violations(spec, req.verb, response.status, response.body)
                self.state.violations.extend(found)
            return response

    def _answer(self, req: Request, fault: Fault | None, host: str) -> Response:
        if not req.route:
            return _error(404, "Not Found")
        refused = None if host == "storage" else self._gate(req)
        if refused is not None:
            return refused
        if fault is not None and not fault.after_handler and not fault.stall:
            return _fault_response(fault)
        response = self.dispatch(req)
        return response if fault is None or fault.stall else _fault_response(fault)

    def _gate(self, req: Request) -> Response | None:
        """GitHub's checks before any handler: credentials, rate limit, visibility, permission."""
        value = _bearer(req.headers)
        grant = None if value is None else self.state.tokens.get(value)
        if value is not None and grant is None:
            if self.state.strict_tokens:
                return _error(401, BAD_CREDENTIALS)
            grant = self.state.tokens[value] = Token(login=self.state.user)
        if grant is not None and grant.expired:
            return _error(401, BAD_CREDENTIALS)
        req.token, req.login = grant, grant.login if grant else self.state.user
        if grant is not None and self._spend(grant):
            return Response(403, _error(403, PRIMARY_RATE_LIMIT_MESSAGE).body)
        return self._visible(req, grant) or self._permitted(req, grant)

    def _spend(self, grant: Token) -> bool:
        """Count one request; True when the primary rate limit is used up."""
        now = int(time.time())
        if grant.reset <= now:
            grant.used, grant.reset = 0, now + 3600
        if grant.used >= grant.rate_limit:
            return True
        grant.used += 1
        return False

    def _rate_headers(self, grant: Token | None) -> dict[str, str]:
        limit, used = (60, 0) if grant is None else (grant.rate_limit, grant.used)
        reset = grant.reset if grant is not None and grant.reset else int(time.time()) + 3600
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(limit - used, 0)),
            "X-RateLimit-Used": str(used),
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Resource": "core",
        }

    def _visible(self, req: Request, grant: Token | None) -> Response | None:
        if "owner" not in req.params:
            return None
        seen = grant is None or grant.repositories is None or req.repo in grant.repositories
        return None if seen and req.repo in self.state.repos else _error(404, "Not Found")

    def _permitted(self, req: Request, grant: Token | None) -> Response | None:
        scope = SCOPES.get(req.route.split(".")[0])
        write = req.verb != "GET"
        if scope is None or (not write and grant is None):
            return None
        if grant is None:
            return _error(401, "Requires authentication")
        return None if grant.may(scope, write) else _error(403, NOT_ACCESSIBLE)

    # -- dispatch --------------------------------------------------------------

    def dispatch(self, req: Request) -> Response:
        with self._lock:
            try:
                return getattr(self, req.route.replace(".", "_"))(req)  # type: ignore[no-any-return]
            except HttpError as e:
                return _error(e.status, e.message, e.errors)

    # -- JSON shapes -------------------------------------------------------------

    def _repo_json(self, repo: RepoState, api: str) -> dict[str, Any]:
        owner, name = repo.full_name.split("/")
        url = f"{api}/repos/{repo.full_name}"
        return {
            "id": repo.id,
            "name": name,
            "full_name": repo.full_name,
            "owner": _user(owner, api),
            "private": False,
            "default_branch": repo.default_branch,
            "url": url,
            "html_url": f"https://github.invalid/{repo.full_name}",
            "issues_url": url + "/issues{/number}",
            "pulls_url": url + "/pulls{/number}",
            "releases_url": url + "/releases{/id}",
        }

    def _comment_json(self, repo: RepoState, c: dict[str, Any], api: str) -> dict[str, Any]:
        url = f"{api}/repos/{repo.full_name}"
        return {
            "id": c["id"],
            "node_id": f"IC_{c['id']}",
            "body": c["body"],
            "user": _user(c["user"], api),
            "created_at": c["at"],
            "updated_at": c["updated"],
            "url": f"{url}/issues/comments/{c['id']}",
            "issue_url": f"{url}/issues/{c['issue']}",
            "html_url": f"https://github.invalid/{repo.full_name}/pull/{c['issue']}"
            f"#issuecomment-{c['id']}",
            "author_association": "NONE",
        }

    def _issue_json(self, repo: RepoState, number: int, api: str) -> dict[str, Any]:
        issue = repo.issues[number]
        url = f"{api}/repos/{repo.full_name}/issues/{number}"
        data = {
            "id": number * 7919,
            "number": number,
            "title": issue["title"],
            "body": issue["body"],
            "state": issue["state"],
            "labels": [{"name": label} for label in issue["labels"]],
            "user": _user(issue.get("user") or self.state.user, api),
            "comments": len(self.state.comments(repo.full_name, number)),
            "created_at": issue["at"],
            "updated_at": issue["at"],
            "url": url,
            "comments_url": f"{url}/comments",
            "html_url": f"https://github.invalid/{repo.full_name}/issues/{number}",
            "repository_url": f"{api}/repos/{repo.full_name}",
        }
        if number in repo.pulls:
            data["pull_request"] = {"url": f"{api}/repos/{repo.full_name}/pulls/{number}"}
        return data

    def _pull_json(self, repo: RepoState, number: int, api: str) -> dict[str, Any]:
        issue, pull = repo.issues[number], repo.pulls[number]
        url = f"{api}/repos/{repo.full_name}"
        head_repo = f"fork-owner/{repo.full_name.split('/')[1]}" if pull["fork"] else repo.full_name
        return {
            "id": number * 104729,
            "number": number,
            "title": issue["title"],
            "body": issue["body"],
            "state": issue["state"],
            "user": _user(self.state.user, api),
            "created_at": issue["at"],
            "updated_at": issue["at"],
            "url": f"{url}/pulls/{number}",
            "issue_url": f"{url}/issues/{number}",
            "comments_url": f"{url}/issues/{number}/comments",
            "html_url": f"https://github.invalid/{repo.full_name}/pull/{number}",
            "head": {
                "ref": pull["head_ref"],
                "sha": pull["head_sha"],
                "label": f"{head_repo.split('/')[0]}:{pull['head_ref']}",
                "repo": {"full_name": head_repo, "url": f"{api}/repos/{head_repo}"},
            },
            "base": {
                "ref": pull["base_ref"],
                "sha": repo.refs.get(f"refs/heads/{pull['base_ref']}", "0" * 40),
                "label": f"{repo.full_name.split('/')[0]}:{pull['base_ref']}",
                "repo": self._repo_json(repo, api),
            },
            "merged": False,
            "draft": False,
        }

    def _release_json(self, repo: RepoState, r: dict[str, Any], req: Request) -> dict[str, Any]:
        url = f"{req.api}/repos/{repo.full_name}/releases/{r['id']}"
        upload = f"{req.uploads}/repos/{repo.full_name}/releases/{r['id']}/assets"
        assets = [a for a in repo.assets.values() if a["release"] == r["id"]]
        return {
            "id": r["id"],
            "node_id": f"RE_{r['id']}",
            "tag_name": r["tag_name"],
            "target_commitish": r["target_commitish"],
            "name": r["name"],
            "body": r["body"],
            "draft": r["draft"],
            "prerelease": r["prerelease"],
            "created_at": r["at"],
            "published_at": None if r["draft"] else r["at"],
            "author": _user(self.state.user, req.api),
            "url": url,
            "assets_url": f"{url}/assets",
            "upload_url": upload + "{?name,label}",
            "html_url": f"https://github.invalid/{repo.full_name}/releases/tag/{r['tag_name']}",
            "tarball_url": f"{req.api}/repos/{repo.full_name}/tarball/{r['tag_name']}",
            "zipball_url": f"{req.api}/repos/{repo.full_name}/zipball/{r['tag_name']}",
            "assets": [self._asset_json(repo, a, req.api) for a in assets],
        }

    def _asset_json(self, repo: RepoState, a: dict[str, Any], api: str) -> dict[str, Any]:
        release = repo.releases[a["release"]]
        return {
            "id": a["id"],
            "node_id": f"RA_{a['id']}",
            "name": a["name"],
            "label": a["label"],
            "content_type": a["content_type"],
            "state": a.get("state", "uploaded"),
            "size": len(a["content"]),
            "digest": "sha256:" + hashlib.sha256(a["content"]).hexdigest(),
            "download_count": a["downloads"],
            "created_at": a["at"],
            "updated_at": a["at"],
            "uploader": _user(self.state.user, api),
            "url": f"{api}/repos/{repo.full_name}/releases/assets/{a['id']}",
            "browser_download_url": f"https://github.invalid/{repo.full_name}/releases/download/"
            f"{release['tag_name']}/{a['name']}",
        }

    def _status_json(self, s: dict[str, Any], api: str) -> dict[str, Any]:
        return {
            "id": s["id"],
            "node_id": f"SC_{s['id']}",
            "state": s["state"],
            "context": s["context"],
            "description": s["description"],
            "target_url": s["target_url"],
            "creator": _user(self.state.user, api),
            "created_at": s["at"],
            "updated_at": s["at"],
            "url": f"{api}/repos/statuses/{s['sha']}",
        }

    def _ref_json(self, repo: RepoState, ref: str, api: str) -> dict[str, Any]:
        sha = repo.refs[ref]
        url = f"{api}/repos/{repo.full_name}"
        return {
            "ref": ref,
            "node_id": f"REF_{ref}",
            "url": f"{url}/git/{ref}",
            "object": {"sha": sha, "type": "commit", "url": f"{url}/git/commits/{sha}"},
        }

    # -- handlers: repository, comments -------------------------------------------

    def user_get(self, req: Request) -> Response:
        if req.token is None or req.token.installation:
            raise HttpError(403, NOT_ACCESSIBLE)  # an installation token has no user
        return Response(200, _user(req.token.login, req.api))

    def graphql_query(self, req: Request) -> Response:
        """Only `viewer { login }` (who the token writes as, for every kind of token)."""
        if req.token is None:
            raise HttpError(401, "This endpoint requires you to be authenticated.")
        if "viewer" not in str(req.json().get("query", "")):
            return Response(200, {"errors": [{"message": "the fake answers only viewer"}]})
        return Response(200, {"data": {"viewer": {"login": req.token.login}}})

    def repo_get(self, req: Request) -> Response:
        return Response(200, self._repo_json(self.state.repo(req.repo), req.api))

    def _issue_or_404(self, req: Request) -> RepoState:
        repo = self.state.repo(req.repo)
        if int(req.params["n"]) not in repo.issues:
            raise HttpError(404, "Not Found")
        return repo

    def _comment_or_404(self, req: Request) -> tuple[RepoState, dict[str, Any]]:
        repo = self.state.repo(req.repo)
        comment = repo.comments.get(int(req.params["id"]))
        if comment is None:
            raise HttpError(404, "Not Found")
        return repo, comment

    def comments_list(self, req: Request) -> Response:
        repo = self._issue_or_404(req)
        found = self.state.comments(req.repo, int(req.params["n"]))
        return _page(req, [self._comment_json(repo, c, req.api) for c in found])

    def comments_create(self, req: Request) -> Response:
        repo = self._issue_or_404(req)
        body = _required(req.json(), "body")
        comment = self.state.add_comment(req.repo, int(req.params["n"]), body, req.login)
        return Response(201, self._comment_json(repo, comment, req.api))

    def comments_get(self, req: Request) -> Response:
        repo, comment = self._comment_or_404(req)
        return Response(200, self._comment_json(repo, comment, req.api))

    def comments_edit(self, req: Request) -> Response:
        repo, comment = self._comment_or_404(req)
        comment["body"] = _required(req.json(), "body")
        comment["updated"] = _stamp(self.state.next_id())
        return Response(200, self._comment_json(repo, comment, req.api))

    def comments_delete(self, req: Request) -> Response:
        repo, comment = self._comment_or_404(req)
        del repo.comments[comment["id"]]
        return Response(204)

    # -- handlers: issues, pulls -----------------------------------------------------

    def issues_get(self, req: Request) -> Response:
        repo = self._issue_or_404(req)
        return Response(200, self._issue_json(repo, int(req.params["n"]), req.api))

    def issues_list(self, req: Request) -> Response:
        repo = self.state.repo(req.repo)
        wanted = req.query.get("state", "open")
        labels = {x for x in req.query.get("labels", "").split(",") if x}
        found = [
            self._issue_json(repo, n, req.api)
            for n, issue in sorted(repo.issues.items(), reverse=True)
            if wanted in ("all", issue["state"]) and labels <= set(issue["labels"])
        ]
        return _page(req, found)

    def issues_create(self, req: Request) -> Response:
        data = req.json()
        title, body = _required(data, "title"), data.get("body") or ""
        number = self.state.add_issue(req.repo, title, body, req.login)
        repo = self.state.repo(req.repo)
        repo.issues[number]["labels"] = list(data.get("labels") or [])
        return Response(201, self._issue_json(repo, number, req.api))

    def issues_edit(self, req: Request) -> Response:
        repo = self._issue_or_404(req)
        issue = repo.issues[int(req.params["n"])]
        for key in ("title", "body", "state", "labels"):
            if key in req.json():
                issue[key] = req.json()[key]
        return Response(200, self._issue_json(repo, issue["number"], req.api))

    def pulls_get(self, req: Request) -> Response:
        repo = self.state.repo(req.repo)
        if int(req.params["n"]) not in repo.pulls:
            raise HttpError(404, "Not Found")
        return Response(200, self._pull_json(repo, int(req.params["n"]), req.api))

    def pulls_list(self, req: Request) -> Response:
        repo = self.state.repo(req.repo)
        wanted, head = req.query.get("state", "open"), req.query.get("head")
        found = [
            self._pull_json(repo, n, req.api)
            for n in sorted(repo.pulls, reverse=True)
            if wanted in ("all", repo.issues[n]["state"])
            and head in (None, f"{req.params['owner']}:{repo.pulls[n]['head_ref']}")
        ]
        return _page(req, found)

    def pulls_create(self, req: Request) -> Response:
        data = req.json()
        head = _required(data, "head").split(":")[-1]
        repo = self.state.repo(req.repo)
        # the setting is about GITHUB_TOKEN (github-actions[bot]): an app's own token may
        actions = req.token is None or (req.token.installation and req.login == ACTIONS_BOT)
        if actions and not repo.actions_can_create_pull_requests:
            raise HttpError(403, PR_CREATION_REFUSED)
        sha = repo.refs.get(f"refs/heads/{head}", "b" * 40)
        number = self.state.add_pull(
            req.repo, sha, head, _required(data, "base"), _required(data, "title")
        )
        repo.issues[number]["body"] = data.get("body") or ""
        return Response(201, self._pull_json(repo, number, req.api))

    # -- handlers: commits and statuses -----------------------------------------------

    def commits_get(self, req: Request) -> Response:
        sha = req.params["sha"]
        url = f"{req.api}/repos/{req.repo}/commits/{sha}"
        return Response(200, {"sha": sha, "url": url, "commit": {"message": "a commit"}})

    def dispatches_create(self, req: Request) -> Response:
        data = req.json()
        event_type = _required(data, "event_type")
        payload = data.get("client_payload") or {}
        if not isinstance(event_type, str) or not 1 <= len(event_type) <= 100:
            raise HttpError(422, "Validation Failed", [{"field": "event_type", "code": "invalid"}])
        if not isinstance(payload, dict) or len(payload) > 10:  # GitHub's limit: 10 keys
            raise HttpError(
                422, "Validation Failed", [{"field": "client_payload", "code": "invalid"}]
            )
        event = {"event_type": event_type, "client_payload": payload}
        self.state.repo(req.repo).dispatches.append(event)
        return Response(204)

    def statuses_create(self, req: Request) -> Response:
        data = req.json()
        state = _required(data, "state")
        if state not in ("error", "failure", "pending", "success"):
            raise HttpError(422, "Validation Failed", [{"field": "state", "code": "invalid"}])
        if len(data.get("description") or "") > 140:
            raise HttpError(422, "Validation Failed", [{"field": "description", "code": "custom"}])
        sid = self.state.next_id()
        status = {
            "id": sid,
            "sha": req.params["sha"],
            "state": state,
            "context": data.get("context") or "default",
            "description": data.get("description"),
            "target_url": data.get("target_url"),
            "at": _stamp(sid),
        }
        self.state.repo(req.repo).statuses.setdefault(req.params["sha"], []).append(status)
        return Response(201, self._status_json(status, req.api))

    def statuses_list(self, req: Request) -> Response:
        found = self.state.repo(req.repo).statuses.get(req.params["sha"], [])
        return _page(req, [self._status_json(s, req.api) for s in reversed(found)])

    def statuses_combined(self, req: Request) -> Response:
        latest: dict[str, dict[str, Any]] = {}
        for s in self.state.repo(req.repo).statuses.get(req.params["sha"], []):
            latest[s["context"]] = s
        states = {s["state"] for s in latest.values()}
        overall = "failure" if states & {"failure", "error"} else "pending"
        if states == {"success"}:
            overall = "success"
        statuses = [self._status_json(s, req.api) for s in latest.values()]
        body = {"state": overall, "sha": req.params["sha"], "statuses": statuses}
        return Response(200, body | {"total_count": len(statuses)})

    # -- handlers: releases and assets -------------------------------------------------

    def _release_or_404(self, req: Request) -> tuple[RepoState, dict[str, Any]]:
        repo = self.state.repo(req.repo)
        release = repo.releases.get(int(req.params["id"]))
        if release is None:
            raise HttpError(404, "Not Found")
        return repo, release

    def releases_create(self, req: Request) -> Response:
        data, repo = req.json(), self.state.repo(req.repo)
        tag = _required(data, "tag_name")
        if any(r["tag_name"] == tag for r in repo.releases.values()):
            errors = [{"resource": "Release", "code": "already_exists", "field": "tag_name"}]
            raise HttpError(422, "Validation Failed", errors)
        rid = self.state.next_id()
        repo.releases[rid] = {
            "id": rid,
            "tag_name": tag,
            "target_commitish": data.get("target_commitish") or repo.default_branch,
            "name": data.get("name") or tag,
            "body": data.get("body") or "",
            "draft": bool(data.get("draft")),
            "prerelease": bool(data.get("prerelease")),
            "at": _stamp(rid),
        }
        return Response(201, self._release_json(repo, repo.releases[rid], req))

    def releases_get(self, req: Request) -> Response:
        repo, release = self._release_or_404(req)
        return Response(200, self._release_json(repo, release, req))

    def releases_by_tag(self, req: Request) -> Response:
        repo = self.state.repo(req.repo)
        tag = urllib.parse.unquote(req.params["tag"])
        for release in repo.releases.values():
            if release["tag_name"] == tag and not release["draft"]:
                return Response(200, self._release_json(repo, release, req))
        raise HttpError(404, "Not Found")

    def releases_latest(self, req: Request) -> Response:
        repo = self.state.repo(req.repo)
        published = [r for r in repo.releases.values() if not r["draft"] and not r["prerelease"]]
        if not published:
            raise HttpError(404, "Not Found")
        return Response(200, self._release_json(repo, published[-1], req))

    def releases_list(self, req: Request) -> Response:
        repo = self.state.repo(req.repo)
        newest_first = sorted(repo.releases.values(), key=lambda r: r["id"], reverse=True)
        return _page(req, [self._release_json(repo, r, req) for r in newest_first])

    def releases_edit(self, req: Request) -> Response:
        repo, release = self._release_or_404(req)
        for key in ("tag_name", "name", "body", "draft", "prerelease", "target_commitish"):
            if key in req.json():
                release[key] = req.json()[key]
        return Response(200, self._release_json(repo, release, req))

    def releases_delete(self, req: Request) -> Response:
        repo, release = self._release_or_404(req)
        del repo.releases[release["id"]]
        for aid in [a["id"] for a in repo.assets.values() if a["release"] == release["id"]]:
            del repo.assets[aid]
        return Response(204)

    def assets_upload(self, req: Request) -> Response:
        repo, release = self._release_or_404(req)
        name = req.query.get("name")
        if not name:
            raise HttpError(422, "Validation Failed", [{"field": "name", "code": "missing"}])
        if any(a["name"] == name and a["release"] == release["id"] for a in repo.assets.values()):
            errors = [{"resource": "ReleaseAsset", "code": "already_exists", "field": "name"}]
            raise HttpError(422, "Validation Failed", errors)
        aid = self.state.next_id()
        starter = self._starter > 0
        self._starter -= starter
        repo.assets[aid] = {
            "id": aid,
            "release": release["id"],
            "name": name,
            "label": req.query.get("label") or "",
            "content_type": req.headers.get("content-type", "application/octet-stream"),
            "content": b"" if starter else req.body,
            "state": "starter" if starter else "uploaded",
            "downloads": 0,
            "at": _stamp(aid),
        }
        return Response(201, self._asset_json(repo, repo.assets[aid], req.api))

    def _asset_or_404(self, req: Request) -> tuple[RepoState, dict[str, Any]]:
        repo = self.state.repo(req.repo)
        asset = repo.assets.get(int(req.params["id"]))
        if asset is None:
            raise HttpError(404, "Not Found")
        return repo, asset

    def assets_list(self, req: Request) -> Response:
        repo, release = self._release_or_404(req)
        found = [a for a in repo.assets.values() if a["release"] == release["id"]]
        return _page(req, [self._asset_json(repo, a, req.api) for a in found])

    def assets_get(self, req: Request) -> Response:
        repo, asset = self._asset_or_404(req)
        if req.headers.get("accept", "") != "application/octet-stream":
            return Response(200, self._asset_json(repo, asset, req.api))
        # As github.com: a 302 to a signed URL on another host, which wants no token.
        signature = hashlib.sha256(f"{asset['id']}:{req.repo}".encode()).hexdigest()[:16]
        storage = f"{self.root}/api/storage" if self.prefix else self.storage_url
        location = f"{storage}/assets/{asset['id']}?repo={req.repo}&sig={signature}"
        return Response(302, None, {"Location": location})

    def storage_download(self, req: Request) -> Response:
        if "authorization" in req.headers and not self.prefix:  # S3 refuses a second auth
            raise HttpError(400, "Only one auth mechanism allowed")
        repo = self.state.repos.get(req.query.get("repo", ""))
        asset = None if repo is None else repo.assets.get(int(req.params["id"]))
        wanted = hashlib.sha256(f"{req.params['id']}:{req.query.get('repo')}".encode())
        if asset is None or req.query.get("sig") != wanted.hexdigest()[:16]:
            raise HttpError(404, "Not Found")
        asset["downloads"] += 1
        return Response(200, bytes(asset["content"]), {"Content-Type": "application/octet-stream"})

    def assets_delete(self, req: Request) -> Response:
        repo, asset = self._asset_or_404(req)
        del repo.assets[asset["id"]]
        return Response(204)

    # -- handlers: contents (a file on a branch) --------------------------------------------

    def contents_get(self, req: Request) -> Response:
        repo = self.state.repo(req.repo)
        path = urllib.parse.unquote(req.params["ref"])
        branch = req.query.get("ref") or repo.default_branch
        if (branch, path) not in repo.contents:
            raise HttpError(404, "Not Found")
        return Response(200, self._content_json(req, path, repo.contents[branch, path]))

    def contents_put(self, req: Request) -> Response:
        data, repo = req.json(), self.state.repo(req.repo)
        path = urllib.parse.unquote(req.params["ref"])
        branch = data.get("branch") or repo.default_branch
        created = (branch, path) not in repo.contents
        repo.contents[branch, path] = base64.b64decode(_required(data, "content"))
        body = {"content": self._content_json(req, path, repo.contents[branch, path])}
        return Response(201 if created else 200, body | {"commit": {"sha": "d" * 40}})

    def _content_json(self, req: Request, path: str, content: bytes) -> dict[str, Any]:
        sha = hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()
        url = f"{req.api}/repos/{req.repo}/contents/{path}"
        return {
            "type": "file",
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "sha": sha,
            "size": len(content),
            "url": url,
            "encoding": "base64",
            "content": base64.b64encode(content).decode(),
        }

    # -- handlers: git refs ---------------------------------------------------------------

    def _ref_name(self, req: Request) -> str:
        ref = urllib.parse.unquote(req.params["ref"])
        return ref if ref.startswith("refs/") else f"refs/{ref}"

    def refs_get(self, req: Request) -> Response:
        repo, ref = self.state.repo(req.repo), self._ref_name(req)
        if ref not in repo.refs:
            raise HttpError(404, "Not Found")
        return Response(200, self._ref_json(repo, ref, req.api))

    def refs_create(self, req: Request) -> Response:
        data, repo = req.json(), self.state.repo(req.repo)
        ref, sha = _required(data, "ref"), _required(data, "sha")
        if not ref.startswith("refs/") or ref.count("/") < 2:
            raise HttpError(422, "ref must start with 'refs' and have at least two slashes.")
        if ref in repo.refs:
            raise HttpError(422, "Reference already exists")
        repo.refs[ref] = sha
        return Response(201, self._ref_json(repo, ref, req.api))

    def refs_update(self, req: Request) -> Response:
        repo, ref = self.state.repo(req.repo), self._ref_name(req)
        if ref not in repo.refs:
            raise HttpError(422, "Reference does not exist")
        sha = _required(req.json(), "sha")
        # As GitHub: without force, only a fast-forward (the new commit descends from the old).
        if not req.json().get("force") and not repo.descends(sha, repo.refs[ref]):
            raise HttpError(422, "Update is not a fast forward")
        repo.refs[ref] = sha
        return Response(200, self._ref_json(repo, ref, req.api))

    def refs_delete(self, req: Request) -> Response:
        repo, ref = self.state.repo(req.repo), self._ref_name(req)
        if repo.refs.pop(ref, None) is None:
            raise HttpError(422, "Reference does not exist")
        return Response(204)

    # -- handlers: git objects (blobs, trees, commits) ---------------------------------------

    def _store(self, repo: RepoState, obj: dict[str, Any]) -> str:
        # Blobs hash as git does; trees and commits hash their JSON (unique, not git's bytes).
        payload = obj["content"] if obj["type"] == "blob" else json.dumps(obj, default=str).encode()
        sha = hashlib.sha1(f"{obj['type']} {len(payload)}\0".encode() + payload).hexdigest()
        repo.objects[sha] = obj
        return sha

    def _object_or_404(self, req: Request, kind: str) -> tuple[RepoState, dict[str, Any]]:
        repo = self.state.repo(req.repo)
        obj = repo.objects.get(req.params["sha"])
        if obj is None or obj["type"] != kind:
            raise HttpError(404, "Not Found")
        return repo, obj

    def _git_url(self, req: Request, kind: str, sha: str) -> str:
        return f"{req.api}/repos/{req.repo}/git/{kind}/{sha}"

    def blobs_create(self, req: Request) -> Response:
        data, repo = req.json(), self.state.repo(req.repo)
        content = data.get("content")
        if not isinstance(content, str):
            raise HttpError(422, "Validation Failed", [{"field": "content", "code": "missing"}])
        raw = base64.b64decode(content) if data.get("encoding") == "base64" else content.encode()
        sha = self._store(repo, {"type": "blob", "content": raw})
        return Response(201, {"sha": sha, "url": self._git_url(req, "blobs", sha)})

    def blobs_get(self, req: Request) -> Response:
        _, blob = self._object_or_404(req, "blob")
        sha, content = req.params["sha"], blob["content"]
        body = {"sha": sha, "size": len(content), "url": self._git_url(req, "blobs", sha)}
        return Response(
            200, body | {"content": base64.b64encode(content).decode(), "encoding": "base64"}
        )

    def trees_create(self, req: Request) -> Response:
        repo = self.state.repo(req.repo)
        entries = [self._tree_entry(repo, e) for e in _required(req.json(), "tree")]
        sha = self._store(repo, {"type": "tree", "entries": entries})
        return Response(201, self._tree_json(req, sha, entries))

    def _tree_entry(self, repo: RepoState, entry: dict[str, Any]) -> dict[str, Any]:
        if "content" in entry:  # GitHub stores inline content as a new blob
            blob = {"type": "blob", "content": str(entry["content"]).encode()}
            entry = {k: v for k, v in entry.items() if k != "content"} | {
                "sha": self._store(repo, blob)
            }
        if entry.get("sha") not in repo.objects:
            raise HttpError(422, "GitRPC::BadObjectState")
        return {k: entry[k] for k in ("path", "mode", "type", "sha")}

    def _tree_json(self, req: Request, sha: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
        shown = [e | {"url": self._git_url(req, e["type"] + "s", e["sha"])} for e in entries]
        return {
            "sha": sha,
            "url": self._git_url(req, "trees", sha),
            "tree": shown,
            "truncated": False,
        }

    def trees_get(self, req: Request) -> Response:
        repo = self.state.repo(req.repo)
        named = repo.objects.get(req.params["sha"], {})
        if named.get("type") == "commit":  # as git: a commit names its tree
            return Response(
                200, self._tree_json(req, named["tree"], repo.objects[named["tree"]]["entries"])
            )
        _, tree = self._object_or_404(req, "tree")
        return Response(200, self._tree_json(req, req.params["sha"], tree["entries"]))

    def git_commits_create(self, req: Request) -> Response:
        data, repo = req.json(), self.state.repo(req.repo)
        tree, parents = _required(data, "tree"), list(data.get("parents") or [])
        wanted = [(tree, "tree"), *((p, "commit") for p in parents)]
        if any(repo.objects.get(sha, {}).get("type") != kind for sha, kind in wanted):
            raise HttpError(422, "Validation Failed", [{"field": "tree", "code": "invalid"}])
        commit = {
            "type": "commit",
            "tree": tree,
            "parents": parents,
            "message": _required(data, "message"),
            "at": _stamp(self.state.next_id()),
        }
        sha = self._store(repo, commit)
        return Response(201, self._commit_json(req, sha, commit))

    def git_commits_get(self, req: Request) -> Response:
        _, commit = self._object_or_404(req, "commit")
        return Response(200, self._commit_json(req, req.params["sha"], commit))

    def _commit_json(self, req: Request, sha: str, c: dict[str, Any]) -> dict[str, Any]:
        person = {"name": self.state.user, "email": "bot@github.invalid", "date": c["at"]}
        return {
            "sha": sha,
            "node_id": f"C_{sha}",
            "url": self._git_url(req, "commits", sha),
            "html_url": f"https://github.invalid/{req.repo}/commit/{sha}",
            "message": c["message"],
            "author": person,
            "committer": person,
            "tree": {"sha": c["tree"], "url": self._git_url(req, "trees", c["tree"])},
            "parents": [{"sha": p, "url": self._git_url(req, "commits", p)} for p in c["parents"]],
        }


def _required(data: dict[str, Any], key: str) -> Any:
    if data.get(key) in (None, ""):
        raise HttpError(422, "Validation Failed", [{"field": key, "code": "missing_field"}])
    return data[key]


def _error(status: int, message: str, errors: list[dict[str, str]] | None = None) -> Response:
    body: dict[str, Any] = {
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": str(status),
    }
    if errors:
        body["errors"] = errors
    return Response(status, body)


def _page(req: Request, items: list[dict[str, Any]]) -> Response:
    """One page of `items` with a GitHub-style Link header (per_page default 30, max 100)."""
    per_page = min(max(int(req.query.get("per_page", PER_PAGE_DEFAULT)), 1), PER_PAGE_MAX)
    page = max(int(req.query.get("page", 1)), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    rels: list[tuple[str, int]] = []
    if page > 1:
        rels += [("prev", min(page - 1, last)), ("first", 1)]
    if page < last:
        rels += [("next", page + 1), ("last", last)]
    headers = {}
    if rels:
        headers["Link"] = ", ".join(
            f'<{_page_url(req, number, per_page)}>; rel="{rel}"' for rel, number in rels
        )
    start = (page - 1) * per_page
    return Response(200, items[start : start + per_page], headers)


def _page_url(req: Request, page: int, per_page: int) -> str:
    query = dict(req.query) | {"page": str(page), "per_page": str(per_page)}
    return f"{req.api}{req.path}?{urllib.parse.urlencode(query)}"


def _fault_response(fault: Fault) -> Response:
    return Response(fault.status, _error(fault.status, fault.message).body, fault.headers)


def _make_handler(fake: FakeGitHub, host: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out apart: no 40 ms delayed-ACK stall

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet tests; the request log is in fake.state.requests

        def do_GET(self) -> None:
            self._serve()

        do_POST = do_PATCH = do_PUT = do_DELETE = do_GET

        def _serve(self) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            root = f"http://{self.headers['Host']}"
            path, api, uploads, table = _split_prefix(parsed.path, root, host)
            if table == "uploads" and host == "api" and not fake.prefix:
                table = ""  # github.com takes uploads on its uploads host only
            uploads = uploads or fake.uploads_url
            headers = {k.lower(): v for k, v in self.headers.items()}
            route, params, spec = _route(table, self.command, path)
            fault = fake._take_fault(route) if route else None
            if fault is not None and (fault.disconnect or (fault.stall and table != "storage")):
                self._read_body(partial=fault.disconnect)
                self._log(route, path, 0, headers, b"", table)
                if fault.stall:
                    fake._stopping.wait(60)
                self.close_connection = True
                self.connection.shutdown(2)
                return
            body = self._read_body()
            query = dict(urllib.parse.parse_qsl(parsed.query))
            req = Request(self.command, path, route, params, query, headers, body, api, uploads)
            response = fake.answer(req, fault, table, spec)
            self._log(route, path, response.status, headers, body, table)
            self._send(response, stall=fault is not None and fault.stall)
            hook = fake._take_after(route) if route else None
            if hook is not None and response.status < 400:
                hook(req)

        def _read_body(self, partial: bool = False) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                return self._read_chunked()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(min(length, 16) if partial else length)

        def _read_chunked(self) -> bytes:
            data = b""
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()

        def _log(
            self, route: str, path: str, status: int, headers: dict[str, str], body: bytes, at: str
        ) -> None:
            entry = LoggedRequest(self.command, path, self.path, route, status, headers, body, at)
            with fake._lock:
                fake.state.requests.append(entry)

        def _send(self, response: Response, stall: bool = False) -> None:
            payload = response.body
            if not isinstance(payload, bytes):
                payload = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(response.status)
            if not isinstance(response.body, bytes):
                self.send_header("Content-Type", "application/json; charset=utf-8")
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if stall:  # half the bytes, then silence until the client gives up
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                fake._stopping.wait(60)
                self.close_connection = True
                return
            self.wfile.write(payload)

    return Handler


def _split_prefix(path: str, root: str, host: str) -> tuple[str, str, str, str]:
    """(path without prefix, API root, uploads root or "" for the uploads host, route table)
    as this request's client sees them."""
    if host != "api":
        return path, "", "", host
    if path.startswith("/api/uploads/"):
        return path[len("/api/uploads") :], f"{root}/api/v3", f"{root}/api/uploads", "uploads"
    if path.startswith("/api/storage/"):
        return path[len("/api/storage") :], f"{root}/api/v3", f"{root}/api/uploads", "storage"
    if path.startswith("/api/v3/"):
        return path[len("/api/v3") :], f"{root}/api/v3", f"{root}/api/uploads", "api"
    return path, root, "", "api"


def _route(table: str, verb: str, path: str) -> tuple[str, dict[str, str], str]:
    """(route name, its parameters, the description's path template) of a request."""
    for route_verb, regex, name in _TABLES.get(table, []):
        match = regex.match(path)
        if match and route_verb == verb:
            spec = openapi.operation_path(path, verb) if table != "storage" else ""
            return name, match.groupdict(), spec
    return "", {}, ""


def _bearer(headers: dict[str, str]) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() in ("bearer", "token") and value.strip() else None
