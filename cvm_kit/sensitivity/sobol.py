"""Sobol global sensitivity of a customer's value over the input variables (SALib's estimators)."""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd

from ..equations import Equation
from ..errors import AnalysisError, CvmError
from ..study import Study
from ..values import display_names, environment
from .common import OUTCOMES, SOBOL_COLUMNS, check_subsegment

__all__ = ["SOBOL_ASSUMPTION", "empirical_ppf", "sobol_indices"]

SOBOL_ASSUMPTION = ("Sobol indices (SALib, Saltelli design on a scrambled Sobol sequence): each input varying across "
                    "the subsegment's customers is drawn from its observed values (each customer's value equally "
                    "likely), independently of the other inputs; inputs every customer shares are held at that value")


def empirical_ppf(u: np.ndarray, sorted_x: np.ndarray) -> np.ndarray:
    """Inverse CDF of the empirical distribution of ``sorted_x`` (each value has probability 1/n).

    Parameters
    ----------
    u : numpy.ndarray
        Uniform draws in [0, 1).
    sorted_x : numpy.ndarray
        The observed values, sorted ascending.

    Returns
    -------
    numpy.ndarray
        The ``floor(u * n)``-th smallest value for each draw.

    Examples
    --------
    >>> import numpy as np
    >>> empirical_ppf(np.array([0.0, 0.49, 0.5, 0.99]), np.array([1.0, 2.0])).tolist()
    [1.0, 1.0, 2.0, 2.0]
    """
    n = sorted_x.size
    return sorted_x[np.minimum((u * n).astype(np.int64), n - 1)]


def _sobol_components(study: Study, subsegment: str, of: str) -> list[tuple[str, Equation, float, tuple[str, ...]]]:
    """(id, equation, sign, leaf phrases) of each part the outcome sums, for one subsegment."""
    from ..values import QUANTIFIED, leaf_phrases

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
    from ..equations import normalize_phrase
    from ..values import finite_or_nan

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
            vals[name] = np.broadcast_to(finite_or_nan(d.equation.evaluate(vals)), (n,))
    return np.broadcast_to(finite_or_nan(eq.evaluate(vals)), (n,))


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
    check_subsegment(study, subsegment)
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
    from ..values import finite_or_nan

    return float(finite_or_nan(np.asarray(eq.evaluate({}), float)))


def _sobol_one(study: Study, env, mask: np.ndarray, sub: str, of: str, n: int, seed: int, resamples: int,
               confidence: float) -> tuple[pd.DataFrame, list[str]]:
    from scipy.stats import qmc

    display = display_names(study)
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
    a = {p: empirical_ppf(base[:, j], varying[p]) for j, p in enumerate(names)}
    b = {p: empirical_ppf(base[:, d + j], varying[p]) for j, p in enumerate(names)}
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
    from SALib.analyze.sobol import first_order, total_order
    from scipy.stats import norm

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
