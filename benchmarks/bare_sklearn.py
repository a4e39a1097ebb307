"""The same work as `ci-ml check` on an example, as a bare scikit-learn script.

Reads the config's train and eval files, fits the same pipeline (median impute
+ scale numeric, one-hot categorical, the configured estimator, seeded with
`data.seed` as ci-ml seeds it) and scores the
configured metrics on the eval rows; saves the model (skops, as ci-ml's default)
to bare-model.skops beside the config, and when that file exists from the run
before, loads it first and scores it too (the champion). No validation, no
model card, no statistics, no report.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pandas as pd
import skops.io
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.metrics import get_scorer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def main(config_path: Path) -> None:
    config = yaml.safe_load(config_path.read_text())
    root, data = config_path.parent, config["data"]
    train, held = pd.read_csv(root / data["train"]), pd.read_csv(root / data["eval"])
    target = data["target"]
    x, y = train.drop(columns=[target]), train[target]
    numeric = [c for c in x.columns if pd.api.types.is_numeric_dtype(x[c])]
    categorical = [c for c in x.columns if c not in numeric]
    module, _, name = config["model"]["estimator"].rpartition(".")
    params = dict(config["model"]["params"])
    cls = getattr(importlib.import_module(module), name)
    if "random_state" in cls().get_params() and "random_state" not in params:
        # as ci-ml does: the same early-stopping split, so the same fit
        params["random_state"] = data.get("seed", 0)
    estimator = cls(**params)
    model = Pipeline(
        [
            (
                "preprocess",
                ColumnTransformer(
                    [
                        (
                            "n",
                            Pipeline(
                                [("i", SimpleImputer(strategy="median")), ("s", StandardScaler())]
                            ),
                            numeric,
                        ),
                        (
                            "c",
                            Pipeline(
                                [
                                    ("i", SimpleImputer(strategy="constant", fill_value="missing")),
                                    ("o", OneHotEncoder(handle_unknown="ignore")),
                                ]
                            ),
                            categorical,
                        ),
                    ]
                ),
            ),
            ("estimator", estimator),
        ]
    )
    x = x.astype({c: object for c in categorical})
    model.fit(x, y)
    x_eval = held.drop(columns=[target]).astype({c: object for c in categorical})
    saved = root / "bare-model.skops"
    models = {"challenger": model}
    if saved.exists():
        models["champion"] = skops.io.load(saved, trusted=skops.io.get_untrusted_types(file=saved))
    skops.io.dump(model, saved)
    for role, fitted in models.items():
        for metric in config["metrics"]:
            print(role, metric, get_scorer(metric)(fitted, x_eval, held[target]))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
