"""The typed records stages hand each other through the run folder.

Each record is what one stage wrote: `to_json()` gives the file's content,
`from_json()` reads it back. Their shapes are documented by the JSON Schemas
in ci_ml/schemas/ (validation, evaluation, decision, report); `RunDir` is
the only code that knows which file holds which record.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

R = TypeVar("R", bound="Record")


@dataclass
class Record:
    """A stage's output: a flat JSON object whose keys are the dataclass fields."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls: type[R], data: dict[str, Any]) -> R:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class ValidationRecord(Record):
    """validate: file checks, schema rules and drift; `passed` when no error was found."""

    passed: bool
    failures: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    drift: dict[str, Any] | None = None
    data_hash: str = ""
    champion_data_hash: str = ""

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [f for f in self.failures if f.get("severity") == "error"]


@dataclass
class EvaluationRecord(Record):
    """evaluate: both models scored on the very same eval rows."""

    eval: dict[str, Any]
    challenger: dict[str, Any]  # sha256, version (None until promoted)
    champion: dict[str, Any] | None  # version, sha256; None when no champion was scored
    primary_metric: str
    metrics: dict[str, dict[str, Any]]
    comparison: dict[str, Any] = field(default_factory=dict)
    mcnemar: dict[str, Any] | None = None
    slices: list[dict[str, Any]] = field(default_factory=list)
    budgets: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # with no champion: the trivial model scored in its place (stages/baseline.py)
    baseline: dict[str, Any] | None = None

    @property
    def compared_with(self) -> str | None:
        """What the metrics' reference values are of: "champion", "baseline" or None."""
        if self.champion is not None:
            return "champion"
        return "baseline" if self.baseline is not None else None

    @property
    def rows(self) -> int:
        return int(self.comparison.get("rows") or self.eval.get("rows") or 0)

    @property
    def champion_version(self) -> int | None:
        return None if self.champion is None else int(self.champion["version"])

    @property
    def summary(self) -> str:
        version = self.champion_version
        against = f"champion v{version}" if version is not None else "no champion yet"
        if self.baseline is not None:
            against = f"the baseline {self.baseline['estimator'].removeprefix('sklearn.dummy.')}"
        return f"challenger vs {against} on {self.eval['rows']} rows"


@dataclass
class DecisionRecord(Record):
    """gate: every rule judged, and the verdict they add up to."""

    verdict: str  # promote or block
    reason: str
    has_champion: bool
    multiple_testing: str = "none"
    rules: list[dict[str, Any]] = field(default_factory=list)

    @property
    def promotes(self) -> bool:
        return self.verdict == "promote"

    @property
    def summary(self) -> str:
        return f"{self.verdict}: {self.reason}"


@dataclass
class Report(Record):
    """report: everything above, for people and machines (report.schema.json)."""

    schema_version: int
    report_id: str
    name: str
    verdict: str
    reason: str
    champion: int | None
    challenger: dict[str, Any] | None
    primary_metric: str
    metrics: dict[str, dict[str, Any]]
    rules: list[dict[str, Any]]
    multiple_testing: str
    comparison: dict[str, Any] | None
    mcnemar: dict[str, Any] | None
    slices: list[dict[str, Any]]
    budgets: dict[str, Any]
    validation: dict[str, Any]
    eval: dict[str, Any] | None
    lineage: dict[str, Any] | None
    warnings: list[str]
    changes: dict[str, Any] | None = None  # model-card differences, champion -> challenger
    curves: dict[str, Any] | None = None  # from the stored predictions (report/curves.py)
    promoted: int | None = None
    compared_with: str | None = None  # "champion", "baseline" (a first run) or None
    baseline: dict[str, Any] | None = None  # the trivial model compared with on a first run
    trend: list[dict[str, Any]] | None = None  # primary metric of the last champion versions

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        """Keys report.schema.json does not require may be absent (an older report)."""
        optional: dict[str, Any] = {"multiple_testing": "none", "slices": [], "budgets": {}}
        optional |= dict.fromkeys(("comparison", "mcnemar", "eval", "lineage"))
        return super().from_json(optional | data)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.promoted is None:  # present only once promoted, as report.json always had it
            del data["promoted"]
        return data

    @property
    def passed(self) -> bool:
        return self.verdict == "promote"
