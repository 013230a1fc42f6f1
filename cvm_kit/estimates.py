"""Per-element estimates and the value summary (the customer value model).

Means, standard deviations and 95% t intervals per element, overall and per
subsegment; the value summary lists every element with its status, estimate,
assumptions, and the placeholders with their perceived ranges (never summed).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._tdist import t_quantile  # scipy.special.stdtrit, imported on first use
from .reporting.fmt import plain
from .study import ALL, Study
from .values import element_values, totals

SUMMARY_COLUMNS = ["element_id", "status", "subsegment", "n", "mean", "sd", "se", "ci_low", "ci_high",
                   "min", "max", "share_from_data"]


def describe(values: np.ndarray, confidence: float = 0.95) -> dict[str, float]:
    """n, mean, sd, se, t interval, min and max of the non-missing values.

    Examples
    --------
    >>> d = describe(np.array([1.0, 2.0, 3.0, np.nan]))
    >>> d["n"], d["mean"], float(round(d["ci_high"], 4))
    (3, 2.0, 4.4841)
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = int(x.size)
    out = {"n": n, "mean": np.nan, "sd": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan,
           "min": np.nan, "max": np.nan}
    if n == 0:
        return out
    mean = float(x.mean())
    out.update(mean=mean, min=float(x.min()), max=float(x.max()))
    if n >= 2:
        sd = float(x.std(ddof=1))
        se = sd / np.sqrt(n)
        half = float(t_quantile(0.5 + confidence / 2, n - 1)) * se
        out.update(sd=sd, se=se, ci_low=mean - half, ci_high=mean + half)
    return out


def _codes(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A key column's codes and distinct values (remembered ones for text columns)."""
    if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
        from .study.factors import factorize

        return factorize(col)
    c, u = pd.factorize(col, use_na_sentinel=False)
    return np.asarray(c), np.asarray(u, dtype=object)


def _grouped_describe(df: pd.DataFrame, keys: list[str], value: str, confidence: float,
                      extra: dict[str, tuple[str, str]] | None = None) -> pd.DataFrame:
    """Vectorised :func:`describe` per group (the same numbers, without a Python loop per group).

    Groups in order of first appearance; rows without a value or with a
    missing key are left out (as ``groupby``). ``extra`` adds named means over
    the rows with a value, e.g. ``{"share": ("from_data", "mean")}`` (NaN skipped).
    """
    have = df[value].notna().to_numpy()
    d = df[have]
    combined = np.zeros(int(have.sum()), dtype=np.int64)
    ok = np.ones(len(d), dtype=bool)
    uniques = []
    for k in keys:  # one integer per key combination: numpy sums per group, no hashing of tuples
        c, u = _codes(df[k])  # on the whole column: its factorization may be remembered already
        u = np.asarray(u, dtype=object)
        missing = pd.isna(u)  # a missing key is left out, as groupby does (code 0 below)
        if missing.any():
            c = np.where(missing[c], -1, c)[have]
            ok &= c >= 0
        else:
            c = c[have]
        combined = combined * (len(u) + 1) + c + 1
        uniques.append(u)
    group, combos = pd.factorize(combined[ok])
    x = d[value].to_numpy(dtype=float)[ok]
    n_groups = len(combos)
    n = np.bincount(group, minlength=n_groups)
    mean = np.bincount(group, weights=x, minlength=n_groups) / np.maximum(n, 1)
    dev = x - mean[group]  # two passes: the spread of close values stays exact
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.where(n >= 2, np.sqrt(np.bincount(group, weights=dev * dev, minlength=n_groups) / (n - 1)), np.nan)
    order = np.argsort(group, kind="stable")
    starts = np.searchsorted(group[order], np.arange(n_groups))
    out: dict[str, object] = {}
    rest = np.asarray(combos, dtype=np.int64)
    for k, u in zip(reversed(keys), reversed(uniques)):  # decode the combined key, last key first
        out[k] = u[rest % (len(u) + 1) - 1]
        rest = rest // (len(u) + 1)
    frame = pd.DataFrame({k: out[k] for k in keys})
    frame["n"], frame["mean"], frame["sd"] = n.astype(int), mean, sd
    frame["min"] = np.minimum.reduceat(x[order], starts) if n_groups else np.array([], dtype=float)
    frame["max"] = np.maximum.reduceat(x[order], starts) if n_groups else np.array([], dtype=float)
    for name, (col, how) in (extra or {}).items():
        if how != "mean":
            raise ValueError(f"only means can be added, not {how!r}")
        y = d[col].to_numpy(dtype=float)[ok]
        have = ~np.isnan(y)
        with np.errstate(invalid="ignore", divide="ignore"):
            frame[name] = (np.bincount(group, weights=np.where(have, y, 0.0), minlength=n_groups)
                           / np.bincount(group, weights=have, minlength=n_groups))
    frame["se"] = frame["sd"] / np.sqrt(frame["n"])
    tcrit = t_quantile(0.5 + confidence / 2, np.maximum(n - 1, 1)) if n_groups else np.array([], dtype=float)
    half = np.where(n >= 2, tcrit * frame["se"].to_numpy(), np.nan)
    frame["ci_low"] = frame["mean"] - half
    frame["ci_high"] = frame["mean"] + half
    return frame


def summarize(study: Study, values: pd.DataFrame | None = None, *, confidence: float = 0.95,
              bootstrap: bool = False, n_resamples: int = 9999, seed: int = 0) -> pd.DataFrame:
    """Per element and subsegment, plus ``all``: n, mean, sd, se, t interval, range, data share.

    Parameters
    ----------
    study : Study
    values : DataFrame, optional
        The output of :func:`~cvm_kit.values.element_values` (computed if omitted).
    confidence : float
        Level of the t interval (default 95%).
    bootstrap : bool
        Also a bootstrap interval of the mean beside each t interval
        (:func:`bootstrap_interval`: columns ``boot_low, boot_high,
        boot_method`` after ``ci_high``). Off by default: it resamples every
        group ``n_resamples`` times.
    n_resamples, seed : int
        Bootstrap resamples per group and their seed (each group starts
        from ``seed``, so a row's interval does not depend on the others).

    Returns
    -------
    DataFrame
        ``element_id, status, subsegment, n, mean, sd, se, ci_low, ci_high,
        min, max, share_from_data``; ``n`` counts customers with a value;
        ``share_from_data`` is the share of those whose value rests on
        ``data`` inputs only (NaN for parity: no inputs). ``status`` is the
        element's status in that subsegment (its overall status on ``all``).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> s = cvm.summarize(cvm.load_study(cvm.example_path()))
    >>> sorted(s["subsegment"].unique())[:1]
    ['all']
    """
    values = values if values is not None else element_values(study)
    v = values[["element_id", "subsegment", "value"]].copy(deep=False)
    # a value resting on data inputs only; a row without a value has no share (it is dropped before grouping)
    v["from_data"] = np.where(values["weakest_source"].isna().to_numpy(), np.nan,
                              (values["weakest_source"] == "data").to_numpy(dtype=float))
    share = {"share_from_data": ("from_data", "mean")}
    cols = ["n", "mean", "sd", "se", "ci_low", "ci_high", "min", "max", "share_from_data"]
    stats_sub = _grouped_describe(v, ["element_id", "subsegment"], "value", confidence, share).set_index(
        ["element_id", "subsegment"])[cols].to_dict("index")
    stats_all = _grouped_describe(v, ["element_id"], "value", confidence, share).set_index("element_id")[
        cols].to_dict("index")
    empty = {c: (0 if c == "n" else np.nan) for c in cols}
    rows = []
    for e in study.elements:
        if not e.quantified:
            continue
        for sid in study.subsegment_ids + [ALL]:
            rec = stats_all.get(e.id, empty) if sid == ALL else stats_sub.get((e.id, sid), empty)
            status = e.status if sid == ALL else e.status_for(sid)
            rows.append({"element_id": e.id, "status": status, "subsegment": sid, **rec})
    out = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    out["n"] = out["n"].fillna(0).astype(int)
    if bootstrap:
        out = _with_bootstrap(out, v, confidence=confidence, n_resamples=n_resamples, seed=seed)
    return out


BOOT_COLUMNS = ["boot_low", "boot_high", "boot_method"]
BOOT_BCA = "BCa"
BOOT_PERCENTILE = "percentile (BCa degenerate)"
BOOT_FEW = "none (fewer than 3 values)"
BOOT_EQUAL = "none (all values equal)"


def bootstrap_interval(values: np.ndarray, *, confidence: float = 0.95, n_resamples: int = 9999,
                       seed: int = 0) -> tuple[float, float, str]:
    """BCa bootstrap interval of the mean, falling back to percentile where BCa degenerates.

    Calls ``scipy.stats.bootstrap((x,), np.mean, method="BCa",
    rng=np.random.default_rng(seed))`` on the non-missing values. Where the
    BCa limits come out NaN (its bias or acceleration cannot be estimated)
    the percentile interval of the same bootstrap distribution is returned
    and ``method`` says so. With fewer than 3 values, or all values equal,
    there is no interval (NaN).

    Returns
    -------
    tuple
        ``(low, high, method)``, method one of ``"BCa"``,
        ``"percentile (BCa degenerate)"``, ``"none (fewer than 3 values)"``,
        ``"none (all values equal)"``.

    Examples
    --------
    >>> bootstrap_interval(np.array([5.0, 5.0, 5.0]))
    (nan, nan, 'none (all values equal)')
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size < 3:
        return np.nan, np.nan, BOOT_FEW
    if np.all(x == x[0]):
        return np.nan, np.nan, BOOT_EQUAL
    import warnings

    from scipy import stats

    # resample in batches of ~5 million numbers so a whole-segment row of thousands stays in memory
    batch = None if x.size * n_resamples <= 5_000_000 else max(1, 5_000_000 // x.size)
    kw = dict(confidence_level=confidence, n_resamples=n_resamples, batch=batch, vectorized=True)
    with warnings.catch_warnings():  # a degenerate BCa warns; the fallback below says so in `method`
        warnings.simplefilter("ignore")
        res = stats.bootstrap((x,), np.mean, method="BCa", rng=np.random.default_rng(seed), **kw)
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if np.isfinite(lo) and np.isfinite(hi):
            return lo, hi, BOOT_BCA
        kw["n_resamples"] = 0  # the same bootstrap distribution, read by percentiles
        res = stats.bootstrap((x,), np.mean, method="percentile", bootstrap_result=res, **kw)
    return float(res.confidence_interval.low), float(res.confidence_interval.high), BOOT_PERCENTILE


def _with_bootstrap(summary: pd.DataFrame, values: pd.DataFrame, *, confidence: float, n_resamples: int,
                    seed: int) -> pd.DataFrame:
    """The summary with ``boot_low, boot_high, boot_method`` after ``ci_high``."""
    v = values.dropna(subset=["value"])
    per = {k: g.to_numpy(float) for k, g in v.groupby(["element_id", "subsegment"], sort=False)["value"]}
    whole = {k: g.to_numpy(float) for k, g in v.groupby("element_id", sort=False)["value"]}
    res = []
    for eid, sid in zip(summary["element_id"], summary["subsegment"]):
        x = whole.get(eid) if sid == ALL else per.get((eid, sid))
        res.append(bootstrap_interval(x if x is not None else np.array([]), confidence=confidence,
                                      n_resamples=n_resamples, seed=seed))
    out = summary.copy()
    at = out.columns.get_loc("ci_high") + 1
    for i, col in enumerate(BOOT_COLUMNS):
        out.insert(at + i, col, [r[i] for r in res])
    return out


def summarize_totals(study: Study, totals_df: pd.DataFrame | None = None, *, confidence: float = 0.95) -> pd.DataFrame:
    """Mean and interval of differential, contention, price and net value per subsegment and ``all``.

    Returns
    -------
    DataFrame
        ``quantity, subsegment, n, mean, sd, se, ci_low, ci_high, min, max``.
    """
    t = totals_df if totals_df is not None else totals(study)
    long = t.melt(id_vars=["customer_id", "subsegment"], var_name="quantity", value_name="value")
    per = _grouped_describe(long, ["quantity", "subsegment"], "value", confidence)
    allr = _grouped_describe(long, ["quantity"], "value", confidence).assign(subsegment=ALL)
    out = pd.concat([per, allr], ignore_index=True)
    order = {q: i for i, q in enumerate(["differential_value", "contention_value", "price_difference", "net_value"])}
    subs = {s: i for i, s in enumerate(study.subsegment_ids + [ALL])}
    out = out.sort_values(["quantity", "subsegment"],
                          key=lambda s: s.map(order) if s.name == "quantity" else s.map(subs))
    cols = ["quantity", "subsegment", "n", "mean", "sd", "se", "ci_low", "ci_high", "min", "max"]
    return out[cols].reset_index(drop=True)


def value_summary(study: Study, summary: pd.DataFrame | None = None) -> pd.DataFrame:
    """The customer value model: every element with its status, estimate and assumptions.

    Quantified elements carry the whole-segment mean and 95% interval and the
    mean per subsegment; placeholders carry their perceived range and are
    marked as never summed.

    Returns
    -------
    DataFrame
        ``element_id, name, category, status, status_by_subsegment, mean,
        ci_low, ci_high, n, share_from_data, then per subsegment
        ``mean_<id>, status_<id>``, then perceived_low, perceived_high, summed, equation, assumptions``.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> vs = cvm.value_summary(cvm.load_study(cvm.example_path()))
    >>> bool((vs.loc[vs["status"] == "placeholder", "summed"] == False).all())
    True
    """
    summary = summary if summary is not None else summarize(study)
    s = summary.set_index(["element_id", "subsegment"])
    rows = []
    for e in study.elements:
        row: dict[str, Any] = {
            "element_id": e.id, "name": e.name, "category": e.category or "", "status": e.status,
            "status_by_subsegment": "; ".join(f"{k}: {v}" for k, v in e.status_by_subsegment.items()),
        }
        if e.quantified and (e.id, ALL) in s.index:
            a = s.loc[(e.id, ALL)]
            row.update(mean=a["mean"], ci_low=a["ci_low"], ci_high=a["ci_high"], n=int(a["n"]),
                       share_from_data=a["share_from_data"])
            for sid in study.subsegment_ids:
                row[f"mean_{sid}"] = s.loc[(e.id, sid), "mean"] if (e.id, sid) in s.index else np.nan
                row[f"status_{sid}"] = e.status_for(sid)
        else:
            row.update(mean=np.nan, ci_low=np.nan, ci_high=np.nan, n=0, share_from_data=np.nan)
            for sid in study.subsegment_ids:
                row[f"mean_{sid}"] = np.nan
                row[f"status_{sid}"] = e.status_for(sid)
        rng = e.perceived_range
        row["perceived_low"] = rng[0] if rng else np.nan
        row["perceived_high"] = rng[1] if rng else np.nan
        row["summed"] = e.status in ("difference", "contention") or any(
            v in ("difference", "contention") for v in e.status_by_subsegment.values())
        row["equation"] = e.equation.text if e.equation is not None else ""
        row["assumptions"] = "; ".join(e.assumptions)
        rows.append(row)
    return pd.DataFrame(rows)


def subsegment_value_summary(study: Study, summary: pd.DataFrame | None = None) -> pd.DataFrame:
    """The value summary of each subsegment against *its* next-best-alternative.

    Returns
    -------
    DataFrame
        ``subsegment, next_best_alternative, element_id, name, status, n,
        mean, ci_low, ci_high`` (status as hypothesised for that subsegment;
        placeholders listed with NaN, never summed).
    """
    summary = summary if summary is not None else summarize(study)
    s = summary.set_index(["element_id", "subsegment"])
    rows = []
    for sid in study.subsegment_ids:
        for e in study.elements:
            rec = {"subsegment": sid, "next_best_alternative": study.alternative_for(sid), "element_id": e.id,
                   "name": e.name, "status": e.status_for(sid), "n": 0, "mean": np.nan, "ci_low": np.nan,
                   "ci_high": np.nan}
            if (e.id, sid) in s.index:
                a = s.loc[(e.id, sid)]
                rec.update(n=int(a["n"]), mean=a["mean"], ci_low=a["ci_low"], ci_high=a["ci_high"])
            rows.append(rec)
    return pd.DataFrame(rows)


def assumptions(study: Study, *, customer: str | None = None) -> pd.DataFrame:
    """Every assumption the model rests on, in one list.

    Element assumptions, constants with their sources, derived quantities,
    the price equation, and every measurement whose source is ``assumption``.

    Parameters
    ----------
    study : Study
    customer : str, optional
        The assumptions one customer's values rest on: only that customer's
        assumed measurements, no parity note of another subsegment, and a
        constant the customer measured itself says the customer's own figure
        (the mean of its rows) is used instead.

    Returns
    -------
    DataFrame
        ``kind, subject, assumption`` (kind: element, constant, derived,
        price, measurement).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> a = assumptions(cvm.load_study(cvm.example_path()))
    >>> sorted(set(a["kind"]))
    ['constant', 'derived', 'element', 'measurement', 'price']
    """
    from .equations import normalize_phrase

    m = study.measurements
    sub = None
    if customer is not None:
        mine = study.customers[study.customers["customer_id"] == customer]
        sub = str(mine["subsegment"].iloc[0]) if len(mine) else None
        m = m[m["customer_id"] == customer]
    rows = []
    for e in study.elements:
        for a in e.assumptions:
            rows.append(("element", e.id, a))
        if e.status == "parity" and not e.status_by_subsegment:
            rows.append(("element", e.id, "Point of parity with the next-best-alternative: worth 0."))
        for sid, st in e.status_by_subsegment.items():
            if st == "parity" and (customer is None or sid == sub):
                rows.append(("element", e.id, f"Point of parity for {sid} customers: worth 0 there."))
    for c in study.constants:
        text = f"= {plain(c.value)}" + (f" (source: {c.source})" if c.source else " (no source given)")
        own = m[m["phrase"] == normalize_phrase(c.name)] if customer is not None else m.iloc[:0]
        if len(own):
            sources = ", ".join(sorted(set(own["source"].astype(str))))
            text += f"; this customer's own figure is used instead: {plain(own['value'].mean())} ({sources})"
        rows.append(("constant", c.name, text))
    for d in study.derived:
        rows.append(("derived", d.name, f"= {d.equation.text}"))
    if study.price is not None:
        rows.append(("price", "price difference", f"= {study.price.text}"))
    a = m[m["source"] == "assumption"]
    for cid, var, val, note in zip(a["customer_id"], a["variable"], a["value"], a["note"]):
        rows.append(("measurement", f"{cid}: {var}",
                     f"= {plain(val)} assumed by the team" + (f" ({note})" if note else "")))
    return pd.DataFrame(rows, columns=["kind", "subject", "assumption"])
