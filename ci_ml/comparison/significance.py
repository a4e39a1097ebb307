"""Significance helpers for the gate: exact McNemar, multiple-rule adjustment,
and the minimum number of rows needed before a verdict is given at all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import binom

from ci_ml.comparison.bootstrap import clean

METHODS = ("holm", "bonferroni")


@dataclass(frozen=True)
class McNemarResult:
    """Exact McNemar test on the rows where exactly one model is right."""

    n_rows: int
    both_right: int
    only_champion_right: int
    only_challenger_right: int
    both_wrong: int
    p_value: float
    p_value_challenger_better: float

    def to_dict(self) -> dict[str, Any]:
        return {k: clean(v) for k, v in asdict(self).items()}


def mcnemar_counts(only_champion_right: int, only_challenger_right: int) -> tuple[float, float]:
    """Two-sided and one-sided ("challenger better") exact p-values.

    Under the null each discordant row is equally likely to favour either model,
    so the challenger's share of them is Binomial(b + c, 1/2).
    """
    b, c = only_champion_right, only_challenger_right
    n = b + c
    if n == 0:
        return 1.0, 1.0
    two_sided = min(1.0, 2.0 * float(binom.cdf(min(b, c), n, 0.5)))
    return two_sided, float(binom.sf(c - 1, n, 0.5))


def mcnemar_exact(y_true: Any, champion: Any, challenger: Any) -> McNemarResult:
    """McNemar from predicted labels; the correctness of each row is all it uses."""
    y = np.asarray(y_true)
    right_a, right_b = np.asarray(champion) == y, np.asarray(challenger) == y
    only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(right_b & ~right_a))
    two_sided, one_sided = mcnemar_counts(only_a, only_b)
    return McNemarResult(
        n_rows=len(y),
        both_right=int(np.sum(right_a & right_b)),
        only_champion_right=only_a,
        only_challenger_right=only_b,
        both_wrong=int(np.sum(~right_a & ~right_b)),
        p_value=two_sided,
        p_value_challenger_better=one_sided,
    )


def bonferroni(p_values: Sequence[float]) -> list[float]:
    m = len(p_values)
    return [min(1.0, p * m) for p in p_values]


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order."""
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(np.argsort(p_values, kind="stable")):
        # the max keeps adjusted p-values monotone in the raw ones
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


@dataclass(frozen=True)
class Adjustment:
    """Several rules tested together: which still hold after the adjustment."""

    method: str
    alpha: float
    p_values: tuple[float, ...]
    adjusted: tuple[float, ...]
    rejected: tuple[bool, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "alpha": self.alpha,
            "p_values": [clean(p) for p in self.p_values],
            "adjusted": [clean(p) for p in self.adjusted],
            "rejected": list(self.rejected),
        }


def adjust(p_values: Sequence[float], alpha: float = 0.05, method: str = "holm") -> Adjustment:
    """Adjust for several rules at once; `rejected[i]` means rule i's null is rejected."""
    if method not in METHODS:
        raise ValueError(f"unknown adjustment {method!r}; expected one of {METHODS}")
    raw = [float(p) for p in p_values]
    adjusted = holm(raw) if method == "holm" else bonferroni(raw)
    return Adjustment(
        method, alpha, tuple(raw), tuple(adjusted), tuple(p <= alpha for p in adjusted)
    )


def bonferroni_confidence(confidence: float, n_rules: int) -> float:
    """Per-rule interval level so that all n_rules intervals hold together."""
    return 1.0 - (1.0 - confidence) / max(n_rules, 1)


@dataclass(frozen=True)
class RowsCheck:
    """Whether there are enough rows to judge; a status, never an exception."""

    status: str  # "ok" or "not_enough_rows"
    n_rows: int
    min_rows: int
    reason: str | None

    @property
    def judged(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "judged": self.judged}


def check_min_rows(n_rows: int, min_rows: int) -> RowsCheck:
    if n_rows >= min_rows:
        return RowsCheck("ok", n_rows, min_rows, None)
    reason = f"not enough rows to judge: {n_rows} < min_rows {min_rows}"
    return RowsCheck("not_enough_rows", n_rows, min_rows, reason)
