"""Issue 10 items 1 and 8: non-finite intermediate results and stale cached data.

Hand figures on the tiny study (tests/data/tiny), with the scrap element changed to
``max([Scrap tonnes avoided] * 200 - [Call cost] / [Tonnes], 0)`` (Call cost = 50):
A2 max(1 * 200 - 50 / 30, 0) = 198.333..., A3 max(3 * 200 - 50 / 100, 0) = 599.5, and A1
with Tonnes = 0 has no value (before the fix: max(400 - inf, 0) = 0, silently).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from cvm_kit import values as V
from cvm_kit.calculator_widgets import calculate
from cvm_kit.equations import EquationError, parse
from cvm_kit.errors import CvmError
from cvm_kit.study import load_study

SCRAP_MAX = "max([Scrap tonnes avoided] * 200 - [Call cost] / [Tonnes], 0)"


def _edit(folder, *, scrap: str | None = None, derived: str | None = None, a1_tonnes: str | None = None):
    y = folder / "project.yaml"
    text = y.read_text()
    if scrap is not None:
        text = text.replace('equation: "[Scrap tonnes avoided] * 200"', f'equation: "{scrap}"')
    if derived is not None:
        text = text.replace("derived:\n", f"derived:\n{derived}")
    y.write_text(text)
    if a1_tonnes is not None:
        m = folder / "measurements.csv"
        m.write_text(m.read_text().replace("A1,Tonnes,50,data,high,", f"A1,Tonnes,{a1_tonnes},data,high,"))
    return load_study(folder)


def _row(v: pd.DataFrame, cid: str, eid: str) -> pd.Series:
    return v[(v["customer_id"] == cid) & (v["element_id"] == eid)].iloc[0]


# --------------------------------------------------------------------------- item 1


def test_division_by_zero_absorbed_by_max_is_missing_with_its_reason(tiny_copy):
    study = _edit(tiny_copy, scrap=SCRAP_MAX, a1_tonnes="0")
    v = V.element_values(study)
    a1 = _row(v, "A1", "scrap")
    assert math.isnan(a1["value"])  # was 0: max(400 - inf, 0)
    assert a1["missing_inputs"] == "division by zero in [Call cost] / [Tonnes]"
    assert _row(v, "A2", "scrap")["value"] == pytest.approx(200 - 50 / 30)
    assert _row(v, "A3", "scrap")["value"] == pytest.approx(599.5)
    assert _row(v, "A2", "scrap")["missing_inputs"] == ""
    # B customers: scrap is parity for small, worth 0, whatever the equation
    assert (v.loc[(v["element_id"] == "scrap") & v["customer_id"].str.startswith("B"), "value"] == 0).all()
    t = V.totals(study).set_index("customer_id")
    assert math.isnan(t.loc["A1", "differential_value"]) and math.isnan(t.loc["A1", "net_value"])
    # A2: downtime 300, energy 30, service 0 (max(-1, 0) * 50), scrap 198.33; price (11 - 10) * 30
    assert t.loc["A2", "net_value"] == pytest.approx(300 + 30 + 0 + 200 - 50 / 30 - 30)


def test_nested_division_by_zero_is_missing_not_zero():
    eq = parse("[x] / (1 + [y] / 0)")
    values, reasons = eq.evaluate_with_reasons({"x": np.array([5.0, 7.0]), "y": 2.0})
    assert np.isnan(values).all()  # was 5 / (1 + inf) = 0
    assert reasons.tolist() == ["division by zero in [y] / 0"] * 2
    v, why = parse("[x] / (1 + [y] / [z])").evaluate_with_reasons(
        {"x": 6.0, "y": 2.0, "z": np.array([0.0, 1.0, np.nan])})
    assert np.isnan(v[0]) and v[1] == pytest.approx(2.0) and np.isnan(v[2])
    assert why.tolist() == ["division by zero in [y] / [z]", "", ""]  # NaN z is a missing input, not a reason


def test_min_max_abs_never_absorb_a_non_finite_step():
    inputs = {"a": np.array([1.0, 1.0]), "b": np.array([0.0, 2.0])}
    assert np.isnan(parse("min([a] / [b], 0)").evaluate(inputs)[0])  # was min(inf, 0) = 0
    assert np.isnan(parse("max(-[a] / [b], 0)").evaluate(inputs)[0])  # was max(-inf, 0) = 0
    assert np.isnan(parse("abs([a] / [b]) * 0").evaluate(inputs)[0])  # was inf * 0 = nan by luck
    assert parse("max([a] / [b], 0)").evaluate(inputs)[1] == pytest.approx(0.5)


def test_overflow_is_reported_as_overflow():
    v, why = parse("([a] * [b]) / [b] - 1").evaluate_with_reasons(
        {"a": np.array([1e200, 3.0]), "b": np.array([1e200, 2.0])})
    assert np.isnan(v[0]) and v[1] == pytest.approx(2.0)
    assert why.tolist() == ["overflow in [a] * [b]", ""]
    v, why = parse("[a] / [b]").evaluate_with_reasons({"a": 1e300, "b": 1e-300})
    assert np.isnan(v) and why.tolist() == "overflow in [a] / [b]"


def test_overflow_in_the_price_is_named_in_the_calculator(tiny):
    inputs = {"Price, offering": 1e308, "Price, alternative": -1e308, "Tonnes": 1.0}
    r = calculate(tiny, inputs, subsegment="big").set_index("element_id")
    assert math.isnan(r.loc["price_difference", "value"]) and math.isnan(r.loc["net_value", "value"])
    assert "overflow in [Price, offering] - [Price, alternative]" in r.loc["price_difference", "missing_inputs"]
    assert "overflow in [Price, offering] - [Price, alternative]" in r.loc["net_value", "missing_inputs"]


def test_division_by_zero_in_a_derived_quantity_names_it(tiny_copy):
    derived = '  - name: Cost per tonne\n    equation: "[Call cost] / [Tonnes]"\n'
    study = _edit(tiny_copy, derived=derived, a1_tonnes="0",
                  scrap="max([Scrap tonnes avoided] * 200 - [Cost per tonne], 0)")
    env = V.environment(study)
    assert env.reasons["cost per tonne"][0] == "division by zero in [Call cost] / [Tonnes] (in [Cost per tonne])"
    v = V.element_values(study)
    a1 = _row(v, "A1", "scrap")
    assert math.isnan(a1["value"])
    assert a1["missing_inputs"] == "division by zero in [Call cost] / [Tonnes] (in [Cost per tonne])"
    assert _row(v, "A3", "scrap")["value"] == pytest.approx(599.5)
    assert _row(v, "A1", "downtime")["value"] == 600  # untouched: does not use it
    # a what-if through evaluate() agrees
    out = V.evaluate(study, pd.DataFrame({"Tonnes": [0.0, 50.0], "Scrap tonnes avoided": [2.0, 2.0]}),
                     subsegment="big")
    assert math.isnan(out["scrap"].iloc[0]) and out["scrap"].iloc[1] == pytest.approx(399.0)


def test_cli_values_names_the_division(tiny_copy, capsys):
    from cvm_kit.cli import main

    _edit(tiny_copy, scrap=SCRAP_MAX, a1_tonnes="0")
    assert main(["values", str(tiny_copy)]) == 0
    err = capsys.readouterr().err
    assert "A1: scrap left empty, division by zero in [Call cost] / [Tonnes]" in err
    assert "B3: energy left empty, missing [kWh, offering]" in err


@pytest.mark.parametrize("literal, expected", [
    ("1e-400", "0 or a number of at least about 5e-324"),
    ("2.5E-999", "0 or a number of at least about 5e-324"),
    ("1e400", "a number of at most about 1.8e308"),
])
def test_number_literals_that_overflow_or_underflow_are_located_errors(literal, expected):
    with pytest.raises(EquationError) as info:
        parse(f"[a] * {literal}", context="elements[4].equation (id=scrap)")
    err = info.value
    assert err.position == 6 and err.expected == expected and err.found == f"'{literal}'"
    assert str(err).startswith(f"elements[4].equation (id=scrap): at position 6 ('{literal}')")
    assert parse("[a] * 0e-400").evaluate({"a": 2.0}) == 0  # a written zero is fine
    assert parse("[a] * 1e-300").evaluate({"a": 2.0}) == pytest.approx(2e-300)


def test_underflowing_literal_in_project_yaml_is_a_load_error(tiny_copy):
    with pytest.raises(CvmError) as info:
        _edit(tiny_copy, scrap="[Scrap tonnes avoided] * 1e-400")
    text = str(info.value)
    assert "1e-400" in text and "project.yaml" in text and "too small" in text


# --------------------------------------------------------------------------- item 8


def _a1_net(study) -> float:
    return float(V.totals(study).set_index("customer_id").loc["A1", "net_value"])


def test_totals_follow_an_in_place_change_of_measurements(tiny):
    m = tiny.measurements
    assert _a1_net(tiny) == 1090  # 600 + 40 + 150 + 400 - (12 - 10) * 50
    row = m.index[(m["customer_id"] == "A1") & (m["phrase"] == "tonnes")][0]
    m.loc[row, "value"] = 60
    assert _a1_net(tiny) == 1070  # price (12 - 10) * 60
    m.loc[row, "value"] = 50
    assert _a1_net(tiny) == 1090


def test_totals_follow_a_replaced_frame_and_a_changed_text_column(tiny):
    assert _a1_net(tiny) == 1090
    m = tiny.measurements.copy()
    m.loc[(m["customer_id"] == "A1") & (m["phrase"] == "tonnes"), "value"] = 80.0
    other = dataclasses.replace(tiny, measurements=m)
    assert _a1_net(other) == 1030  # 1190 - 2 * 80
    assert _a1_net(tiny) == 1090  # the original study is untouched
    # a text column edited in place: A1's energy price becomes a team assumption
    mm = tiny.measurements
    v = V.element_values(tiny)
    assert _row(v, "A1", "energy")["weakest_source"] == "estimate"
    mm.loc[mm.index[(mm["customer_id"] == "A1") & (mm["phrase"] == "energy price")][0], "source"] = "assumption"
    assert _row(V.element_values(tiny), "A1", "energy")["weakest_source"] == "assumption"
    # and a row moved to another customer in place: A2's tonnes row now says A1 (A1 then averages 50 and 30)
    mm.loc[mm.index[(mm["customer_id"] == "A2") & (mm["phrase"] == "tonnes")][0], "customer_id"] = "A1"
    assert V.measurement_table(tiny).set_index(["customer_id", "phrase"]).loc[("A1", "tonnes"), "value"] == 40
    assert _a1_net(tiny) == 1190 - 2 * 40
