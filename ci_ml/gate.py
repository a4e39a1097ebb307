"""The gate: declared rules -> a decision with one plain reason per rule. Pure.

Units people think in: `min` / `max` bound the metric as shown (a loss such as
`neg_log_loss` is bounded as log_loss, lower is better). Change rules speak of
*improvement*: challenger better than champion by that much, whatever the
metric's direction (for a loss, improvement = champion loss - challenger loss).

A rule with `confidence: c` is a one-sided test of its claim, not a look at
the point estimate: its bootstrap p-value (the share of resamples on the wrong
side of the bound), floored for accuracy by the exact binomial / McNemar test
(`comparison.significance`), is adjusted across all confidence rules (Holm by
default) and must be at most 1 - c. Its reason quotes the one-sided bound at
level c; when the eval set is too small for a change the size of its margin,
the result says so with the smallest detectable change and the rows needed.
Below `min_rows` evaluation rows such a rule says "not enough rows to judge"
and blocks. `max_delta` (too good to be true) is always judged on the point
estimate. A rule with `slice_by` is judged on every slice large enough to
judge; the others are reported, not gated. Every rule fails closed: a missing
or NaN value fails with the reason. See docs/statistics.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ci_ml import comparison as stats
from ci_ml.config import BoundRule, BudgetRule, ChangeRule, GateRule
from ci_ml.metrics import MetricName

ACCURACY_LIKE = ("accuracy",)  # per-row correctness: an exact test exists


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
    test: str | None = None  # what decided a confidence rule, e.g. "paired bootstrap"
    side: str | None = None  # "lower" bound (claim above) or "upper" bound (claim below)
    bound: float | None = None  # the one-sided confidence bound at `confidence`
    target: float | None = None  # what `bound` must clear, in the same units
    exact_p_value: float | None = None  # exact binomial / McNemar, the floor of p_value
    detectable_change: float | None = None  # smallest distance from the bound, 80% power
    rows_needed: int | None = None  # eval rows for detectable_change to reach the margin
    underpowered: bool = False  # cannot pass at this eval size for a change of its margin
    bound_method: str | None = None  # moment metrics: how `bound` was computed
    against: str = "champion"  # or "baseline": evaluation.baseline.require on a first run

    @property
    def passed(self) -> bool | None:
        return None if self.status == "skipped" else self.status == "pass"

    @property
    def label(self) -> str:
        """Where the rule was declared: its `gate:` entry, or `evaluation.baseline`."""
        return "evaluation.baseline" if self.against == "baseline" else f"gate[{self.index}]"

    def rule_name(self) -> str:
        return f"{self.label} {self.metric.removeprefix('neg_')} {self.rule}"

    def to_dict(self) -> dict[str, Any]:
        out = {
            "rule": self.label,
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
            out |= {"test": self.test, "side": self.side, "bound": self.bound}
            out |= {"target": self.target}
            out |= {"exact_p_value": self.exact_p_value}
            out |= {"detectable_change": self.detectable_change, "rows_needed": self.rows_needed}
            out |= {"underpowered": self.underpowered, "bound_method": self.bound_method}
        if self.slice_by is not None:
            out["slice_by"] = self.slice_by
        if self.against == "baseline":
            out["against"] = self.against
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
    # rows where only the champion / only the challenger is right (exact McNemar), if known
    discordant: tuple[int, int] | None = None
    baseline: bool = False  # the reference values are a trivial baseline's, not a champion's


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


def decide(rules: tuple[GateRule, ...] | list[GateRule], evidence: Evidence) -> Decision:
    """Every rule judged; any failed rule blocks the challenger."""
    judged = [judge(rule, evidence) for rule in rules]
    results, correction = _correct_for_many(judged, evidence.multiple_testing)
    failed = [r for r in results if r.status == "fail"]
    if failed:
        first = failed[0]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        reason = f"{first.rule_name()}: {first.reason}{more}"
        return Decision("block", reason, results, evidence.has_champion, correction)
    passed = [r for r in results if r.status == "pass"]
    reason = f"all {len(passed)} rule(s) passed" if passed else "no rule could be judged"
    if evidence.baseline:
        reason += "; no champion yet: compared with the baseline, other change rules skipped"
    elif not evidence.has_champion:
        reason += "; no champion yet, so change rules were skipped"
    return Decision("promote", reason, results, evidence.has_champion, correction)


def judge(rule: GateRule, evidence: Evidence) -> RuleResult:
    if isinstance(rule, BudgetRule):
        return judge_budget(rule, evidence.budgets.get(rule.budget), evidence.has_champion)
    if rule.slice_by is not None:
        return judge_slices(rule, evidence)
    entry = evidence.metrics.get(rule.metric)
    result = judge_rule(rule, entry, _has_reference(rule, evidence))
    result = replace(result, role="primary" if rule.metric == evidence.primary else "guardrail")
    if rule.confidence is None:
        return result
    return _with_confidence(result, rule.confidence, entry, evidence)


def _has_reference(rule: BoundRule | ChangeRule, evidence: Evidence) -> bool:
    """A change rule compares with the champion; the baseline's rule with the baseline."""
    if isinstance(rule, ChangeRule) and rule.against == "baseline":
        return evidence.baseline
    return evidence.has_champion


# -- point estimates -------------------------------------------------------------------


def judge_rule(
    rule: BoundRule | ChangeRule, entry: dict[str, Any] | None, has_champion: bool
) -> RuleResult:
    metric = MetricName.of(rule.metric, entry)
    against = rule.against if isinstance(rule, ChangeRule) else "champion"
    blank = RuleResult(
        rule.index, metric.scorer, rule.kind, rule.threshold, None, "fail", "", against=against
    )
    challenger = _number(entry, "challenger")
    if challenger is None:
        return replace(blank, reason=f"{metric.display} is missing or NaN for the challenger")
    if isinstance(rule, BoundRule):
        return _bound(blank, metric, challenger)
    if not has_champion:
        return replace(blank, status="skipped", reason="no champion yet to compare with")
    champion = _number(entry, "champion")
    if champion is None:
        return replace(blank, reason=f"{metric.display} is missing or NaN for the {against}")
    result = _change(blank, metric, challenger, champion)
    if against == "baseline":  # the baseline -> challenger, not a champion's history
        result = replace(result, reason=f"vs the baseline: {result.reason}")
    return result


def _bound(blank: RuleResult, metric: MetricName, value: float) -> RuleResult:
    shown = metric.shown(value)
    assert shown is not None
    bound = blank.threshold
    passed = _at_least(shown, bound) if blank.rule == "min" else _at_least(bound, shown)
    word = ">=" if blank.rule == "min" else "<="
    a, b = _fs(shown, bound)
    reason = f"{metric.display} {a} {'is' if passed else 'is not'} {word} {b}"
    return replace(blank, value=shown, status=_status(passed), reason=reason)


def _change(blank: RuleResult, metric: MetricName, new: float, old: float) -> RuleResult:
    improvement = new - old  # scorer values: higher is better for every metric
    movement = _movement(metric, old, new)
    bound = blank.threshold
    if blank.rule == "min_relative_delta":
        return _relative(blank, improvement, old, movement)
    if blank.rule == "min_delta":
        passed = _at_least(improvement, bound)
        a, b = _fs(improvement, bound)
        need = f"improvement {a} {'>=' if passed else '<'} the {b} required"
    elif blank.rule == "max_delta":
        passed = _at_least(bound, improvement)
        a, b = _fs(improvement, bound)
        need = (
            f"improvement {a} is within the {b} plausibility limit"
            if passed
            else f"improvement {a} exceeds {b}: too good to be true (a leak or a bug?)"
        )
    else:  # max_regression
        passed = _at_least(improvement, -bound)
        a, b = _fs(improvement, -bound)
        need = f"change {a} {'>=' if passed else '<'} {b} (may regress by at most {_f(bound)})"
    return replace(blank, value=improvement, status=_status(passed), reason=f"{movement}; {need}")


def _relative(blank: RuleResult, improvement: float, old: float, movement: str) -> RuleResult:
    bound = blank.threshold
    if old == 0:
        passed = improvement > 0 or (improvement == 0 and bound <= 0)
        reason = f"{movement}; relative change undefined (champion is 0), judged by its sign"
        return replace(blank, status=_status(passed), reason=reason)
    relative = improvement / abs(old)
    passed = _at_least(relative, bound)
    a, b = _fs(relative, bound, percent=True)
    need = f"relative improvement {a} {'>=' if passed else '<'} the {b} required"
    return replace(blank, value=relative, status=_status(passed), reason=f"{movement}; {need}")


def _movement(metric: MetricName, old: float, new: float) -> str:
    shown_old, shown_new = metric.shown(old), metric.shown(new)
    if new == old:
        return f"{metric.display} unchanged at {_f(shown_new)}"
    better = "better" if new > old else "worse"
    a, b = _fs(shown_old, shown_new)
    return f"{metric.display} {a} -> {b} ({better})"


# -- confidence: the one-sided test must clear the bound, not just the point estimate ----------


def _with_confidence(
    result: RuleResult, level: float, entry: dict[str, Any] | None, evidence: Evidence
) -> RuleResult:
    if result.status == "skipped" or result.rule == "max_delta":
        return result  # nothing to compare with, or judged on the point estimate by design
    result = replace(result, confidence=level)
    rows = stats.check_min_rows(evidence.n_rows, evidence.min_rows)
    if not rows.judged:
        reason = (
            f"not enough rows to judge with {level:.0%} confidence: {evidence.n_rows} eval rows, "
            f"evaluation.min_rows is {evidence.min_rows}"
        )
        return replace(result, status="fail", reason=reason)
    samples = _samples(result, entry, evidence)
    if samples is None or len(samples) == 0:
        return replace(result, status="fail", reason="no bootstrap evidence for this metric")
    return _tested(result, samples, level, entry, evidence)


def _samples(
    result: RuleResult, entry: dict[str, Any] | None, evidence: Evidence
) -> np.ndarray | None:
    """Resampled values of what the rule bounds: the shown value, or the improvement."""
    values = evidence.resampled.get(result.metric)
    if values is None:
        return None
    metric = MetricName.of(result.metric, entry)
    if result.rule in ("min", "max"):
        shown = -values[0] if metric.is_loss else values[0]
        return shown[np.isfinite(shown)]
    if values.shape[0] < 2:
        return None
    improvement = values[0] - values[1]
    return improvement[np.isfinite(improvement)]


def _tested(
    result: RuleResult,
    samples: np.ndarray,
    level: float,
    entry: dict[str, Any] | None,
    evidence: Evidence,
) -> RuleResult:
    """The one-sided test of the rule's claim: bootstrap, floored by the exact test."""
    bound = _bound_in_sample_units(result, entry)
    claim: stats.Claim = "below" if result.rule == "max" else "above"
    p_boot = stats.bootstrap_p_value(samples, bound, claim)
    exact = _exact_p(result, bound, claim, entry, evidence)
    one_sided, (low, high) = _limits(
        samples, level, claim, _exact_limits(result, level, claim, entry, evidence)
    )
    detectable = stats.detectable_change(samples, level)
    margin = 0.0 if result.rule in ("min", "max") else bound
    needed = stats.rows_needed(evidence.n_rows, detectable, margin)
    return replace(
        result,
        p_value=stats.exact_floor(p_boot, exact),
        exact_p_value=exact,
        interval=(low, high),
        test=_test_name(result, exact, evidence, bound) + _tail_words(result, entry),
        bound_method=_bound_method(result, entry),
        side="upper" if claim == "below" else "lower",
        bound=one_sided,
        target=bound,
        detectable_change=detectable,
        rows_needed=needed,
        underpowered=needed is not None and needed > evidence.n_rows,
    )


def _exact_p(
    result: RuleResult,
    bound: float,
    claim: stats.Claim,
    entry: dict[str, Any] | None,
    evidence: Evidence,
) -> float | None:
    """Exact tests on per-row correctness: binomial for a bound, McNemar for a change (for a
    margin, with Berger and Boos's bound on the discordant rows' share: `exact_change_p`)."""
    if result.metric not in ACCURACY_LIKE:
        return None
    if result.rule in ("min", "max"):
        correct = _correct_rows(entry, evidence)
        if correct is None:
            return None
        return stats.exact_accuracy_p(correct, evidence.n_rows, bound, claim)
    if evidence.discordant is None:
        return None
    return stats.exact_change_p(*evidence.discordant, evidence.n_rows, bound)


def _correct_rows(entry: dict[str, Any] | None, evidence: Evidence) -> int | None:
    accuracy = _number(entry, "challenger")
    if accuracy is None or evidence.n_rows <= 0:
        return None
    return round(accuracy * evidence.n_rows)


Limits = tuple[float, tuple[float, float]]  # a one-sided bound and a two-sided interval


def _exact_limits(
    result: RuleResult,
    level: float,
    claim: stats.Claim,
    entry: dict[str, Any] | None,
    evidence: Evidence,
) -> Limits | None:
    """The exact test's own bound and interval (Clopper-Pearson), so that what the rule
    reports agrees with the larger p-value that decides it; None where no exact test ran."""
    if result.metric not in ACCURACY_LIKE:
        return None
    n_rows = evidence.n_rows
    if result.rule in ("min", "max"):
        correct = _correct_rows(entry, evidence)
        if correct is None:
            return None
        bounds = [
            stats.exact_accuracy_bound(correct, n_rows, q, c) for q, c in _sides(level, claim)
        ]
    elif evidence.discordant is not None:
        counts = evidence.discordant
        bounds = [stats.exact_change_bound(*counts, n_rows, q, c) for q, c in _sides(level, claim)]
    else:
        return None
    return bounds[0], (bounds[1], bounds[2])


def _sides(level: float, claim: stats.Claim) -> list[tuple[float, stats.Claim]]:
    two_sided = (1 + level) / 2
    return [(level, claim), (two_sided, "above"), (two_sided, "below")]


def _limits(samples: np.ndarray, level: float, claim: stats.Claim, exact: Limits | None) -> Limits:
    """The bootstrap's one-sided bound and two-sided interval, each widened to hold the
    exact test's (the rule is judged on the larger p-value; its bound is then the looser)."""
    alpha = 1 - level
    low, high = (float(q) for q in np.quantile(samples, [alpha / 2, 1 - alpha / 2]))
    bound = stats.one_sided_bound(samples, level, claim)
    if exact is None:
        return bound, (low, high)
    loosest = min if claim == "above" else max
    return loosest(bound, exact[0]), stats.hull((low, high), exact[1])


def _test_name(result: RuleResult, exact: float | None, evidence: Evidence, margin: float) -> str:
    if exact is None:
        return "paired bootstrap" if result.rule not in ("min", "max") else "bootstrap"
    if result.rule in ("min", "max"):
        return f"bootstrap and exact binomial on {evidence.n_rows} rows"
    only_champion, only_challenger = evidence.discordant or (0, 0)
    rows = only_champion + only_challenger
    if margin == 0:  # a margin also bounds the discordant rows' share of all rows
        return f"paired bootstrap and exact McNemar on {rows} discordant rows"
    of = evidence.n_rows
    return f"paired bootstrap and exact test of the margin on {rows} discordant rows of {of}"


def _bound_method(result: RuleResult, entry: dict[str, Any] | None) -> str | None:
    """A moment metric's bound: studentized, or for a `max:` rule on heavy-tailed losses
    also Peng's tail-extrapolated mean, and for a change rule when either model's losses
    are heavy-tailed the symmetric studentized change (`comparison.studentized`); None for
    other metrics."""
    upper = (entry or {}).get("upper_bound_method")
    if not isinstance(upper, str):
        return None
    if result.rule == "max":
        return upper
    if result.rule == "min" or entry is None:
        return stats.STUDENTIZED
    symmetric = entry.get("change_interval_method") == stats.SYMMETRIC_STUDENTIZED
    return stats.SYMMETRIC_STUDENTIZED if symmetric else stats.STUDENTIZED


def _tail_words(result: RuleResult, entry: dict[str, Any] | None) -> str:
    method, index = _bound_method(result, entry), _number(entry, "tail_index")
    if method == stats.SYMMETRIC_STUDENTIZED:
        return f" ({method}: a model's losses have a tail index < {_f(stats.HEAVY_TAIL_INDEX)})"
    if method in (None, stats.STUDENTIZED) or index is None:
        return ""
    threshold = stats.tail_threshold(stats.resolve_metric(result.metric))
    return f" ({method}: the losses' tail index {_f(index)} < {_f(threshold)})"


def _bound_in_sample_units(result: RuleResult, entry: dict[str, Any] | None) -> float:
    if result.rule == "max_regression":
        return -result.threshold
    if result.rule == "min_relative_delta":
        champion = _number(entry, "champion") or 0.0
        return result.threshold * abs(champion)
    return result.threshold


def _correct_for_many(results: list[RuleResult], method: str) -> tuple[tuple[RuleResult, ...], str]:
    """Adjust the p-values of all confidence rules together, then judge each at its level."""
    tested = [i for i, r in enumerate(results) if r.p_value is not None]
    if not tested:
        return tuple(results), "none"
    raw = [results[i].p_value or 0.0 for i in tested]
    adjusted = stats.adjusted_p_values(raw, method)
    out = list(results)
    for i, p_adj in zip(tested, adjusted, strict=True):
        out[i] = _judge_confidence(out[i], float(p_adj), method, len(tested))
    return tuple(out), method if len(tested) > 1 else "none"


def _judge_confidence(result: RuleResult, p_adj: float, method: str, family: int) -> RuleResult:
    level = result.confidence or 0.95
    alpha = 1 - level
    passed = p_adj <= alpha + 1e-12
    claim = _claim_words(result)
    sign = ">=" if result.side == "lower" else "<="
    shown_bound, target = _fs(result.bound, result.target)
    p_words = f"p={_f(result.p_value)}"
    if result.exact_p_value is not None:
        p_words += f" (exact {_f(result.exact_p_value)}, the larger decides)"
    if family > 1 and method != "none":
        p_words += f", {method}-adjusted over {family} rules {_f(p_adj)}"
    verdict = "shown" if passed else "not shown"
    reason = (
        f"{result.reason}; one-sided {result.test} test that {claim}: {verdict} at {level:.0%} "
        f"({level:.0%} {result.side} bound {shown_bound}, needs {sign} {target}; "
        f"{p_words} {'<=' if passed else '>'} {_f(alpha)})"
    )
    if not passed and result.underpowered:
        reason += _underpowered_words(result)
    return replace(result, status=_status(passed), p_adjusted=p_adj, reason=reason)


def _claim_words(result: RuleResult) -> str:
    if result.rule in ("min", "max"):
        word = "at most" if result.rule == "max" else "at least"
        return f"the value is {word} {_f(result.threshold)}"
    if result.rule == "min_relative_delta":
        return f"the relative improvement is at least {_percent(result.threshold)}"
    if result.rule == "max_regression":
        return f"the challenger is worse by at most {_f(result.threshold)}"
    if result.against == "baseline" and result.threshold == 0:
        return "the challenger is better than the baseline"
    return f"the improvement is at least {_f(result.threshold)}"


def _underpowered_words(result: RuleResult) -> str:
    rows = f"{result.rows_needed:,}" if result.rows_needed is not None else "more"
    return (
        f"; at this eval size the rule cannot pass for a change the size of its margin: "
        f"it detects (80% power) only a change of at least {_f(result.detectable_change)} "
        f"beyond its bound, and its {_f(abs(result.threshold))} margin needs about {rows} "
        "eval rows"
    )


# -- slices -----------------------------------------------------------------------------


def judge_slices(rule: BoundRule | ChangeRule, evidence: Evidence) -> RuleResult:
    """The rule on every judged slice of its column; the worst slice decides."""
    column = rule.slice_by
    slices = [s for s in evidence.slices if s["column"] == column and s["metric"] == rule.metric]
    per_slice = [_one_slice(rule, s, evidence) for s in slices]
    return _worst(rule, per_slice, slices)


def _one_slice(
    rule: BoundRule | ChangeRule, piece: dict[str, Any], evidence: Evidence
) -> RuleResult | None:
    if not piece.get("judged"):
        return None
    entry = evidence.metrics.get(rule.metric)
    named = piece | {
        k: entry[k] for k in ("display_name", "lower_is_better") if entry and k in entry
    }
    result = judge_rule(rule, named, evidence.has_champion)
    return replace(result, reason=f"{piece['column']}={piece['value']!r}: {result.reason}")


def _worst(
    rule: BoundRule | ChangeRule,
    per_slice: list[RuleResult | None],
    slices: list[dict[str, Any]],
) -> RuleResult:
    column = rule.slice_by
    blank = RuleResult(
        rule.index, rule.metric, rule.kind, rule.threshold, None, "skipped", "", slice_by=column
    )
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


def judge_budget(rule: BudgetRule, entry: dict[str, Any] | None, has_champion: bool) -> RuleResult:
    """Budgets are costs: lower is better, bounded absolutely (`max`) or vs the champion."""
    value = _number(entry, "challenger")
    champion = _number(entry, "champion") if has_champion else None
    blank = RuleResult(rule.index, rule.budget, rule.kind, rule.threshold, None, "", "", "budget")
    return _budget(blank, value, champion)


def _budget(blank: RuleResult, value: float | None, champion: float | None) -> RuleResult:
    name, bound = blank.metric, blank.threshold
    if value is None:
        return replace(blank, status="fail", reason=f"{name} was not measured for the challenger")
    if blank.rule == "max":
        passed = _at_least(bound, value)
        a, b = _fs(value, bound)
        reason = f"{name} {a} {'is' if passed else 'is not'} <= {b}"
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


def _f(value: float | None, digits: int = 4) -> str:
    """A number as people read it: `digits` significant digits, never `-0`."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if value == 0 or float(f"{value:.{digits}g}") == 0:
        return "0"
    text = f"{value:.{digits}g}" if abs(value) >= 1e-4 else f"{value:.{digits - 2}e}"
    return "0" if text.lstrip("-") in {"0", "0.0"} else text


def _fs(a: float | None, b: float | None, percent: bool = False) -> tuple[str, str]:
    """Two numbers with just enough digits that unequal values never print alike."""
    show = _percent if percent else _f
    for digits in range(4, 17):
        left, right = show(a, digits), show(b, digits)
        if left != right or a == b or a is None or b is None:
            return left, right
    return left, right


def _percent(value: float | None, digits: int = 4) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    places = max(digits - 2, 2)
    text = f"{value * 100:+.{places}f}%"
    return "0%" if float(text[:-1]) == 0 else text
