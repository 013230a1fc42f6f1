"""The inputs of the value equations: measurements aggregated, constants and derived quantities resolved.

Inputs resolve in this order: a customer's own measurement (repeated rows are
averaged), else a constant of that name, else a derived quantity; a customer
lacking an input gets a missing value (NaN) for every element that needs it,
reported by phrase, never a silent 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..equations import Equation, normalize_phrase
from ..errors import CvmError
from ..study import SOURCES, Study
from ..study.factors import copy_on_write, factorize, first_rows, from_codes
from .phrases import SOURCE_RANK, constants_map, display_names, input_phrases, leaf_phrases

__all__ = ["Environment", "environment", "finite_or_nan", "inherit_reasons", "measurement_table",
           "subsegment_input_means", "weakest_rank", "what_if_environment"]

_TABLE_COLUMNS = ("customer_id", "variable", "phrase", "value", "source")


_TABLE_CACHE: dict[tuple, tuple[list[pd.Series], pd.DataFrame]] = {}


def _buffer(series: pd.Series) -> tuple[int, tuple[int, ...]]:
    """Where a column's data lives (address and shape of its array)."""
    arr = getattr(series.array, "_ndarray", None)  # numpy-backed extension arrays (python strings)
    if arr is None:
        arr = np.asarray(series.array)
    return arr.__array_interface__["data"][0], arr.shape


def _fingerprint(m: pd.DataFrame) -> tuple:
    """A cache key that changes whenever the measurement columns' content may have changed.

    Under pandas' copy-on-write (the default from pandas 3) any in-place edit
    (``m.loc[0, "value"] = 99``) of a frame whose columns the cache still
    holds copies the edited column first, so its address changes: comparing
    addresses catches it at no cost. The value column's bytes are also hashed
    (a few ms for 640,000 rows) as a second guard; without copy-on-write
    (pandas 2) the text columns are hashed too.
    """
    import hashlib

    cols = [m[c] for c in _TABLE_COLUMNS]
    digest = hashlib.blake2b(np.ascontiguousarray(cols[3].to_numpy(dtype=float)).tobytes(), digest_size=16)
    if not copy_on_write():
        for c in (0, 1, 2, 4):
            digest.update(pd.util.hash_pandas_object(cols[c], index=False).to_numpy().tobytes())
    return (id(m), len(m), tuple(_buffer(c) for c in cols), digest.hexdigest())


def measurement_table(study: Study) -> pd.DataFrame:
    """Measurements aggregated per customer and phrase (repeats averaged).

    Returns
    -------
    DataFrame
        ``customer_id, phrase, variable, value, n, sd, min, max, source``
        where ``value`` is the mean of repeated rows, ``sd`` their spread
        (NaN for a single row), ``source`` the weakest source among them.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> t = cvm.measurement_table(cvm.load_study(cvm.example_path()))
    >>> int(t["n"].max()) >= 2
    True
    """
    m = study.measurements
    cache_key = _fingerprint(m)
    hit = _TABLE_CACHE.get(cache_key)
    if hit is not None:  # the same columns, unchanged: aggregated already
        return _private_copy(hit[1])
    out = _aggregate(m)
    if len(_TABLE_CACHE) > 8:
        _TABLE_CACHE.clear()
    # hold the columns themselves: the addresses in the key stay theirs, and under copy-on-write
    # an in-place edit of the study's frame then copies the column (so its address changes)
    _TABLE_CACHE[cache_key] = ([m[c] for c in _TABLE_COLUMNS], out)
    return _private_copy(out)


def _aggregate(m: pd.DataFrame) -> pd.DataFrame:
    """The measurement rows grouped per customer and phrase, groups in order of their first row."""
    # one integer key (customer code x phrase code) from the factorizations loading already made
    cc, cu = factorize(m["customer_id"])
    pc, pu = factorize(m["phrase"])
    n_p = max(len(pu), 1)
    group, keys, first = _groups(cc.astype(np.int64) * n_p + pc, max(len(cu), 1) * n_p)
    value = m["value"].to_numpy(dtype=float, na_value=np.nan)
    sc, su = factorize(m["source"])
    rank = np.array([SOURCE_RANK.get(x, np.nan) for x in su], dtype=float)[sc]
    if len(keys) == len(value):  # one row per customer and phrase (the usual study): nothing to aggregate
        n, mean, sd, lo, hi, rk = np.ones(len(value), dtype=np.int64), value, np.full(len(value), np.nan), \
            value, value, rank
    else:
        n, mean, sd, lo, hi, rk = _group_stats(group, first, value, rank)
    out = pd.DataFrame({
        # remembered as factorized: the environment and the coverage group on them next
        "customer_id": from_codes(keys // n_p, cu), "phrase": from_codes(keys % n_p, pu),
        "variable": pd.Series(_take_text(m["variable"], first), dtype=object),
        "value": mean, "n": n, "sd": sd, "min": lo, "max": hi,
    }, copy=False)
    # the weakest source among a group's rows (an unknown source: no rank, shown as missing)
    names = np.asarray((*SOURCES, None), dtype=object)
    out["source"] = from_codes(np.where(np.isnan(rk), len(SOURCES), np.nan_to_num(rk)).astype(np.int64), names)
    return out


def _take_text(col: pd.Series, rows: np.ndarray) -> np.ndarray:
    """``col``'s values at ``rows`` as an object array, through its (remembered) factorization."""
    codes, uniques = factorize(col)
    return uniques[codes[rows]]


def _groups(key: np.ndarray, n_keys: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group of each row, the groups' keys and first rows; groups in order of first row (keys < ``n_keys``)."""
    n = len(key)
    if n_keys > max(4 * n, 1 << 20):  # a sparse key space: hash the keys
        group, keys = pd.factorize(key)
        group, keys = np.asarray(group), np.asarray(keys)
        return group, keys, first_rows(group, len(keys))
    first = np.full(n_keys, n, dtype=np.int64)  # a dense key space: no hashing, no sort
    rows = np.arange(n, dtype=np.int64)
    np.minimum.at(first, key, rows)
    rows = np.flatnonzero(first[key] == rows)  # the rows that open a group, in file order
    keys = key[rows]
    gid = np.empty(n_keys, dtype=np.int64)
    gid[keys] = np.arange(len(keys))
    return gid[key], keys, rows


def _group_stats(group: np.ndarray, first: np.ndarray, value: np.ndarray,
                 rank: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per group: rows, mean, sd (ddof 1), min, max of ``value`` (NaN skipped) and the highest ``rank``.

    ``first[g]`` is group ``g``'s first row. Most groups hold one row, which is
    its own mean, min and max: only the rows of repeated groups are reduced,
    over ids numbered 0..k-1 among those groups (arrays of their size, not of
    every group's).
    """
    n_groups = len(first)
    n = np.bincount(group, minlength=n_groups)
    mean, rk = value[first], rank[first]
    lo, hi = mean.copy(), mean.copy()
    sd = np.full(n_groups, np.nan)
    rows = np.flatnonzero(n[group] > 1)
    if not len(rows):
        return n, mean, sd, lo, hi, rk
    # the repeated groups' rows side by side, each group's rows in file order (stable sort)
    order = rows[np.argsort(group[rows], kind="stable")]
    gs, v, r = group[order], value[order], rank[order]
    starts = np.flatnonzero(np.r_[True, gs[1:] != gs[:-1]])
    ids = gs[starts]
    seg = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(gs)]))
    ok = ~np.isnan(v)
    # bincount adds each group's values in file order: the same sums (to the last bit) as before
    count = np.bincount(seg, weights=ok, minlength=len(ids))
    total = np.bincount(seg, weights=np.where(ok, v, 0.0), minlength=len(ids))
    with np.errstate(invalid="ignore", divide="ignore"):
        m = total / count
        dev = np.where(ok, v - m[seg], 0.0)  # two passes: the spread of close values stays exact
        spread = np.sqrt(np.bincount(seg, weights=dev * dev, minlength=len(ids)) / (count - 1))
    mean[ids] = m
    sd[ids] = np.where(count > 1, spread, np.nan)
    lo[ids] = np.fmin.reduceat(v, starts)  # fmin/fmax skip NaN
    hi[ids] = np.fmax.reduceat(v, starts)
    rk[ids] = np.fmax.reduceat(r, starts)
    return n, mean, sd, lo, hi, rk


def _private_copy(df: pd.DataFrame) -> pd.DataFrame:
    """A copy the caller may change without touching the cached table: lazy under copy-on-write (free)."""
    return df.copy(deep=not copy_on_write())


@dataclass(frozen=True)
class Environment:
    """Resolved inputs for a set of customers (or what-if rows).

    ``values[phrase]`` and ``ranks[phrase]`` are float arrays over the rows;
    a rank is the source's position in :data:`~cvm_kit.study.SOURCES`
    (NaN where the input is missing). Values are finite or NaN.
    """

    ids: np.ndarray
    subsegments: np.ndarray
    values: dict[str, np.ndarray]
    ranks: dict[str, np.ndarray]
    #: derived phrase -> why each row has no finite value (``""`` if it has one or an input is
    #: missing), e.g. ``"division by zero in [a] / [b] (in [Hours per tonne])"``; only derived
    #: quantities with at least one such row are listed.
    reasons: dict[str, np.ndarray] = field(default_factory=dict)


def _resolve_derived(study: Study, values: dict[str, np.ndarray], ranks: dict[str, np.ndarray],
                     given: frozenset[str] = frozenset()) -> dict[str, np.ndarray]:
    """Compute the derived quantities in place; return their reasons (see :attr:`Environment.reasons`)."""
    n_rows = len(next(iter(values.values()))) if values else 0
    reasons: dict[str, np.ndarray] = {}
    for d in study.derived:  # already in evaluation order
        n = normalize_phrase(d.name)
        v, own = d.equation.evaluate_with_reasons(values)
        computed = np.broadcast_to(finite_or_nan(v), (n_rows,))
        own = np.broadcast_to(own, (n_rows,))
        if own.any():
            own = np.where(own != "", own + f" (in [{d.name}])", "").astype(object)
        why = inherit_reasons(d.equation, own, reasons, n_rows)
        rank = weakest_rank(d.equation, ranks, n_rows)
        if n in given:  # a what-if may state a derived quantity outright; derive only its blanks
            have = ~np.isnan(values[n])
            values[n] = np.where(have, values[n], computed)
            ranks[n] = np.where(have, ranks[n], rank)
            why = np.where(have, "", why).astype(object)
        else:
            values[n] = computed
            ranks[n] = rank
        if why.any():
            reasons[n] = why
    return reasons


def inherit_reasons(eq: Equation, own: np.ndarray, reasons: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """Why each row of ``eq`` has no finite value: a derived input's own problem first, else ``own``.

    A derived quantity that divided by zero is NaN where ``eq`` uses it, so
    ``eq`` itself sees only a NaN operand: its reason is inherited here.

    Parameters
    ----------
    eq : Equation
    own : numpy.ndarray
        The equation's own reasons per row (``""`` where none).
    reasons : Mapping[str, numpy.ndarray]
        Derived phrase -> its reasons (:attr:`Environment.reasons`).
    n : int
        Number of rows.

    Returns
    -------
    numpy.ndarray
        Object array of ``n`` reasons.
    """
    inherited = [reasons[p] for p in eq.phrases if p in reasons]
    if not inherited:
        return np.broadcast_to(own, (n,))
    out = np.full(n, "", dtype=object)
    for why in inherited + [np.broadcast_to(own, (n,))]:
        take = (out == "") & (why != "")
        out[take] = why[take]
    return out


def finite_or_nan(a: np.ndarray) -> np.ndarray:
    """``a`` as floats, every non-finite entry (inf, -inf, NaN) NaN: a missing value.

    Parameters
    ----------
    a : array_like

    Returns
    -------
    numpy.ndarray
        A new float array.

    Examples
    --------
    >>> finite_or_nan([1.0, float("inf"), -2.0]).tolist()
    [1.0, nan, -2.0]
    """
    a = np.asarray(a, dtype=float)
    return np.where(np.isfinite(a), a, np.nan)


def weakest_rank(eq: Equation, ranks: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """The least reliable source rank among an equation's inputs, per row.

    Parameters
    ----------
    eq : Equation
    ranks : Mapping[str, numpy.ndarray]
        Phrase -> source rank per row (:attr:`Environment.ranks`).
    n : int
        Number of rows.

    Returns
    -------
    numpy.ndarray
        Highest rank per row (NaN where an input is missing); the rank of
        ``data`` for an equation without phrases.
    """
    if not eq.phrases:
        return np.full(n, float(SOURCE_RANK["data"]))
    stack = np.vstack([np.broadcast_to(ranks[p], (n,)) for p in eq.phrases])
    # weakest = highest rank; NaN (missing) propagates
    return stack.max(axis=0)


def environment(study: Study) -> Environment:
    """Resolve every input phrase for every studied customer.

    Returns
    -------
    Environment
        Arrays aligned with ``study.customers`` rows.
    """
    cust = study.customers
    ids = cust["customer_id"].to_numpy(object)
    n = len(ids)
    table = measurement_table(study)
    values, ranks = _measured_grid(table, ids)
    for phrase, (value, rank) in constants_map(study).items():
        # a customer's own measurement overrides the study-wide constant
        if phrase in values:
            have = ~np.isnan(values[phrase])
            values[phrase] = np.where(have, values[phrase], value)
            ranks[phrase] = np.where(have, ranks[phrase], rank)
        else:
            values[phrase] = np.full(n, float(value))
            ranks[phrase] = np.full(n, float(rank))
    reasons = _resolve_derived(study, values, ranks)
    return Environment(ids, cust["subsegment"].to_numpy(object), values, ranks, reasons)


def _measured_grid(table: pd.DataFrame, ids: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each measured phrase's value and source rank per customer of ``ids`` (NaN where not measured)."""
    n = len(ids)
    pc, phrases = factorize(table["phrase"])
    cc, cids = factorize(table["customer_id"])
    sc, sources = factorize(table["source"])
    rows = pd.Index(ids).get_indexer(cids)[cc] if len(cc) else np.zeros(0, dtype=np.int64)
    keep = rows >= 0  # a customer outside ``ids`` is not placed
    grid_v = np.full((len(phrases), n), np.nan)
    grid_r = np.full((len(phrases), n), np.nan)
    grid_v[pc[keep], rows[keep]] = table["value"].to_numpy(dtype=float, na_value=np.nan)[keep]
    grid_r[pc[keep], rows[keep]] = np.array([SOURCE_RANK.get(x, np.nan) for x in sources], dtype=float)[sc][keep]
    order = np.argsort(first_rows(pc, len(phrases)), kind="stable")  # phrases in order of first measurement
    return ({phrases[i]: grid_v[i] for i in order}, {phrases[i]: grid_r[i] for i in order})


def what_if_environment(study: Study, inputs: pd.DataFrame, subsegment: str | Iterable[str] | None = None,
                        source: str = "assumption") -> Environment:
    """An environment from a table of inputs (one row per case, columns = phrases).

    Columns may be written as in the equations (any case/spacing). Missing
    columns fall back to the study's constants; anything else missing stays
    missing. Every supplied value is taken to have ``source``.
    """
    n = len(inputs)
    ids = np.asarray(inputs.index, dtype=object)
    if subsegment is None:
        subs = inputs["subsegment"].to_numpy(object) if "subsegment" in inputs.columns else np.full(n, None, object)
    elif isinstance(subsegment, str):
        subs = np.full(n, subsegment, dtype=object)
    else:
        subs = np.asarray(list(subsegment), dtype=object)
    values: dict[str, np.ndarray] = {}
    ranks: dict[str, np.ndarray] = {}
    rank = float(SOURCE_RANK[source])
    known = set(leaf_phrases(study)) | {normalize_phrase(d.name) for d in study.derived}
    for c in inputs.columns:
        if c == "subsegment":
            continue
        p = normalize_phrase(str(c))
        if p not in known:  # a misspelt input would otherwise just leave the result empty
            import difflib

            close = difflib.get_close_matches(p, sorted(known), n=1, cutoff=0.6)
            hint = f"; did you mean [{display_names(study).get(close[0], close[0])}]?" if close else ""
            raise CvmError(f"input column [{c}] is not a phrase any equation of the study uses{hint}")
        values[p] = pd.to_numeric(inputs[c], errors="coerce").to_numpy(float)
        ranks[p] = np.where(np.isnan(values[p]), np.nan, rank)
    given = frozenset(values)
    for phrase, (value, crank) in constants_map(study).items():
        if phrase not in values:
            values[phrase] = np.full(n, float(value))
            ranks[phrase] = np.full(n, float(crank))
        else:  # blank cells fall back to the constant, as for studied customers
            blank = np.isnan(values[phrase])
            values[phrase] = np.where(blank, float(value), values[phrase])
            ranks[phrase] = np.where(blank, float(crank), ranks[phrase])
    derived = {normalize_phrase(d.name) for d in study.derived}
    for leaves in leaf_phrases(study).values():
        for p in leaves:
            if p not in values and p not in derived:
                values[p] = np.full(n, np.nan)
                ranks[p] = np.full(n, np.nan)
    reasons = _resolve_derived(study, values, ranks, given & derived)
    return Environment(ids, subs, values, ranks, reasons)


def subsegment_input_means(study: Study, env: Environment | None = None, *, min_own: int = 1) -> pd.DataFrame:
    """Mean of every input phrase per subsegment (the calculator's pre-fill).

    Parameters
    ----------
    study : Study
    env : Environment, optional
        The studied customers' inputs (computed if omitted).
    min_own : int
        Fewest customers with their own figure of a phrase for its mean to be
        given: with 1 or 2 (beside a known constant) a mean gives their
        figures back, so below ``min_own`` it is NaN. A phrase nobody
        measured (a constant) keeps its mean.

    Returns
    -------
    DataFrame
        Indexed by subsegment id, one column per input phrase (display form).
    """
    env = env if env is not None else environment(study)
    display = display_names(study)
    phrases = input_phrases(study)
    data = {display.get(p, p): env.values[p] for p in phrases}
    df = pd.DataFrame(data)
    df["subsegment"] = env.subsegments
    out = df.groupby("subsegment", sort=False).mean().reindex(study.subsegment_ids)
    if min_own > 1:
        for (sub, p), k in own_figures(study).items():
            if k < min_own and p in phrases and sub in out.index:
                out.loc[sub, display.get(p, p)] = np.nan
    return out


def own_figures(study: Study) -> pd.Series:
    """How many customers of each subsegment measured each phrase themselves (a constant fills in for the others).

    What the calculators' disclosure rules count: a statistic over one
    customer's own figure (beside a known constant) gives that figure back.

    Returns
    -------
    Series
        Indexed by ``(subsegment, phrase)`` (normalized phrase), pairs with no own figure left out.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> int(own_figures(cvm.load_study(cvm.example_path())).min()) >= 1
    True
    """
    subs = dict(zip(study.customers["customer_id"], study.customers["subsegment"]))
    m = study.measurements.assign(subsegment=study.measurements["customer_id"].map(subs))
    return m.groupby(["subsegment", "phrase"])["customer_id"].nunique()
