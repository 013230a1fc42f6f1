"""Hypotheses checked against the data: points of parity, difference and contention.

The method states per subsegment which elements are expected to be points of
parity, difference or contention, then measures six to eight customers. This
module says, per element and subsegment, what those customers show.

Decision rules (``alpha`` = 0.05 unless told otherwise)
------------------------------------------------------
The values tested are each customer's element value *as measured*: the
element's word equation evaluated on the customer's inputs, also where the
element is declared parity (``values.element_values`` reports those as 0 by
definition; here the equation is what is tested). Customers missing an input
are left out; ``n`` counts the rest.

1. ``n < 3`` (including an element with no equation, which can never be
   measured: "declared, not measured") -> ``not enough data``.
2. **Parity shown** in the data when a margin ``m`` is set and the two
   one-sided tests of equivalence (TOST: H0 mean <= -m or mean >= m) reject
   at ``alpha``: ``p_equivalence < alpha``. ``p_equivalence`` is
   ``statsmodels.stats.weightstats.DescrStatsW(x).ttost_mean(-m, m)[0]``
   (the larger of the two one-sided p-values; equivalently, the
   ``1 - 2*alpha`` t interval lies inside ``(-m, m)``). Without a margin
   equivalence is not tested (``p_equivalence`` empty).
3. **Difference shown** in the data when the one-sample t-test of mean = 0
   rejects: ``p_difference < alpha`` (two-sided), i.e. the ``1 - alpha`` t
   interval ``ci_low .. ci_high`` excludes 0; its ``direction`` is
   ``above 0`` (the offering worth more) or ``below 0`` (worth less).
4. Parity shown takes precedence over a difference shown: a mean that is
   statistically non-zero but inside the margin is, by the study's own
   definition of the margin, negligible.
5. Otherwise the interval straddles 0 and no parity is shown.

The verdict compares what the data show with the hypothesis:

=================  ===================  ===================  ==========================
data show          declared parity      declared difference  declared contention
=================  ===================  ===================  ==========================
parity             parity shown         contradicted         parity shown
difference         contradicted         difference shown     difference shown
straddles 0        contention (...)     contention (...)     contention (straddles 0)
=================  ===================  ===================  ==========================

where ``contention (...)`` is the verdict ``contention (straddles 0)``: the
data neither show the difference nor (within the margin) the parity.

With all values equal (sd = 0) the tests are decided exactly: a constant
``c`` is a difference when ``c != 0`` and parity when ``-m < c < m``.

The margin, ``parity_margin`` in currency per period, is taken (first found)
from the ``margin`` argument (a number for every element, or a mapping of
element id to number), else the element's ``parity_margin``, else the
study's ``parity_margin`` (project.yaml, see docs/format-extensions.md).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .errors import CvmError
from .study import Study

ALPHA = 0.05
MIN_N = 3
VERDICTS = ("parity shown", "difference shown", "contention (straddles 0)", "not enough data", "contradicted")
HYPOTHESES_COLUMNS = ["element_id", "subsegment", "hypothesis", "n", "mean", "ci_low", "ci_high", "margin",
                      "p_equivalence", "p_difference", "verdict", "direction", "finding"]


# ---------------------------------------------------------------------------
# inputs


def measured_values(study: Study) -> pd.DataFrame:
    """Each element's value per customer from its equation, parity or not.

    Unlike :func:`~cvm_kit.values.element_values` (where a declared parity is
    worth 0 by definition), a parity element that has an equation is
    evaluated here, so the parity can be tested.

    Returns
    -------
    DataFrame
        ``customer_id, subsegment, element_id, status, value``: one row per
        customer and quantified element; ``value`` is NaN where an input is
        missing or the element has no equation.
    """
    from .values import environment, finite_or_nan

    env = environment(study)
    n = len(env.ids)
    frames = []
    for e in study.elements:
        if not e.quantified:
            continue
        if e.equation is not None:
            v = finite_or_nan(np.broadcast_to(e.equation.evaluate(env.values), (n,)))
        else:
            v = np.full(n, np.nan)
        status = [e.status_for(s) for s in env.subsegments]
        frames.append(pd.DataFrame({"customer_id": env.ids, "subsegment": env.subsegments, "element_id": e.id,
                                    "status": status, "value": v}))
    cols = ["customer_id", "subsegment", "element_id", "status", "value"]
    return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)


def _positive(value: object, where: str) -> float:
    try:
        m = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CvmError(f"{where} must be a number (currency per period), got {value!r}") from None
    if not np.isfinite(m) or m <= 0:
        raise CvmError(f"{where} must be a positive number (currency per period), got {value!r}")
    return m


def resolve_margins(study: Study, margin: float | Mapping[str, float] | None = None) -> dict[str, float]:
    """The parity margin of each quantified element (NaN where none is set).

    Order: ``margin[element_id]`` (mapping), ``margin`` (number), the
    element's ``parity_margin``, the study's ``parity_margin``.

    Raises
    ------
    CvmError
        A margin that is not a positive number, or a mapping key that is not
        an element id.
    """
    ids = [e.id for e in study.elements if e.quantified]
    per: dict[str, float] = {}
    common: float | None = None
    if isinstance(margin, Mapping):
        for k, v in margin.items():
            if k not in ids:
                raise CvmError(f"parity margin for {k!r}: no such quantified element; known: {', '.join(ids)}")
            per[k] = _positive(v, f"parity margin for {k}")
    elif margin is not None:
        common = _positive(margin, "parity margin")
    study_m = getattr(study, "parity_margin", None)  # wired by the loader when project.yaml has it
    study_m = _positive(study_m, "project.yaml: parity_margin") if study_m is not None else None
    out = {}
    for e in study.elements:
        if not e.quantified:
            continue
        elem_m = getattr(e, "parity_margin", None)
        elem_m = _positive(elem_m, f"project.yaml: elements (id={e.id}).parity_margin") if elem_m is not None else None
        for cand in (per.get(e.id), common, elem_m, study_m):
            if cand is not None:
                out[e.id] = cand
                break
        else:
            out[e.id] = float("nan")
    return out


# ---------------------------------------------------------------------------
# the tests


def hypothesis_stats(x: np.ndarray, margin: float = float("nan"), *, alpha: float = ALPHA) -> dict[str, float]:
    """The statistics of one element in one subsegment (missing values dropped).

    Returns
    -------
    dict
        ``n, mean, ci_low, ci_high`` (the ``1 - alpha`` t interval),
        ``p_equivalence`` (TOST against ``(-margin, margin)``; NaN without a
        margin or with ``n < 3``) and ``p_difference`` (two-sided one-sample
        t-test of mean 0; NaN with ``n < 3``).

    Examples
    --------
    >>> r = hypothesis_stats(np.array([1.0, -2.0, 3.0, 0.5, -1.0, 2.0]), 5.0)
    >>> round(r["p_equivalence"], 5), round(r["p_difference"], 3)
    (0.00105, 0.476)
    """
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    n = int(x.size)
    out = {"n": n, "mean": float(x.mean()) if n else np.nan, "ci_low": np.nan, "ci_high": np.nan,
           "p_equivalence": np.nan, "p_difference": np.nan}
    if n < MIN_N:
        return out
    from scipy import stats

    mean = out["mean"]
    sd = float(x.std(ddof=1))
    if sd == 0.0:  # every value equal: decided exactly (the t statistics are infinite)
        out.update(ci_low=mean, ci_high=mean, p_difference=0.0 if mean != 0 else 1.0)
        if np.isfinite(margin):
            out["p_equivalence"] = 0.0 if -margin < mean < margin else 1.0
        return out
    se = sd / np.sqrt(n)
    half = float(stats.t.ppf(1 - alpha / 2, n - 1)) * se
    out.update(ci_low=mean - half, ci_high=mean + half,
               p_difference=float(2 * stats.t.sf(abs(mean) / se, n - 1)))
    if np.isfinite(margin):
        from statsmodels.stats.weightstats import DescrStatsW

        out["p_equivalence"] = float(DescrStatsW(x).ttost_mean(-margin, margin)[0])
    return out


def _verdict(hyp: str, r: Mapping[str, float], alpha: float) -> tuple[str, str]:
    """(verdict, direction) by the rules of the module docstring."""
    if r["n"] < MIN_N:
        return "not enough data", ""
    parity = bool(np.isfinite(r["p_equivalence"]) and r["p_equivalence"] < alpha)
    diff = bool(r["p_difference"] < alpha) and not parity
    direction = ("above 0" if r["mean"] > 0 else "below 0") if diff else ""
    if parity:
        return ("contradicted" if hyp == "difference" else "parity shown"), direction
    if diff:
        return ("contradicted" if hyp == "parity" else "difference shown"), direction
    return "contention (straddles 0)", direction


def _finding(e_name: str, sid: str, hyp: str, verdict: str, direction: str, r: Mapping[str, float],
             margin: float, has_equation: bool, alpha: float, currency: str) -> str:
    from .variance import fmt_money, fmt_p, mid

    name = mid(e_name)
    cur = f" {currency}" if currency else ""
    conf = f"{100 * (1 - alpha):g}%"
    if not has_equation:
        return f"{sid}: {name} is declared {hyp}, not measured (no equation), so the data cannot test it."
    if verdict == "not enough data":
        have = "no customer has" if r["n"] == 0 else f"only {r['n']} customer(s) have"
        return f"{sid}: {have} a value for {name}; at least {MIN_N} are needed to test the {hyp} hypothesis."
    ci = f"mean {fmt_money(r['mean'])}{cur}, {conf} interval {fmt_money(r['ci_low'])} to {fmt_money(r['ci_high'])}"
    within = f"within ±{fmt_money(margin)}{cur}" if np.isfinite(margin) else ""
    if verdict in ("parity shown", "contradicted") and np.isfinite(r["p_equivalence"]) and r["p_equivalence"] < alpha:
        tail = " although it was declared a difference" if verdict == "contradicted" else ""
        return f"{sid}: {name} is equivalent to 0 {within} ({ci}; equivalence {fmt_p(r['p_equivalence'])}){tail}."
    if verdict in ("difference shown", "contradicted"):
        side = "more" if direction == "above 0" else "less"
        tail = " although it was declared a point of parity" if verdict == "contradicted" else ""
        return (f"{sid}: {name} is worth {side} with the offering than with the alternative "
                f"({ci}, excludes 0; {fmt_p(r['p_difference'])}){tail}.")
    if np.isfinite(margin):
        return (f"{sid}: {name} is neither shown different from 0 ({ci}) nor within ±{fmt_money(margin)}{cur} "
                f"of it (equivalence {fmt_p(r['p_equivalence'])}).")
    return (f"{sid}: {name} is not shown different from 0 ({ci}); with no parity_margin set, equivalence to 0 "
            f"cannot be tested.")


def check_hypotheses(study: Study, *, margin: float | Mapping[str, float] | None = None,
                     alpha: float = ALPHA, measured: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per subsegment and element: the hypothesis, what the data show, and the verdict.

    See the module docstring for the decision rules.

    Parameters
    ----------
    study : Study
    margin : float or mapping, optional
        Parity margin in currency per period: one number for every element,
        or ``{element_id: margin}``; overrides ``parity_margin`` of the study.
    alpha : float
        Level of every test (default 0.05); the interval is ``1 - alpha``.
    measured : DataFrame, optional
        The output of :func:`measured_values` (computed if omitted).

    Returns
    -------
    DataFrame
        ``element_id, subsegment, hypothesis, n, mean, ci_low, ci_high,
        margin, p_equivalence, p_difference, verdict, direction, finding``:
        one row per quantified element and subsegment, in project.yaml order.
        ``verdict`` is one of :data:`VERDICTS`; ``finding`` says it in one
        sentence.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> h = check_hypotheses(cvm.load_study(cvm.example_path()), margin=1000)
    >>> set(h["verdict"]) <= set(VERDICTS)
    True
    """
    if not 0 < alpha < 0.5:
        raise CvmError(f"alpha must be between 0 and 0.5, got {alpha}")
    margins = resolve_margins(study, margin)
    m = measured if measured is not None else measured_values(study)
    groups = {k: g["value"].to_numpy(float) for k, g in m.groupby(["element_id", "subsegment"], sort=False)}
    rows = []
    for e in study.elements:
        if not e.quantified:
            continue
        mg = margins[e.id]
        for sid in study.subsegment_ids:
            hyp = e.status_for(sid)
            if hyp == "placeholder":  # listed there, not measured: no hypothesis to test (as a whole placeholder)
                continue
            x = groups.get((e.id, sid), np.array([]))
            r = hypothesis_stats(x if e.equation is not None else np.array([]), mg, alpha=alpha)
            verdict, direction = _verdict(hyp, r, alpha)
            rows.append({"element_id": e.id, "subsegment": sid, "hypothesis": hyp, **r, "margin": mg,
                         "verdict": verdict, "direction": direction,
                         "finding": _finding(e.name, sid, hyp, verdict, direction, r, mg, e.equation is not None,
                                             alpha, study.currency)})
    out = pd.DataFrame(rows, columns=HYPOTHESES_COLUMNS)
    out["n"] = out["n"].astype(int)
    return out


def hypotheses_flags(table: pd.DataFrame) -> list[str]:
    """The findings an executive summary should flag: contradicted hypotheses first, then untested ones.

    Returns
    -------
    list of str
        One sentence per ``contradicted`` row, then one line counting the
        hypotheses with ``not enough data`` (if any).
    """
    out = list(table.loc[table["verdict"] == "contradicted", "finding"])
    k = int((table["verdict"] == "not enough data").sum())
    if k:
        out.append(f"{k} of {len(table)} hypotheses cannot be tested yet (not enough data or not measured).")
    return out
