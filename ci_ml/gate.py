"""The gate: declared rules -> a decision with one plain reason per rule. Pure.

Units people think in: `min` / `max` bound the metric as shown (a loss such as
`neg_log_loss` is bounded as log_loss, lower is better). Change rules speak of
*improvement*: challenger better than champion by that much, whatever the
metric's direction (for a loss, improvement = champion loss - challenger loss).

A rule with `confidence: c` is judged on the paired bootstrap, not the point
estimate: its one-sided bootstrap p-value (the share of resamples on the wrong
side of the bound) is adjusted across all confidence rules (Holm by default)
and must be at most 1 - c. Below `min_rows` evaluation rows such a rule says
"not enough rows to judge" and blocks. `max_delta` (too good to be true) is
always judged on the point estimate. A rule with `slice_by` is judged on every
slice large enough to judge; the others are reported, not gated. Every rule
fails closed: a missing or NaN value fails with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ci_ml.metrics import MetricName

BOUND_RULES = ("min", "max")
CHANGE_RULES = ("min_delta", "max_delta", "max_regression", "min_relative_delta")
BUDGET_RULES = ("max", "max_ratio")


@dataclass(frozen=True)
class RuleResult:
    index: int
    metric: str
    rule: str
    threshold: float
    value: float | None
    status: str  # "pass", "fail" or "skipped"
    reason: str
    role: str = "guardrail"  # "primary", "guardrail" or "budget"
    confidence: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    interval: tuple[float, float] | None = None
    slice_by: str | None = None

    @property
    def passed(self) -> bool | None:
        return None if self.status == "skipped" else self.status == "pass"

    def rule_name(self) -> str:
        return f"gate[{self.index}] {self.metric.removeprefix('neg_')} {self.rule}"

    def to_dict(self) -> dict[str, Any]:
        out = {
            "rule": f"gate[{self.index}]",
            "metric": self.metric,
            "kind": self.rule,
            "threshold": self.threshold,
            "value": self.value,
            "status": self.status,
            "passed": self.passed,
            "reason": self.reason,
            "role": self.role,
        }
        if self.confidence is not None:
            out |= {"confidence": self.confidence, "p_value": self.p_value}
            out |= {"p_adjusted": self.p_adjusted, "interval": _pair(self.interval)}
        if self.slice_by is not None:
            out["slice_by"] = self.slice_by
        return out


def _pair(interval: tuple[float, float] | None) -> list[float] | None:
    return None if interval is None else [interval[0], interval[1]]


@dataclass(frozen=True)
class Evidence:
    """Everything the gate judges, as `evaluate` recorded it in the run directory."""

    metrics: dict[str, dict[str, Any]]
    has_champion: bool
    primary: str = ""
    budgets: dict[str, dict[str, Any]] = field(default_factory=dict)
    resampled: dict[str, np.ndarray] = field(default_factory=dict)  # (challenger[, champion]) x B
    slices: list[dict[str, Any]] = field(default_factory=list)
    n_rows: int = 0
    min_rows: int = 0
    multiple_testing: str = "holm"


@dataclass(frozen=True)
class Decision:
    verdict: str  # "promote" or "block"
    reason: str
    rules: tuple[RuleResult, ...]
    has_champion: bool
    multiple_testing: str = "none"

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "has_champion": self.has_champion,
            "multiple_testing": self.multiple_testing,
            "rules": [r.to_dict() for r in self.rules],
        }


def decide(rules: list[dict[str, Any]], evidence: Evidence) -> Decision:
    """Every rule judged; any failed rule blocks the challenger."""
    judged = [r for index, rule in enumerate(rules) for r in judge(index, rule, evidence)]
    results, correction = _correct_for_many(judged, evidence.multiple_testing)
    failed = [r for r in results if r.status == "fail"]
    if failed:
        first = failed[0]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        reason = f"{first.rule_name()}: {first.reason}{more}"
        return Decision("block", reason, results, evidence.has_champion, correction)
    passed = [r for r in results if r.status == "pass"]
    reason = f"all {len(passed)} rule(s) passed"
    if not evidence.has_champion:
        reason += "; no champion yet, so change rules were skipped"
    return Decision("promote", reason, results, evidence.has_champion, correction)


def judge(index: int, rule: dict[str, Any], evidence: Evidence) -> list[RuleResult]:
    if "budget" in rule:
        entry = evidence.budgets.get(rule["budget"])
        return judge_budget(index, rule, entry, evidence.has_champion)
    if "slice_by" in rule:
        return judge_slices(index, rule, evidence)
    entry = evidence.metrics.get(rule["metric"])
    results = judge_rule(index, rule, entry, evidence.has_champion)
    role = "primary" if rule["metric"] == evidence.primary else "guardrail"
    results = [replace(r, role=role) for r in results]
    if "confidence" not in rule:
        return results
    return [_with_confidence(r, rule, entry, evidence) for r in results]


# -- point estimates -------------------------------------------------------------------


def judge_rule(
    index: int, rule: dict[str, Any], entry: dict[str, Any] | None, has_champion: bool
) -> list[RuleResult]:
    metric = MetricName.of(rule["metric"], entry)
    return [
        _judge(index, metric, kind, float(rule[kind]), entry, has_champion)
        for kind in (*BOUND_RULES, *CHANGE_RULES)
        if kind in rule
    ]


def _judge(
    index: int,
    metric: MetricName,
    kind: str,
    threshold: float,
    entry: dict[str, Any] | None,
    has_champion: bool,
) -> RuleResult:
    blank = RuleResult(index, metric.scorer, kind, threshold, None, "fail", "")
    challenger = _number(entry, "challenger")
    if challenger is None:
        return replace(blank, reason=f"{metric.display} is missing or NaN for the challenger")
    if kind in BOUND_RULES:
        return _bound(blank, metric, challenger)
    if not has_champion:
        return replace(blank, status="skipped", reason="no champion yet to compare with")
    champion = _number(entry, "champion")
    if champion is None:
        return replace(blank, reason=f"{metric.display} is missing or NaN for the champion")
    return _change(blank, metric, challenger, champion)


def _bound(blank: RuleResult, metric: MetricName, value: float) -> RuleResult:
    shown = metric.shown(value)
    assert shown is not None
    bound = blank.threshold
    passed = _at_least(shown, bound) if blank.rule == "min" else _at_least(bound, shown)
    word = ">=" if blank.rule == "min" else "<="
    reason = f"{metric.display} {_f(shown)} {'is' if passed else 'is not'} {word} {_f(bound)}"
    return replace(blank, value=shown, status=_status(passed), reason=reason)


def _change(blank: RuleResult, metric: MetricName, new: float, old: float) -> RuleResult:
    improvement = new - old  # scorer values: higher is better for every metric
    movement = _movement(metric, old, new)
    bound = blank.threshold
    if blank.rule == "min_relative_delta":
        return _relative(blank, improvement, old, movement)
    if blank.rule == "min_delta":
        passed, need = (
            _at_least(improvement, bound),
            f"needs an improvement of at least {_f(bound)}",
        )
    elif blank.rule == "max_delta":
        passed = _at_least(bound, improvement)
        need = f"an improvement above {_f(bound)} is too good to be true (a leak or a bug?)"
    else:  # max_regression
        passed, need = _at_least(improvement, -bound), f"may regress by at most {_f(bound)}"
    return replace(blank, value=improvement, status=_status(passed), reason=f"{movement}; {need}")


def _relative(blank: RuleResult, improvement: float, old: float, movement: str) -> RuleResult:
    bound = blank.threshold
    if old == 0:
        passed = improvement > 0 or (improvement == 0 and bound <= 0)
        reason = f"{movement}; relative change undefined (champion is 0), judged by its sign"
        return replace(blank, status=_status(passed), reason=reason)
    relative = improvement / abs(old)
    need = f"needs a relative improvement of at least {bound:+.2%}"
    reason = f"{movement} ({relative:+.2%}); {need}"
    return replace(blank, value=relative, status=_status(_at_least(relative, bound)), reason=reason)


def _movement(metric: MetricName, old: float, new: float) -> str:
    shown_old, shown_new = metric.shown(old), metric.shown(new)
    if new == old:
        return f"{metric.display} unchanged at {_f(shown_new)}"
    better = "better" if new > old else "worse"
    return f"{metric.display} {_f(shown_old)} -> {_f(shown_new)} ({better})"


# -- confidence: the bootstrap must clear the bound, not just the point estimate ---------------


def _with_confidence(
    result: RuleResult, rule: dict[str, Any], entry: dict[str, Any] | None, evidence: Evidence
) -> RuleResult:
    if result.status == "skipped" or result.rule == "max_delta":
        return result  # nothing to compare with, or judged on the point estimate by design
    level = float(rule["confidence"])
    result = replace(result, confidence=level)
    if evidence.n_rows < evidence.min_rows:
        reason = (
            f"not enough rows to judge with {level:.0%} confidence: {evidence.n_rows} eval rows, "
            f"evaluation.min_rows is {evidence.min_rows}"
        )
        return replace(result, status="fail", reason=reason)
    samples = _samples(result, entry, evidence)
    if samples is None or len(samples) == 0:
        return replace(result, status="fail", reason="no bootstrap evidence for this metric")
    return _p_value(result, samples, level, entry)


def _samples(
    result: RuleResult, entry: dict[str, Any] | None, evidence: Evidence
) -> np.ndarray | None:
    """Resampled values of what the rule bounds: the shown value, or the improvement."""
    values = evidence.resampled.get(result.metric)
    if values is None:
        return None
    metric = MetricName.of(result.metric, entry)
    if result.rule in BOUND_RULES:
        shown = -values[0] if metric.is_loss else values[0]
        return shown[np.isfinite(shown)]
    if values.shape[0] < 2:
        return None
    improvement = values[0] - values[1]
    return improvement[np.isfinite(improvement)]


def _p_value(
    result: RuleResult, samples: np.ndarray, level: float, entry: dict[str, Any] | None
) -> RuleResult:
    """One-sided bootstrap p-value of "the rule's claim is false", with the +1 correction."""
    bound = _bound_in_sample_units(result, entry)
    wrong_side = samples >= bound if result.rule == "max" else samples <= bound
    p = (int(np.count_nonzero(wrong_side)) + 1) / (len(samples) + 1)
    alpha = 1 - level
    low, high = np.quantile(samples, [alpha / 2, 1 - alpha / 2])
    return replace(result, p_value=p, interval=(float(low), float(high)))


def _bound_in_sample_units(result: RuleResult, entry: dict[str, Any] | None) -> float:
    if result.rule == "max_regression":
        return -result.threshold
    if result.rule == "min_relative_delta":
        champion = _number(entry, "champion") or 0.0
        return result.threshold * abs(champion)
    return result.threshold


def _correct_for_many(results: list[RuleResult], method: str) -> tuple[tuple[RuleResult, ...], str]:
    """Adjust the p-values of all confidence rules together, then judge each at its level."""
    from ci_ml.comparison import bonferroni, holm

    tested = [i for i, r in enumerate(results) if r.p_value is not None]
    if not tested:
        return tuple(results), "none"
    raw = [results[i].p_value or 0.0 for i in tested]
    adjusted = {"holm": holm, "bonferroni": bonferroni}.get(method, lambda p: list(p))(raw)
    out = list(results)
    for i, p_adj in zip(tested, adjusted, strict=True):
        out[i] = _judge_confidence(out[i], float(p_adj), method, len(tested))
    return tuple(out), method if len(tested) > 1 else "none"


def _judge_confidence(result: RuleResult, p_adj: float, method: str, family: int) -> RuleResult:
    level = result.confidence or 0.95
    passed = p_adj <= 1 - level
    low, high = result.interval or (math.nan, math.nan)
    claim = "holds" if passed else "is not shown"
    corrected = (
        f", {method}-adjusted over {family} rules" if family > 1 and method != "none" else ""
    )
    reason = (
        f"{result.reason}; with {level:.0%} confidence the claim {claim} "
        f"(p={_f(p_adj)}{corrected}; {level:.0%} interval {_f(low)} to {_f(high)})"
    )
    return replace(result, status=_status(passed), p_adjusted=p_adj, reason=reason)


# -- slices -----------------------------------------------------------------------------


def judge_slices(index: int, rule: dict[str, Any], evidence: Evidence) -> list[RuleResult]:
    """The rule on every judged slice of its column; the worst slice decides."""
    column, scorer = rule["slice_by"], rule["metric"]
    slices = [s for s in evidence.slices if s["column"] == column and s["metric"] == scorer]
    entry = evidence.metrics.get(scorer)
    out = []
    for kind in (*BOUND_RULES, *CHANGE_RULES):
        if kind not in rule:
            continue
        per_slice = [_one_slice(index, kind, float(rule[kind]), s, entry, evidence) for s in slices]
        out.append(_worst(index, scorer, kind, float(rule[kind]), column, per_slice, slices))
    return out


def _one_slice(
    index: int,
    kind: str,
    bound: float,
    piece: dict[str, Any],
    entry: dict[str, Any] | None,
    evidence: Evidence,
) -> RuleResult | None:
    if not piece.get("judged"):
        return None
    metric = MetricName.of(piece["metric"], entry)
    result = _judge(index, metric, kind, bound, piece, evidence.has_champion)
    return replace(result, reason=f"{piece['column']}={piece['value']!r}: {result.reason}")


def _worst(
    index: int,
    scorer: str,
    kind: str,
    bound: float,
    column: str,
    per_slice: list[RuleResult | None],
    slices: list[dict[str, Any]],
) -> RuleResult:
    blank = RuleResult(index, scorer, kind, bound, None, "skipped", "", slice_by=column)
    judged = [r for r in per_slice if r is not None]
    small = len(per_slice) - len(judged)
    note = f"; {small} slice(s) too small to judge (not gated)" if small else ""
    if not slices:
        return replace(blank, status="fail", reason=f"no slices of {column!r} were computed")
    failed = [r for r in judged if r.status == "fail"]
    if failed:
        shown = "; ".join(r.reason for r in failed[:3])
        more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
        return replace(blank, status="fail", value=failed[0].value, reason=shown + more + note)
    passed = [r for r in judged if r.status == "pass"]
    if not passed:
        return replace(blank, reason=f"no slice of {column!r} could be judged{note}")
    reason = f"all {len(passed)} judged slice(s) of {column!r} pass{note}"
    return replace(blank, status="pass", value=passed[0].value, reason=reason)


# -- budgets ----------------------------------------------------------------------------


def judge_budget(
    index: int, rule: dict[str, Any], entry: dict[str, Any] | None, has_champion: bool
) -> list[RuleResult]:
    """Budgets are costs: lower is better, bounded absolutely (`max`) or vs the champion."""
    value = _number(entry, "challenger")
    champion = _number(entry, "champion") if has_champion else None
    return [
        _budget(
            RuleResult(index, rule["budget"], kind, float(rule[kind]), None, "", "", "budget"),
            value,
            champion,
        )
        for kind in BUDGET_RULES
        if kind in rule
    ]


def _budget(blank: RuleResult, value: float | None, champion: float | None) -> RuleResult:
    name, bound = blank.metric, blank.threshold
    if value is None:
        return replace(blank, status="fail", reason=f"{name} was not measured for the challenger")
    if blank.rule == "max":
        passed = _at_least(bound, value)
        reason = f"{name} {_f(value)} {'is' if passed else 'is not'} <= {_f(bound)}"
        return replace(blank, value=value, status=_status(passed), reason=reason)
    if not champion:
        return replace(blank, status="skipped", reason=f"no champion {name} to compare with")
    ratio = value / champion
    reason = f"{name} {_f(champion)} -> {_f(value)} (x{ratio:.2f}); at most x{bound:g}"
    return replace(blank, value=ratio, status=_status(_at_least(bound, ratio)), reason=reason)


# -- small helpers ------------------------------------------------------------------------


def _status(passed: bool) -> str:
    return "pass" if passed else "fail"


def _at_least(value: float, bound: float) -> bool:
    """value >= bound, forgiving float noise: 0.84 - 0.8 is +5% to a person."""
    return value >= bound - 1e-9 * max(1.0, abs(bound))


def _number(entry: dict[str, Any] | None, key: str) -> float | None:
    if not entry:
        return None
    value = entry.get(key)
    if value is None or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def _f(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.2e}"
