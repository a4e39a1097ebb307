"""Publishing a report: comment and status, never raising; a fork's saved comment."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ci_ml.errors import ConfigError, EnvironmentProblem

if TYPE_CHECKING:
    from github.Repository import Repository

from ci_ml.github.client import ClientOptions, describe_error, make_client, with_backoff
from ci_ml.github.comment import (
    CommentMode,
    CommentResult,
    check_comment_mode,
    check_report_id,
    comment_marker,
    post_sticky_comment,
    set_commit_status,
)
from ci_ml.github.limits import COMMENT_LIMIT, DEFAULT_POINTER, fit_to_limit
from ci_ml.github.runner import annotation
from ci_ml.github.settings import GitHubSettings, should_post
from ci_ml.rundir import write_json_atomic, write_text_atomic

T = TypeVar("T")
U = TypeVar("U")


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
        lambda repo: post_sticky_comment(
            repo, pr_number, body, report_id, mode, settings.token_login or None
        ),
        options,
        "pull-requests: write",
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
            "statuses: write",
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
    permission: str | None = None,
) -> T | None:
    try:
        repo = make_client(settings, options, lazy=True).get_repo(settings.repository)
        return with_backoff(lambda: action(repo), options)
    except Exception as error:  # posting must never decide the verdict: report, carry on
        text = describe_error(error, permission, settings.event_name, settings.job)
        problem = _redact(f"could not {what}: {text}", settings.token)
        print(annotation("warning", problem, title="ci-ml"), file=sys.stderr, flush=True)
        failures.append(problem)
        return None


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
        write_text_atomic(target / "comment.md", body)
        write_json_atomic(target / "comment-meta.json", meta)
    except EnvironmentProblem as error:
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


COMMENT_BYTES_LIMIT = 4 * COMMENT_LIMIT  # 65,536 characters of at most 4 UTF-8 bytes each
META_BYTES_LIMIT = 4096
_HEAD_SHA = re.compile(r"[0-9a-f]{40}")


def load_saved_comment(fallback_dir: Path | str) -> SavedComment:
    """Read comment.md and comment-meta.json as `publish` wrote them. The artifact comes
    from code a fork controls: only regular files directly inside the folder are read
    (never a symlink, never a path outside), sizes are capped and every field checked."""
    folder = Path(fallback_dir)
    raw = _read_regular(folder, "comment-meta.json", META_BYTES_LIMIT)
    body = _read_regular(folder, "comment.md", COMMENT_BYTES_LIMIT)
    try:
        meta = json.loads(raw)
    except ValueError as e:
        raise EnvironmentProblem(f"{folder / 'comment-meta.json'}: not JSON: {e}") from e
    if not isinstance(meta, dict):
        raise EnvironmentProblem(f"{folder / 'comment-meta.json'}: expected a JSON object")
    return SavedComment(
        body=body,
        pr_number=_pr_number(meta.get("pr_number"), folder),
        report_id=_field(meta, "report_id", check_report_id, folder),
        head_sha=_head_sha(meta.get("head_sha"), folder),
        comment_mode=_field(meta, "comment_mode", check_comment_mode, folder, "update"),
    )


def _read_regular(folder: Path, name: str, limit: int) -> str:
    """The UTF-8 text of folder/name if it is a regular file of at most `limit` bytes."""
    path = folder / name
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        what = "a symlink, refused" if path.is_symlink() else e.strerror
        raise EnvironmentProblem(f"{path}: expected a regular file, found {what}") from e
    with os.fdopen(descriptor, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise EnvironmentProblem(f"{path}: expected a regular file, found something else")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise EnvironmentProblem(f"{path}: larger than {limit} bytes; refused")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise EnvironmentProblem(f"{path}: not UTF-8 text: {e}") from e


def _pr_number(value: object, folder: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise EnvironmentProblem(
            f"{folder / 'comment-meta.json'}: pr_number: expected a positive integer, "
            f"found {value!r}"
        )
    return value


def _head_sha(value: object, folder: Path) -> str:
    if not isinstance(value, str) or not _HEAD_SHA.fullmatch(value):
        raise EnvironmentProblem(
            f"{folder / 'comment-meta.json'}: head_sha: expected 40 lowercase hex digits, "
            f"found {value!r}"
        )
    return value


def _field(
    meta: dict[str, object], key: str, check: Callable[[str], U], folder: Path, default: str = ""
) -> U:
    value = meta.get(key, default) if default else meta.get(key)
    if not isinstance(value, str):
        raise EnvironmentProblem(
            f"{folder / 'comment-meta.json'}: {key}: expected a string, found {value!r}"
        )
    try:
        return check(value)
    except ConfigError as e:  # from the artifact, not the user's config: an environment error
        raise EnvironmentProblem(f"{folder / 'comment-meta.json'}: {e}") from e


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
        return post_sticky_comment(
            repo,
            saved.pr_number,
            body,
            saved.report_id,
            saved.comment_mode,
            settings.token_login or None,
        )

    failures: list[str] = []
    comment = _attempt(
        settings, failures, "post the saved PR comment", post, options, "pull-requests: write"
    )
    posted = comment is not None and comment.action != "skipped"
    why = "posted" if posted else ("; ".join(failures) or "comment mode is off")
    return PublishResult(posted, why, comment, None, tuple(failures))
