"""Write the diabetes example data from scikit-learn's bundled dataset.

    python make_data.py

Disease progression one year after baseline, from age, sex, BMI, blood
pressure and six serum measurements (Efron et al., 2004). `sex` is written as
a category. eval.csv is a fixed quarter; train.csv the first 200 of the
remaining rows; fresh.csv all of them (the new batch).
"""

from __future__ import annotations

from pathlib import Path

from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split

HERE = Path(__file__).parent / "data"

frame = load_diabetes(as_frame=True, scaled=False).frame
frame["sex"] = frame["sex"].map({1.0: "female", 2.0: "male"})
frame = frame.rename(columns={"target": "progression"})
rest, held_out = train_test_split(frame, test_size=0.25, random_state=7)
HERE.mkdir(exist_ok=True)
held_out.to_csv(HERE / "eval.csv", index=False)
rest.iloc[:200].to_csv(HERE / "train.csv", index=False)
rest.to_csv(HERE / "fresh.csv", index=False)
