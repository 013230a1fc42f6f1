"""One-at-a-time sensitivity: the tornado table.

:func:`tornado` moves one factor at a time from its low to its high value
(every other factor at its study mean) and records the outcome (net or
differential value of a typical customer). Factors are the elements' values
(``by="element"``) or the bracketed input variables pushed through the word
equations (``by="variable"``, one vectorised evaluation).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from ..errors import AnalysisError, CvmError
from ..study import Study
from ..values import constants_map, display_names, environment, evaluate, input_phrases, phrase_users
from ..variance import value_matrix, valued_elements
from .common import OUTCOMES, RANGES, TORNADO_COLUMNS, base_differs, check_subsegment, fmt_outcome

__all__ = ["tornado"]

def _low_high(x: np.ndarray, range: str) -> tuple[float, float, float, str]:
    """(low, base, high, rule) of one factor from its customers' values (NaN dropped).

    A percentile range that collapses onto one value although the customers
    differ (most share one value, e.g. a constant only a few customers
    override) falls back to min-max, so the factor's real spread is never
    shown as a zero swing.
    """
    x = x[~np.isnan(x)]
    if x.size == 0:
        return np.nan, np.nan, np.nan, "no values"
    base = float(x.mean())
    lo_x, hi_x = float(x.min()), float(x.max())
    if range == "minmax":
        return lo_x, base, hi_x, f"min-max of {x.size} customers"
    if range == "p10-p90":
        lo, hi = np.percentile(x, [10, 90])
        if not hi > lo and hi_x > lo_x:
            share = int(np.sum(x == np.median(x)))
            return lo_x, base, hi_x, (f"min-max of {x.size} customers (p10-p90 collapses: {share} of {x.size} "
                                      "share one value)")
        return float(lo), base, float(hi), f"p10-p90 of {x.size} customers"
    sd = float(x.std(ddof=1)) if x.size >= 2 else np.nan
    return base - sd, base, base + sd, f"mean ± sd of {x.size} customers"


def _base_case_text(of: str, n: int, subsegment: str | None, base: float, mean: float) -> str:
    """What the base case is, and the customers' mean outcome beside it when the two differ."""
    who = f"the {n} customers of {subsegment}" if subsegment else f"all {n} customers"
    text = f"base case: every factor at its mean over {who}, {of} value {fmt_outcome(base)}"
    if base_differs(base, mean):
        text += (f"; the customers' mean {of} value is {fmt_outcome(mean)} (the outcome of mean inputs is not the "
                 "mean outcome when the equations are not linear or values are missing)")
    return text


def _sorted(rows: list[dict], mean_value: float, base_case: str) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=TORNADO_COLUMNS)
    out["swing"] = (out["high_value"] - out["low_value"]).abs()
    out["mean_value"] = mean_value
    out["base_case"] = base_case
    out = out.sort_values("swing", ascending=False, kind="stable", na_position="last").reset_index(drop=True)
    out.attrs["base_case"] = base_case
    return out


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
        ``swing`` = |high_value - low_value|, ``range_rule``,
        ``mean_value`` (the customers' mean outcome, NaN skipped: beside
        ``base_value`` it shows when the outcome of mean inputs is not the
        mean outcome) and ``base_case`` (one sentence saying what the base
        case is, with the mean outcome when the two differ; also in
        ``attrs["base_case"]``); sorted by swing, widest first. A
        ``p10-p90`` range that collapses onto one value although the
        customers differ (e.g. a constant only a few customers override) is
        widened to min-max, and ``range_rule`` says so.

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
    check_subsegment(study, subsegment)
    if by == "element":
        return _tornado_elements(study, range, of, subsegment, constant_range, values, totals)
    return _tornado_variables(study, range, of, subsegment, constant_range)


def _tornado_elements(study: Study, range: str, of: str, subsegment: str | None, constant_range: float,
                      values: pd.DataFrame | None, totals: pd.DataFrame | None) -> pd.DataFrame:
    wide = value_matrix(study, values, totals, with_totals=True)
    if subsegment is not None:
        wide = wide[wide["subsegment"] == subsegment]
    if wide.empty:
        raise AnalysisError(f"no customers{' in subsegment ' + subsegment if subsegment else ''} in {study.label}")
    unit = f"{study.currency}/{study.period}"
    elems = valued_elements(study, subsegment)
    factors = []
    for e in elems:
        x = wide[e.id].to_numpy(float)
        held = wide["subsegment"].map(e.status_for).eq("placeholder").to_numpy()
        if held.any():  # a placeholder there adds nothing to those customers' totals, as a parity adds 0
            x = np.where(held, 0.0, x)
        lo, base, hi, rule = _low_high(x, range)
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
    mean_value = float(np.nanmean(wide[OUTCOMES[of]])) if wide[OUTCOMES[of]].notna().any() else np.nan
    return _sorted(rows, mean_value, _base_case_text(of, len(wide), subsegment, base_value, mean_value))


def _tornado_variables(study: Study, range: str, of: str, subsegment: str | None,
                       constant_range: float) -> pd.DataFrame:
    env = environment(study)
    mask = np.ones(len(env.ids), bool) if subsegment is None else env.subsegments == subsegment
    if not mask.any():
        raise AnalysisError(f"no customers in subsegment {subsegment} of {study.label}")
    users = phrase_users(study)
    valued = {e.id for e in valued_elements(study, subsegment)}
    wanted = valued | ({"price"} if of == "net" else set())
    phrases = [p for p in input_phrases(study) if set(users.get(p, [])) & wanted]
    consts = constants_map(study)
    display = display_names(study)
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
    from ..values import totals as _totals

    outcome = _totals(study, env=env)[out_col].to_numpy(float)[mask]
    mean_value = float(np.nanmean(outcome)) if (~np.isnan(outcome)).any() else np.nan
    return _sorted(rows, mean_value, _base_case_text(of, int(mask.sum()), subsegment, float(res[0]), mean_value))
