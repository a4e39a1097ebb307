"""The `ci-ml` command line: parse, call a command, exit with its code.

Kept thin: each command lives in ci_ml/commands/ and heavy libraries are
imported only when a command runs, so `ci-ml --help` starts fast.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from ci_ml import __version__
from ci_ml.errors import ENVIRONMENT, CiMlError

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("text", "json", "markdown")  # ci_ml.output.FORMATS, kept here so --help imports nothing
REPORT_FORMATS = (*FORMATS, "html")  # the report also renders as a self-contained page


def workspace_options(func: F) -> F:
    func = click.option(
        "--run-dir",
        envvar="CI_ML_RUN_DIR",
        type=click.Path(file_okay=False),
        help="Run directory shared by the stages [default: .ci-ml/run beside the config].",
    )(func)
    func = click.option(
        "--config",
        "-c",
        "config_path",
        envvar="CI_ML_CONFIG",
        default="ci-ml.yaml",
        show_default=True,
        type=click.Path(dir_okay=False),
        help="The model's ci-ml.yaml.",
    )(func)
    return func


def format_option(formats: tuple[str, ...] = FORMATS, json_alias: bool = False) -> Callable[[F], F]:
    """The one `--format` of every command that reports something on stdout
    (docs/cli.md documents each command's JSON)."""

    def decorate(func: F) -> F:
        func = click.option(
            "--format",
            "output_format",
            type=click.Choice(formats),
            default="text",
            show_default=True,
            help="What stdout carries; progress messages go to stderr.",
        )(func)
        if json_alias:  # the flag before --format existed: hidden, still honoured
            func = click.option("--json", "output_format", flag_value="json", hidden=True)(func)
        return func

    return decorate


def publish_options(func: F) -> F:
    func = click.option(
        "--report-id",
        envvar="CI_ML_REPORT_ID",
        help="Names the sticky PR comment and the ci-ml/<id> status [default: the config path].",
    )(func)
    func = click.option(
        "--comment",
        envvar="CI_ML_COMMENT",
        type=click.Choice(["update", "recreate", "off"]),
        default="update",
        show_default=True,
        help="PR comment: edit in place, delete and post anew, or none.",
    )(func)
    func = click.option(
        "--github/--no-github",
        "github",
        default=None,
        help="Post the PR comment and status [default: on a pull request in GitHub Actions].",
    )(func)
    return func


def merge_options(func: F) -> F:
    """promote --from-artifact: the PR check's artifact and the merge, for the audit log."""
    options = [
        ("--trained-by", "CI_ML_TRAINED_BY", str, "Link of the check run that trained it."),
        ("--merged-by", "CI_ML_MERGED_BY", str, "Who merged the PR."),
        ("--merge-commit", "CI_ML_MERGE_COMMIT", str, "The PR's merge commit."),
        ("--pull-request", "CI_ML_PULL_REQUEST", click.IntRange(min=1), "The merged PR."),
        (
            "--expect-champion",
            "CI_ML_EXPECT_CHAMPION",
            click.IntRange(min=0),
            "The champion the check compared with (0: none); refused if the report differs.",
        ),
    ]
    for flag, envvar, kind, text in options:
        default = "" if kind is str else None
        func = click.option(flag, envvar=envvar, type=kind, default=default, help=text)(func)
    return click.option(
        "--from-artifact",
        envvar="CI_ML_FROM_ARTIFACT",
        type=click.Path(file_okay=False),
        help="The PR check's downloaded artifact (its run folder) to promote from.",
    )(func)


def _publish(github: bool | None, comment: str) -> Any:
    from ci_ml.github.plan import PublishOptions

    return PublishOptions(github, comment)


def _workspace(config_path: str, run_dir: str | None, report_id: str | None = None) -> Any:
    from ci_ml.workspace import open_workspace

    context = click.get_current_context(silent=True)
    registry = (context.find_root().obj or {}).get("registry") if context else None
    return open_workspace(config_path, run_dir, report_id, registry)


def _exit(code: int) -> None:
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ci-ml")
@click.option(
    "--registry",
    "registry_override",
    type=click.Choice(["local"]),
    envvar="CI_ML_REGISTRY",
    help="Use a local registry (registry.path, default .ci-ml/registry) whatever "
    "ci-ml.yaml names: an offline run on a laptop, with no GitHub or MLflow.",
)
@click.pass_context
def cli(ctx: click.Context, registry_override: str | None) -> None:
    """Continuous training for tabular models: validate the data, train a
    challenger, compare it with the champion, gate, report and promote.

    Exit codes: 0 passed, 1 a verdict (invalid data or the gate blocked),
    2 usage or config error, 3 environment error (missing file, corrupt
    artifact, unreachable API).
    """
    ctx.obj = {"registry": registry_override}


@cli.command()
@workspace_options
@publish_options
@click.option("--promote", "do_promote", is_flag=True, help="Promote the challenger if it wins.")
@format_option(REPORT_FORMATS)
def check(
    config_path: str,
    run_dir: str | None,
    github: bool | None,
    comment: str,
    report_id: str | None,
    do_promote: bool,
    output_format: str,
) -> None:
    """Run validate, train, evaluate, gate and report in one go."""
    from ci_ml.commands import check as command

    ws = _workspace(config_path, run_dir, report_id)
    _exit(command.run(ws, do_promote, output_format, _publish(github, comment)))


@cli.command()
@workspace_options
@format_option()
def validate(config_path: str, run_dir: str | None, output_format: str) -> None:
    """Check the data; writes validation.json."""
    from ci_ml.commands import validate as command

    _exit(command.run(_workspace(config_path, run_dir), output_format))


@cli.command()
@workspace_options
@format_option()
def train(config_path: str, run_dir: str | None, output_format: str) -> None:
    """Train the challenger; writes challenger/ (model file and model card)."""
    from ci_ml.commands import train as command

    _exit(command.run(_workspace(config_path, run_dir), output_format))


@cli.command()
@workspace_options
@format_option()
def evaluate(config_path: str, run_dir: str | None, output_format: str) -> None:
    """Score challenger and champion on the same rows; writes metrics.json."""
    from ci_ml.commands import evaluate as command

    _exit(command.run(_workspace(config_path, run_dir), output_format))


@cli.command()
@workspace_options
@format_option()
def gate(config_path: str, run_dir: str | None, output_format: str) -> None:
    """Judge the gate rules; writes decision.json (exit 1 when blocked)."""
    from ci_ml.commands import gate as command

    _exit(command.run(_workspace(config_path, run_dir), output_format))


@cli.command()
@workspace_options
@publish_options
@format_option(REPORT_FORMATS)
def report(
    config_path: str,
    run_dir: str | None,
    github: bool | None,
    comment: str,
    report_id: str | None,
    output_format: str,
) -> None:
    """Write report.json and report.md, publish them, print the report.

    Exit 0 when the verdict is promote, else 1. On a pull request in GitHub
    Actions it also posts the sticky comment and the commit status.
    """
    from ci_ml.commands import report as command

    ws = _workspace(config_path, run_dir, report_id)
    _exit(command.run(ws, output_format, _publish(github, comment)))


@cli.command("post-comment")
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
def post_comment(folder: str) -> None:
    """Post a comment saved by a fork PR's run (for a workflow_run job with write access).

    FOLDER holds comment.md and comment-meta.json from the run directory's
    comment/ folder, downloaded from the PR run's artifact.
    """
    from ci_ml.commands import post_comment as command

    _exit(command.run(folder))


@cli.command("retrain-pr")
@click.option(
    "--run-dir", envvar="CI_ML_RUN_DIR", default=".ci-ml/run", type=click.Path(file_okay=False)
)
@click.option(
    "--artifact-url", envvar="CI_ML_ARTIFACT_URL", default="", help="Where the run is kept."
)
def retrain_pr(run_dir: str, artifact_url: str) -> None:
    """Open the retrain's pull request (once per data); if GitHub refuses it, one issue
    explains the repository setting and links the kept model and its report."""
    from ci_ml.commands import retrain_pr as command

    _exit(command.run(run_dir, artifact_url))


@cli.command("find-check")
@workspace_options
@click.option("--sha", envvar="CI_ML_HEAD_SHA", required=True, help="The PR's head commit.")
def find_check(config_path: str, run_dir: str | None, sha: str) -> None:
    """The PR check run that gated SHA (its ci-ml/<report id> status): outputs run-id and
    run-url for downloading its artifact; exit 1 if that check did not pass."""
    from ci_ml.commands import find_check as command

    _exit(command.run(_workspace(config_path, run_dir), sha))


@cli.command("failure-issue")
@click.option("--message", default="", help="More to say than the run's link.")
def failure_issue(message: str) -> None:
    """Open, or comment on, the one issue collecting failed retraining runs."""
    from ci_ml.commands import failure_issue as command

    _exit(command.run(message))


@cli.command()
@workspace_options
@click.option("--force", is_flag=True, help="Promote even if the verdict is not promote.")
@click.option("--reason", default="", help="Why, for the audit log.")
@format_option()
@merge_options
def promote(
    config_path: str,
    run_dir: str | None,
    force: bool,
    reason: str,
    output_format: str,
    from_artifact: str | None,
    expect_champion: int | None,
    **merge: Any,
) -> None:
    """Register the challenger and make it the champion (compare-and-swap).

    With --from-artifact: the model a merged PR's check trained and gated, from that
    check's artifact; re-gated first if the champion moved since the check."""
    from ci_ml.commands import promote as command

    if from_artifact is None:
        _exit(command.run(_workspace(config_path, run_dir), force, reason, output_format))
    from ci_ml.stages.reviewed import Merge

    ws = _workspace(config_path, from_artifact)
    _exit(command.run_reviewed(ws, expect_champion, Merge(**merge), output_format))


@cli.command()
@workspace_options
@click.option("--to", "to", type=click.IntRange(min=1), help="Version to restore.")
@click.option("--reason", default="", help="Why, for the audit log.")
@format_option()
def rollback(
    config_path: str, run_dir: str | None, to: int | None, reason: str, output_format: str
) -> None:
    """Restore the previous champion (or --to a version) and log it."""
    from ci_ml.commands import rollback as command

    _exit(command.run(_workspace(config_path, run_dir), to, reason, output_format))


@cli.command()
@workspace_options
@click.option(
    "--data", type=click.Path(dir_okay=False), help="File to check [default: data.train]."
)
@format_option()
def drift(config_path: str, run_dir: str | None, data: str | None, output_format: str) -> None:
    """Compare data with the champion's training profile (exit 1 when it drifted)."""
    from ci_ml.commands import drift as command

    _exit(command.run(_workspace(config_path, run_dir), data, output_format))


@cli.group()
def schema() -> None:
    """Data schemas for `validation:`."""


@schema.command("infer")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write YAML here.")
@click.option("--force", is_flag=True, help="Overwrite --output if it exists.")
@format_option()
def schema_infer(data: str, output: str | None, force: bool, output_format: str) -> None:
    """Write a data schema inferred from a trusted CSV or Parquet file (text: YAML)."""
    from ci_ml.commands import schema as command

    _exit(command.infer(data, output, force, output_format))


@cli.command()
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--target", "-t", required=True, help="The column to predict.")
@click.option("--eval", "eval_file", help="A fixed held-out data file (else a seeded split).")
@click.option(
    "--task",
    type=click.Choice(["classification", "regression"]),
    help="Override the task inferred from the target column.",
)
@click.option("--name", help="Model name in the registry [default: the folder's name].")
@click.option(
    "--dir",
    "folder",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where ci-ml.yaml goes.",
)
@click.option(
    "--config",
    "-c",
    "config_name",
    default="ci-ml.yaml",
    show_default=True,
    help="File name of the config written.",
)
@click.option(
    "--workflows/--no-workflows",
    default=True,
    show_default=True,
    help="Also write the workflows into .github/workflows/ of the repository.",
)
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
def init(
    data: str,
    target: str,
    eval_file: str | None,
    task: str | None,
    name: str | None,
    folder: str,
    config_name: str,
    workflows: bool,
    force: bool,
) -> None:
    """Write ci-ml.yaml inferred from DATA and the GitHub workflows (never overwrites
    without --force)."""
    from ci_ml.commands import init as command

    _exit(command.run(data, target, folder, config_name, eval_file, name, task, workflows, force))


@cli.group()
def registry() -> None:
    """Inspect the model registry."""


@registry.command("list")
@workspace_options
@format_option(json_alias=True)
def registry_list(config_path: str, run_dir: str | None, output_format: str) -> None:
    """Every version, the champion starred."""
    from ci_ml.commands import registry as command

    _exit(command.list_versions(_workspace(config_path, run_dir), output_format))


@registry.command("show")
@workspace_options
@click.argument("version", type=click.IntRange(min=1), required=False)
@format_option(json_alias=True)
def registry_show(
    config_path: str, run_dir: str | None, version: int | None, output_format: str
) -> None:
    """A version's model card (default: the champion); the whole card with --format json."""
    from ci_ml.commands import registry as command

    _exit(command.show(_workspace(config_path, run_dir), version, output_format))


@registry.command("history")
@workspace_options
@format_option(json_alias=True)
def registry_history(config_path: str, run_dir: str | None, output_format: str) -> None:
    """The audit log: every promotion and rollback."""
    from ci_ml.commands import registry as command

    _exit(command.history(_workspace(config_path, run_dir), output_format))


@registry.command("pull")
@workspace_options
@click.option(
    "--version", "number", type=click.IntRange(min=1), help="A version [default: the champion]."
)
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(file_okay=False),
    help="Folder to write the model file, model-card.json and pulled.json to.",
)
@format_option(json_alias=True)
def registry_pull(
    config_path: str, run_dir: str | None, number: int | None, output: str, output_format: str
) -> None:
    """Fetch the champion (or a version) with its card, verified against the registry;
    exit 3 on any mismatch."""
    from pathlib import Path

    from ci_ml.commands import registry as command

    _exit(command.pull(_workspace(config_path, run_dir), Path(output), number, output_format))


def main(argv: list[str] | None = None) -> int:
    """Entry point: one handler maps every user-facing error to its exit code."""
    try:
        cli.main(args=argv, prog_name="ci-ml", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else 0
    except CiMlError as exc:
        click.echo(f"ci-ml: error: {exc.message}", err=True)
        return exc.exit_code
    except Exception as exc:
        traceback.print_exc()
        click.echo(f"ci-ml: internal error: {type(exc).__name__}: {exc} (a bug)", err=True)
        return ENVIRONMENT
    return 0


def run() -> NoReturn:
    """The `ci-ml` command (and `python -m ci_ml`): main(), then leave at once."""
    leave(main())


def leave(code: int) -> NoReturn:
    """Exit without the interpreter's teardown, which frees scikit-learn's, SciPy's and
    pandas' modules one object at a time: 0.3 s at the end of every run, a tenth of a
    10,000-row check (benchmarks/README.md; the way Instagram's Django workers left).
    First what the teardown would have done that matters: threading's shutdown (thread
    pools finish their work, threads are joined), the atexit handlers (logging's flush
    among them), the standard streams flushed."""
    import atexit
    import os
    import threading

    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is None:  # not CPython's threading: the usual way out
        sys.exit(code)
    shutdown()
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: as Python itself exits then
        code = code or 120
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
