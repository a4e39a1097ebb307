"""fit_to_limit: cuts only at section boundaries, and the cut still renders well."""

from __future__ import annotations

import re

import cmarkgfm
import pytest

from ci_ml.github import fit_to_limit, truncation_note, utf8_len

POINTER = "the job summary"


def table(name: str, rows: int) -> str:
    body = "\n".join(
        f"| {name}_{r} | 0.{r:03d} | 0.{r + 1:03d} | {'+' if r % 2 else '-'} |" for r in range(rows)
    )
    return f"| metric | champion | challenger | Δ |\n|---|---:|---:|:-:|\n{body}\n"


def sample_report(sections: int = 6) -> str:
    parts = ["# ci-ml report: model\n", "Verdict: **block** (1 rule failed)\n"]
    for s in range(sections):
        parts.append(f"## Section {s}\n\n{table(f's{s}', 12)}")
        parts.append(
            f"<details><summary>Slices of section {s}</summary>\n\n"
            f"### Slice A\n\n{table(f'a{s}', 8)}\n### Slice B\n\n{table(f'b{s}', 8)}\n"
            "</details>\n"
        )
        parts.append(f"```text\n## not a heading {s}\n| not | a table |\n```\n")
    return "\n".join(parts)


def render(markdown: str) -> str:
    html: str = cmarkgfm.github_flavored_markdown_to_html(
        markdown, options=cmarkgfm.Options.CMARK_OPT_UNSAFE
    )
    return html


def tables_of(markdown: str) -> list[str]:
    """Each table as its block of consecutive `|` lines outside code fences."""
    found, current, fenced = [], [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if line.startswith("|") and not fenced:
            current.append(line)
        elif current:
            found.append("\n".join(current))
            current = []
    return found + (["\n".join(current)] if current else [])


def kept_part(cut: str) -> str:
    return cut.split(truncation_note(POINTER).strip("\n"))[0].rstrip("\n-").rstrip()


def test_short_markdown_is_unchanged() -> None:
    md = sample_report(1)
    assert fit_to_limit(md, len(md), pointer=POINTER) == md


@pytest.mark.parametrize("limit", range(400, 6900, 97))  # the sample is ~6,900 chars
def test_cuts_render_well_formed(limit: int) -> None:
    md = sample_report()
    cut = fit_to_limit(md, limit, pointer=POINTER)
    kept = kept_part(cut)
    html = render(cut)

    assert len(cut) <= limit
    assert cut.endswith(f"the full report is in {POINTER}.\n")
    assert md.startswith(kept)
    rest = md[len(kept) :]
    assert rest.startswith("\n")  # whole lines only
    assert kept.count("```") % 2 == 0
    whole_tables = set(tables_of(md))
    assert all(t in whole_tables for t in tables_of(kept))  # no table cut short
    assert html.count("<table>") == html.count("</table>") == len(tables_of(kept))
    assert html.count("<details>") == html.count("</details>")
    assert html.count("<pre") == html.count("</pre>")
    last_close = html.rfind("</details>")
    assert last_close < html.find("<strong>Report truncated</strong>")


def test_prefers_section_boundaries() -> None:
    md = sample_report()
    for limit in range(2500, len(md), 211):
        kept = kept_part(fit_to_limit(md, limit, pointer=POINTER))
        rest = md[len(kept) :].lstrip("\n")
        assert rest.startswith(("## ", "<details>")) or kept.endswith("</details>"), rest[:40]


def test_headings_inside_details_or_code_are_not_cut_points() -> None:
    md = sample_report(2)
    for limit in range(300, len(md), 50):
        kept = kept_part(fit_to_limit(md, limit, pointer=POINTER))
        before_next = md[len(kept) :].lstrip("\n")
        assert not before_next.startswith(("### Slice", "## not a heading"))
        assert kept.count("<details>") == kept.count("</details>")
        assert kept.count("```") % 2 == 0


def test_one_huge_section_falls_back_to_paragraphs() -> None:
    md = "# Title\n\n## Only section\n\n" + "\n\n".join(f"Paragraph {i} " * 20 for i in range(50))
    cut = fit_to_limit(md, 2000, pointer=POINTER)
    assert len(cut) <= 2000
    assert "## Only section" in cut and "Paragraph 3" in cut
    assert md.startswith(kept_part(cut))


def test_bytes_are_measured_as_utf8() -> None:
    md = "".join(f"## Part {i}\n\n{'🙂' * 100}\n\n" for i in range(20))
    cut = fit_to_limit(md, 3000, pointer=POINTER, measure=utf8_len)
    assert utf8_len(cut) <= 3000 < len(cut.encode()) + 500
    assert len(re.findall("## Part", cut)) >= 5


def test_a_limit_below_the_note_is_refused() -> None:
    with pytest.raises(ValueError, match="no room"):
        fit_to_limit("x" * 100, 10, pointer=POINTER)
