"""Reading a study folder or workbook into the raw form the checks take.

:func:`read_raw` reads the files of a study folder (``project.yaml`` through
:mod:`~cvm_kit.study.yamlsafe`, the CSV tables as all-text frames with their
file line numbers, ``;``/tab-separated files and decimal commas sniffed) or
the sheets of a study workbook, and reports only what stops a file from being
read: a missing file, the wrong encoding, malformed YAML or CSV. What the
content means is checked by :mod:`cvm_kit.study.checks`.
"""

from __future__ import annotations

import datetime as _dt
import io
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ..errors import Problem
from .cells import map_unique
from .factors import from_codes
from .model import (
    CUSTOMERS_FILE,
    MEASUREMENTS_FILE,
    MODEL_SHEETS,
    OPTIONAL_FILES,
    PROJECT_FILE,
    SECTIONS,
    TABLE_SHEETS,
    content_hash,
)
from .yamlsafe import load_yaml


class _Hashing:
    """:func:`~cvm_kit.study.model.content_hash` of a study's files, computed in a thread from the moment they are read.

    hashlib lets go of the GIL while it hashes a large buffer, so on a second
    core the 37 MB of a 5,000-customer study are hashed while pandas parses
    them, instead of after the checks (about 45 ms).
    """

    _THREAD_FROM = 1 << 20  # bytes: a small study is hashed at once, no thread

    def __init__(self, files: dict[str, bytes]) -> None:
        self._files = dict(files)  # the bytes as read: a later change to the caller's dict is not hashed
        self._value: str | None = None
        self._thread: threading.Thread | None = None
        if sum(map(len, self._files.values())) >= self._THREAD_FROM:
            self._thread = threading.Thread(target=self._run, name="cvm-study-hash", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        self._value = content_hash(self._files)

    def hashes(self, files: dict[str, bytes]) -> bool:
        """Whether this hash is of ``files`` (the same names and bytes)."""
        return self._files == files

    def result(self) -> str:
        if self._thread is not None:
            self._thread.join()
        return self._value if self._value is not None else content_hash(self._files)


@dataclass
class RawStudy:
    """A study as read, before checks: YAML data and all-text tables."""

    path: Path
    project: dict[str, Any] | None
    tables: dict[str, pd.DataFrame]  # file name -> text table with a 'line' column
    labels: dict[str, str]  # file name -> how to name it in messages
    files: dict[str, bytes]
    project_label: str = PROJECT_FILE
    project_lines: dict[str, list[int]] = field(default_factory=dict)  # workbook: sheet rows per model section
    yaml_lines: dict[tuple[Any, ...], int] = field(default_factory=dict)  # project.yaml: line of each key path
    hashing: _Hashing | None = field(default=None, repr=False, compare=False)  # started by read_raw

    def content_hash(self) -> str:
        """The study's content hash (:func:`~cvm_kit.study.model.content_hash` of ``files``)."""
        if self.hashing is not None and self.hashing.hashes(self.files):
            return self.hashing.result()
        return content_hash(self.files)


def _read_yaml(text: str, label: str, problems: list[Problem],
               lines: dict[tuple[Any, ...], int] | None = None) -> dict[str, Any] | None:
    """Parse project.yaml (see :mod:`cvm_kit.yamlsafe`); ``lines`` receives the line of each key path."""
    try:
        data, yproblems, ylines = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = getattr(exc, "problem", None) or str(exc)[:300]
        problems.append(Problem(label, where, f"malformed YAML: {what}"))
        return None
    if lines is not None:
        lines.update(ylines)
    for yp in yproblems:
        problems.append(Problem(label, f"{yp.where}, line {yp.line}" if yp.where else f"line {yp.line}", yp.message))
    if yproblems and data is None:
        return None
    if data is None:
        problems.append(Problem(label, "", "the file is empty; expected the study model "
                                "(name, offering, subsegments, elements ...)"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(label, "", "expected a mapping of keys (name, offering, elements ...), "
                                f"found {type(data).__name__}"))
        return None
    return data


def _decode(raw: bytes, label: str, problems: list[Problem]) -> str | None:
    # other formats saved under a .csv/.yaml name: say what the file really is
    if raw.startswith(b"PK\x03\x04") or raw.startswith(b"\xd0\xcf\x11\xe0"):
        problems.append(Problem(label, "", "is an Excel workbook, not CSV text (saved with the wrong type); in Excel "
                                "use File > Save As > 'CSV UTF-8 (Comma delimited)' under this name"))
        return None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        problems.append(Problem(label, "", "is UTF-16 text (Excel's 'Unicode Text'); save it as "
                                "'CSV UTF-8 (Comma delimited)' instead"))
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.append(
            Problem(label, f"line {line}, byte {exc.start}",
                    f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8 (CSV UTF-8 in Excel)")
        )
        return None
    if "\r" not in text:  # one scan of a 40 MB file, not two copies
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


# columns that hold text, never numbers: a decimal comma is never converted in them
_TEXT_COLUMNS = {"customer_id", "prospect_id", "subsegment", "variable", "source", "reliability", "note", "date",
                 "step", "status", "with", "element_id", "period_start", "period_end"}
_DECIMAL_COMMA = re.compile(r"^[+\-\u2212]?\d*,\d+$")
_DECIMAL_POINT = re.compile(r"^[+\-\u2212]?\d*\.\d+([eE][+-]?\d+)?$")
_SEPARATOR_NAMES = {",": "','", ";": "';'", "\t": "tab"}


def _separator(text: str) -> str:
    """The field separator, from the header line: ',' unless ';' or tab is clearly it (Excel in many locales)."""
    head, pos = "", 0
    while pos < len(text) and not head.strip():  # the first non-blank line, without splitting the whole file
        nl = text.find("\n", pos)
        nl = len(text) if nl < 0 else nl
        head, pos = text[pos:nl], nl + 1
    head = re.sub(r'"[^"]*"', "", head)  # separators inside quoted names do not count
    counts = {s: head.count(s) for s in (",", ";", "\t")}
    best = max(counts, key=lambda s: (counts[s], s == ","))
    return best if counts[best] else ","


def _decimal_commas(df: pd.DataFrame, sep: str, label: str, problems: list[Problem]) -> None:
    """Convert decimal commas ('1,5') of a ';'- or tab-separated file in place, or report why not.

    Read as decimal commas only when unambiguous: no number cell of the file
    is written with a decimal point. Text columns are never touched.
    """
    cols = [c for c in df.columns
            if c not in _TEXT_COLUMNS and c != "line" and not pd.api.types.is_numeric_dtype(df[c])]
    comma: tuple[int, str, str] | None = None
    point: tuple[int, str, str] | None = None
    for c in cols:
        vals = df[c].astype(str).str.strip()
        hit = vals.str.match(_DECIMAL_COMMA.pattern)
        if hit.any() and comma is None:
            i = int(np.flatnonzero(hit.to_numpy())[0])
            comma = (int(df["line"].iloc[i]), c, vals.iloc[i])
        hit = vals.str.match(_DECIMAL_POINT.pattern)
        if hit.any() and point is None:
            i = int(np.flatnonzero(hit.to_numpy())[0])
            point = (int(df["line"].iloc[i]), c, vals.iloc[i])
    if comma is None:
        return
    found = (f"{_SEPARATOR_NAMES[sep]}-separated with decimal commas "
             f"(e.g. {comma[2]!r} on line {comma[0]}, column {comma[1]})")
    if point is not None:
        # '0,5' can only be 0.5, but '1.000' may be 1000 or 1: report it (the commas are still read, no cascade)
        problems.append(Problem(label, f"line {point[0]}, column {point[1]}",
                                f"the file is {found}, but {point[2]!r} here has a decimal point: is it a thousands "
                                f"separator ({point[2].replace('.', '')}) or a decimal ({point[2].replace('.', ',')})? "
                                "Write every number with the same decimal mark and no thousands separators"))
    for c in cols:
        vals = df[c].astype(str)
        hit = vals.str.strip().str.match(_DECIMAL_COMMA.pattern)
        if hit.any():
            df.loc[hit, c] = vals[hit].str.strip().str.replace(",", ".", regex=False)
    if point is None:
        problems.append(Problem(label, "", f"read as {found}, as Excel saves CSV in many locales", "warning"))


def _tokenizer_message(exc: Exception, sep: str) -> str:
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if m:
        return (f"line {m.group(2)} has {m.group(3)} fields but the header has {m.group(1)}: a value holding the "
                f"separator ({_SEPARATOR_NAMES[sep]}) must be in double quotes")
    return f"cannot be read as CSV: {str(exc)[:300]}"


# an exponent of -300 or below: the number may underflow to 0 (checked as text, see checks_tables)
_TINY_EXPONENT = re.compile(r"\d[eE]-0*(?:3\d\d|[4-9]\d\d|\d{4,})")
# ids, phrases and words: few distinct values over many rows, so read as categories (one string object per
# distinct value, parsed in C), stripped once per distinct value, and handed on as text columns whose
# factorization is remembered (:mod:`cvm_kit.study.factors`)
_FACTOR_COLUMNS = {"customer_id", "prospect_id", "subsegment", "variable", "source", "reliability", "step",
                   "status", "element_id"}


_TINY_EXPONENT_BYTES = re.compile(_TINY_EXPONENT.pattern.encode())


def _may_underflow(data: bytes) -> bool:
    """Whether the file holds a number that may read as 0 although its digits are not all zero (1e-400)."""
    # a substring test first: the regex over a 20 MB file costs a fifth of a second
    return (b"e-" in data or b"E-" in data) and _TINY_EXPONENT_BYTES.search(data) is not None


def _parse(data: bytes, sep: str, header: list[str], value_as_text: bool,
           as_text: frozenset[str] = frozenset()) -> pd.DataFrame:
    dtypes: dict[int, Any] = {}
    for i, c in enumerate(header):
        if c in _FACTOR_COLUMNS and c not in as_text:
            dtypes[i] = "category"
        elif c != "value" or value_as_text:
            dtypes[i] = object
    # bytes, not a StringIO: pandas' C reader then skips a second decoding pass (half the time)
    # no cell is ever read as missing (keep_default_na=False, no na_values): na_filter=False skips looking
    return pd.read_csv(io.BytesIO(data), sep=sep, dtype=dtypes, keep_default_na=False, na_filter=False,
                       skip_blank_lines=True)


def _inferred(df: pd.DataFrame, header: list[str]) -> frozenset[str]:
    """Category columns pandas 3 read as numbers or booleans ("001" and "1" both as 1): to read again as text."""
    cols = [(c, df.iloc[:, i].dtype) for i, c in enumerate(header)]
    return frozenset(c for c, t in cols if isinstance(t, pd.CategoricalDtype)
                     and not pd.api.types.is_string_dtype(t.categories.dtype))


def _factor_to_text(col: pd.Series) -> pd.Series:
    """A category column as read, stripped once per distinct value, as the text column it stands for."""
    cats = col.cat.categories
    stripped = np.array([str(c).strip() for c in cats], dtype=object)
    new_codes, uniques = pd.factorize(stripped, use_na_sentinel=False)  # ' a' and 'a' become one value
    if len(uniques) == len(cats):  # no two values merged: the codes stand (widened, not gathered)
        codes = col.cat.codes.to_numpy().astype(np.intp)
        uniques = stripped
    else:
        codes = np.asarray(new_codes)[col.cat.codes.to_numpy()]
    return from_codes(codes, np.asarray(uniques, dtype=object), col.index, cats.dtype)


def read_csv_text(text: str, label: str, problems: list[Problem]) -> pd.DataFrame | None:
    """Read CSV text as an all-text table with a ``line`` column (file line numbers).

    The separator is ',' unless the header is clearly ';'- or tab-separated
    (as Excel saves CSV in many European locales); such files may use decimal
    commas, read as numbers when unambiguous (see :func:`_decimal_commas`).
    Every cell is stripped of surrounding spaces except in ``note`` columns.
    """
    return _read_csv(text.encode("utf-8"), label, problems, text)


class _Undecoded(Exception):
    """Raised by :func:`_read_csv` on a parse problem of bytes it was not given the decoded text of."""


def _read_csv(data: bytes, label: str, problems: list[Problem], text: str | None = None) -> pd.DataFrame | None:
    """:func:`read_csv_text` on the file's UTF-8 bytes (``text``: the same decoded, if the caller has it).

    Without ``text`` the bytes are never decoded whole (pandas decodes the
    cells); any parse problem then raises :class:`_Undecoded` so the caller
    decodes the file (naming a wrong encoding first) and reads it again.
    """
    if not data or data.isspace():
        problems.append(Problem(label, "", "the file is empty; expected a header row and data rows"))
        return None
    head = text if text is not None else data[: 1 << 16].decode("utf-8", "ignore")
    sep = _separator(head)
    try:
        prefix = head[: 1 << 16]
        try:
            if "\n" not in prefix and len(data) > len(prefix):
                raise ValueError("the header line is longer than the prefix")
            header = [str(c).strip() for c in pd.read_csv(io.StringIO(prefix), sep=sep, nrows=0).columns]
        except Exception:  # a header longer than the prefix: parse the whole text
            text = text if text is not None else data.decode("utf-8")
            header = [str(c).strip() for c in pd.read_csv(io.StringIO(text), sep=sep, nrows=0).columns]
        # a numeric 'value' column parses in C (comma files only: elsewhere it may hold decimal commas)
        df = _parse(data, sep, header, value_as_text=sep != ",")
        as_text = _inferred(df, header)  # e.g. customer ids 001, 002 ...: read again as text
        value_as_text = sep != ","
        if "value" in header and pd.api.types.is_float_dtype(df.iloc[:, header.index("value")]):
            # ... unless a number read as 0 may have underflowed (1e-400): then as text, so the check can name it
            if (df.iloc[:, header.index("value")].to_numpy() == 0).any() and _may_underflow(data):
                value_as_text = True
        if as_text or value_as_text != (sep != ","):
            df = _parse(data, sep, header, value_as_text=value_as_text, as_text=as_text)
    except Exception as exc:  # pandas raises several parser error types
        if text is None:  # the caller decodes the whole file first: a wrong encoding is named before the rest
            raise _Undecoded from exc
        problems.append(Problem(label, "", _tokenizer_message(exc, sep)))
        return None
    df.columns = header
    if len(set(header)) != len(header):
        dup = sorted({c for c in header if header.count(c) > 1})
        problems.append(Problem(label, "header", f"column(s) {', '.join(dup)} appear more than once"))
        return None
    df["line"] = _line_numbers(data, len(df), sep)
    for c in header:
        if isinstance(df[c].dtype, pd.CategoricalDtype):
            df[c] = _factor_to_text(df[c])
        elif c != "note" and (df[c].dtype == object or pd.api.types.is_string_dtype(df[c])):
            # free-text notes keep their spacing; other text once per distinct value, keeping the column's dtype
            stripped = map_unique(df[c], lambda t: str(t).strip(), remember=c in _FACTOR_COLUMNS)
            df[c] = stripped if df[c].dtype == object else stripped.astype(df[c].dtype)
    if sep != ",":
        _decimal_commas(df, sep, label, problems)
    return df


def count_newlines(data: bytes) -> int:
    """``data.count(b"\\n")``, counted by numpy a megabyte at a time.

    ``bytes.count`` compares byte by byte (18 ms for the benchmark study's
    37 MB of measurements); numpy's vector compare over cache-sized slices
    takes 5 ms and allocates no file-sized mask.

    Examples
    --------
    >>> count_newlines(b"a,b\\n1,2\\n3,4")
    2
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    step = 1 << 20
    return sum(int(np.count_nonzero(arr[i:i + step] == 10)) for i in range(0, len(arr), step))


def _line_numbers(data: bytes, n: int, sep: str = ",") -> list[int] | range:
    """File line of each data row (header is line 1; blank lines are skipped); ``data`` is the UTF-8 text."""
    if count_newlines(data) - data.endswith(b"\n") == n:
        return range(2, n + 2)  # one physical line per row: no loop over lines needed
    import csv

    text = data.decode("utf-8")
    # records may span lines (quoted newlines): the csv reader knows where each starts
    # a note may be longer than the csv module's default field limit (128 KiB)
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    starts: list[int] = []
    prev = 0
    for rec in reader:
        if any(f.strip() for f in rec):
            starts.append(prev + 1)
        prev = reader.line_num
    lines = starts[1:]
    return lines[:n] if len(lines) >= n else range(2, n + 2)


def read_raw(path: str | Path) -> tuple[RawStudy | None, list[Problem]]:
    """Read a study folder or workbook without checking its content."""
    path = Path(path)
    problems: list[Problem] = []
    if not path.exists():
        return None, [Problem(str(path), "", "no such study folder or workbook")]
    if path.is_file():
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            return read_study_workbook(path)
        return None, [Problem(str(path), "", "expected a study folder or an .xlsx workbook")]

    files: dict[str, bytes] = {}
    tables: dict[str, pd.DataFrame] = {}
    project = None
    yaml_lines: dict[tuple[Any, ...], int] = {}
    present = [f for f in sorted(path.iterdir()) if f.is_file() and not f.name.startswith(".")]
    for name in (PROJECT_FILE, CUSTOMERS_FILE, MEASUREMENTS_FILE, *OPTIONAL_FILES):
        if (path / name).is_file():
            files[name] = (path / name).read_bytes()
            continue
        required = name in (PROJECT_FILE, CUSTOMERS_FILE, MEASUREMENTS_FILE)
        stand_in = _stand_in(name, present)
        if stand_in is not None:
            problems.append(Problem(name, "", stand_in, "error" if required else "warning"))
        elif required:
            problems.append(Problem(name, "", f"missing: a study folder needs {PROJECT_FILE}, {CUSTOMERS_FILE} "
                                    f"and {MEASUREMENTS_FILE}"))
    hashing = _Hashing(files)  # in a thread while the files are parsed and checked
    if PROJECT_FILE in files:
        text = _decode(files[PROJECT_FILE], PROJECT_FILE, problems)
        if text is not None:
            project = _read_yaml(text, PROJECT_FILE, problems, yaml_lines)
    for name, raw in files.items():
        if name.endswith(".csv"):
            df = _read_csv_file(raw, name, problems)
            if df is not None:
                tables[name] = df
    labels = {n: n for n in tables}
    return RawStudy(path, project, tables, labels, files, yaml_lines=yaml_lines, hashing=hashing), problems


def _read_csv_file(raw: bytes, name: str, problems: list[Problem]) -> pd.DataFrame | None:
    """A CSV file's bytes as a table: plain UTF-8 goes straight to pandas, anything else through :func:`_decode`."""
    plain = not raw.startswith((b"\xef\xbb\xbf", b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"\xff\xfe", b"\xfe\xff"))
    if plain and b"\r" not in raw:  # no BOM, no CR, not another format: the bytes are the text
        try:
            return _read_csv(raw, name, problems)
        except _Undecoded:
            pass  # not UTF-8, or not CSV: decoding the whole file names the line
    text = _decode(raw, name, problems)
    return read_csv_text(text, name, problems) if text is not None else None


def _stand_in(name: str, present: list[Path]) -> str | None:
    """What to say when ``name`` is missing but a file that was probably meant for it is there."""
    stem, suffix = name.rsplit(".", 1)
    for f in present:
        low = f.name.lower()
        if low == name:
            return f"found {f.name}: file names are case-sensitive; rename it {name}"
        fstem = low.rsplit(".", 1)[0] if "." in low else low
        if fstem != stem and fstem != name:
            continue
        if suffix == "yaml" and f.suffix.lower() == ".yml":
            return f"found {f.name}: rename it {name}"
        if f.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods", ".numbers"):
            return (f"found {f.name}, a spreadsheet, where {name} belongs: cvm_kit reads CSV text here; in Excel use "
                    f"File > Save As > 'CSV UTF-8 (Comma delimited)' and name it {name}")
        return f"found {f.name} where {name} belongs: save it as CSV text named {name}"
    return None

# ---------------------------------------------------------------------------
# the workbook form (sheets mirror the folder's files; layout in cvm_kit.workbook)


def cell_text(v: Any) -> str:
    """A workbook cell as study text (whole floats without .0, dates as YYYY-MM-DD, empty for None)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (_dt.datetime,)):
        return v.date().isoformat() if v.time() == _dt.time(0) else v.isoformat()
    if isinstance(v, _dt.date):
        return v.isoformat()
    return str(v).strip()


def _sheet_rows(ws) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    rows = ws.iter_rows(values_only=True)
    try:
        header = [(cell_text(h)) for h in next(rows)]
    except StopIteration:
        return [], []
    while header and header[-1] == "":
        header.pop()
    out = []
    for i, r in enumerate(rows, start=2):
        vals = list(r[: len(header)]) + [None] * (len(header) - len(r))
        if all(v is None or cell_text(v) == "" for v in vals):
            continue
        out.append((i, vals))
    return header, out


def read_study_workbook(path: str | Path) -> tuple[RawStudy | None, list[Problem]]:
    """Read a study workbook into the raw form :func:`cvm_kit.study.validate` checks (see :mod:`cvm_kit.workbook`)."""
    from openpyxl import load_workbook

    path = Path(path)
    problems: list[Problem] = []
    label = path.name
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a bad file
        return None, [Problem(label, "", f"cannot be read as an Excel workbook: {exc}")]
    sheets = set(wb.sheetnames)
    for need in ("project", "subsegments", "elements", "customers", "measurements"):
        if need not in sheets:
            problems.append(Problem(label, f"sheet {need}", "missing sheet; expected sheets "
                                    f"{', '.join(MODEL_SHEETS)}, customers, measurements"))

    reported: set[str] = set()

    def records(name: str) -> list[tuple[int, dict[str, Any]]]:
        if name not in sheets:
            return []
        header, rows = _sheet_rows(wb[name])
        dup = sorted({h for h in header if h and header.count(h) > 1})
        if dup and name not in reported:  # a dict keeps the last of two equal columns: say so
            reported.add(name)
            problems.append(Problem(f"{label}[{name}]", "header", f"column(s) {', '.join(dup)} appear more than once"))
        out = []
        for i, vals in rows:
            rec: dict[str, Any] = {}
            for h, v in zip(header, vals):
                rec.setdefault(h, v)  # the first of two equal columns (reported above)
            out.append((i, rec))
        return out

    # sheet rows of each model item, so problems can name "elements sheet, row 4"
    rows_of: dict[str, list[int]] = {sec: [i for i, _ in records(sec)]
                                     for sec in ("subsegments", "constants", "derived", "elements")}
    rows_of["project"] = [i for i, _ in records("project")]
    project = _project_keys(records("project"), label, problems)
    project["subsegments"] = [{k: cell_text(v) for k, v in r.items() if cell_text(v) != "" or k == "id"}
                              for _, r in records("subsegments")]
    project["constants"] = [{k: (v if k == "value" and isinstance(v, (int, float)) else cell_text(v))
                             for k, v in r.items() if cell_text(v) != ""} for _, r in records("constants")]
    project["derived"] = [{k: cell_text(v) for k, v in r.items()} for _, r in records("derived")]
    project["elements"] = [_element_record(r) for _, r in records("elements")]

    tables: dict[str, pd.DataFrame] = {}
    labels: dict[str, str] = {}
    files: dict[str, bytes] = {"workbook": path.read_bytes()}
    for sheet, fname in TABLE_SHEETS.items():
        if sheet not in sheets:
            continue
        header, rows = _sheet_rows(wb[sheet])
        df = pd.DataFrame([[cell_text(v) for v in vals] for _, vals in rows], columns=header, dtype=object)
        if df.empty:
            df = pd.DataFrame(columns=header)
        df["line"] = [i for i, _ in rows]
        tables[fname] = df.astype({c: str for c in header})
        labels[fname] = f"{label}[{sheet}]"
    wb.close()
    raw = RawStudy(path, project, tables, labels, files, project_label=f"{label}[project]", project_lines=rows_of)
    return raw, problems


def _project_keys(rows: list[tuple[int, dict[str, Any]]], label: str, problems: list[Problem]) -> dict[str, Any]:
    """The ``project`` sheet's key/value rows as project.yaml data (``charter.team`` and percentiles split on ';')."""
    project: dict[str, Any] = {}
    charter: dict[str, Any] = {}
    key_rows: dict[str, int] = {}
    for i, rec in rows:
        key = cell_text(rec.get("key"))
        val = rec.get("value")
        if not key:
            continue
        if key in key_rows:  # the later row would silently win
            problems.append(Problem(f"{label}[project]", key,  # located as "key <key>" like every project problem
                                    f"key {key!r} appears twice (rows {key_rows[key]} and {i}); keep one"))
        key_rows.setdefault(key, i)
        if key.startswith("charter."):
            k = key.split(".", 1)[1]
            charter[k] = [t.strip() for t in cell_text(val).split(";") if t.strip()] if k == "team" else cell_text(val)
        elif key.split(".", 1)[0] in SECTIONS[1:] and "." in key:
            sec, k = key.split(".", 1)
            listed = k == "scenario_percentiles"  # written as "10; 50; 90"
            project.setdefault(sec, {})[k] = ([t.strip() for t in cell_text(val).split(";") if t.strip()] if listed
                                              else cell_text(val))
        elif key == "price":
            if cell_text(val):
                project["price"] = {"equation": cell_text(val)}
        else:
            project[key] = cell_text(val)
    if charter:
        project["charter"] = charter
    return project


def _element_record(r: dict[str, Any]) -> dict[str, Any]:
    """An ``elements`` sheet row as project.yaml data (one assumption per line, ``sub: status; ...``, a range)."""
    e: dict[str, Any] = {}
    for k, v in r.items():
        t = cell_text(v)
        if t == "" and k != "id":
            continue
        if k == "assumptions":
            e[k] = [a.strip() for a in t.split("\n") if a.strip()]
        elif k == "status_by_subsegment":
            pairs = [p.split(":", 1) for p in t.split(";") if p.strip()]
            e[k] = {p[0].strip(): (p[1].strip() if len(p) > 1 else "") for p in pairs}
        elif k in ("perceived_low", "perceived_high"):
            continue
        else:
            e[k] = t
    lo, hi = cell_text(r.get("perceived_low")), cell_text(r.get("perceived_high"))
    if lo or hi:
        e["perceived_range"] = [lo, hi]
    return e
