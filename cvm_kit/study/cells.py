"""Cell text of a study: numbers, dates, control characters, and how messages quote them.

Shared by the readers and the checks of :mod:`cvm_kit.study`; nothing here
knows which file a cell came from (the caller passes its label).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..equations import normalize_phrase
from ..errors import Problem
from .factors import factorize, map_codes
from .yamlsafe import short_repr


def text_of(v: Any) -> str:
    """Short text of a YAML value for a message: strings as written (cut at 60), anything else a bounded repr."""
    if isinstance(v, str):
        return v if len(v) <= 60 else v[:57] + "..."
    return short_repr(v)


def closest_phrase(word: str, candidates: dict[str, str]) -> str:
    """Suggest the closest phrase; match on normalised text, show it as written."""
    m = difflib.get_close_matches(normalize_phrase(word), list(candidates), n=1, cutoff=0.6)
    return f"; did you mean [{candidates[m[0]]}]?" if m else ""


BRACKETED = re.compile(r"\[([^\[\]]*)\]")


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def to_number(text: str) -> float | None:
    """A plain number written in ``text`` (a Unicode minus allowed), else None."""
    t = text.strip().replace("\u2212", "-")
    if not _NUMBER.match(t):
        return None
    return float(t)


THOUSANDS = re.compile(r"^[+-]?\d{1,3}([,. '\u00a0\u202f]\d{3})+([.,]\d+)?$")


def number_hint(text: str) -> str:
    """How to write ``text`` as a plain number, when it looks like one with grouping or a decimal comma."""
    t = text.strip()
    if THOUSANDS.match(t):
        return " (write it without thousands separators, e.g. 1200.5)"
    if re.match(r"^[+-]?\d*,\d+$", t):
        return f" (a decimal comma? write it with a point: {t.replace(',', '.')})"
    return ""


# control characters (C0, DEL, C1) and bidirectional overrides: never part of an id or a name
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_NAMES = {0: "NUL", 7: "BEL", 8: "backspace", 9: "tab", 10: "line break", 13: "carriage return",
                  27: "ESC", 127: "DEL"}


def control_char(text: Any) -> str | None:
    """Which control character ``text`` holds, and where (None when it is plain)."""
    if not isinstance(text, str):
        return None
    m = _CONTROL.search(text)
    if m is None:
        return None
    code = ord(m.group())
    name = _CONTROL_NAMES.get(code, f"U+{code:04X}")
    return f"{name} (U+{code:04X}) at character {m.start() + 1}"


def control_problem(text: str, what: str) -> str:
    """The message for an id or name holding a control character."""
    return (f"{text_of(text)!r} holds a control character, {control_char(text)}; {what} must be plain text "
            "(control characters garble terminals, reports and workbooks)")


def check_control_column(df: pd.DataFrame, col: str, label: str, what: str, problems: list[Problem]) -> None:
    """One error per distinct id or name of ``col`` holding a control character (first line, count)."""
    if col not in df.columns:
        return
    codes, uniques = factorize(df[col])
    for i, u in enumerate(uniques):
        if not control_char(u):
            continue
        lines = df["line"].to_numpy()[codes == i]
        more = f" (and {len(lines) - 1} more row(s))" if len(lines) > 1 else ""
        problems.append(Problem(label, f"line {lines[0]}, column {col}", control_problem(u, what) + more))


def required_columns(df: pd.DataFrame, label: str, cols: tuple[str, ...], problems: list[Problem]) -> bool:
    """Whether ``df`` has every column of ``cols``; one problem naming the missing ones otherwise."""
    missing = [c for c in cols if c not in df.columns]
    if missing:
        found = ", ".join(c for c in df.columns if c != "line")
        problems.append(Problem(label, "header", f"missing column(s) {', '.join(missing)}; found: {found}"))
        return False
    return True


#: Cells read as a missing number in a numeric characteristic column (case-insensitive).
MISSING_MARKERS = ("", "n/a", "na", "n.a.", "#n/a", "nan", "null", "none", "-", "?", "missing")


def plain_number(text: str) -> str:
    """'6,130' -> '6130', '6.130,5' -> '6130.5', "6'130" -> '6130': the number without grouping."""
    t = text.strip()
    if re.match(r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$", t):
        return t.replace(".", "").replace(",", ".")
    return re.sub(r"[, '\u00a0\u202f]", "", t)


def map_unique(col: pd.Series, fn: Callable[[Any], Any], remember: bool = False) -> pd.Series:
    """Apply ``fn`` once per distinct value of a text column (600k rows, few distinct values).

    ``remember`` keeps the result's factorization for later checks
    (:mod:`cvm_kit.study.factors`): for columns the study keeps.
    """
    return map_codes(col, fn, remember=remember)


def normalize_column(col: pd.Series) -> pd.Series:
    """normalize_phrase over a column, once per distinct text (600k rows, ~100 phrases); keeps a str dtype."""
    return map_codes(col, normalize_phrase, col.dtype if isinstance(col.dtype, pd.StringDtype) else object)


def rows_where(col: pd.Series, pred: Callable[[Any], bool]) -> np.ndarray:
    """Boolean mask of the rows whose value satisfies ``pred`` (asked once per distinct value)."""
    codes, uniques = factorize(col)
    hit = np.fromiter((bool(pred(u)) for u in uniques), dtype=bool, count=len(uniques))
    return hit[codes] if len(codes) else np.zeros(0, dtype=bool)


def parse_date(text: str) -> _dt.date | None:
    """A ``YYYY-MM-DD`` date, else None."""
    try:
        return _dt.datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        return None

