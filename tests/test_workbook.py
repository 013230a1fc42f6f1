"""Tests of the one-workbook form of a study (cvm_kit.workbook, save_study/load_study on .xlsx)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

import cvm_kit as cvm
from cvm_kit.validate import validate

MODEL_FIELDS = ["name", "offering", "segment", "next_best_alternative", "currency", "period", "subsegments",
                "constants", "derived", "price", "elements", "charter"]
HYPERLINK = '=HYPERLINK("http://evil.example","click")'


def assert_same_study(a, b) -> None:
    """Same model, same tables (up to file line numbers), same values and totals."""
    for f in MODEL_FIELDS:
        assert getattr(a, f) == getattr(b, f), f
    pd.testing.assert_frame_equal(a.customers.reset_index(drop=True), b.customers.reset_index(drop=True))
    cols = ["customer_id", "variable", "phrase", "value", "source", "reliability", "note"]
    pd.testing.assert_frame_equal(a.measurements[cols].reset_index(drop=True),
                                  b.measurements[cols].reset_index(drop=True))
    for name in ("prospects", "fieldwork", "realized"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            pd.testing.assert_frame_equal(x.drop(columns=["line"], errors="ignore").reset_index(drop=True),
                                          y.drop(columns=["line"], errors="ignore").reset_index(drop=True),
                                          obj=name)
    pd.testing.assert_frame_equal(cvm.element_values(a), cvm.element_values(b))
    pd.testing.assert_frame_equal(cvm.totals(a), cvm.totals(b))


@pytest.fixture
def book(tiny, tmp_path) -> Path:
    return cvm.save_study(tiny, tmp_path / "s.xlsx")


def test_folder_to_workbook_to_study_same_values(tiny, book):
    assert book.suffix == ".xlsx" and book.is_file()
    wb_study = cvm.load_study(book)
    assert_same_study(tiny, wb_study)
    v = cvm.element_values(wb_study)
    a3 = v[(v["customer_id"] == "A3") & (v["element_id"] == "downtime")]["value"].item()
    assert a3 == 1080.0
    t = cvm.totals(wb_study).set_index("customer_id")
    assert t.loc["A1", "net_value"] == 1090.0 and pd.isna(t.loc["B3", "net_value"])
    # the coverage warning survives the trip
    assert any("B3" in w.where and "kWh, offering" in w.message for w in wb_study.warnings)


def test_workbook_to_folder_round_trip(tiny, book, tmp_path):
    wb_study = cvm.load_study(book)
    folder = cvm.save_study(wb_study, tmp_path / "again")
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in tiny.path.iterdir())
    back = cvm.load_study(folder)
    assert_same_study(tiny, back)
    # and once more to a workbook: still the same study
    assert_same_study(tiny, cvm.load_study(cvm.save_study(back, tmp_path / "again.xlsx")))


def test_folder_to_folder_round_trip(tiny, tmp_path):
    assert_same_study(tiny, cvm.load_study(cvm.save_study(tiny, tmp_path / "copy")))


def test_workbook_sheets(book):
    from openpyxl import load_workbook

    wb = load_workbook(book)
    assert wb.sheetnames[:7] == ["project", "subsegments", "constants", "derived", "elements", "customers",
                                 "measurements"]
    assert {"prospects", "fieldwork", "realized"} <= set(wb.sheetnames)
    kv = {r[0]: r[1] for r in wb["project"].iter_rows(min_row=2, values_only=True)}
    assert kv["name"] == "Tiny test study" and kv["currency"] == "EUR"
    assert kv["price"] == "([Price, offering] - [Price, alternative]) * [Tonnes]"
    assert kv["charter.start"] == "2026-01-01"


def test_formula_like_note_stays_a_text_cell(tiny_copy, tmp_path):
    m = tiny_copy / "measurements.csv"
    escaped = HYPERLINK.replace('"', '""')
    m.write_text(m.read_text().replace("A1,Tonnes,50,data,high,", f'A1,Tonnes,50,data,high,"{escaped}"'))
    study = cvm.load_study(tiny_copy)
    book = cvm.save_study(study, tmp_path / "s.xlsx")

    from openpyxl import load_workbook

    ws = load_workbook(book)["measurements"]
    cells = [c for row in ws.iter_rows() for c in row if c.value == HYPERLINK]
    assert len(cells) == 1
    assert cells[0].data_type == "s"  # a string, never a formula
    back = cvm.load_study(book)
    assert HYPERLINK in set(back.measurements["note"])


def test_formula_like_text_in_every_sheet_stays_text(tiny, tmp_path):
    """Names, descriptions and assumptions that look like formulas are text cells too."""
    study = dataclasses.replace(
        tiny,
        name="=1+1",
        subsegments=(dataclasses.replace(tiny.subsegments[0], description="+SUM(A1:A9)"), tiny.subsegments[1]),
        elements=tuple(dataclasses.replace(e, assumptions=("@cmd",)) if e.id == "downtime" else e
                       for e in tiny.elements),
    )
    book = cvm.save_study(study, tmp_path / "s.xlsx")
    from openpyxl import load_workbook

    wb = load_workbook(book)
    formulas = [(ws.title, c.coordinate) for ws in wb for row in ws.iter_rows() for c in row if c.data_type == "f"]
    assert formulas == []
    back = cvm.load_study(book)
    assert back.name == "=1+1"
    assert back.subsegments[0].description == "+SUM(A1:A9)"
    assert back.element("downtime").assumptions == ("@cmd",)


def _edit_book(path: Path, fn) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(path)
    fn(wb)
    wb.save(path)


@pytest.mark.parametrize("sheet", ["project", "elements", "customers", "measurements", "subsegments"])
def test_missing_sheet_is_located(book, sheet):
    _edit_book(book, lambda wb: wb.remove(wb[sheet]))
    errs = validate(book).errors
    mine = [p for p in errs if p.where == f"sheet {sheet}"]
    assert len(mine) == 1, errs
    assert mine[0].file == "s.xlsx" and "missing sheet" in mine[0].message


def _find_row(ws, **match) -> int:
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        rec = dict(zip(header, (c.value for c in row)))
        if all(rec.get(k) == v for k, v in match.items()):
            return row[0].row
    raise AssertionError(f"test setup: no row {match}")


def _set_cell(wb, sheet: str, column: str, text: str, **match) -> int:
    ws = wb[sheet]
    header = [c.value for c in ws[1]]
    r = _find_row(ws, **match)
    ws.cell(r, header.index(column) + 1, text)
    return r


def test_bad_source_names_sheet_and_row(book):
    rows = []
    _edit_book(book, lambda wb: rows.append(_set_cell(wb, "measurements", "source", "guess",
                                                      customer_id="B1", variable="Energy price")))
    (p,) = validate(book).errors
    assert p.file == "s.xlsx[measurements]"
    assert p.where == f"line {rows[0]}, column source"  # the sheet row
    assert "'guess'" in p.message


def test_bad_value_names_sheet_and_row(book):
    rows = []
    _edit_book(book, lambda wb: rows.append(_set_cell(wb, "measurements", "value", "1,200",
                                                      customer_id="A2", variable="Tonnes")))
    (p,) = validate(book).errors
    assert p.file == "s.xlsx[measurements]"
    assert p.where.startswith(f"line {rows[0]}, column value")
    assert "'1,200'" in p.message and "thousands" in p.message


def test_unknown_subsegment_in_customers_sheet(book):
    def breakit(wb):
        ws = wb["customers"]
        r = _find_row(ws, customer_id="B1")
        ws.cell(r, 2, "smal")

    _edit_book(book, breakit)
    (p,) = validate(book).errors
    assert p.file == "s.xlsx[customers]"
    assert p.where == "line 5, column subsegment"  # sheet row 5
    assert "'smal'" in p.message


def test_bad_status_in_elements_sheet_names_sheet_and_row(book):
    def breakit(wb):
        ws = wb["elements"]
        r = _find_row(ws, id="service")
        ws.cell(r, 4, "contentious")

    _edit_book(book, breakit)
    (p,) = validate(book).errors
    assert "'contentious'" in p.message
    assert "elements" in p.file + p.where
    assert "row 4" in p.where


def test_not_a_workbook(tmp_path):
    bad = tmp_path / "s.xlsx"
    bad.write_bytes(b"not a zip file")
    (p,) = validate(bad).errors
    assert p.file == "s.xlsx" and "Excel workbook" in p.message


def test_save_workbook_is_whole_or_nothing(tiny, tmp_path, monkeypatch):
    """A failure while writing leaves the previous workbook untouched and no temporary file."""
    from cvm_kit.study import write as workbook  # save_study's workbook writer

    target = tmp_path / "s.xlsx"
    cvm.save_study(tiny, target)
    before = target.read_bytes()

    def boom(study, path):
        Path(path).write_bytes(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(workbook, "write_study_workbook", boom)
    with pytest.raises(RuntimeError):
        cvm.save_study(tiny, target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.xlsx"]


def test_a_note_keeps_its_spacing_through_a_workbook(tiny_copy, tmp_path):
    """A note starting with a tab (or ending in spaces) made `cvm convert` refuse: the workbook reader stripped it."""
    from cvm_kit.cli import main

    m = tiny_copy / "measurements.csv"
    m.write_text(m.read_text().replace("A1,Tonnes,50,data,high,", 'A1,Tonnes,50,data,high,"\tindented note  "'))
    assert main(["convert", str(tiny_copy), str(tmp_path / "s.xlsx")]) == 0
    back = cvm.load_study(tmp_path / "s.xlsx")
    assert "\tindented note  " in set(back.measurements["note"])
