"""The report as its readers see it: GitHub's markdown engine, mermaid's parser, Chromium."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from jsonschema import Draft202012Validator

from ci_ml.cli import main
from ci_ml.config import shipped_schema
from ci_ml.report import curves, markdown, renderer
from tests.conftest import EXAMPLES
from tests.render import support

NEGATIVE_ZERO = re.compile(r"(?<![\w.])-0(?:\.0+)?(?![\d.])")


def _check(project: Path, *args: str) -> None:
    old = Path.cwd()
    os.chdir(project)
    try:
        assert main(["check", *args]) in (0, 1)
    finally:
        os.chdir(old)


@pytest.fixture(scope="module")
def second_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    """Penguins (3 classes) and diabetes (regression): champion, then the fresh batch."""
    out = {}
    for name in ("penguins", "diabetes"):
        project = tmp_path_factory.mktemp("report") / name
        shutil.copytree(EXAMPLES / name, project, ignore=shutil.ignore_patterns(".ci-ml"))
        _check(project, "--promote")
        _check(project, "-c", "ci-ml.fresh.yaml")
        out[name] = support.full_report(project)
    yield out


def _bars(block: str) -> tuple[float, float, list[float]] | None:
    """(y-axis min, max, bar values) of a Mermaid xychart with bars."""
    bars = re.search(r"^\s*bar \[(.*)\]$", block, re.M)
    if not bars:
        return None
    axis = re.search(r"^\s*y-axis(?: \"[^\"]*\")? (\S+) --> (\S+)$", block, re.M)
    assert axis, f"a bar chart without an explicit y range lets Mermaid pick its minimum:\n{block}"
    return float(axis[1]), float(axis[2]), [float(v) for v in bars[1].split(",")]


def test_both_reports_follow_the_schema_and_render_on_githubs_engine(second_runs):
    schema = Draft202012Validator(shipped_schema("report.schema.json"))
    for name, report in second_runs.items():
        assert list(schema.iter_errors(report)) == [], name
        html = support.github_html(renderer("markdown")(report))
        assert html.count("<details") == html.count("</details>")
        assert re.search(r"<pre[^>]*><code>Improvement over the champion", html)  # forest plot
        assert "What changed besides the metrics" in html
        text = re.sub(r"<[^>]+>", " ", html)
        assert not NEGATIVE_ZERO.search(text), NEGATIVE_ZERO.search(text)
        assert "-0.0%" not in text and "e-" not in text.replace("e-mail", "")
        assert not re.search(r"\d\.\d{7,}", text), "a full-precision float is shown"


def test_every_mermaid_block_parses_with_mermaid_itself(second_runs):
    blocks = [
        block
        for report in second_runs.values()
        for block in support.mermaid_blocks(renderer("markdown")(report))
    ]
    binary = _binary_frame()
    first_run = binary[[c for c in binary.columns if not c.startswith("champion_")]]
    for frame in (binary, first_run):
        report = {**second_runs["penguins"], "curves": _curves_of(frame)}
        blocks += support.mermaid_blocks(renderer("markdown")(report))
    assert len(blocks) >= 8 + 2 * 2  # ROC and PR per class, residuals, the drift bars
    assert support.mermaid_errors(blocks) == [None] * len(blocks)
    assert support.mermaid_errors(["xychart-beta\n  bar [1, 2"])[0]  # the parser does reject


def test_every_bar_chart_starts_at_zero_and_no_bar_is_negative(second_runs):
    charts = [
        bars
        for report in second_runs.values()
        for block in support.mermaid_blocks(renderer("markdown")(report))
        if (bars := _bars(block))
    ]
    assert charts, "the drift chart is a bar chart"
    for low, high, values in charts:
        assert low == 0
        assert all(0 <= v <= high for v in values)


def test_the_forest_plot_puts_every_metric_on_one_axis_through_zero(second_runs):
    report = second_runs["diabetes"]
    block = re.search(r"```text\n(.*?)\n```", renderer("markdown")(report), re.S)[1]
    lines = block.splitlines()
    rows = [line for line in lines[2:] if "●" in line]
    assert len(rows) == len(report["metrics"])
    zero = lines[-1].index("0", lines[-1].index("%") + 1)  # the 0 tick, between -x% and +x%
    assert all(row[zero] in "│┼●║" for row in rows)
    rmse = next(row for row in rows if row.startswith("root_mean_squared_error *"))
    # max_regression 0.5 of RMSE ~55: a bound just left of zero, on the worse side
    assert rmse.index("║") < zero
    assert rmse in renderer("text")(report)  # the terminal shows the very same plot


def test_curves_come_from_the_stored_predictions(second_runs):
    classes = second_runs["penguins"]["curves"]
    assert {c["kind"] for c in classes["curves"]} == {"roc", "precision_recall", "calibration"}
    assert len([c for c in classes["curves"] if c["kind"] == "roc"]) == 3  # capped per class
    matrix = classes["confusion"]["challenger"]
    assert sum(map(sum, matrix)) == classes["rows"] == 86
    regression = second_runs["diabetes"]["curves"]
    residuals = next(c for c in regression["curves"] if c["kind"] == "residuals")
    assert [sum(s["counts"]) for s in residuals["series"]] == [111, 111]


def _binary_frame(rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    truth = rng.random(rows) < 0.3
    strong = np.clip(truth * 0.5 + rng.random(rows) * 0.5, 0, 1)
    weak = np.clip(truth * 0.2 + rng.random(rows) * 0.8, 0, 1)
    frame = {"row": np.arange(rows), "y_true": np.where(truth, "yes", "no")}
    for role, score in (("champion", weak), ("challenger", strong)):
        frame[f"{role}_pred"] = np.where(score > 0.5, "yes", "no")
        frame[f"{role}_proba_no"], frame[f"{role}_proba_yes"] = 1 - score, score
    return pd.DataFrame(frame)


def _curves_of(frame: pd.DataFrame) -> dict[str, Any]:
    return curves.from_predictions(frame, "classification").to_dict()


def test_binary_curves_agree_with_scikit_learn():
    from sklearn.metrics import average_precision_score, roc_auc_score

    frame = _binary_frame()
    record = curves.from_predictions(frame, "classification")
    roc = next(c for c in record.curves if c.kind == "roc")
    assert roc.title == "ROC, class yes"  # the positive class only
    truth = frame["y_true"] == "yes"
    for series in roc.series:
        assert series.summary == pytest.approx(
            roc_auc_score(truth, frame[f"{series.role}_proba_yes"]), abs=1e-4
        )
        assert series.y == sorted(series.y) and series.y[-1] == 1.0
    pr = next(c for c in record.curves if c.kind == "precision_recall")
    challenger = next(s for s in pr.series if s.role == "challenger")
    expected = average_precision_score(truth, frame["challenger_proba_yes"])
    assert challenger.summary == pytest.approx(expected, abs=1e-4)
    calibration = next(c for c in record.curves if c.kind == "calibration")
    assert all(sum(s.counts or []) == 400 for s in calibration.series)
    assert record.confusion is not None and record.confusion.labels == ["no", "yes"]


def test_confusion_table_shows_the_change_from_the_champion():
    frame = _binary_frame()
    report = {"curves": curves.from_predictions(frame, "classification").to_dict()}
    from ci_ml.report import common

    headers, rows, note = common.confusion_table(report)
    assert headers == ["actual ↓ / predicted →", "no", "yes"]
    new = pd.crosstab(frame["y_true"], frame["challenger_pred"])
    old = pd.crosstab(frame["y_true"], frame["champion_pred"])
    change = int(new.loc["yes", "yes"] - old.loc["yes", "yes"])
    assert rows[1][2] == f"{new.loc['yes', 'yes']} ({change:+d})"
    assert "change from the champion" in note


def test_curves_are_dropped_first_when_the_comment_would_be_too_long(second_runs):
    report = dict(second_runs["penguins"])
    many = {**report["curves"], "curves": report["curves"]["curves"] * 40}
    report["curves"] = many
    text = renderer("markdown")(report)
    assert len(text) <= markdown.COMMENT_CHARS
    assert "Curves left out to fit GitHub's 65,536-character comment limit" in text
    assert "```mermaid\n%%{init" not in text and "Confusion matrix" in text


def test_comment_and_report_html_render_in_chromium(second_runs, tmp_path):
    for name, report in second_runs.items():
        page = tmp_path / f"{name}.html"
        page.write_text(renderer("html")(report), encoding="utf-8")
        assert "<script" not in page.read_text()
        assert not re.search(r"(src|href)=\"?https?:", page.read_text())  # opens from disk
        assert page.read_text().count("<svg") >= 3  # forest plot, curves, drift bars
        shot = support.screenshot(page, tmp_path / f"{name}.png")
        assert support.ink(shot) > 0.03, f"{name}: report.html rendered (nearly) blank"
        comment = support.comment_page(renderer("markdown")(report), tmp_path / f"{name}-md.html")
        shot = support.screenshot(comment, tmp_path / f"{name}-md.png")
        assert support.ink(shot) > 0.02, f"{name}: the comment rendered (nearly) blank"


def test_blank_pages_are_told_apart(tmp_path):
    page = tmp_path / "blank.html"
    page.write_text("<!doctype html><html><body></body></html>")
    shot = support.screenshot(page, tmp_path / "blank.png", 400, 300)
    assert support.ink(shot) < 0.001
    assert support._ink_without_pil(shot.read_bytes()) == pytest.approx(support.ink(shot))


def test_a_bar_chart_refuses_negative_bars():
    from ci_ml.report import charts

    assert 'y-axis "x" 0 --> ' in charts.bar_chart("t", ["a"], [0.5], "x")
    with pytest.raises(ValueError, match="negative"):
        charts.bar_chart("t", ["a", "b"], [0.5, -0.1], "x")


def test_long_names_are_shortened_with_a_legend():
    from ci_ml.report import charts

    labels = charts.short_labels(["age", "flipper_length_mm", "flipper_length_cm"])
    assert labels.shown[0] == "age" and all(len(label) <= 12 for label in labels.shown)
    assert len(set(labels.shown)) == 3
    assert "flipper_l…2 = flipper_length_mm" in labels.legend


def test_first_run_and_invalid_data_reports_render_everywhere(tmp_path):
    project = tmp_path / "penguins"
    shutil.copytree(EXAMPLES / "penguins", project, ignore=shutil.ignore_patterns(".ci-ml"))
    _check(project)
    report = support.full_report(project)
    assert report["champion"] is None and report["changes"]["estimator"]["champion"] is None
    roles = {s["role"] for c in report["curves"]["curves"] for s in c["series"]}
    assert roles == {"baseline", "challenger"}  # the baseline's line, never a "champion"
    text, page = renderer("markdown")(report), renderer("html")(report)
    assert "Improvement over the champion" not in text  # no champion to compare with
    assert "Improvement over the baseline" in text and "Improvement over the baseline" in page
    curves = text.split("Curves from")[1].split("</details>")[0]
    assert "grey: baseline" in curves and "champion" not in curves
    assert "grey: baseline" in page and "grey: champion" not in page
    assert page.count("<svg") == 1 + 9  # the forest plot; ROC, PR, calibration x 3 classes
    (project / "data/eval.csv").write_text("species,island\n")
    _check(project)
    invalid = json_of(project / ".ci-ml/run/report.json")
    for name in ("markdown", "text", "html"):
        assert "invalid data" in renderer(name)(invalid)


def json_of(path: Path) -> dict[str, Any]:
    import json

    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_confusion_counts_are_scikit_learns_confusion_matrix() -> None:
    """Rows true, columns predicted, pairs outside the shown labels left out."""
    from sklearn.metrics import confusion_matrix

    rng = np.random.default_rng(0)
    for classes in (2, 3, 12):
        truth = rng.integers(0, classes, 3_000).astype(str)
        predicted = rng.integers(0, classes + 1, 3_000).astype(str)  # one label never true
        shown = sorted(set(truth.tolist()))[:10]
        expected = confusion_matrix(truth, predicted, labels=shown)
        assert curves.confusion_counts(truth, predicted, shown).tolist() == expected.tolist()


def test_confusion_counts_of_numbers_and_mixed_objects_are_those_of_their_text() -> None:
    """Labels compare as text: 1 and "1" are one label, 1.0 another; NaN is "nan"."""
    from sklearn.metrics import confusion_matrix

    rng = np.random.default_rng(1)
    numbers = rng.integers(0, 3, 2_000)
    mixed = np.array([1, "1", 1.0, "x", np.nan], dtype=object)[rng.integers(0, 5, 2_000)]
    for truth, predicted in ((numbers, rng.integers(0, 4, 2_000)), (mixed, mixed[::-1])):
        text_truth, text_predicted = truth.astype(str), predicted.astype(str)
        shown = sorted(set(text_truth.tolist()))
        expected = confusion_matrix(text_truth, text_predicted, labels=shown)
        assert curves.confusion_counts(truth, predicted, shown).tolist() == expected.tolist()
        values, counts = np.unique(text_truth, return_counts=True)
        by_count = [str(v) for v in values[np.argsort(-counts, kind="stable")]]
        assert curves._by_frequency(truth) == by_count
