"""Monte Carlo draws of a typical customer's value, and what they say about price.

:func:`simulate` draws the net and differential value of a typical customer
of each subsegment (bootstrap or parametric, seeded) and
:func:`simulation_summary` turns the draws into percentiles, the chance that
net value is positive and the largest price premium that keeps that chance
at or above 80%.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import AnalysisError, CvmError
from ..study import Study
from ..variance import value_matrix, valued_elements
from .common import METHOD_TEXT, METHODS, check_subsegment

__all__ = ["max_premium_at", "simulate", "simulation_summary"]

def simulate(study: Study, *, draws: int = 10_000, seed: int = 0,
             method: Literal["bootstrap", "bootstrap_customers", "parametric"] = "bootstrap",
             subsegment: str | None = None, values: pd.DataFrame | None = None,
             totals: pd.DataFrame | None = None) -> pd.DataFrame:
    """Draw the differential and net value of a typical customer of each subsegment.

    Parameters
    ----------
    draws : int
        Draws per subsegment.
    seed : int
        Seed of the random generator: the same seed gives the same draws.
    method : {"bootstrap", "bootstrap_customers", "parametric"}
        ``bootstrap``: each element's value and the price difference are
        resampled independently from the subsegment's customers who have a
        value (assumes the elements vary independently of each other).
        ``bootstrap_customers``: a draw is one whole customer with complete
        values (keeps correlations; as many distinct outcomes as customers).
        ``parametric``: each element's value and the price difference are
        normal with the subsegment's mean and sd, independent of each other.
    subsegment : str, optional
        Simulate only this subsegment.
    values, totals : DataFrame, optional
        :func:`~cvm_kit.values.element_values` and :func:`~cvm_kit.values.totals`
        (computed if omitted).

    Returns
    -------
    DataFrame
        ``subsegment, draw, differential_value, price_difference,
        net_value, method`` (``draws`` rows per subsegment).
        ``attrs["notes"]`` lists what was left out or assumed (an element
        no customer of a subsegment has a value for, an sd taken as 0 ...)
        and ``attrs["assumption"]`` states the method.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.sensitivity import simulate, simulation_summary
    >>> d = simulate(cvm.load_study(cvm.example_path()), draws=2000, seed=1)
    >>> sorted(d["subsegment"].unique())
    ['high_volume', 'low_volume']
    """
    if method not in METHODS:
        raise CvmError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if draws < 1:
        raise CvmError(f"draws must be at least 1, got {draws}")
    check_subsegment(study, subsegment)
    # rows by customer id: the same seed gives the same draws whatever the order of customers.csv
    wide = value_matrix(study, values, totals).sort_index(kind="stable")
    rng = np.random.default_rng(seed)
    subs = study.subsegment_ids if subsegment is None else [subsegment]
    frames, notes = [], []
    for s in subs:
        elems = [e.id for e in valued_elements(study, s)]
        block = wide.loc[wide["subsegment"] == s, elems + ["price_difference"]]
        if block.empty:
            notes.append(f"{s}: no customers, not simulated")
            continue
        X = block.to_numpy(float)
        have = ~np.isnan(X)
        cols = list(block.columns)
        empty = [c for c, h in zip(cols, have.any(axis=0)) if not h]
        if "price_difference" in empty:
            notes.append(f"{s}: no customer has a price difference, not simulated")
            continue
        if empty:
            notes.append(f"{s}: {', '.join(empty)} left out (no customer has a value)")
            keep = [c not in empty for c in cols]
            X, have, cols = X[:, keep], have[:, keep], [c for c, k in zip(cols, keep) if k]
        k = X.shape[1] - 1  # the last column is the price difference
        if method == "bootstrap":
            # pad each column's non-missing values to the top, then draw a row index below its count
            order = np.argsort(~have, axis=0, kind="stable")
            P = np.take_along_axis(X, order, axis=0)
            cnt = have.sum(axis=0)
            idx = (rng.random((draws, X.shape[1])) * cnt).astype(np.int64)
            D = P[idx, np.arange(X.shape[1])]
        elif method == "bootstrap_customers":
            complete = have.all(axis=1)
            if not complete.any():
                notes.append(f"{s}: no customer has every value, not simulated (try method='bootstrap')")
                continue
            if not complete.all():
                notes.append(f"{s}: {int((~complete).sum())} customer(s) with missing values left out")
            D = X[complete][rng.integers(0, int(complete.sum()), draws)]
        else:
            cnt = have.sum(axis=0)
            mean = np.nanmean(X, axis=0)
            with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # ddof=1 on one value
                sd = np.where(cnt >= 2, np.nanstd(X, axis=0, ddof=1), 0.0)
            thin = [c for c, n in zip(cols, cnt) if n < 2]
            if thin:
                notes.append(f"{s}: {', '.join(thin)} has one customer value, sd taken as 0")
            D = mean + sd * rng.standard_normal((draws, X.shape[1]))
        diff = D[:, :k].sum(axis=1)
        price = D[:, k]
        frames.append(pd.DataFrame({"subsegment": s, "draw": np.arange(draws), "differential_value": diff,
                                    "price_difference": price, "net_value": diff - price}))
    if not frames:
        raise AnalysisError(f"nothing to simulate in {study.label}: " + "; ".join(notes))
    out = pd.concat(frames, ignore_index=True)
    out["method"] = method
    out.attrs["notes"] = notes
    out.attrs["assumption"] = METHOD_TEXT[method]
    return out


def max_premium_at(draws: pd.DataFrame, prob: float = 0.8) -> pd.DataFrame:
    """The largest extra price premium per customer keeping P(net value - premium > 0) >= ``prob``.

    Over the draws, every premium below ``max_premium`` keeps at least a
    share ``prob`` of draws with positive net value, and no premium above it
    does (it is the order statistic ``N - ceil(prob N)`` of the drawn net
    value, about its ``1 - prob`` quantile). NaN where that figure is not
    positive: even at today's price the chance is below ``prob``, and a
    price cut (``net_quantile``) rather than a premium would be needed.

    Returns
    -------
    DataFrame
        ``subsegment, prob, net_quantile, max_premium``.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"subsegment": "s", "net_value": [float(x) for x in range(1, 11)]})
    >>> max_premium_at(d, 0.8)["max_premium"].item()  # premiums below 3 keep 8 of 10 draws positive
    3.0
    """
    if not 0 < prob < 1:
        raise CvmError(f"prob must be between 0 and 1, got {prob}")
    rows = []
    for s, g in draws.groupby("subsegment", sort=False):
        x = g["net_value"].to_numpy(float)
        x = x[~np.isnan(x)]
        if x.size == 0:
            rows.append({"subsegment": s, "prob": prob, "net_quantile": np.nan, "max_premium": np.nan})
            continue
        m = x.size - int(np.ceil(prob * x.size - 1e-9))
        q = float(np.partition(x, m)[m])
        rows.append({"subsegment": s, "prob": prob, "net_quantile": q, "max_premium": q if q > 0 else np.nan})
    return pd.DataFrame(rows, columns=["subsegment", "prob", "net_quantile", "max_premium"])


def simulation_summary(draws: pd.DataFrame, *, prob: float = 0.8) -> pd.DataFrame:
    """Percentiles of the drawn values, P(net > 0) and the largest safe premium, per subsegment.

    Returns
    -------
    DataFrame
        One row per subsegment: ``subsegment, method, draws,
        differential_mean, differential_p5, _p25, _p50, _p75, _p95,
        net_mean, net_p5, net_p25, net_p50, net_p75, net_p95,
        p_net_positive, premium_prob, max_premium, assumption, note``.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.sensitivity import simulate, simulation_summary
    >>> s = simulation_summary(simulate(cvm.load_study(cvm.example_path()), draws=2000))
    >>> bool((s["net_p5"] <= s["net_p95"]).all())
    True
    """
    pct = [5, 25, 50, 75, 95]
    prem = max_premium_at(draws, prob).set_index("subsegment")
    notes = draws.attrs.get("notes", [])
    rows = []
    for s, g in draws.groupby("subsegment", sort=False):
        row = {"subsegment": s, "method": g["method"].iloc[0] if "method" in g else "", "draws": len(g)}
        for col, short in (("differential_value", "differential"), ("net_value", "net")):
            x = g[col].to_numpy(float)
            row[f"{short}_mean"] = float(x.mean())
            for p, v in zip(pct, np.percentile(x, pct)):
                row[f"{short}_p{p}"] = float(v)
        row["p_net_positive"] = float((g["net_value"].to_numpy(float) > 0).mean())
        row["premium_prob"] = prob
        row["max_premium"] = prem.loc[s, "max_premium"]
        row["assumption"] = draws.attrs.get("assumption", METHOD_TEXT.get(row["method"], ""))
        row["note"] = "; ".join(n for n in notes if n.startswith(f"{s}:"))
        rows.append(row)
    return pd.DataFrame(rows)
