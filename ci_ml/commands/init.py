"""`ci-ml init`: set a repository up, a ci-ml.yaml inferred from a data file and the
ready-to-copy workflows under .github/workflows/.

Nothing is overwritten without --force, and nothing at all is written when one
target exists: the command checks every target first.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from ci_ml import __version__
from ci_ml.environment import Environment
from ci_ml.errors import PASSED, ConfigError
from ci_ml.github.remote import github_remote
from ci_ml.workspace import say, shown_path

# The workflows ci-ml init writes: template name -> file name in .github/workflows/.
WORKFLOWS = {
    "pr-check.yml": "ci-ml-pr-check.yml",
    "weekly-retrain.yml": "ci-ml-weekly-retrain.yml",
    "comment-from-fork.yml": "ci-ml-comment-from-fork.yml",
    "promote-on-merge.yml": "ci-ml-promote-on-merge.yml",
}
SCHEMA_FILE = "data-schema.yaml"
CLASSES_AT_MOST = 20  # an integer target with at most this many values is a class label
_NAME = re.compile(r"[^A-Za-z0-9._-]+")
# The config schema as published with this version's release tag, for editors.
SCHEMA_URL = (
    "https://raw.githubusercontent.com/ci-ml/ci-ml/v{version}/ci_ml/schemas/config.schema.json"
)


@dataclass(frozen=True)
class Task:
    name: str  # classification or regression
    why: str


@dataclass(frozen=True)
class Registry:
    backend: str  # local or github-releases
    why: str


def choose_registry(repo: Path) -> Registry:
    """github-releases where CI runs on GitHub (a hosted runner starts empty, so a local
    registry would never hold a champion there); local elsewhere."""
    repository = Environment.from_os().variables.get("GITHUB_REPOSITORY")
    if repository:
        return Registry("github-releases", f"GITHUB_REPOSITORY is {repository}")
    remote = github_remote(repo)
    if remote:
        return Registry("github-releases", f"the git remote {remote} is on GitHub")
    return Registry("local", "no GitHub remote found")


def registry_block(registry: Registry) -> str:
    if registry.backend == "github-releases":
        return (
            f"registry:  # chosen by ci-ml init: {registry.why}\n"
            "  # The champion lives in this repository's releases and the branch\n"
            "  # ci-ml/<name>/registry, so every CI job finds it; a local folder starts\n"
            "  # empty on each hosted runner. Reading needs a token (GITHUB_TOKEN).\n"
            "  backend: github-releases\n"
        )
    return (
        f"registry:  # chosen by ci-ml init: {registry.why}\n"
        "  # On GitHub use backend: github-releases: a hosted runner starts empty, so a\n"
        "  # local registry would never hold a champion there.\n"
        "  backend: local\n"
        "  path: .ci-ml/registry\n"
    )


def template(name: str) -> str:
    return resources.files("ci_ml").joinpath("templates", name).read_text(encoding="utf-8")


def infer_task(frame: Any, target: str) -> Task:
    """classification for text, boolean or categorical targets and for integers with
    few distinct values; regression otherwise."""
    from pandas.api import types

    column = frame[target]
    distinct = int(column.nunique(dropna=True))
    if types.is_bool_dtype(column) or not types.is_numeric_dtype(column):
        return Task("classification", f"{target} is not numeric ({distinct} classes)")
    if types.is_integer_dtype(column) and distinct <= CLASSES_AT_MOST:
        return Task("classification", f"{target} holds {distinct} distinct integers")
    return Task("regression", f"{target} is numeric with {distinct} distinct values")


def _columns_comment(frame: Any, target: str) -> str:
    from pandas.api import types

    kinds = []
    for name in frame.columns:
        column = frame[name]
        kind = "number" if types.is_numeric_dtype(column) else "text"
        missing = int(column.isna().sum())
        note = f", {missing} missing" if missing else ""
        role = " (target)" if name == target else ""
        kinds.append(f"#   {name}: {kind}{note}{role}")
    return "  # columns found in the data file:\n  " + "\n  ".join(kinds)


def render_config(
    frame: Any,
    data_file: str,
    target: str,
    name: str,
    task: Task,
    eval_file: str | None,
    registry: Registry,
) -> str:
    classification = task.name == "classification"
    metrics = (
        ["f1_macro", "accuracy"]
        if classification
        else ["neg_root_mean_squared_error", "r2", "neg_mean_absolute_error"]
    )
    floor = proposed_floor(frame, target, task.name, data_file)
    estimator = "sklearn.ensemble." + (
        "RandomForestClassifier" if classification else "RandomForestRegressor"
    )
    text = Template(template("ci-ml.yaml.tmpl")).substitute(
        data_file=data_file,
        name=name,
        task=task.name,
        task_why=task.why,
        train=data_file,
        eval_line=f"  eval: {eval_file}\n"
        if eval_file
        else "  # eval: data/eval.csv  # a fixed held-out file; else a seeded split of train\n",
        target=target,
        schema_comment=_columns_comment(frame, target),
        estimator=estimator,
        metrics="[" + ", ".join(metrics) + "]",
        primary=metrics[0],
        floor_rule=floor,
        registry=registry_block(registry),
        schema_url=SCHEMA_URL.format(version=__version__),
    )
    return (
        text
        + f"validation:\n  schema_file: {SCHEMA_FILE}  # inferred from {data_file}: review it\n"
    )


def proposed_floor(frame: Any, target: str, task: str, data_file: str) -> str:
    """An absolute floor a little above what the trivial baseline scores on the data
    file (majority class / mean), so a model that learned nothing cannot pass it."""
    y = frame[target].dropna()
    if task == "classification":
        majority = float(y.value_counts(normalize=True).iloc[0])
        floor = _ceil(majority + max(0.01, (1 - majority) / 4), 3)
        return (
            f"  - {{metric: accuracy, min: {floor:g}}}  # predicting the majority class scores "
            f"{majority:.4g} on {data_file}; this floor is that plus a margin: raise it to "
            "what the model must reach"
        )
    spread = float(y.std(ddof=0))
    floor = _ceil(spread * 0.95, 4, significant=True)
    return (
        f"  - {{metric: root_mean_squared_error, max: {floor:g}}}  # predicting the mean "
        f"scores {spread:.4g} on {data_file}; this cap is 5% below it: lower it to what the "
        "model must reach"
    )


def _ceil(value: float, digits: int, significant: bool = False) -> float:
    """Rounded away from the baseline: up for a floor (down for a cap: `significant`)."""
    import math

    if significant:
        digits = max(0, digits - 1 - math.floor(math.log10(abs(value)))) if value else digits
        return math.floor(value * 10**digits) / 10**digits
    return min(1.0, math.ceil(value * 10**digits) / 10**digits)


def _data_schema(data: Path) -> str:
    from ci_ml.validation import dump_schema_yaml, infer_schema

    return dump_schema_yaml(infer_schema(data))


def repository_root(folder: Path) -> Path:
    """The enclosing git repository (where .github/ belongs), else the folder itself."""
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").exists():
            return candidate
    return folder


def workflow_text(name: str, config_from_root: str) -> str:
    text = template(f"workflows/{name}")
    if config_from_root != "ci-ml.yaml":
        text = text.replace("|| 'ci-ml.yaml' }}", f"|| '{config_from_root}' }}}}")
    return text


def run(
    data: str,
    target: str,
    folder: str = ".",
    config_name: str = "ci-ml.yaml",
    eval_file: str | None = None,
    name: str | None = None,
    task: str | None = None,
    workflows: bool = True,
    force: bool = False,
) -> int:
    from ci_ml.data import read_table

    root = Path(folder).resolve()
    data_path = Path(data).resolve()  # paths on the command line: from the current folder
    frame = read_table(data_path)
    if target not in frame.columns:
        raise ConfigError(
            f"--target {target!r}: no such column in {data}; "
            f"found {', '.join(map(str, frame.columns))}"
        )
    eval_ref = None
    if eval_file is not None:
        if not Path(eval_file).is_file():
            raise ConfigError(f"--eval {eval_file}: no such file")
        eval_ref = Path(os.path.relpath(Path(eval_file).resolve(), root)).as_posix()
    inferred = infer_task(frame, target)
    chosen = Task(task, "given by --task") if task else inferred
    model_name = name or _NAME.sub("-", root.name).strip("-._") or "model"
    config_path = root / config_name
    data_ref = Path(os.path.relpath(data_path, root)).as_posix()

    registry = choose_registry(repository_root(root))
    targets: dict[Path, str] = {
        config_path: render_config(frame, data_ref, target, model_name, chosen, eval_ref, registry),
        root / SCHEMA_FILE: _data_schema(data_path),
    }
    if workflows:
        repo = repository_root(root)
        config_from_root = Path(os.path.relpath(config_path, repo)).as_posix()
        for template_name, file_name in WORKFLOWS.items():
            targets[repo / ".github" / "workflows" / file_name] = workflow_text(
                template_name, config_from_root
            )
    existing = [path for path in targets if path.exists()]
    if existing and not force:
        names = ", ".join(shown_path(p) for p in existing)
        verb = "exists" if len(existing) == 1 else "exist"
        raise ConfigError(f"{names} already {verb}; ci-ml init overwrites only with --force")
    for path, text in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        say(f"init: wrote {shown_path(path)}")
    _ignore_run_files(repository_root(root))
    say(f"init: registry {registry.backend} ({registry.why})")
    say(
        f"init: {chosen.name} of {target!r} ({chosen.why}); try it with "
        f"`ci-ml check -c {Path(os.path.relpath(config_path)).as_posix()}`"
    )
    return PASSED


def _ignore_run_files(repo: Path) -> None:
    """Keep the run directory and the local registry out of git."""
    ignore = repo / ".gitignore"
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.is_file() else []
    if not any(line.strip() in (".ci-ml/", ".ci-ml", "/.ci-ml/") for line in lines):
        with ignore.open("a", encoding="utf-8") as handle:
            if lines and lines[-1] != "":
                handle.write("\n")
            handle.write(".ci-ml/\n")
        say(f"init: added .ci-ml/ to {shown_path(ignore)}")
