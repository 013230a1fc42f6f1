"""The value documenter: value promised to customers versus value realized.

Reads ``realized.csv`` (what was promised to a customer for an element over
a period, and what was later documented with that customer) and compares:

- :func:`document_value` one row per customer, element and period with the
  realization rate and the gap, beside the study's estimate;
- :func:`value_case_history` one customer's rows over time, cumulated;
- :func:`delivery_by_element` across customers: which elements deliver what
  was promised.
"""

from __future__ import annotations

import math

import pandas as pd

from .errors import AnalysisError, CvmError
from .study import Study

REALIZED_COLUMNS = "customer_id, element_id, period_start, period_end, promised, realized, source, note"
DOCUMENT_COLUMNS = ["customer_id", "subsegment", "element_id", "element", "period_start", "period_end",
                    "promised", "realized", "realization_rate", "gap", "source", "note",
                    "estimate", "estimate_for_period"]
HISTORY_COLUMNS = DOCUMENT_COLUMNS + ["cum_promised", "cum_realized", "cum_rate"]
DELIVERY_COLUMNS = ["element_id", "element", "n_customers", "n_rows", "total_promised", "total_realized",
                    "overall_rate", "mean_rate", "median_rate", "share_at_or_above", "total_gap",
                    "total_estimate_for_period", "realized_vs_estimate"]

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
    """realized / promised, NaN where nothing (0) or nothing known was promised."""
    p = promised.astype(float)
    return (realized.astype(float) / p.where(p != 0)).astype(float)


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
        ``realization_rate = realized / promised`` (NaN if promised is 0 or
        missing); ``gap = realized - promised`` (negative: less delivered
        than promised). ``estimate`` is the study's mean value of the element
        in the customer's subsegment per study period
        (:func:`cvm_kit.estimates.summarize`); ``estimate_for_period`` scales
        it to the documented period (:func:`period_fraction`: calendar months
        for a year, half-year, quarter or month, else days), NaN without both
        dates or for an unknown period word. Dates are ``datetime64`` (NaT when empty).

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
        element, n_customers, n_rows, total_promised, total_realized,
        overall_rate`` (total realized / total promised), ``mean_rate,
        median_rate`` (of the rows' realization rates), ``share_at_or_above``
        (share of rows with both figures where realized >= promised),
        ``total_gap``, ``total_estimate_for_period`` (the study's estimate
        over the same rows and periods, see :func:`document_value`) and
        ``realized_vs_estimate`` (total realized / that estimate, over rows
        having both; NaN without period dates).

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
        tp, tr = float(both["promised"].sum()), float(both["realized"].sum())
        est = x.dropna(subset=["realized", "estimate_for_period"])
        te = float(est["estimate_for_period"].sum()) if len(est) else math.nan
        rows.append({
            "element_id": e.id, "element": e.name, "n_customers": int(x["customer_id"].nunique()),
            "n_rows": int(len(x)), "total_promised": tp, "total_realized": tr,
            "overall_rate": tr / tp if tp != 0 else math.nan,
            "mean_rate": float(rate.mean()) if len(rate) else math.nan,
            "median_rate": float(rate.median()) if len(rate) else math.nan,
            "share_at_or_above": float((both["realized"] >= both["promised"]).mean()) if len(both) else math.nan,
            "total_gap": tr - tp,
            "total_estimate_for_period": te,
            "realized_vs_estimate": float(est["realized"].sum()) / te if len(est) and te != 0 else math.nan,
        })
    return pd.DataFrame(rows, columns=DELIVERY_COLUMNS)


def write_documenter(study: Study, folder) -> list:
    """Write ``value_documenter.csv`` and ``delivery_by_element.csv`` (each whole or not at all).

    Both tables are computed before either file is written.

    Returns
    -------
    list of Path
    """
    from pathlib import Path

    from .io import write_csv

    folder = Path(folder)
    d = document_value(study)
    tables = {"value_documenter.csv": d, "delivery_by_element.csv": delivery_by_element(study, d)}
    paths = []
    for name, df in tables.items():
        out = df.copy()
        for col in ("period_start", "period_end"):
            if col in out.columns:
                out[col] = out[col].dt.strftime("%Y-%m-%d").fillna("")
        write_csv(out, folder / name)
        paths.append(folder / name)
    return paths


__all__ = ["document_value", "value_case_history", "delivery_by_element", "period_fraction", "write_documenter"]
