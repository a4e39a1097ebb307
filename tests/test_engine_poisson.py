"""The Poisson bootstrap of the local engine: weights, exact points, coverage, errors."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import get_scorer

from ci_ml.comparison import STUDENTIZED, TAIL_EXTRAPOLATED, paired_bootstrap
from ci_ml.config import load_config
from ci_ml.engines import EvaluationRequest, parse_engine, parse_source
from ci_ml.engines.local import LocalEngine
from ci_ml.engines.moments import TopLosses, candidate_rows
from ci_ml.engines.poisson import poisson_weights, row_keys
from ci_ml.engines.summaries import Summary, finish, plan_summaries
from ci_ml.errors import ConfigError, DataError, EnvironmentProblem
from tests.spark_support import (
    FEATURES,
    assert_same_results,
    contenders,
    eval_rows,
    request,
    write_parts,
)

REPO = Path(__file__).resolve().parent.parent


def test_weights_are_a_function_of_the_row_key_alone() -> None:
    frame = eval_rows(2000, "classification")
    keys = row_keys(frame, ["id"])
    whole = poisson_weights(keys, seed=7, start=0, stop=50)
    halves = [poisson_weights(k, 7, 0, 50) for k in (keys[:700], keys[700:])]
    assert np.array_equal(whole, np.hstack(halves))
    later = poisson_weights(keys, seed=7, start=20, stop=50)
    assert np.array_equal(whole[20:], later)
    assert not np.array_equal(whole, poisson_weights(keys, 8, 0, 50))
    # Poisson(1): mean 1, variance 1
    big = poisson_weights(row_keys(eval_rows(20000, "regression"), ["id"]), 0, 0, 20)
    assert abs(big.mean() - 1) < 0.01 and abs(big.var() - 1) < 0.02


def test_row_key_ignores_the_integer_width_and_the_column_order() -> None:
    frame = pd.DataFrame({"id": np.arange(5, dtype=np.int64), "s": list("abcde")})
    narrow = frame.astype({"id": np.int32})
    assert np.array_equal(row_keys(frame, ["id", "s"]), row_keys(narrow, ["s", "id"]))
    assert len(set(row_keys(frame, ["id", "s"]).tolist())) == 5
    # a missing text value hashes alike whichever reader produced it
    readers = [pd.Series(["a", None], dtype=t) for t in (object, "string", "str")]
    hashes = [row_keys(pd.DataFrame({"s": s}), ["s"]).tolist() for s in readers]
    assert hashes[0] == hashes[1] == hashes[2] and hashes[0][0] != hashes[0][1]


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_point_values_are_sklearns(task: str, tmp_path: Path) -> None:
    frame = eval_rows(3000, task)
    models = contenders(frame, task)
    source = parse_source(write_parts(frame, tmp_path / "eval", parts=3))
    result = LocalEngine().evaluate(source, request(task), models)
    x, y = frame[list(FEATURES)], frame["y"]
    for r in result.results:
        exact = [get_scorer(r.metric)(m, x, y) for m in models]
        bound = result.sketch_bounds.get(
            r.metric, 1e-12 if r.metric != "average_precision" else 2e-3
        )
        assert abs(r.challenger - exact[0]) <= bound, r.metric
        assert r.champion is not None and abs(r.champion - exact[1]) <= bound, r.metric
        assert r.n_valid_resamples == 200 and r.challenger_interval.contains(r.challenger)
    assert result.n_rows == 3000 and result.to_dict()["bootstrap"] == "poisson"


@pytest.mark.parametrize(("task", "heavy"), [("classification", False), ("regression", True)])
def test_results_do_not_depend_on_how_the_rows_are_split(
    task: str, heavy: bool, tmp_path: Path
) -> None:
    frame = eval_rows(2500, task, heavy=heavy)
    models = contenders(frame, task)
    one = LocalEngine().evaluate(
        parse_source(write_parts(frame, tmp_path / "one", 1)), request(task), models
    )
    many = LocalEngine().evaluate(
        parse_source(write_parts(frame, tmp_path / "many", 7)), request(task), models
    )
    for a, b in zip(one.results, many.results, strict=True):
        assert a.delta_interval is not None and b.delta_interval is not None
        assert a.delta_interval.low == pytest.approx(b.delta_interval.low, abs=1e-12)
        assert a.challenger_interval.high == pytest.approx(b.challenger_interval.high, abs=1e-12)
        assert (a.tail_index, a.upper_bound_method) == (b.tail_index, b.upper_bound_method)
    # heavy tails: the top losses merged across files made the same tail-extrapolated bound
    methods = {r.metric: r.upper_bound_method for r in many.results}
    assert heavy == (methods.get("neg_root_mean_squared_error") == TAIL_EXTRAPOLATED)


MOMENT_METRICS = {
    "neg_root_mean_squared_error",
    "neg_mean_absolute_error",
    "neg_mean_squared_error",
    "neg_log_loss",
}


@pytest.mark.parametrize("heavy", [False, True])
def test_moment_metrics_get_the_local_bootstraps_interval_and_tail_switch(
    heavy: bool, tmp_path: Path
) -> None:
    """Studentized intervals, and the same Hill index and bound method as the percentile
    bootstrap on the same rows; the gate tests the values the intervals came from."""
    frame = eval_rows(2000, "regression", heavy=heavy)
    models = contenders(frame, "regression")
    source = parse_source(write_parts(frame, tmp_path / "eval", parts=3))
    poisson = LocalEngine().evaluate(source, request("regression"), models)
    x, y = frame[list(FEATURES)], frame["y"].to_numpy()
    predicted = [m.predict(x) for m in models]
    names = [r.metric for r in poisson.results]
    local = paired_bootstrap(names, y, *predicted, n_resamples=200)
    expected = TAIL_EXTRAPOLATED if heavy else STUDENTIZED
    for found, percentile in zip(poisson.results, local, strict=True):
        moment = found.metric in MOMENT_METRICS
        assert found.interval_method == ("studentized" if moment else "percentile")
        assert found.upper_bound_method == percentile.upper_bound_method
        if not moment:
            assert found.tail_index is None is percentile.tail_index
        else:
            assert found.tail_index == pytest.approx(percentile.tail_index, rel=1e-12)
            assert found.upper_bound_method == expected, found.metric
            tested = poisson.resampled[found.metric]
            change = np.quantile(tested[0] - tested[1], [0.025, 0.975])
            assert found.delta_interval is not None
            assert change.tolist() == pytest.approx(
                [found.delta_interval.low, found.delta_interval.high], abs=1e-12
            )


def test_the_tail_from_the_top_losses_is_the_tail_from_every_row() -> None:
    """Peng's bound from the merged top losses (about 4 sqrt(n) of them) equals the one
    from all the rows' losses with their weights: the candidates always hold the top."""
    frame = eval_rows(3000, "regression", heavy=True)
    models = contenders(frame, "regression")
    req = EvaluationRequest("y", FEATURES, ("neg_root_mean_squared_error",), "regression")
    plan = plan_summaries(req, models, None, float(frame["y"].mean()), len(frame))
    summary = plan.empty() + plan.summarise(frame, models)
    keys = row_keys(frame, req.key_columns)
    x, y = frame[list(FEATURES)], frame["y"].to_numpy()
    every = tuple(TopLosses.of((y - m.predict(x)) ** 2, keys, len(frame)) for m in models)
    assert len(summary.tops[0].values) == candidate_rows(3000) < len(frame) // 10
    top, whole = (finish(plan, s, "local") for s in (summary, Summary(summary.sums, every)))
    assert top.results[0].upper_bound_method == TAIL_EXTRAPOLATED
    assert_same_results(top, whole, tol=1e-12)


class StoredLabels(ClassifierMixin, BaseEstimator):
    """Predicts the `pred` column: a model whose accuracy we fix by construction."""

    def fit(self, x: pd.DataFrame, y: np.ndarray) -> StoredLabels:
        self.classes_ = np.unique(y)
        return self

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return x["pred"].to_numpy()


def test_poisson_intervals_cover_the_true_accuracy_at_their_level() -> None:
    """400 eval sets of 300 rows from a model with true accuracy 0.8: a 90% interval
    must hold 0.8 in 90% of them, within three binomial standard deviations."""
    rng = np.random.default_rng(2024)
    req = EvaluationRequest(
        "y", ("pred",), ("accuracy",), resamples=300, confidence=0.9, row_key=("id",)
    )
    model = StoredLabels().fit(None, np.array([0, 1]))  # type: ignore[arg-type]
    trials, hits = 400, 0
    for trial in range(trials):
        y = rng.integers(0, 2, 300)
        right = rng.random(300) < 0.8
        frame = pd.DataFrame(
            {"pred": np.where(right, y, 1 - y), "y": y, "id": np.arange(300) + trial * 300}
        )
        plan = plan_summaries(req, [model], np.array([0, 1]), 0.0, len(frame))
        interval = finish(plan, plan.summarise(frame, [model]), "local").results[0]
        hits += interval.challenger_interval.contains(0.8)
    sd = np.sqrt(0.9 * 0.1 / trials)
    assert abs(hits / trials - 0.9) < 3 * sd, hits / trials


def test_a_metric_without_a_summary_is_refused_by_name(tmp_path: Path) -> None:
    frame = eval_rows(200, "regression")
    req = EvaluationRequest("y", FEATURES, ("neg_median_absolute_error",), "regression")
    source = parse_source(write_parts(frame, tmp_path / "eval", 1))
    with pytest.raises(ConfigError, match=r"neg_median_absolute_error.*supported: accuracy"):
        LocalEngine().evaluate(source, req, contenders(frame, "regression"))


def test_a_column_whose_type_differs_across_files_is_named(tmp_path: Path) -> None:
    frame = eval_rows(100, "classification")
    folder = write_parts(frame, tmp_path / "eval", 2)
    clash = frame.astype({"b": str})
    clash.to_parquet(folder / "part-00001.parquet", index=False)
    with pytest.raises(
        DataError, match=r"column .b. is double in part-00000.parquet but \w*string in part-00001"
    ):
        LocalEngine().evaluate(parse_source(folder), request("classification"), [])


def test_a_missing_path_is_an_environment_error(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentProblem, match="nowhere: no such file or folder") as caught:
        LocalEngine().evaluate(parse_source(tmp_path / "nowhere"), request("regression"), [])
    assert caught.value.exit_code == 3


def test_a_fingerprint_says_its_kind_and_follows_the_content(tmp_path: Path) -> None:
    folder = write_parts(eval_rows(100, "regression"), tmp_path / "eval", 2)
    first = LocalEngine().fingerprint(parse_source(folder))
    assert first.to_dict()["kind"] == "content-sha256" and first.files == 2
    eval_rows(100, "regression", seed=5).to_parquet(folder / "part-00001.parquet")
    assert LocalEngine().fingerprint(parse_source(folder)).sha256 != first.sha256


def test_engine_and_bootstrap_config(tmp_path: Path) -> None:
    config = REPO / "examples" / "diabetes" / "ci-ml.yaml"
    text = config.read_text() + textwrap.dedent("""
        engine:
          name: spark
          spark: {remote: "sc://spark.example:15002", conf: {spark.sql.shuffle.partitions: 4}}
        evaluation: {bootstrap: poisson, row_key: [id]}
    """)
    (tmp_path / "ci-ml.yaml").write_text(text)
    loaded = load_config(tmp_path / "ci-ml.yaml")
    assert (
        loaded.engine.name == "spark" and loaded.engine.spark.remote == "sc://spark.example:15002"
    )
    assert loaded.engine.spark.conf == {"spark.sql.shuffle.partitions": "4"}
    assert loaded.evaluation.bootstrap == "poisson" and loaded.evaluation.row_key == ("id",)
    assert load_config(config).engine == parse_engine(None) == parse_engine("local")
    (tmp_path / "ci-ml.yaml").write_text(text.replace("sc://", "http://"))
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "ci-ml.yaml")
    assert caught.value.exit_code == 2 and "engine" in caught.value.message


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, text=True, capture_output=True, timeout=300, cwd=REPO
    )


def test_the_local_pipeline_never_imports_pyspark(tmp_path: Path) -> None:
    folder = write_parts(eval_rows(300, "classification"), tmp_path / "eval", 2)
    done = _python(
        textwrap.dedent(f"""
        import shutil, sys, os, tempfile
        from ci_ml.cli import main
        from ci_ml.engines import open_engine, parse_engine, parse_source
        from tests.spark_support import contenders, eval_rows, request
        work = tempfile.mkdtemp()
        shutil.copytree("examples/diabetes", work, dirs_exist_ok=True)
        os.chdir(work)
        code = main(["check"])
        engine = open_engine(parse_engine(None))
        frame = eval_rows(300, "classification")
        engine.evaluate(parse_source({str(folder)!r}), request("classification"),
                        contenders(frame, "classification"))
        print(code, [m for m in sys.modules if m.startswith("pyspark")])
    """)
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "0 []"


def test_engine_spark_without_the_extra_names_the_pip_command() -> None:
    done = _python(
        textwrap.dedent("""
        import sys
        sys.modules["pyspark"] = None  # as if the spark extra were not installed
        from ci_ml.engines import open_engine, parse_engine
        from ci_ml.errors import CiMlError
        try:
            open_engine(parse_engine("spark"))
        except CiMlError as exc:
            print(exc.exit_code, exc.message)
    """)
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("2 engine: spark needs the Spark Connect client")
    assert "pip install 'ci-ml[spark]'" in done.stdout


def test_the_local_engine_scores_each_row_once_for_metrics_and_slices(tmp_path: Path) -> None:
    from dataclasses import replace

    from tests.spark_support import CountingTree, scored_rows

    frame = eval_rows(150_000, "classification")  # three batches
    frame["half"] = np.where(frame["a"] > 0, "high", "low")
    log = tmp_path / "scored.log"
    models = [CountingTree(str(log), max_depth=3).fit(frame[list(FEATURES)], frame["y"])]
    wanted = replace(request("classification", resamples=20), slice_by=("half",))
    log.write_text("")
    found = LocalEngine().evaluate_frame(frame, wanted, models)
    assert scored_rows(log) == {"predict": 150_000, "predict_proba": 150_000}
    assert sorted(found.slices) == [("half", '"high"'), ("half", '"low"')]
    assert sum(s[0] for s in found.slices.values()) == 150_000
    # the log loss's studentized interval and top losses came from that same pass
    log_loss = next(r for r in found.results if r.metric == "neg_log_loss")
    assert log_loss.interval_method == "studentized" and log_loss.tail_index is not None


def test_slices_of_moment_metrics_beside_the_tail_switch(tmp_path: Path) -> None:
    """Heavy-tailed losses over three files: the bound takes Peng's tail from the top
    losses, and each slice's RMSE and MAE, from the same scoring pass, are sklearn's on
    that slice's rows alone."""
    from dataclasses import replace

    from sklearn.metrics import mean_absolute_error, root_mean_squared_error

    from ci_ml.engines.slices import slice_records

    frame = eval_rows(3000, "regression", heavy=True)
    frame["half"] = np.where(frame["a"] > 0, "high", "low")
    models = contenders(frame, "regression")
    wanted = replace(request("regression", resamples=50, row_key=("id",)), slice_by=("half",))
    found = LocalEngine().evaluate(
        parse_source(write_parts(frame, tmp_path / "eval", 3)), wanted, models
    )
    rmse = next(r for r in found.results if r.metric == "neg_root_mean_squared_error")
    assert (rmse.interval_method, rmse.upper_bound_method) == ("studentized", TAIL_EXTRAPOLATED)
    assert found.plan is not None
    names = ["neg_root_mean_squared_error", "neg_mean_absolute_error"]
    records = slice_records(found.plan, found.slices, ["half"], names, 100)
    scorers = {names[0]: root_mean_squared_error, names[1]: mean_absolute_error}
    for entry in records:
        rows = frame[frame["half"] == entry["value"]]
        y, x = rows["y"], rows[list(FEATURES)]
        assert entry["n_rows"] == len(rows)
        expected = [-scorers[entry["metric"]](y, m.predict(x)) for m in models]
        assert [entry["challenger"], entry["champion"]] == pytest.approx(expected, abs=1e-9)
