"""GitHub's size limits: a comment's 65,536 characters, a job summary's 1 MiB."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


COMMENT_LIMIT = 65_536  # characters in one issue comment
DEFAULT_POINTER = "the job summary and the `ci-ml-report` artifact"


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
