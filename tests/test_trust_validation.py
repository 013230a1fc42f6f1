"""Issue 10 (trust), validation items: each bad input gets one located error.

Items 2 (duplicate YAML keys), 3 (numbers typed as text in customers.csv and
prospects.csv), 4 (non-finite numbers in project.yaml), 16 (alias bombs,
deep nesting, long derived chains), 18 (control characters in ids and
names), 21 (semicolon CSV with decimal commas, a workbook where a CSV
belongs), 22 (one duplicate customer id, one error), 23 (a declined invitee
in fieldwork.csv), 24 (``cvm.validate`` stays the function), 25 (lookup
errors are CvmErrors). Every study is a copy of ``tests/data/tiny`` changed
in one place; figures are the tiny study's hand-worked ones.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cvm_kit.errors as errors_mod
from cvm_kit.errors import CvmError, Problem
from cvm_kit.study import load_study
from cvm_kit.validate import validate

ROOT = Path(__file__).resolve().parents[1]
#: Hand-worked net values of the tiny study (tests/test_values.py); B3 lacks an input.
TINY_NET = {"A1": 1090.0, "A2": 500.0, "A3": 1630.0, "B1": 150.0, "B2": 315.0}


def edit(folder: Path, name: str, old: str, new: str, count: int = 1) -> None:
    p = folder / name
    text = p.read_text(encoding="utf-8")
    assert old in text, f"test setup: {old!r} not in {name}"
    p.write_text(text.replace(old, new, count), encoding="utf-8")


def line_of(folder: Path, name: str, needle: str, nth: int = 1) -> int:
    hits = [i for i, ln in enumerate((folder / name).read_text(encoding="utf-8").splitlines(), 1) if needle in ln]
    assert len(hits) >= nth, f"test setup: {needle!r} not {nth} times in {name}"
    return hits[nth - 1]


def only_error(folder: Path) -> Problem:
    errs = validate(folder).errors
    assert len(errs) == 1, "\n".join(map(str, errs))
    return errs[0]


def net_values(study) -> dict[str, float]:
    from cvm_kit.values import totals

    t = totals(study).set_index("customer_id")["net_value"]
    return {k: float(v) for k, v in t.items() if not np.isnan(v)}


def run_cli(*args: str, timeout: float = 120, memory: int | None = None) -> subprocess.CompletedProcess:
    """``cvm`` in a fresh process; ``memory`` caps its address space (bytes)."""
    pre = None
    if memory is not None:
        import resource

        def pre() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    code = "import sys; from cvm_kit.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, preexec_fn=pre)


# ---------------------------------------------------------------------------
# item 2: duplicate keys in project.yaml


def test_duplicate_value_under_a_constant_names_key_and_both_lines(tiny_copy):
    edit(tiny_copy, "project.yaml", "    value: 100\n", "    value: 100\n    value: 1000\n")
    first = line_of(tiny_copy, "project.yaml", "value: 100")
    p = only_error(tiny_copy)
    assert p.file == "project.yaml"
    assert p.where == f"constants[0].value (name=Margin per hour), line {first + 1}"
    assert f"lines {first} and {first + 1}" in p.message and "'value' appears twice" in p.message


def test_duplicate_equation_under_an_element(tiny_copy):
    eq = '    equation: "[Scrap tonnes avoided] * 200"\n'
    edit(tiny_copy, "project.yaml", eq, eq + '    equation: "[Scrap tonnes avoided] * 2000"\n')
    first = line_of(tiny_copy, "project.yaml", "[Scrap tonnes avoided] * 200\"")
    p = only_error(tiny_copy)
    assert p.where.startswith("elements[4].equation (id=scrap)")
    assert f"lines {first} and {first + 1}" in p.message and "'equation'" in p.message


def test_duplicate_top_level_key(tiny_copy):
    edit(tiny_copy, "project.yaml", "currency: EUR\n", "currency: EUR\ncurrency: USD\n")
    first = line_of(tiny_copy, "project.yaml", "currency: EUR")
    p = only_error(tiny_copy)
    assert p.where == f"currency, line {first + 1}"
    assert f"lines {first} and {first + 1}" in p.message


def test_duplicate_key_in_the_workbook_project_sheet(tiny_path, tmp_path):
    from openpyxl import load_workbook

    from cvm_kit.study import save_study

    book = save_study(load_study(tiny_path), tmp_path / "s.xlsx")
    wb = load_workbook(book)
    wb["project"].append(["currency", "USD"])
    row = wb["project"].max_row
    wb.save(book)
    p = only_error(book)
    assert p.file == "s.xlsx[project]" and p.where == "key currency"
    assert f"rows 6 and {row}" in p.message


def test_duplicate_column_in_a_workbook_model_sheet(tiny_path, tmp_path):
    from openpyxl import load_workbook

    from cvm_kit.study import save_study

    book = save_study(load_study(tiny_path), tmp_path / "s.xlsx")
    wb = load_workbook(book)
    ws = wb["constants"]
    ws.cell(row=1, column=ws.max_column + 1, value="value")
    wb.save(book)
    p = only_error(book)
    assert (p.file, p.where) == ("s.xlsx[constants]", "header") and "value appear more than once" in p.message


def test_a_workbook_table_with_a_repeated_or_unnamed_column(tiny_path, tmp_path):
    from openpyxl import load_workbook

    from cvm_kit.study import save_study

    book = save_study(load_study(tiny_path), tmp_path / "s.xlsx")
    wb = load_workbook(book)
    ws = wb["measurements"]
    col = ws.max_column + 1
    ws.cell(row=1, column=col, value="value")  # was a traceback
    wb.save(book)
    p = only_error(book)
    assert (p.file, p.where) == ("s.xlsx[measurements]", "header") and "value appear more than once" in p.message
    book = save_study(load_study(tiny_path), tmp_path / "t.xlsx")
    wb = load_workbook(book)
    wb["measurements"].cell(row=3, column=col + 2, value=42)  # right of the table, under no name: was dropped
    wb.save(book)
    p = only_error(book)
    from openpyxl.utils import get_column_letter

    assert p.where == f"column {get_column_letter(col + 2)}" and "has values but no header" in p.message


# ---------------------------------------------------------------------------
# item 3: a numeric characteristic typed as text


def test_thousands_separator_in_a_characteristic_is_located(tiny_copy):
    edit(tiny_copy, "customers.csv", "A3,big,100,north", 'A3,big,"6,130",north')
    p = only_error(tiny_copy)
    assert (p.file, p.where) == ("customers.csv", "line 4, column size")
    assert "'6,130'" in p.message and "thousands separator" in p.message and "(6130)" in p.message


def test_unit_in_a_characteristic_is_located(tiny_copy):
    edit(tiny_copy, "customers.csv", "B1,small,20,south", "B1,small,12 t,south")
    p = only_error(tiny_copy)
    assert (p.file, p.where) == ("customers.csv", "line 5, column size")
    assert "'12 t' is not a number" in p.message and "column size is numeric" in p.message


def test_na_is_a_missing_number_with_a_warning_and_the_column_stays_numeric(tiny_copy):
    edit(tiny_copy, "customers.csv", "A2,big,30,south", "A2,big,n/a,south")
    report = validate(tiny_copy)
    assert report.ok, report.errors
    [w] = [p for p in report.warnings if p.file == "customers.csv"]
    assert w.where == "column size" and "line 3 ('n/a')" in w.message
    size = report.study.customers.set_index("customer_id")["size"]
    assert size.dtype == float and np.isnan(size["A2"]) and size["A3"] == 100.0

    # segments sees a numeric driver: R² of net value on size over the customers with both (A1, A3, B1, B2)
    from cvm_kit.segments import drivers

    d = drivers(report.study).set_index(["element_id", "characteristic"])
    row = d.loc[("net_value", "size")]
    assert row["kind"] == "numeric" and row["n"] == 4
    x = np.array([50.0, 100.0, 20.0, 10.0])
    y = np.array([TINY_NET[c] for c in ("A1", "A3", "B1", "B2")])
    assert row["r_squared"] == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2, rel=1e-9)


def test_prospects_numbers_typed_as_text(tiny_copy):
    edit(tiny_copy, "prospects.csv", "P1,big,80,north", 'P1,big,"1,080",north')
    p = only_error(tiny_copy)
    assert (p.file, p.where) == ("prospects.csv", "line 2, column size")
    assert "thousands separator" in p.message and "(1080)" in p.message


def test_prospects_na_stays_numeric_and_is_not_scored(tiny_copy):
    edit(tiny_copy, "prospects.csv", "P2,small,15,south", "P2,small,NA,south")
    study = load_study(tiny_copy)
    assert study.prospects["size"].dtype == float
    from cvm_kit.prospects import score_prospects

    s = score_prospects(study, characteristics=["size"]).set_index("prospect_id")
    # P1 (size 80): OLS of net value on size over A1, A2, A3, B1, B2, evaluated at 80
    x = np.array([50.0, 30.0, 100.0, 20.0, 10.0])
    y = np.array([TINY_NET[c] for c in ("A1", "A2", "A3", "B1", "B2")])
    slope, icept = np.polyfit(x, y, 1)
    assert s.loc["P1", "predicted_net_value"] == pytest.approx(icept + slope * 80, rel=1e-9)
    assert np.isnan(s.loc["P2", "predicted_net_value"]) and "size missing" in s.loc["P2", "note"]


def test_a_category_column_stays_a_category(tiny_copy):
    study = load_study(tiny_copy)
    assert not pd.api.types.is_numeric_dtype(study.customers["region"]) and study.customers["size"].dtype == float


def test_ids_that_look_like_numbers_are_read_as_written(tiny_copy):
    # pandas 3 reads a category column of numbers as numbers: 001 and 1 would merge, 2 would become 2.0
    ids = {"A1": "001", "A2": "1", "A3": "1.0", "B1": "2", "B2": "TRUE", "B3": "1e3"}
    for name in ("customers.csv", "measurements.csv", "fieldwork.csv", "realized.csv"):
        p = tiny_copy / name
        lines = p.read_text(encoding="utf-8").splitlines()
        out = [lines[0]]
        for ln in lines[1:]:
            first, sep, rest = ln.partition(",")
            out.append(ids.get(first, first) + sep + rest)
        p.write_text("\n".join(out) + "\n", encoding="utf-8")
    study = load_study(tiny_copy)
    assert list(study.customers["customer_id"]) == list(ids.values())
    assert net_values(study) == pytest.approx({ids[k]: v for k, v in TINY_NET.items()})
    assert validate(tiny_copy).errors == []


# ---------------------------------------------------------------------------
# item 4: non-finite numbers in project.yaml


@pytest.mark.parametrize("text", [".nan", ".inf", "-.Inf", "1e400", "nan"])
def test_non_finite_constant_is_located(tiny_copy, text):
    edit(tiny_copy, "project.yaml", "    value: 100\n", f"    value: {text}\n")
    line = line_of(tiny_copy, "project.yaml", f"value: {text}")
    p = only_error(tiny_copy)
    assert p.file == "project.yaml"
    assert p.where == f"constants[0].value (name=Margin per hour), line {line}"
    assert "not a finite number" in p.message


def test_non_finite_perceived_range_is_located(tiny_copy):
    edit(tiny_copy, "project.yaml", "perceived_range: [1000, 5000]", "perceived_range: [1000, .inf]")
    line = line_of(tiny_copy, "project.yaml", "perceived_range")
    p = only_error(tiny_copy)
    assert p.where == f"elements[5].perceived_range[1] (id=brand), line {line}"
    assert ".inf is not a finite number" in p.message


# ---------------------------------------------------------------------------
# item 16: alias bombs, deep nesting, long chains


def _bomb(folder: Path, old: str, new: str) -> None:
    lines = ['x0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"x{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    text = (folder / "project.yaml").read_text(encoding="utf-8")
    assert old in text
    (folder / "project.yaml").write_text("\n".join(lines) + "\n" + text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("old, new, where", [
    ("    status: parity\n", "    status: *a8\n", "elements[3].status (id=safety)"),
    ("      small: parity\n", "      small: *a8\n", "elements[4].status_by_subsegment.small (id=scrap)"),
])
def test_alias_bomb_is_one_located_error(tiny_copy, old, new, where):
    _bomb(tiny_copy, old, new)
    line = line_of(tiny_copy, "project.yaml", new.strip())
    errs = validate(tiny_copy).errors
    bomb = [p for p in errs if "alias" in p.message]
    assert len(bomb) == 1 and bomb[0].where == f"{where}, line {line}"
    assert "expand" in bomb[0].message


def test_alias_bomb_in_the_cli_exits_1_with_bounded_memory(tiny_copy):
    _bomb(tiny_copy, "    status: parity\n", "    status: *a8\n")
    proc = run_cli("validate", str(tiny_copy), timeout=60, memory=1_500_000_000)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "elements[3].status (id=safety)" in proc.stderr and "alias" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_moderate_aliases_are_fine(tiny_copy):
    edit(tiny_copy, "project.yaml", "    assumptions:\n      - Lost hours are not recovered.\n",
         "    assumptions: &same\n      - Lost hours are not recovered.\n")
    edit(tiny_copy, "project.yaml", "    status_by_subsegment:\n      small: parity\n",
         "    status_by_subsegment:\n      small: parity\n    assumptions: *same\n")
    study = load_study(tiny_copy)
    assert study.element("scrap").assumptions == ("Lost hours are not recovered.",)


def test_yaml_nested_20000_deep_is_located(tiny_copy):
    edit(tiny_copy, "project.yaml", "sponsor: Test sponsor", "sponsor: " + "[" * 20000 + "]" * 20000)
    line = line_of(tiny_copy, "project.yaml", "sponsor:")
    p = only_error(tiny_copy)
    assert p.file == "project.yaml" and p.where.startswith(f"line {line}, column")
    assert "nested more than 64 levels" in p.message


def test_a_chain_of_1000_derived_quantities_loads_with_the_same_values(tiny_copy):
    import yaml

    p = yaml.safe_load((tiny_copy / "project.yaml").read_text(encoding="utf-8"))
    n = 1000
    p["derived"] = ([{"name": "Hours saved", "equation": "[D1]"}]
                    + [{"name": f"D{i}", "equation": f"[D{i + 1}] + 0"} for i in range(1, n)]
                    + [{"name": f"D{n}", "equation": "[Hours lost, alternative] - [Hours lost, offering]"}])
    (tiny_copy / "project.yaml").write_text(yaml.safe_dump(p, sort_keys=False), encoding="utf-8")
    study = load_study(tiny_copy)
    assert [d.name for d in study.derived][:2] == [f"D{n}", f"D{n - 1}"]
    assert net_values(study) == TINY_NET


def test_a_long_derived_cycle_is_named(tiny_copy):
    import yaml

    p = yaml.safe_load((tiny_copy / "project.yaml").read_text(encoding="utf-8"))
    n = 2000
    p["derived"] = ([{"name": "Hours saved", "equation": "[C1]"}]
                    + [{"name": f"C{i}", "equation": f"[C{i % n + 1}] + 1"} for i in range(1, n + 1)])
    (tiny_copy / "project.yaml").write_text(yaml.safe_dump(p, sort_keys=False), encoding="utf-8")
    p = only_error(tiny_copy)
    assert p.where == "derived" and "cycle" in p.message and "[C1] -> [C2]" in p.message


# ---------------------------------------------------------------------------
# item 18: control characters in ids and names


@pytest.mark.parametrize("name, old, new, where, char", [
    ("customers.csv", "A2,big,30", "A\x1b[2J2,big,30", "line 3, column customer_id", "ESC"),
    ("measurements.csv", "B1,Tonnes", "B1,Ton\x07nes", None, "BEL"),
    ("project.yaml", "name: Less downtime", 'name: "Less\\0 downtime"', "elements[0].name", "NUL"),
    ("project.yaml", "  - id: small\n", '  - id: "sm\\eall"\n', "subsegments[1].id", "ESC"),
    ("project.yaml", "  - name: Call cost", '  - name: "Call\\x9b cost"', "constants[1].name", "U+009B"),
    ("project.yaml", "  - id: energy", '  - id: "en\\u202eergy"', "elements[1].id", "U+202E"),
    ("project.yaml", '"[Scrap tonnes avoided] * 200"', '"[Scrap\\e tonnes avoided] * 200"', "elements[4].equation",
     "ESC"),
])
def test_control_character_in_an_id_or_name_is_located(tiny_copy, name, old, new, where, char):
    edit(tiny_copy, name, old, new)
    errs = validate(tiny_copy).errors
    hits = [p for p in errs if "control character" in p.message]
    assert len(hits) == 1, "\n".join(map(str, errs))
    p = hits[0]
    assert p.file == name and char in p.message
    if where is None:  # measurements: the first row of that variable
        where = f"line {line_of(tiny_copy, name, new)}, column variable"
    assert p.where == where
    assert "\x1b" not in str(p) and "\x07" not in str(p) and "\x00" not in str(p)


def test_control_characters_in_a_note_are_kept_and_the_workbook_still_writes(tiny_copy, tmp_path):
    edit(tiny_copy, "measurements.csv", "second reading", "second\x1b[31m reading")
    study = load_study(tiny_copy)
    assert "second\x1b[31m reading" in set(study.measurements["note"])
    from cvm_kit.study import save_study

    back = load_study(save_study(study, tmp_path / "s.xlsx"))
    assert "second\\x1b[31m reading" in set(back.measurements["note"])
    assert net_values(back) == TINY_NET


# ---------------------------------------------------------------------------
# item 21: Excel's semicolon CSV, a workbook where a CSV belongs


def _semicolon(folder: Path, name: str) -> None:
    """Rewrite ``name`` as Excel saves it in many European locales: ';' and decimal commas."""
    df = pd.read_csv(folder / name, dtype=str, keep_default_na=False)
    text = df.to_csv(sep=";", index=False)
    (folder / name).write_text(text.replace(".", ","), encoding="utf-8")


def test_semicolon_csv_with_decimal_commas_reads_the_same(tiny_copy):
    _semicolon(tiny_copy, "measurements.csv")
    edit(tiny_copy, "measurements.csv", ";50;", ";50,0;")  # a decimal comma (A1's tonnes)
    report = validate(tiny_copy)
    assert report.ok, report.errors
    [w] = [p for p in report.warnings if p.file == "measurements.csv" and "decimal commas" in p.message]
    assert "';'-separated" in w.message
    assert net_values(report.study) == TINY_NET


def test_semicolon_csv_with_an_ambiguous_point_is_an_error(tiny_copy):
    _semicolon(tiny_copy, "measurements.csv")
    edit(tiny_copy, "measurements.csv", ";50;", ";50,5;")
    edit(tiny_copy, "measurements.csv", ";1000;", ";1.000;")
    line = line_of(tiny_copy, "measurements.csv", ";1.000;")
    p = only_error(tiny_copy)
    assert (p.file, p.where) == ("measurements.csv", f"line {line}, column value")
    assert "decimal commas" in p.message and "'1.000'" in p.message and "thousands separator (1000)" in p.message


def test_semicolon_customers_csv_reads(tiny_copy):
    _semicolon(tiny_copy, "customers.csv")
    assert (tiny_copy / "customers.csv").read_text().startswith("customer_id;subsegment;size;region")
    study = load_study(tiny_copy)
    assert study.customers["size"].tolist() == [50.0, 30.0, 100.0, 20.0, 10.0, 10.0]


def test_comma_csv_with_a_quoted_decimal_comma_hints(tiny_copy):
    edit(tiny_copy, "measurements.csv", "A1,Tonnes,50,", 'A1,Tonnes,"50,5",')
    p = only_error(tiny_copy)
    assert "'50,5' is not a number" in p.message and "decimal comma" in p.message and "50.5" in p.message


def test_ragged_row_says_to_quote(tiny_copy):
    edit(tiny_copy, "customers.csv", "A2,big,30,south", "A2,big,30,south,extra")
    p = only_error(tiny_copy)
    assert p.file == "customers.csv" and "line 3 has 5 fields but the header has 4" in p.message


def test_workbook_saved_where_the_csv_belongs_is_named(tiny_copy):
    df = pd.read_csv(tiny_copy / "measurements.csv")
    (tiny_copy / "measurements.csv").unlink()
    df.to_excel(tiny_copy / "measurements.xlsx", index=False)
    p = only_error(tiny_copy)
    assert p.file == "measurements.csv"
    assert "found measurements.xlsx" in p.message and "CSV UTF-8" in p.message


def test_workbook_bytes_under_a_csv_name_are_named(tiny_copy):
    df = pd.read_csv(tiny_copy / "customers.csv")
    df.to_excel(tiny_copy / "x.xlsx", index=False)
    (tiny_copy / "x.xlsx").replace(tiny_copy / "customers.csv")
    p = only_error(tiny_copy)
    assert p.file == "customers.csv" and "is an Excel workbook, not CSV text" in p.message


def test_optional_file_as_a_workbook_is_a_warning(tiny_copy):
    df = pd.read_csv(tiny_copy / "prospects.csv")
    (tiny_copy / "prospects.csv").unlink()
    df.to_excel(tiny_copy / "prospects.xlsx", index=False)
    report = validate(tiny_copy)
    assert report.ok and report.study.prospects is None
    assert any(p.file == "prospects.csv" and "found prospects.xlsx" in p.message for p in report.warnings)


# ---------------------------------------------------------------------------
# item 22: one duplicate customer id, one error


def test_one_duplicate_customer_is_one_error(tiny_copy):
    edit(tiny_copy, "customers.csv", "A2,big,30", "A1,big,30")
    p = only_error(tiny_copy)
    assert (p.file, p.where) == ("customers.csv", "line 3, column customer_id")
    assert "duplicate customer 'A1' (first on line 2)" in p.message
    assert "'A2' in measurements.csv (10 rows), realized.csv (1 row)" in p.message


def test_unknown_customer_is_one_error_per_file(tiny_copy):
    text = (tiny_copy / "measurements.csv").read_text(encoding="utf-8")
    (tiny_copy / "measurements.csv").write_text(text.replace("\nA2,", "\nA02,"), encoding="utf-8")
    errs = validate(tiny_copy).errors
    assert len(errs) == 1, errs
    first = line_of(tiny_copy, "measurements.csv", "A02,")
    assert errs[0].where == f"line {first}, column customer_id"
    assert "unknown customer 'A02' (10 rows" in errs[0].message and "did you mean 'A2'" in errs[0].message


# ---------------------------------------------------------------------------
# item 23: a declined invitee in fieldwork.csv


def test_declined_invitee_is_accepted_and_counted(tiny_copy):
    from cvm_kit.research import fieldwork_by_customer, fieldwork_by_subsegment

    with (tiny_copy / "fieldwork.csv").open("a", encoding="utf-8") as f:
        f.write("\nZ9,2026-01-05,invited,done,Buyer Z9,\nZ9,2026-01-15,initial_meeting,declined,Buyer Z9,no time\n")
    report = validate(tiny_copy)
    assert report.ok, report.errors
    assert any("'Z9' is not in customers.csv" in p.message and "declined" in p.message for p in report.warnings)
    f = fieldwork_by_subsegment(report.study).set_index("subsegment")
    funnel = ["customers", "invitees", "invited", "declined", "agreed"]
    assert f.loc["(no subsegment)", funnel].tolist() == [0, 1, 1, 1, 0]
    assert f.loc["big", ["customers", "invitees", "declined"]].tolist() == [3, 0, 0]
    c = fieldwork_by_customer(report.study, today="2026-02-01").set_index("customer_id")
    assert c.loc["Z9", "stage"] == "declined" and list(c.index[:6]) == ["A1", "A2", "A3", "B1", "B2", "B3"]


def test_declined_invitee_with_a_subsegment_counts_there(tiny_copy):
    from cvm_kit.research import fieldwork_by_subsegment

    rows = (tiny_copy / "fieldwork.csv").read_text(encoding="utf-8").strip().split("\n")
    rows = [rows[0] + ",subsegment"] + [r + "," for r in rows[1:]] + ["Z9,2026-01-05,invited,declined,Buyer Z9,,small"]
    (tiny_copy / "fieldwork.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    f = fieldwork_by_subsegment(load_study(tiny_copy)).set_index("subsegment")
    assert list(f.index) == ["big", "small"]
    assert f.loc["small", ["customers", "invitees", "invited", "declined"]].tolist() == [3, 1, 2, 1]


def test_unknown_customer_who_took_part_is_still_an_error(tiny_copy):
    with (tiny_copy / "fieldwork.csv").open("a", encoding="utf-8") as f:
        f.write("\nZ9,2026-01-05,invited,done,x,\nZ9,2026-01-20,data_received,done,x,\n")
    p = only_error(tiny_copy)
    assert p.file == "fieldwork.csv" and "unknown customer 'Z9' (2 rows" in p.message


# ---------------------------------------------------------------------------
# item 24: cvm.validate is always the function


def test_validate_and_business_case_stay_functions_after_their_modules_load():
    code = textwrap.dedent(f"""
        import cvm_kit as cvm
        path = {str(ROOT / 'tests' / 'data' / 'tiny')!r}
        s = cvm.load_study(path)          # imports cvm_kit.validate
        assert cvm.validate(path).ok
        import cvm_kit.business_case, cvm_kit.validate
        assert callable(cvm.validate) and callable(cvm.business_case)
        from cvm_kit.validate import ValidationReport, read_raw
        import sys
        assert sys.modules["cvm_kit.validate"].validate is cvm.validate
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr


# ---------------------------------------------------------------------------
# item 25: lookups raise CvmErrors


def test_unknown_element_and_subsegment_are_cvm_errors(tiny):
    with pytest.raises(errors_mod.NotFoundError) as exc:
        tiny.element("nope")
    assert isinstance(exc.value, CvmError) and isinstance(exc.value, KeyError)
    assert str(exc.value).startswith("no element 'nope'") and "downtime, energy" in str(exc.value)
    with pytest.raises(CvmError, match="no subsegment 'nope'.*big, small"):
        tiny.subsegment("nope")
    with pytest.raises(KeyError):
        tiny.alternative_for("nope")


def test_business_case_unknown_quantity_is_a_cvm_error(tiny):
    import cvm_kit as cvm

    bc = cvm.business_case(tiny, target_subsegment="big", market_customers={"big": 10, "small": 5},
                           adoption_share=0.5, price_change=0.0, change_costs={}, draws=50, seed=1)
    with pytest.raises(errors_mod.NotFoundError, match="no quantity 'nope'"):
        bc.value("nope")


def test_new_errors_are_exported():
    import cvm_kit as cvm

    assert cvm.NotFoundError is errors_mod.NotFoundError and issubclass(cvm.InvalidValueError, (CvmError, ValueError))


@pytest.mark.parametrize("sep", [",", ";"])
def test_a_measurement_that_underflows_to_zero_is_an_error(tmp_path, sep):
    """'1e-400' reads as 0.0: never a silent 0 (issue 10, item 1); '0e-400' is a plain 0."""
    import shutil

    import cvm_kit as cvm

    d = tmp_path / "s"
    shutil.copytree(Path(__file__).parent / "data" / "tiny", d)
    text = (d / "measurements.csv").read_text()
    text = text.replace("A1,Tonnes,50,", "A1,Tonnes,1e-400,").replace("A2,Tonnes,30,", "A2,Tonnes,0e-400,")
    if sep == ";":
        text = "\n".join(line.replace(",", ";") if line.count('"') == 0 else line.replace('",', '";')
                         for line in text.splitlines()) + "\n"
    (d / "measurements.csv").write_text(text)
    rep = cvm.validate(d)
    msgs = [str(p) for p in rep.errors]
    assert any("'1e-400' underflows to 0" in m and "measurements.csv" in m for m in msgs), msgs
    assert not any("0e-400" in m for m in msgs), msgs


# ---------------------------------------------------------------------------
# CSV shapes that pandas reads silently wrong: each is one located error, or read right


def test_a_repeated_column_name_is_an_error(tiny_copy):
    edit(tiny_copy, "customers.csv", "customer_id,subsegment,size,region", "customer_id,subsegment,size,size")
    e = only_error(tiny_copy)  # pandas renamed the second to size.1 and it was read as another characteristic
    assert e.file == "customers.csv" and "size appear more than once" in e.message


def test_one_field_too_many_on_the_first_data_row_is_located(tiny_copy):
    # pandas then takes the first column as an index and shifts every column: 50 wrong errors, or a traceback
    edit(tiny_copy, "measurements.csv", 'A1,"Hours lost, alternative",9,data,high,log',
         'A1,"Hours lost, alternative",9,data,high,log,2025')
    e = only_error(tiny_copy)
    assert (e.file, e.where) == ("measurements.csv", "line 2") and "7 fields but the header has 6" in e.message


def test_rows_of_separators_only_are_blank_lines_and_lines_stay_right(tiny_copy):
    edit(tiny_copy, "measurements.csv", "A2,Tonnes,30,data,,\n", "A2,Tonnes,30,data,,\n,,,,,\n")
    edit(tiny_copy, "measurements.csv", "B2,Tonnes,10,data,,", "B2,Tonnes,10,dat,,")
    e = only_error(tiny_copy)
    assert e.where == f"line {line_of(tiny_copy, 'measurements.csv', 'B2,Tonnes,10,dat')}, column source"
    edit(tiny_copy, "measurements.csv", "B2,Tonnes,10,dat,,", "B2,Tonnes,10,data,,")
    assert net_values(load_study(tiny_copy)) == pytest.approx(TINY_NET)


def test_a_measurement_row_without_a_customer_is_an_error(tiny_copy):
    # it belonged to nobody and was dropped: A1's tonnes went missing without a word
    edit(tiny_copy, "measurements.csv", "A1,Tonnes,50,data,high,", ",Tonnes,50,data,high,")
    e = only_error(tiny_copy)
    assert e.where == f"line {line_of(tiny_copy, 'measurements.csv', ',Tonnes,50,data,high,')}, column customer_id"
    assert "empty customer_id" in e.message


@pytest.mark.parametrize("text, shown", [("yes", "'yes'"), ("on", "'on'"), ("1:30", "'1:30'")])
def test_yaml_1_1_words_are_not_numbers(tiny_copy, text, shown):
    # PyYAML's YAML 1.1: yes/on were 1, 1:30 base 60 (90); the constant's value changed without a word
    edit(tiny_copy, "project.yaml", "value: 100", f"value: {text}")
    e = only_error(tiny_copy)
    assert e.where.startswith("constants[0].value") and shown in e.message


def test_a_leading_zero_is_decimal_and_an_impossible_date_is_located(tiny_copy):
    edit(tiny_copy, "project.yaml", "value: 100", "value: 0100")  # YAML 1.1 read it as octal: 64
    assert net_values(load_study(tiny_copy)) == pytest.approx(TINY_NET)
    edit(tiny_copy, "project.yaml", "end: 2027-06-30", "end: 2027-02-30")  # was a ValueError traceback
    e = only_error(tiny_copy)
    assert e.where == "charter.end" and "'2027-02-30'" in e.message


def test_a_semicolon_file_whose_dotted_numbers_all_look_like_thousands():
    from cvm_kit.study.read import read_csv_text

    head = "customer_id;variable;value;source\n"
    problems: list[Problem] = []
    read_csv_text(head + "A1;Tonnes;3.470;data\nA2;Tonnes;16.500;data\nA3;Tonnes;980;data\n", "m.csv", problems)
    [p] = problems  # 3.470 read as 3.47 was a thousand times too small, without a word
    assert p.where == "line 2, column value" and "is that 3470" in p.message and p.severity == "error"
    problems = []
    read_csv_text(head + "A1;Tonnes;3.470;data\nA1;Energy price;0.25;data\n", "m.csv", problems)
    assert problems == []  # 0.25: the file writes decimal points, so 3.470 is 3.47


def test_a_name_written_as_a_number_is_text(tiny_copy):
    edit(tiny_copy, "project.yaml", "name: Tiny test study", "name: 2026")  # "Input should be a valid string"
    assert load_study(tiny_copy).name == "2026"


def test_a_workbook_formula_without_a_saved_result_is_named(tiny_path, tmp_path):
    from openpyxl import load_workbook

    from cvm_kit.study import save_study

    book = save_study(load_study(tiny_path), tmp_path / "s.xlsx")
    wb = load_workbook(book)
    wb["constants"]["B2"] = "=90+10"  # written by a program: no saved result (it read as 'required key is missing')
    wb.save(book)
    errs = validate(book).errors
    assert errs[0].where == "cell B2" and "a formula (=90+10) with no saved result" in errs[0].message
