"""The gate: declared rules -> a decision with one plain reason per rule. Pure.

Units people think in: `min` / `max` bound the metric as shown (a loss such as
`neg_log_loss` is bounded as log_loss, lower is better). Change rules speak of
*improvement*: challenger better than champion by that much, whatever the
metric's direction (for a loss, improvement = champion loss - challenger loss).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from ci_ml.metrics import MetricName

CHANGE_RULES = ("min_delta", "max_delta", "max_regression", "min_relative_delta")
BOUND_RULES = ("min", "max")


@dataclass(frozen=True)
class RuleResult:
    index: int
    metric: str
    rule: str
    threshold: float
    value: float | None
    status: str  # "pass", "fail" or "skipped"
    reason: str

    @property
    def passed(self) -> bool | None:
        return None if self.status == "skipped" else self.status == "pass"

    def rule_name(self) -> str:
        return f"gate[{self.index}] {MetricName(self.metric).display} {self.rule}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": f"gate[{self.index}]",
            "metric": self.metric,
            "kind": self.rule,
            "threshold": self.threshold,
            "value": self.value,
            "status": self.status,
            "passed": self.passed,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Decision:
    verdict: str  # "promote" or "block"
    reason: str
    rules: tuple[RuleResult, ...]
    has_champion: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "has_champion": self.has_champion,
            "rules": [r.to_dict() for r in self.rules],
        }


def decide(
    rules: list[dict[str, Any]],
    metrics: dict[str, dict[str, Any]],
    has_champion: bool,
    budgets: dict[str, dict[str, Any]] | None = None,
) -> Decision:
    """Every rule judged on the metrics and budgets; any failed rule blocks the challenger."""
    results = tuple(
        result
        for index, rule in enumerate(rules)
        for result in (
            judge_budget(index, rule, (budgets or {}).get(rule["budget"]), has_champion)
            if "budget" in rule
            else judge_rule(index, rule, metrics.get(rule["metric"]), has_champion)
        )
    )
    failed = [r for r in results if r.status == "fail"]
    if failed:
        first = failed[0]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        return Decision(
            "block", f"{first.rule_name()}: {first.reason}{more}", results, has_champion
        )
    judged = [r for r in results if r.status == "pass"]
    reason = f"all {len(judged)} rule(s) passed"
    if not has_champion:
        reason += "; no champion yet, so change rules were skipped"
    return Decision("promote", reason, results, has_champion)


def judge_rule(
    index: int, rule: dict[str, Any], entry: dict[str, Any] | None, has_champion: bool
) -> list[RuleResult]:
    metric = MetricName(rule["metric"])
    out = []
    for kind in (*BOUND_RULES, *CHANGE_RULES):
        if kind in rule:
            out.append(_judge(index, metric, kind, float(rule[kind]), entry, has_champion))
    return out


def _judge(
    index: int,
    metric: MetricName,
    kind: str,
    threshold: float,
    entry: dict[str, Any] | None,
    has_champion: bool,
) -> RuleResult:
    def result(status: str, value: float | None, reason: str) -> RuleResult:
        return RuleResult(index, metric.scorer, kind, threshold, value, status, reason)

    challenger = _number(entry, "challenger")
    if challenger is None:
        return result("fail", None, f"{metric.display} is missing or NaN for the challenger")
    if kind in BOUND_RULES:
        return _bound(result, metric, kind, threshold, challenger)
    if not has_champion:
        return result("skipped", None, "no champion yet to compare with")
    champion = _number(entry, "champion")
    if champion is None:
        return result("fail", None, f"{metric.display} is missing or NaN for the champion")
    return _change(result, metric, kind, threshold, challenger, champion)


def judge_budget(
    index: int, rule: dict[str, Any], entry: dict[str, Any] | None, has_champion: bool
) -> list[RuleResult]:
    """Budgets are costs: lower is better, bounded absolutely (`max`) or vs the champion."""
    value = _number(entry, "challenger")
    champion = _number(entry, "champion") if has_champion else None
    return [
        _budget(
            RuleResult(index, rule["budget"], kind, float(rule[kind]), None, "", ""),
            value,
            champion,
        )
        for kind in ("max", "max_ratio")
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


def _status(passed: bool) -> str:
    return "pass" if passed else "fail"


def _bound(result: Any, metric: MetricName, kind: str, threshold: float, value: float) -> Any:
    shown = metric.shown(value)
    assert shown is not None
    passed = _at_least(shown, threshold) if kind == "min" else _at_least(threshold, shown)
    word = ">=" if kind == "min" else "<="
    verb = "is" if passed else "is not"
    return result(
        "pass" if passed else "fail",
        shown,
        f"{metric.display} {_f(shown)} {verb} {word} {_f(threshold)}",
    )


def _change(
    result: Any, metric: MetricName, kind: str, threshold: float, new: float, old: float
) -> Any:
    improvement = new - old  # scorer values: higher is better for every metric
    movement = _movement(metric, old, new)
    if kind == "min_relative_delta":
        return _relative(result, metric, threshold, improvement, old, movement)
    if kind == "min_delta":
        passed = _at_least(improvement, threshold)
        need = f"needs an improvement of at least {_f(threshold)}"
    elif kind == "max_delta":
        passed = _at_least(threshold, improvement)
        need = f"an improvement above {_f(threshold)} is too good to be true (a leak or a bug?)"
    else:  # max_regression
        passed, need = _at_least(improvement, -threshold), f"may regress by at most {_f(threshold)}"
    return result("pass" if passed else "fail", improvement, f"{movement}; {need}")


def _relative(
    result: Any, metric: MetricName, threshold: float, improvement: float, old: float, movement: str
) -> Any:
    if old == 0:
        passed = improvement > 0 or (improvement == 0 and threshold <= 0)
        reason = f"{movement}; relative change undefined (champion is 0), judged by its sign"
        return result("pass" if passed else "fail", None, reason)
    relative = improvement / abs(old)
    need = f"needs a relative improvement of at least {threshold:+.2%}"
    status = "pass" if _at_least(relative, threshold) else "fail"
    return result(status, relative, f"{movement} ({relative:+.2%}); {need}")


def _movement(metric: MetricName, old: float, new: float) -> str:
    shown_old, shown_new = metric.shown(old), metric.shown(new)
    if new == old:
        return f"{metric.display} unchanged at {_f(shown_new)}"
    better = "better" if new > old else "worse"
    return f"{metric.display} {_f(shown_old)} -> {_f(shown_new)} ({better})"


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
    if value is None:
        return "n/a"
    return f"{value:.4g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.2e}"
