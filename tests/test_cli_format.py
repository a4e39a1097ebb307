"""`--format text|json|markdown` on every command that reports something.

Each command runs once per format on a real project: JSON parses (and matches
its record's schema where one exists), markdown renders as GitHub-flavoured
markdown with no raw HTML, text is not empty, each carries what a user checks,
and the exit code does not depend on the format.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import cmarkgfm
import jsonschema
from cmarkgfm.cmark import Options

from tests.conftest import Result

FORMATS = ("text", "json", "markdown")
RAW_HTML = "raw HTML omitted"  # what cmark puts where markdown held a tag


@dataclass(frozen=True)
class Rendered:
    code: int
    data: Any
    text: str
    html: str


def run_formats(run_cli: Callable[..., Result], project: Path, *args: str) -> Rendered:
    results = {f: run_cli(*args, "--format", f, cwd=project) for f in FORMATS}
    codes = {f: r.code for f, r in results.items()}
    assert len(set(codes.values())) == 1, (codes, results["text"].err)
    text = results["text"].out
    assert text.strip(), f"{args}: text output is empty"
    headline = text.splitlines()[0]
    assert headline not in results["text"].err, f"{args}: {headline!r} is printed twice"
    markdown = results["markdown"].out
    html = cmarkgfm.github_flavored_markdown_to_html(markdown)
    assert RAW_HTML not in html, markdown
    return Rendered(codes["text"], json.loads(results["json"].out), text, html)


def schema(name: str) -> dict[str, Any]:
    text = resources.files("ci_ml").joinpath("schemas", f"{name}.schema.json").read_text()
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def cli_shape(name: str) -> dict[str, Any]:
    """A command's JSON as docs/cli.md and ci_ml/schemas/cli.schema.json describe it."""
    return schema("cli") | {"$ref": f"#/$defs/{name}"}


def test_every_stage_command_in_every_format(
    run_cli: Callable[..., Result], example: Callable[[str], Path]
) -> None:
    project = example("penguins")

    validated = run_formats(run_cli, project, "validate")
    assert validated.code == 0 and validated.data["passed"] is True
    jsonschema.validate(validated.data, schema("validation"))
    assert "data ok" in validated.text and "data ok" in validated.html

    trained = run_formats(run_cli, project, "train")
    estimator = "sklearn.ensemble.RandomForestClassifier"
    assert trained.code == 0 and trained.data["estimator"] == estimator
    assert trained.data["data"]["train"]["rows_used"] == 161
    jsonschema.validate(trained.data, cli_shape("train"))
    assert estimator in trained.text and "<table>" in trained.html and "161" in trained.html

    scored = run_formats(run_cli, project, "evaluate")
    assert scored.code == 0 and scored.data["champion"] is None
    jsonschema.validate(scored.data, schema("evaluation"))
    assert set(scored.data["metrics"]) == {"f1_macro", "accuracy", "neg_log_loss"}
    assert "f1_macro" in scored.text and "<td>f1_macro</td>" in scored.html

    judged = run_formats(run_cli, project, "gate")
    assert judged.code == 0 and judged.data["verdict"] == "promote"
    jsonschema.validate(judged.data, schema("decision"))
    assert "gate: promote" in judged.text and "gate: promote" in judged.html
    assert "accuracy 1 is &gt;= 0.9" in judged.html  # escaped, not a tag

    _report_in_every_format(run_cli, project, "report")

    promoted = run_formats(run_cli, project, "promote")
    assert promoted.code == 0 and promoted.data["version"] == 1
    assert promoted.data["promoted"] is True and promoted.data["verdict"] == "promote"
    jsonschema.validate(promoted.data, cli_shape("promote"))
    assert "version 1" in promoted.text and "version 1" in promoted.html


def _report_in_every_format(run_cli: Callable[..., Result], project: Path, *args: str) -> None:
    results = {f: run_cli(*args, "--format", f, cwd=project) for f in FORMATS}
    assert {r.code for r in results.values()} == {0}, results["text"].err
    data = json.loads(results["json"].out)
    jsonschema.validate(data, schema("report"))
    assert data["verdict"] == "promote"
    assert "promote" in results["text"].out.lower()
    # the report's markdown is the PR comment: its <details> sections are HTML on purpose
    html = cmarkgfm.github_flavored_markdown_to_html(
        results["markdown"].out, options=Options.CMARK_OPT_UNSAFE
    )
    assert "<table>" in html and "promote" in html.lower()
    page = run_cli(*args, "--format", "html", cwd=project)
    assert page.code == 0 and page.out.startswith("<!doctype html>")


def test_registry_drift_rollback_and_check_in_every_format(
    run_cli: Callable[..., Result], example: Callable[[str], Path]
) -> None:
    project = example("penguins")
    empty = run_formats(run_cli, project, "registry", "list")
    assert empty.code == 0 and empty.data == {"champion": None, "versions": []}
    assert "no versions yet" in empty.text
    jsonschema.validate(empty.data, cli_shape("registry_list"))
    nothing = run_formats(run_cli, project, "drift")
    assert nothing.code == 0 and nothing.data["champion"] is None
    assert "no champion yet" in nothing.text
    jsonschema.validate(nothing.data, cli_shape("drift"))

    _report_in_every_format(run_cli, project, "check", "--promote")
    assert run_cli("check", "-c", "ci-ml.fresh.yaml", "--promote", cwd=project).code == 0

    listed = run_formats(run_cli, project, "registry", "list")
    assert listed.data["champion"] == 2
    assert [v["version"] for v in listed.data["versions"]] == [1, 2]
    assert "★" in listed.text and "<td>★</td>" in listed.html
    jsonschema.validate(listed.data, cli_shape("registry_list"))

    shown = run_formats(run_cli, project, "registry", "show", "1")
    assert shown.data["version"] == 1 and len(shown.data["sha256"]) == 64
    assert shown.data["card"]["estimator"] == "sklearn.ensemble.RandomForestClassifier"
    assert "version 1" in shown.text and "version 1" in shown.html
    jsonschema.validate(shown.data, cli_shape("registry_show"))

    drifted = run_formats(run_cli, project, "drift")
    assert drifted.code in (0, 1) and drifted.data["champion"] == 2
    assert {c["column"] for c in drifted.data["columns"]} >= {"island", "bill_length_mm"}
    assert "champion version 2" in drifted.text and "<td>island</td>" in drifted.html
    jsonschema.validate(drifted.data, cli_shape("drift"))

    # distinct reasons: two identical entries in one second are one entry to the local
    # registry's crash-safe append
    back = run_cli("rollback", "--reason", "one", "--format", "json", cwd=project)
    restored = json.loads(back.out)
    assert back.code == 0 and (restored["version"], restored["previous"]) == (1, 2)
    assert "rollback: version 1 is the champion again" in back.err  # stdout is the JSON
    jsonschema.validate(restored, cli_shape("rollback"))
    forth = run_cli("rollback", "--to", "2", "--reason", "two", "--format", "markdown", cwd=project)
    assert forth.code == 0 and RAW_HTML not in cmarkgfm.github_flavored_markdown_to_html(forth.out)
    assert "version 2 is the champion again (was version 1)" in forth.out
    again = run_cli("rollback", "--to", "1", "--reason", "three", cwd=project)
    assert again.code == 0 and "version 1 is the champion again" in again.out

    history = run_formats(run_cli, project, "registry", "history")
    events = [(e["event"], e["version"]) for e in history.data["audit"]]
    promotions = [("promote", 1), ("promote", 2)]
    assert events == [*promotions, ("rollback", 1), ("rollback", 2), ("rollback", 1)]
    assert "rollback" in history.text and "<td>rollback</td>" in history.html
    jsonschema.validate(history.data, cli_shape("registry_history"))


def test_a_blocked_gate_and_invalid_data_keep_exit_1_in_every_format(
    run_cli: Callable[..., Result], example: Callable[[str], Path]
) -> None:
    project = example("penguins")
    config = (project / "ci-ml.yaml").read_text()
    strict = config.replace("{metric: accuracy, min: 0.90}", "{metric: accuracy, min: 1.01}")
    (project / "strict.yaml").write_text(strict)
    assert run_cli("train", cwd=project).code == 0
    assert run_cli("evaluate", cwd=project).code == 0
    blocked = run_formats(run_cli, project, "gate", "-c", "strict.yaml")
    assert blocked.code == 1 and blocked.data["verdict"] == "block"
    assert "gate: block" in blocked.text and "<td>fail</td>" in blocked.html

    (project / "data" / "empty.csv").write_text("species,island\n")
    (project / "bad.yaml").write_text(config.replace("data/train.csv", "data/empty.csv"))
    invalid = run_formats(run_cli, project, "validate", "-c", "bad.yaml")
    assert invalid.code == 1 and invalid.data["passed"] is False
    message = invalid.data["failures"][0]["message"]
    assert "empty.csv" in message and "empty.csv" in invalid.text
    assert "the data is invalid" in invalid.html


def test_schema_infer_prints_yaml_json_or_a_table(
    run_cli: Callable[..., Result], example: Callable[[str], Path]
) -> None:
    project = example("penguins")
    inferred = run_formats(run_cli, project, "schema", "infer", "data/train.csv")
    assert inferred.code == 0
    assert inferred.data["columns"]["species"]["allowed"] == ["Adelie", "Chinstrap", "Gentoo"]
    jsonschema.validate(inferred.data, schema("data-schema"))
    assert "species:" in inferred.text and "version: 1" in inferred.text  # the YAML to save
    assert "<td>species</td>" in inferred.html
    both = run_cli(
        "schema", "infer", "data/train.csv", "-o", "s.yaml", "--format", "json", cwd=project
    )
    assert both.code == 2 and "--output writes it as YAML" in both.err
    assert not (project / "s.yaml").exists()


def test_json_is_a_hidden_alias_and_format_is_checked(
    run_cli: Callable[..., Result], example: Callable[[str], Path]
) -> None:
    project = example("penguins")
    assert run_cli("check", "--promote", cwd=project).code == 0
    for command in ("list", "show", "history"):
        alias = run_cli("registry", command, "--json", cwd=project)
        assert alias.code == 0
        assert json.loads(alias.out) == json.loads(
            run_cli("registry", command, "--format", "json", cwd=project).out
        )
    shown = run_cli("registry", "show", cwd=project)  # text by default now
    assert shown.code == 0 and shown.out.startswith("version 1: ")
    help_text = run_cli("registry", "list", "--help", cwd=project).out
    assert "--format" in help_text and "--json" not in help_text
    from ci_ml import cli, output

    assert cli.FORMATS == output.FORMATS  # the CLI's choices without importing the reporters
    wrong = run_cli("gate", "--format", "yaml", cwd=project)
    assert wrong.code == 2 and "yaml" in wrong.err


def test_markdown_escapes_what_data_could_smuggle_into_a_table() -> None:
    from ci_ml.output import Output, reporter

    output = Output({}, "a <b>headline</b>", ["column", "reason"], [["<img src=x>", "a | b"]])
    html = cmarkgfm.github_flavored_markdown_to_html(reporter("markdown")(output))
    assert RAW_HTML not in html and "<img" not in html
    assert html.count("<td>") == 2 and "a | b" in html
    assert reporter("text")(output).splitlines()[0] == "a <b>headline</b>"
