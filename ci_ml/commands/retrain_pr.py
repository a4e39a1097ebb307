"""`ci-ml retrain-pr`: open the weekly retrain's pull request, or the issue saying why not."""

from __future__ import annotations

import sys
from pathlib import Path

from ci_ml.environment import Environment
from ci_ml.errors import PASSED, EnvironmentProblem
from ci_ml.github.client import CallContext, ClientOptions, make_client
from ci_ml.github.retrain import PR_SETTING, ProposalResult, RetrainProposal, propose_retrain
from ci_ml.github.runner import annotation, write_outputs
from ci_ml.records import Report, ValidationRecord
from ci_ml.rundir import RunDir
from ci_ml.workspace import say


def run(
    run_dir: str,
    artifact_url: str = "",
    env: Environment | None = None,
    options: ClientOptions | None = None,
) -> int:
    env = env or Environment.from_os()
    settings = env.github
    if not settings.repository:
        raise EnvironmentProblem("retrain-pr: GITHUB_REPOSITORY is not set (owner/name)")
    proposal = _proposal(RunDir(Path(run_dir)), env, artifact_url)
    context = CallContext.of(settings, options)
    repo = make_client(settings, context.options, lazy=True).get_repo(settings.repository)
    result = propose_retrain(repo, proposal, context)
    _say(result, proposal)
    if env.output_path:
        write_outputs(env.output_path, {"pull-request": _pull(result), "issue": _issue(result)})
    return PASSED


def _proposal(run: RunDir, env: Environment, artifact_url: str) -> RetrainProposal:
    report, validation = run.load(Report), run.load(ValidationRecord)
    if not validation.data_hash:
        raise EnvironmentProblem(
            f"{run.path_of(ValidationRecord)}: data_hash: expected a hash, found none"
        )
    base = env.ref_name
    head = env.commit
    if not base or not head:
        raise EnvironmentProblem(
            "retrain-pr: GITHUB_REF_NAME and GITHUB_SHA must name the retrained branch and commit"
        )
    card, markdown = run.challenger_card, run.report_markdown
    files = {
        f"models/{report.name}/{card.name}": _read(card),
        f"models/{report.name}/{markdown.name}": _read(markdown),
    }
    return RetrainProposal(
        name=report.name,
        reason=report.reason,
        data_hash=validation.data_hash,
        base=base,
        head_sha=head,
        files=files,
        report_markdown=_read(markdown).decode("utf-8", errors="replace"),
        run_url=env.github.run_url,
        artifact_url=artifact_url,
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise EnvironmentProblem(
            f"{path}: cannot read it ({error.strerror}); run train and report first"
        ) from error


def _say(result: ProposalResult, proposal: RetrainProposal) -> None:
    if result.action == "exists":
        say(f"retrain-pr: pull request #{result.number} already carries this data: nothing new")
    elif result.action == "opened":
        say(f"retrain-pr: opened pull request #{result.number} ({result.url})")
    else:
        verb = "opened" if result.issue and result.issue.action == "opened" else "updated"
        text = (
            f"GitHub refused to open the pull request for {proposal.branch}: turn on "
            f"{PR_SETTING}. The model is kept; {verb} issue #{result.number} ({result.url})"
        )
        print(annotation("warning", text, title="ci-ml"), file=sys.stderr, flush=True)


def _pull(result: ProposalResult) -> str:
    return "" if result.action == "refused" else str(result.number)


def _issue(result: ProposalResult) -> str:
    return str(result.number) if result.action == "refused" else ""
