"""`ci-ml evaluate`: challenger and champion on the same rows; writes metrics.json."""

from __future__ import annotations

from typing import Any

import numpy as np

from ci_ml.datasets import Datasets, load_datasets
from ci_ml.errors import PASSED, EnvironmentProblem
from ci_ml.evaluation import challenger_from, evaluate, load_challenger, load_champion
from ci_ml.registry import open_registry
from ci_ml.rundir import RunDir, write_json_atomic
from ci_ml.training import CARD_NAME
from ci_ml.workspace import Workspace, say

RESAMPLED = "resampled.npz"
RESAMPLED_INDEX = "resampled.json"


def stage(
    ws: Workspace, data: Datasets | None = None, trained: tuple[Any, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Metrics of both models; `trained` spares `check` re-loading the model it just fit."""
    data = data or load_datasets(ws.config)
    if trained is None:
        challenger, card = load_challenger(ws.run)
    else:
        model, card = trained
        challenger = challenger_from(model, card)
    _require_same_data(card, data)
    champion, version = load_champion(open_registry(ws.config))
    latency = any(rule.get("budget") == "latency_ms_per_1k_rows" for rule in ws.config.gate)
    evaluation = evaluate(ws.config, data, challenger, champion, latency)
    result = evaluation.record
    champion_info = None
    if version is not None and result["metrics"][ws.config.primary_metric]["champion"] is not None:
        champion_info = {"version": version.number, "sha256": version.sha256}
        result["warnings"].extend(_overlap_warning(data, version.card))
    metrics = {
        "eval": data.lineage()["eval"],
        "challenger": {"sha256": card["model_file"]["sha256"], "version": None},
        "champion": champion_info,
        "primary_metric": ws.config.primary_metric,
        **result,
    }
    evaluation.predictions.to_parquet(ws.run.predictions, index=False)
    save_resampled(ws.run, evaluation.resampled)
    ws.run.write("metrics.json", metrics)
    card["metrics"] = {k: v["challenger"] for k, v in result["metrics"].items()}
    write_json_atomic(ws.run.challenger / CARD_NAME, card)
    return metrics


def save_resampled(run: RunDir, resampled: dict[str, np.ndarray]) -> None:
    """The bootstrap's resampled values, for the gate's confidence rules."""
    with run.file(RESAMPLED).open("wb") as handle:
        arrays: dict[str, Any] = {f"m{i}": v for i, v in enumerate(resampled.values())}
        np.savez_compressed(handle, **arrays)
    run.write(RESAMPLED_INDEX, {"metrics": list(resampled)})


def load_resampled(run: RunDir) -> dict[str, np.ndarray]:
    if not run.file(RESAMPLED).is_file():
        return {}
    names = run.read(RESAMPLED_INDEX)["metrics"]
    with np.load(run.file(RESAMPLED)) as stored:
        return {name: stored[f"m{i}"] for i, name in enumerate(names)}


def _require_same_data(card: dict[str, Any], data: Datasets) -> None:
    trained_on = card["data"]["train"]["sha256"]
    if trained_on != data.train_file["sha256"]:
        raise EnvironmentProblem(
            f"{data.train_file['path']} changed since the challenger was trained "
            f"(sha256 {trained_on[:12]}… then, {data.train_file['sha256'][:12]}… now); "
            "run `ci-ml train` again"
        )


def _overlap_warning(data: Datasets, champion_card: dict[str, Any]) -> list[str]:
    """An eval split of new training data may contain rows the champion learned from."""
    champion_train = champion_card.get("data", {}).get("train", {}).get("sha256")
    if data.eval_split.source == "split" and champion_train not in {None, data.eval_split.sha256}:
        return [
            "eval rows are a split of new training data the champion may have partly seen; "
            "set data.eval to a fixed held-out file for a fair comparison"
        ]
    return []


def run(ws: Workspace) -> int:
    metrics = stage(ws)
    champion = metrics["champion"]
    against = f"champion v{champion['version']}" if champion else "no champion yet"
    say(f"evaluate: challenger vs {against} on {metrics['eval']['rows']} rows")
    return PASSED
