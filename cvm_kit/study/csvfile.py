"""Reading one CSV table of a study: separator, header, decimal commas, file line numbers.

:func:`read_csv_text` (and :func:`_read_csv` on the file's bytes) reads a
table as text columns with a ``line`` column (the file line of each row).
The separator is ',' unless the header is clearly ';'- or tab-separated;
the header is read as written (a repeated name is an error, a row longer
than the header is named by its line); a row of separators only is a blank
line. Used by :mod:`cvm_kit.study.read`.
"""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np
import pandas as pd

from ..errors import Problem
from .cells import map_unique
from .factors import from_codes

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
        _dotted_thousands(df, cols, sep, label, problems)
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


_DOTTED_THOUSANDS = re.compile(r"^[+\-\u2212]?[1-9]\d{0,2}(?:\.\d{3})+$")


def _dotted_thousands(df: pd.DataFrame, cols: list[str], sep: str, label: str, problems: list[Problem]) -> None:
    """A ';'/tab file whose every dotted number reads as a thousands group ('3.470', '16.500'): refuse to guess.

    Excel in the locales that save ';' writes 3470 as '3.470'; read with a
    decimal point it is 3.47, a thousand times too small. When no number of
    the file has any other decimal part, the reading is anybody's guess.
    """
    first: tuple[int, str, str] | None = None
    for c in cols:
        vals = df[c].astype(str).str.strip()
        dotted = vals.str.match(_DECIMAL_POINT.pattern)
        if not dotted.any():
            continue
        grouped = vals.str.match(_DOTTED_THOUSANDS.pattern)
        if (dotted & ~grouped).any():
            return  # a number like 0.25 or 1.5: the file writes decimal points
        if first is None:
            i = int(np.flatnonzero(grouped.to_numpy())[0])
            first = (int(df["line"].iloc[i]), c, vals.iloc[i])
    if first is not None:
        line, col, text = first
        problems.append(Problem(label, f"line {line}, column {col}",
                                f"the file is {_SEPARATOR_NAMES[sep]}-separated and every number with a point looks "
                                f"like {text!r}: is that {text.replace('.', '')} (a thousands separator, as Excel "
                                f"writes it in many locales) or {text}? Write numbers without thousands separators"))


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
            header = _header(prefix, sep)
        except Exception:  # a header longer than the prefix: parse the whole text
            text = text if text is not None else data.decode("utf-8")
            header = _header(text, sep)
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
    if len(set(header)) != len(header):
        dup = sorted({c for c in header if header.count(c) > 1})
        problems.append(Problem(label, "header", f"column(s) {', '.join(dup)} appear more than once"))
        return None
    if not isinstance(df.index, pd.RangeIndex):  # pandas took the first column as an index: a row is too long
        problems.append(Problem(label, *_long_row(text if text is not None else data.decode("utf-8", "replace"),
                                                  sep, len(header))))
        return None
    df.columns = header
    df["line"] = _line_numbers(data, len(df), sep)
    blank = _separator_rows(df, header, data, sep)
    if blank is not None and blank.any():  # a row of separators only (",,,,"): a blank line, as in a workbook
        df = df.loc[~blank].reset_index(drop=True)
        for c in header:  # the blank rows' "" must not stay a value of the column
            if isinstance(df[c].dtype, pd.CategoricalDtype):
                df[c] = df[c].cat.remove_unused_categories()
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


def _separator_rows(df: pd.DataFrame, header: list[str], data: bytes, sep: str) -> np.ndarray | None:
    """Which rows are separators only (every cell empty); None when no line can be (none starts with one)."""
    if len(header) < 2 or (b"\n" + sep.encode()) not in data:  # a substring test: no pass over 600,000 rows
        return None
    first = df.iloc[:, 0].astype(str).str.strip() == ""
    if not first.any():
        return None
    rows = df.loc[first, header].astype(str).apply(lambda c: c.str.strip()).eq("").all(axis=1)
    out = np.zeros(len(df), dtype=bool)
    out[np.flatnonzero(first.to_numpy())] = rows.to_numpy()
    return out


def _header(text: str, sep: str) -> list[str]:
    """The header row's names as written (pandas would rename a repeated one to ``name.1``)."""
    import csv

    for rec in csv.reader(io.StringIO(text), delimiter=sep):
        if any(f.strip() for f in rec):
            return [f.strip() for f in rec]
    raise ValueError("no header row")


def _long_row(text: str, sep: str, width: int) -> tuple[str, str]:
    """(where, message) for the first data row with more fields than the header's ``width``."""
    import csv

    reader = csv.reader(io.StringIO(text), delimiter=sep)
    seen_header = False
    for rec in reader:
        if not any(f.strip() for f in rec):
            continue
        if seen_header and len(rec) > width:
            return (f"line {reader.line_num}", f"{len(rec)} fields but the header has {width}; a stray "
                    f"{_SEPARATOR_NAMES.get(sep, sep)} (in a note or a number, e.g. 1,200) or an unclosed quote? "
                    "Quote that field")
        seen_header = True
    return ("", f"a row has more fields than the header's {width}")


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
        if len(rec) > 1 or any(f.strip() for f in rec):  # pandas keeps a row of separators only (dropped later)
            starts.append(prev + 1)
        prev = reader.line_num
    lines = starts[1:]
    return lines[:n] if len(lines) >= n else range(2, n + 2)
