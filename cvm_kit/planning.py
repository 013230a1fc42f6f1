"""Precision planning: how many customers make an estimate usable.

For each element (and net value) in each subsegment, given the customers'
observed mean and standard deviation, the smallest number of customers
``n`` whose t interval is narrow enough::

    t_{(1+confidence)/2, n-1} * sd / sqrt(n) <= precision * |mean|

i.e. the interval's half-width at most ``precision`` (0.2: ±20%) of the
mean. The condition is monotone in ``n`` (the t quantile falls, sqrt(n)
rises), so the smallest such ``n`` is found by bisection between the
normal-theory bound ``(z * sd / (precision |mean|))^2`` (below which it
cannot hold) and the same bound with the t quantile at that size (where it
must hold), vectorised over every row.

The planned size rests on the observed sd, itself uncertain with six to
eight customers. ``assurance`` is the probability that a study of
``n_needed`` customers meets the target when its customers' values are
normal with the observed mean and sd: the share of simulated studies whose
own t interval is within ``precision`` of their own mean. Each simulated
study is drawn through its sufficient statistics (sample mean normal,
``(n-1) s^2 / sd^2`` chi-square with ``n-1`` degrees of freedom,
independent), which is exact for normal data and costs two draws per study
whatever its size.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import CvmError
from .study import Study

PLAN_COLUMNS = ["element_id", "subsegment", "n_now", "n_needed", "more_needed", "assurance", "mean", "sd", "note"]
MAX_N = 10**9  # beyond this a relative precision is unreachable in practice (the mean is ~0)


def _check(precision: float, confidence: float) -> None:
    if not (np.isfinite(precision) and precision > 0):
        raise CvmError(f"precision must be a positive share of the mean (0.2 for ±20%), got {precision}")
    if not 0 < confidence < 1:
        raise CvmError(f"confidence must be between 0 and 1 (0.95 for 95%), got {confidence}")


def customers_needed(mean: np.ndarray | float, sd: np.ndarray | float, *, precision: float = 0.2,
                     confidence: float = 0.95) -> np.ndarray:
    """Smallest n (>= 2) with ``t_{q, n-1} * sd / sqrt(n) <= precision * |mean|``.

    Parameters
    ----------
    mean, sd : array_like
        Observed mean and standard deviation (broadcast together).
    precision : float
        Target half-width as a share of ``|mean|``.
    confidence : float
        Level of the t interval; ``q = (1 + confidence) / 2``.

    Returns
    -------
    ndarray of float
        n needed (whole numbers); NaN where ``sd`` or ``mean`` is missing,
        where ``mean`` is 0 with ``sd > 0``, or beyond :data:`MAX_N`.

    Examples
    --------
    >>> int(customers_needed(100.0, 20.0, precision=0.2)[0])
    7
    """
    from scipy.special import ndtri, stdtrit

    _check(precision, confidence)
    mean, sd = np.broadcast_arrays(np.atleast_1d(np.asarray(mean, float)), np.atleast_1d(np.asarray(sd, float)))
    q = 0.5 + confidence / 2
    out = np.full(mean.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = sd / (precision * np.abs(mean))  # half-width condition: t * k <= sqrt(n)
    z = float(ndtri(q))
    ok = np.isfinite(k) & (sd >= 0) & ((z * k) ** 2 < MAX_N)
    if not ok.any():
        return out
    k = k[ok]
    lo = np.maximum(2.0, np.ceil((z * k) ** 2))  # t > z: nothing smaller can meet the target
    hi = np.maximum(lo, np.ceil((stdtrit(lo - 1, q) * k) ** 2) + 1)  # t_{hi-1} <= t_{lo-1}: hi meets it

    def meets(n: np.ndarray) -> np.ndarray:
        return stdtrit(n - 1, q) * k <= np.sqrt(n)

    while np.any(lo < hi):
        mid = np.floor((lo + hi) / 2)
        m = meets(mid)
        hi = np.where(m, mid, hi)
        lo = np.where(m, lo, mid + 1)
    res = np.where(lo <= MAX_N, lo, np.nan)
    out[ok] = res
    return out


def assurance(mean: np.ndarray | float, sd: np.ndarray | float, n: np.ndarray | float, *, precision: float = 0.2,
              confidence: float = 0.95, draws: int = 2000, seed: int = 0) -> np.ndarray:
    """Probability that a study of ``n`` customers meets the precision target (simulated).

    Customers' values are taken as normal with ``mean`` and ``sd``; a
    simulated study meets the target when ``t_{q, n-1} s / sqrt(n) <=
    precision |xbar|`` with its own mean ``xbar`` and sd ``s``.

    Returns
    -------
    ndarray
        One probability per row (NaN where ``n`` is missing or < 2).

    Examples
    --------
    >>> float(assurance(100.0, 0.0, 2)[0])
    1.0
    """
    from scipy.special import stdtrit

    _check(precision, confidence)
    mean, sd, n = np.broadcast_arrays(*(np.atleast_1d(np.asarray(a, float)) for a in (mean, sd, n)))
    out = np.full(mean.shape, np.nan)
    ok = np.isfinite(mean) & np.isfinite(sd) & np.isfinite(n) & (n >= 2)
    if not ok.any() or draws < 1:
        return out
    m, s, nn = mean[ok][:, None], sd[ok][:, None], n[ok][:, None]
    rng = np.random.default_rng(seed)
    xbar = m + s / np.sqrt(nn) * rng.standard_normal((len(m), draws))
    s_sim = s * np.sqrt(rng.chisquare(np.broadcast_to(nn - 1, (len(m), draws))) / (nn - 1))
    t = stdtrit(nn - 1, 0.5 + confidence / 2)
    out[ok] = (t * s_sim / np.sqrt(nn) <= precision * np.abs(xbar)).mean(axis=1)
    return out


def plan(study: Study, *, precision: float = 0.2, confidence: float = 0.95, draws: int = 2000, seed: int = 0,
         values: pd.DataFrame | None = None, totals: pd.DataFrame | None = None) -> pd.DataFrame:
    """Customers needed per element (and net value) and subsegment for a ±``precision`` interval.

    Parameters
    ----------
    study : Study
    precision : float
        Target half-width of the t interval as a share of ``|mean|`` (0.2: ±20%).
    confidence : float
        Level of the t interval (default 95%).
    draws, seed : int
        Simulated studies per row for ``assurance``, and their seed.
    values, totals : DataFrame, optional
        :func:`~cvm_kit.values.element_values` and :func:`~cvm_kit.values.totals`
        (computed if omitted).

    Returns
    -------
    DataFrame
        ``element_id, subsegment, n_now, n_needed, more_needed, assurance,
        mean, sd, note``: one row per element that is a point of difference
        or contention in the subsegment (a parity is worth 0 by declaration:
        nothing to estimate), then ``net_value`` per subsegment. ``n_now``
        counts customers with a value; ``more_needed`` is
        ``max(0, n_needed - n_now)``; ``n_needed`` is empty (with a ``note``)
        with fewer than two values, a mean of 0, or beyond a billion.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> p = plan(cvm.load_study(cvm.example_path()))
    >>> p.loc[p["element_id"] == "net_value", "subsegment"].tolist()
    ['high_volume', 'low_volume']
    """
    from .values import element_values, environment
    from .values import totals as _totals

    _check(precision, confidence)
    env = environment(study) if values is None or totals is None else None  # resolved once for both
    v = values if values is not None else element_values(study, env)
    t = totals if totals is not None else _totals(study, v, env)
    keep = v["status"].isin(("difference", "contention"))
    g = v[keep].dropna(subset=["value"]).groupby(["element_id", "subsegment"], sort=False)["value"]
    stats = g.agg(n_now="size", mean="mean", sd="std")
    gt = t.dropna(subset=["net_value"]).groupby("subsegment", sort=False)["net_value"].agg(
        n_now="size", mean="mean", sd="std")

    keys: list[tuple[str, str]] = []
    for e in study.elements:
        if e.quantified:
            keys += [(e.id, sid) for sid in study.subsegment_ids if e.status_for(sid) in ("difference", "contention")]
    keys += [("net_value", sid) for sid in study.subsegment_ids]
    rows = []
    for eid, sid in keys:
        src = gt.loc[sid] if eid == "net_value" and sid in gt.index else \
            (stats.loc[(eid, sid)] if eid != "net_value" and (eid, sid) in stats.index else None)
        if src is None:
            rows.append((eid, sid, 0, np.nan, np.nan))
        else:
            rows.append((eid, sid, int(src["n_now"]), float(src["mean"]), float(src["sd"])))
    out = pd.DataFrame(rows, columns=["element_id", "subsegment", "n_now", "mean", "sd"])
    need = customers_needed(out["mean"].to_numpy(), out["sd"].to_numpy(), precision=precision,
                            confidence=confidence) if len(out) else np.array([])
    out["n_needed"] = pd.array(need, dtype="Float64").round().astype("Int64") if len(out) else pd.array([], "Int64")
    out["more_needed"] = (out["n_needed"] - out["n_now"]).clip(lower=0)
    out["assurance"] = assurance(out["mean"].to_numpy(), out["sd"].to_numpy(), need, precision=precision,
                                 confidence=confidence, draws=draws, seed=seed) if len(out) else np.array([])
    notes = []
    for n_now, mean, _sd, nn in zip(out["n_now"], out["mean"], out["sd"], need):
        if n_now < 2:
            notes.append(f"{n_now} customer(s) with a value: the sd needs at least 2")
        elif np.isnan(nn) and mean == 0:
            notes.append("mean is 0: no share of it is reachable")
        elif np.isnan(nn):
            notes.append("mean too close to 0: more than a billion customers")
        else:
            notes.append("")
    out["note"] = notes
    return out[PLAN_COLUMNS]


def plan_notes(table: pd.DataFrame, precision: float = 0.2) -> list[str]:
    """One line per subsegment on net value, for the fieldwork view.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"element_id": ["net_value"], "subsegment": ["low_volume"], "n_now": [6],
    ...                   "n_needed": pd.array([9], "Int64"), "more_needed": pd.array([3], "Int64"),
    ...                   "assurance": [0.55], "note": [""]})
    >>> plan_notes(t)
    ['low_volume: 3 more customers for ±20% on net value (6 now, 9 needed; a study of 9 meets it with probability 55%)']
    """
    pct = f"±{100 * precision:g}%"
    out = []
    for r in table[table["element_id"] == "net_value"].itertuples(index=False):
        if pd.isna(r.n_needed):
            out.append(f"{r.subsegment}: {pct} on net value cannot be planned ({r.note})")
            continue
        odds = f"a study of {int(r.n_needed):,} meets it with probability {100 * r.assurance:.0f}%"
        if r.more_needed > 0 and int(r.n_needed) > 1000:  # a mean close to 0 against its spread
            out.append(f"{r.subsegment}: {pct} on net value is out of reach ({int(r.n_needed):,} customers "
                       f"needed, {r.n_now} now): the mean is close to 0 against the spread between customers, so "
                       "judge its sign and range rather than a share of it")
        elif r.more_needed > 0:
            more = int(r.more_needed)
            out.append(f"{r.subsegment}: {more:,} more customer{'s' if more != 1 else ''} for {pct} on net value "
                       f"({r.n_now} now, {int(r.n_needed):,} needed; {odds})")
        else:
            out.append(f"{r.subsegment}: enough customers for {pct} on net value ({r.n_now} now, "
                       f"{int(r.n_needed):,} needed; {odds})")
    return out
