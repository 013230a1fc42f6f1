"""Data-gathering worksheets: write, fill, read back, plan and apply the import.

Expected figures are worked by hand from tests/data/tiny (see the brief in
tests/data/tiny/project.yaml): e.g. after the import, A1's price difference is
(12 - 10) * 60 = 120 and its net value 660 + 60 + 150 + 400 - 120 = 1150.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cvm_kit.errors import CvmError, StudyError
from cvm_kit.study import load_study
from cvm_kit.worksheets import (
    COLUMNS,
    SHEET,
    apply_import,
    plan_import,
    read_worksheets,
    worksheet_rows,
    write_worksheets,
)

HEADER_ROW = 10  # the table header row of a worksheet (header block rows 2-8)
COL = {name: chr(ord("A") + i) for i, name in enumerate(COLUMNS)}  # phrase -> A ... note -> I


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _fill(path: Path, entries: dict[str, tuple], out: Path | None = None) -> Path:
    """Fill rows of a worksheet: phrase -> (value, source, reliability, note)."""
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb[SHEET]
    rows = {ws[f"A{r}"].value: r for r in range(HEADER_ROW + 1, ws.max_row + 1)}
    for phrase, vals in entries.items():
        r = rows[phrase]
        for name, v in zip(("value", "source", "reliability", "note"), vals):
            ws[f"{COL[name]}{r}"] = v
    out = out or path
    wb.save(out)
    return out


def _edit(path: Path, cell: str, value, sheet: str = SHEET) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(path)
    wb[sheet][cell] = value
    wb.save(path)


@pytest.fixture
def study(tiny_copy: Path):
    return load_study(tiny_copy)


# ---------------------------------------------------------------------------
# writing


def test_rows_list_needed_inputs_only(tiny):
    a1 = worksheet_rows(tiny, "A1")
    assert list(a1["phrase"]) == [
        "Hours lost, alternative", "Hours lost, offering", "Price, offering", "Price, alternative", "Tonnes",
        "kWh, alternative", "kWh, offering", "Energy price", "Service calls avoided", "Scrap tonnes avoided",
        "Margin per hour", "Call cost",
    ]
    assert list(a1["constant"]) == [False] * 10 + [True] * 2
    # repeated rows 9 and 11 -> mean 10; constants have no value of A1's own
    on_file = dict(zip(a1["phrase"], a1["value_on_file"]))
    assert on_file["Hours lost, alternative"] == 10
    assert np.isnan(on_file["Margin per hour"])
    # scrap is parity for the small subsegment: B3 is not asked for it; kWh, offering is missing
    b3 = worksheet_rows(tiny, "B3")
    assert "Scrap tonnes avoided" not in set(b3["phrase"])
    assert np.isnan(dict(zip(b3["phrase"], b3["value_on_file"]))["kWh, offering"])
    # A3 overrides the margin constant: its own 120 is on file
    a3 = worksheet_rows(tiny, "A3")
    assert dict(zip(a3["phrase"], a3["value_on_file"]))["Margin per hour"] == 120
    used = dict(zip(a1["phrase"], a1["used_by"]))
    assert used["Hours lost, offering"] == "downtime (Less downtime)"
    assert used["Tonnes"] == "price difference"
    units = dict(zip(a1["phrase"], a1["unit_hint"]))
    assert units["Hours lost, offering"] == "hours" and units["Margin per hour"] == "EUR per hour"
    assert units["kWh, offering"] == "kWh"


def test_written_workbook_layout(tmp_path, tiny):
    from openpyxl import load_workbook

    paths = write_worksheets(tiny, tmp_path / "ws")
    assert [p.name for p in paths] == [f"{c}_inputs.xlsx" for c in ("A1", "A2", "A3", "B1", "B2", "B3")]
    wb = load_workbook(paths[0])
    assert wb.sheetnames == [SHEET]
    ws = wb[SHEET]
    assert ws["A3"].value == "Customer" and ws["B3"].value == "A1"
    assert ws["B4"].value == "big: Big plants"
    assert ws["B6"].value == "Alternative Y"
    assert [ws.cell(row=HEADER_ROW, column=j).value for j in range(1, len(COLUMNS) + 1)] == list(COLUMNS)
    assert ws["A11"].value == "Hours lost, alternative" and ws["D11"].value == 10
    # drop-downs on source and reliability over the 12 data rows
    lists = {dv.formula1: str(dv.sqref) for dv in ws.data_validations.dataValidation if dv.type == "list"}
    assert lists['"data,estimate,perception,assumption"'] == "G11:G22"
    assert lists['"high,medium,low"'] == "H11:H22"
    # structure locked, fill cells editable, phrases not
    assert ws.protection.sheet and wb.security.lockStructure
    assert ws["A11"].protection.locked
    assert not any(ws[f"{COL[c]}11"].protection.locked for c in ("value", "source", "reliability", "note"))
    # B3's sheet says its subsegment's own alternative
    b3 = load_workbook(paths[-1])[SHEET]
    assert b3["B6"].value == "Do nothing"


def test_study_text_starting_with_equals_stays_text(tmp_path, tiny_copy):
    from openpyxl import load_workbook

    y = tiny_copy / "project.yaml"
    y.write_text(y.read_text().replace("name: Tiny test study", "name: Internal study name")
                 .replace("segment: Test segment", "segment: '=HYPERLINK(\"http://x\",\"y\")'"))
    s = load_study(tiny_copy)
    [p] = write_worksheets(s, tmp_path / "ws", customers=["A1"])
    ws = load_workbook(p)[SHEET]
    cell = ws["B2"]
    assert cell.data_type == "s" and cell.value == '=HYPERLINK("http://x","y")'
    # the study's name (which may be internal) is neither in the file nor in its name
    assert p.name == "A1_inputs.xlsx"
    assert not any("Internal study name" in str(c.value) for row in ws.iter_rows() for c in row)


def test_unknown_customer_to_write(tmp_path, tiny):
    with pytest.raises(CvmError, match="'Z9'"):
        write_worksheets(tiny, tmp_path, customers=["Z9"])
    assert not tmp_path.joinpath("Z9_inputs.xlsx").exists()


# ---------------------------------------------------------------------------
# round trip


@pytest.fixture
def filled(tmp_path, study):
    """Three filled workbooks: A1, a second A1 disagreeing on energy price, B3."""
    a1, b3 = write_worksheets(study, tmp_path / "ws", customers=["A1", "B3"])
    second = tmp_path / "ws" / "second_A1.xlsx"
    shutil.copy(a1, second)
    _fill(a1, {
        "Tonnes": (60, "data", "high", "ERP 2026"),                 # on file 50 -> conflict / changed
        "Hours lost, alternative": (10, "data", "", ""),            # mean of 9 and 11 on file -> unchanged
        "Energy price": (0.3, "estimate", "medium", ""),            # the second workbook says 0.25
        "Margin per hour": (110, "data", "high", "own P&L 2026"),   # overrides the constant -> added
    })
    _fill(second, {"Energy price": (0.25, "Estimate", "low", "")})
    _fill(b3, {
        "kWh, offering": (300, "data", "high", '=HYPERLINK("http://x","y")'),  # missing on file -> added
        "Hours lost, offering": ("5", "data", "", ""),                          # same as on file; text digits ok
    })
    return {"a1": a1, "second": second, "b3": b3}


def test_read_back(study, filled):
    rows = read_worksheets(study, [filled["a1"], filled["b3"]])
    got = {(r.customer_id, r.variable): r.value for r in rows.itertuples()}
    assert got == {("A1", "Hours lost, alternative"): 10, ("A1", "Tonnes"): 60, ("A1", "Energy price"): 0.3,
                   ("A1", "Margin per hour"): 110, ("B3", "Hours lost, offering"): 5, ("B3", "kWh, offering"): 300}
    b3 = rows[rows["variable"] == "kWh, offering"].iloc[0]
    assert (b3.source, b3.reliability, b3.note) == ("data", "high", '=HYPERLINK("http://x","y")')
    assert b3["where"].endswith("sheet inputs, cell F17")


def test_plan_actions(study, filled):
    rows = read_worksheets(study, filled.values())
    plan = plan_import(study, rows)
    got = {(r.customer_id, r.variable): r.action for r in plan.itertuples()}
    assert got == {
        ("A1", "Tonnes"): "conflict",
        ("A1", "Hours lost, alternative"): "unchanged",
        ("A1", "Energy price"): "conflict",
        ("A1", "Margin per hour"): "added",
        ("B3", "kWh, offering"): "added",
        ("B3", "Hours lost, offering"): "unchanged",
    }
    detail = dict(zip(plan["variable"], plan["detail"]))
    assert "filled values disagree" in detail["Energy price"] and "0.25" in detail["Energy price"]
    assert "differs from 50 on file" in detail["Tonnes"] and "--replace" in detail["Tonnes"]
    on_file = dict(zip(plan["variable"], plan["on_file"]))
    assert on_file["Tonnes"] == 50 and on_file["Hours lost, alternative"] == 10 and np.isnan(on_file["kWh, offering"])
    # --replace turns a difference from the file into a change, but never settles two workbooks
    plan_r = plan_import(study, rows, replace=True)
    got_r = dict(zip(plan_r["variable"], plan_r["action"]))
    assert got_r["Tonnes"] == "changed" and got_r["Energy price"] == "conflict"


def test_conflicts_block_write(study, filled, tiny_copy):
    before = _snapshot(tiny_copy)
    plan = plan_import(study, read_worksheets(study, filled.values()), replace=True)
    assert apply_import(study, plan) is None  # not asked: nothing happens
    with pytest.raises(CvmError, match=r"1 conflict\(s\); nothing written[\s\S]*Energy price"):
        apply_import(study, plan, write=True)
    assert _snapshot(tiny_copy) == before


def test_write_keeps_backup_and_new_csv_loads(study, filled, tiny_copy):
    old = (tiny_copy / "measurements.csv").read_bytes()
    plan = plan_import(study, read_worksheets(study, [filled["a1"], filled["b3"]]), replace=True)
    assert sorted(plan["action"]) == ["added", "added", "changed", "changed", "unchanged", "unchanged"]
    out = apply_import(study, plan, write=True)
    assert out == tiny_copy / "measurements.csv"
    [backup] = list(tiny_copy.glob("measurements.*.bak.csv"))
    assert backup.read_bytes() == old
    assert len(backup.name) == len("measurements.20260101-120000.bak.csv")
    new = load_study(tiny_copy)
    m = new.measurements
    a1 = m[m["customer_id"] == "A1"]
    assert list(a1.loc[a1["phrase"] == "tonnes", "value"]) == [60]      # replaced, one row
    assert list(a1.loc[a1["phrase"] == "energy price", "value"]) == [0.3]
    assert sorted(a1.loc[a1["phrase"] == "hours lost, alternative", "value"]) == [9, 11]  # untouched
    assert len(m) == len(study.measurements) + 2  # two added, two replaced one for one
    b3 = m[(m["customer_id"] == "B3") & (m["phrase"] == "kwh, offering")].iloc[0]
    assert b3["value"] == 300 and b3["source"] == "data"
    assert b3["note"] == "=HYPERLINK(\"http://x\",\"y\")"  # study data kept exactly (guarding is for exports)
    from cvm_kit.values import totals

    t = totals(new).set_index("customer_id")
    # A1: downtime (10-4)*110=660, energy (1000-800)*0.3=60, service 150, scrap 400; price (12-10)*60=120
    assert t.loc["A1", "net_value"] == pytest.approx(1150)
    assert t.loc["A1", "price_difference"] == pytest.approx(120)
    # B3: downtime 200, energy (350-300)*0.2=10, service 200, scrap parity; price 10
    assert t.loc["B3", "net_value"] == pytest.approx(400)
    # importing again changes nothing: everything is now unchanged
    again = plan_import(new, read_worksheets(new, [filled["a1"], filled["b3"]]))
    assert set(again["action"]) == {"unchanged"}
    assert apply_import(new, again, write=True) is None
    assert len(list(tiny_copy.glob("measurements.*.bak.csv"))) == 1


def test_stale_plan_is_refused(study, filled, tiny_copy):
    plan = plan_import(study, read_worksheets(study, [filled["b3"]]))
    with open(tiny_copy / "measurements.csv", "a") as fh:
        fh.write("B3,Tonnes,11,data,,\n")
    before = _snapshot(tiny_copy)
    with pytest.raises(CvmError, match="changed since"):
        apply_import(study, plan, write=True)
    assert _snapshot(tiny_copy) == before


def test_workbook_study_cannot_be_written(tmp_path, study, filled):
    from cvm_kit.study import save_study

    wbk = load_study(save_study(study, tmp_path / "tiny.xlsx"))
    plan = plan_import(wbk, read_worksheets(wbk, [filled["b3"]]))
    assert sorted(plan["action"]) == ["added", "unchanged"]
    with pytest.raises(CvmError, match="only a study folder can be written"):
        apply_import(wbk, plan, write=True)


# ---------------------------------------------------------------------------
# bad worksheets


@pytest.fixture
def bad(tmp_path, study):
    folder = tmp_path / "bad"
    p = {c: path for c, path in zip(("A1", "A2", "A3", "B1", "B2"),
                                    write_worksheets(study, folder, customers=["A1", "A2", "A3", "B1", "B2"]))}
    from openpyxl import load_workbook

    wb = load_workbook(p["A1"])
    wb[SHEET].title = "Sheet1"
    wb.save(p["A1"])
    _edit(p["A2"], f"{COL['value']}{HEADER_ROW}", "amount")                 # renamed column
    _fill(p["A3"], {"Tonnes": ("about 40", "data", "", ""),                 # text in a number cell
                    "Energy price": ("1,200", "guess", "", "")})           # separators, bad source word
    _edit(p["B1"], "B3", "Z9")                                               # unknown customer
    _fill(p["B2"], {"Tonnes": (12, "data", "sure", "")})                    # bad reliability
    _edit(p["B2"], "A13", "Tonnage")                                         # unknown phrase (row of Price, offering)
    return p


def test_bad_worksheets_all_reported_at_once(study, bad, tiny_copy, capsys):
    from cvm_kit.cli import main

    before = _snapshot(tiny_copy)
    assert main(["import", str(tiny_copy), *map(str, bad.values()), "--write", "--replace"]) == 1
    assert "8 problem(s)" in capsys.readouterr().err
    assert _snapshot(tiny_copy) == before
    with pytest.raises(StudyError) as info:
        read_worksheets(study, bad.values())
    problems = {(p.file, p.where): p.message for p in info.value.problems}
    f = {c: path.name for c, path in bad.items()}
    assert problems[(f["A1"], "sheet 'inputs'")].startswith("no sheet named 'inputs'; found: 'Sheet1'")
    msg = problems[(f["A2"], f"sheet inputs, row {HEADER_ROW}")]
    assert "missing column(s) 'value'" in msg and f"F{HEADER_ROW} 'amount'" in msg
    assert problems[(f["A3"], "sheet inputs, cell F15 ([Tonnes])")] == "'about 40' is text; expected a plain number"
    assert "without thousands separators" in problems[(f["A3"], "sheet inputs, cell F18 ([Energy price])")]
    assert problems[(f["B1"], "sheet inputs, cell B3")].startswith("unknown customer 'Z9'")
    assert "'sure'; expected one of high, medium, low" in problems[(f["B2"], "sheet inputs, cell H15 ([Tonnes])")]
    assert problems[(f["B2"], "sheet inputs, cell A13")].startswith("unknown phrase [Tonnage]")
    assert "'guess' is not a source word" in problems[(f["A3"], "sheet inputs, cell G18 ([Energy price])")]
    assert len(info.value.problems) == 8
    text = str(info.value)
    assert f["A1"] in text and "cell F15" in text


def test_bad_source_word(tmp_path, study):
    [p] = write_worksheets(study, tmp_path, customers=["A1"])
    _fill(p, {"Tonnes": (40, "guess", "", ""), "Energy price": (0.2, None, "", "")})
    with pytest.raises(StudyError) as info:
        read_worksheets(study, [p])
    msgs = [p.message for p in info.value.problems]
    assert msgs == ["'guess' is not a source word; expected one of data, estimate, perception, assumption",
                    "empty source; expected one of data, estimate, perception, assumption"]


def test_not_a_workbook(tmp_path, study):
    junk = tmp_path / "junk.xlsx"
    junk.write_text("not a zip")
    with pytest.raises(StudyError, match="junk.xlsx: cannot be opened as an Excel workbook"):
        read_worksheets(study, [junk, tmp_path / "absent.xlsx"])


# ---------------------------------------------------------------------------
# CLI


def test_cli_round_trip(tmp_path, tiny_copy, capsys):
    from cvm_kit.cli import main

    out = tmp_path / "ws"
    assert main(["worksheet", str(tiny_copy), "--customer", "A1", "--customer", "B3", "--out", str(out)]) == 0
    a1, b3 = out / "A1_inputs.xlsx", out / "B3_inputs.xlsx"
    assert f"wrote {a1}" in capsys.readouterr().out
    _fill(a1, {"Tonnes": (60, "data", "", "")})
    _fill(b3, {"kWh, offering": (300, "data", "", "")})
    before = _snapshot(tiny_copy)

    assert main(["import", str(tiny_copy), str(a1), str(b3)]) == 0
    cap = capsys.readouterr()
    assert "1 added, 0 changed, 0 unchanged, 1 conflict" in cap.out
    assert "nothing written" in cap.err
    assert main(["import", str(tiny_copy), str(a1), str(b3), "--write"]) == 1
    assert "1 conflict(s)" in capsys.readouterr().err
    assert _snapshot(tiny_copy) == before

    assert main(["import", str(tiny_copy), str(a1), str(b3), "--write", "--replace"]) == 0
    cap = capsys.readouterr()
    assert "1 added, 1 changed" in cap.out and "previous kept as measurements." in cap.err
    new = load_study(tiny_copy)
    m = new.measurements
    assert list(m.loc[(m["customer_id"] == "A1") & (m["phrase"] == "tonnes"), "value"]) == [60]


def test_cli_bad_worksheet_changes_nothing(tmp_path, tiny_copy, capsys):
    from cvm_kit.cli import main

    [p] = write_worksheets(load_study(tiny_copy), tmp_path, customers=["A1"])
    _fill(p, {"Tonnes": ("lots", "data", "", "")})
    before = _snapshot(tiny_copy)
    assert main(["import", str(tiny_copy), str(p), "--write"]) == 1
    err = capsys.readouterr().err
    assert "A1_inputs.xlsx: sheet inputs, cell F15 ([Tonnes]): 'lots' is text" in err
    assert _snapshot(tiny_copy) == before


def test_plan_frame_columns(study):
    plan = plan_import(study, pd.DataFrame(columns=["customer_id", "variable", "phrase", "value", "source",
                                                    "reliability", "note", "file", "where"]))
    assert list(plan.columns) == ["customer_id", "variable", "on_file", "new_value", "action", "detail", "source",
                                  "reliability", "note", "where"]
    assert len(plan) == 0


def test_write_into_a_semicolon_file_with_decimal_commas(tmp_path, tiny_copy):
    """Excel in Germany or France saves ';' and '0,2': the import writes the file back the same way."""
    import pandas as pd

    path = tiny_copy / "measurements.csv"
    m = pd.read_csv(path, dtype=str, keep_default_na=False)
    m["value"] = m["value"].str.replace(".", ",", regex=False)
    m.to_csv(path, sep=";", index=False)
    s = load_study(tiny_copy)
    before = len(s.measurements)
    [a1] = write_worksheets(s, tmp_path / "ws", customers=["A1"])
    _fill(a1, {"Energy price": (0.35, "estimate", "medium", ""), "Tonnes": (55, "data", "", "")})
    plan = plan_import(s, read_worksheets(s, [a1]), replace=True)
    apply_import(s, plan, write=True)  # was: "cannot be read again: Expected 1 fields in line 3, saw 3"
    text = path.read_text()
    assert text.splitlines()[0] == "customer_id;variable;value;source;reliability;note"
    assert "A1;Energy price;0,35;estimate;medium;" in text and "A1;Tonnes;55;data;;" in text
    new = load_study(tiny_copy)
    a = new.measurements[new.measurements["customer_id"] == "A1"].set_index("phrase")["value"]
    assert (a["energy price"], a["tonnes"]) == (0.35, 55) and len(new.measurements) == before


def test_write_into_a_semicolon_file_of_whole_numbers(tmp_path, tiny_copy):
    """'3.125' in a ';' file of whole numbers reads as 3125-or-3.125 (refused); '1,5e+16' is no number there."""
    import pandas as pd

    path = tiny_copy / "measurements.csv"
    m = pd.read_csv(path, dtype=str, keep_default_na=False)
    m.loc[m["value"].str.contains(r"\."), "value"] = "1"  # whole numbers only (the energy prices 0.2 ... made 1)
    m.to_csv(path, sep=";", index=False)
    s = load_study(tiny_copy)
    [a1] = write_worksheets(s, tmp_path / "ws", customers=["A1"])
    _fill(a1, {"Energy price": (0.125, "estimate", "", ""), "Tonnes": (1.5e16, "data", "", "")})
    apply_import(s, plan_import(s, read_worksheets(s, [a1]), replace=True), write=True)
    text = path.read_text()
    assert "A1;Energy price;0,125;estimate;;" in text and "A1;Tonnes;15000000000000000;data;;" in text
    a = load_study(tiny_copy).measurements.set_index(["customer_id", "phrase"])["value"]
    assert (a[("A1", "energy price")], a[("A1", "tonnes")]) == (0.125, 1.5e16)
