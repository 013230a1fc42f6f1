"""Data-gathering worksheets: one Excel workbook per customer, and reading them back.

The research team hands each customer (or the account manager visiting it) a
workbook listing every input its value word equations need, with the value
already on file, and blank cells to fill: value, source, reliability, note.
Filled workbooks come back through :func:`read_worksheets` (every problem
reported at once, located by file, sheet and cell), :func:`plan_import` (what
would change in ``measurements.csv``) and :func:`apply_import` (writes only
when asked, after keeping the previous file as a dated backup).

Conflicts are never resolved silently:

- two workbooks giving different values for the same customer and phrase are
  always a ``conflict`` (fix or drop one workbook and import again);
- a filled value that differs from the value on file (the mean of the
  customer's rows for that phrase) is a ``conflict`` too, unless the import is
  planned with ``replace=True`` (``cvm import --replace``): it is then
  ``changed`` and replaces *all* the customer's rows for that phrase.

:func:`apply_import` refuses to write while any conflict remains, and writes
under the study's lock (:func:`study_lock`, ``<study>/.cvm.lock``), so two
imports at once never lose a row. Returned workbooks are read streaming, with
caps on their size, rows and cells (:data:`MAX_BYTES`, :data:`MAX_ROWS`,
:data:`MAX_CELLS`); a number cell must hold a finite number.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import pandas as pd

from .equations import normalize_phrase
from .errors import CvmError, Problem, StudyError
from .io import LOCK_FILE
from .study import CUSTOMERS_FILE, MEASUREMENTS_FILE, OPTIONAL_FILES, PROJECT_FILE, RELIABILITIES, SOURCES, Study

#: The sheet every worksheet holds its table in.
SHEET = "inputs"
#: Columns of the worksheet table, in order; the FILL ones are unlocked.
COLUMNS = ("phrase", "used by", "unit hint", "value on file", "on file from", "value", "source", "reliability",
           "note")
FILL = ("value", "source", "reliability", "note")
#: Columns :func:`read_worksheets` needs (the others are for the reader's eyes only).
REQUIRED = ("phrase", "value", "source", "reliability", "note")
HEADER_LABELS = ("study", "customer", "subsegment", "offering", "next-best-alternative", "period", "instructions")
PLAN_COLUMNS = ["customer_id", "variable", "on_file", "new_value", "action", "detail", "source", "reliability",
                "note", "where"]
ACTIONS = ("added", "changed", "unchanged", "conflict")

_INSTRUCTIONS = (
    "Fill the shaded columns for every input you can: value (a plain number in the unit hinted), "
    "source (data = records or measured; estimate = the customer's estimate; perception = the customer's "
    "opinion; assumption = the team's), reliability (high, medium, low) and a note on how it was obtained. "
    "Leave a value empty if unknown. Do not rename the sheet or the column headers."
)

# unit words recognised in phrases, in priority order
_UNIT_WORDS = (
    (r"\bkwh\b", "kWh"), (r"\bmwh\b", "MWh"), (r"\bhours?\b", "hours"), (r"\bminutes?\b", "minutes"),
    (r"\bdays?\b", "days"), (r"\bweeks?\b", "weeks"), (r"\btonnes?\b|\btons?\b", "tonnes"),
    (r"\bkg\b", "kg"), (r"\blitres?\b|\bliters?\b", "litres"), (r"\bshare\b|\brate\b|\bpercent", "share (0.25 = 25%)"),
)
_MONEY = r"\bprice\b|\bcosts?\b|\bmargin\b|\brevenue\b|\bspend\b|\bsavings?\b|\bfees?\b"


# ---------------------------------------------------------------------------
# writing


def _unit_hint(phrase: str, users: Sequence[str], study: Study) -> str:
    """A unit guessed from the phrase's words, else the unit of the element using it."""
    per = re.search(r"\bper\s+([^,;()]+)", phrase, re.I)
    per_text = f" per {per.group(1).strip()}" if per else ""
    before_per = phrase[: per.start()] if per else phrase
    if re.search(_MONEY, before_per, re.I):
        return f"{study.currency}{per_text}"
    for pattern, unit in _UNIT_WORDS:
        if re.search(pattern, before_per, re.I):
            return f"{unit}{per_text}"
    if per_text:
        return f"number{per_text}"
    for u in users:
        if u != "price":
            hint = study.element(u).unit_hint
            if hint:
                return hint
    return "number"


def _used_by_text(study: Study, users: Sequence[str]) -> str:
    parts = []
    for u in users:
        parts.append("price difference" if u == "price" else f"{u} ({study.element(u).name})")
    return "; ".join(parts)


def worksheet_rows(study: Study, customer_id: str) -> pd.DataFrame:
    """The rows of one customer's worksheet (what :func:`write_worksheets` writes).

    Every input the customer's equations need (elements that are points of
    parity in its subsegment need nothing), then the study constants those
    equations use, which the customer may override with its own figure.

    Returns
    -------
    DataFrame
        ``phrase, used_by, unit_hint, value_on_file, on_file_from, constant``
        (``constant`` True for study-constant rows). ``value_on_file`` is the
        mean of the customer's own rows (NaN if none).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.worksheets import worksheet_rows
    >>> rows = worksheet_rows(cvm.load_study(cvm.example_path()), "C01")
    >>> list(rows.columns)[:3]
    ['phrase', 'used_by', 'unit_hint']
    """
    from . import values as V

    V.require_customer(study, customer_id)
    sub = study.customers.loc[study.customers["customer_id"] == customer_id, "subsegment"].iloc[0]
    display = V._display_names(study)
    users = V._phrase_users(study)
    table = V.measurement_table(study)
    own = table[table["customer_id"] == customer_id].set_index("phrase")
    m = study.measurements
    m = m[m["customer_id"] == customer_id]
    consts = {normalize_phrase(c.name): c for c in study.constants}
    rows = []
    for p in V.input_phrases(study):
        need = V._needed_for(study, users.get(p, []), sub)
        if not need:
            continue
        shown = display.get(p, p)
        if p in own.index:
            r = own.loc[p]
            notes = [n for n in m.loc[m["phrase"] == p, "note"] if n]
            src = f"{int(r['n'])} rows, mean" if int(r["n"]) > 1 else "1 row"
            from_text = f"{src}; source {r['source']}" + (f"; {' | '.join(notes)}" if notes else "")
            on_file = float(r["value"])
        else:
            from_text, on_file = "", np.nan
        if p in consts:
            c = consts[p]
            const_text = f"study constant {c.value:g}" + (f" ({c.source})" if c.source else "") + \
                " applies unless this customer's own figure is filled"
            from_text = f"{from_text}; {const_text}" if from_text else const_text
        rows.append((shown, _used_by_text(study, need), _unit_hint(shown, need, study), on_file, from_text,
                     p in consts))
    out = pd.DataFrame(rows, columns=["phrase", "used_by", "unit_hint", "value_on_file", "on_file_from", "constant"])
    # customers' own inputs first, the overridable constants after
    return out.sort_values("constant", kind="stable").reset_index(drop=True)


def _safe_stem(text: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", str(text)).strip("._")
    return stem[:80] or "customer"


def _text_cell(ws, row: int, col: int, text: object):
    """Write study text as an explicit string cell (a leading '=' stays text).

    Control characters an .xlsx cannot hold (ESC, BEL, NUL ...) become ``?``
    rather than stopping the workbook.
    """
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    cell = ws.cell(row=row, column=col)
    cell.value = "" if text is None else ILLEGAL_CHARACTERS_RE.sub("?", str(text))
    cell.data_type = "s"
    return cell


def _write_one(study: Study, customer_id: str, path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill, Protection
    from openpyxl.worksheet.datavalidation import DataValidation

    rows = worksheet_rows(study, customer_id)
    cust = study.customers.set_index("customer_id").loc[customer_id]
    sub = str(cust["subsegment"])
    subseg = study.subsegment(sub)
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="FFF2CC")
    ws.cell(row=1, column=1, value="Data-gathering worksheet").font = Font(bold=True, size=14)
    header = [
        ("Study", study.name),
        ("Customer", customer_id),
        ("Subsegment", f"{sub}" + (f": {subseg.description}" if subseg.description else "")),
        ("Offering", study.offering),
        ("Next-best-alternative", study.alternative_for(sub)),
        ("Period", f"values per customer per {study.period}; money in {study.currency}"),
        ("Instructions", _INSTRUCTIONS),
    ]
    for i, (label, text) in enumerate(header, start=2):
        _text_cell(ws, i, 1, label).font = bold
        c = _text_cell(ws, i, 2, text)
        c.alignment = Alignment(wrap_text=label == "Instructions", vertical="top")
    irow = 1 + len(header)  # the instructions line, last of the block
    ws.merge_cells(start_row=irow, start_column=2, end_row=irow, end_column=len(COLUMNS))
    ws.row_dimensions[irow].height = 60
    hrow = len(header) + 3  # one blank row after the header block
    for j, name in enumerate(COLUMNS, start=1):
        c = _text_cell(ws, hrow, j, name)
        c.font = bold
        if name in FILL:
            c.fill = fill
    first = hrow + 1
    for i, r in enumerate(rows.itertuples(index=False), start=first):
        _text_cell(ws, i, 1, r.phrase)
        _text_cell(ws, i, 2, r.used_by)
        _text_cell(ws, i, 3, r.unit_hint)
        if not np.isnan(r.value_on_file):
            ws.cell(row=i, column=4, value=float(r.value_on_file))
        _text_cell(ws, i, 5, r.on_file_from)
        for j, name in enumerate(COLUMNS, start=1):
            if name in FILL:
                c = ws.cell(row=i, column=j)
                c.protection = Protection(locked=False)
                c.fill = fill
    last = max(first, first + len(rows) - 1)
    col = {name: j for j, name in enumerate(COLUMNS, start=1)}

    def letter(name: str) -> str:
        from openpyxl.utils import get_column_letter

        return get_column_letter(col[name])

    dv_src = DataValidation(type="list", formula1='"' + ",".join(SOURCES) + '"', allow_blank=True,
                            showErrorMessage=True, errorTitle="source",
                            error="Choose data, estimate, perception or assumption.")
    dv_rel = DataValidation(type="list", formula1='"' + ",".join(RELIABILITIES) + '"', allow_blank=True,
                            showErrorMessage=True, errorTitle="reliability", error="Choose high, medium or low.")
    dv_val = DataValidation(type="decimal", operator="between", formula1="-1E+300", formula2="1E+300",
                            allow_blank=True, showErrorMessage=True, errorTitle="value",
                            error="Type a plain number (no units, no thousands separators).")
    for dv, name in ((dv_src, "source"), (dv_rel, "reliability"), (dv_val, "value")):
        ws.add_data_validation(dv)
        dv.add(f"{letter(name)}{first}:{letter(name)}{last}")
    widths = {"phrase": 42, "used by": 34, "unit hint": 20, "value on file": 14, "on file from": 36, "value": 14,
              "source": 13, "reliability": 12, "note": 40}
    for name, w in widths.items():
        ws.column_dimensions[letter(name)].width = w
    ws.column_dimensions["A"].width = max(widths["phrase"], 22)
    ws.freeze_panes = ws.cell(row=first, column=2)
    # Locked sheet and workbook structure: the fill cells stay editable, the
    # phrases, headers and sheet name (which the import relies on) do not.
    # No password: this guards against slips, not against the customer.
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False
    wb.security.lockStructure = True
    wb.save(path)


def write_worksheets(study: Study, out_dir: str | Path, *, customers: Iterable[str] | None = None) -> list[Path]:
    """Write one data-gathering workbook per customer.

    Parameters
    ----------
    study : Study
    out_dir : str or Path
        Folder for the workbooks (created if needed).
    customers : iterable of str, optional
        Customer ids; default every customer of the study.

    Returns
    -------
    list of Path
        The workbooks written, ``<study>_<customer>_inputs.xlsx``, each
        written whole or not at all. The sheet ``inputs`` holds a header block
        (study, customer, subsegment, offering, next-best-alternative, period,
        instructions) and the table ``phrase, used by, unit hint, value on
        file, on file from, value, source, reliability, note``.

    Examples
    --------
    >>> import tempfile, cvm_kit as cvm
    >>> from cvm_kit.worksheets import write_worksheets
    >>> study = cvm.load_study(cvm.example_path())
    >>> paths = write_worksheets(study, tempfile.mkdtemp(), customers=["C01"])
    >>> paths[0].name
    'pipe_coating_C01_inputs.xlsx'
    """
    from . import values as V
    from .io import atomic_file

    ids = list(study.customers["customer_id"]) if customers is None else list(dict.fromkeys(customers))
    for cid in ids:
        V.require_customer(study, cid)
    out_dir = Path(out_dir)
    written: list[Path] = []
    used: set[str] = set()
    for cid in ids:
        stem = f"{_safe_stem(study.label)}_{_safe_stem(cid)}_inputs"
        name, k = stem, 2
        while name.casefold() in used:  # two ids that sanitise alike
            name, k = f"{stem}_{k}", k + 1
        used.add(name.casefold())
        path = out_dir / f"{name}.xlsx"
        with atomic_file(path) as tmp:
            _write_one(study, cid, tmp)
        written.append(path)
    return written


# ---------------------------------------------------------------------------
# reading


#: Caps on a returned worksheet. One from `cvm worksheet` has a row per input phrase (tens, rarely hundreds)
#: and nine columns, and unpacks to well under a megabyte; a file past a cap is refused before it can
#: exhaust memory or time (a padded sheet, a zip bomb).
MAX_ROWS = 10_000
MAX_CELLS = 200_000
MAX_BYTES = 50_000_000  # declared uncompressed size of all the parts of the .xlsx
_MAX_PARTS = 1_000

_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NON_FINITE_WORDS = re.compile(r"[+-]?(?:inf|infinity|nan)", re.I)


def _parse_number(value: object) -> tuple[float | None, str | None]:
    """A cell value as a finite float, or ``(None, why not)``."""
    if isinstance(value, bool):
        return None, f"{value} (a TRUE/FALSE value)"
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        return (v, None) if np.isfinite(v) else (None, f"{v!r} is not a finite number")
    if isinstance(value, (_dt.date, _dt.datetime, _dt.time)):
        return None, f"{value} (a date or time)"
    if isinstance(value, str):
        t = value.strip().replace("\u2212", "-")
        if _NUMBER_TEXT.fullmatch(t):
            return _literal(t, repr(value.strip()))
        if _NON_FINITE_WORDS.fullmatch(t):
            return None, f"{value.strip()!r} is not a finite number"
    text = str(value)[:60]
    hint = ""
    if re.match(r"^[+-]?\d{1,3}([,. ']\d{3})+([.,]\d+)?$", str(value).strip()):
        hint = " (write it without thousands separators, e.g. 1200.5)"
    return None, f"{text!r} is text{hint}"


def _literal(text: str, shown: str) -> tuple[float | None, str | None]:
    """A number literal that must stay finite and must not underflow to 0 (``1e400``, ``1e-400``)."""
    v = float(text)
    if not np.isfinite(v):
        return None, f"{shown} is not a finite number (too large for a float)"
    if v == 0.0 and re.search(r"[1-9]", text.lower().split("e")[0]):
        return None, f"{shown} underflows to 0 (too small for a float); write 0 or a larger value"
    return v, None


def _to_number(value: object) -> float | None:
    """A cell value as a finite float, or None when it is not a plain finite number."""
    return _parse_number(value)[0]


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _package_problem(path: Path, max_bytes: int) -> str | None:
    """Refuse a zip whose declared contents are too big to unpack (checked before anything is unpacked).

    zipfile stops reading a part at its declared size, so the declared sizes bound what is read.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, RuntimeError):
        return None  # not a zip: openpyxl's own error says it is not a workbook
    if len(infos) > _MAX_PARTS:
        return (f"holds {len(infos)} parts, more than the cap of {_MAX_PARTS}; expected a worksheet written by "
                "`cvm worksheet`")
    total = sum(i.file_size for i in infos)
    if total > max_bytes:
        return (f"unpacks to {total / 1e6:.1f} MB, more than the cap of {max_bytes / 1e6:.1f} MB; a worksheet "
                "written by `cvm worksheet` unpacks to well under 1 MB (expected one, without added rows or data)")
    return None


def _scan_sheet(source, max_rows: int, max_cells: int) -> tuple[str | None, dict[str, str]]:
    """Stream the sheet's XML once, counting rows and cells, without building the sheet in memory.

    Returns the cap exceeded (or None) and the raw text of numeric cells that
    are not finite or underflow (``<v>1e400</v>`` reads as inf, ``1e-400`` as
    0: only the raw text tells), by cell reference.
    """
    from xml.etree.ElementTree import iterparse

    rows = cells = last = 0
    raw: dict[str, str] = {}
    for _, el in iterparse(source, events=("end",)):
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "c":
            cells += 1
            if cells > max_cells:
                return f"more than {max_cells} cells; expected a worksheet written by `cvm worksheet`", raw
            if el.get("t", "n") == "n":
                v = next((ch.text for ch in el if ch.tag.rsplit("}", 1)[-1] == "v"), None)
                ref = el.get("r")
                if v and ref:
                    t = v.strip()
                    try:
                        bad = _literal(t, t)[1] if _NUMBER_TEXT.fullmatch(t) else None
                        if bad is None and not np.isfinite(float(t)):
                            bad = f"{t} is not a finite number"
                    except ValueError:
                        bad = None
                    if bad:
                        raw[ref] = bad
            el.clear()
        elif tag == "row":
            rows += 1
            r = el.get("r")
            last = int(r) if r and r.isdigit() else last + 1
            if rows > max_rows or last > max_rows:
                return (f"more than {max_rows} rows (row {max(last, rows)} is used); a worksheet written by "
                        "`cvm worksheet` has one row per input, so rows were added below its table or this is "
                        f"another workbook; expected at most {max_rows} rows"), raw
            el.clear()
    return None, raw


def _rows_of(ws, max_rows: int, max_cells: int) -> list[tuple]:
    """A read-only sheet's values, row by row (the caps hold even if the XML scan was skipped)."""
    ws.reset_dimensions()  # the declared dimension may lie: read what is there, within the caps
    out: list[tuple] = []
    cells = 0
    for row in ws.iter_rows(values_only=True):
        cells += len(row)
        if len(out) >= max_rows:
            raise CvmError(f"more than {max_rows} rows; expected a worksheet written by `cvm worksheet`")
        if cells > max_cells:
            raise CvmError(f"more than {max_cells} cells; expected a worksheet written by `cvm worksheet`")
        out.append(tuple(row))
    return out


def _grid(path: Path, *, data_only: bool, max_rows: int, max_cells: int,
          scan: bool = False) -> tuple[list[tuple] | None, str | None, dict[str, str]]:
    """The ``inputs`` sheet's values read streaming (openpyxl read-only mode), after an XML scan if asked.

    Returns ``(rows, problem, raw_numbers)``: rows None with the problem (no
    sheet, a cap exceeded) when it cannot be read.
    """
    import warnings as _w

    from openpyxl import load_workbook

    with _w.catch_warnings():
        _w.simplefilter("ignore")  # openpyxl warns about extensions it drops
        wb = load_workbook(path, read_only=True, data_only=data_only)
    try:
        if SHEET not in wb.sheetnames:
            return None, (f"no sheet named {SHEET!r}; found: {', '.join(repr(s) for s in wb.sheetnames)}; "
                          "expected the sheet `cvm worksheet` wrote"), {}
        ws = wb[SHEET]
        raw: dict[str, str] = {}
        source = getattr(ws, "_get_source", None)  # openpyxl's stream of the sheet XML
        if scan and source is not None:
            with source() as src:
                cap, raw = _scan_sheet(src, max_rows, max_cells)
            if cap:
                return None, cap, raw
        try:
            return _rows_of(ws, max_rows, max_cells), None, raw
        except ValueError:
            if raw:  # openpyxl cannot even parse <v>NaN</v>: the scan located it
                return [], None, raw
            raise
    finally:
        wb.close()


def _read_one(study: Study, path: Path, known: dict[str, str], problems: list[Problem], *,
              max_rows: int = MAX_ROWS, max_cells: int = MAX_CELLS, max_bytes: int = MAX_BYTES) -> list[dict]:
    """Rows of one filled workbook (problems appended, nothing raised)."""
    from xml.etree.ElementTree import ParseError

    from openpyxl.utils import get_column_letter

    label = path.name
    if not path.is_file():
        problems.append(Problem(str(path), "", "no such file; expected a filled worksheet (.xlsx)"))
        return []
    too_big = _package_problem(path, max_bytes)
    if too_big:
        problems.append(Problem(label, "", too_big))
        return []
    loc = f"sheet {SHEET}"
    try:
        grid, why, raw_numbers = _grid(path, data_only=False, max_rows=max_rows, max_cells=max_cells, scan=True)
    except (ParseError, CvmError) as exc:
        problems.append(Problem(label, loc, f"cannot be read ({exc})"))
        return []
    except Exception as exc:  # zipfile/openpyxl raise many types for a non-workbook
        problems.append(Problem(label, "", f"cannot be opened as an Excel workbook ({type(exc).__name__}); "
                                           "expected an .xlsx written by `cvm worksheet`"))
        return []
    if grid is None:
        problems.append(Problem(label, loc if why and why.startswith("more than") else f"sheet {SHEET!r}", why))
        return []
    if not grid and raw_numbers:
        for ref_, msg in raw_numbers.items():
            problems.append(Problem(label, f"{loc}, cell {ref_}", f"{msg}; expected a plain number"))
        return []

    def at(g: list[tuple], r: int, c: int) -> object:
        row = g[r - 1] if 0 < r <= len(g) else ()
        return row[c - 1] if 0 < c <= len(row) else None

    # the table header: the first row naming most of the expected columns
    hrow, header = None, {}
    for r in range(1, min(len(grid), 40) + 1):
        names = {_cell_text(v).casefold(): c for c, v in enumerate(grid[r - 1], start=1)}
        if sum(n in names for n in COLUMNS) >= len(COLUMNS) // 2:
            hrow, header = r, names
            break
    if hrow is None:
        problems.append(Problem(label, loc, f"no table header row found; expected a row with the columns "
                                            f"{', '.join(COLUMNS)}"))
        return []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        found = [f"{get_column_letter(c)}{hrow} {n!r}" for n, c in sorted(header.items(), key=lambda x: x[1])
                 if n and n not in COLUMNS]
        problems.append(Problem(label, f"{loc}, row {hrow}",
                                f"missing column(s) {', '.join(repr(c) for c in missing)}"
                                + (f"; unexpected header(s) {', '.join(found)}" if found else "")
                                + f"; expected the columns {', '.join(COLUMNS)} (do not rename them)"))
        return []
    # the customer, from the header block
    cid, cid_cell = None, None
    for r in range(1, hrow):
        if _cell_text(at(grid, r, 1)).casefold() == "customer":
            cid, cid_cell = _cell_text(at(grid, r, 2)), f"B{r}"
            break
    if cid is None:
        problems.append(Problem(label, loc, f"no 'Customer' line above the table (rows 1-{hrow - 1}); "
                                            "expected the customer id in column B of that line"))
        return []
    if cid not in set(study.customers["customer_id"]):
        problems.append(Problem(label, f"{loc}, cell {cid_cell}",
                                f"unknown customer {cid[:60]!r}; expected a customer_id of customers.csv"))
        return []
    cached = None  # data_only copy, read only if a value is a formula
    out = []
    for r in range(hrow + 1, len(grid) + 1):
        def get(name: str):
            return at(grid, r, header[name])

        def ref(name: str) -> str:
            return f"{get_column_letter(header[name])}{r}"

        phrase_raw = _cell_text(get("phrase"))
        raw_value = get("value")
        src = _cell_text(get("source")).casefold()
        rel = _cell_text(get("reliability")).casefold()
        note = _cell_text(get("note"))
        if isinstance(raw_value, str) and not raw_value.strip():
            raw_value = None
        if not phrase_raw:
            if raw_value is not None or src or rel or note:
                problems.append(Problem(label, f"{loc}, row {r}", "values filled on a row without a phrase; "
                                        "expected them on a row of the table (do not add rows)"))
            continue
        p = normalize_phrase(phrase_raw)
        if p not in known:
            problems.append(Problem(label, f"{loc}, cell {get_column_letter(header['phrase'])}{r}",
                                    f"unknown phrase [{phrase_raw[:80]}]; expected an input of the study's "
                                    "equations (do not edit the phrase column)"))
            continue
        if raw_value is None:
            continue  # not filled: nothing to import
        n_before = len(problems)
        what = f"[{phrase_raw[:80]}]"
        if isinstance(raw_value, str) and raw_value.startswith("="):
            if cached is None:
                cached = _grid(path, data_only=True, max_rows=max_rows, max_cells=max_cells)[0] or []
            value, why = _parse_number(at(cached, r, header["value"]))
            if value is None:
                problems.append(Problem(label, f"{loc}, cell {ref('value')} ({what})",
                                        f"a formula ({raw_value[:40]!r}) without a saved finite numeric result; "
                                        "expected a plain number"))
        elif ref("value") in raw_numbers:
            value = None
            problems.append(Problem(label, f"{loc}, cell {ref('value')} ({what})",
                                    f"{raw_numbers[ref('value')]}; expected a plain number"))
        else:
            value, why = _parse_number(raw_value)
            if value is None:
                problems.append(Problem(label, f"{loc}, cell {ref('value')} ({what})",
                                        f"{why}; expected a plain number"))
        if src not in SOURCES:
            bad_src = "empty source" if not src else f"{src[:40]!r} is not a source word"
            problems.append(Problem(label, f"{loc}, cell {ref('source')} ({what})",
                                    f"{bad_src}; expected one of {', '.join(SOURCES)}"))
        if rel and rel not in RELIABILITIES:
            problems.append(Problem(label, f"{loc}, cell {ref('reliability')} ({what})",
                                    f"{rel[:40]!r}; expected one of {', '.join(RELIABILITIES)} or empty"))
        if len(problems) > n_before:
            continue
        out.append({"customer_id": cid, "variable": known[p], "phrase": p, "value": value, "source": src,
                    "reliability": rel, "note": note, "file": str(path), "where": f"{label}: {loc}, cell {ref('value')}"})
    return out


def read_worksheets(study: Study, files: Iterable[str | Path], *, max_rows: int = MAX_ROWS,
                    max_cells: int = MAX_CELLS, max_bytes: int = MAX_BYTES) -> pd.DataFrame:
    """Read filled worksheets back, checking every cell.

    Parameters
    ----------
    study : Study
    files : iterable of path
        Workbooks written by :func:`write_worksheets` and filled in.
    max_rows, max_cells : int
        Caps on the ``inputs`` sheet's rows (the last row used) and cells;
        a workbook past either is refused. The sheet is read streaming, so a
        padded sheet is refused without being loaded.
    max_bytes : int
        Cap on the workbook's declared uncompressed size (all its parts),
        checked before anything is unpacked (a zip bomb is refused at once).

    Returns
    -------
    DataFrame
        One row per filled value: ``customer_id, variable, phrase, value,
        source, reliability, note, file, where``; ``variable`` is the phrase as
        written in the study's equations, ``phrase`` its normalised form,
        ``where`` the file, sheet and cell of the value. Rows whose value is
        empty are not imported.

    Raises
    ------
    StudyError
        Listing every problem in every file at once (missing sheet, renamed or
        missing columns, text in a number cell, a bad source or reliability
        word, an unknown customer or phrase), each located by file, sheet and
        cell. Nothing is written.

    Examples
    --------
    >>> import tempfile, cvm_kit as cvm
    >>> from cvm_kit.worksheets import write_worksheets, read_worksheets
    >>> study = cvm.load_study(cvm.example_path())
    >>> paths = write_worksheets(study, tempfile.mkdtemp(), customers=["C01"])
    >>> len(read_worksheets(study, paths))  # nothing filled yet
    0
    """
    from . import values as V

    display = V._display_names(study)
    known = {p: display.get(p, p) for p in V.input_phrases(study)}
    problems: list[Problem] = []
    rows: list[dict] = []
    files = [Path(f) for f in files]
    if not files:
        raise CvmError("no worksheet given; expected one or more filled .xlsx files")
    for f in files:
        rows.extend(_read_one(study, f, known, problems, max_rows=max_rows, max_cells=max_cells,
                              max_bytes=max_bytes))
    if problems:
        raise StudyError(problems)
    cols = ["customer_id", "variable", "phrase", "value", "source", "reliability", "note", "file", "where"]
    df = pd.DataFrame(rows, columns=cols)
    df["value"] = df["value"].astype(float)
    return df


# ---------------------------------------------------------------------------
# import plan


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _same(a: float, b: float) -> bool:
    return bool(np.isclose(a, b, rtol=1e-9, atol=1e-12))


def _fmt(v: float) -> str:
    return f"{v:g}" if np.isfinite(v) else ""


def plan_import(study: Study, new_rows: pd.DataFrame, *, replace: bool = False) -> pd.DataFrame:
    """What importing filled worksheets would change in ``measurements.csv``.

    Parameters
    ----------
    study : Study
    new_rows : DataFrame
        From :func:`read_worksheets`.
    replace : bool
        Let a filled value replace a different value on file (``changed``);
        by default that is a ``conflict``.

    Returns
    -------
    DataFrame
        One row per customer and phrase filled: ``customer_id, variable,
        on_file, new_value, action, detail, source, reliability, note,
        where``. ``action`` is ``added`` (nothing on file), ``unchanged``
        (the value on file, the mean of the customer's rows, is the same),
        ``changed`` (differs, and ``replace``) or ``conflict`` (two workbooks
        disagree, or the value differs from the one on file without
        ``replace``). ``detail`` says why. ``plan.attrs`` records the
        ``measurements.csv`` it was planned against.

    Examples
    --------
    >>> import cvm_kit as cvm, pandas as pd
    >>> from cvm_kit.worksheets import plan_import
    >>> study = cvm.load_study("tests/data/tiny")
    >>> rows = pd.DataFrame({"customer_id": ["B3"], "variable": ["kWh, offering"], "phrase": ["kwh, offering"],
    ...                      "value": [300.0], "source": ["data"], "reliability": [""], "note": [""],
    ...                      "file": ["b3.xlsx"], "where": ["b3.xlsx: E12"]})
    >>> plan_import(study, rows)[["customer_id", "action"]].values.tolist()
    [['B3', 'added']]
    """
    from . import values as V

    table = V.measurement_table(study).set_index(["customer_id", "phrase"])
    out = []
    if len(new_rows):
        groups = new_rows.groupby(["customer_id", "phrase"], sort=False)
    else:
        groups = []
    for (cid, p), g in groups:
        first = g.iloc[0]
        vals = g["value"].to_numpy(float)
        distinct = [v for i, v in enumerate(vals) if not any(_same(v, w) for w in vals[:i])]
        where = "; ".join(g["where"])
        on_file = float(table.loc[(cid, p), "value"]) if (cid, p) in table.index else np.nan
        n_on_file = int(table.loc[(cid, p), "n"]) if (cid, p) in table.index else 0
        new_value = float(first["value"])
        if len(distinct) > 1:
            action = "conflict"
            detail = "filled values disagree: " + "; ".join(f"{_fmt(v)} at {w}" for v, w in zip(vals, g["where"])) + \
                     "; correct or leave out one workbook"
            new_value = np.nan
        elif np.isnan(on_file):
            action, detail = "added", "nothing on file"
        elif _same(new_value, on_file):
            action, detail = "unchanged", "same as on file"
        else:
            rows_txt = f"the mean of {n_on_file} rows" if n_on_file > 1 else "1 row"
            if replace:
                action, detail = "changed", f"replaces {_fmt(on_file)} ({rows_txt})"
            else:
                action = "conflict"
                detail = f"differs from {_fmt(on_file)} on file ({rows_txt}); import with --replace to replace it"
        out.append((cid, first["variable"], on_file, new_value, action, detail, first["source"],
                    first["reliability"], first["note"], where))
    plan = pd.DataFrame(out, columns=PLAN_COLUMNS)
    plan["on_file"] = plan["on_file"].astype(float)
    plan["new_value"] = plan["new_value"].astype(float)
    mpath = _measurements_path(study)
    plan.attrs["study"] = str(study.path)
    plan.attrs["measurements_sha256"] = _sha256(mpath) if mpath is not None and mpath.is_file() else ""
    return plan


def _measurements_path(study: Study) -> Path | None:
    p = Path(study.path)
    return None if p.suffix.lower() in (".xlsx", ".xlsm") else p / MEASUREMENTS_FILE


def _number_text(v: float) -> str:
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v))


def _new_measurements(plan: pd.DataFrame, raw: bytes, path: Path) -> tuple[pd.DataFrame, int]:
    """The measurements.csv ``raw`` as text, minus replaced rows, plus the new rows (the last ``n`` rows).

    Existing rows are kept as written (every column read as text), so the
    file's diff shows only the rows the import adds or replaces.
    """
    import io as _io

    try:
        cur = pd.read_csv(_io.BytesIO(raw), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except Exception as exc:  # the study loaded, so this is an edit by another program
        raise CvmError(f"{path} cannot be read again: {exc}") from exc
    cur.columns = [str(c).strip() for c in cur.columns]
    for col in ("reliability", "note"):
        if col not in cur.columns:
            cur[col] = ""
    changed = plan[plan["action"] == "changed"]
    drop = set(zip(changed["customer_id"], changed["variable"].map(normalize_phrase)))
    keep = [(c, normalize_phrase(str(v))) not in drop for c, v in zip(cur["customer_id"], cur["variable"])]
    cur = cur[keep]
    add = plan[plan["action"].isin(["added", "changed"])]
    new = pd.DataFrame({c: [""] * len(add) for c in cur.columns})
    new["customer_id"] = add["customer_id"].to_numpy(object)
    new["variable"] = add["variable"].to_numpy(object)
    new["value"] = [_number_text(v) for v in add["new_value"]]
    new["source"] = add["source"].to_numpy(object)
    new["reliability"] = add["reliability"].to_numpy(object)
    new["note"] = add["note"].to_numpy(object)
    return pd.concat([cur, new], ignore_index=True), len(add)


def _check_writable(study: Study, plan: pd.DataFrame) -> Path:
    mpath = _measurements_path(study)
    if mpath is None:
        raise CvmError(f"{study.path} is a study workbook; only a study folder can be written by an import. "
                       "Convert it with cvm_kit.save_study(study, 'folder') and import into the folder")
    if plan.attrs.get("measurements_sha256") and mpath.is_file() and \
            _sha256(mpath) != plan.attrs["measurements_sha256"]:
        raise CvmError(f"{mpath} changed since this import was planned; plan the import again")
    conflicts = plan[plan["action"] == "conflict"]
    if len(conflicts):
        lines = "\n".join(f"  {r.customer_id} [{r.variable}]: {r.detail}" for r in conflicts.itertuples())
        raise CvmError(f"{len(conflicts)} conflict(s); nothing written:\n{lines}")
    return mpath


#: Seconds a second writer waits for the study's lock before giving up (``cvm import --lock-timeout``).
LOCK_TIMEOUT = 120.0
_LOCKS: dict[Path, object] = {}


@contextlib.contextmanager
def study_lock(study_path: str | Path, *, timeout: float = LOCK_TIMEOUT,
               on_wait: Callable[[], None] | None = None) -> Iterator[Path]:
    """Hold the study folder's write lock (``<study>/.cvm.lock``, see :data:`LOCK_FILE`).

    Every import that writes takes it, so two imports never interleave their
    read-check-replace of ``measurements.csv``. The lock is an OS file lock
    (the ``filelock`` library): it is released when its holder exits, even
    by a crash, so a stale lock cannot block a study. Re-entrant within one
    thread. The lock file is hidden and never read as study input.

    Parameters
    ----------
    study_path : str or Path
        The study folder.
    timeout : float
        Seconds to wait for another writer before giving up.
    on_wait : callable, optional
        Called once, before waiting, when another writer holds the lock.

    Raises
    ------
    CvmError
        When the lock is still held after ``timeout`` seconds, or cannot be
        created (a read-only folder).
    """
    from filelock import FileLock, Timeout

    folder = Path(study_path).expanduser().resolve()
    path = folder / LOCK_FILE
    lock = _LOCKS.get(path)
    if lock is None:  # one lock object per path: a second object would block its own process
        lock = _LOCKS[path] = FileLock(str(path))
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if on_wait is not None:
                on_wait()
            lock.acquire(timeout=timeout)
    except Timeout:
        raise CvmError(f"another cvm import has been writing {folder} for more than {timeout:g} s (it holds "
                       f"{path}); nothing written. Run the import again when it has finished") from None
    except OSError as exc:
        raise CvmError(f"cannot lock {folder} for writing ({path}: {exc.strerror or exc}); nothing written") from None
    try:
        yield path
    finally:
        lock.release()


def _record_lines(text: str) -> list[int]:
    """The file line each CSV record starts on (the header is line 1)."""
    import csv
    import io as _io

    reader = csv.reader(_io.StringIO(text))
    starts, prev = [], 0
    for _ in reader:
        starts.append(prev + 1)
        prev = reader.line_num
    return starts[1:]


def _located(problems: Sequence[Problem], where_by_line: dict[int, str], scratch: str,
             study_path: str) -> list[Problem]:
    """Problems found in the scratch copy, pointing at the worksheet cell a new row came from.

    A problem on a line of ``measurements.csv`` that the import added names
    the worksheet's file, sheet and cell instead (the scratch file is gone
    and was never the user's); any other names the study, not the scratch
    folder.
    """
    out = []
    for p in problems:
        m = re.match(r"line (\d+)(?:, )?(.*)", p.where)
        msg = p.message.replace(scratch, study_path)
        if p.file.endswith(MEASUREMENTS_FILE) and m and int(m.group(1)) in where_by_line:
            wfile, _, wwhere = where_by_line[int(m.group(1))].partition(": ")
            col = "" if not m.group(2) or m.group(2).startswith("column value") else \
                f" (the imported row's {m.group(2).split(' (')[0]})"
            out.append(Problem(wfile, wwhere + col, msg, p.severity))
        else:
            out.append(Problem(p.file.replace(scratch, study_path), p.where, msg, p.severity))
    return out


def _write(study: Study, plan: pd.DataFrame, *, lock_timeout: float = LOCK_TIMEOUT,
           on_wait: Callable[[], None] | None = None) -> tuple[Path, Path] | None:
    from .io import atomic_file
    from .validate import validate

    mpath = _check_writable(study, plan)
    if not plan["action"].isin(["added", "changed"]).any():
        return None
    with study_lock(study.path, timeout=lock_timeout, on_wait=on_wait):
        # under the lock: what the plan was made against must still be on disk
        raw = mpath.read_bytes()
        if plan.attrs.get("measurements_sha256") and hashlib.sha256(raw).hexdigest() != plan.attrs[
                "measurements_sha256"]:
            raise CvmError(f"{mpath} changed since this import was planned (another import wrote it); "
                           "nothing written; plan the import again")
        new, n_new = _new_measurements(plan, raw, mpath)
        # measurements.csv is the study's own data, read back as text: written exactly, never
        # apostrophe-guarded (guarding is for exports; it would corrupt ids and notes here)
        text = new.to_csv(index=False)
        data = text.encode("utf-8")
        add = plan[plan["action"].isin(["added", "changed"])]
        lines = _record_lines(text)
        where_by_line = dict(zip(lines[len(lines) - n_new:], add["where"])) if n_new else {}
        # check the study as it would be, in a scratch copy, before touching anything
        with tempfile.TemporaryDirectory() as scratch:
            s = Path(scratch) / Path(study.path).name
            s.mkdir()
            for name in (PROJECT_FILE, CUSTOMERS_FILE, *OPTIONAL_FILES):
                if (Path(study.path) / name).is_file():
                    shutil.copy2(Path(study.path) / name, s / name)
            (s / MEASUREMENTS_FILE).write_bytes(data)
            report = validate(s)
            if report.errors:
                raise StudyError(_located(report.errors, where_by_line, str(s), str(study.path)),
                                 f"{study.path} after the import (nothing written)")
        # just before the replace: a program that does not take the lock (an editor) may have saved meanwhile
        if mpath.read_bytes() != raw:
            raise CvmError(f"{mpath} changed while this import was being checked (saved by another program); "
                           "nothing written; run the import again")
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        backup = mpath.with_name(f"measurements.{stamp}.bak.csv")
        k = 2
        while backup.exists():
            backup = mpath.with_name(f"measurements.{stamp}-{k}.bak.csv")
            k += 1
        with atomic_file(backup, study_input=True) as tmp:
            tmp.write_bytes(raw)
            shutil.copystat(mpath, tmp)
        with atomic_file(mpath, study_input=True) as tmp:
            tmp.write_bytes(data)
    return mpath, backup


def apply_import(study: Study, plan: pd.DataFrame, *, write: bool = False,
                 lock_timeout: float = LOCK_TIMEOUT) -> Path | None:
    """Write the planned import into the study folder, only when asked.

    Parameters
    ----------
    study : Study
        A study *folder* (a workbook study cannot be written; convert it).
    plan : DataFrame
        From :func:`plan_import` on the same study.
    write : bool
        Do nothing unless True.
    lock_timeout : float
        Seconds to wait while another import holds the study's write lock
        (:func:`study_lock`).

    Returns
    -------
    Path or None
        The new ``measurements.csv``; None when not asked to write or when
        nothing is added or changed. Before writing, the previous file is
        kept as ``measurements.YYYYMMDD-HHMMSS.bak.csv`` beside it, and the
        study as it would be is validated in a scratch copy (a problem in an
        imported row is reported at its worksheet cell); both files are
        written whole or not at all, under the study's write lock, after
        checking that ``measurements.csv`` is still the one planned against.

    Raises
    ------
    CvmError
        While any row is a ``conflict``; for a workbook study; if
        ``measurements.csv`` changed since the plan; if another import holds
        the lock for more than ``lock_timeout`` seconds.
    StudyError
        If the study would not validate after the import (nothing written).
    """
    if not write:
        return None
    done = _write(study, plan, lock_timeout=lock_timeout)
    return None if done is None else done[0]


def import_summary(plan: pd.DataFrame) -> str:
    """One line counting the plan's actions, e.g. ``2 added, 1 changed, 0 unchanged, 1 conflict``."""
    counts = plan["action"].value_counts()
    return ", ".join(f"{int(counts.get(a, 0))} {a}" for a in ACTIONS)
