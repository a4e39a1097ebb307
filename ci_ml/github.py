"""The GitHub edge: settings from the Actions environment, the API client, the
sticky PR comment, the commit status, the runner's file and log commands, and
the releases, refs and git objects the github-releases registry is made of.

The only module of ci_ml that talks to GitHub. PyGithub (and urllib3) are
imported inside the functions that use them so `ci-ml --help` stays fast.
Posting is best effort: `publish` never raises for a failed post, because the
verdict and exit code must not depend on whether GitHub accepted a comment.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ci_ml.errors import ConfigError, EnvironmentProblem

if TYPE_CHECKING:
    from github import Github
    from github.IssueComment import IssueComment
    from github.Repository import Repository
    from urllib3.util.retry import Retry

T = TypeVar("T")

COMMENT_LIMIT = 65_536  # characters in one issue comment
SUMMARY_LIMIT = 1024 * 1024  # bytes in one step's $GITHUB_STEP_SUMMARY
STATUS_DESCRIPTION_LIMIT = 140
DEFAULT_API_URL = "https://api.github.com"
DEFAULT_POINTER = "the job summary and the `ci-ml-report` artifact"
PR_EVENTS = ("pull_request", "pull_request_target")
COMMENT_MODES = ("update", "recreate", "off")
CommentMode = Literal["update", "recreate", "off"]
CommentAction = Literal["created", "updated", "recreated", "skipped"]
STATUS_STATES = {"promote": "success", "block": "failure", "invalid-data": "failure"}
STATUS_DESCRIPTIONS = {
    "promote": "Gate passed: the challenger is promoted",
    "block": "Gate blocked the challenger",
    "invalid-data": "The data failed validation",
}
_REPORT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$")
_OUTPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_ANNOTATION_LEVELS = ("debug", "notice", "warning", "error")


# -- settings ------------------------------------------------------------------------


@dataclass(frozen=True)
class GitHubSettings:
    """What ci-ml needs from the Actions environment. The token never shows in repr."""

    in_actions: bool = False
    api_url: str = DEFAULT_API_URL
    token: str = field(default="", repr=False)
    repository: str = ""  # owner/name
    event_name: str = ""
    pr_number: int | None = None
    head_sha: str = ""  # PR head, or workflow_run head: GITHUB_SHA is a merge commit there
    server_url: str = "https://github.com"
    run_id: str = ""
    output_path: Path | None = None
    summary_path: Path | None = None

    @property
    def run_url(self) -> str:
        if not (self.run_id and self.repository):
            return ""
        return f"{self.server_url.rstrip('/')}/{self.repository}/actions/runs/{self.run_id}"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, token: str | None = None
    ) -> GitHubSettings:
        """Read the runner's variables; `token` wins over INPUT_GITHUB-TOKEN and GITHUB_TOKEN."""
        env = os.environ if env is None else env
        event_name = env.get("GITHUB_EVENT_NAME", "")
        pr_number, head_sha = _event_refs(event_name, env.get("GITHUB_EVENT_PATH", ""))
        return cls(
            in_actions=env.get("GITHUB_ACTIONS") == "true",
            api_url=env.get("GITHUB_API_URL") or DEFAULT_API_URL,
            token=token or _token_from(env),
            repository=env.get("GITHUB_REPOSITORY", ""),
            event_name=event_name,
            pr_number=pr_number,
            head_sha=head_sha or env.get("GITHUB_SHA", ""),
            server_url=env.get("GITHUB_SERVER_URL") or "https://github.com",
            run_id=env.get("GITHUB_RUN_ID", ""),
            output_path=_path_or_none(env.get("GITHUB_OUTPUT")),
            summary_path=_path_or_none(env.get("GITHUB_STEP_SUMMARY")),
        )


def _token_from(env: Mapping[str, str]) -> str:
    # Actions turns input `github-token` into INPUT_GITHUB-TOKEN (hyphen kept).
    for name in ("INPUT_GITHUB-TOKEN", "INPUT_GITHUB_TOKEN", "GITHUB_TOKEN"):
        if env.get(name):
            return env[name]
    return ""


def _path_or_none(value: str | None) -> Path | None:
    return Path(value) if value else None


def _event_refs(event_name: str, event_path: str) -> tuple[int | None, str]:
    """(PR number, head sha) from a pull_request(_target) or workflow_run event payload."""
    if event_name not in (*PR_EVENTS, "workflow_run") or not event_path:
        return None, ""
    try:
        event = json.loads(Path(event_path).read_text(encoding="utf-8"))
        if event_name == "workflow_run":
            return None, str(event["workflow_run"]["head_sha"])
        pull = event["pull_request"]
        return int(pull["number"]), str(pull["head"]["sha"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise EnvironmentProblem(
            f"GITHUB_EVENT_PATH {event_path}: expected a {event_name} event JSON with the "
            f"pull request number and head sha, found an unreadable file "
            f"({type(e).__name__}: {e})"
        ) from e


def should_post(settings: GitHubSettings, force: bool | None = None) -> tuple[bool, str]:
    """Whether to post to the PR, and why. `force` overrides the Actions and event checks."""
    if force is False:
        return False, "posting turned off"
    if not force and not settings.in_actions:
        return False, "not running in GitHub Actions"
    if not force and settings.event_name not in PR_EVENTS:
        return False, f"event {settings.event_name or '(none)'!r} is not a pull request"
    missing = _missing_for_posting(settings)
    if missing:
        return False, "cannot post without " + ", ".join(missing)
    return True, "posting forced" if force else "pull request event in GitHub Actions"


def _missing_for_posting(settings: GitHubSettings) -> list[str]:
    needed = {
        "a token": settings.token,
        "GITHUB_REPOSITORY": settings.repository,
        "a pull request number": settings.pr_number,
    }
    return [name for name, value in needed.items() if not value]


# -- client, retries, rate limits ------------------------------------------------------


@dataclass(frozen=True)
class ClientOptions:
    """Retry and pacing knobs; the defaults suit github.com, tests shrink them."""

    retries: int = 3  # urllib3 retries of 5xx answers and dropped connections
    backoff_factor: float = 1.0
    rate_limit_tries: int = 3  # our own tries on a (secondary) rate limit
    max_wait: float = 60.0  # seconds, total, we sleep for rate limits; caps one Retry-After
    timeout: int = 15
    per_page: int = 100
    seconds_between_requests: float | None = 0.25
    seconds_between_writes: float | None = 1.0  # GitHub asks for 1 s between writes


def make_retry(options: ClientOptions) -> Retry:
    """A urllib3 Retry for 5xx and dropped connections, honouring a capped Retry-After."""
    from urllib3.util.retry import Retry

    class CappedRetry(Retry):
        def __init__(self, max_retry_after: float = 60.0, **kwargs: Any) -> None:
            self.max_retry_after = max_retry_after
            super().__init__(**kwargs)

        def new(self, **kwargs: Any) -> CappedRetry:
            return super().new(max_retry_after=self.max_retry_after, **kwargs)

        def get_retry_after(self, response: Any) -> float | None:
            seconds = super().get_retry_after(response)
            return None if seconds is None else min(seconds, self.max_retry_after)

    # POST is retried too: a duplicate comment is cleaned up after creating.
    return CappedRetry(
        max_retry_after=options.max_wait,
        total=options.retries,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD", "POST", "PATCH", "PUT", "DELETE"}),
        backoff_factor=options.backoff_factor,
        backoff_max=options.max_wait,
        respect_retry_after_header=True,
        raise_on_status=False,  # the last 5xx reaches PyGithub and becomes a GithubException
    )


def make_client(
    settings: GitHubSettings, options: ClientOptions | None = None, lazy: bool = False
) -> Github:
    """A PyGithub client for settings.api_url (github.com or an Enterprise /api/v3).

    `lazy` objects fetch nothing until an attribute is read: fewer requests."""
    from github import Auth, Github

    if not settings.token:
        raise EnvironmentProblem(
            "no GitHub token: pass the action's github-token input or set GITHUB_TOKEN"
        )
    options = options or ClientOptions()
    return Github(
        base_url=settings.api_url.rstrip("/"),
        auth=Auth.Token(settings.token),
        retry=make_retry(options),
        timeout=options.timeout,
        per_page=options.per_page,
        seconds_between_requests=options.seconds_between_requests,
        seconds_between_writes=options.seconds_between_writes,
        lazy=lazy,
    )


def rate_limit_wait(error: Exception, now: float | None = None) -> float | None:
    """Seconds GitHub asks us to wait before retrying, or None if `error` is no rate limit."""
    from github.GithubException import GithubException

    if not isinstance(error, GithubException) or error.status not in (403, 429):
        return None
    headers = {k.lower(): v for k, v in (error.headers or {}).items()}
    message = str((error.data or {}).get("message", "") if isinstance(error.data, dict) else "")
    if "retry-after" in headers:
        return _seconds_from_retry_after(headers["retry-after"], now)
    if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
        reset = float(headers["x-ratelimit-reset"]) - (time.time() if now is None else now)
        return max(reset, 0.0) + 1.0
    if "rate limit" in message.lower():
        return 60.0  # GitHub's advice when it gives no header: wait at least a minute
    return None


def _seconds_from_retry_after(value: str, now: float | None) -> float:
    if value.strip().isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return 60.0
    return max(moment - (time.time() if now is None else now), 0.0)


def with_backoff(call: Callable[[], T], options: ClientOptions | None = None) -> T:
    """Run `call`, waiting out rate limits as GitHub asks, within options' tries and max_wait."""
    options = options or ClientOptions()
    waited = 0.0
    for attempt in range(1, options.rate_limit_tries + 1):
        try:
            return call()
        except Exception as error:
            wait = rate_limit_wait(error)
            last = attempt == options.rate_limit_tries
            if wait is None or last or waited + wait > options.max_wait:
                raise
            time.sleep(wait)
            waited += wait
    raise AssertionError("unreachable: the loop returns or raises")


# -- sticky comment --------------------------------------------------------------------


@dataclass(frozen=True)
class CommentResult:
    action: CommentAction
    comment_id: int | None = None
    url: str | None = None
    duplicates_deleted: int = 0


def check_report_id(report_id: str) -> str:
    # The id goes inside an HTML comment and a status context: keep it plain.
    if not _REPORT_ID.match(report_id):
        raise ConfigError(
            f"report id: expected letters, digits, '.', '_', '-' or '/' (at most 100), "
            f"found {report_id!r}"
        )
    return report_id


def check_comment_mode(mode: str) -> CommentMode:
    if mode not in COMMENT_MODES:
        raise ConfigError(
            f"comment mode: expected one of {', '.join(COMMENT_MODES)}, found {mode!r}"
        )
    return mode  # type: ignore[return-value]


def comment_marker(report_id: str) -> str:
    return f"<!-- ci-ml report: {check_report_id(report_id)} -->"


def post_sticky_comment(
    repo: Repository, pr_number: int, body: str, report_id: str, mode: str = "update"
) -> CommentResult:
    """Keep exactly one comment per report on the PR, found again by its hidden marker."""
    if check_comment_mode(mode) == "off":
        return CommentResult("skipped")
    marker = comment_marker(report_id)
    text = f"{marker}\n{body}"
    issue = repo.get_issue(pr_number)
    existing = _marked_comments(issue.get_comments(), marker)
    if mode == "recreate":
        for comment in existing:
            _delete(comment)
        created, removed = _create_once(issue, text, marker)
        action: CommentAction = "recreated" if existing else "created"
        return CommentResult(action, created.id, created.html_url, removed)
    if not existing:
        created, removed = _create_once(issue, text, marker)
        return CommentResult("created", created.id, created.html_url, removed)
    kept = _keep_oldest(existing, text)
    return CommentResult("updated", kept.id, kept.html_url, len(existing) - 1)


def _marked_comments(comments: Any, marker: str) -> list[IssueComment]:
    # Iterating the PaginatedList follows every page, so a marker on page 5 is found.
    found = [c for c in comments if marker in (c.body or "")]
    return sorted(found, key=lambda c: (c.created_at, c.id))


def _keep_oldest(marked: list[IssueComment], text: str) -> IssueComment:
    kept, *newer = marked
    for comment in newer:
        _delete(comment)
    if kept.body != text:
        kept.edit(text)
    return kept


def _create_once(issue: Any, text: str, marker: str) -> tuple[IssueComment, int]:
    created = issue.create_comment(text)
    # A retried POST or a concurrent run may have posted a twin meanwhile: keep the oldest.
    marked = _marked_comments(issue.get_comments(), marker)
    if not marked:
        return created, 0
    return _keep_oldest(marked, text), len(marked) - 1


def _delete(comment: IssueComment) -> None:
    from github.GithubException import UnknownObjectException

    with contextlib.suppress(UnknownObjectException):  # a concurrent run was first: fine
        comment.delete()


# -- commit status ----------------------------------------------------------------------


def status_state(verdict: str) -> str:
    return STATUS_STATES.get(verdict, "error")


def set_commit_status(
    repo: Repository,
    sha: str,
    report_id: str,
    verdict: str,
    target_url: str = "",
    description: str | None = None,
) -> str:
    """Set status `ci-ml/<report-id>` on `sha` from the verdict; returns the state set."""
    from github.GithubObject import NotSet

    state = status_state(verdict)
    text = description or STATUS_DESCRIPTIONS.get(verdict, f"ci-ml could not decide ({verdict})")
    repo.get_commit(sha).create_status(
        state=state,
        target_url=target_url or NotSet,
        description=_clip(text, STATUS_DESCRIPTION_LIMIT),
        context=f"ci-ml/{check_report_id(report_id)}",
    )
    return state


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- size limits --------------------------------------------------------------------------


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def fit_to_limit(
    markdown: str,
    limit: int = COMMENT_LIMIT,
    *,
    pointer: str = DEFAULT_POINTER,
    measure: Callable[[str], int] = len,
) -> str:
    """`markdown` unchanged if it fits, else cut at a section boundary with a note pointing
    to the full report. Never cuts inside a table, a code fence or an open <details>.

    `measure` must be additive over concatenation (len for characters, utf8_len for bytes).
    """
    if measure(markdown) <= limit:
        return markdown
    note = truncation_note(pointer)
    budget = limit - measure(note)
    if budget < 0:
        raise ValueError(f"a limit of {limit} leaves no room for the truncation note")
    lines = markdown.splitlines(keepends=True)
    sections, paragraphs = _cut_points(lines)
    cut = _last_fitting(lines, sections, budget, measure)
    if measure("".join(lines[:cut])) < budget // 2:
        # One long section would waste most of the room: cut it between paragraphs.
        cut = max(cut, _last_fitting(lines, paragraphs, budget, measure))
    kept = "".join(lines[:cut]).rstrip()
    return f"{kept}\n{note}" if kept else note.lstrip("\n")


def truncation_note(pointer: str) -> str:
    return (
        "\n---\n\n"
        f"**Report truncated** to fit GitHub's size limit: the full report is in {pointer}.\n"
    )


def _cut_points(lines: list[str]) -> tuple[list[int], list[int]]:
    """Line indices where a cut is safe: (section starts, blank lines), both outside
    <details>, tables and code fences."""
    sections: list[int] = []
    paragraphs: list[int] = []
    depth, fenced = 0, False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if depth == 0 and not fenced:
            if stripped.startswith(("## ", "### ", "<details")) or _closes_details(lines, i):
                sections.append(i)
            elif not stripped:
                paragraphs.append(i)
        if stripped.startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced:
            lowered = stripped.lower()
            depth = max(depth + lowered.count("<details") - lowered.count("</details>"), 0)
    return sections, paragraphs


def _closes_details(lines: list[str], i: int) -> bool:
    return i > 0 and lines[i - 1].strip().lower().endswith("</details>")


def _last_fitting(
    lines: list[str], points: list[int], budget: int, measure: Callable[[str], int]
) -> int:
    size, best, done = 0, 0, 0
    for point in points:
        size += sum(measure(line) for line in lines[done:point])
        done = point
        if size > budget:
            break
        best = point
    return best


# -- runner files and workflow commands ------------------------------------------------------


def write_outputs(path: Path | str, outputs: Mapping[str, object]) -> None:
    """Append step outputs to $GITHUB_OUTPUT; multiline values use a random heredoc delimiter."""
    with open(path, "a", encoding="utf-8", newline="\n") as f:
        for name, value in outputs.items():
            f.write(_output_entry(name, _output_text(value)))


def _output_text(value: object) -> str:
    # Workflow expressions compare with 'true'/'false', not Python's 'True'.
    return str(value).lower() if isinstance(value, bool) else str(value)


def _output_entry(name: str, value: str) -> str:
    if not _OUTPUT_NAME.match(name):
        raise ValueError(f"output name: expected letters, digits, '_' or '-', found {name!r}")
    if "\n" not in value and "\r" not in value:
        return f"{name}={value}\n"
    delimiter = f"ghadelimiter_{uuid.uuid4()}"
    while delimiter in value:  # a value could hold the delimiter only by design: pick again
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
    return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"


def append_summary(
    path: Path | str,
    markdown: str,
    limit: int = SUMMARY_LIMIT,
    pointer: str = "the `ci-ml-report` artifact",
) -> bool:
    """Append to $GITHUB_STEP_SUMMARY within its 1 MiB cap; False if there is no room left."""
    target = Path(path)
    used = target.stat().st_size if target.exists() else 0
    text = markdown if markdown.endswith("\n") else markdown + "\n"
    try:
        fitted = fit_to_limit(text, limit - used, pointer=pointer, measure=utf8_len)
    except ValueError:
        return False
    with target.open("a", encoding="utf-8", newline="\n") as f:
        f.write(fitted if fitted.endswith("\n") else fitted + "\n")
    return True


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(
    level: str,
    message: str,
    file: str | None = None,
    line: int | None = None,
    title: str | None = None,
) -> str:
    """A workflow command such as `::error file=ci-ml.yaml,line=3,title=Gate::message`."""
    if level not in _ANNOTATION_LEVELS:
        raise ValueError(f"annotation level: expected one of {_ANNOTATION_LEVELS}, found {level!r}")
    props = {"file": file, "line": None if line is None else str(line), "title": title}
    given = ",".join(f"{k}={_escape_property(v)}" for k, v in props.items() if v is not None)
    return f"::{level}{' ' + given if given else ''}::{_escape_data(message)}"


@contextlib.contextmanager
def group(title: str) -> Iterator[None]:
    """A collapsible section of the job log."""
    print(f"::group::{_escape_data(title)}", file=sys.stderr, flush=True)
    try:
        yield
    finally:
        print("::endgroup::", file=sys.stderr, flush=True)


# -- publishing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishResult:
    """What publishing did. `failures` are warnings, never a reason to change the verdict."""

    posted: bool
    reason: str
    comment: CommentResult | None = None
    status_state: str | None = None
    failures: tuple[str, ...] = ()
    fallback_dir: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.failures


def publish(
    settings: GitHubSettings,
    markdown: str,
    report_id: str,
    verdict: str,
    comment_mode: str = "update",
    fallback_dir: Path | str | None = None,
    *,
    force: bool | None = None,
    options: ClientOptions | None = None,
) -> PublishResult:
    """Post the sticky comment and the commit status. A failed post prints a ::warning::,
    saves the comment for a later workflow_run poster and is returned, never raised."""
    mode = check_comment_mode(comment_mode)
    marker = comment_marker(report_id)
    body = fit_to_limit(markdown, COMMENT_LIMIT - len(marker) - 1, pointer=_pointer(settings))
    allowed, reason = should_post(settings, force)
    failures: list[str] = []
    if not allowed:
        saved = _save_unposted(settings, body, report_id, fallback_dir, mode, failures)
        return PublishResult(False, reason, failures=tuple(failures), fallback_dir=saved)
    pr_number = settings.pr_number or 0
    comment = _attempt(
        settings,
        failures,
        "post the PR comment",
        lambda repo: post_sticky_comment(repo, pr_number, body, report_id, mode),
        options,
    )
    state = None
    if settings.head_sha:
        state = _attempt(
            settings,
            failures,
            "set the commit status",
            lambda repo: set_commit_status(
                repo, settings.head_sha, report_id, verdict, settings.run_url
            ),
            options,
        )
    posted = comment is not None and comment.action != "skipped"
    saved = None
    if comment is None:
        saved = _save_unposted(settings, body, report_id, fallback_dir, mode, failures)
    why = "posted" if posted else ("; ".join(failures) or "comment mode is off")
    return PublishResult(posted, why, comment, state, tuple(failures), saved)


def _pointer(settings: GitHubSettings) -> str:
    if settings.run_url:
        return f"the [job summary]({settings.run_url}) and the `ci-ml-report` artifact"
    return DEFAULT_POINTER


def _attempt(
    settings: GitHubSettings,
    failures: list[str],
    what: str,
    action: Callable[[Repository], T],
    options: ClientOptions | None,
) -> T | None:
    try:
        repo = make_client(settings, options, lazy=True).get_repo(settings.repository)
        return with_backoff(lambda: action(repo), options)
    except Exception as error:  # posting must never decide the verdict: report, carry on
        problem = _redact(f"could not {what}: {_describe(error)}", settings.token)
        print(annotation("warning", problem, title="ci-ml"), file=sys.stderr, flush=True)
        failures.append(problem)
        return None


def _describe(error: Exception) -> str:
    from github.GithubException import GithubException

    if isinstance(error, GithubException):
        data = error.data if isinstance(error.data, dict) else {}
        text = f"GitHub answered {error.status}: {data.get('message') or error.message or ''}"
        if error.status == 403 and rate_limit_wait(error) is None:
            text += " (a pull request from a fork gets a read-only token)"
        return text.strip()
    return f"{type(error).__name__}: {error}"


def _redact(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


def _save_unposted(
    settings: GitHubSettings,
    body: str,
    report_id: str,
    fallback_dir: Path | str | None,
    mode: CommentMode,
    failures: list[str],
) -> Path | None:
    """Write comment.md and comment-meta.json for a workflow_run job to post later."""
    if fallback_dir is None or mode == "off":
        return None
    target = Path(fallback_dir)
    meta = {
        "pr_number": settings.pr_number,
        "report_id": report_id,
        "head_sha": settings.head_sha,
        "comment_mode": mode,
    }
    try:
        target.mkdir(parents=True, exist_ok=True)
        (target / "comment.md").write_text(body, encoding="utf-8")
        (target / "comment-meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    except OSError as error:
        problem = f"could not save the comment under {target}: {error}"
        print(annotation("warning", problem, title="ci-ml"), file=sys.stderr, flush=True)
        failures.append(problem)
        return None
    if failures:
        notice = f"the PR comment was saved to {target / 'comment.md'} for a workflow_run poster"
        print(annotation("notice", notice, title="ci-ml"), file=sys.stderr, flush=True)
    return target


# -- fork pull requests: the comment saved by the PR job, posted by a workflow_run job ----------


@dataclass(frozen=True)
class SavedComment:
    body: str
    pr_number: int
    report_id: str
    head_sha: str
    comment_mode: CommentMode


def load_saved_comment(fallback_dir: Path | str) -> SavedComment:
    """Read comment.md and comment-meta.json as `publish` wrote them (untrusted input)."""
    folder = Path(fallback_dir)
    meta_path = folder / "comment-meta.json"
    try:
        body = (folder / "comment.md").read_text(encoding="utf-8")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return SavedComment(
            body=body,
            pr_number=int(meta["pr_number"]),
            report_id=check_report_id(str(meta["report_id"])),
            head_sha=str(meta["head_sha"]),
            comment_mode=check_comment_mode(str(meta.get("comment_mode", "update"))),
        )
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise EnvironmentProblem(
            f"{folder}: expected comment.md and comment-meta.json with pr_number, report_id "
            f"and head_sha, found {type(e).__name__}: {e}"
        ) from e


def post_saved_comment(
    settings: GitHubSettings, fallback_dir: Path | str, *, options: ClientOptions | None = None
) -> PublishResult:
    """Post a fork PR's saved comment from a `workflow_run` job, which has a write token.

    The artifact comes from code the fork controls, so the comment goes only to a PR whose
    head is the commit the triggering run was for, and no commit status is set from it.
    """
    saved = load_saved_comment(fallback_dir)
    marker = comment_marker(saved.report_id)
    body = fit_to_limit(saved.body, COMMENT_LIMIT - len(marker) - 1, pointer=_pointer(settings))

    def post(repo: Repository) -> CommentResult:
        head = repo.get_pull(saved.pr_number).head.sha
        run_head = settings.head_sha
        if not run_head or head != run_head or saved.head_sha != run_head:
            raise EnvironmentProblem(
                f"PR #{saved.pr_number} head is {head[:12]}, the saved report says "
                f"{saved.head_sha[:12]} and the run was for {run_head[:12] or '(none)'}"
            )
        return post_sticky_comment(repo, saved.pr_number, body, saved.report_id, saved.comment_mode)

    failures: list[str] = []
    comment = _attempt(settings, failures, "post the saved PR comment", post, options)
    posted = comment is not None and comment.action != "skipped"
    why = "posted" if posted else ("; ".join(failures) or "comment mode is off")
    return PublishResult(posted, why, comment, None, tuple(failures))


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
