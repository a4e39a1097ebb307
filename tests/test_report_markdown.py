"""report.md as GitHub renders it: tables, details blocks and the chart come out whole."""

from __future__ import annotations

import json
import math
import re

import cmarkgfm
from cmarkgfm.cmark import Options

from ci_ml.report import renderer


def _decimals(interval: dict) -> int:
    """Two significant digits of the interval's width."""
    return max(0, 1 - math.floor(math.log10(interval["high"] - interval["low"])))


def _html(markdown: str) -> str:
    return cmarkgfm.github_flavored_markdown_to_html(markdown, options=Options.CMARK_OPT_UNSAFE)


def test_second_run_report_renders_tables_details_and_chart(example, run_cli):
    project = example("penguins")
    run_cli("check", "--promote", cwd=project)
    run_cli("check", "-c", "ci-ml.fresh.yaml", cwd=project)
    markdown = (project / ".ci-ml/run/report.md").read_text()
    html = _html(markdown)
    # metrics, gate rules, what changed, budgets, drift (lineage is a list); with the
    # curves in report.json, the confusion matrix too (and the curves' own details),
    # and a table per calibration curve (the other curves are charts)
    curves = json.loads((project / ".ci-ml/run/report.json").read_text()).get("curves")
    assert curves, "the report stage stores the curves of the eval predictions"
    tabled = [c for c in curves["curves"] if c["kind"] in ("calibration", "predicted_vs_actual")]
    assert len(tabled) == 3  # one calibration curve per penguin species
    assert html.count("<table>") == 5 + bool(curves) + len(tabled)
    assert html.count("<details") == html.count("</details>") == 5 + 2 * bool(curves)
    assert "<li><strong>train data</strong>: <code>data/fresh.csv</code>" in html
    metric_table = html.split("<table>")[1]
    assert metric_table.count("<tr>") == 1 + 3  # header + one row per metric
    assert '<pre lang="mermaid"><code>xychart-beta' in html or 'lang="mermaid"' in html
    assert re.search(r"<strong>✅ promote: all 3 rule\(s\) passed</strong>", html)


def test_text_and_markdown_show_the_same_numbers(example, run_cli):
    project = example("diabetes")
    run_cli("check", "--promote", cwd=project)
    run_cli("check", "-c", "ci-ml.fresh.yaml", cwd=project)
    report = json.loads((project / ".ci-ml/run/report.json").read_text())
    text, markdown = renderer("text")(report), renderer("markdown")(report)
    numbers = re.compile(r"[+-]?\d+\.\d+")
    for entry in report["metrics"].values():
        # the paired change's interval is narrower than the value's own: its digits
        digits = _decimals(entry["interval"])
        shown = f"{entry['shown']['challenger']:.{digits}f}"
        assert shown in text and shown in markdown
        change = f"{entry['shown']['delta']:+.{digits}f}"
        assert f"| {change} " in markdown and f"  {change} " in text
    assert set(numbers.findall(text.split("rule")[0])) <= set(numbers.findall(markdown))


def test_invalid_data_report_leads_with_the_failure(example, run_cli):
    project = example("penguins")
    (project / "data/eval.csv").write_text("species,island\n")
    run_cli("check", cwd=project)
    markdown = (project / ".ci-ml/run/report.md").read_text()
    assert markdown.splitlines()[2].startswith("**⚠️ invalid data: ")
    assert "header only" in markdown.splitlines()[2]
    assert "<summary>Data validation (1)</summary>" in markdown


def test_first_run_shows_the_challengers_own_interval(example, run_cli):
    """With the baseline off there is nothing to compare with: the challenger's own interval."""
    project = example("diabetes")
    config = project / "ci-ml.yaml"
    config.write_text(config.read_text() + "evaluation:\n  baseline: {enabled: false}\n")
    run_cli("check", cwd=project)
    markdown = (project / ".ci-ml/run/report.md").read_text()
    report = json.loads((project / ".ci-ml/run/report.json").read_text())
    rmse = report["metrics"]["neg_root_mean_squared_error"]["challenger_interval"]
    low, high = -rmse["high"], -rmse["low"]  # a loss is shown as the loss
    assert 0 < low < high
    digits = _decimals(rmse)  # an interval ~15 wide justifies no decimals
    assert f"value in [{low:.{digits}f}, {high:.{digits}f}]" in markdown
