"""The spreadsheet value calculator recomputes to cvm_kit's own numbers.

Each workbook is recalculated by the `formulas` package (a maintained Excel
formula evaluator) and every derived, element and total cell (found through its
defined name) is compared with cvm_kit; the cached values openpyxl reads with
``data_only=True`` are compared too. Hand figures for A1 of the tiny study:
downtime (10 - 4) * 100 = 600, energy (1000 - 800) * 0.2 = 40, service
max(3, 0) * 50 = 150, scrap 2 * 200 = 400, price (12 - 10) * 50 = 100, net
600 + 40 + 150 + 400 - 100 = 1090.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from xlsx_helpers import cached as _cached
from xlsx_helpers import defined_names as _names
from xlsx_helpers import recalc as _recalc

from cvm_kit import values as V
from cvm_kit.calculator import excel_name, write_calculator
from cvm_kit.errors import CvmError
from cvm_kit.study import load_study

TOTALS = ("differential_value", "contention_value", "price_difference", "net_value")


def _expected(study, row: pd.Series, elements: list[str]) -> dict[str, float]:
    """cvm_kit's numbers keyed by the workbook's names (NaN for missing)."""
    out = {f"el_{e}": float(row[e]) for e in elements}
    out.update({f"tot_{t}": float(row[t]) for t in TOTALS})
    return out


def _same(got: object, want: float) -> bool:
    if np.isnan(want):
        return isinstance(got, str) and got.startswith("#")  # an Excel error where cvm_kit has no value
    return isinstance(got, (int, float)) and got == pytest.approx(want, rel=1e-9, abs=1e-9)


def _check(path: Path, expected: dict[str, float]) -> None:
    recalculated, cached = _recalc(path), _cached(path)
    for name, want in expected.items():
        assert _same(recalculated[name], want), (name, recalculated[name], want)
        assert _same(cached[name], want), (name, cached[name], want)


def _customer_values(study, cid: str) -> dict[str, float]:
    v = V.element_values(study)
    v = v[v["customer_id"] == cid]
    out = {f"el_{e}": float(x) for e, x in zip(v["element_id"], v["value"])}
    t = V.totals(study).set_index("customer_id").loc[cid]
    out.update({f"tot_{k}": float(t[k]) for k in TOTALS})
    return out


def test_tiny_a1_recomputes_to_hand_figures(tmp_path, tiny):
    path = write_calculator(tiny, tmp_path / "calc.xlsx", customer="A1")
    hand = {"el_downtime": 600, "el_energy": 40, "el_service": 150, "el_safety": 0, "el_scrap": 400,
            "tot_differential_value": 1190, "tot_contention_value": 150, "tot_price_difference": 100,
            "tot_net_value": 1090, "dq_hours_saved": 6}
    assert _customer_values(tiny, "A1") == {k: v for k, v in hand.items() if k != "dq_hours_saved"}
    _check(path, hand)
    assert sorted(_names(path)) == sorted(
        ["dq_hours_saved", "el_downtime", "el_energy", "el_safety", "el_scrap", "el_service",
         "in_call_cost", "in_energy_price", "in_hours_lost_alternative", "in_hours_lost_offering",
         "in_kwh_alternative", "in_kwh_offering", "in_margin_per_hour", "in_price_alternative",
         "in_price_offering", "in_scrap_tonnes_avoided", "in_service_calls_avoided", "in_tonnes",
         "scenario", "scenario_index",  # the scenario selector (issue 15 item 6)
         "tot_contention_value", "tot_differential_value", "tot_net_value", "tot_price_difference"])


@pytest.mark.parametrize("cid", ["A2", "A3", "B1", "B2", "B3"])
def test_tiny_customers_match_element_values(tmp_path, tiny, cid):
    path = write_calculator(tiny, tmp_path / "calc.xlsx", customer=cid)
    _check(path, _customer_values(tiny, cid))


def test_formulas_are_live_and_translated(tmp_path, tiny):
    from openpyxl import load_workbook

    path = write_calculator(tiny, tmp_path / "calc.xlsx", customer="A1")
    wb = load_workbook(path)
    names = _names(path)

    def formula(name):
        sheet, cell = names[name]
        return wb[sheet][cell].value

    # IFERROR(..., NA()): a division by zero or overflow anywhere inside is #N/A, as in cvm_kit (issue 10 item 1)
    assert formula("dq_hours_saved") == ("=IF(COUNT(in_hours_lost_alternative,in_hours_lost_offering)<2,NA(),"
                                         "IFERROR(in_hours_lost_alternative-in_hours_lost_offering,NA()))")
    assert formula("el_downtime") == ("=IF(COUNT(in_margin_per_hour)<1,NA(),"
                                      "IFERROR(dq_hours_saved*in_margin_per_hour,NA()))")
    assert formula("el_service") == ("=IF(COUNT(in_service_calls_avoided,in_call_cost)<2,NA(),"
                                     "IFERROR(MAX(in_service_calls_avoided,0)*in_call_cost,NA()))")
    assert formula("el_safety") == 0  # parity: a plain 0
    assert formula("tot_differential_value") == "=el_downtime+el_energy+el_service+el_scrap"
    assert formula("tot_contention_value") == "=el_service"
    assert formula("tot_net_value") == "=tot_differential_value-tot_price_difference"
    # the placeholder is listed as text with its perceived range, and is in no formula
    es = wb["Elements"]
    rows = [[c.value for c in r] for r in es.iter_rows()]
    brand = next(r for r in rows if r[0] == "brand")
    assert brand[1:6] == ["Brand", "social", "placeholder (not summed)", "1,000", "5,000"]
    assert "brand" not in formula("tot_differential_value")
    # inputs: A1's own values (the "Customer" scenario column, G); the repeated 9 and 11 averaged;
    # the named value cell picks the selected scenario's column (issue 15 item 6)
    sheet, cell = names["in_hours_lost_alternative"]
    assert wb[sheet][cell].offset(column=5).value == 10
    assert _cached(path)["in_hours_lost_alternative"] == 10
    # what-if: change an input and the workbook follows cvm_kit.evaluate
    got = _recalc(path, {"in_tonnes": 80, "in_energy_price": 0.5})
    env = V.environment(tiny)
    i = int(np.flatnonzero(env.ids == "A1")[0])
    display = V.display_names(tiny)
    case = pd.DataFrame([{display[p]: env.values[p][i] for p in V.input_phrases(tiny)}
                         | {"Tonnes": 80, "Energy price": 0.5}])
    want = V.evaluate(tiny, case, subsegment="big").iloc[0]
    assert got["tot_price_difference"] == pytest.approx(160) == pytest.approx(want["price_difference"])
    assert got["el_energy"] == pytest.approx(100) == pytest.approx(want["energy"])
    # net: 600 + (1000 - 800) * 0.5 + 150 + 400 - (12 - 10) * 80
    assert got["tot_net_value"] == pytest.approx(1090) == pytest.approx(want["net_value"])


def test_missing_input_gives_na_not_zero(tmp_path, tiny):
    from openpyxl import load_workbook

    path = write_calculator(tiny, tmp_path / "calc.xlsx", customer="B3")
    names = _names(path)
    sheet, cell = names["in_kwh_offering"]
    ws = load_workbook(path)[sheet]
    assert ws[cell].offset(column=5).value is None  # the customer's own (empty) entry, column G
    assert _cached(path)["in_kwh_offering"] == "#N/A"
    note = ws.cell(row=ws[cell].row, column=5).value
    assert note.startswith("missing for this customer")
    got = _recalc(path)
    assert got["el_energy"] == "#N/A" and got["tot_net_value"] == "#N/A"
    assert _cached(path)["el_energy"] == "#N/A"
    # filled in, it recomputes: energy (350 - 300) * 0.2 = 10; net 200 + 10 + 200 + 0 - 10 = 400
    got = _recalc(path, {"in_kwh_offering": 300})
    assert got["el_energy"] == pytest.approx(10) and got["tot_net_value"] == pytest.approx(400)
    assert got["el_scrap"] == 0  # parity for small


def _subsegment_inputs(study) -> pd.DataFrame:
    """What a subsegment's calculator shows: the means, except a constant only one customer measured (the constant)."""
    from cvm_kit.equations import normalize_phrase

    means = V.subsegment_input_means(study).copy()
    display = V.display_names(study)
    subs = dict(zip(study.customers["customer_id"], study.customers["subsegment"]))
    m = study.measurements.assign(subsegment=study.measurements["customer_id"].map(subs))
    for c in study.constants:
        p = normalize_phrase(c.name)
        for sub in means.index:
            if m.loc[(m["phrase"] == p) & (m["subsegment"] == sub), "customer_id"].nunique() == 1:
                means.loc[sub, display.get(p, p)] = float(c.value)
    return means


def test_subsegment_means(tmp_path, tiny):
    path = write_calculator(tiny, tmp_path / "calc.xlsx", subsegment="small")
    means = V.subsegment_input_means(tiny)
    want = V.evaluate(tiny, means.loc[["small"]], subsegment="small").iloc[0]
    elements = ["downtime", "energy", "service", "safety", "scrap"]
    expected = _expected(tiny, want, elements)
    # by hand: downtime (6-4)*100, energy (350-275)*0.2, service (5/3)*50, scrap parity,
    # price (32/3 - 10) * 40/3, net = 200 + 15 + 250/3 - 80/9
    hand = {"el_downtime": 200, "el_energy": 15, "el_service": 250 / 3, "el_scrap": 0,
            "tot_price_difference": 80 / 9, "tot_net_value": 200 + 15 + 250 / 3 - 80 / 9}
    for k, v in hand.items():
        assert expected[k] == pytest.approx(v)
    _check(path, expected)
    # the default is the first subsegment; A3's own margin (120) is the only one of big: the constant 100 is used
    default = write_calculator(tiny, tmp_path / "default.xlsx")
    safe = _subsegment_inputs(tiny)
    assert safe.loc["big", "Margin per hour"] == 100 and means.loc["big", "Margin per hour"] == pytest.approx(320 / 3)
    big = V.evaluate(tiny, safe.loc[["big"]], subsegment="big").iloc[0]
    assert big["downtime"] == pytest.approx((10 - 4) * 100)  # hours lost (9+11)/2, 8, 12 -> 10; 4, 5, 3 -> 4
    _check(default, _expected(tiny, big, elements))


def test_example_study(tmp_path, example_path):
    study = load_study(example_path)
    cid = str(study.customers["customer_id"].iloc[0])
    path = write_calculator(study, tmp_path / "ex.xlsx", customer=cid)
    expected = _customer_values(study, cid)
    env = V.environment(study)
    i = int(np.flatnonzero(env.ids == cid)[0])
    from cvm_kit.equations import normalize_phrase

    for d in study.derived:
        expected[excel_name("dq", d.name, set())] = float(env.values[normalize_phrase(d.name)][i])
    _check(path, expected)
    # and a subsegment of the other kind than the customer's
    other = [s for s in study.subsegment_ids if s != env.subsegments[i]][0]
    path2 = write_calculator(study, tmp_path / "ex2.xlsx", subsegment=other)
    means = _subsegment_inputs(study)
    want = V.evaluate(study, means.loc[[other]], subsegment=other).iloc[0]
    quantified = [e.id for e in study.elements if e.quantified]
    _check(path2, _expected(study, want, quantified))


def test_note_starting_with_equals_stays_text(tmp_path, tiny_copy):
    from openpyxl import load_workbook

    m = tiny_copy / "measurements.csv"
    evil = '=HYPERLINK("http://example.invalid","click")'
    quoted = evil.replace(chr(34), 2 * chr(34))
    m.write_text(m.read_text().replace("A1,Tonnes,50,data,high,", f'A1,Tonnes,50,data,high,"{quoted}"'))
    y = tiny_copy / "project.yaml"
    y.write_text(y.read_text().replace("name: Less downtime", "name: '=1+1'"))
    s = load_study(tiny_copy)
    path = write_calculator(s, tmp_path / "calc.xlsx", customer="A1")
    wb = load_workbook(path)
    sheet, cell = _names(path)["in_tonnes"]
    note = wb[sheet].cell(row=wb[sheet][cell].row, column=5)
    assert note.data_type == "s" and note.value == evil
    el = wb["Elements"]
    name_cell = next(r[1] for r in el.iter_rows() if r[0].value == "downtime")
    assert name_cell.data_type == "s" and name_cell.value == "=1+1"
    # and a recalculating engine keeps it as text too
    import formulas

    sol = formulas.ExcelModel().loads(str(path)).finish().calculate()
    key = f"'[calc.xlsx]INPUTS'!{note.coordinate}"
    assert sol[key].value[0, 0] == evil


def test_assumptions_sheet(tmp_path, tiny):
    from openpyxl import load_workbook

    from cvm_kit.estimates import assumptions

    path = write_calculator(tiny, tmp_path / "calc.xlsx", customer="A1")
    ws = load_workbook(path)["Assumptions"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=4)]
    a = assumptions(tiny, customer="A1")
    # issue 10 item 9: another customer's assumed measurement (B3's) stays out of A1's calculator
    assert rows == a.astype(str).values.tolist()
    assert not any("B3" in str(c) for r in rows for c in r)
    # as on A1's page: no parity note of the other subsegment
    study_wide = assumptions(tiny)
    assert rows == study_wide[(study_wide["kind"] != "measurement")
                              & ~study_wide["assumption"].str.contains("parity for small")].astype(str).values.tolist()
    # A3 measured its own margin per hour: its calculator says so, as its page does
    ws3 = load_workbook(write_calculator(tiny, tmp_path / "calc3.xlsx", customer="A3"))["Assumptions"]
    assert ["constant", "Margin per hour",
            "= 100 (source: P&L review); this customer's own figure is used instead: 120 (data)"] in \
        [[c.value for c in r] for r in ws3.iter_rows(min_row=4)]
    assert ["element", "downtime", "Lost hours are not recovered."] in rows
    assert load_workbook(path).sheetnames == ["Inputs", "Elements", "Totals", "Assumptions"]


def test_excel_names():
    used: set[str] = set()
    assert excel_name("in", "Durée – coût (€)", used) == "in_duree_cout"
    assert excel_name("in", "DURÉE coût", used) == "in_duree_cout_2"
    assert excel_name("in", "!!!", used) == "in_x"
    long = excel_name("in", "a" * 300, used)
    assert long == "in_" + "a" * 60


def test_errors(tmp_path, tiny):
    with pytest.raises(CvmError, match="'Z9'"):
        write_calculator(tiny, tmp_path / "c.xlsx", customer="Z9")
    with pytest.raises(CvmError, match="not both"):
        write_calculator(tiny, tmp_path / "c.xlsx", customer="A1", subsegment="big")
    with pytest.raises(CvmError, match="no subsegment 'huge'"):
        write_calculator(tiny, tmp_path / "c.xlsx", subsegment="huge")
    assert not (tmp_path / "c.xlsx").exists()


def test_cli(tmp_path, tiny_path, capsys):
    from cvm_kit.cli import main

    out = tmp_path / "calc.xlsx"
    assert main(["calculator", str(tiny_path), "--customer", "A1", "-o", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert _cached(out)["tot_net_value"] == 1090
    assert main(["calculator", str(tiny_path), "--customer", "A1", "--subsegment", "big", "-o", str(out)]) == 1
    assert "not both" in capsys.readouterr().err
    assert main(["calculator", str(tiny_path), "--customer", "Q", "-o", str(out)]) == 1
    assert "error: customer 'Q'" in capsys.readouterr().err


def test_an_emptied_constant_takes_the_studys_figure_again(tmp_path, tiny):
    """Excel showed #N/A where cvm_kit's evaluate and the notebook calculator use the constant: one rule now."""
    import formulas

    from cvm_kit.calculator_widgets import calculate

    path = write_calculator(tiny, tmp_path / "a3.xlsx", customer="A3")  # A3's own margin: 120 (the constant: 100)
    sheet, cell = _names(path)["in_margin_per_hour"]
    row = "".join(ch for ch in cell if ch.isdigit())
    model = formulas.ExcelModel().loads(str(path)).finish()
    sol = model.calculate(inputs={f"'[{path.name}]{sheet.upper()}'!G{row}": ""})  # cleared (no number)
    downtime = float(sol[f"'[{path.name}]'!EL_DOWNTIME"].value[0, 0])
    assert downtime == pytest.approx((12 - 3) * 100)  # hours lost 12 and 3, the constant 100 again
    r = calculate(tiny, {"Margin per hour": float("nan"), "Hours lost, alternative": 12, "Hours lost, offering": 3},
                  subsegment="big").set_index("element_id")
    assert r.loc["downtime", "value"] == pytest.approx(900) and r.loc["downtime", "missing_inputs"] == ""


def test_a_placeholder_in_the_subsegment_is_listed_not_computed(tmp_path, tiny_copy):
    y = tiny_copy / "project.yaml"
    y.write_text(y.read_text().replace("    status_by_subsegment:\n      small: parity\n",
                                       "    status_by_subsegment:\n      small: placeholder\n"))
    s = load_study(tiny_copy)
    path = write_calculator(s, tmp_path / "b1.xlsx", customer="B1")
    assert "el_scrap" not in _names(path)  # no live formula for it (it recalculated to 1,000 in Excel)
    from openpyxl import load_workbook

    rows = [[c.value for c in r] for r in load_workbook(path)["Elements"].iter_rows()]
    assert any(r[0] == "scrap" and r[3] == "placeholder (not summed)" for r in rows)
