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
                   "base_value", "high_value", "swing", "range_rule", "mean_value", "base_case"]
SOBOL_COLUMNS = ["subsegment", "of", "factor", "S1", "S1_conf", "ST", "ST_conf"]
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


def fmt_outcome(x: float) -> str:
    """A value in the tornado's words: whole currency units from 100 up (``1,138``), else 3 significant digits."""
    from .variance import fmt_money

    return f"{x:,.0f}" if np.isfinite(x) and abs(x) >= 100 else fmt_money(x)


def base_differs(base: float, mean: float) -> bool:
    """Whether the customers' mean outcome differs from the base case as shown (:func:`fmt_outcome`)."""
    return np.isfinite(mean) and fmt_outcome(base) != fmt_outcome(mean)


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
    _check_subsegment(study, subsegment)
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
    mean_value = float(np.nanmean(wide[OUTCOMES[of]])) if wide[OUTCOMES[of]].notna().any() else np.nan
    return _sorted(rows, mean_value, _base_case_text(of, len(wide), subsegment, base_value, mean_value))


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
    from .values import totals as _totals

    outcome = _totals(study, env=env)[out_col].to_numpy(float)[mask]
    mean_value = float(np.nanmean(outcome)) if (~np.isnan(outcome)).any() else np.nan
    return _sorted(rows, mean_value, _base_case_text(of, int(mask.sum()), subsegment, float(res[0]), mean_value))


# ---------------------------------------------------------------------------
# Sobol global sensitivity

SOBOL_ASSUMPTION = ("Sobol indices (SALib, Saltelli design on a scrambled Sobol sequence): each input varying across "
                    "the subsegment's customers is drawn from its observed values (each customer's value equally "
                    "likely), independently of the other inputs; inputs every customer shares are held at that value")


def _empirical_ppf(u: np.ndarray, sorted_x: np.ndarray) -> np.ndarray:
    """Inverse CDF of the empirical distribution of ``sorted_x`` (each value has probability 1/n)."""
    n = sorted_x.size
    return sorted_x[np.minimum((u * n).astype(np.int64), n - 1)]


def _sobol_components(study: Study, subsegment: str, of: str) -> list[tuple[str, object, float, tuple[str, ...]]]:
    """(id, equation, sign, leaf phrases) of each part the outcome sums, for one subsegment."""
    from .values import QUANTIFIED, leaf_phrases

    leaves = leaf_phrases(study)
    out = []

    def leaf_set(eq) -> tuple[str, ...]:
        return tuple(dict.fromkeys(q for p in eq.phrases for q in leaves.get(p, (p,))))

    for e in study.elements:
        if e.quantified and e.status_for(subsegment) in QUANTIFIED:
            if e.equation is None:
                raise AnalysisError(f"element {e.id} is valued in {subsegment} but has no equation: "
                                    "no Sobol indices of its value")
            out.append((e.id, e.equation, 1.0, leaf_set(e.equation)))
    if of == "net" and study.price is not None:
        out.append(("price", study.price, -1.0, leaf_set(study.price)))
    return out


def _evaluate_part(study: Study, eq, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """One equation on rows of leaf inputs, its derived quantities resolved as for customers.

    Only the derived quantities the equation rests on are computed (in the
    study's evaluation order); a non-finite result is missing, as in
    :func:`~cvm_kit.values.evaluate` (checked against it in the tests).
    """
    from .equations import normalize_phrase
    from .values import _finite

    derived = {normalize_phrase(d.name): d for d in study.derived}
    need: set[str] = set()
    stack = [p for p in eq.phrases if p in derived]
    while stack:
        p = stack.pop()
        if p not in need:
            need.add(p)
            stack.extend(q for q in derived[p].equation.phrases if q in derived)
    vals = dict(inputs)
    n = len(next(iter(inputs.values()))) if inputs else 0
    for name, d in derived.items():  # dict keeps project order = evaluation order
        if name in need:
            vals[name] = np.broadcast_to(_finite(d.equation.evaluate(vals)), (n,))
    return np.broadcast_to(_finite(eq.evaluate(vals)), (n,))


def sobol_indices(study: Study, *, of: Literal["net", "differential"] = "net", subsegment: str | None = None,
                  samples: int = 1024, seed: int = 0, resamples: int = 100,
                  confidence: float = 0.95) -> pd.DataFrame:
    """Sobol first- and total-order indices of a customer's value over the input variables.

    For each subsegment, every input phrase the outcome rests on is drawn
    from its observed distribution across the subsegment's customers (the
    empirical distribution: a uniform draw ``u`` maps to the
    ``floor(u * n)``-th smallest of the ``n`` customers' values), each input
    independently of the others, on Saltelli's design (two scrambled Sobol
    matrices A and B of ``samples`` rows, as :func:`SALib.sample.sobol.sample`
    builds them). SALib (:func:`SALib.analyze.sobol.analyze`) estimates the
    indices and their bootstrap confidence intervals.

    Because the outcome is a sum of element values (less the price
    difference), only the parts that use input ``i`` are re-evaluated on the
    ``AB_i`` rows; the result equals evaluating the whole outcome on SALib's
    full sample matrix.

    Parameters
    ----------
    of : {"net", "differential"}
        The outcome: net value or differential value.
    subsegment : str, optional
        Only this subsegment (default: each subsegment in turn).
    samples : int
        Base samples ``N`` (a power of 2); the model is evaluated on
        ``N * (D + 2)`` input combinations for ``D`` varying inputs.
    seed : int
        Seed of the scrambled Sobol sequence and of the bootstrap (same seed,
        same indices).
    resamples : int
        Bootstrap resamples for the confidence intervals.
    confidence : float
        Confidence level of the intervals.

    Returns
    -------
    DataFrame
        ``subsegment, of, factor, S1, S1_conf, ST, ST_conf``: ``factor`` is
        the input phrase as written in the equations; ``S1`` the first-order
        index (share of the outcome's variance due to the input alone),
        ``ST`` the total-order index (including its interactions); ``*_conf``
        the half-width of the bootstrap confidence interval. Sorted by ``ST``
        within each subsegment. Inputs every customer of the subsegment
        shares are held fixed and left out (named in ``attrs["notes"]``);
        ``attrs["assumption"]`` states the method.

    Raises
    ------
    CvmError
        Bad arguments; :class:`AnalysisError` when an input the outcome needs
        has no value for any customer of the subsegment, or some sampled
        combination gives no value (e.g. a division by zero). Without
        ``subsegment``, such a subsegment is skipped with a note in
        ``attrs["notes"]`` (the error is raised only if every one fails).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.sensitivity import sobol_indices
    >>> s = sobol_indices(cvm.load_study(cvm.example_path()), samples=256)
    >>> bool(((s["S1"] <= s["ST"] + s["ST_conf"] + s["S1_conf"]) | s["S1"].isna()).all())
    True
    """
    if of not in OUTCOMES:
        raise CvmError(f"of must be 'net' or 'differential', got {of!r}")
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 2 \
            or samples & (samples - 1):
        raise CvmError(f"samples must be a power of 2 (e.g. 1024, 4096), got {samples!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise CvmError(f"seed must be a whole number >= 0, got {seed!r}")
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)) or resamples < 2:
        raise CvmError(f"resamples must be a whole number >= 2, got {resamples!r}")
    if not 0 < confidence < 1:
        raise CvmError(f"confidence must be between 0 and 1, got {confidence!r}")
    _check_subsegment(study, subsegment)
    env = environment(study)
    subs = [subsegment] if subsegment is not None else study.subsegment_ids
    frames, notes, failed = [], [], []
    for sub in subs:
        mask = env.subsegments == sub
        if not mask.any():
            notes.append(f"{sub}: no customers")
            continue
        try:
            rows, sub_notes = _sobol_one(study, env, mask, sub, of, int(samples), int(seed), int(resamples),
                                         float(confidence))
        except AnalysisError as exc:
            if subsegment is not None or len(subs) == 1:
                raise
            failed.append(f"{sub}: {exc}")  # the other subsegments still get their indices
            notes.append(f"{sub}: not computed: {exc}")
            continue
        frames.append(rows)
        notes.extend(f"{sub}: {n}" for n in sub_notes)
    if failed and len(failed) == len(subs):
        raise AnalysisError("no Sobol indices for any subsegment: " + "; ".join(failed))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=SOBOL_COLUMNS)
    out = out[SOBOL_COLUMNS]
    out.attrs["notes"] = notes
    out.attrs["assumption"] = SOBOL_ASSUMPTION + f"; {samples} base samples, seed {seed}, {confidence:.0%} intervals"
    return out


def _finite_scalar(eq) -> float:
    """An equation on literals only (no inputs)."""
    from .values import _finite

    return float(_finite(np.asarray(eq.evaluate({}), float)))


def _sobol_one(study: Study, env, mask: np.ndarray, sub: str, of: str, n: int, seed: int, resamples: int,
               confidence: float) -> tuple[pd.DataFrame, list[str]]:
    from scipy.stats import qmc

    display = _display_names(study)
    comps = _sobol_components(study, sub, of)
    order = list(dict.fromkeys(p for *_, leaves in comps for p in leaves))
    fixed: dict[str, float] = {}
    varying: dict[str, np.ndarray] = {}
    for p in order:
        x = env.values[p][mask]
        x = np.sort(x[~np.isnan(x)])
        if x.size == 0:
            raise AnalysisError(f"no customer of {sub} has [{display.get(p, p)}], which the {of} value needs: "
                                "no Sobol indices (see `cvm values`)")
        if x[0] == x[-1]:
            fixed[p] = float(x[0])
        else:
            varying[p] = x
    notes = []
    if fixed:
        notes.append("held at the one value all its customers share: "
                     + ", ".join(f"[{display.get(p, p)}]" for p in fixed))
    names = list(varying)
    d = len(names)
    if d == 0:
        notes.append(f"no input varies across the customers: the {of} value has no variance to apportion")
        return pd.DataFrame(columns=SOBOL_COLUMNS), notes
    base = qmc.Sobol(d=2 * d, scramble=True, seed=seed).random(n)  # as SALib.sample.sobol.sample draws it
    a = {p: _empirical_ppf(base[:, j], varying[p]) for j, p in enumerate(names)}
    b = {p: _empirical_ppf(base[:, d + j], varying[p]) for j, p in enumerate(names)}
    col = {p: j for j, p in enumerate(names)}
    y_a = np.zeros(n)
    y_b = np.zeros(n)
    y_ab = np.zeros((n, d))
    for _, eq, sign, leaves in comps:
        moving = [p for p in leaves if p in varying]
        # rows: A, B, then A with one moving input taken from B (the AB_i blocks this part sees)
        data = {}
        for p in leaves:
            if p in varying:
                blocks = [a[p], b[p]] + [b[p] if q == p else a[p] for q in moving]
                data[p] = np.concatenate(blocks)
            else:
                data[p] = np.full(n * (2 + len(moving)), fixed[p])
        v = _evaluate_part(study, eq, data) if data else np.broadcast_to(_finite_scalar(eq), (2 * n,))
        v = np.asarray(v, float).reshape(2 + len(moving), n)
        y_a += sign * v[0]
        y_b += sign * v[1]
        for k, p in enumerate(moving):
            y_ab[:, col[p]] += sign * (v[2 + k] - v[0])
    y_ab += y_a[:, None]
    y = np.column_stack([y_a, y_ab, y_b])  # SALib's row order: A, AB_1..AB_D, B per base sample
    bad = int((~np.isfinite(y)).sum())
    if bad:
        raise AnalysisError(f"the {of} value of {sub} is missing for {bad:,} of {y.size:,} sampled input "
                            "combinations (a combination of observed inputs gives no finite result, e.g. a "
                            "division by zero): no Sobol indices")
    factors = [display.get(p, p) for p in names]
    if float(np.ptp(y)) == 0.0:
        notes.append(f"the {of} value does not vary with the inputs: no indices")
        nan = np.full(d, np.nan)
        return pd.DataFrame({"subsegment": sub, "of": of, "factor": factors, "S1": nan, "S1_conf": nan,
                             "ST": nan, "ST_conf": nan}), notes
    si = _salib_analyze(y, resamples, confidence, seed + 1)  # SALib reads seed 0 as "unseeded"
    out = pd.DataFrame({"subsegment": sub, "of": of, "factor": factors, **si})
    return out.sort_values("ST", ascending=False, kind="stable").reset_index(drop=True), notes


def _salib_analyze(y: np.ndarray, resamples: int, confidence: float, seed: int) -> dict[str, np.ndarray]:
    """:func:`SALib.analyze.sobol.analyze` (first and total order) with its bootstrap as matrix products.

    ``y`` is ``N x (D + 2)`` in SALib's order (A, AB_1 .. AB_D, B). The
    figures equal SALib's own ``analyze(problem, y.ravel(),
    calc_second_order=False, num_resamples=resamples, conf_level=confidence,
    seed=seed)`` (same normalisation, same resample indices, SALib's
    ``first_order`` / ``total_order`` for the estimates; checked in the
    tests). SALib re-indexes every resample for every input; here a resample
    is a vector of counts ``c`` (how often each base sample was drawn), so
    its estimator ``mean(B (AB_j - A)) / var`` is ``c @ (B (AB - A)) / N /
    var`` for all inputs at once.
    """
    from scipy.stats import norm
    from SALib.analyze.sobol import first_order, total_order

    n, d = y.shape[0], y.shape[1] - 2
    yn = (y - y.mean()) / y.std()
    a, ab, b = yn[:, 0], yn[:, 1:-1], yn[:, -1]
    r = np.random.default_rng(seed).integers(n, size=(n, resamples))
    z = norm.ppf(0.5 + confidence / 2)
    out: dict[str, np.ndarray] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SALib warns on a constant output; the caller handles that case
        wide_a, wide_b = np.broadcast_to(a[:, None], ab.shape), np.broadcast_to(b[:, None], ab.shape)
        s1 = np.asarray(first_order(wide_a, ab, wide_b), float)
        st = np.asarray(total_order(wide_a, ab, wide_b), float)
    counts = np.bincount((r + n * np.arange(resamples)[None, :]).ravel(),
                         minlength=n * resamples).reshape(resamples, n).astype(float)  # resamples x N
    # the variance SALib divides by: of the resample's A and B values together (2N values)
    m1 = (counts @ a + counts @ b) / (2 * n)
    m2 = (counts @ (a * a) + counts @ (b * b)) / (2 * n)
    var = np.maximum(m2 - m1 * m1, 0.0)
    ok = var > np.finfo(float).eps
    safe = np.where(ok, var, 1.0)[:, None]
    s1_boot = np.where(ok[:, None], counts @ (b[:, None] * (ab - a[:, None])) / n / safe, 0.0)
    st_boot = np.where(ok[:, None], 0.5 * (counts @ ((a[:, None] - ab) ** 2)) / n / safe, 0.0)
    constant = np.ptp(np.r_[a[r], b[r]]) == 0.0
    out["S1"] = s1
    out["S1_conf"] = np.zeros(d) if constant else z * s1_boot.std(axis=0, ddof=1)
    out["ST"] = st
    out["ST_conf"] = np.zeros(d) if constant else z * st_boot.std(axis=0, ddof=1)
    return {k: out[k] for k in ("S1", "S1_conf", "ST", "ST_conf")}


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
