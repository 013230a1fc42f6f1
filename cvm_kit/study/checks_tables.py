"""Checks of the study's tables: customers, measurements, prospects, fieldwork, realized.

Each ``check_*`` function takes the raw all-text table, appends every
problem it finds (file, line, column, the text, what was expected) and
returns the typed table. Customer ids other tables use but customers.csv
lacks are collected across files and reported once per id
(:func:`customer_id_problems`), so one mistyped customer row gives one
message, not one per measurement.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import Problem
from .cells import (
    MISSING_MARKERS,
    THOUSANDS,
    check_control_column,
    control_char,
    control_problem,
    map_unique,
    normalize_column,
    number_hint,
    parse_date,
    plain_number,
    required_columns,
    rows_where,
    text_of,
    to_number,
)
from .model import CUSTOMERS_FILE, FIELDWORK_STATUSES, FIELDWORK_STEPS, MEASUREMENTS_FILE, RELIABILITIES, SOURCES
from .read import RawStudy

#: customer id -> [(file label, lines)] of the rows using an id customers.csv lacks
UnknownRefs = dict[str, list[tuple[str, list[int]]]]


@dataclass
class Customers:
    """customers.csv as checked: the typed table, its ids, and the ids other files use but it lacks."""

    label: str = CUSTOMERS_FILE
    frame: pd.DataFrame | None = None
    ids: set[str] = field(default_factory=set)
    duplicates: list[tuple[str, int, int]] = field(default_factory=list)  # (customer id, line, first line)
    unknown_refs: UnknownRefs = field(default_factory=dict)


def check_customers(raw: RawStudy, sub_ids: list[str] | None, problems: list[Problem]) -> Customers:
    """customers.csv: ids present, unique and plain; subsegments known; characteristics typed.

    ``sub_ids`` are the model's subsegment ids (None when the model is
    unusable or a subsegment id is unknown: membership is then not checked).
    """
    out = Customers(label=raw.labels.get(CUSTOMERS_FILE, CUSTOMERS_FILE))
    customers = raw.tables.get(CUSTOMERS_FILE)
    label = out.label
    if customers is None or not required_columns(customers, label, ("customer_id", "subsegment"), problems):
        return out
    for col in customers.columns:
        if col != "line" and control_char(col):
            problems.append(Problem(label, "header", control_problem(col, "a column name")))
    check_control_column(customers, "customer_id", label, "a customer id", problems)
    first: dict[str, int] = {}
    for cid, sub, line in zip(customers["customer_id"], customers["subsegment"], customers["line"]):
        if not cid:
            problems.append(Problem(label, f"line {line}, column customer_id", "empty customer_id"))
            continue
        if cid in first:
            out.duplicates.append((cid, line, first[cid]))
        first.setdefault(cid, line)
        if sub_ids is not None and sub not in sub_ids:
            problems.append(Problem(label, f"line {line}, column subsegment",
                                    f"unknown subsegment {text_of(sub)!r} for customer {text_of(cid)!r}; "
                                    f"expected one of {', '.join(sub_ids)}"))
    out.ids = set(first)
    if not len(customers):
        problems.append(Problem(label, "", "no customers: expected one row per participating customer"))
    elif sub_ids is not None:
        used = set(customers["subsegment"])
        for sid in sub_ids:
            if sid not in used:
                problems.append(Problem(label, "column subsegment",
                                        f"no customer is in subsegment {text_of(sid)!r} yet: its figures stay empty "
                                        "until customers of it are added", "warning"))
    out.frame = _typed_characteristics(customers, label, problems)
    return out


def check_measurements(raw: RawStudy, customers: Customers, problems: list[Problem]) -> pd.DataFrame | None:
    """measurements.csv: finite values, source and reliability words, known customers, a variable on every row.

    Returns
    -------
    DataFrame or None
        ``customer_id, variable, phrase, value, source, reliability, note,
        line`` (source and reliability lower-cased), or None when the file
        is absent or lacks a required column.
    """
    meas = raw.tables.get(MEASUREMENTS_FILE)
    label = raw.labels.get(MEASUREMENTS_FILE, MEASUREMENTS_FILE)
    if meas is None or not required_columns(meas, label, ("customer_id", "variable", "value", "source"), problems):
        return None
    meas = meas.copy(deep=False)  # columns are replaced, never edited: the raw table stays as read
    for col in ("reliability", "note"):
        if col not in meas.columns:
            meas[col] = ""
    values = _measured_values(meas, label, problems)
    # source, reliability and the id checks work per distinct value (cvm_kit.study.factors): 600,000 rows
    # hold a few hundred distinct ids and phrases
    src = map_unique(meas["source"], str.lower, remember=True)
    badsrc = rows_where(src, lambda t: t not in SOURCES)
    for line, text in zip(meas.loc[badsrc, "line"], meas.loc[badsrc, "source"]):
        problems.append(Problem(label, f"line {line}, column source",
                                f"{text[:60]!r} is not a source word; expected one of {', '.join(SOURCES)}"))
    rel = map_unique(meas["reliability"], str.lower, remember=True)
    badrel = rows_where(rel, lambda t: t not in RELIABILITIES and t != "")
    for line, text in zip(meas.loc[badrel, "line"], meas.loc[badrel, "reliability"]):
        problems.append(Problem(label, f"line {line}, column reliability",
                                f"{text[:60]!r}; expected one of {', '.join(RELIABILITIES)} or empty"))
    check_control_column(meas, "customer_id", label, "a customer id", problems)
    _empty_ids(meas, "customer_id", label, problems)
    check_control_column(meas, "variable", label, "a variable (a phrase of the word equations)", problems)
    if customers.ids:
        _collect_unknown(meas, customers.ids, label, customers.unknown_refs)
    for line in meas.loc[rows_where(meas["variable"], lambda t: t == ""), "line"]:
        problems.append(Problem(label, f"line {line}, column variable",
                                "empty variable; expected a phrase used by an equation"))
    return pd.DataFrame({
        "customer_id": meas["customer_id"],
        "variable": meas["variable"],
        "phrase": normalize_column(meas["variable"]),
        "value": values.astype(float),
        "source": src,
        "reliability": rel,
        "note": meas["note"],
        "line": meas["line"].astype(int),
    }, copy=False)  # the columns are fresh or the raw table's (never edited): no copy needed


def _measured_values(meas: pd.DataFrame, label: str, problems: list[Problem]) -> pd.Series:
    """The value column as floats (NaN where not a number); one problem per row that is not a finite number.

    A comma-separated file's value column arrives parsed (in C, fast); any
    other arrives as text, stripped here (``meas`` is a copy the caller owns).
    """
    if not pd.api.types.is_numeric_dtype(meas["value"]):
        meas["value"] = map_unique(meas["value"], lambda t: "" if t is None or t is pd.NA else str(t).strip())
        values = pd.to_numeric(map_unique(meas["value"], lambda t: str(t).replace("\u2212", "-")), errors="coerce")
        # '1e-400' reads as 0: a figure that silently became 0 is an error, like one too large
        underflow = (values == 0) & map_unique(meas["value"], _nonzero_mantissa).astype(bool)
        values = values.mask(underflow, np.inf)
    else:
        values = meas["value"].astype(float)
    bad = ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    for line, text, var, x in zip(meas.loc[bad, "line"], meas.loc[bad, "value"], meas.loc[bad, "variable"],
                                  values[bad]):
        text = str(text)
        if not text:
            what = "empty value"
        elif np.isinf(x):  # '1e999' or 'inf': the float column no longer holds the text
            tiny = _nonzero_mantissa(text) and re.search(r"[eE]\s*-", text) is not None
            what = (f"{text[:60]!r} underflows to 0 (too small for a number)" if tiny
                    else "not a finite number (too large, or inf)")
        else:
            what = f"{text[:60]!r} is not a number{number_hint(text)}"
        problems.append(Problem(label, f"line {line}, column value ([{var[:80]}])", f"{what}; expected a plain number"))
    return values


def _nonzero_mantissa(text: object) -> bool:
    """Whether a number's digits before its exponent are not all zero (``1e-400`` yes, ``0e5`` no)."""
    mantissa = re.split(r"[eE]", str(text), maxsplit=1)[0]
    return re.search(r"[1-9]", mantissa) is not None


def _empty_ids(df: pd.DataFrame, col: str, label: str, problems: list[Problem],
               what: str = "a customer_id of customers.csv") -> None:
    """One problem per row whose id is empty (the row would belong to nobody and be dropped)."""
    for line in df.loc[rows_where(df[col], lambda t: str(t).strip() == ""), "line"]:
        problems.append(Problem(label, f"line {line}, column {col}", f"empty {col}; expected {what}"))


def _collect_unknown(df: pd.DataFrame, cust_ids: set[str], label: str,
                     unknown_refs: UnknownRefs) -> None:
    """Record the rows of ``df`` whose customer_id is not in customers.csv, grouped by id."""
    unknown = rows_where(df["customer_id"], lambda t: t not in cust_ids and t != "")
    if not unknown.any():
        return
    for cid, lines in df.loc[unknown].groupby("customer_id", sort=False)["line"]:
        unknown_refs.setdefault(cid, []).append((label, [int(x) for x in lines]))


def _lines_text(lines: list[int]) -> str:
    if len(lines) == 1:
        return f"line {lines[0]}"
    shown = ", ".join(str(x) for x in lines[:5]) + (", ..." if len(lines) > 5 else "")
    return f"{len(lines)} rows, lines {shown}"


def customer_id_problems(clabel: str, duplicates: list[tuple[str, int, int]],
                          unknown_refs: UnknownRefs, known: list[str]) -> list[Problem]:
    """Duplicate customers and unknown customer ids, each reported once.

    A duplicated row in customers.csv is often another customer's row with a
    mistyped id: that customer's rows elsewhere then all look unknown. Those
    follow from the duplicate, so they are named in its message rather than
    reported row by row.
    """
    out = []
    if duplicates:
        orphans = ""
        if unknown_refs:
            names = list(unknown_refs)
            uses = "; ".join(f"{text_of(cid)!r} in " + ", ".join(f"{lab} ({len(ls)} row{'s' if len(ls) > 1 else ''})"
                                                             for lab, ls in refs)
                             for cid, refs in list(unknown_refs.items())[:5])
            more = f" and {len(names) - 5} more" if len(names) > 5 else ""
            orphans = (f"; meanwhile {uses}{more} ha{'s' if len(names) == 1 else 've'} no row in {CUSTOMERS_FILE}: "
                       f"was this row meant to be {' or '.join(repr(text_of(n)) for n in names[:3])}?")
        for cid, line, first in duplicates:
            out.append(Problem(clabel, f"line {line}, column customer_id",
                               f"duplicate customer {text_of(cid)!r} (first on line {first}){orphans}"))
        return out
    for cid, refs in unknown_refs.items():
        for label, lines in refs:
            hint = difflib.get_close_matches(cid, known, n=1, cutoff=0.6)
            tip = " (an invitee who declined may stay out of it: log its declined step)" if "fieldwork" in label else ""
            out.append(Problem(label, f"line {lines[0]}, column customer_id",
                               f"unknown customer {text_of(cid)!r} ({_lines_text(lines)}); expected a customer_id of "
                               f"{CUSTOMERS_FILE}{tip}" + (f"; did you mean {hint[0]!r}?" if hint else "")))
    return out


def _typed_characteristics(df: pd.DataFrame, label: str, problems: list[Problem],
                           numeric_columns: frozenset[str] = frozenset()) -> pd.DataFrame:
    """Characteristic columns typed: numeric ones as floats (NaN where missing), the rest as text.

    A column is numeric when at least half of its non-missing cells are
    numbers (thousands-separated ones included), or when it is numeric in
    customers.csv (``numeric_columns``, for prospects.csv). In a numeric
    column, text that is not a plain number is an error naming the line, the
    column and the text; a missing marker (empty, ``n/a``, ``NA`` ...) is a
    missing value, with one warning per column. Elsewhere only empty cells
    are missing (``NA`` may be a region, ``none`` a category).
    """
    out = df.drop(columns=["line"]).copy()
    lines = df["line"].to_numpy()
    for c in out.columns:
        if c in ("customer_id", "subsegment", "prospect_id"):
            continue
        vals = out[c].astype(str)
        missing = map_unique(vals, lambda t: t.strip().lower() in MISSING_MARKERS).astype(bool).to_numpy()
        nums = map_unique(vals, lambda t: to_number(t))
        is_num = nums.notna().to_numpy() & ~missing
        thousands = map_unique(vals, lambda t: bool(THOUSANDS.match(t.strip()))).astype(bool).to_numpy()
        grouped = thousands & ~is_num & ~missing
        n_present = int((~missing).sum())
        numeric = c in numeric_columns or (is_num.any() and 2 * int((is_num | grouped).sum()) >= n_present)
        if not numeric:
            check_control_column(df, c, label, "a characteristic's category", problems)
            out[c] = vals.replace("", pd.NA)
            continue
        bad = np.flatnonzero(~is_num & ~missing)
        for i in bad[:10]:
            text = vals.iloc[i]
            if grouped[i]:
                what = (f"{text_of(text)!r} has a thousands separator; write the number without it "
                        f"({plain_number(text)})")
            else:
                what = (f"{text_of(text)!r} is not a number{number_hint(text)}; column {c} is numeric "
                        f"({int(is_num.sum())} of {n_present} filled cells are numbers): write a plain number "
                        "(a unit belongs in the column name), or leave the cell empty or n/a when unknown")
            problems.append(Problem(label, f"line {lines[i]}, column {c}", what))
        if len(bad) > 10:
            problems.append(Problem(label, f"column {c}", f"{len(bad) - 10} more cells that are not numbers "
                                    f"(lines {', '.join(str(x) for x in lines[bad[10:15]])} ...)"))
        miss = np.flatnonzero(missing)
        if len(miss):
            shown = ", ".join(f"line {lines[i]} ({vals.iloc[i].strip()!r})" for i in miss[:5])
            problems.append(Problem(label, f"column {c}",
                                    f"{len(miss)} missing value(s) in a numeric column: {shown}"
                                    f"{' ...' if len(miss) > 5 else ''}; those rows are left out of analyses of {c}",
                                    "warning"))
        out[c] = np.where(is_num, nums.to_numpy(dtype=object), np.nan).astype(float)
    return out


def check_prospects(raw: RawStudy, customers: pd.DataFrame | None, sub_ids: list[str],
                    problems: list[Problem]) -> pd.DataFrame | None:
    """prospects.csv checked and typed like customers.csv (None when absent or unreadable)."""
    df = raw.tables.get("prospects.csv")
    if df is None:
        return None
    label = raw.labels.get("prospects.csv", "prospects.csv")
    id_col = "prospect_id" if "prospect_id" in df.columns else "customer_id"
    if not required_columns(df, label, (id_col,), problems):
        return None
    for col in df.columns:
        if col != "line" and control_char(col):
            problems.append(Problem(label, "header", control_problem(col, "a column name")))
    check_control_column(df, id_col, label, "a prospect id", problems)
    _empty_ids(df, id_col, label, problems, "a prospect id")
    seen: dict[str, int] = {}
    for pid, line in zip(df[id_col], df["line"]):
        if pid in seen:
            problems.append(Problem(label, f"line {line}, column {id_col}",
                                    f"duplicate prospect {text_of(pid)!r} (first on line {seen[pid]})"))
        seen.setdefault(pid, line)
    if "subsegment" in df.columns and sub_ids:
        for sub, line in zip(df["subsegment"], df["line"]):
            if sub and sub not in sub_ids:
                problems.append(Problem(label, f"line {line}, column subsegment",
                                        f"unknown subsegment {text_of(sub)!r}; expected one of {', '.join(sub_ids)}"))
    # a characteristic numeric among the studied customers is numeric for prospects too
    numeric = frozenset() if customers is None else frozenset(
        c for c in customers.columns
        if c not in ("customer_id", "subsegment") and pd.api.types.is_float_dtype(customers[c]))
    return _typed_characteristics(df.rename(columns={id_col: "prospect_id"}), label, problems, numeric)


def check_fieldwork(raw: RawStudy, cust_ids: set[str], problems: list[Problem],
                        unknown_refs: UnknownRefs | None = None,
                        sub_ids: list[str] | None = None) -> pd.DataFrame | None:
    """The research log, checked. A contact not in customers.csv may be an invitee who declined.

    Such a contact is accepted (with a warning naming it) when its log shows
    it declined and never had a visit or sent data: it never joined, so it
    has no row in customers.csv. Any other contact missing from
    customers.csv is an unknown customer (an error). An optional
    ``subsegment`` column places declined invitees in the funnel of their
    subsegment.
    """
    df = raw.tables.get("fieldwork.csv")
    if df is None:
        return None
    label = raw.labels.get("fieldwork.csv", "fieldwork.csv")
    if not required_columns(df, label, ("customer_id", "date", "step", "status"), problems):
        return None
    df = df.copy()
    for col in ("with", "note"):
        if col not in df.columns:
            df[col] = ""
    check_control_column(df, "customer_id", label, "a customer id", problems)
    _empty_ids(df, "customer_id", label, problems)
    dates = []
    for row in df.itertuples(index=False):
        d = row.date
        line = row.line
        if row.step.lower() not in FIELDWORK_STEPS:
            problems.append(Problem(label, f"line {line}, column step",
                                    f"{text_of(row.step)!r}; expected one of {', '.join(FIELDWORK_STEPS)}"))
        if row.status.lower() not in FIELDWORK_STATUSES:
            problems.append(Problem(label, f"line {line}, column status",
                                    f"{text_of(row.status)!r}; expected one of {', '.join(FIELDWORK_STATUSES)}"))
        parsed = parse_date(d) if d else None
        if parsed is None and not (d == "" and row.status.lower() == "planned"):  # planned, not yet dated: fine
            problems.append(Problem(label, f"line {line}, column date",
                                    f"{text_of(d)!r} is not a date; expected YYYY-MM-DD"))
        dates.append(parsed)
    if "subsegment" in df.columns and sub_ids:
        for sub, line in zip(df["subsegment"], df["line"]):
            if sub and sub not in sub_ids:
                problems.append(Problem(label, f"line {line}, column subsegment",
                                        f"unknown subsegment {text_of(sub)!r}; expected one of {', '.join(sub_ids)} "
                                        "or empty"))
    df["date"] = pd.to_datetime(pd.Series(dates, dtype=object), errors="coerce").values
    df["step"] = df["step"].str.lower()
    df["status"] = df["status"].str.lower()
    if cust_ids:
        outside = df[~df["customer_id"].isin(cust_ids) & (df["customer_id"] != "")]
        took_part = []
        for cid, rows in outside.groupby("customer_id", sort=False):
            if _never_joined(rows):
                problems.append(Problem(label, f"line {int(rows['line'].iloc[0])}, column customer_id",
                                        f"{text_of(cid)!r} is not in {CUSTOMERS_FILE}: counted as an invitee who "
                                        "declined (the fieldwork funnel shows it as invited and declined)", "warning"))
            else:
                took_part.append(cid)
        if took_part and unknown_refs is not None:
            _collect_unknown(outside[outside["customer_id"].isin(took_part)], cust_ids, label, unknown_refs)
    return df


def _never_joined(rows: pd.DataFrame) -> bool:
    """Whether a contact's log rows show a declined invitation: a decline, and no visit or data done."""
    if not (rows["status"] == "declined").any():
        return False
    return not ((rows["status"] == "done") & rows["step"].isin(("data_visit", "data_received", "review"))).any()


def check_realized(raw: RawStudy, cust_ids: set[str], element_ids: set[str], problems: list[Problem],
                   unknown_refs: UnknownRefs | None = None) -> pd.DataFrame | None:
    """realized.csv (promised and realized value per customer and element) checked and typed."""
    df = raw.tables.get("realized.csv")
    if df is None:
        return None
    label = raw.labels.get("realized.csv", "realized.csv")
    if not required_columns(df, label, ("customer_id", "element_id", "promised", "realized"), problems):
        return None
    df = df.copy()
    for col in ("period_start", "period_end", "source", "note"):
        if col not in df.columns:
            df[col] = ""
    check_control_column(df, "customer_id", label, "a customer id", problems)
    _empty_ids(df, "customer_id", label, problems)
    if cust_ids and unknown_refs is not None:  # reported with the other unknown ids, once per id
        _collect_unknown(df, cust_ids, label, unknown_refs)
    for row in df.itertuples(index=False):
        line = row.line
        if element_ids and row.element_id not in element_ids:
            problems.append(Problem(label, f"line {line}, column element_id",
                                    f"unknown element {text_of(row.element_id)!r}; "
                                    f"expected one of {', '.join(sorted(element_ids))}"))
        for col in ("promised", "realized"):
            text = getattr(row, col)
            if text != "" and to_number(text) is None:
                problems.append(Problem(label, f"line {line}, column {col}",
                                        f"{text[:60]!r} is not a number{number_hint(text)}"))
        for col in ("period_start", "period_end"):
            text = getattr(row, col)
            if text and parse_date(text) is None:
                problems.append(Problem(label, f"line {line}, column {col}",
                                        f"{text!r} is not a date; expected YYYY-MM-DD"))
        src = row.source.lower()
        if src and src not in SOURCES:
            problems.append(Problem(label, f"line {line}, column source",
                                    f"{row.source!r}; expected one of {', '.join(SOURCES)}"))
    key = ["customer_id", "element_id", "period_start", "period_end"]
    for _, rows in df[df.duplicated(key, keep=False)].groupby(key, sort=False)["line"]:
        lines = [int(x) for x in rows]
        problems.append(Problem(label, f"lines {', '.join(map(str, lines))}", "the same customer, element and "
                                "period more than once: each row is counted, so their promises and realizations "
                                "add up; delete the copies, or give each row its own period", severity="warning"))
    for col in ("promised", "realized"):
        df[col] = df[col].map(lambda t: to_number(t) if t != "" else float("nan")).astype(float)
    df["source"] = df["source"].str.lower()
    return df
