"""The most attractive customers: studied customers ranked, prospects scored.

:func:`rank_customers` ranks the studied customers by net value.
:func:`score_prospects` predicts each prospect's net value (prospects.csv)
from the characteristics that best explain net value among the studied
customers (:func:`~cvm_kit.segments.drivers`), with an OLS fit and its 95%
prediction interval, and ranks them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .errors import AnalysisError, CvmError
from .reporting.fmt import plain
from .study import Study
from .values import totals as _totals

PROSPECT_COLUMNS = ["rank", "prospect_id", "subsegment", "predicted_net_value", "pi_low", "pi_high", "drivers",
                    "note"]


def rank_customers(study: Study, totals: pd.DataFrame | None = None) -> pd.DataFrame:
    """The studied customers ranked by net value, highest first.

    Returns
    -------
    DataFrame
        ``rank, customer_id, subsegment, net_value, differential_value,
        price_difference`` and the characteristic columns of customers.csv.
        Customers whose net value is missing come last with no rank.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.prospects import rank_customers
    >>> r = rank_customers(cvm.load_study(cvm.example_path()))
    >>> int(r["rank"].iloc[0])
    1
    """
    t = totals if totals is not None else _totals(study)
    t = t[["customer_id", "subsegment", "net_value", "differential_value", "price_difference"]]
    chars = study.customers.drop(columns=["subsegment"])
    out = t.merge(chars, on="customer_id", how="left")
    out = out.sort_values("net_value", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    rank = out["net_value"].rank(ascending=False, method="min")
    out.insert(0, "rank", rank.astype("Int64"))
    return out


def _top_drivers(study: Study, top: int, values: pd.DataFrame | None) -> list[str]:
    from .segments import drivers

    d = drivers(study, values=values)
    d = d[(d["element_id"] == "net_value") & d["adj_r_squared"].notna()].sort_values("rank")
    usable = [c for c in d["characteristic"] if study.prospects is not None and c in study.prospects.columns]
    return usable[:top]


def _characteristics(study: Study, pros: pd.DataFrame, top: int, characteristics: list[str] | None,
                     values: pd.DataFrame | None) -> list[str]:
    """The characteristics to predict from: those given (checked), else the top drivers of net value."""
    if characteristics is None:
        chars = _top_drivers(study, top, values)
        if not chars:
            raise AnalysisError("no characteristic recorded in both customers.csv and prospects.csv explains net "
                                "value (see `cvm segment`): prospects cannot be scored")
        return chars
    missing = [c for c in characteristics if c not in study.characteristics or c not in pros.columns]
    if missing:
        raise CvmError(f"characteristic(s) {', '.join(missing)} not in both customers.csv and prospects.csv")
    return list(characteristics)


def _design(study: Study, chars: list[str], train: pd.DataFrame, pros: pd.DataFrame
            ) -> tuple[np.ndarray, np.ndarray, list[list[str]], np.ndarray]:
    """Design matrices of the studied customers and the prospects, notes per prospect, and which cannot be scored.

    Built from the training data only (no formula from user text): numeric
    characteristics as columns, categorical ones as dummies of the studied
    levels (the first is the baseline).
    """
    cols_train = [np.ones(len(train))]
    cols_pros = [np.ones(len(pros))]
    notes: list[list[str]] = [[] for _ in range(len(pros))]
    bad = np.zeros(len(pros), bool)
    for c in chars:
        numeric = pd.api.types.is_numeric_dtype(study.customers[c])
        if numeric:
            xt = train[c].to_numpy(float)
            xp = pd.to_numeric(pros[c], errors="coerce").to_numpy(float)
            cols_train.append(xt)
            cols_pros.append(np.nan_to_num(xp))
            lo, hi = np.nanmin(xt), np.nanmax(xt)
            for i, v in enumerate(xp):
                if np.isnan(v):
                    bad[i] = True
                    notes[i].append(f"{c} missing")
                elif v < lo or v > hi:
                    notes[i].append(f"{c}={plain(v)} outside the studied range {plain(lo)}-{plain(hi)}: extrapolated")
        else:
            levels = sorted(train[c].astype(str).unique())
            xt = train[c].astype(str).to_numpy(object)
            xp = pros[c].astype(str).where(pros[c].notna(), None).to_numpy(object)
            for lev in levels[1:]:  # first level is the baseline
                cols_train.append((xt == lev).astype(float))
                cols_pros.append((xp == lev).astype(float))
            counts = pd.Series(xt).value_counts()
            for i, v in enumerate(xp):
                if v is None:
                    bad[i] = True
                    notes[i].append(f"{c} missing")
                elif v in levels and counts[v] == 1:
                    notes[i].append(f"only 1 studied customer has {c} {v!r}: the prediction leans on that customer")
                elif v not in levels:
                    bad[i] = True
                    notes[i].append(f"{c} {v!r} not among the studied customers ({', '.join(levels)}): cannot predict")
    return np.column_stack(cols_train), np.column_stack(cols_pros), notes, bad


def score_prospects(study: Study, *, top: int = 1, characteristics: list[str] | None = None,
                    values: pd.DataFrame | None = None) -> pd.DataFrame:
    """Predict each prospect's net value from the top driver(s) of net value, ranked.

    The model is OLS of the studied customers' net value on the
    ``top`` characteristics that explain it best (adjusted R², see
    :func:`~cvm_kit.segments.drivers`) and that prospects.csv also records;
    numeric characteristics enter as columns, categorical ones as dummies
    of the studied levels. The interval is the 95% prediction interval for
    one customer (statsmodels ``get_prediction``: ``obs_ci_lower/upper``),
    which is wide with a dozen customers.

    Parameters
    ----------
    top : int
        How many drivers to use (1 or 2 is sensible with 6-8 customers per
        subsegment).
    characteristics : list of str, optional
        Use these characteristics instead of the top drivers.

    Returns
    -------
    DataFrame
        ``rank, prospect_id, subsegment, predicted_net_value, pi_low,
        pi_high, drivers, note`` then the driver columns; ranked by
        predicted value (prospects that cannot be scored last, with the
        reason in ``note``: a category level no studied customer has, a
        missing characteristic; a prediction outside the studied range is
        flagged). Empty with ``attrs["message"]`` when the study has no
        prospects.csv.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.prospects import score_prospects
    >>> p = score_prospects(cvm.load_study(cvm.example_path()))
    >>> int(p["rank"].iloc[0])
    1
    """
    from statsmodels.regression.linear_model import OLS

    if study.prospects is None or len(study.prospects) == 0:
        out = pd.DataFrame(columns=PROSPECT_COLUMNS)
        out.attrs["message"] = (f"{study.label} has no prospects.csv (or it is empty): no prospects to score; "
                                "add one with prospect_id and the characteristic columns of customers.csv")
        return out
    if top < 1:
        raise CvmError(f"top must be at least 1, got {top}")
    pros = study.prospects
    chars = _characteristics(study, pros, top, characteristics, values)
    t = _totals(study, values)
    cust = study.customers.set_index("customer_id").reindex(t["customer_id"])
    y = t["net_value"].to_numpy(float)
    ok = ~np.isnan(y)
    for c in chars:
        ok &= cust[c].notna().to_numpy()
    X, Xp, notes, bad = _design(study, chars, cust[ok], pros)
    n = X.shape[0]
    if n - X.shape[1] < 1:
        raise AnalysisError(f"{n} studied customers with a net value are too few to fit on {', '.join(chars)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = OLS(y[ok], X).fit()
        frame = res.get_prediction(Xp).summary_frame(alpha=0.05)
    pred = frame["mean"].to_numpy(float, copy=True)
    lo = frame["obs_ci_lower"].to_numpy(float, copy=True)
    hi = frame["obs_ci_upper"].to_numpy(float, copy=True)
    pred[bad], lo[bad], hi[bad] = np.nan, np.nan, np.nan
    fit_note = f"OLS on {n} studied customers, R²={res.rsquared:.2f}"
    out = pd.DataFrame({
        "prospect_id": pros["prospect_id"].to_numpy(object),
        "subsegment": pros["subsegment"].to_numpy(object) if "subsegment" in pros.columns else "",
        "predicted_net_value": pred, "pi_low": lo, "pi_high": hi, "drivers": ", ".join(chars),
        "note": ["; ".join(ns + [fit_note]) for ns in notes],
    })
    for c in chars:
        out[c] = pros[c].to_numpy()
    out = out.sort_values("predicted_net_value", ascending=False, na_position="last", kind="stable")
    out.insert(0, "rank", out["predicted_net_value"].rank(ascending=False, method="min").astype("Int64"))
    return out.reset_index(drop=True)
