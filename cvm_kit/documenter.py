"""The value documenter: value promised to customers versus value realized.

Reads ``realized.csv`` (what was promised to a customer for an element over
a period, and what was later documented with that customer) and compares:

- :func:`document_value` one row per customer, element and period with the
  realization rate and the gap, beside the study's estimate;
- :func:`value_case_history` one customer's rows over time, cumulated;
- :func:`delivery_by_element` across customers: which elements deliver what
  was promised;
- :func:`documented_rate` the share of customers (or rows) whose realized
  value meets what was promised to them, with its Wilson interval.

What was promised is the customer's own promise (``promised``, and the
optional promised range ``promised_low`` / ``promised_high``, see
docs/format-extensions.md), never the subsegment's mean: a row is ``inside``,
``below`` or ``above`` its promised range, or ``met`` / ``below`` a point
promise.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .errors import AnalysisError, CvmError
from .study import Study

REALIZED_COLUMNS = "customer_id, element_id, period_start, period_end, promised, realized, source, note"
DOCUMENT_COLUMNS = ["customer_id", "subsegment", "element_id", "element", "period_start", "period_end",
                    "promised", "realized", "realization_rate", "gap", "source", "note",
                    "estimate", "estimate_for_period", "promised_low", "promised_high", "vs_promise",
                    "meets_promise"]
RATE_COLUMNS = ["element_id", "element", "unit", "n", "met", "rate", "ci_low", "ci_high", "confidence", "method"]
RANGE_COLUMNS = ("promised_low", "promised_high")
HISTORY_COLUMNS = DOCUMENT_COLUMNS + ["cum_promised", "cum_realized", "cum_rate"]
DELIVERY_COLUMNS = ["element_id", "element", "n_customers", "n_rows", "total_promised", "total_realized",
                    "overall_rate", "mean_rate", "median_rate", "share_at_or_above", "total_gap",
                    "total_estimate_for_period", "realized_vs_estimate", "n_compared"]

# one study period in calendar months (year ... month) or in days (week, day), to put the
# study's per-period estimate on a documented period
_PERIOD_MONTHS = {"year": 12, "annum": 12, "annual": 12, "yearly": 12, "half-year": 6, "half year": 6,
                  "quarter": 3, "quarterly": 3, "month": 1, "monthly": 1}
_PERIOD_DAYS = {"week": 7.0, "weekly": 7.0, "day": 1.0, "daily": 1.0}


def _period_word(period: str) -> str:
    p = str(period).strip().lower()
    for prefix in ("per ", "a ", "one ", "1 "):
        if p.startswith(prefix):
            p = p[len(prefix):]
    return p


def _months_between(start: pd.Timestamp, end: pd.Timestamp) -> float:
    """Calendar months from ``start`` to ``end`` inclusive (2026-01-01..2026-06-30 is 6.0)."""
    stop = end + pd.Timedelta(days=1)
    whole = (stop.year - start.year) * 12 + stop.month - start.month
    anchor = start + pd.DateOffset(months=whole)
    while anchor > stop:
        whole -= 1
        anchor = start + pd.DateOffset(months=whole)
    return whole + (stop - anchor).days / 30.4375


def period_fraction(start: pd.Series, end: pd.Series, period: str) -> pd.Series:
    """How many study periods each documented period spans (NaN without dates or for an unknown period word).

    Year, half-year, quarter and month count calendar months (a full year is
    exactly 1, leap years included); week and day count days, both ends included.
    """
    word = _period_word(period)
    out = []
    for s, e in zip(pd.to_datetime(start), pd.to_datetime(end)):
        if pd.isna(s) or pd.isna(e) or e < s:
            out.append(math.nan)
        elif word in _PERIOD_MONTHS:
            out.append(_months_between(s, e) / _PERIOD_MONTHS[word])
        elif word in _PERIOD_DAYS:
            out.append(((e - s).days + 1) / _PERIOD_DAYS[word])
        else:
            out.append(math.nan)
    return pd.Series(out, index=start.index, dtype=float)


def _require_realized(study: Study) -> pd.DataFrame:
    if study.realized is None:
        raise CvmError(
            f"study {study.path} has no realized.csv: the value documenter needs it. The file is optional; "
            f"add it to document value with customers, with columns {REALIZED_COLUMNS} "
            "(customer_id, element_id, promised and realized required; one row per customer, element and period)")
    return study.realized


def _rate(realized: pd.Series, promised: pd.Series) -> pd.Series:
    """realized / promised where a positive value was promised; NaN otherwise.

    A ratio to a promise of 0, of nothing known or of a negative value (an
    element where the offering is worse) says nothing or reads backwards:
    -100 realized against -200 promised is better than promised, yet 0.5.
    The gap and ``vs_promise`` compare those rows.
    """
    p = promised.astype(float)
    return (realized.astype(float) / p.where(p > 0)).astype(float)


def _promised_range(r: pd.DataFrame, label: str) -> tuple[pd.Series, pd.Series]:
    """The optional promised range of realized.csv as numbers; a located error for anything else."""
    from .errors import Problem, StudyError

    lines = r["line"] if "line" in r.columns else pd.Series(range(2, len(r) + 2), index=r.index)
    out = []
    for col in RANGE_COLUMNS:
        if col not in r.columns:
            out.append(pd.Series(math.nan, index=r.index, dtype=float))
            continue
        vals = []
        for text, line in zip(r[col], lines):
            t = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text).strip()
            if t == "":
                vals.append(math.nan)
                continue
            try:
                x = float(t)
            except ValueError:
                x = math.nan
            if not math.isfinite(x):
                raise StudyError([Problem(label, f"line {line}, column {col}",
                                          f"{t[:60]!r} is not a number; expected the low (or high) end of the "
                                          "value promised to the customer, or empty")])
            vals.append(x)
        out.append(pd.Series(vals, index=r.index, dtype=float))
    low, high = out
    bad = (low > high).to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise StudyError([Problem(label, f"line {lines.iloc[i]}, columns promised_low, promised_high",
                                  f"the low end {low.iloc[i]:g} is above the high end {high.iloc[i]:g}; "
                                  "expected low <= high")])
    return low, high


def _vs_promise(realized: np.ndarray, promised: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[list, list]:
    """Each row's realized value against its promise: (inside|below|above|met|'' , met True/False/None).

    With a promised range (either end given), ``below`` the low end,
    ``above`` the high end, else ``inside``; the promise is met unless below.
    With only a point promise: ``met`` when realized >= promised, else ``below``.
    """
    text: list[str] = []
    met: list[bool | None] = []
    for x, p, lo, hi in zip(realized, promised, low, high):
        if math.isnan(x):
            text.append("")
            met.append(None)
        elif not (math.isnan(lo) and math.isnan(hi)):
            if not math.isnan(lo) and x < lo:
                text.append("below")
            elif not math.isnan(hi) and x > hi:
                text.append("above")
            else:
                text.append("inside")
            met.append(text[-1] != "below")
        elif not math.isnan(p):
            text.append("met" if x >= p else "below")
            met.append(x >= p)
        else:
            text.append("")
            met.append(None)
    return text, met


def document_value(study: Study) -> pd.DataFrame:
    """Promised versus realized value per customer, element and period.

    Parameters
    ----------
    study : Study
        A study with ``realized.csv``.

    Returns
    -------
    DataFrame
        ``customer_id, subsegment, element_id, element, period_start,
        period_end, promised, realized, realization_rate, gap, source, note,
        estimate, estimate_for_period``, in the file's order.
        ``realization_rate = realized / promised`` (NaN if promised is 0,
        negative or missing: the gap compares those); ``gap = realized - promised`` (negative: less delivered
        than promised). ``estimate`` is the study's mean value of the element
        in the customer's subsegment per study period
        (:func:`cvm_kit.estimates.summarize`); ``estimate_for_period`` scales
        it to the documented period (:func:`period_fraction`: calendar months
        for a year, half-year, quarter or month, else days), NaN without both
        dates or for an unknown period word. Dates are ``datetime64`` (NaT when empty).
        ``promised_low, promised_high`` are the optional promised range of
        realized.csv (NaN when not given; either end may be open).
        ``vs_promise`` compares the realized value with what was promised to
        *this customer*: ``inside``, ``below`` or ``above`` the promised
        range when one is given, else ``met`` (realized >= promised) or
        ``below``; empty without a realized value or any promise.
        ``meets_promise`` is True/False (None when unknown): not below the
        promise (its low end for a range).

    Raises
    ------
    CvmError
        The study has no ``realized.csv`` (the message names the columns it needs).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.documenter import document_value
    >>> d = document_value(cvm.load_study(cvm.example_path()))
    >>> bool(((d["gap"] - (d["realized"] - d["promised"])).abs() < 1e-9).all())
    True
    """
    from .estimates import summarize

    r = _require_realized(study)
    subs = dict(zip(study.customers["customer_id"], study.customers["subsegment"]))
    names = {e.id: e.name for e in study.elements}
    out = pd.DataFrame({
        "customer_id": r["customer_id"].astype(str).to_numpy(object),
        "subsegment": r["customer_id"].map(subs).to_numpy(object),
        "element_id": r["element_id"].astype(str).to_numpy(object),
        "element": r["element_id"].map(names).to_numpy(object),
        "period_start": pd.to_datetime(r["period_start"].replace("", None), errors="coerce").to_numpy(),
        "period_end": pd.to_datetime(r["period_end"].replace("", None), errors="coerce").to_numpy(),
        "promised": r["promised"].astype(float).to_numpy(),
        "realized": r["realized"].astype(float).to_numpy(),
    })
    out["realization_rate"] = _rate(out["realized"], out["promised"])
    out["gap"] = out["realized"] - out["promised"]
    out["source"] = r["source"].fillna("").astype(str).to_numpy(object)
    out["note"] = r["note"].fillna("").astype(str).to_numpy(object) if "note" in r.columns else ""
    s = summarize(study)
    means = s.set_index(["element_id", "subsegment"])["mean"]
    keys = pd.MultiIndex.from_arrays([out["element_id"], out["subsegment"]])
    out["estimate"] = means.reindex(keys).to_numpy(float)
    out["estimate_for_period"] = out["estimate"] * period_fraction(out["period_start"], out["period_end"],
                                                                   study.period).to_numpy(float)
    low, high = _promised_range(r, "realized.csv")
    out["promised_low"] = low.to_numpy(float)
    out["promised_high"] = high.to_numpy(float)
    text, met = _vs_promise(out["realized"].to_numpy(float), out["promised"].to_numpy(float),
                            out["promised_low"].to_numpy(float), out["promised_high"].to_numpy(float))
    out["vs_promise"] = pd.Series(text, dtype=object).to_numpy(object)
    out["meets_promise"] = pd.Series(met, dtype=object).to_numpy(object)
    return out[DOCUMENT_COLUMNS]


def value_case_history(study: Study, customer_id: str, documented: pd.DataFrame | None = None) -> pd.DataFrame:
    """One customer's documented value over time, with running totals per element.

    Parameters
    ----------
    study : Study
    customer_id : str
    documented : DataFrame, optional
        :func:`document_value` output (computed if omitted).

    Returns
    -------
    DataFrame
        The customer's :func:`document_value` rows ordered by element (in
        project.yaml order) and period start, plus ``cum_promised,
        cum_realized`` (running sums per element over its periods) and
        ``cum_rate = cum_realized / cum_promised``.

    Raises
    ------
    CvmError
        Unknown customer; :class:`AnalysisError` if nothing is documented for it.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.documenter import value_case_history
    >>> study = cvm.load_study(cvm.example_path())
    >>> cid = study.realized["customer_id"].iloc[0]
    >>> h = value_case_history(study, cid)
    >>> bool((h["customer_id"] == cid).all())
    True
    """
    from .values import require_customer

    d = documented if documented is not None else document_value(study)
    require_customer(study, customer_id)
    h = d[d["customer_id"] == customer_id]
    if h.empty:
        have = ", ".join(dict.fromkeys(map(str, d["customer_id"])))
        raise AnalysisError(f"nothing documented for customer {customer_id!r} in realized.csv; "
                            f"customers with rows: {have or 'none'}")
    order = {e.id: i for i, e in enumerate(study.elements)}
    h = h.assign(_o=h["element_id"].map(order)).sort_values(["_o", "period_start"], kind="stable",
                                                             na_position="last").drop(columns="_o")
    g = h.groupby("element_id", sort=False)
    h = h.assign(cum_promised=g["promised"].cumsum(), cum_realized=g["realized"].cumsum())
    h["cum_rate"] = _rate(h["cum_realized"], h["cum_promised"])
    return h[HISTORY_COLUMNS].reset_index(drop=True)


def delivery_by_element(study: Study, documented: pd.DataFrame | None = None) -> pd.DataFrame:
    """Across customers, which elements deliver what was promised.

    Parameters
    ----------
    study : Study
    documented : DataFrame, optional
        :func:`document_value` output (computed if omitted).

    Returns
    -------
    DataFrame
        One row per documented element (project.yaml order): ``element_id,
        element, n_customers, n_rows, total_promised, total_realized``
        (over the ``n_compared`` rows with both figures; NaN when none),
        ``overall_rate`` (total realized / total promised, when that is
        positive), ``mean_rate,
        median_rate`` (of the rows' realization rates), ``share_at_or_above``
        (share of rows with both figures where realized >= promised),
        ``total_gap``, ``total_estimate_for_period`` (the study's estimate
        over the same rows and periods, see :func:`document_value`) and
        ``realized_vs_estimate`` (total realized / that estimate, over rows
        having both, when the estimate is positive; NaN without period dates),
        ``n_compared``.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.documenter import delivery_by_element
    >>> t = delivery_by_element(cvm.load_study(cvm.example_path()))
    >>> bool((t["n_customers"] >= 1).all())
    True
    """
    d = documented if documented is not None else document_value(study)
    rows = []
    for e in study.elements:
        x = d[d["element_id"] == e.id]
        if x.empty:
            continue
        both = x.dropna(subset=["promised", "realized"])
        rate = x["realization_rate"].dropna()
        # over the rows with both figures (n_compared); none: unknown, never 0
        tp, tr = (float(both["promised"].sum()), float(both["realized"].sum())) if len(both) else (math.nan,) * 2
        est = x.dropna(subset=["realized", "estimate_for_period"])
        te = float(est["estimate_for_period"].sum()) if len(est) else math.nan
        rows.append({
            "element_id": e.id, "element": e.name, "n_customers": int(x["customer_id"].nunique()),
            "n_rows": int(len(x)), "total_promised": tp, "total_realized": tr,
            "overall_rate": tr / tp if tp > 0 else math.nan,  # a ratio to a total promise <= 0: see _rate
            "mean_rate": float(rate.mean()) if len(rate) else math.nan,
            "median_rate": float(rate.median()) if len(rate) else math.nan,
            "share_at_or_above": float((both["realized"] >= both["promised"]).mean()) if len(both) else math.nan,
            "total_gap": tr - tp,
            "total_estimate_for_period": te,
            "realized_vs_estimate": float(est["realized"].sum()) / te if len(est) and te > 0 else math.nan,
            "n_compared": int(len(both)),
        })
    return pd.DataFrame(rows, columns=DELIVERY_COLUMNS)


def documented_rate(study: Study, documented: pd.DataFrame | None = None, *, by: str = "customer",
                    confidence: float = 0.95) -> pd.DataFrame:
    """The documented rate: the share of customers (or rows) whose realized value meets the promise.

    Parameters
    ----------
    study : Study
    documented : DataFrame, optional
        :func:`document_value` output (computed if omitted).
    by : {"customer", "row"}
        ``customer``: per element, a customer meets its promise when its
        realized values summed over its documented periods reach its
        promises summed the same way (the low end of a promised range where
        one is given); in the ``all`` row, when it does so on every element
        documented with it. ``row``: each documented row counts once
        (:func:`document_value`'s ``meets_promise``).
    confidence : float
        Level of the Wilson score interval
        (:func:`statsmodels.stats.proportion.proportion_confint`, ``method="wilson"``),
        which stays inside 0..1 and is usable with the few customers a
        documenter has.

    Returns
    -------
    DataFrame
        ``element_id, element, unit, n, met, rate, ci_low, ci_high,
        confidence, method``: one row per documented element (project.yaml
        order), then ``element_id = "all"`` across elements. ``n`` counts the
        customers (or rows) with a realized value and a promise; ``rate =
        met / n`` (NaN when n is 0).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.documenter import documented_rate
    >>> r = documented_rate(cvm.load_study(cvm.example_path()))
    >>> bool(((r["ci_low"] <= r["rate"]) & (r["rate"] <= r["ci_high"])).all())
    True
    """
    from statsmodels.stats.proportion import proportion_confint

    if by not in ("customer", "row"):
        raise CvmError(f"by must be 'customer' or 'row', got {by!r}")
    if not 0 < confidence < 1:
        raise CvmError(f"confidence must be between 0 and 1, got {confidence!r}")
    d = documented if documented is not None else document_value(study)
    d = d[d["meets_promise"].notna()]
    floor = d["promised_low"].where(d["promised_low"].notna(),
                                    d["promised"].where(d["promised_high"].isna()))

    def per_customer(x: pd.DataFrame) -> pd.Series:
        # a customer with only an upper bound promised (no low end, no point) always meets it
        g = x.assign(_floor=floor.reindex(x.index).fillna(-np.inf)).groupby("customer_id", sort=False)
        return g["realized"].sum() >= g["_floor"].sum()

    rows = []
    names = {e.id: e.name for e in study.elements}
    groups = [(e.id, d[d["element_id"] == e.id]) for e in study.elements if (d["element_id"] == e.id).any()]
    for eid, x in groups + [("all", d)]:
        if by == "row":
            met_flags = x["meets_promise"].astype(bool)
        elif eid == "all":
            per = [per_customer(g) for _, g in groups]
            met_flags = pd.concat(per, axis=1).all(axis=1) if per else pd.Series(dtype=bool)
        else:
            met_flags = per_customer(x)
        n, met = int(len(met_flags)), int(met_flags.sum())
        if n:
            lo, hi = proportion_confint(met, n, alpha=1 - confidence, method="wilson")
        else:
            lo = hi = math.nan
        rows.append({"element_id": eid, "element": names.get(eid, "all elements"), "unit": f"{by}s", "n": n,
                     "met": met, "rate": met / n if n else math.nan, "ci_low": float(lo), "ci_high": float(hi),
                     "confidence": confidence, "method": "Wilson score interval"})
    return pd.DataFrame(rows, columns=RATE_COLUMNS)


def write_documenter(study: Study, folder) -> list:
    """Write ``value_documenter.csv``, ``delivery_by_element.csv`` and ``documented_rate.csv`` (whole or not at all).

    Both tables are computed before either file is written.

    Returns
    -------
    list of Path
    """
    from pathlib import Path

    from .io import write_csv

    folder = Path(folder)
    d = document_value(study)
    tables = {"value_documenter.csv": d, "delivery_by_element.csv": delivery_by_element(study, d),
              "documented_rate.csv": documented_rate(study, d)}
    paths = []
    for name, df in tables.items():
        out = df.copy()
        for col in ("period_start", "period_end"):
            if col in out.columns:
                out[col] = out[col].dt.strftime("%Y-%m-%d").fillna("")
        write_csv(out, folder / name)
        paths.append(folder / name)
    return paths


__all__ = ["document_value", "value_case_history", "delivery_by_element", "documented_rate", "period_fraction",
           "write_documenter"]
