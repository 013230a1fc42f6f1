"""The value calculator: plain functions and the ipywidgets front end, on the tiny study.

Hand figures (tests/data/tiny): A1 measures Hours lost 10 (9 and 11 averaged)
vs 4 at 100 per hour -> downtime 600; energy (1000 - 800) x 0.2 = 40; service
max(3, 0) x 50 = 150; scrap 2 x 200 = 400; safety parity 0; differential
1190; price (12 - 10) x 50 = 100; net 1090.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import cvm_kit as cvm  # noqa: E402
from cvm_kit.calculator_widgets import (  # noqa: E402
    calculate,
    calculator_inputs,
    value_calculator,
    waterfall_table,
)
from cvm_kit.errors import CvmError  # noqa: E402
from cvm_kit.plotting.calculator import plot_value_waterfall  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "data" / "tiny"


@pytest.fixture(scope="module")
def tiny():
    return cvm.load_study(TINY)


def _val(result: pd.DataFrame, key: str) -> float:
    return float(result.loc[result["element_id"] == key, "value"].iloc[0])


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "tiny"
    shutil.copytree(TINY, dst)
    return dst


# ---------------------------------------------------------------------------
# calculator_inputs


def test_inputs_of_a_studied_customer(tiny):
    t = calculator_inputs(tiny, customer="A1").set_index("phrase")
    assert list(t.columns) == ["value", "source", "used_by", "needed"]
    assert t.at["Hours lost, alternative", "value"] == pytest.approx(10.0)  # (9 + 11) / 2
    assert t.at["Hours lost, alternative", "source"] == "customer"
    assert t.at["Margin per hour", "value"] == 100.0
    assert t.at["Margin per hour", "source"] == "constant"
    assert t.at["Energy price", "value"] == pytest.approx(0.2)
    assert t.at["Tonnes", "used_by"] == "price"
    assert t.at["Hours lost, offering", "used_by"] == "downtime"
    assert t["needed"].all()  # every element is summed in 'big'


def test_inputs_fill_gaps_with_subsegment_means(tiny):
    t = calculator_inputs(tiny, customer="B3").set_index("phrase")
    # B3 has no [kWh, offering]: the mean of B1 (250) and B2 (300)
    assert t.at["kWh, offering", "value"] == pytest.approx(275.0)
    assert t.at["kWh, offering", "source"] == "subsegment mean"
    # scrap is parity for small customers: its input is not needed
    assert not t.at["Scrap tonnes avoided", "needed"]


def test_inputs_of_a_prospect_use_means_and_constants(tiny):
    t = calculator_inputs(tiny, subsegment="big").set_index("phrase")
    assert set(t["source"]) == {"subsegment mean", "constant"}
    assert t.at["Hours lost, alternative", "value"] == pytest.approx((10 + 8 + 12) / 3)
    assert t.at["Hours lost, offering", "value"] == pytest.approx((4 + 5 + 3) / 3)
    assert t.at["Tonnes", "value"] == pytest.approx((50 + 30 + 100) / 3)
    # the study's constant, not the mean with A3's own 120
    assert t.at["Margin per hour", "value"] == 100.0
    # default subsegment: the first one
    assert calculator_inputs(tiny).equals(calculator_inputs(tiny, subsegment="big"))


def test_inputs_reject_unknown_customer_and_subsegment(tiny):
    with pytest.raises(CvmError, match="ZZ"):
        calculator_inputs(tiny, customer="ZZ")
    with pytest.raises(CvmError, match="medium"):
        calculator_inputs(tiny, subsegment="medium")


# ---------------------------------------------------------------------------
# calculate


def test_calculate_a1_by_hand(tiny):
    r = calculate(tiny, calculator_inputs(tiny, customer="A1"), subsegment="big")
    assert list(r.columns) == ["element_id", "name", "kind", "status", "value", "missing_inputs"]
    expect = {"downtime": 600, "energy": 40, "service": 150, "safety": 0, "scrap": 400,
              "differential_value": 1190, "contention_value": 150, "price_difference": 100, "net_value": 1090}
    for k, v in expect.items():
        assert _val(r, k) == pytest.approx(v), k
    brand = r[r["element_id"] == "brand"].iloc[0]
    assert brand["kind"] == "placeholder" and math.isnan(brand["value"])
    # elements sum to the differential value
    el = r[r["kind"] == "element"]
    assert el["value"].sum() == pytest.approx(_val(r, "differential_value"))
    assert (r["missing_inputs"] == "").all()


def test_calculate_mapping_change_one_input(tiny):
    inputs = dict(zip(*calculator_inputs(tiny, customer="A1")[["phrase", "value"]].T.values))
    inputs["hours LOST,   offering"] = 2.0  # any case and spacing
    del inputs["Hours lost, offering"]
    r = calculate(tiny, inputs, subsegment="big")
    assert _val(r, "downtime") == pytest.approx((10 - 2) * 100)
    assert _val(r, "net_value") == pytest.approx(1290)


def test_calculate_agrees_with_totals_on_example():
    study = cvm.load_study(cvm.example_path())
    t = cvm.totals(study).dropna(subset=["net_value"])
    for cid, sub, net, price in zip(t["customer_id"], t["subsegment"], t["net_value"], t["price_difference"]):
        r = calculate(study, calculator_inputs(study, customer=cid), subsegment=sub)
        assert _val(r, "net_value") == pytest.approx(net, rel=1e-9), cid
        assert _val(r, "price_difference") == pytest.approx(price, rel=1e-9), cid


def test_calculate_missing_input_stays_missing_and_constants_fill(tiny):
    inputs = {"Hours lost, alternative": 10, "Hours lost, offering": 4, "kWh, alternative": 1000,
              "Energy price": 0.2, "Service calls avoided": 3, "Scrap tonnes avoided": 2,
              "Price, offering": 12, "Price, alternative": 10, "Tonnes": 50}
    r = calculate(tiny, inputs, subsegment="big")
    assert _val(r, "downtime") == pytest.approx(600)  # [Margin per hour] from the constant
    assert math.isnan(_val(r, "energy"))
    energy = r[r["element_id"] == "energy"].iloc[0]
    assert energy["missing_inputs"] == "kWh, offering"
    assert math.isnan(_val(r, "differential_value")) and math.isnan(_val(r, "net_value"))
    assert "kWh, offering" in r.loc[r["element_id"] == "net_value", "missing_inputs"].iloc[0]
    assert _val(r, "price_difference") == pytest.approx(100)


def test_calculate_parity_by_subsegment(tiny):
    inputs = calculator_inputs(tiny, customer="B1")
    r = calculate(tiny, inputs, subsegment="small")
    # B1: downtime (5-4)*100=100, energy (300-250)*0.2=10, service 1*50=50, scrap parity 0
    assert _val(r, "scrap") == 0
    assert r.loc[r["element_id"] == "scrap", "status"].iloc[0] == "parity"
    assert _val(r, "net_value") == pytest.approx(100 + 10 + 50 - 10)
    # the same inputs valued as a big customer count the scrap: 5 t x 200
    assert _val(calculate(tiny, inputs, subsegment="big"), "scrap") == pytest.approx(1000)


def test_calculate_wide_one_row_frame(tiny):
    t = calculator_inputs(tiny, customer="A2")
    wide = pd.DataFrame([dict(zip(t["phrase"], t["value"]))])
    r = calculate(tiny, wide, subsegment="big")
    assert _val(r, "net_value") == pytest.approx(500)


@pytest.mark.parametrize("inputs, match", [
    ({"Hours lost, somewhere": 1}, "Hours lost, somewhere"),
    ({"Hours saved": 6}, "derived"),
    ({"Tonnes": "lots"}, "not a number"),
])
def test_calculate_bad_inputs(tiny, inputs, match):
    with pytest.raises(CvmError, match=match):
        calculate(tiny, inputs, subsegment="big")


def test_calculate_bad_subsegment_and_frame(tiny):
    with pytest.raises(CvmError, match="huge"):
        calculate(tiny, {"Tonnes": 1}, subsegment="huge")
    with pytest.raises(CvmError, match="2 rows"):
        calculate(tiny, pd.DataFrame({"Tonnes": [1, 2]}), subsegment="big")


# ---------------------------------------------------------------------------
# waterfall


def test_waterfall_steps_sum(tiny):
    r = calculate(tiny, calculator_inputs(tiny, customer="A1"), subsegment="big")
    w = waterfall_table(r, alternative_price=500)
    assert list(w.columns) == ["step", "kind", "element_id", "start", "end", "delta"]
    assert w["kind"].tolist() == ["start", "element", "element", "element", "element", "total", "price", "incentive"]
    # parity (safety) and placeholder (brand) add nothing and are left out
    assert w.loc[w["kind"] == "element", "element_id"].tolist() == ["downtime", "energy", "service", "scrap"]
    assert w.loc[w["kind"] == "element", "delta"].tolist() == pytest.approx([600, 40, 150, 400])
    assert w.loc[w["kind"] == "element", "step"].tolist() == ["Less downtime", "Lower energy use",
                                                               "Fewer service calls", "Less scrap"]
    start = w.iloc[0]
    assert (start["start"], start["end"]) == (0.0, 500.0)
    # each element starts where the previous step ended
    assert np.allclose(w["start"].to_numpy()[1:5], w["end"].to_numpy()[0:4])
    total = w[w["kind"] == "total"].iloc[0]
    assert total["end"] == pytest.approx(500 + 1190)
    assert total["end"] == pytest.approx(start["end"] + w.loc[w["kind"] == "element", "delta"].sum())
    price = w[w["kind"] == "price"].iloc[0]
    assert price["end"] == pytest.approx(500 + 100)
    inc = w[w["kind"] == "incentive"].iloc[0]
    assert (inc["start"], inc["end"], inc["delta"]) == pytest.approx((600, 1690, 1090))
    assert np.allclose(w["delta"], w["end"] - w["start"])


def test_waterfall_small_customer_and_default_price(tiny):
    r = calculate(tiny, calculator_inputs(tiny, customer="B2"), subsegment="small")
    w = waterfall_table(r, include_price=False)
    assert "scrap" not in set(w["element_id"])  # parity for small
    assert w["kind"].iloc[-1] == "total"
    assert w["end"].iloc[-1] == pytest.approx(300 + 20 + 0)  # B2 differential value


def test_waterfall_missing_element_propagates(tiny):
    r = calculate(tiny, calculator_inputs(tiny, customer="A1").query("phrase != 'kWh, offering'"), subsegment="big")
    w = waterfall_table(r)
    assert math.isnan(w.loc[w["element_id"] == "energy", "delta"].iloc[0])
    assert math.isnan(w.loc[w["kind"] == "total", "end"].iloc[0])


def test_waterfall_bad_table():
    with pytest.raises(CvmError, match="calculate"):
        waterfall_table(pd.DataFrame({"x": [1]}))


def test_plot_value_waterfall_bars_match_table(tiny):
    r = calculate(tiny, calculator_inputs(tiny, customer="A1"), subsegment="big")
    w = waterfall_table(r, alternative_price=500)
    ax = plot_value_waterfall(w, currency="EUR")
    assert len(ax.patches) == len(w)
    for patch, s, e in zip(ax.patches, w["start"], w["end"]):
        assert patch.get_y() == pytest.approx(min(s, e))
        assert patch.get_height() == pytest.approx(abs(e - s))
    assert [t.get_text() for t in ax.get_xticklabels()] == w["step"].tolist()
    assert "EUR" in ax.get_ylabel()


def test_plot_value_waterfall_missing_step_drawn_flat(tiny):
    r = calculate(tiny, calculator_inputs(tiny, customer="A1").query("phrase != 'kWh, offering'"), subsegment="big")
    ax = plot_value_waterfall(waterfall_table(r))
    heights = [p.get_height() for p in ax.patches]
    assert all(np.isfinite(heights))
    assert any(t.get_text() == "missing" for t in ax.texts)


# ---------------------------------------------------------------------------
# the widget


def test_widget_live_update_through_floattext(tiny):
    calc = value_calculator(tiny, customer="A1")
    assert calc.subsegment.value == "big"
    assert calc.net_value == pytest.approx(1090)
    assert calc.inputs["Hours lost, offering"].value == pytest.approx(4)
    calc.inputs["Hours lost, offering"].value = 2
    assert _val(calc.result, "downtime") == pytest.approx(800)
    assert _val(calc.result, "net_value") == pytest.approx(1290)
    assert calc.waterfall.loc[calc.waterfall["kind"] == "total", "end"].iloc[0] == pytest.approx(1390)
    assert "1,290.00" in calc.table.value
    calc.alternative_price.value = 250
    assert calc.waterfall["end"].iloc[0] == 250
    assert calc.waterfall.loc[calc.waterfall["kind"] == "total", "end"].iloc[0] == pytest.approx(1640)
    assert plt.get_fignums() == []  # each redraw closes its figure


def test_widget_switch_customer_and_subsegment(tiny):
    calc = value_calculator(tiny)
    assert calc.customer.value == "" and calc.subsegment.value == "big"
    calc.customer.value = "B3"
    assert calc.subsegment.value == "small"
    # B3: downtime (7-5)*100, energy (350-275)*0.2 with [kWh, offering] the small mean, service 4*50, scrap parity
    assert calc.net_value == pytest.approx(200 + 15 + 200 + 0 - 10)
    assert "Scrap tonnes avoided" not in calc.inputs  # not needed where scrap is parity
    assert calc.current_inputs()["kWh, offering"] == pytest.approx(275)
    calc.subsegment.value = "big"  # same customer valued as a big plant: scrap counts, filled from big's mean (2 t)
    assert "Scrap tonnes avoided" in calc.inputs
    assert _val(calc.result, "scrap") == pytest.approx(400)


def test_widget_input_with_no_value_stays_missing_until_entered(tmp_path):
    d = _copy(tmp_path)
    m = pd.read_csv(d / "measurements.csv", keep_default_na=False)
    m = m[~(m["customer_id"].str.startswith("B") & (m["variable"] == "kWh, offering"))]
    m.to_csv(d / "measurements.csv", index=False)
    study = cvm.load_study(d)
    t = calculator_inputs(study, subsegment="small").set_index("phrase")
    assert t.at["kWh, offering", "source"] == "missing" and math.isnan(t.at["kWh, offering", "value"])
    calc = value_calculator(study, subsegment="small")
    assert "kWh, offering" in calc.unset
    assert calc.inputs["kWh, offering"].value == 0.0  # shown as 0 (NaN cannot go to the browser) ...
    assert math.isnan(_val(calc.result, "energy"))  # ... but valued as missing, never 0
    assert math.isnan(calc.net_value)
    assert "missing: kWh, offering" in calc.table.value
    calc.inputs["kWh, offering"].value = 200
    assert "kWh, offering" not in calc.unset
    # small means: kWh alternative (300+400+350)/3 = 350, energy price 0.2
    assert _val(calc.result, "energy") == pytest.approx((350 - 200) * 0.2)


def test_widget_escapes_study_text(tmp_path):
    d = _copy(tmp_path)
    y = (d / "project.yaml").read_text()
    y = y.replace("name: Less downtime", 'name: "<script>alert(1)</script>"')
    y = y.replace("offering: Offering X", 'offering: "X <b>&</b>"')
    (d / "project.yaml").write_text(y)
    study = cvm.load_study(d)
    calc = value_calculator(study, customer="A1")
    html_out = calc.table.value
    assert "<script>" not in html_out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_out
    assert "X &lt;b&gt;&amp;&lt;/b&gt;" in html_out
    assert "<b>&</b>" not in calc.children[0].value


def test_widget_bad_start(tiny):
    with pytest.raises(CvmError, match="ZZ"):
        value_calculator(tiny, customer="ZZ")


def test_module_import_is_light():
    code = ("import sys, cvm_kit.calculator_widgets, cvm_kit.documenter, cvm_kit.business_case, "
            "cvm_kit.cli.documenter; "
            "print(sorted(m for m in ('ipywidgets', 'matplotlib', 'scipy', 'IPython') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
