"""Numbers in a report: the digits the interval justifies, no -0, percentages as %."""

from __future__ import annotations

from ci_ml.report import common, forest, numbers


def _entry(**fields):
    base = {
        "display_name": "f1",
        "lower_is_better": False,
        "champion": 0.8,
        "challenger": 0.8,
        "delta": 0.0,
        "relative_delta": 0.0,
        "interval": {"low": 0.0, "high": 0.0},
        "challenger_interval": {"low": 0.7, "high": 0.9},
        "prob_better": 0.5,
    }
    entry = {**base, **fields}
    flip = -1 if entry["lower_is_better"] else 1
    interval = entry["interval"]
    entry["shown"] = {
        "champion": flip * entry["champion"],
        "challenger": flip * entry["challenger"],
        "delta": None if entry["delta"] is None else flip * entry["delta"],
        "interval": {"low": flip * interval["high"], "high": flip * interval["low"]}
        if flip < 0
        else interval,
    }
    return entry


def test_identical_models_show_no_negative_zero():
    report = {"metrics": {"f1": _entry(delta=-0.0, interval={"low": -0.0, "high": -0.0})}}
    row = common.metric_rows(report)[0]
    assert row[3] == "0 = same" and row[4] == "0%"
    # not "[0, 0]": no resample told them apart, which is not certainty that they are equal
    assert row[5] == "0 in every resample" and "-0" not in row[5]
    assert numbers.fixed(-0.00004, 3, signed=True) == "0"
    assert numbers.percent(-0.0001) == "0%"


def test_digits_follow_the_interval():
    entry = _entry(
        champion=-54.88105678332259,
        challenger=-54.31841073830613,
        delta=0.5626460450164643,
        lower_is_better=True,
        display_name="root_mean_squared_error",
        interval={"low": -1.0293660297070044, "high": 2.2058521047763473},
        challenger_interval={"low": -61.6, "high": -46.9},
    )
    row = common.metric_rows({"metrics": {"neg_root_mean_squared_error": entry}})[0]
    # the change's interval is 3.2 wide: one decimal, for the values and the change
    assert row[1:4] == ["54.9", "54.3", "-0.6 ▲ better"]
    assert row[5] == "[-2.2, +1.0]"


def test_mape_is_a_percentage():
    entry = _entry(
        display_name="mean_absolute_percentage_error",
        lower_is_better=True,
        champion=-0.1234,
        challenger=-0.1111,
        delta=0.0123,
        interval={"low": 0.004, "high": 0.02},
        challenger_interval={"low": -0.13, "high": -0.09},
    )
    row = common.metric_rows({"metrics": {"neg_mean_absolute_percentage_error": entry}})[0]
    # the change is 1.6 points wide: one decimal of a percent
    assert row[1:3] == ["12.3%", "11.1%"] and row[3].startswith("-1.2%")


def test_full_precision_floats_are_shortened_in_messages():
    message = "bmi: 2 value(s) above 50, e.g. 2775.332673654447; p = 9.89e-11; see v1.2.3"
    assert (
        common.readable(message) == "bmi: 2 value(s) above 50, e.g. 2775; p = < 0.0001; see v1.2.3"
    )


def test_forest_marks_zero_the_interval_and_the_bound_in_place():
    entry = _entry(
        champion=0.5,
        challenger=0.55,
        delta=0.05,
        interval={"low": -0.01, "high": 0.1},
    )
    rule = {"metric": "f1", "kind": "min_delta", "threshold": 0.025, "status": "pass"}
    report = {"metrics": {"f1": entry}, "rules": [rule]}
    lines = forest.render(report).splitlines()
    row = lines[2]
    axis = row[len("f1") + 2 : len("f1") + 2 + forest.AXIS_WIDTH]
    middle = forest.AXIS_WIDTH // 2
    # +10% point, [-2%, +20%] interval, bound at +5%, on a +-20% axis
    assert axis[middle] == "┼" and axis.index("●") > axis.index("║") > middle
    assert axis.index("├") < middle < axis.index("┤")
    assert row.endswith("+10% [-2%, +20%]")
    assert lines[-1].strip().startswith("-20%") and lines[-1].rstrip().endswith("+20%")
    assert forest.render({"metrics": {"f1": _entry(delta=None)}}) == ""  # no champion


def test_a_confidence_rule_shows_its_level_side_and_power():
    rule = {
        "rule": "gate[0]",
        "metric": "f1_macro",
        "kind": "min_delta",
        "threshold": 0.01,
        "status": "fail",
        "reason": "…",
        "role": "primary",
        "confidence": 0.95,
        "side": "lower",
        "underpowered": True,
    }
    row = common.rule_rows({"rules": [rule]})[0]
    assert row[3] == "min_delta 0.01 at 95%, lower bound"
    assert row[4] == "❌ fail (underpowered)"
    plain = common.rule_rows({"rules": [{**rule, "confidence": None, "underpowered": False}]})
    assert plain[0][3:5] == ["min_delta 0.01", "❌ fail"]
