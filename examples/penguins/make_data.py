"""Write the penguins example data from the palmerpenguins package (CC0).

    pip install palmerpenguins && python make_data.py

eval.csv is a fixed, stratified quarter of all three years, so every run
compares models on the same rows. train.csv holds the rest of 2007-2008;
fresh.csv adds 2009: the new batch a weekly retrain would pick up.
"""

from __future__ import annotations

from pathlib import Path

from palmerpenguins import load_penguins
from sklearn.model_selection import train_test_split

HERE = Path(__file__).parent / "data"

penguins = load_penguins()
rest, held_out = train_test_split(
    penguins, test_size=0.25, random_state=7, stratify=penguins["species"]
)
HERE.mkdir(exist_ok=True)
held_out.drop(columns=["year"]).to_csv(HERE / "eval.csv", index=False)
rest[rest["year"] < 2009].drop(columns=["year"]).to_csv(HERE / "train.csv", index=False)
rest.drop(columns=["year"]).to_csv(HERE / "fresh.csv", index=False)
