"""Load ci-ml.yaml, validate it against the shipped JSON Schema, apply defaults.

Every error names the key path, what was expected and what was found, e.g.
``gate[1].min: expected a number, got 'high'`` -- and the line in the file.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

from ci_ml.engines.settings import EngineConfig, parse_engine, refuse_unwired
from ci_ml.errors import ConfigError, EnvironmentProblem
from ci_ml.events import EventsConfig, parse_events

DEFAULT_CONFIG = "ci-ml.yaml"

_TYPE_NAMES = {
    "number": "a number",
    "integer": "an integer",
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
    "boolean": "true or false",
    "null": "null",
}


@dataclass(frozen=True)
class DataConfig:
    train: Path
    target: str
    eval: Path | None = None
    features: tuple[str, ...] | None = None
    drop: tuple[str, ...] = ()
    eval_fraction: float = 0.25
    seed: int = 0
    pos_label: str | int | bool | None = None  # the positive class of binary metrics
    # train / eval as written (a path, a URI or `table:name`), for an engine to read
    written: dict[str, str] = field(default_factory=dict)


DEFAULT_COMMAND_TIMEOUT = 5 * 3600.0


@dataclass(frozen=True)
class ModelConfig:
    estimator: str | None
    params: dict[str, Any]
    preprocessing: str = "auto"
    command: tuple[str, ...] | None = None
    format: str = "auto"
    # model.command's limit in seconds: under GitHub-hosted runners' 6-hour job limit, so a
    # hung command fails with ci-ml's own message instead of the job being cancelled
    timeout: float = DEFAULT_COMMAND_TIMEOUT
    # variables masked in a failure's quoted output beyond those named like credentials
    secret_env: tuple[str, ...] = ()


@dataclass(frozen=True)
class BaselineConfig:
    """`evaluation.baseline`: with no champion, the trivial model the challenger must beat."""

    enabled: bool = True
    strategy: str = "auto"  # auto: prior (classification) or mean (regression)
    require: str = "better"  # better (with confidence), not_worse (point estimate) or off


@dataclass(frozen=True)
class EvaluationConfig:
    """How the contenders are compared; see the `evaluation:` section of the schema."""

    confidence: float = 0.95
    resamples: int = 1000
    seed: int = 0
    min_rows: int = 30
    mcnemar: bool = True
    multiple_testing: str = "holm"
    slice_by: tuple[str, ...] = ()
    min_slice_rows: int = 30
    bootstrap: str = "percentile"  # or "poisson" (hashed row-key weights; see ci_ml.engines)
    row_key: tuple[str, ...] = ()
    baseline: BaselineConfig = BaselineConfig()


BoundKind = Literal["min", "max"]
ChangeKind = Literal["min_delta", "max_delta", "max_regression", "min_relative_delta"]
BudgetKind = Literal["max", "max_ratio"]
BOUND_KINDS: tuple[BoundKind, ...] = ("min", "max")
CHANGE_KINDS: tuple[ChangeKind, ...] = (
    "min_delta",
    "max_delta",
    "max_regression",
    "min_relative_delta",
)
BUDGET_KINDS: tuple[BudgetKind, ...] = ("max", "max_ratio")


@dataclass(frozen=True)
class BoundRule:
    """`min` / `max` on the challenger's own value, in the metric's displayed units."""

    index: int  # position in `gate:`; one entry may hold several bounds
    metric: str  # scorer name, resolved at load (`log_loss` -> `neg_log_loss`)
    kind: BoundKind
    threshold: float
    confidence: float | None = None
    slice_by: str | None = None


@dataclass(frozen=True)
class ChangeRule:
    """A bound on the improvement over the champion (scorer units: higher is better)."""

    index: int
    metric: str
    kind: ChangeKind
    threshold: float
    confidence: float | None = None
    slice_by: str | None = None
    against: str = "champion"  # or "baseline": the rule evaluation.baseline.require implies


@dataclass(frozen=True)
class BudgetRule:
    """A cost bound: `max` absolute, or `max_ratio` against the champion."""

    index: int
    budget: str
    kind: BudgetKind
    threshold: float


GateRule = BoundRule | ChangeRule | BudgetRule


@dataclass(frozen=True)
class ValidationConfig:
    """The `validation:` section: a data schema inline or in a file (see docs/validation.md)."""

    enabled: bool = False
    schema: dict[str, Any] | None = None
    schema_file: Path | None = None


@dataclass(frozen=True)
class DriftConfig:
    """The `drift:` section; `options` is the mapping `DriftOptions.from_config` reads."""

    enabled: bool = True
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RegistryConfig:
    """The `registry:` section; each backend reads only its own keys."""

    backend: str
    path: Path
    tracking_uri: str | None = None  # mlflow, else MLFLOW_TRACKING_URI
    model_name: str = "model"  # mlflow registered model name
    repository: str | None = None  # github-releases: owner/name, else GITHUB_REPOSITORY
    tag_prefix: str = "ci-ml/model/"  # github-releases: tags are <tag_prefix>v<N>


@dataclass(frozen=True)
class Config:
    """A validated ci-ml.yaml; paths are absolute (resolved from the config's folder)."""

    path: Path
    name: str
    task: str
    data: DataConfig
    model: ModelConfig
    metrics: tuple[str, ...]
    gate: tuple[dict[str, Any], ...]  # as written; judged through `rules`
    registry: RegistryConfig
    report_id: str
    raw: dict[str, Any] = field(repr=False)  # as parsed: only config_hash reads it
    custom_metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    rules: tuple[GateRule, ...] = ()
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    drift: DriftConfig = field(default_factory=DriftConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    events: EventsConfig = field(default_factory=EventsConfig)

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def primary_metric(self) -> str:
        return self.metrics[0]

    @property
    def config_hash(self) -> str:
        canonical = json.dumps(self.raw, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


def load_config(path: str | Path = DEFAULT_CONFIG) -> Config:
    config_path = Path(path)
    if not config_path.is_file():
        hint = " (run `ci-ml init` to write one)" if str(path) == DEFAULT_CONFIG else ""
        raise ConfigError(f"{config_path}: config file not found{hint}")
    text = _read_text(config_path)
    raw = _parse_yaml(config_path, text)
    problems = schema_problems(raw, "config.schema.json")
    if problems:
        lines = _locate(text, problems)
        raise ConfigError(f"{config_path}: invalid config\n" + "\n".join(lines))
    try:
        return _build(config_path.resolve(), raw, display_path=str(path))
    except ConfigError as exc:
        raise ConfigError(f"{config_path}: {exc.message}") from exc


def parse_rules(
    entries: list[dict[str, Any]] | tuple[dict[str, Any], ...],
    metrics: tuple[str, ...] | None = None,
    slice_columns: tuple[str, ...] | None = None,
) -> tuple[GateRule, ...]:
    """The `gate:` entries as typed rules, metric names resolved against `metrics`.

    Contradictory bounds (`min: 0.9` with `max: 0.5`) are a ConfigError naming both.
    With `metrics` None, names are taken as scorer names (for tests and the library).
    """
    rules = tuple(r for i, e in enumerate(entries) for r in _rules_of(i, e, metrics, slice_columns))
    _check_contradictions(rules)
    return rules


def _rules_of(
    index: int,
    entry: dict[str, Any],
    metrics: tuple[str, ...] | None,
    slice_columns: tuple[str, ...] | None,
) -> list[GateRule]:
    if "budget" in entry:
        budget = str(entry["budget"])
        return [BudgetRule(index, budget, k, float(entry[k])) for k in BUDGET_KINDS if k in entry]
    metric = str(entry["metric"])
    if metrics is not None:
        from ci_ml.metrics import resolve_rule_metric

        metric = resolve_rule_metric(metric, metrics, f"gate[{index}].metric")
    confidence, column = entry.get("confidence"), entry.get("slice_by")
    _check_slice(index, column, confidence, slice_columns)
    level = None if confidence is None else float(confidence)
    bounds: list[GateRule] = [
        BoundRule(index, metric, k, float(entry[k]), level, column)
        for k in BOUND_KINDS
        if k in entry
    ]
    changes = [
        ChangeRule(index, metric, k, float(entry[k]), level, column)
        for k in CHANGE_KINDS
        if k in entry
    ]
    return bounds + changes


def _check_slice(
    index: int, column: str | None, confidence: Any, slice_columns: tuple[str, ...] | None
) -> None:
    """A slice rule needs its column sliced; slices carry no intervals to be confident in."""
    if column is None:
        return
    if slice_columns is not None and column not in slice_columns:
        raise ConfigError(
            f"gate[{index}].slice_by: {column!r} must also be listed in "
            f"evaluation.slice_by (now {list(slice_columns)})"
        )
    if confidence is not None:
        raise ConfigError(f"gate[{index}]: confidence is not supported on slice rules")


# the lower / upper ends each rule kind puts on one quantity (the value, or the improvement)
_LOWER = {"min": 1.0, "min_delta": 1.0, "max_regression": -1.0}
_UPPER = {"max": 1.0, "max_delta": 1.0}


def _check_contradictions(rules: tuple[GateRule, ...]) -> None:
    """A floor above a ceiling on the same quantity can never pass: refuse it at load."""
    for low in rules:
        for high in rules:
            if _contradict(low, high):
                raise ConfigError(_contradiction(low, high))


def _contradict(low: GateRule, high: GateRule) -> bool:
    if isinstance(low, BudgetRule) or isinstance(high, BudgetRule):
        return False
    same = (type(low), low.metric, low.slice_by) == (type(high), high.metric, high.slice_by)
    if not same or low.kind not in _LOWER or high.kind not in _UPPER:
        return False
    return _LOWER[low.kind] * low.threshold > high.threshold


def _contradiction(low: GateRule, high: GateRule) -> str:
    assert not isinstance(low, BudgetRule) and not isinstance(high, BudgetRule)
    what = "value" if isinstance(low, BoundRule) else "improvement"
    floor = _LOWER[low.kind] * low.threshold
    return (
        f"gate[{low.index}].{low.kind} and gate[{high.index}].{high.kind} contradict each "
        f"other: the {low.metric.removeprefix('neg_')} {what} must be at least {floor:g} "
        f"and at most {high.threshold:g}, so no challenger can ever pass"
    )


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvironmentProblem(f"{path}: cannot read config: {exc}") from exc


class DuplicateKey(yaml.MarkedYAMLError):
    """A key written twice in one mapping: YAML would silently keep the last."""


class _UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise DuplicateKey(
                    problem=f"duplicate key {key!r} (first written on line {seen[key]}); "
                    "YAML would silently keep only the last one",
                    problem_mark=key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def safe_load_unique(text: str) -> Any:
    """`yaml.safe_load`, refusing a key written twice in one mapping (a second `gate:`)."""
    return yaml.load(text, Loader=_UniqueKeyLoader)


def _parse_yaml(path: Path, text: str) -> dict[str, Any]:
    try:
        raw = safe_load_unique(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        what = "YAML error" if isinstance(exc, DuplicateKey) else "YAML syntax error"
        raise ConfigError(f"{path}: {what}{where}: {problem}") from exc
    if not isinstance(raw, dict):
        found = "an empty file" if raw is None else f"{type(raw).__name__}"
        raise ConfigError(f"{path}: expected a mapping of config keys, got {found}")
    return raw


@cache
def shipped_schema(name: str) -> dict[str, Any]:
    """One of the JSON Schemas shipped in ci_ml/schemas (config, records, report); a
    user's data schema is `validation.load_schema`."""
    text = resources.files("ci_ml.schemas").joinpath(name).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@dataclass(frozen=True)
class Problem:
    path: tuple[str | int, ...]
    message: str

    @property
    def where(self) -> str:
        return format_path(self.path) or "(top level)"


def schema_problems(instance: Any, schema_name: str) -> list[Problem]:
    """All violations of a shipped schema, one plain sentence each, in document order."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(shipped_schema(schema_name))
    errors = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.path])
    return [problem_of(error) for error in errors]


def format_path(path: tuple[str | int, ...] | list[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def problem_of(error: Any) -> Problem:
    """A jsonschema error in ci-ml's words: the key path, what was expected and what was
    found. The one wording of schema errors, for ci-ml.yaml and data schemas alike."""
    path = tuple(error.absolute_path)
    kind, value, found = error.validator, error.validator_value, error.instance
    if kind == "additionalProperties":
        return _unknown_keys(path, error)
    if kind == "required":
        missing = [key for key in value if key not in found]
        return Problem(path, f"missing required key {', '.join(map(repr, missing))}")
    if kind in {"pattern", "type"} and "x-duration" in error.schema:
        from ci_ml.user_command import EXAMPLES

        return Problem(path, f"expected a duration such as {EXAMPLES}, got {_show(found)}")
    if kind == "type":
        expected = " or ".join(_TYPE_NAMES.get(t, t) for t in _as_list(value))
        return Problem(path, f"expected {expected}, got {_show(found)}")
    if kind == "enum":
        return Problem(path, f"expected one of {', '.join(map(repr, value))}, got {_show(found)}")
    if kind == "const":
        return Problem(path, f"expected {value!r}, got {_show(found)}")
    if kind in {"minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"}:
        return Problem(path, f"expected a number {_BOUND_WORDS[kind]} {value}, got {_show(found)}")
    if kind == "minItems":
        return Problem(path, f"expected at least {value} item(s), got {len(found)}")
    if kind in {"minProperties", "anyOf"} and isinstance(found, dict) and "metric" in found:
        return Problem(path, "a rule needs a bound besides 'metric' (e.g. min, min_delta)")
    if kind == "oneOf" and path and path[-1] == "model":
        return Problem(path, "expected exactly one of 'estimator' or 'command'")
    if kind == "not" and "x-backend" in error.schema:
        return _wrong_backend(path, error.schema)
    if kind == "pattern":
        return Problem(path, f"expected text matching {value}, got {_show(found)}")
    return Problem(path, error.message)


_BOUND_WORDS = {
    "minimum": ">=",
    "exclusiveMinimum": ">",
    "maximum": "<=",
    "exclusiveMaximum": "<",
}


def _wrong_backend(path: tuple[str | int, ...], schema: dict[str, Any]) -> Problem:
    backend, keys = schema["x-backend"], ", ".join(schema["x-keys"])
    return Problem(
        path, f"not a setting of registry.backend {backend!r} (its keys: backend, {keys})"
    )


def _unknown_keys(path: tuple[str | int, ...], error: Any) -> Problem:
    allowed = list(error.schema.get("properties", {}))
    extra = [key for key in error.instance if key not in allowed]
    hints = []
    for key in extra:
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return Problem(
        path, f"unknown key {', '.join(hints)}; allowed keys: {', '.join(sorted(allowed))}"
    )


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _show(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return _TYPE_NAMES["object" if isinstance(value, dict) else "array"]
    if value is None:
        return "null"
    return repr(value)


def _locate(text: str, problems: list[Problem]) -> list[str]:
    """Prefix each problem with its line in the YAML file, where it can be found."""
    lines = _key_lines(text)
    out = []
    for problem in problems:
        line = _nearest_line(lines, problem.path)
        where = f"line {line}: " if line else ""
        out.append(f"  {where}{problem.where}: {problem.message}")
    return out


def _nearest_line(lines: dict[tuple[str | int, ...], int], path: tuple[str | int, ...]) -> int:
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 0


def _key_lines(text: str) -> dict[tuple[str | int, ...], int]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    found: dict[tuple[str | int, ...], int] = {}
    _walk(root, (), found)
    return found


def _walk(node: Any, path: tuple[str | int, ...], found: dict[tuple[str | int, ...], int]) -> None:
    if node is None:
        return
    found.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, child in node.value:
            found[(*path, key.value)] = key.start_mark.line + 1
            _walk(child, (*path, key.value), found)
    elif isinstance(node, yaml.SequenceNode):
        for index, child in enumerate(node.value):
            _walk(child, (*path, index), found)


def _build(path: Path, raw: dict[str, Any], display_path: str) -> Config:
    root = path.parent
    data, model = raw["data"], raw["model"]
    _check_no_label_leak(data)
    registry = raw.get("registry", {})
    command = model.get("command")
    name = raw.get("name") or root.name or "model"
    metrics = tuple(m if isinstance(m, str) else m["name"] for m in raw["metrics"])
    evaluation = _evaluation(raw.get("evaluation") or {})
    engine = parse_engine(raw.get("engine"))
    refuse_unwired(engine, raw.get("gate"))
    return Config(
        path=path,
        name=name,
        task=raw["task"],
        data=DataConfig(
            train=root / data["train"],
            target=data["target"],
            eval=root / data["eval"] if data.get("eval") else None,
            features=tuple(data["features"]) if data.get("features") else None,
            drop=tuple(data.get("drop", ())),
            eval_fraction=float(data.get("eval_fraction", 0.25)),
            seed=int(data.get("seed", 0)),
            pos_label=data.get("pos_label"),
            written={role: str(data[role]) for role in ("train", "eval") if data.get(role)},
        ),
        model=ModelConfig(
            estimator=model.get("estimator"),
            params=dict(model.get("params") or {}),
            preprocessing=model.get("preprocessing", "auto"),
            command=_command(command),
            format=model.get("format", "auto"),
            timeout=_command_timeout(model),
            secret_env=_secret_env(model),
        ),
        metrics=metrics,
        custom_metrics={m["name"]: m for m in raw["metrics"] if isinstance(m, dict)},
        evaluation=evaluation,
        engine=engine,
        gate=tuple(raw["gate"]),
        rules=parse_rules(raw["gate"], metrics, evaluation.slice_by),
        validation=_validation(root, raw.get("validation")),
        drift=_drift(raw.get("drift")),
        registry=_registry(path, name, registry),
        events=parse_events(raw.get("events")),
        report_id=_report_id(raw, display_path, root),
        raw=raw,
    )


def _evaluation(section: dict[str, Any]) -> EvaluationConfig:
    values = {k: v for k, v in section.items() if k not in ("slice_by", "row_key", "baseline")}
    return EvaluationConfig(
        **values,
        slice_by=tuple(section.get("slice_by", ())),
        row_key=tuple(section.get("row_key", ())),
        baseline=BaselineConfig(**section.get("baseline", {})),
    )


def _validation(root: Path, section: dict[str, Any] | None) -> ValidationConfig:
    if not section:
        return ValidationConfig()
    schema_file = section.get("schema_file")
    return ValidationConfig(
        enabled=section.get("enabled", True) is not False,
        schema=section.get("schema"),
        schema_file=root / schema_file if schema_file else None,
    )


def _drift(section: dict[str, Any] | None) -> DriftConfig:
    section = dict(section or {})
    enabled = section.pop("enabled", True) is not False
    return DriftConfig(enabled=enabled, options=section)


def _check_no_label_leak(data: dict[str, Any]) -> None:
    """The target among the features lets the model read the answer: a label leak."""
    if data["target"] in (data.get("features") or ()):
        raise ConfigError(
            f"data.features: lists the target {data['target']!r}; a model fed its own label "
            "scores perfectly in evaluation and fails in use (a label leak): remove it"
        )


def _report_id(raw: dict[str, Any], display_path: str, root: Path) -> str:
    """`report.id`, else the config path; refused at load when GitHub could not carry it."""
    from ci_ml.github.comment import check_report_id

    written = raw.get("report", {}).get("id")
    report_id = written or _default_report_id(display_path, root)
    try:
        return check_report_id(report_id)
    except ConfigError as exc:
        raise ConfigError(
            f"report.id: the default id (the config's path) {report_id!r} cannot name a PR "
            "comment or a commit status: letters, digits, '.', '_', '-' or '/' only; set "
            "`report: {id: ...}` in ci-ml.yaml (e.g. id: "
            f"{_plain_id(report_id)!r})"
        ) from exc


def _plain_id(report_id: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._/-]+", "-", report_id).strip("-./")[:100] or "model"


def _default_report_id(display_path: str, root: Path) -> str:
    """The config path as typed (`ci-ml.yaml`, `models/churn/ci-ml.yaml`), so several
    models in one repository each get their own PR comment and status."""
    import os

    path = os.path.normpath(display_path).replace(os.sep, "/")
    if os.path.isabs(path) or path.startswith(".."):
        return f"{root.name or 'model'}/{Path(path).name}"
    return path


def _registry(path: Path, name: str, section: dict[str, Any]) -> RegistryConfig:
    uri, root = section.get("tracking_uri"), path.parent
    if uri and "@" in urlsplit(uri).netloc:
        raise ConfigError(
            f"{path}: registry.tracking_uri: credentials do not belong in ci-ml.yaml; set "
            "MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN instead"
        )
    return RegistryConfig(
        backend=section.get("backend", "local"),
        path=root / section.get("path", ".ci-ml/registry"),
        tracking_uri=uri,
        model_name=section.get("model_name") or name,
        repository=section.get("repository"),
        tag_prefix=section.get("tag_prefix") or f"ci-ml/{name}/",
    )


def _command_timeout(model: dict[str, Any]) -> float:
    """model.timeout in seconds; it limits model.command and means nothing without it."""
    from ci_ml.user_command import parse_duration

    if "timeout" not in model:
        return DEFAULT_COMMAND_TIMEOUT
    if not model.get("command"):
        raise ConfigError("model.timeout: limits model.command only; remove it or set a command")
    return parse_duration(model["timeout"], "model.timeout")


def _secret_env(model: dict[str, Any]) -> tuple[str, ...]:
    """model.secret_env: it masks model.command's output and means nothing without it."""
    if model.get("secret_env") and not model.get("command"):
        raise ConfigError("model.secret_env: masks model.command's output only; set a command")
    return tuple(model.get("secret_env") or ())


def _command(value: str | list[str] | None) -> tuple[str, ...] | None:
    import shlex

    if value is None:
        return None
    return tuple(shlex.split(value)) if isinstance(value, str) else tuple(value)
