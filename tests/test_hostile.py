"""A study that tries to break cvm_kit (issue 6): every surface either refuses it clearly or handles it safely.

The hostile study (``tests/hostile.py``, written into tmp_path at test time)
renames the tiny study's customers, a subsegment, an element, phrases and
texts to Python code, HTML/JS and spreadsheet formulas, without changing a
number. So, for each surface:

- nothing is executed: a sentinel file the Python payloads would create never
  appears (checked after every test);
- nothing is lost: every figure equals the tiny study's hand-worked figure,
  and every text round-trips exactly through load -> save_study -> load;
- HTML shows the text escaped (parsed, not grepped: no script or event
  handler carries a payload, and the payload is in the page's text);
- Excel holds it as a text cell; CSV cells that would start a formula get a
  leading apostrophe;
- broken variants (Python in a word equation, latin-1 bytes, thousands
  separators, empty files, YAML tags ...) give one located error, and
  ``cvm validate`` exits 1 without a traceback.
"""

from __future__ import annotations

import csv
import math
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

import hostile as H
from cvm_kit.cli import main
from cvm_kit.study import load_study, save_study
from cvm_kit.validate import validate

TINY = Path(__file__).parent / "data" / "tiny"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# ---------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory) -> Path:
    """The file no payload may ever create (one per module, shared by every variant)."""
    return tmp_path_factory.mktemp("sentinel") / "PWNED"


@pytest.fixture(autouse=True)
def _nothing_executed(sentinel):
    yield
    assert not sentinel.exists(), f"a payload was executed: {sentinel} exists"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, sentinel) -> H.Hostile:
    return H.write_hostile_study(tmp_path_factory.mktemp("hostile") / "study", sentinel)


@pytest.fixture(scope="module")
def hstudy(hostile):
    return load_study(hostile.path)


# ---------------------------------------------------------------------------
# checkers


class _Scan(HTMLParser):
    """Collects a page's text, its script bodies and any attribute carrying a payload."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.scripts: list[str] = []
        self.injected: list[str] = []
        self._script = False

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if v and ("alert(1)" in v or "http://evil" in v or "touch " in v):
                self.injected.append(f"<{tag} {k}={v!r}>")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.injected.append("<img src=x>")
        self._script = tag in ("script", "style")

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._script = False

    def handle_data(self, data):
        (self.scripts if self._script else self.text).append(data)


def assert_html_safe(doc: str, shown=(), where: str = "") -> str:
    """No payload became markup; every text of ``shown`` is in the page's text. Returns the text."""
    scan = _Scan()
    scan.feed(doc)
    scan.close()
    injected = scan.injected + [s[:80] for s in scan.scripts if "alert(1)" in s or "touch " in s]
    assert not injected, f"{where}: study text became markup: {injected}"
    text = "".join(scan.text)
    for t in shown:
        assert t in text, f"{where}: {t!r} is not shown as text"
    return text


def excel_cells(path: Path, *, data_only: bool = False):
    """(sheet, cell) for every non-empty cell of a workbook."""
    import openpyxl

    wb = openpyxl.load_workbook(path, data_only=data_only)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.value is not None:
                    yield ws.title, c


def assert_excel_text(path: Path, exact=(), *, formulas_allowed: bool = False) -> None:
    """Study text is in text cells: nothing starting with = + - @ is a formula unless built by cvm_kit."""
    found = set()
    for sheet, c in excel_cells(path):
        v = c.value
        if c.data_type == "f":
            assert formulas_allowed, f"{path.name}!{sheet}!{c.coordinate}: unexpected formula {v!r}"
            # cvm_kit's own formulas reference defined names; never a string literal or another function
            assert '"' not in str(v), f"{path.name}!{sheet}!{c.coordinate}: formula with text {v!r}"
            funcs = set(re.findall(r"([A-Za-z_][A-Za-z0-9_.]*)\(", str(v)))
            assert funcs <= {"IF", "COUNT", "NA", "MIN", "MAX", "ABS", "SUM", "IFERROR", "ISNUMBER"}, (sheet, v)
            continue
        if isinstance(v, str):
            if v.startswith(FORMULA_START):
                assert c.data_type == "s", f"{path.name}!{sheet}!{c.coordinate}: {v!r} is not a text cell"
            found.add(v)
    for t in exact:
        assert any(v == t or v.startswith(t) for v in found), f"{path.name}: no text cell holding {t!r}"


def assert_csv_guarded(path: Path) -> list[list[str]]:
    """Every cell starting with = + - @ is a number (text cells get a leading apostrophe)."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    for i, row in enumerate(rows, start=1):
        for j, cell in enumerate(row):
            if cell.startswith(FORMULA_START):
                try:
                    float(cell)
                except ValueError:
                    pytest.fail(f"{path.name} row {i}, column {rows[0][j] if j < len(rows[0]) else j}: "
                                f"{cell[:60]!r} would run as a formula")
    return rows


def _frame(rows: list[list[str]]) -> pd.DataFrame:
    return pd.DataFrame(rows[1:], columns=rows[0])


def test_the_checkers_catch_injection(tmp_path):
    """The checkers above fail on unescaped markup, formula cells and unguarded CSV (so a pass means something)."""
    import openpyxl

    for doc in (f"<p>{H.SCRIPT}</p>", f"<p>{H.IMG}</p>", "<a href='=HYPERLINK(\"http://evil\")'>x</a>"):
        with pytest.raises(AssertionError):
            assert_html_safe(doc)
    with pytest.raises(AssertionError):
        assert_html_safe("<p>&lt;b&gt;</p>", ["<i>"])
    wb = openpyxl.Workbook()
    wb.active["A1"] = "=1+1"  # openpyxl writes a formula
    wb.save(tmp_path / "f.xlsx")
    with pytest.raises(AssertionError):
        assert_excel_text(tmp_path / "f.xlsx")
    (tmp_path / "x.csv").write_text('a,b\n-1.5,"=HYPERLINK(""x"")"\n', encoding="utf-8")
    with pytest.raises(pytest.fail.Exception):
        assert_csv_guarded(tmp_path / "x.csv")


# ---------------------------------------------------------------------------
# the hostile study loads, with the tiny study's figures


def test_hostile_study_loads_with_the_hand_worked_figures(hstudy, hostile):
    from cvm_kit.values import element_values, totals

    t = totals(hstudy).set_index("customer_id")["net_value"]
    assert set(t.index) == set(H.NET_VALUE)
    for cid, net in H.NET_VALUE.items():
        assert (math.isnan(t[cid]) and math.isnan(net)) or t[cid] == pytest.approx(net), cid
    v = element_values(hstudy).set_index(["customer_id", "element_id"])["value"]
    # the contention element (hostile id) rests on a phrase that is Python code: a plain variable
    svc = H.ELEMENT_IDS["service"]
    assert v[(H.HYPERLINK, svc)] == pytest.approx(150.0)  # max(3, 0) * 50
    assert v[(H.SCRIPT, svc)] == pytest.approx(0.0)  # max(-1, 0) * 50
    assert v[(H.HYPERLINK, "downtime")] == pytest.approx(600.0)
    assert hstudy.name == f"{H.SCRIPT} study" and hstudy.offering == H.IMG
    assert hstudy.subsegment_ids == ["big", H.AT_SUM]


def test_python_phrase_is_a_name_not_code(hstudy, hostile, sentinel):
    from cvm_kit.values import evaluate

    phrase = H.py_payload(sentinel)
    out = evaluate(hstudy, pd.DataFrame({phrase: [4.0, -2.0]}), subsegment="big")
    assert out[H.ELEMENT_IDS["service"]].tolist() == pytest.approx([200.0, 0.0])


# ---------------------------------------------------------------------------
# nothing lost: texts round-trip exactly


def _same_study(a, b) -> None:
    from cvm_kit.study import project_dict

    assert project_dict(a) == project_dict(b)
    pd.testing.assert_frame_equal(a.customers.reset_index(drop=True), b.customers.reset_index(drop=True))
    cols = ["customer_id", "variable", "value", "source", "reliability", "note"]
    pd.testing.assert_frame_equal(a.measurements[cols].reset_index(drop=True),
                                  b.measurements[cols].reset_index(drop=True), check_dtype=False)
    for name in ("fieldwork", "realized", "prospects"):
        x, y = getattr(a, name), getattr(b, name)
        x = x.drop(columns=["line"], errors="ignore").reset_index(drop=True)
        y = y.drop(columns=["line"], errors="ignore").reset_index(drop=True)
        pd.testing.assert_frame_equal(x, y, check_dtype=False)


def test_notes_are_read_exactly(hstudy, hostile):
    notes = [n for n in hstudy.measurements["note"] if n]
    assert notes == list(hostile.notes)
    assert 'He said "=1+1", then left\nsecond line; third, with commas' in notes


def test_texts_round_trip_through_a_folder(hstudy, tmp_path):
    out = save_study(hstudy, tmp_path / "copy")
    _same_study(hstudy, load_study(out))


def test_texts_round_trip_through_a_workbook(hstudy, tmp_path):
    out = save_study(hstudy, tmp_path / "copy.xlsx")
    _same_study(hstudy, load_study(out))
    back = save_study(load_study(out), tmp_path / "folder")
    _same_study(hstudy, load_study(back))


# ---------------------------------------------------------------------------
# HTML: escaped


def test_charter_html_escapes(hstudy):
    from cvm_kit.research import charter_html

    assert_html_safe(charter_html(hstudy, "2026-03-01"), [H.SCRIPT, H.HYPERLINK, H.IMG, H.AT_SUM, H.DDE], "charter")


def test_report_header_and_tables_escape(hstudy):
    report = pytest.importorskip("cvm_kit.report")
    from cvm_kit.values import totals

    doc = report.header_html(hstudy, H.SCRIPT, subtitle=H.IMG, today="2026-03-01")
    assert_html_safe(doc, [f"{H.SCRIPT} study", H.IMG, H.DDE, H.HYPERLINK, H.AT_SUM], "header")
    m = hstudy.measurements[["customer_id", "variable", "value", "note"]]
    text = assert_html_safe(report.table_html(m, money=["value"]), [H.SCRIPT, H.HYPERLINK, H.DDE], "table")
    assert 'He said "=1+1"' in text
    t = assert_html_safe(report.table_html(totals(hstudy), money=["net_value"], currency="EUR"),
                         [H.HYPERLINK, H.SCRIPT, H.PATH], "totals")
    assert "1,090" in t and "1,630" in t


def test_business_case_html_escapes(hstudy):
    from cvm_kit.business_case import business_case

    bc = business_case(hstudy, target_subsegment="big", market_customers={"big": 40, H.AT_SUM: 60},
                       adoption_share=0.25, price_change=20.0, change_costs={H.SCRIPT: 1000.0, H.HYPERLINK: 500.0},
                       draws=300, seed=1)
    assert_html_safe(bc.to_html(), [H.IMG, H.SCRIPT, H.HYPERLINK], "business case")
    assert_html_safe(bc._repr_html_(), [H.IMG], "business case (Jupyter)")


def test_calculator_widget_html_escapes(hstudy):
    from cvm_kit.calculator_widgets import calculate, calculator_inputs, result_html

    r = calculate(hstudy, calculator_inputs(hstudy, customer=H.HYPERLINK), subsegment="big")
    doc = result_html(hstudy, r, subsegment="big")
    text = assert_html_safe(doc, [H.SCRIPT, H.IMG, H.HYPERLINK], "calculator")
    assert "1,090.00" in text


@pytest.mark.slow
def test_executed_customer_reports_escape_and_stay_inside_the_folder(hostile, tmp_path):
    runs = pytest.importorskip("cvm_kit.runs")
    import nbformat

    out = tmp_path / "reports" / "customers"
    ids = [H.HYPERLINK, H.SCRIPT, H.PATH]
    result = runs.run_batch(hostile.path, ids, workers=2, out_dir=out, progress=False, timeout=300)
    assert result.ok, result.summary()
    # every file stays inside the output folder, whatever the customer id
    made = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert made and all(p.resolve().is_relative_to(out.resolve()) for p in made), made
    for r in result.runs:
        assert re.fullmatch(r"[A-Za-z0-9._-]+", r.html.name), r.html.name
        doc = r.html.read_text(encoding="utf-8")
        shown = [r.name, H.SCRIPT, H.IMG]  # the customer id, the downtime and energy element names
        assert_html_safe(doc, shown, r.html.name)
        # nothing altered: the notebook shows the tiny figures
        nb = nbformat.read(r.notebook, as_version=4)
        html_out = "".join(str(o.get("data", {}).get("text/html", "")) for c in nb.cells for o in c.get("outputs", []))
        if r.name == H.HYPERLINK:
            assert "1,090" in html_out
    assert_html_safe((out / "index.html").read_text(encoding="utf-8"), [H.HYPERLINK, H.SCRIPT, H.PATH], "index")


# ---------------------------------------------------------------------------
# Excel: text cells


def test_worksheets_hold_study_text_as_text(hstudy, tmp_path):
    from cvm_kit.worksheets import write_worksheets

    out = tmp_path / "ws"
    paths = write_worksheets(hstudy, out, customers=[H.HYPERLINK, H.DDE, H.PATH])
    assert len(paths) == 3 and all(p.resolve().parent == out.resolve() for p in paths)
    assert_excel_text(paths[0], [H.HYPERLINK, '=HYPERLINK("http://evil","t")', H.HYPERLINK])
    assert_excel_text(paths[1], [H.DDE, H.AT_SUM])
    assert_excel_text(paths[2], [H.PATH])


def test_calculator_holds_study_text_as_text(hstudy, tmp_path):
    from cvm_kit.calculator import write_calculator

    path = write_calculator(hstudy, tmp_path / "calc.xlsx", customer=H.HYPERLINK)
    assert_excel_text(path, ['=HYPERLINK("http://evil","t")', H.HYPERLINK, H.SCRIPT, H.IMG,
                             H.ELEMENT_IDS["service"]], formulas_allowed=True)
    # the cached results are the study's figures (viewers that do not recalculate show them)
    cells = {(s, c.coordinate): c.value for s, c in excel_cells(path, data_only=True)}
    labels = [k for k, v in cells.items() if k[0] == "Totals" and v == "net value"]
    assert labels, "no 'net value' row on the Totals sheet"
    sheet, coord = labels[0]
    row = re.sub(r"[A-Z]+", "", coord)
    assert cells[(sheet, f"B{row}")] == pytest.approx(1090.0)
    path2 = write_calculator(hstudy, tmp_path / "calc2.xlsx", subsegment=H.AT_SUM)
    assert_excel_text(path2, [f"Subsegment {H.AT_SUM}", H.DDE], formulas_allowed=True)


def test_study_workbook_holds_study_text_as_text(hstudy, tmp_path):
    path = save_study(hstudy, tmp_path / "study.xlsx")
    assert_excel_text(path, [H.HYPERLINK, H.DDE, H.AT_SUM, H.MINUS, H.SCRIPT, H.IMG, H.PATH,
                             '=HYPERLINK("http://evil","svc")'])


def test_import_keeps_existing_rows_as_written(hostile, tmp_path):
    """`cvm import --write` rewrites measurements.csv exactly: no apostrophe-guard on the study's own data."""
    import shutil

    import openpyxl

    from cvm_kit.worksheets import apply_import, plan_import, read_worksheets, write_worksheets

    folder = tmp_path / "study"
    shutil.copytree(hostile.path, folder)
    s = load_study(folder)
    [ws_path] = write_worksheets(s, tmp_path / "ws", customers=[H.PATH])  # the customer missing [kWh, offering]
    wb = openpyxl.load_workbook(ws_path)
    ws = wb.active
    head = None
    for row in ws.iter_rows():
        vals = [c.value for c in row]
        if head is None and "phrase" in vals and "value" in vals:
            head = {v: i for i, v in enumerate(vals)}
        elif head is not None and row[head["phrase"]].value == "kWh, offering":
            row[head["value"]].value = 250
            row[head["source"]].value = "data"
            row[head["note"]].value = H.HYPERLINK
    wb.save(ws_path)
    plan = plan_import(s, read_worksheets(s, [ws_path]))
    assert plan["action"].tolist() == ["added"]
    apply_import(s, plan, write=True)
    after = load_study(folder)
    cols = ["customer_id", "variable", "value", "source", "reliability", "note"]
    pd.testing.assert_frame_equal(after.measurements[cols].iloc[:-1].reset_index(drop=True),
                                  s.measurements[cols].reset_index(drop=True), check_dtype=False)
    last = after.measurements.iloc[-1]
    assert (last["customer_id"], last["value"], last["note"]) == (H.PATH, 250.0, H.HYPERLINK)


# ---------------------------------------------------------------------------
# CSV: guarded


def test_cli_csv_outputs_are_guarded(hostile, tmp_path, capsys):
    for cmd in ("values", "summary", "totals"):
        assert main([cmd, str(hostile.path), "-o", str(tmp_path / f"{cmd}.csv")]) == 0
    totals = _frame(assert_csv_guarded(tmp_path / "totals.csv")).set_index("customer_id")
    # guarded text keeps its content after the apostrophe; numbers (negative ones too) are untouched
    assert float(totals.loc["'" + H.HYPERLINK, "net_value"]) == pytest.approx(1090.0)
    assert float(totals.loc["'" + H.MINUS, "net_value"]) == pytest.approx(315.0)
    assert totals.loc["'" + H.DDE, "subsegment"] == "'" + H.AT_SUM
    assert totals.loc[H.SCRIPT, "subsegment"] == "big"
    values = _frame(assert_csv_guarded(tmp_path / "values.csv"))
    assert "'" + H.ELEMENT_IDS["service"] in set(values["element_id"])
    summary = _frame(assert_csv_guarded(tmp_path / "summary.csv"))
    assert (summary["ci_low"].astype(float) < 0).any()  # negative numbers stay numbers


def test_cli_tables_are_guarded(hostile, tmp_path, capsys):
    out = tmp_path / "tables"
    assert main(["tables", str(hostile.path), "--out", str(out)]) == 0
    files = sorted(out.glob("*.csv"))
    assert len(files) >= 6
    for f in files:
        assert_csv_guarded(f)
    inputs = _frame(assert_csv_guarded(out / "inputs.csv"))
    assert "'" + '=HYPERLINK("http://evil","t")' in set(inputs["variable"])


@pytest.mark.parametrize("cmd", [
    ["compare", "--permutations", "200"], ["tornado"], ["simulate", "--draws", "500"], ["prospects"], ["fieldwork"],
])
def test_other_csv_commands_are_guarded(hostile, tmp_path, capsys, cmd):
    out = tmp_path / "out.csv"
    assert main([cmd[0], str(hostile.path), *cmd[1:], "-o", str(out)]) == 0
    assert_csv_guarded(out)


def test_documenter_tables_are_guarded(hostile, tmp_path, capsys):
    out = tmp_path / "doc"
    assert main(["document", str(hostile.path), "--out", str(out)]) == 0
    files = sorted(out.rglob("*.csv"))
    assert files
    for f in files:
        assert_csv_guarded(f)


# ---------------------------------------------------------------------------
# broken studies: one clear, located error; `cvm validate` exits 1 without a traceback


def _cases(sentinel: Path) -> dict:
    eq = lambda text: (lambda d: H.variant_equation(d, text))  # noqa: E731
    return {
        "equation-import": eq(H.py_payload(sentinel)),
        "equation-open": eq(H.open_payload(sentinel)),
        "equation-attribute": eq("[Hours saved].__class__"),
        "equation-class": eq(H.CLASS_ATTR),
        "equation-lambda": eq("(lambda: 0)()"),
        "equation-power": eq("[Hours saved] ** 2"),
        "equation-statement": eq("[Hours saved]; import os"),
        "equation-conditional": eq("[Hours saved] if 1 else 0"),
        "equation-subscript": eq("[Hours saved][0]"),
        "equation-string": eq("'a' * 3"),
        "latin1": H.variant_latin1,
        "thousands": H.variant_thousands,
        "constant-thousands": H.variant_constant_thousands,
        "empty-project": lambda d: H.variant_empty(d, "project.yaml"),
        "empty-customers": lambda d: H.variant_empty(d, "customers.csv"),
        "empty-measurements": lambda d: H.variant_empty(d, "measurements.csv"),
        "empty-fieldwork": lambda d: H.variant_empty(d, "fieldwork.csv"),
        "empty-realized": lambda d: H.variant_empty(d, "realized.csv"),
        "empty-prospects": lambda d: H.variant_empty(d, "prospects.csv"),
        "header-only": H.variant_header_only,
        "crlf-line-numbers": H.variant_crlf_bad_source,
        "yaml-python-tag": lambda d: H.variant_yaml_tag(d, sentinel),
        "yaml-alias-bomb": H.variant_alias_bomb,
        "yaml-status-alias-bomb": H.variant_status_alias_bomb,
        "yaml-deep": H.variant_deep_yaml,
        "control-customer-id": H.variant_control_id,
    }


CASES = list(_cases(Path("x")))


@pytest.mark.parametrize("case", CASES)
def test_broken_study_gives_a_located_error(case, tmp_path, sentinel, capsys):
    broken = _cases(sentinel)[case](tmp_path / case)
    report = validate(broken.path)
    assert report.study is None and report.errors
    hits = [p for p in report.errors if p.file == broken.file and broken.where in p.where
            and broken.message.lower() in p.message.lower()]
    assert hits, f"expected {broken.file}: {broken.where}: ...{broken.message}...; got " + \
        "; ".join(str(p) for p in report.errors)
    capsys.readouterr()
    assert main(["validate", str(broken.path)]) == 1
    err = capsys.readouterr().err
    assert broken.file in err and broken.where in err and "Traceback" not in err


@pytest.mark.parametrize("case", ["equation-import", "latin1", "thousands", "empty-measurements"])
def test_cvm_validate_command_exits_1_without_traceback(case, tmp_path, sentinel):
    broken = _cases(sentinel)[case](tmp_path / case)
    cvm = Path(sys.executable).with_name("cvm")
    cmd = [str(cvm)] if cvm.exists() else [sys.executable, "-m", "cvm_kit.cli"]
    proc = subprocess.run([*cmd, "validate", str(broken.path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert f"{broken.file}: {broken.where}" in proc.stderr


def test_equation_error_says_where_and_what_was_expected(tmp_path, sentinel):
    broken = H.variant_equation(tmp_path / "s", H.py_payload(sentinel))
    [p] = validate(broken.path).errors
    assert "position 0" in p.message and "only min, max and abs are allowed" in p.message


# ---------------------------------------------------------------------------
# awkward but valid encodings load with the same figures


def _figures(path: Path) -> pd.DataFrame:
    from cvm_kit.values import element_values

    return element_values(load_study(path))


@pytest.mark.parametrize("variant", ["bom", "crlf"])
def test_bom_and_windows_line_endings_load_unchanged(variant, tmp_path):
    path = getattr(H, f"variant_{variant}")(tmp_path / variant)
    s = load_study(path)
    assert list(s.customers.columns) == list(load_study(TINY).customers.columns)
    pd.testing.assert_frame_equal(_figures(path), _figures(TINY))
    tiny = load_study(TINY)
    assert list(s.measurements["note"]) == list(tiny.measurements["note"])
    assert list(s.measurements["line"]) == list(tiny.measurements["line"])


def test_validate_summary_does_not_pass_terminal_escapes(tmp_path, capsys):
    """Control sequences in study text never reach the terminal (ESC ] 0;... BEL would retitle it)."""
    path = H.variant_terminal_escape(tmp_path / "esc")
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr()
    assert "\x1b" not in out.out and "\x07" not in out.out and "\x1b" not in out.err


# ---------------------------------------------------------------------------
# a 10 MB note


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    path, note = H.variant_big_note(tmp_path_factory.mktemp("big") / "study")
    return path, note, load_study(path)


def test_ten_megabyte_note_loads_exactly(big):
    path, note, s = big
    assert len(note) >= 10 * 1024 * 1024 - 8
    assert s.measurements["note"].iloc[0] == note
    pd.testing.assert_frame_equal(_figures(path), _figures(TINY))


def test_ten_megabyte_note_round_trips_through_a_folder(big, tmp_path):
    _, note, s = big
    back = load_study(save_study(s, tmp_path / "copy"))
    assert back.measurements["note"].iloc[0] == note


def test_ten_megabyte_note_is_not_cut_in_a_workbook(big, tmp_path):
    """openpyxl would silently cut text beyond Excel's 32,767 characters: a clear error instead, or all of it."""
    from cvm_kit.errors import CvmError

    _, note, s = big
    try:
        out = save_study(s, tmp_path / "copy.xlsx")
    except CvmError as exc:  # refusing clearly is fine; losing text silently is not
        assert "measurements" in str(exc) and "note" in str(exc)
        assert not (tmp_path / "copy.xlsx").exists()
        return
    assert load_study(out).measurements["note"].iloc[0] == note


def test_long_note_with_line_breaks_loads_exactly(tmp_path, capsys):
    """A quoted note longer than the csv module's default field limit (131,072), spanning lines, loads exactly."""
    path, note = H.variant_big_note(tmp_path / "study", 1024 * 1024, lines=True)
    s = load_study(path)
    assert s.measurements["note"].iloc[0] == note
    assert list(s.measurements["line"])[:3] == [2, 2 + note.count("\n") + 1, 3 + note.count("\n") + 1]
    assert load_study(save_study(s, tmp_path / "copy")).measurements["note"].iloc[0] == note
    assert main(["validate", str(path)]) == 0


def test_ten_megabyte_note_in_outputs(big, tmp_path, capsys):
    """The tools that copy a note into Excel keep a readable start of it in a text cell."""
    from cvm_kit.calculator import write_calculator
    from cvm_kit.worksheets import write_worksheets

    _, note, s = big
    [ws] = write_worksheets(s, tmp_path, customers=["A1"])
    calc = write_calculator(s, tmp_path / "calc.xlsx", customer="A1")
    for path in (ws, calc):
        texts = [c.value for _, c in excel_cells(path) if isinstance(c.value, str) and "HYPERLINK" in c.value]
        assert texts and all(len(t) <= 32767 for t in texts), path.name
        assert_excel_text(path, formulas_allowed=path == calc)
    assert main(["values", str(big[0]), "-o", str(tmp_path / "v.csv")]) == 0
