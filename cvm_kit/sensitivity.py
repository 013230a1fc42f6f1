"""Sensitivity of the value estimate: tornado tables and Monte Carlo draws.

* :func:`tornado` moves one factor at a time from its low to its high value
  (every other factor at its study mean) and records the outcome (net or
  differential value of a typical customer). Factors are the elements'
  values (``by="element"``) or the bracketed input variables pushed through
  the word equations (``by="variable"``, one vectorised evaluation).
* :func:`simulate` draws the net and differential value of a typical
  customer of each subsegment (bootstrap or parametric, seeded) and
  :func:`simulation_summary` turns the draws into percentiles, the chance
  that net value is positive and the largest price premium that keeps that
  chance at or above 80%.
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd

from .errors import AnalysisError, CvmError
from .study import Study
from .values import _constants_map, _display_names, _phrase_users, environment, evaluate, input_phrases
from .variance import value_matrix, valued_elements

RANGES = ("p10-p90", "sd", "minmax")
OUTCOMES = {"net": "net_value", "differential": "differential_value"}
METHODS = ("bootstrap", "bootstrap_customers", "parametric")
TORNADO_COLUMNS = ["factor", "label", "kind", "unit", "low_input", "base_input", "high_input", "low_value",
                   "base_value", "high_value", "swing", "range_rule"]
METHOD_TEXT = {
    "bootstrap": "bootstrap: each element's value (and the price difference) resampled independently from the "
                 "subsegment's customers; assumes the elements vary independently",
    "bootstrap_customers": "bootstrap of whole customers: a draw is one studied customer with all their values "
                           "(keeps the elements' correlation; only as many distinct outcomes as customers)",
    "parametric": "parametric: each element's value (and the price difference) normal with the subsegment's mean "
                  "and sd, elements independent",
}


def _check_subsegment(study: Study, subsegment: str | None) -> None:
    if subsegment is not None and subsegment not in study.subsegment_ids:
        raise CvmError(f"no subsegment {subsegment!r} in {study.label}; known: {', '.join(study.subsegment_ids)}")


def _low_high(x: np.ndarray, range: str) -> tuple[float, float, float, str]:
    """(low, base, high, rule) of one factor from its customers' values (NaN dropped)."""
    x = x[~np.isnan(x)]
    if x.size == 0:
        return np.nan, np.nan, np.nan, "no values"
    base = float(x.mean())
    if range == "minmax":
        return float(x.min()), base, float(x.max()), f"min-max of {x.size} customers"
    if range == "p10-p90":
        lo, hi = np.percentile(x, [10, 90])
        return float(lo), base, float(hi), f"p10-p90 of {x.size} customers"
    sd = float(x.std(ddof=1)) if x.size >= 2 else np.nan
    return base - sd, base, base + sd, f"mean ± sd of {x.size} customers"


def _sorted(rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=TORNADO_COLUMNS)
    out["swing"] = (out["high_value"] - out["low_value"]).abs()
    return out.sort_values("swing", ascending=False, kind="stable", na_position="last").reset_index(drop=True)


def tornado(study: Study, *, by: Literal["element", "variable"] = "element",
            range: Literal["p10-p90", "sd", "minmax"] = "p10-p90", of: Literal["net", "differential"] = "net",
            subsegment: str | None = None, constant_range: float = 0.10,
            values: pd.DataFrame | None = None, totals: pd.DataFrame | None = None) -> pd.DataFrame:
    """One-at-a-time sensitivity of a typical customer's value (tornado table).

    The base case sets every factor at its mean over the customers of
    ``subsegment`` (all customers if None); each factor is then moved alone
    to its low and to its high value.

    Parameters
    ----------
    by : {"element", "variable"}
        ``element``: a factor is an element's value (and, for net value, the
        price difference); the outcome is the sum of the element means minus
        the mean price difference. ``variable``: a factor is an input phrase
        (measured, or a constant), pushed through the word equations with
        :func:`~cvm_kit.values.evaluate` (all cases in one evaluation).
        Without ``subsegment`` the cases are evaluated once per subsegment
        (so per-subsegment parity holds) and weighted by the subsegments'
        shares of customers.
    range : {"p10-p90", "sd", "minmax"}
        Low/high of a factor: 10th/90th percentile (linear interpolation),
        mean ± one standard deviation, or min/max over the customers.
        With ``by="variable"``, an input without spread across customers (a
        constant, or an input only one customer has) is moved
        ± ``constant_range`` (default 10%) instead; with ``by="element"`` an
        element without spread keeps a zero-width bar ("no spread").
        ``range_rule`` says which rule each row used.
    constant_range : float
        Relative move of inputs without spread (``by="variable"``).
    of : {"net", "differential"}
        The outcome: net value (differential value - price difference) or
        differential value.
    subsegment : str, optional
        Restrict to this subsegment's customers.
    values, totals : DataFrame, optional
        :func:`~cvm_kit.values.element_values` and :func:`~cvm_kit.values.totals`
        for ``by="element"`` (computed if omitted).

    Returns
    -------
    DataFrame
        ``factor`` (element id, ``price_difference`` or the phrase as
        written), ``label`` (element name or phrase), ``kind`` (element,
        price, input, constant), ``unit``, ``low_input, base_input,
        high_input`` (the factor's own values), ``low_value, base_value,
        high_value`` (the outcome with the factor at low, mean and high),
        ``swing`` = |high_value - low_value|, ``range_rule``; sorted by
        swing, widest first.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.sensitivity import tornado
    >>> t = tornado(cvm.load_study(cvm.example_path()), by="element", range="minmax")
    >>> bool(t["swing"].is_monotonic_decreasing)
    True
    """
    if by not in ("element", "variable"):
        raise CvmError(f"by must be 'element' or 'variable', got {by!r}")
    if range not in RANGES:
        raise CvmError(f"range must be one of {', '.join(RANGES)}, got {range!r}")
    if of not in OUTCOMES:
        raise CvmError(f"of must be 'net' or 'differential', got {of!r}")
    _check_subsegment(study, subsegment)
    if by == "element":
        return _tornado_elements(study, range, of, subsegment, constant_range, values, totals)
    return _tornado_variables(study, range, of, subsegment, constant_range)


def _tornado_elements(study: Study, range: str, of: str, subsegment: str | None, constant_range: float,
                      values: pd.DataFrame | None, totals: pd.DataFrame | None) -> pd.DataFrame:
    wide = value_matrix(study, values, totals, with_totals=of == "net")
    if subsegment is not None:
        wide = wide[wide["subsegment"] == subsegment]
    if wide.empty:
        raise AnalysisError(f"no customers{' in subsegment ' + subsegment if subsegment else ''} in {study.label}")
    unit = f"{study.currency}/{study.period}"
    elems = valued_elements(study, subsegment)
    factors = []
    for e in elems:
        lo, base, hi, rule = _low_high(wide[e.id].to_numpy(float), range)
        if np.isnan(base):
            raise AnalysisError(f"element {e.id}: no customer{' of ' + subsegment if subsegment else ''} has a value "
                                "(missing inputs), so the base case is undefined; see `cvm values`")
        factors.append((e.id, e.name, "element", lo, base, hi, rule, +1.0))
    if of == "net":
        price = wide["price_difference"].to_numpy(float)
        lo, base, hi, rule = _low_high(price, range)
        if np.isnan(base):
            raise AnalysisError("the price difference is missing for every customer: no net value base case")
        factors.append(("price_difference", "Price difference", "price", lo, base, hi, rule, -1.0))
    base_value = float(sum(f[7] * f[4] for f in factors))  # sum of element means (- mean price difference)
    rows = []
    for fid, label, kind, lo, base, hi, rule, sign in factors:
        if not (hi > lo):  # no spread: nothing to move, so the bar has no width
            rule = rule + " (no spread)"
        rows.append({"factor": fid, "label": label, "kind": kind, "unit": unit, "low_input": lo, "base_input": base,
                     "high_input": hi, "low_value": base_value + sign * (lo - base), "base_value": base_value,
                     "high_value": base_value + sign * (hi - base), "range_rule": rule})
    return _sorted(rows)


def _tornado_variables(study: Study, range: str, of: str, subsegment: str | None,
                       constant_range: float) -> pd.DataFrame:
    env = environment(study)
    mask = np.ones(len(env.ids), bool) if subsegment is None else env.subsegments == subsegment
    if not mask.any():
        raise AnalysisError(f"no customers in subsegment {subsegment} of {study.label}")
    users = _phrase_users(study)
    valued = {e.id for e in valued_elements(study, subsegment)}
    wanted = valued | ({"price"} if of == "net" else set())
    phrases = [p for p in input_phrases(study) if set(users.get(p, [])) & wanted]
    consts = _constants_map(study)
    display = _display_names(study)
    all_phrases = input_phrases(study)
    base_all = {p: float(np.nanmean(env.values[p][mask])) if (~np.isnan(env.values[p][mask])).any() else np.nan
                for p in all_phrases}
    factors = []
    for p in phrases:
        x = env.values[p][mask]
        x = x[~np.isnan(x)]
        if x.size == 0:
            continue  # nobody here has it: only parity elements use it (checked through the base case below)
        spread = x.size >= 2 and float(x.max()) > float(x.min())
        if spread:
            lo, base, hi, rule = _low_high(x, range)
        else:
            base = float(x.mean())
            lo, hi = base * (1 - constant_range), base * (1 + constant_range)
            lo, hi = min(lo, hi), max(lo, hi)
            rule = f"± {constant_range:.0%} of the {'constant' if p in consts else 'single value'}"
        kind = "constant" if p in consts else "input"  # a constant some customers override keeps its kind
        factors.append((p, lo, base, hi, rule, kind))
    if not factors:
        raise AnalysisError(f"no input variable with values for the {of} value of {study.label}")
    cols = list(all_phrases)
    base_row = np.array([base_all[p] for p in cols], dtype=float)
    grid = np.tile(base_row, (1 + 2 * len(factors), 1))
    pos = {p: i for i, p in enumerate(cols)}
    for i, (p, lo, _, hi, _, _) in enumerate(factors):
        grid[1 + 2 * i, pos[p]] = lo
        grid[2 + 2 * i, pos[p]] = hi
    out_col = OUTCOMES[of]
    if subsegment is not None:
        res = evaluate(study, pd.DataFrame(grid, columns=cols), subsegment=subsegment)[out_col].to_numpy(float)
    else:
        # evaluate each case once per subsegment (per-subsegment parity) and weight by customer shares
        subs = study.subsegment_ids
        counts = pd.Series(env.subsegments).value_counts()
        w = np.array([counts.get(s, 0) for s in subs], dtype=float)
        w = w / w.sum()
        stacked = pd.DataFrame(np.tile(grid, (len(subs), 1)), columns=cols)
        sub_col = np.repeat(np.array(subs, dtype=object), len(grid))
        r = evaluate(study, stacked, subsegment=list(sub_col))[out_col].to_numpy(float).reshape(len(subs), len(grid))
        keep = w > 0
        res = (w[keep, None] * r[keep]).sum(axis=0)
    if np.isnan(res[0]):
        missing = [display.get(p, p) for p in phrases if np.isnan(base_all[p])]
        raise AnalysisError(f"the base case of {of} value is missing: no customer"
                            f"{' of ' + subsegment if subsegment else ''} has "
                            + (", ".join(f"[{m}]" for m in missing) if missing else "every input needed"))
    rows = []
    for i, (p, lo, base, hi, rule, kind) in enumerate(factors):
        name = display.get(p, p)
        rows.append({"factor": name, "label": name, "kind": kind, "unit": "", "low_input": lo, "base_input": base,
                     "high_input": hi, "low_value": res[1 + 2 * i], "base_value": res[0],
                     "high_value": res[2 + 2 * i], "range_rule": rule})
    return _sorted(rows)


# ---------------------------------------------------------------------------
# Monte Carlo


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
    _check_subsegment(study, subsegment)
    wide = value_matrix(study, values, totals)
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
