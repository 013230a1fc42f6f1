"""Element values, totals and estimates on the tiny study, every number worked out by hand.

Hand computation (tests/data/tiny):

* downtime = ([Hours lost, alternative] - [Hours lost, offering]) * [Margin per hour] (constant 100; A3 measures 120)
  A1 (mean(9, 11) - 4) * 100 = 600, A2 3 * 100 = 300, A3 9 * 120 = 1080, B1 1 * 100 = 100, B2 300, B3 200
* energy = ([kWh, alternative] - [kWh, offering]) * [Energy price]
  A1 200 * 0.2 = 40, A2 100 * 0.3 = 30, A3 500 * 0.1 = 50, B1 50 * 0.2 = 10, B2 100 * 0.2 = 20, B3 missing
* service = max([Service calls avoided], 0) * [Call cost] (constant 50, source assumption)
  A1 150, A2 max(-1, 0) = 0, A3 100, B1 50, B2 0, B3 200
* safety parity: 0; scrap = [Scrap tonnes avoided] * 200: A1 400, A2 200, A3 600; parity (0) for small
* price = ([Price, offering] - [Price, alternative]) * [Tonnes]: A1 100, A2 30, A3 200, B1 10, B2 5, B3 10
* differential = difference + contention: A1 1190, A2 530, A3 1830, B1 160, B2 320, B3 missing
* net = differential - price: A1 1090, A2 500, A3 1630, B1 150, B2 315, B3 missing
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import cvm_kit as cvm
from cvm_kit.estimates import describe, summarize, summarize_totals, value_summary
from cvm_kit.values import (
    element_values,
    environment,
    evaluate,
    input_coverage,
    input_phrases,
    measurement_table,
    missing_inputs,
    subsegment_input_means,
    totals,
)

IDS = ["A1", "A2", "A3", "B1", "B2", "B3"]
NAN = float("nan")
EXPECTED = {
    "downtime": [600, 300, 1080, 100, 300, 200],
    "energy": [40, 30, 50, 10, 20, NAN],
    "service": [150, 0, 100, 50, 0, 200],
    "safety": [0, 0, 0, 0, 0, 0],
    "scrap": [400, 200, 600, 0, 0, 0],
}
PRICE = [100, 30, 200, 10, 5, 10]
DIFFERENTIAL = [1190, 530, 1830, 160, 320, NAN]
CONTENTION = [150, 0, 100, 50, 0, 200]
NET = [1090, 500, 1630, 150, 315, NAN]


def wide(values: pd.DataFrame, column: str = "value") -> pd.DataFrame:
    return values.pivot(index="customer_id", columns="element_id", values=column).reindex(IDS)


def test_columns_and_rows(tiny):
    v = element_values(tiny)
    assert list(v.columns) == ["customer_id", "subsegment", "element_id", "status", "value", "weakest_source",
                               "missing_inputs"]
    # placeholders excluded: 5 quantified elements x 6 customers
    assert len(v) == 30
    assert "brand" not in set(v["element_id"])


@pytest.mark.parametrize("element", list(EXPECTED))
def test_element_values_by_hand(tiny, element):
    got = wide(element_values(tiny))[element].to_numpy(float)
    np.testing.assert_allclose(got, np.array(EXPECTED[element], float), rtol=0, atol=1e-9, equal_nan=True)


def test_effective_status_per_subsegment(tiny):
    st = wide(element_values(tiny), "status")
    assert st["scrap"].tolist() == ["difference"] * 3 + ["parity"] * 3
    assert st["safety"].tolist() == ["parity"] * 6
    assert st["service"].tolist() == ["contention"] * 6


def test_weakest_source(tiny):
    ws = wide(element_values(tiny), "weakest_source")
    # downtime: B1's hours are estimates; the margin constant ("P&L review") counts as data
    assert ws["downtime"].tolist() == ["data", "data", "data", "estimate", "data", "data"]
    # energy: A1's energy price is an estimate; B3 has no value, so no source
    assert ws["energy"].iloc[:5].tolist() == ["estimate", "data", "data", "data", "data"]
    assert pd.isna(ws.loc["B3", "energy"])
    # service: the constant [Call cost] has source "assumption", the weakest of all
    assert ws["service"].tolist() == ["assumption"] * 6
    # parity: no inputs, no source
    assert ws["safety"].isna().all()
    assert ws.loc[["B1", "B2", "B3"], "scrap"].isna().all()
    assert ws.loc[["A1", "A2", "A3"], "scrap"].tolist() == ["data"] * 3


def test_missing_input_named_never_zero(tiny):
    v = element_values(tiny)
    b3 = v[(v["customer_id"] == "B3") & (v["element_id"] == "energy")].iloc[0]
    assert math.isnan(b3["value"])
    assert b3["missing_inputs"] == "kWh, offering"
    others = v[~((v["customer_id"] == "B3") & (v["element_id"] == "energy"))]
    assert (others["missing_inputs"] == "").all()
    assert others["value"].notna().all()


def test_repeated_measurements_averaged_case_insensitively(tiny):
    """A1 measured [Hours lost, alternative] twice, once as 'hours lost,  ALTERNATIVE': 9 and 11 -> 10."""
    t = measurement_table(tiny)
    row = t[(t["customer_id"] == "A1") & (t["phrase"] == "hours lost, alternative")]
    assert len(row) == 1
    r = row.iloc[0]
    assert (r["value"], r["n"], r["min"], r["max"]) == (10.0, 2, 9.0, 11.0)
    assert r["sd"] == pytest.approx(np.std([9, 11], ddof=1))
    assert r["source"] == "data"
    single = t[(t["customer_id"] == "A2") & (t["phrase"] == "tonnes")].iloc[0]
    assert single["n"] == 1 and math.isnan(single["sd"])


def test_customer_measurement_overrides_constant(tiny):
    env = environment(tiny)
    margin = dict(zip(env.ids, env.values["margin per hour"]))
    assert margin == {"A1": 100, "A2": 100, "A3": 120, "B1": 100, "B2": 100, "B3": 100}
    assert wide(element_values(tiny)).loc["A3", "downtime"] == 1080.0


def test_phrase_matching_ignores_case_and_white_space(tiny_copy, tiny):
    """The same study with equations written in other case and spacing gives the same values."""
    p = tiny_copy / "project.yaml"
    text = p.read_text(encoding="utf-8")
    text = text.replace("[Hours saved] * [Margin per hour]", "[  HOURS   saved ] * [margin PER hour]")
    text = text.replace("× [Energy price]", "× [energy\tPRICE]")
    p.write_text(text, encoding="utf-8")
    other = cvm.load_study(tiny_copy)
    pd.testing.assert_frame_equal(element_values(other), element_values(tiny))


def test_price_difference(tiny):
    t = totals(tiny).set_index("customer_id").reindex(IDS)
    np.testing.assert_allclose(t["price_difference"].to_numpy(float), PRICE)


def test_totals_by_hand_and_nan_propagation(tiny):
    t = totals(tiny)
    assert list(t.columns) == ["customer_id", "subsegment", "differential_value", "contention_value",
                               "price_difference", "net_value"]
    t = t.set_index("customer_id").reindex(IDS)
    np.testing.assert_allclose(t["differential_value"].to_numpy(float), DIFFERENTIAL, equal_nan=True)
    np.testing.assert_allclose(t["contention_value"].to_numpy(float), CONTENTION)
    np.testing.assert_allclose(t["net_value"].to_numpy(float), NET, equal_nan=True)
    # B3 lacks an energy input: its differential and net value are missing, never a partial sum
    assert math.isnan(t.loc["B3", "differential_value"]) and math.isnan(t.loc["B3", "net_value"])
    assert t.loc["B3", "contention_value"] == 200.0


def test_describe_matches_numpy_scipy():
    x = np.array([600, 300, 1080, 100, 300, 200], float)
    d = describe(np.append(x, np.nan))
    sem = x.std(ddof=1) / np.sqrt(6)
    lo, hi = stats.t.interval(0.95, 5, loc=x.mean(), scale=sem)
    assert d["n"] == 6
    assert d["mean"] == pytest.approx(430.0)
    assert d["sd"] == pytest.approx(x.std(ddof=1))
    assert d["se"] == pytest.approx(sem)
    assert (d["ci_low"], d["ci_high"]) == (pytest.approx(lo), pytest.approx(hi))
    assert (d["min"], d["max"]) == (100.0, 1080.0)
    one = describe(np.array([5.0]))
    assert one["n"] == 1 and one["mean"] == 5.0 and math.isnan(one["sd"]) and math.isnan(one["ci_low"])
    assert describe(np.array([np.nan]))["n"] == 0


def _expected_row(x: list[float]) -> dict[str, float]:
    a = np.array([v for v in x if not math.isnan(v)], float)
    n = a.size
    sd = a.std(ddof=1)
    se = sd / np.sqrt(n)
    if se > 0:
        lo, hi = stats.t.interval(0.95, n - 1, loc=a.mean(), scale=se)
    else:  # every value equal (parity): the interval collapses onto the mean
        lo = hi = a.mean()
    return {"n": n, "mean": a.mean(), "sd": sd, "se": se, "ci_low": lo, "ci_high": hi, "min": a.min(), "max": a.max()}


def test_summarize_every_row_matches_numpy_scipy(tiny):
    s = summarize(tiny)
    assert list(s.columns) == ["element_id", "status", "subsegment", "n", "mean", "sd", "se", "ci_low", "ci_high",
                               "min", "max", "share_from_data"]
    # 5 quantified elements x (big, small, all)
    assert len(s) == 15
    groups = {"big": slice(0, 3), "small": slice(3, 6), "all": slice(0, 6)}
    for row in s.itertuples(index=False):
        exp = _expected_row(EXPECTED[row.element_id][groups[row.subsegment]])
        for k, v in exp.items():
            assert getattr(row, k) == pytest.approx(v, abs=1e-9), (row.element_id, row.subsegment, k)


def test_summarize_headline_numbers(tiny):
    s = summarize(tiny).set_index(["element_id", "subsegment"])
    d = s.loc[("downtime", "all")]
    assert (d["n"], d["mean"]) == (6, 430.0)
    e = s.loc[("energy", "small")]
    assert (e["n"], e["mean"]) == (2, 15.0)  # B3 has no value: n counts customers with a value
    assert s.loc[("energy", "all"), "n"] == 5
    assert s.loc[("scrap", "small"), "status"] == "parity"
    assert s.loc[("scrap", "all"), "status"] == "difference"


def test_share_from_data(tiny):
    s = summarize(tiny).set_index(["element_id", "subsegment"])["share_from_data"]
    assert s[("downtime", "all")] == pytest.approx(5 / 6)  # B1 rests on estimates
    assert s[("downtime", "big")] == 1.0
    assert s[("downtime", "small")] == pytest.approx(2 / 3)
    assert s[("energy", "all")] == pytest.approx(4 / 5)  # A1 estimate; B3 (no value) not counted
    assert s[("energy", "small")] == 1.0
    assert s[("service", "all")] == 0.0  # the constant Call cost is an assumption
    assert s[("scrap", "big")] == 1.0
    assert math.isnan(s[("safety", "all")])  # parity rests on no input
    assert math.isnan(s[("scrap", "small")])


def test_value_summary(tiny):
    vs = value_summary(tiny).set_index("element_id")
    assert list(vs.index) == ["downtime", "energy", "service", "safety", "scrap", "brand"]
    brand = vs.loc["brand"]
    assert brand["status"] == "placeholder" and brand["category"] == "social"
    assert (brand["perceived_low"], brand["perceived_high"]) == (1000.0, 5000.0)
    assert brand["summed"] is False or brand["summed"] == False  # noqa: E712 (numpy bool)
    assert math.isnan(brand["mean"]) and brand["n"] == 0
    assert vs.loc["downtime", "mean"] == pytest.approx(430.0)
    assert vs.loc["downtime", "mean_big"] == pytest.approx(660.0)
    assert vs.loc["downtime", "mean_small"] == pytest.approx(200.0)
    assert vs.loc["downtime", "assumptions"] == "Lost hours are not recovered."
    assert vs.loc["energy", "mean"] == pytest.approx(30.0)
    assert vs.loc["scrap", "status_by_subsegment"] == "small: parity"
    assert bool(vs.loc["scrap", "summed"]) and bool(vs.loc["service", "summed"])
    assert not bool(vs.loc["safety", "summed"])
    lo, hi = stats.t.interval(0.95, 5, loc=430, scale=np.std(EXPECTED["downtime"], ddof=1) / np.sqrt(6))
    assert (vs.loc["downtime", "ci_low"], vs.loc["downtime", "ci_high"]) == (pytest.approx(lo), pytest.approx(hi))


def test_summarize_totals(tiny):
    st = summarize_totals(tiny).set_index(["quantity", "subsegment"])
    net = st.loc[("net_value", "all")]
    exp = _expected_row(NET)
    assert net["n"] == 5 and net["mean"] == pytest.approx(exp["mean"])
    assert net["ci_low"] == pytest.approx(exp["ci_low"])
    small = st.loc[("net_value", "small")]
    assert small["n"] == 2 and small["mean"] == pytest.approx(232.5)
    assert st.loc[("price_difference", "big"), "mean"] == pytest.approx(110.0)


def test_input_coverage_and_missing(tiny):
    cov = input_coverage(tiny)
    # 10 customer phrases; scrap tonnes is not needed by small customers (parity): 3*10 + 3*9
    assert len(cov) == 57 and int(cov["present"].sum()) == 56
    assert "Margin per hour" not in set(cov["phrase"])  # a constant needs no fieldwork
    miss = missing_inputs(tiny)
    assert miss[["customer_id", "phrase", "needed_by"]].values.tolist() == [["B3", "kWh, offering", "energy"]]


def test_subsegment_input_means(tiny):
    m = subsegment_input_means(tiny)
    assert list(m.index) == ["big", "small"]
    assert m.loc["big", "Hours lost, alternative"] == pytest.approx((10 + 8 + 12) / 3)
    assert m.loc["big", "Margin per hour"] == pytest.approx((100 + 100 + 120) / 3)
    assert m.loc["small", "kWh, offering"] == pytest.approx((250 + 300) / 2)  # B3's missing value left out


def _studied_inputs(study) -> pd.DataFrame:
    """Every customer's resolved leaf inputs (measured means, constants, overrides) as a what-if table."""
    env = environment(study)
    shown = cvm.values.display_names(study)
    df = pd.DataFrame({shown.get(p, p): env.values[p] for p in input_phrases(study)}, index=env.ids)
    df["subsegment"] = env.subsegments
    return df


def test_evaluate_what_if_equals_element_values(tiny):
    out = evaluate(tiny, _studied_inputs(tiny))
    assert list(out.columns) == ["downtime", "energy", "service", "safety", "scrap", "differential_value",
                                 "contention_value", "price_difference", "net_value"]
    for element, exp in EXPECTED.items():
        np.testing.assert_allclose(out.loc[IDS, element].to_numpy(float), exp, equal_nan=True, err_msg=element)
    np.testing.assert_allclose(out.loc[IDS, "price_difference"].to_numpy(float), PRICE)
    np.testing.assert_allclose(out.loc[IDS, "net_value"].to_numpy(float), NET, equal_nan=True)
    np.testing.assert_allclose(out.loc[IDS, "contention_value"].to_numpy(float), CONTENTION)


def test_evaluate_columns_any_case_constants_fill_and_subsegment_parity(tiny):
    inputs = pd.DataFrame({
        "HOURS LOST,  alternative": [10.0, 10.0],
        "hours lost, offering": [4.0, 4.0],
        "Scrap Tonnes Avoided": [2.0, 2.0],
    }, index=["x", "y"])
    out = evaluate(tiny, inputs, subsegment=["big", "small"])
    # margin per hour from the constant (100): 6 * 100
    assert out["downtime"].tolist() == [600.0, 600.0]
    # scrap is parity for small
    assert out["scrap"].tolist() == [400.0, 0.0]
    assert out["safety"].tolist() == [0.0, 0.0]
    # energy inputs absent and no constant: missing, and so are the totals
    assert out["energy"].isna().all() and out["net_value"].isna().all()


def test_evaluate_blank_cells_fall_back_to_constants(tiny):
    t = measurement_table(tiny)
    inputs = t.pivot(index="customer_id", columns="variable", values="value").reindex(IDS)
    inputs["subsegment"] = tiny.customers.set_index("customer_id")["subsegment"]
    out = evaluate(tiny, inputs)
    np.testing.assert_allclose(out.loc[IDS, "downtime"].to_numpy(float), EXPECTED["downtime"])
    np.testing.assert_allclose(out.loc[IDS, "net_value"].to_numpy(float), NET, equal_nan=True)


def test_evaluate_accepts_a_derived_quantity_as_input(tiny):
    out = evaluate(tiny, pd.DataFrame({"Hours saved": [5.0]}), subsegment="big")
    assert out["downtime"].tolist() == [500.0]


def test_study_lookups(tiny):
    assert tiny.subsegment_ids == ["big", "small"]
    assert tiny.characteristics == ["size", "region"]
    assert tiny.customers["size"].dtype == float
    assert tiny.alternative_for("small") == "Do nothing"
    assert tiny.alternative_for("big") == "Alternative Y"
    assert tiny.element("scrap").status_for("small") == "parity"
    with pytest.raises(KeyError, match="downtime"):
        tiny.element("nope")
    c = {x.name: (x.value, x.kind) for x in tiny.constants}
    assert c == {"Margin per hour": (100.0, "data"), "Call cost": (50.0, "assumption")}


def test_evaluate_names_a_misspelt_input_column(tiny):
    from cvm_kit.errors import CvmError

    with pytest.raises(CvmError, match=r"\[Tonnes coatd\].*did you mean \[Tonnes\]"):
        evaluate(tiny, pd.DataFrame({"Tonnes coatd": [1.0]}), subsegment="big")
