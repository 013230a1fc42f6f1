"""The calculators: issue 10 items 1 and 9, issue 15 item 6.

- item 1: a division by zero that MAX would absorb is #N/A in the workbook, cached and
  recalculated by the `formulas` package, never 0; overflow too.
- item 9: a customer's calculator holds no other customer's id, figure or note in any XML
  part of the .xlsx; a subsegment's calculator holds no customer rows.
- 15.6: conservative / base / optimistic = percentiles of the subsegment's customers,
  checked against numpy directly, oriented by their effect on net value, driving the live
  formulas through a drop-down cell (recalculated with `formulas`), and the widget buttons.

Tiny study figures (tests/data/tiny), subsegment big = A1, A2, A3: Hours lost,
alternative 10 (A1: 9 and 11 averaged), 8, 12 -> 10th/50th/90th percentiles 8.4, 10, 11.6.
"""

from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from xlsx_helpers import cached as _cached
from xlsx_helpers import defined_names as _names
from xlsx_helpers import recalc as _recalc

from cvm_kit import values as V
from cvm_kit.calculator import write_calculator
from cvm_kit.calculator_widgets import calculate, calculator_inputs
from cvm_kit.errors import CvmError
from cvm_kit.study import load_study

SCRAP_MAX = "max([Scrap tonnes avoided] * 200 - [Call cost] / [Tonnes], 0)"


def _edit_tiny(folder: Path, a1_tonnes: str = "0") -> None:
    y = folder / "project.yaml"
    y.write_text(y.read_text().replace('equation: "[Scrap tonnes avoided] * 200"', f'equation: "{SCRAP_MAX}"'))
    m = folder / "measurements.csv"
    m.write_text(m.read_text().replace("A1,Tonnes,50,data,high,", f"A1,Tonnes,{a1_tonnes},data,high,"))


# --------------------------------------------------------------------------- issue 10 item 1


def test_division_by_zero_under_max_is_na_cached_and_live(tmp_path, tiny_copy):
    _edit_tiny(tiny_copy)
    study = load_study(tiny_copy)
    a1 = write_calculator(study, tmp_path / "a1.xlsx", customer="A1")
    cached, live = _cached(a1), _recalc(a1)
    for got in (cached, live):
        assert got["el_scrap"] == "#N/A"  # was cached 0: max(400 - inf, 0)
        assert got["tot_differential_value"] == "#N/A" and got["tot_net_value"] == "#N/A"
        assert got["el_downtime"] == 600 and got["el_energy"] == 40
    a2 = write_calculator(study, tmp_path / "a2.xlsx", customer="A2")
    assert _cached(a2)["el_scrap"] == pytest.approx(200 - 50 / 30)
    assert _recalc(a2)["el_scrap"] == pytest.approx(200 - 50 / 30)
    # typing 0 tonnes into A2's workbook: #N/A (Excel alone would say #DIV/0!), never 0
    got = _recalc(a2, {"in_tonnes": 0})
    assert got["el_scrap"] == "#N/A" and got["tot_net_value"] == "#N/A"
    # an overflow is #N/A too: (1e308 - -1e308) overflows
    got = _recalc(a2, {"in_price_offering": 1e308, "in_price_alternative": -1e308})
    assert got["tot_price_difference"] == "#N/A" and got["tot_net_value"] == "#N/A"
    assert got["el_scrap"] == pytest.approx(200 - 50 / 30)


def test_division_by_zero_in_a_derived_quantity_is_na_in_the_workbook(tmp_path, tiny_copy):
    y = tiny_copy / "project.yaml"
    y.write_text(y.read_text().replace("derived:\n", 'derived:\n  - name: Cost per tonne\n'
                                                     '    equation: "[Call cost] / [Tonnes]"\n')
                 .replace('equation: "[Scrap tonnes avoided] * 200"',
                          'equation: "max([Scrap tonnes avoided] * 200 - [Cost per tonne], 0)"'))
    m = tiny_copy / "measurements.csv"
    m.write_text(m.read_text().replace("A1,Tonnes,50,data,high,", "A1,Tonnes,0,data,high,"))
    path = write_calculator(load_study(tiny_copy), tmp_path / "a1.xlsx", customer="A1")
    for got in (_cached(path), _recalc(path)):
        assert got["dq_cost_per_tonne"] == "#N/A" and got["el_scrap"] == "#N/A"
        assert got["tot_net_value"] == "#N/A" and got["el_downtime"] == 600
    got = _recalc(path, {"in_tonnes": 25})  # 2 * 200 - 50 / 25 = 398; net 600 + 40 + 150 + 398 - 2 * 25
    assert got["dq_cost_per_tonne"] == 2 and got["el_scrap"] == 398 and got["tot_net_value"] == pytest.approx(1138)


def test_scenario_formula_reads_an_empty_cell_as_missing_not_zero(tmp_path, tiny):
    # B3 has no kWh, offering: CHOOSE over an empty cell would give 0 in Excel; the value cell is #N/A
    path = write_calculator(tiny, tmp_path / "b3.xlsx", customer="B3")
    got = _recalc(path)
    assert got["in_kwh_offering"] == "#N/A" and got["el_energy"] == "#N/A"
    # the Base scenario fills it with the small subsegment's median of B1, B2 (250, 300)... but
    # only 2 customers have it: fewer than 3, so every scenario keeps B3's own (empty) value
    got = _recalc(path, {"scenario": "Base"})
    assert got["in_kwh_offering"] == "#N/A" and got["el_energy"] == "#N/A"


# --------------------------------------------------------------------------- issue 10 item 9

N_PER_SUB = 4
PHRASES = ["Hours lost, alternative", "Hours lost, offering", "Tonnes", "Price, offering", "Price, alternative"]


def _marked_study(folder: Path) -> Path:
    """Eight customers in two subsegments, every id, note, region and value unique and searchable."""
    folder.mkdir()
    (folder / "project.yaml").write_text(
        "name: Marker study\noffering: Offering M\nsegment: Seg M\nnext_best_alternative: Alt M\n"
        "currency: EUR\nperiod: year\n"
        "subsegments:\n  - id: alpha\n    description: Alpha plants\n  - id: beta\n    description: Beta plants\n"
        "constants:\n  - name: Margin per hour\n    value: 100\n    source: P&L\n"
        "derived:\n  - name: Hours saved\n    equation: \"[Hours lost, alternative] - [Hours lost, offering]\"\n"
        "price:\n  equation: \"([Price, offering] - [Price, alternative]) * [Tonnes]\"\n"
        "elements:\n"
        "  - id: downtime\n    name: Less downtime\n    category: economic\n    status: difference\n"
        "    equation: \"[Hours saved] * [Margin per hour]\"\n"
        "  - id: yield\n    name: Better yield\n    category: economic\n    status: difference\n"
        "    equation: \"[Tonnes] * 3\"\n", encoding="utf-8")
    cust = ["customer_id,subsegment,size,region"]
    meas = ["customer_id,variable,value,source,reliability,note"]
    values: dict[str, list[float]] = {}
    for k in range(1, 2 * N_PER_SUB + 1):
        cid = f"QZK{k:02d}X"
        sub = "alpha" if k <= N_PER_SUB else "beta"
        cust.append(f"{cid},{sub},{1000 + 37 * k},RGNMARK{k:02d}")
        vals = []
        for j, phrase in enumerate(PHRASES):
            v = round(100 * (j + 1) + 7.3193 * k + 0.000417 * k * (j + 1), 6)
            if phrase == "Hours lost, offering":
                v = round(v - 90, 6)  # fewer hours lost with the offering
            src = "assumption" if j == 2 else "data"
            meas.append(f'{cid},"{phrase}",{v!r},{src},,NOTEMARK{k:02d}_{j}')
            vals.append(v)
        if k == 2:  # one customer overrides the constant
            meas.append(f"{cid},Margin per hour,123.4567,data,,NOTEMARK02_own_margin")
            vals.append(123.4567)
        values[cid] = vals
    (folder / "customers.csv").write_text("\n".join(cust) + "\n", encoding="utf-8")
    (folder / "measurements.csv").write_text("\n".join(meas) + "\n", encoding="utf-8")
    return folder


def _xml_parts(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n).decode("utf-8") for n in z.namelist()}


def _figure_texts(v: float) -> set[str]:
    """How a figure could be written in an XML part: cell numbers (%.16G, repr) and text (:g)."""
    return {f"{v:.16G}", repr(v), f"{v:g}", f"{v:,.2f}"}


def _markers(study, cid: str) -> set[str]:
    k = cid[3:5]
    m = study.measurements
    out = {cid, f"RGNMARK{k}", f"NOTEMARK{k}"}
    for v in m.loc[m["customer_id"] == cid, "value"]:
        out |= _figure_texts(float(v))
    return out


def _found(parts: dict[str, str], needles: set[str]) -> list[tuple[str, str]]:
    hits = []
    for name, text in parts.items():
        for needle in needles:
            # a number must not be a piece of a longer number
            pattern = re.escape(needle) if not needle[0].isdigit() else rf"(?<![\d.]){re.escape(needle)}(?![\d])"
            if re.search(pattern, text):
                hits.append((name, needle))
    return hits


def test_customer_calculator_holds_no_other_customer(tmp_path):
    study = load_study(_marked_study(tmp_path / "marked"))
    path = write_calculator(study, tmp_path / "k03.xlsx", customer="QZK03X")
    parts = _xml_parts(path)
    assert {"docProps/core.xml", "xl/workbook.xml", "xl/sharedStrings.xml"} <= set(parts)
    # the scan works: the customer's own id, note and figures are there
    own = _found(parts, _markers(study, "QZK03X"))
    assert {"QZK03X", "NOTEMARK03"} <= {n for _, n in own}
    assert any(n == repr(float(v)) for _, n in own for v in study.measurements.loc[
        study.measurements["customer_id"] == "QZK03X", "value"])
    for k in range(1, 2 * N_PER_SUB + 1):
        cid = f"QZK{k:02d}X"
        if cid != "QZK03X":
            assert _found(parts, _markers(study, cid)) == [], cid
    # the other customer's override of the constant stays out; the constant itself is there
    assert _found(parts, _figure_texts(123.4567)) == []
    assert _found(parts, {"100"})


def test_customer_scenarios_carry_no_peer_figure(tmp_path, tiny):
    """big has three customers: the median of their figures is a peer's exact figure (A1's 50 tonnes for A2)."""
    from openpyxl import load_workbook

    path = write_calculator(tiny, tmp_path / "a2.xlsx", customer="A2")
    ws = load_workbook(path)["Inputs"]
    rows = {r[0].value: [c.value for c in r[6:10]] for r in ws.iter_rows() if r[0].value}
    peers = {"Tonnes": (50, 100), "kWh, alternative": (1000, 2000), "kWh, offering": (800, 1500)}
    own = {"Tonnes": 30, "kWh, alternative": 500, "kWh, offering": 400}
    for phrase, figures in peers.items():
        customer, *scenarios = rows[phrase]
        assert customer == own[phrase]
        assert sorted(scenarios) == pytest.approx(sorted(own[phrase] * f for f in (0.8, 1.0, 1.2))), phrase
        assert not set(figures) & set(scenarios), phrase
    assert "Tiny test study" not in [c.value for r in ws.iter_rows() for c in r]  # the study's name stays out


def test_subsegment_calculator_holds_no_customer_rows(tmp_path):
    study = load_study(_marked_study(tmp_path / "marked"))
    path = write_calculator(study, tmp_path / "alpha.xlsx", subsegment="alpha")
    parts = _xml_parts(path)
    for k in range(1, 2 * N_PER_SUB + 1):
        assert _found(parts, _markers(study, f"QZK{k:02d}X")) == [], k
    assert "QZK" not in "".join(parts.values())
    # it does hold the subsegment's statistics: the mean of the four alpha customers' tonnes
    m = study.measurements
    tonnes = m[(m["phrase"] == "tonnes") & m["customer_id"].isin(["QZK01X", "QZK02X", "QZK03X", "QZK04X"])]
    assert _cached(path)["in_tonnes"] == pytest.approx(tonnes["value"].mean())
    # and says how many alpha values are team assumptions, naming no one
    from openpyxl import load_workbook

    rows = [[c.value for c in r] for r in load_workbook(path)["Assumptions"].iter_rows(min_row=4)]
    assert ["measurement", "Tonnes", "4 of the 4 alpha customers' values are assumed by the team"] in rows


def test_subsegment_mean_of_a_single_customer_is_withheld(tmp_path, tiny):
    # small: only B1 measured Scrap tonnes avoided (5): its "mean" would be B1's own figure
    path = write_calculator(tiny, tmp_path / "small.xlsx", subsegment="small")
    from openpyxl import load_workbook

    wb = load_workbook(path)
    sheet, cell = _names(path)["in_scrap_tonnes_avoided"]
    row = wb[sheet][cell].row
    assert [wb[sheet].cell(row=row, column=c).value for c in range(7, 11)] == [None] * 4
    assert wb[sheet].cell(row=row, column=5).value.startswith("only 1 of the 3 small customers has a value")
    assert _recalc(path)["el_scrap"] == 0  # parity for small: unaffected


# --------------------------------------------------------------------------- issue 15 item 6


def _resolved_by_hand(tiny_path: Path, subsegment: str) -> pd.DataFrame:
    """Per customer of the subsegment, each input: own measurement (repeats averaged), else the constant."""
    m = pd.read_csv(tiny_path / "measurements.csv")
    m["phrase"] = m["variable"].map(lambda s: " ".join(s.split()).casefold())
    c = pd.read_csv(tiny_path / "customers.csv")
    ids = c.loc[c["subsegment"] == subsegment, "customer_id"].tolist()
    wide = m[m["customer_id"].isin(ids)].groupby(["customer_id", "phrase"])["value"].mean().unstack()
    wide = wide.reindex(ids)
    for phrase, value in (("margin per hour", 100.0), ("call cost", 50.0)):
        wide[phrase] = wide[phrase].fillna(value) if phrase in wide else value
    return wide


@pytest.mark.parametrize("subsegment", ["big", "small"])
@pytest.mark.parametrize("pct", [(10, 50, 90), (25, 50, 75)])
def test_scenario_percentiles_match_numpy(tiny, tiny_path, subsegment, pct):
    got = V.input_scenarios(tiny, subsegment, pct)
    wide = _resolved_by_hand(tiny_path, subsegment)
    assert len(got) == 12
    for r in got.itertuples(index=False):
        x = wide[" ".join(r.phrase.split()).casefold()].dropna().to_numpy(float)
        assert r.n == len(x)
        # A3's own margin (120) is the only figure of the constant (100) in big: 100, 100, 120 would give it back
        lone = subsegment == "big" and r.phrase == "Margin per hour"
        if len(x) < 3 or lone:  # too few customers: no percentiles (one would be a customer's own figure)
            assert math.isnan(r.p_low) and math.isnan(r.conservative)
            continue
        want = np.percentile(x, pct)
        assert [r.p_low, r.p_mid, r.p_high] == pytest.approx(want.tolist())
        assert r.base == pytest.approx(want[1])
        lo, hi = (want[0], want[2]) if r.direction >= 0 else (want[2], want[0])
        assert (r.conservative, r.optimistic) == pytest.approx((lo, hi))


def test_scenario_orientation_by_hand(tiny):
    s = V.input_scenarios(tiny, "big").set_index("phrase")
    # more hours lost with the alternative / kWh saved / margin / scrap avoided: more value (+1);
    # hours lost with the offering, kWh used by the offering, the offering's price: less (-1);
    # tonnes: price difference (12 - 10) * tonnes grows with it (-1); no spread, or only A3's own margin beside
    # the constant (no percentiles: they would give A3's 120 back): 0
    assert s["direction"].to_dict() == {
        "Hours lost, alternative": 1, "Hours lost, offering": -1, "Price, offering": -1, "Price, alternative": 0,
        "Tonnes": -1, "Margin per hour": 0, "kWh, alternative": 1, "kWh, offering": -1, "Energy price": 1,
        "Service calls avoided": 1, "Call cost": 0, "Scrap tonnes avoided": 1}
    # Tonnes in big: 30, 50, 100 -> 10th 34, 90th 90; conservative is the high tonnage
    assert (s.loc["Tonnes", "conservative"], s.loc["Tonnes", "optimistic"]) == pytest.approx((90, 34))
    # net value: conservative < base < optimistic
    nets = {k: float(V.evaluate(tiny, pd.DataFrame([s[k].to_dict()]), subsegment="big")["net_value"].iloc[0])
            for k in V.SCENARIOS}
    assert nets["conservative"] < nets["base"] < nets["optimistic"]


def test_scenario_percentiles_are_checked(tiny):
    assert V.scenario_percentiles(tiny) == (10, 50, 90)
    for bad in ([50, 10, 90], [10, 50], [-5, 50, 90], [10, 50, 101], ["a", 50, 90], [10, float("nan"), 90]):
        with pytest.raises(CvmError, match="scenario percentiles"):
            V.scenario_percentiles(tiny, bad)


def _scenario_frame(study, sub: str, key: str) -> pd.DataFrame:
    s = V.input_scenarios(study, sub)
    return pd.DataFrame([dict(zip(s["phrase"], s[key]))])


def _own_frame(study, customer: str, key: str, band: float = 0.2) -> pd.DataFrame:
    from cvm_kit.calculator import _case

    sub, _, inputs, _ = _case(study, customer, None)
    s = V.own_scenarios(study, sub, inputs.iloc[0].to_dict(), band)
    return pd.DataFrame([dict(zip(s["phrase"], s[key]))])


@pytest.mark.parametrize("label, key", [("Conservative", "conservative"), ("Base", "base"),
                                        ("Optimistic", "optimistic")])
def test_excel_scenario_selector_drives_the_live_formulas(tmp_path, tiny, label, key):
    path = write_calculator(tiny, tmp_path / "a1.xlsx", customer="A1")
    want = V.evaluate(tiny, _own_frame(tiny, "A1", key), subsegment="big").iloc[0]
    got = _recalc(path, {"scenario": label})
    assert got["scenario_index"] == {"Conservative": 2, "Base": 3, "Optimistic": 4}[label]
    own = _cached(path)
    # A1's own figures moved 20%: more tonnes raise the price difference (the low-value side), more hours lost
    # on the alternative raise the downtime saved (the high-value side)
    factor = {"conservative": 1.2, "base": 1, "optimistic": 0.8}[key]
    assert got["in_tonnes"] == pytest.approx(own["in_tonnes"] * factor)
    assert got["in_hours_lost_alternative"] == pytest.approx(
        own["in_hours_lost_alternative"] * {"conservative": 0.8, "base": 1, "optimistic": 1.2}[key])
    # no peer's figure: every scenario value is A1's own figure (or the constant) times 0.8, 1 or 1.2
    for name in ("in_tonnes", "in_kwh_offering", "in_margin_per_hour", "in_price_offering"):
        assert any(got[name] == pytest.approx(own[name] * f) for f in (0.8, 1.0, 1.2)), name
    for e in ("downtime", "energy", "service", "scrap"):
        assert got[f"el_{e}"] == pytest.approx(want[e]), e
    for t in ("differential_value", "price_difference", "net_value"):
        assert got[f"tot_{t}"] == pytest.approx(want[t]), t
    # the default scenario is the customer's own figures (cached and recalculated): net 1090
    assert _cached(path)["scenario"] == "Customer" and _cached(path)["tot_net_value"] == 1090
    assert _recalc(path)["tot_net_value"] == 1090
    assert _recalc(path, {"scenario": "Customer"})["tot_net_value"] == 1090


def test_excel_scenario_drop_down(tmp_path, tiny):
    from openpyxl import load_workbook

    path = write_calculator(tiny, tmp_path / "small.xlsx", subsegment="small")
    ws = load_workbook(path)["Inputs"]
    sheet, cell = _names(path)["scenario"]
    assert ws[cell].value == "Subsegment mean"
    dv = [d for d in ws.data_validations.dataValidation if cell in str(d.sqref)]
    assert len(dv) == 1 and dv[0].type == "list"
    rng = dv[0].formula1.replace("$", "")
    assert [c.value for c in ws[rng][0]] == ["Subsegment mean", "Conservative", "Base", "Optimistic"]
    # base = the small medians: hours lost alternative 5, 6, 7 -> 6
    got = _recalc(path, {"scenario": "Base"})
    assert got["in_hours_lost_alternative"] == 6
    want = V.evaluate(tiny, _scenario_frame(tiny, "small", "base"), subsegment="small").iloc[0]
    # kWh, offering has 2 small customers only: no percentile, so Base keeps the mean 275
    assert got["in_kwh_offering"] == 275
    assert got["el_downtime"] == pytest.approx(want["downtime"])
    assert got["tot_price_difference"] == pytest.approx(want["price_difference"])


def test_widget_functions_and_buttons_use_the_scenarios(tiny):
    scen = V.input_scenarios(tiny, "big").set_index("phrase")
    # a prospect: the subsegment's spread
    t = calculator_inputs(tiny, subsegment="big", scenario="conservative").set_index("phrase")
    assert t.loc["Tonnes", "value"] == pytest.approx(90) == pytest.approx(scen.loc["Tonnes", "conservative"])
    assert t.loc["Tonnes", "source"] == "conservative: 90th percentile of big"
    assert t.loc["Hours lost, alternative", "source"] == "conservative: 10th percentile of big"
    want = V.evaluate(tiny, _scenario_frame(tiny, "big", "conservative"), subsegment="big").iloc[0]
    r = calculate(tiny, t.reset_index(), subsegment="big").set_index("element_id")
    assert r.loc["net_value", "value"] == pytest.approx(want["net_value"])
    # a customer: its own figures moved 20% (A1's 50 tonnes: 60 on the conservative side)
    t = calculator_inputs(tiny, customer="A1", scenario="conservative").set_index("phrase")
    assert t.loc["Tonnes", "value"] == pytest.approx(60)
    assert t.loc["Tonnes", "source"] == "conservative: own figure +20%"
    assert t.loc["Hours lost, alternative", "value"] == pytest.approx(8)  # the mean of 9 and 11, less 20%
    with pytest.raises(CvmError, match="scenario 'worst'"):
        calculator_inputs(tiny, customer="A1", scenario="worst")
    # B3 lacks two figures: kWh, offering from its 2 peers' mean (275: their sum, neither figure); scrap tonnes
    # only B1 has (5): its "mean" would be B1's own figure, so it stays missing on B3's screen
    t = calculator_inputs(tiny, customer="B3").set_index("phrase")
    assert (t.loc["kWh, offering", "value"], t.loc["kWh, offering", "source"]) == (275, "subsegment mean")
    assert np.isnan(t.loc["Scrap tonnes avoided", "value"]) and t.loc["Scrap tonnes avoided", "source"] == "missing"
    # nor on a prospect's: B1's 5 tonnes is no subsegment mean
    prospect = calculator_inputs(tiny, subsegment="small").set_index("phrase")
    assert np.isnan(prospect.loc["Scrap tonnes avoided", "value"])

    pytest.importorskip("ipywidgets")
    from cvm_kit.calculator_widgets import value_calculator

    calc = value_calculator(tiny, customer="A1")
    assert calc.net_value == 1090
    assert [label for label, _ in calc.scenario.options] == ["Customer", "Conservative", "Base", "Optimistic"]
    for key in V.SCENARIOS:
        calc.scenario.value = key
        want = V.evaluate(tiny, _own_frame(tiny, "A1", key), subsegment="big").iloc[0]
        assert calc.net_value == pytest.approx(want["net_value"]), key
        assert calc.inputs["Tonnes"].value == pytest.approx(50 * {"conservative": 1.2, "base": 1,
                                                                  "optimistic": 0.8}[key])
    calc.scenario.value = ""
    assert calc.net_value == 1090


def test_cli_scenario_percentiles(tmp_path, tiny_path, capsys):
    from cvm_kit.cli import main

    out = tmp_path / "calc.xlsx"
    assert main(["calculator", str(tiny_path), "--subsegment", "big", "--scenario-percentiles", "25,50,75",
                 "-o", str(out)]) == 0
    got = _recalc(out, {"scenario": "Optimistic"})
    assert got["in_tonnes"] == pytest.approx(np.percentile([50, 30, 100], 25))  # the optimistic side: fewer tonnes
    assert got["in_hours_lost_alternative"] == pytest.approx(np.percentile([10, 8, 12], 75))
    capsys.readouterr()
    assert main(["calculator", str(tiny_path), "--customer", "A1", "--scenario-percentiles", "90,50,10",
                 "-o", str(tmp_path / "bad.xlsx")]) == 1
    assert "expected three increasing percentiles" in capsys.readouterr().err
    assert not (tmp_path / "bad.xlsx").exists()
    # a customer's scenarios: --band moves its own 50 tonnes 10% to the low-value side
    a1 = ["calculator", str(tiny_path), "--customer", "A1"]
    assert main([*a1, "--band", "10", "-o", str(tmp_path / "a1.xlsx")]) == 0
    assert _recalc(tmp_path / "a1.xlsx", {"scenario": "Conservative"})["in_tonnes"] == pytest.approx(55)
    assert main([*a1, "--band", "120", "-o", str(tmp_path / "x.xlsx")]) == 2
