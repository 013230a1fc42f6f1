"""Reading filled worksheets back, checking every cell (streaming, within caps)."""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ..equations import normalize_phrase
from ..errors import CvmError, Problem, StudyError
from ..study import RELIABILITIES, SOURCES, Study
from .layout import COLUMNS, REQUIRED, SHEET

__all__ = ["MAX_BYTES", "MAX_CELLS", "MAX_ROWS", "read_worksheets"]

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


def _at(grid: list[tuple], r: int, c: int) -> object:
    """The value of cell (row ``r``, column ``c``), 1-based; None outside the grid."""
    row = grid[r - 1] if 0 < r <= len(grid) else ()
    return row[c - 1] if 0 < c <= len(row) else None


def _open_grid(path: Path, label: str, loc: str, problems: list[Problem], *, max_rows: int, max_cells: int,
               max_bytes: int) -> tuple[list[tuple], dict[str, str]] | None:
    """The sheet's cells and the raw text of bad numbers; None (a problem appended) when it cannot be read."""
    from xml.etree.ElementTree import ParseError

    if not path.is_file():
        problems.append(Problem(str(path), "", "no such file; expected a filled worksheet (.xlsx)"))
        return None
    too_big = _package_problem(path, max_bytes)
    if too_big:
        problems.append(Problem(label, "", too_big))
        return None
    try:
        grid, why, raw_numbers = _grid(path, data_only=False, max_rows=max_rows, max_cells=max_cells, scan=True)
    except (ParseError, CvmError) as exc:
        problems.append(Problem(label, loc, f"cannot be read ({exc})"))
        return None
    except Exception as exc:  # zipfile/openpyxl raise many types for a non-workbook
        problems.append(Problem(label, "", f"cannot be opened as an Excel workbook ({type(exc).__name__}); "
                                           "expected an .xlsx written by `cvm worksheet`"))
        return None
    if grid is None:
        problems.append(Problem(label, loc if why and why.startswith("more than") else f"sheet {SHEET!r}",
                                why or f"no sheet {SHEET!r}"))
        return None
    if not grid and raw_numbers:
        for ref_, msg in raw_numbers.items():
            problems.append(Problem(label, f"{loc}, cell {ref_}", f"{msg}; expected a plain number"))
        return None
    return grid, raw_numbers


def _table_header(grid: list[tuple], label: str, loc: str, problems: list[Problem]
                  ) -> tuple[int, dict[str, int]] | None:
    """The table header: the first row naming most of the expected columns, with every required one."""
    from openpyxl.utils import get_column_letter

    hrow, header = None, {}
    for r in range(1, min(len(grid), 40) + 1):
        names = {_cell_text(v).casefold(): c for c, v in enumerate(grid[r - 1], start=1)}
        if sum(n in names for n in COLUMNS) >= len(COLUMNS) // 2:
            hrow, header = r, names
            break
    if hrow is None:
        problems.append(Problem(label, loc, f"no table header row found; expected a row with the columns "
                                            f"{', '.join(COLUMNS)}"))
        return None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        found = [f"{get_column_letter(c)}{hrow} {n!r}" for n, c in sorted(header.items(), key=lambda x: x[1])
                 if n and n not in COLUMNS]
        problems.append(Problem(label, f"{loc}, row {hrow}",
                                f"missing column(s) {', '.join(repr(c) for c in missing)}"
                                + (f"; unexpected header(s) {', '.join(found)}" if found else "")
                                + f"; expected the columns {', '.join(COLUMNS)} (do not rename them)"))
        return None
    return hrow, header


def _customer_of(study: Study, grid: list[tuple], hrow: int, label: str, loc: str,
                 problems: list[Problem]) -> str | None:
    """The customer id of the header block above the table (a known customer), else None."""
    cid, cid_cell = None, None
    for r in range(1, hrow):
        if _cell_text(_at(grid, r, 1)).casefold() == "customer":
            cid, cid_cell = _cell_text(_at(grid, r, 2)), f"B{r}"
            break
    if cid is None:
        problems.append(Problem(label, loc, f"no 'Customer' line above the table (rows 1-{hrow - 1}); "
                                            "expected the customer id in column B of that line"))
        return None
    if cid not in set(study.customers["customer_id"]):
        problems.append(Problem(label, f"{loc}, cell {cid_cell}",
                                f"unknown customer {cid[:60]!r}; expected a customer_id of customers.csv"))
        return None
    return cid


class _Rows:
    """The table rows of one opened worksheet, read one at a time into import rows."""

    def __init__(self, path: Path, grid: list[tuple], header: dict[str, int], raw_numbers: dict[str, str],
                 problems: list[Problem], *, max_rows: int, max_cells: int) -> None:
        self.path, self.label, self.loc = path, path.name, f"sheet {SHEET}"
        self.grid, self.header, self.raw_numbers, self.problems = grid, header, raw_numbers, problems
        self.max_rows, self.max_cells = max_rows, max_cells
        self.cached: list[tuple] | None = None  # data_only copy, read only if a value is a formula

    def get(self, r: int, name: str) -> object:
        return _at(self.grid, r, self.header[name])

    def ref(self, r: int, name: str) -> str:
        from openpyxl.utils import get_column_letter

        return f"{get_column_letter(self.header[name])}{r}"

    def problem(self, where: str, message: str) -> None:
        self.problems.append(Problem(self.label, f"{self.loc}, {where}", message))

    def value(self, r: int, raw_value: object, what: str) -> float | None:
        """The row's value as a finite number; None with a problem appended."""
        ref = self.ref(r, "value")
        if isinstance(raw_value, str) and raw_value.startswith("="):
            if self.cached is None:
                self.cached = _grid(self.path, data_only=True, max_rows=self.max_rows,
                                    max_cells=self.max_cells)[0] or []
            value, why = _parse_number(_at(self.cached, r, self.header["value"]))
            if value is None:
                self.problem(f"cell {ref} ({what})", f"a formula ({raw_value[:40]!r}) without a saved finite numeric "
                                                     "result; expected a plain number")
            return value
        if ref in self.raw_numbers:
            self.problem(f"cell {ref} ({what})", f"{self.raw_numbers[ref]}; expected a plain number")
            return None
        value, why = _parse_number(raw_value)
        if value is None:
            self.problem(f"cell {ref} ({what})", f"{why}; expected a plain number")
        return value

    def row(self, r: int, cid: str, known: dict[str, str]) -> dict | None:
        """Row ``r`` as an import row; None when not filled or wrong (problems appended)."""
        phrase_raw = _cell_text(self.get(r, "phrase"))
        raw_value = self.get(r, "value")
        src = _cell_text(self.get(r, "source")).casefold()
        rel = _cell_text(self.get(r, "reliability")).casefold()
        note = _cell_text(self.get(r, "note"))
        if isinstance(raw_value, str) and not raw_value.strip():
            raw_value = None
        if not phrase_raw:
            if raw_value is not None or src or rel or note:
                self.problem(f"row {r}", "values filled on a row without a phrase; "
                                         "expected them on a row of the table (do not add rows)")
            return None
        p = normalize_phrase(phrase_raw)
        if p not in known:
            self.problem(f"cell {self.ref(r, 'phrase')}", f"unknown phrase [{phrase_raw[:80]}]; expected an input of "
                                                          "the study's equations (do not edit the phrase column)")
            return None
        if raw_value is None:
            return None  # not filled: nothing to import
        n_before = len(self.problems)
        what = f"[{phrase_raw[:80]}]"
        value = self.value(r, raw_value, what)
        if src not in SOURCES:
            bad_src = "empty source" if not src else f"{src[:40]!r} is not a source word"
            self.problem(f"cell {self.ref(r, 'source')} ({what})", f"{bad_src}; expected one of {', '.join(SOURCES)}")
        if rel and rel not in RELIABILITIES:
            self.problem(f"cell {self.ref(r, 'reliability')} ({what})",
                         f"{rel[:40]!r}; expected one of {', '.join(RELIABILITIES)} or empty")
        if len(self.problems) > n_before:
            return None
        return {"customer_id": cid, "variable": known[p], "phrase": p, "value": value, "source": src,
                "reliability": rel, "note": note, "file": str(self.path),
                "where": f"{self.label}: {self.loc}, cell {self.ref(r, 'value')}"}


def _read_one(study: Study, path: Path, known: dict[str, str], problems: list[Problem], *,
              max_rows: int = MAX_ROWS, max_cells: int = MAX_CELLS, max_bytes: int = MAX_BYTES) -> list[dict]:
    """Rows of one filled workbook (problems appended, nothing raised)."""
    label, loc = path.name, f"sheet {SHEET}"
    opened = _open_grid(path, label, loc, problems, max_rows=max_rows, max_cells=max_cells, max_bytes=max_bytes)
    if opened is None:
        return []
    grid, raw_numbers = opened
    found = _table_header(grid, label, loc, problems)
    if found is None:
        return []
    hrow, header = found
    cid = _customer_of(study, grid, hrow, label, loc, problems)
    if cid is None:
        return []
    rows = _Rows(path, grid, header, raw_numbers, problems, max_rows=max_rows, max_cells=max_cells)
    out = []
    for r in range(hrow + 1, len(grid) + 1):
        row = rows.row(r, cid, known)
        if row is not None:
            out.append(row)
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
    from .. import values as V

    display = V.display_names(study)
    known = {p: display.get(p, p) for p in V.input_phrases(study)}
    problems: list[Problem] = []
    rows: list[dict] = []
    paths = [Path(f) for f in files]
    if not paths:
        raise CvmError("no worksheet given; expected one or more filled .xlsx files")
    for f in paths:
        rows.extend(_read_one(study, f, known, problems, max_rows=max_rows, max_cells=max_cells,
                              max_bytes=max_bytes))
    if problems:
        raise StudyError(problems)
    cols = ["customer_id", "variable", "phrase", "value", "source", "reliability", "note", "file", "where"]
    df = pd.DataFrame(rows, columns=cols)
    df["value"] = df["value"].astype(float)
    return df
