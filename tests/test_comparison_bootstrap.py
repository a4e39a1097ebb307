from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from ci_ml.comparison.bootstrap import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    paired_bootstrap,
    relative_delta,
    resample_indices,
    resampled_values,
)
from ci_ml.comparison.metrics import Metric, Predictions, resolve_metric, score
from ci_ml.comparison.significance import (
    HEAVY_TAIL_INDEX,
    STUDENTIZED,
    SYMMETRIC_STUDENTIZED,
    TAIL_EXTRAPOLATED,
    bootstrap_p_value,
)
from ci_ml.comparison.studentized import _Tail, hill_tail_index, peng_rows, tail_rows

LABEL_METRICS = [
    "accuracy",
    "balanced_accuracy",
    "f1_macro",
    "f1_micro",
    "f1_weighted",
    "precision_macro",
    "precision_micro",
    "precision_weighted",
    "recall_macro",
    "recall_micro",
    "recall_weighted",
    "jaccard_macro",
    "jaccard_micro",
    "jaccard_weighted",
    "matthews_corrcoef",
]
BINARY_LABEL_METRICS = ["f1", "precision", "recall", "jaccard"]
REGRESSION_METRICS = [
    "r2",
    "explained_variance",
    "neg_mean_squared_error",
    "neg_root_mean_squared_error",
    "neg_mean_absolute_error",
    "neg_mean_absolute_percentage_error",
    "neg_mean_squared_log_error",
    "neg_root_mean_squared_log_error",
]


def noisy_labels(y: np.ndarray, accuracy: float, labels: np.ndarray, rng: np.random.Generator):
    return np.where(rng.random(len(y)) < accuracy, y, rng.choice(labels, len(y)))


def naive(metric: Metric, y: np.ndarray, models: list[Predictions], idx: np.ndarray):
    """The straightforward loop: one sklearn call per resample and model."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.array([[score(metric, y[rows], m.take(rows)) for rows in idx] for m in models])


def assert_matches_naive(
    names: list[str], y: np.ndarray, models: list[Predictions], n_resamples: int = 40
) -> None:
    metrics = [resolve_metric(n) for n in names]
    values, methods = resampled_values(metrics, y, models, n_resamples=n_resamples, seed=3)
    idx = resample_indices(len(y), seed=3, start=0, stop=n_resamples)
    for metric, got, method in zip(metrics, values, methods, strict=True):
        assert method == "vectorised", metric.name
        np.testing.assert_allclose(got, naive(metric, y, models, idx), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("n_rows", [8, 200])
def test_label_metrics_equal_naive_loop_multiclass(n_rows: int) -> None:
    # 8 rows over 4 classes: resamples regularly miss classes, as sklearn must see
    rng = np.random.default_rng(0)
    labels = np.array(["ant", "bee", "cat", "dog"])
    y = rng.choice(labels, n_rows)
    models = [Predictions(predict=noisy_labels(y, acc, labels, rng)) for acc in (0.8, 0.6)]
    assert_matches_naive(LABEL_METRICS, y, models)


@pytest.mark.parametrize("labels", [[0, 1], ["no", "yes"]])
def test_label_metrics_equal_naive_loop_binary(labels: list) -> None:
    rng = np.random.default_rng(1)
    y = rng.choice(labels, 150, p=[0.8, 0.2])
    models = [
        Predictions(predict=noisy_labels(y, acc, np.array(labels), rng), classes=np.array(labels))
        for acc in (0.9, 0.7)
    ]
    names = LABEL_METRICS + (BINARY_LABEL_METRICS if labels == [0, 1] else [])
    assert_matches_naive(names, y, models)


@pytest.mark.parametrize("n_rows", [3, 120])
def test_regression_metrics_equal_naive_loop(n_rows: int) -> None:
    # 3 rows: some resamples repeat one row, where sklearn forces r2 to 0 or 1
    rng = np.random.default_rng(2)
    y = 100 + rng.normal(0, 5, n_rows)  # offset: r2 sums must not cancel
    models = [Predictions(predict=y + rng.normal(0, s, len(y))) for s in (1.0, 2.0)]
    assert_matches_naive(REGRESSION_METRICS, y, models)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_log_loss_equals_naive_loop(n_classes: int) -> None:
    rng = np.random.default_rng(4)
    classes = np.arange(n_classes)
    y = rng.integers(0, n_classes, 300)
    models = []
    for sharpness in (1.0, 3.0):
        logits = rng.normal(0, 1, (len(y), n_classes))
        logits[np.arange(len(y)), y] += sharpness
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        models.append(Predictions(predict_proba=proba, classes=classes))
    assert_matches_naive(["neg_log_loss"], y, models)


@pytest.mark.parametrize("labels", [[0, 1], [False, True]])
def test_ranking_metrics_equal_naive_loop(labels: list) -> None:
    rng = np.random.default_rng(5)
    y = np.asarray(labels)[rng.integers(0, 2, 120)]
    # rounded scores: many ties, which both metrics must treat as sklearn does
    scores = [np.round(y + rng.normal(0, s, len(y)), 1) for s in (0.5, 1.5)]
    models = [Predictions(decision_function=s, classes=np.asarray(labels)) for s in scores]
    assert_matches_naive(["roc_auc", "average_precision"], y, models)
    proba = [np.column_stack([1 - p, p]) for p in (0.3 + 0.4 * y, np.full(len(y), 0.5))]
    models = [Predictions(predict_proba=p, classes=np.asarray(labels)) for p in proba]
    assert_matches_naive(["roc_auc", "average_precision"], y, models)


def test_ranking_metrics_on_tiny_sets_match_sklearn_edge_cases() -> None:
    y = np.array([0, 1, 1, 0, 1])
    scores = [np.array([0.1, 0.5, 0.5, 0.5, 0.9]), np.array([0.9, 0.1, 0.2, 0.3, 0.4])]
    models = [Predictions(decision_function=s, classes=np.array([0, 1])) for s in scores]
    # resamples drawing one class: AUC undefined (NaN), AP 0 without positives
    assert_matches_naive(["roc_auc", "average_precision"], y, models)


def test_fallback_metrics_use_the_same_resamples() -> None:
    rng = np.random.default_rng(5)
    y = rng.normal(0, 1, 80)
    models = [Predictions(predict=y + rng.normal(0, s, len(y))) for s in (0.5, 1.5)]
    metric = resolve_metric("neg_median_absolute_error")
    values, methods = resampled_values([metric], y, models, n_resamples=20, seed=0)
    assert methods == ["loop"]
    idx = resample_indices(len(y), 0, 0, 20)
    np.testing.assert_array_equal(values[0], naive(metric, y, models, idx))


def test_resamples_do_not_depend_on_chunking() -> None:
    whole = resample_indices(50, seed=9, start=0, stop=10)
    np.testing.assert_array_equal(whole[4:7], resample_indices(50, seed=9, start=4, stop=7))
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 50)
    pred = noisy_labels(y, 0.7, np.arange(3), rng)
    small = paired_bootstrap(["f1_macro"], y, pred, y, n_resamples=30, chunk_bytes=1)
    big = paired_bootstrap(["f1_macro"], y, pred, y, n_resamples=30)
    assert small == big


def test_identical_models_are_never_better_with_confidence() -> None:
    rng = np.random.default_rng(6)
    y = rng.integers(0, 2, 500)
    pred = noisy_labels(y, 0.7, np.arange(2), rng)
    for result in paired_bootstrap(["accuracy", "f1_macro", "balanced_accuracy"], y, pred, pred):
        assert result.delta == 0.0 and result.delta_interval is not None
        assert result.delta_interval.contains(0.0)
        assert result.prob_challenger_better == 0.5  # every tie counts half
        low, high = result.delta_interval.low, result.delta_interval.high
        assert low is not None and high is not None and not low > 0 and not high < 0


def test_clearly_better_model_is_better_with_confidence() -> None:
    rng = np.random.default_rng(7)
    y = rng.integers(0, 3, 2000)
    champion = noisy_labels(y, 0.6, np.arange(3), rng)
    challenger = noisy_labels(y, 0.8, np.arange(3), rng)
    results = paired_bootstrap(["accuracy", "f1_weighted"], y, challenger, champion)
    for result in results:
        assert result.delta_interval is not None and (result.delta_interval.low or 0.0) > 0
        assert result.prob_challenger_better == 1.0
        assert result.delta is not None and result.delta > 0.1
    worse = paired_bootstrap(["accuracy"], y, champion, challenger)[0]
    assert worse.delta_interval is not None and (worse.delta_interval.high or 0.0) < 0
    assert worse.prob_challenger_better == 0.0


def test_results_are_deterministic_and_json_ready() -> None:
    rng = np.random.default_rng(8)
    y = rng.normal(0, 1, 100)
    args = (["neg_mean_squared_error", "neg_median_absolute_error"], y, y + 0.1, y + 0.3)
    first, second = paired_bootstrap(*args), paired_bootstrap(*args)
    assert first == second
    payload = first[0].to_dict()
    json.dumps(payload, allow_nan=False)
    assert payload["display_name"] == "mean_squared_error"
    assert payload["delta_interval"]["level"] == 0.95
    assert payload["method"] == "vectorised" and first[1].method == "loop"
    assert payload["interval_method"] == "studentized"
    assert set(payload) >= {"champion", "challenger", "delta", "prob_challenger_better"}


def test_zero_champion_gives_no_relative_delta() -> None:
    y = np.array([0, 1, 0, 1])
    result = paired_bootstrap(["accuracy"], y, y, 1 - y, n_resamples=50)[0]
    assert result.champion == 0.0 and result.delta == 1.0
    assert result.relative_delta is None
    assert result.relative_delta_reason is not None and "0" in result.relative_delta_reason
    assert relative_delta(0.1, -0.5) == (pytest.approx(0.2), None)


def test_first_run_without_champion() -> None:
    rng = np.random.default_rng(10)
    y = rng.integers(0, 2, 300)
    result = paired_bootstrap(["accuracy"], y, noisy_labels(y, 0.8, np.arange(2), rng))[0]
    assert result.champion is None and result.delta is None and result.delta_interval is None
    assert result.prob_challenger_better is None and result.relative_delta is None
    low, high = result.challenger_interval.low, result.challenger_interval.high
    assert low is not None and high is not None and low < result.challenger < high
    json.dumps(result.to_dict(), allow_nan=False)


def test_nan_inputs_are_refused_with_the_array_named() -> None:
    y = np.array([1.0, 2.0, np.nan, 4.0])
    with pytest.raises(ValueError, match=r"y_true has 1 missing"):
        paired_bootstrap(["r2"], y, np.ones(4))
    with pytest.raises(ValueError, match=r"champion predict has 1 missing.*\[1\]"):
        paired_bootstrap(["r2"], np.ones(4), np.ones(4), np.array([1, np.nan, 1, 1]))
    with pytest.raises(ValueError, match="challenger predict has 3 rows"):
        paired_bootstrap(["r2"], np.ones(4), np.ones(3))
    with pytest.raises(ValueError, match="no eval rows"):
        paired_bootstrap(["accuracy"], np.array([]), np.array([]))


def test_tiny_eval_sets_still_give_an_answer() -> None:
    one = paired_bootstrap(["accuracy", "neg_mean_squared_error"], np.array([1]), np.array([1]))
    assert one[0].challenger == 1.0 and one[0].challenger_interval.low == 1.0
    assert one[1].challenger == 0.0 and one[1].n_valid_resamples == 1000
    one_class = Predictions(predict_proba=np.array([[0.2, 0.8]]), classes=np.array([0, 1]))
    with pytest.raises(ValueError, match="label"):  # sklearn's log_loss refuses too
        paired_bootstrap(["neg_log_loss"], np.array([1]), one_class)
    y = np.array([0, 1, 1])
    auc = paired_bootstrap(
        ["roc_auc"],
        y,
        Predictions(decision_function=np.array([0.1, 0.9, 0.8]), classes=np.array([0, 1])),
        n_resamples=200,
    )
    # resamples drawing a single class have no AUC: dropped and counted, not raised
    assert 0 < auc[0].n_valid_resamples < 200
    json.dumps(auc[0].to_dict(), allow_nan=False)


def simulated_coverage(n_datasets: int, simulate) -> float:
    hits = 0
    for i in range(n_datasets):
        y, challenger, champion, truth, metric = simulate(np.random.default_rng(1000 + i))
        result = paired_bootstrap([metric], y, challenger, champion, n_resamples=400, seed=i)[0]
        assert result.delta_interval is not None
        hits += result.delta_interval.contains(truth)
    return hits / n_datasets


def accuracy_world(rng: np.random.Generator):
    # rows where both are right 0.6, only the challenger 0.15, only the champion 0.1
    n = 400
    y = rng.integers(0, 2, n)
    kind = rng.choice(4, n, p=[0.6, 0.15, 0.1, 0.15])
    challenger = np.where(np.isin(kind, [0, 1]), y, 1 - y)
    champion = np.where(np.isin(kind, [0, 2]), y, 1 - y)
    return y, challenger, champion, 0.75 - 0.70, "accuracy"


def mse_world(rng: np.random.Generator):
    n = 300
    y = rng.normal(0, 1, n)
    challenger = y + rng.normal(0, 0.9, n)
    champion = y + rng.normal(0, 1.0, n)
    return y, challenger, champion, -(0.81) + 1.0, "neg_mean_squared_error"


def auc_world(rng: np.random.Generator):
    # scores = y + N(0, sd): AUC = Phi(1 / (sd * sqrt(2))) for each model
    from scipy.stats import norm

    n = 500
    y = rng.integers(0, 2, n)
    sds = (0.8, 1.0)
    challenger, champion = (
        Predictions(decision_function=y + rng.normal(0, sd, n), classes=np.array([0, 1]))
        for sd in sds
    )
    truth = norm.cdf(1 / (sds[0] * np.sqrt(2))) - norm.cdf(1 / (sds[1] * np.sqrt(2)))
    return y, challenger, champion, truth, "roc_auc"


@pytest.mark.parametrize("world", [accuracy_world, mse_world, auc_world])
def test_delta_interval_coverage_is_close_to_nominal(world) -> None:
    # 200 datasets at 95%: the binomial sd of the coverage is 0.015, so 0.90..0.99
    # holds with more than 99.9% probability; the seeds are fixed, so never flaky.
    # (Percentile intervals run slightly narrow on small sets: AUC at n=300 gave
    # 0.92 over 500 datasets, hence n=500 in auc_world.)
    coverage = simulated_coverage(200, world)
    print(f"coverage {coverage:.3f}")
    assert 0.90 <= coverage <= 0.99, coverage


def test_log_loss_on_a_resample_missing_a_class_uses_all_classes() -> None:
    from sklearn.metrics import log_loss

    y = np.array([0, 1, 1])
    proba = np.array([[0.7, 0.3], [0.4, 0.6], [0.2, 0.8]])
    models = [Predictions(predict_proba=proba, classes=np.array([0, 1]))]
    values, _ = resampled_values([resolve_metric("neg_log_loss")], y, models, 50, seed=1)
    idx = resample_indices(3, 1, 0, 50)
    one_class = [b for b, rows in enumerate(idx) if len(set(y[rows])) == 1]
    assert one_class  # sklearn's log_loss without labels raises on these
    for b in one_class:
        rows = idx[b]
        assert values[0][0, b] == pytest.approx(-log_loss(y[rows], proba[rows], labels=[0, 1]))


def test_small_random_problems_match_sklearn_everywhere() -> None:
    # a small fuzz over sizes 2..8, where resamples miss classes and repeat rows
    for trial in range(4):
        rng = np.random.default_rng(trial)
        n_rows = int(rng.integers(4, 9))
        y = rng.integers(0, 2, n_rows)
        y[:2] = [0, 1]
        models = []
        for _ in range(2):
            p = np.round(rng.random(n_rows), 1)
            models.append(
                Predictions(
                    predict=(p > 0.5).astype(int),
                    decision_function=p - 0.5,
                    classes=np.array([0, 1]),
                )
            )
        names = [*LABEL_METRICS, "f1", "roc_auc", "average_precision"]
        assert_matches_naive(names, y, models, n_resamples=15)


def test_hill_finds_the_tail_index_of_a_pareto_sample() -> None:
    rng = np.random.default_rng(11)
    losses = rng.pareto(1.5, 10_000) + 1.0  # tail index 1.5
    k = tail_rows(len(losses))
    assert k == 100
    # Hill's 1/index has standard error (1/index) / sqrt(k): within 4 of them
    assert 1 / hill_tail_index(losses) == pytest.approx(1 / 1.5, abs=4 / 1.5 / math.sqrt(k))
    assert hill_tail_index(np.zeros(400)) is None


def test_heavy_tailed_losses_take_the_tail_extrapolated_upper_bound() -> None:
    rng = np.random.default_rng(12)
    y = rng.standard_t(3, 2000)
    heavy = paired_bootstrap(["neg_mean_squared_error"], y, np.zeros(2000))[0]
    light = paired_bootstrap(["neg_mean_squared_error"], y, y - rng.normal(0, 1, 2000))[0]
    assert heavy.tail_index is not None and heavy.tail_index < HEAVY_TAIL_INDEX
    assert heavy.upper_bound_method == TAIL_EXTRAPOLATED
    assert light.upper_bound_method == STUDENTIZED and (light.tail_index or math.inf) > 2.5
    # the loss's upper end is the challenger interval's low end (higher is better)
    studentized_only = _studentized_low(y, np.zeros(2000))
    assert (heavy.challenger_interval.low or 0.0) < studentized_only
    payload = heavy.to_dict()
    assert payload["upper_bound_method"] == TAIL_EXTRAPOLATED


def _heavy_pair(seed: int, noise: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A target with t(3) or Gaussian noise and two regressors, the challenger better."""
    rng = np.random.default_rng(seed)
    shared = rng.standard_t(3, 400) if noise == "t3" else rng.normal(0, math.sqrt(3), 400)
    signal = rng.normal(0, 1, 400)
    return signal + shared, signal + rng.normal(0, 0.5, 400), signal + rng.normal(0, 0.6, 400)


def test_under_heavy_tails_the_change_is_the_symmetric_studentized_mean_difference() -> None:
    from ci_ml.comparison import paired_bootstrap_values

    y, challenger, champion = _heavy_pair(13, "t3")
    metrics = ["neg_root_mean_squared_error", "neg_mean_squared_error"]
    results, values = paired_bootstrap_values(metrics, y, challenger, champion)
    rmse, mse = results
    assert rmse.upper_bound_method == TAIL_EXTRAPOLATED
    assert rmse.delta_interval_method == mse.delta_interval_method == SYMMETRIC_STUDENTIZED
    assert rmse.to_dict()["delta_interval_method"] == SYMMETRIC_STUDENTIZED
    change = values[0][0] - values[0][1]
    # symmetric about the point change, on each side the quantiles of |t_b|
    low, mid, high = np.quantile(change, [0.05, 0.5, 0.95])
    assert mid == pytest.approx(rmse.delta, abs=1e-12)
    assert high - mid == pytest.approx(mid - low, rel=1e-9)
    # RMSE's change is MSE's divided by the sum of the RMSEs: `min_delta: 0` agrees
    mse_change = values[1][0] - values[1][1]
    root_sum = math.sqrt(-mse.challenger) + math.sqrt(-mse.champion)
    assert np.sort(change) == pytest.approx(np.sort(mse_change) / root_sum, rel=1e-9)
    assert bootstrap_p_value(change, 0.0, "above") == bootstrap_p_value(mse_change, 0.0, "above")


def test_light_tailed_losses_keep_the_bootstrap_t_change() -> None:
    y, challenger, champion = _heavy_pair(14, "gaussian")
    rmse = paired_bootstrap(["neg_root_mean_squared_error"], y, challenger, champion)[0]
    assert rmse.upper_bound_method == STUDENTIZED
    assert rmse.delta_interval_method is None


def test_absolute_errors_switch_at_twice_the_index_and_keep_the_bootstrap_t_change() -> None:
    from ci_ml.comparison import resolve_metric, tail_threshold

    assert tail_threshold(resolve_metric("neg_mean_absolute_error")) == 2 * HEAVY_TAIL_INDEX
    for name in ("neg_root_mean_squared_error", "neg_log_loss"):
        assert tail_threshold(resolve_metric(name)) == HEAVY_TAIL_INDEX
    # absolute t(3) errors (index 3): the switch fires at 2 * 2.5 and not at 2.5, and the
    # change stays the bootstrap-t (the symmetric change is for squared errors only)
    y, challenger, champion = _heavy_pair(16, "t3")
    metrics = ["neg_mean_absolute_error", "neg_mean_squared_error"]
    mae, mse = paired_bootstrap(metrics, y, challenger, champion)
    assert mae.tail_index is not None and HEAVY_TAIL_INDEX < mae.tail_index < 2 * HEAVY_TAIL_INDEX
    assert mae.upper_bound_method == TAIL_EXTRAPOLATED and mae.delta_interval_method is None
    assert mse.delta_interval_method == SYMMETRIC_STUDENTIZED


def test_log_loss_keeps_the_bootstrap_t_change_when_its_switch_fires() -> None:
    # light-tailed but skewed losses of an overconfident classifier (log-odds x1.3) on 100
    # rows, on which Hill's switch fires through its noise (about a third of such eval sets)
    rng = np.random.default_rng(7)
    logits = rng.normal(0, 1.5, 100)
    y = (rng.random(100) < 1 / (1 + np.exp(-logits))).astype(int)
    models = []
    for scale in (1.3, 1.0):
        positive = 1 / (1 + np.exp(-scale * logits))
        proba = np.column_stack([1 - positive, positive])
        classes = np.array([0, 1])
        models.append(
            Predictions((positive > 0.5).astype(int), predict_proba=proba, classes=classes)
        )
    result = paired_bootstrap(["neg_log_loss"], y, *models)[0]
    assert result.upper_bound_method == TAIL_EXTRAPOLATED
    assert result.delta_interval_method is None


def _studentized_low(y: np.ndarray, prediction: np.ndarray) -> float:
    """The low end of the plain bootstrap-t interval of -MSE, for comparison."""
    errors = (y - prediction) ** 2
    n, mean, sd = len(errors), errors.mean(), errors.std()
    rows = resample_indices(n, DEFAULT_SEED, 0, DEFAULT_RESAMPLES)
    means, sds = errors[rows].mean(1), errors[rows].std(1)
    upper = mean - np.quantile((means - mean) / sds, 0.025) * sd
    return float(-upper)


def test_the_tail_mean_from_resample_counts_is_pengs_estimator() -> None:
    rng = np.random.default_rng(13)
    losses = rng.standard_t(3, 400) ** 2
    tail = _Tail.of(losses, 3)
    rows = rng.integers(0, 400, (3, 400))
    counts = np.stack([np.bincount(r, minlength=400) for r in rows]).astype(float)
    k = peng_rows(400)
    for got, r in zip(tail.estimate(counts[:, tail.order]), rows, strict=True):
        ordered = np.sort(losses[r])
        u = ordered[-k - 1]
        gamma = min(np.log(ordered[-k:]).mean() - np.log(u), 0.95)
        assert got == pytest.approx(ordered[:-k].sum() / 400 + k / 400 * u / (1 - gamma))


@pytest.fixture(params=["blocks", "one at a time"])
def auc_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """RankedRows.auc both ways: blocks of resamples (few rows) and one resample per
    call (many rows), whatever the test's own size."""
    from ci_ml.comparison import kernels

    monkeypatch.setattr(kernels, "BLOCK_MAX_ROWS", 10**9 if request.param == "blocks" else 0)


@pytest.mark.usefixtures("auc_path")
@pytest.mark.parametrize("decimals", [1, 3, 6])
def test_auc_from_row_counts_equals_the_group_counts_exactly(decimals: int) -> None:
    """Many distinct scores: AUC is counted from each resample's row counts in ranked
    order (RankedRows); it must give the very values of the (score, class) group counts."""
    from ci_ml.comparison.bootstrap import _count
    from ci_ml.comparison.kernels import (
        RankedRows,
        _ranking_kernel,
        _score_groups,
        roc_auc_from_counts,
    )

    rng = np.random.default_rng(decimals)
    y = rng.integers(0, 2, 3000)
    scores = np.round(y + rng.normal(0, 1, len(y)), decimals)  # ties at 1 decimal
    idx = resample_indices(len(y), seed=4, start=0, stop=130)  # 2 blocks and a part
    groups = _score_groups(scores, y == 1)
    assert groups is not None
    by_groups = roc_auc_from_counts(_count(groups.values[idx], groups.size).reshape(130, -1, 2))
    by_rows = RankedRows.of(scores, y == 1).auc(_count(idx, len(y), np.int32))
    np.testing.assert_array_equal(by_rows, by_groups)
    model = Predictions(decision_function=scores, classes=np.array([0, 1]))
    kernel = _ranking_kernel(resolve_metric("roc_auc"), y, [model], {})
    assert kernel is not None  # few distinct scores (1 decimal) keep the group counts
    assert (kernel.from_rows is not None) == (decimals > 1)


@pytest.mark.usefixtures("auc_path")
def test_the_bootstrap_of_many_distinct_scores_matches_sklearn_per_resample() -> None:
    rng = np.random.default_rng(11)
    y = rng.integers(0, 2, 400)
    scores = [y + rng.normal(0, s, len(y)) for s in (0.7, 2.0)]
    models = [
        Predictions(predict=(s > 0.5).astype(int), decision_function=s, classes=np.array([0, 1]))
        for s in scores
    ]
    assert_matches_naive(["roc_auc", "accuracy"], y, models, n_resamples=30)


def test_the_accuracy_change_interval_holds_the_exact_one_when_disagreements_are_few():
    from ci_ml.comparison import exact_change_interval, paired_bootstrap

    y = np.tile([0, 1], 50)
    champion = y.copy()
    challenger = y.copy()
    challenger[:4] = 1 - y[:4]  # 4 rows only the champion gets right, 1 only the challenger
    champion[4] = 1 - y[4]
    result = paired_bootstrap(["accuracy"], y, challenger, champion, seed=0)[0]
    low, high = exact_change_interval(4, 1, 100, 0.95)
    assert result.delta_interval.low <= low and result.delta_interval.high >= high
    assert result.delta_interval_method.startswith("percentile and exact (Clopper-Pearson")
    assert result.to_dict()["delta_interval_method"] == result.delta_interval_method


@pytest.mark.usefixtures("auc_path")
def test_auc_with_a_few_ties_takes_the_one_gather_path_and_gives_the_same_values() -> None:
    """Distinct scores but for a few positives tied with negatives: 2 * below plus the
    gap at the tied positives must be the very integers of the group counts."""
    from ci_ml.comparison.bootstrap import _count
    from ci_ml.comparison.kernels import RankedRows, _score_groups, roc_auc_from_counts

    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 3000)
    scores = y + rng.normal(0, 1, len(y))
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    scores[positives[:40]] = scores[negatives[:40]]  # 40 positives tied with a negative
    ranked = RankedRows.of(scores, y == 1)
    assert len(ranked.tied) >= 40 and ranked._few_ties()
    idx = resample_indices(len(y), seed=2, start=0, stop=25)
    groups = _score_groups(scores, y == 1)
    assert groups is not None
    by_groups = roc_auc_from_counts(_count(groups.values[idx], groups.size).reshape(25, -1, 2))
    np.testing.assert_array_equal(ranked.auc(_count(idx, len(y), np.int32)), by_groups)


def test_the_bootstrap_on_two_threads_is_bit_identical_to_the_serial_one() -> None:
    """Above the size where threads pay, the chunks shared among threads give the
    very values of the serial run (each resample has its own stream)."""
    from ci_ml.comparison import paired_bootstrap_values
    from ci_ml.comparison.bootstrap import PARALLEL_MIN_ROWS, bootstrap_threads

    n = PARALLEL_MIN_ROWS
    assert bootstrap_threads(n, 2) == 2 and bootstrap_threads(n - 1, 2) == 1
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, n)
    scores = [y + rng.normal(0, s, n) for s in (0.9, 1.1)]
    challenger, champion = (
        Predictions(predict=(s > 0.5).astype(int), decision_function=s, classes=np.array([0, 1]))
        for s in scores
    )
    metrics = ["roc_auc", "accuracy", "balanced_accuracy"]
    # small chunks: many of them, so both threads take some
    run = {
        t: paired_bootstrap_values(
            metrics, y, challenger, champion, n_resamples=60, chunk_bytes=2**22, threads=t
        )
        for t in (1, 2)
    }
    for serial, threaded in zip(run[1][1], run[2][1], strict=True):
        np.testing.assert_array_equal(serial, threaded)
    assert [r.to_dict() for r in run[1][0]] == [r.to_dict() for r in run[2][0]]


def test_a_failing_chunk_on_a_helper_thread_is_raised_by_the_caller() -> None:
    import threading
    import time

    from ci_ml.comparison.bootstrap import spread

    done: list[tuple[int, int]] = []

    def work(start: int, stop: int) -> None:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("chunk failed")
        time.sleep(0.01)  # the helper takes some spans meanwhile
        done.append((start, stop))

    with pytest.raises(RuntimeError, match="chunk failed"):
        spread(work, [(i, i + 1) for i in range(50)], threads=2)
    assert len(done) < 50  # the others stop taking spans after the failure


def test_resample_indices_are_the_seed_sequences_streams_and_fill_a_buffer() -> None:
    """Resample b draws from default_rng(SeedSequence(seed, spawn_key=(b,))): every
    interval rests on that stream, so building the generator faster must not change it."""
    expected = np.stack(
        [
            np.random.default_rng(np.random.SeedSequence(7, spawn_key=(b,))).integers(
                0, 300, 300, dtype=np.int32
            )
            for b in range(5, 9)
        ]
    )
    np.testing.assert_array_equal(resample_indices(300, 7, 5, 9), expected)
    buffer = np.full((4, 300), -1, np.int32)
    assert resample_indices(300, 7, 5, 9, out=buffer) is buffer
    np.testing.assert_array_equal(buffer, expected)


@pytest.mark.parametrize(
    "names",
    [
        ["roc_auc", "accuracy", "balanced_accuracy", "matthews_corrcoef"],  # AUC by rows
        ["accuracy", "f1", "neg_log_loss"],  # log loss's features
    ],
)
def test_codes_counted_from_the_row_counts_are_the_gathered_counts_exactly(
    monkeypatch: pytest.MonkeyPatch, names: list[str]
) -> None:
    """When the engine counts each row's draws anyway, binary label types (8 for two
    models) are counted as rows @ one_hot(types) in float32: the very values of gathering
    and counting them, with the chunk buffers reused from chunk to chunk (the last one
    smaller)."""
    import ci_ml.comparison.bootstrap as bootstrap

    rng = np.random.default_rng(12)
    n_classes = 2
    y = rng.integers(0, n_classes, 3000)
    models = []
    for noise in (0.8, 1.3):
        logits = rng.normal(0, noise, (len(y), n_classes))
        logits[np.arange(len(y)), y] += 1
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        models.append(
            Predictions(
                predict=proba.argmax(axis=1),
                predict_proba=proba,
                decision_function=logits[:, 1] - logits[:, 0],
                classes=np.arange(n_classes),
            )
        )
    metrics = [resolve_metric(n) for n in names]
    calls: list[int] = []
    counted = bootstrap.counted_by_rows

    def spy(rows: np.ndarray, hot: np.ndarray) -> np.ndarray:
        calls.append(len(rows))
        return counted(rows, hot)

    def run() -> list[np.ndarray]:
        # chunks of 12 resamples and a last one of 4
        return resampled_values(metrics, y, models, n_resamples=100, seed=5, chunk_bytes=2**20)[0]

    monkeypatch.setattr(bootstrap, "counted_by_rows", spy)
    by_rows = run()
    assert len(calls) > 2 and calls[-1] < calls[0]
    n_calls = len(calls)
    monkeypatch.setattr(bootstrap, "ONE_HOT_MAX_CODES", 0)  # gather and count, as before
    gathered = run()
    assert len(calls) == n_calls
    for new, old in zip(by_rows, gathered, strict=True):
        np.testing.assert_array_equal(new, old)
    idx = resample_indices(len(y), seed=5, start=0, stop=20)
    for metric, values in zip(metrics, by_rows, strict=True):
        expected = naive(metric, y, models, idx)
        np.testing.assert_allclose(values[:, :20], expected, rtol=1e-9, atol=1e-12)
