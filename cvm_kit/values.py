"""Element values per customer, the price difference and the totals.

Each word equation was compiled once when the study loaded; here it is
evaluated vectorised over all customers at once (one numpy operation per
node of the equation), never in a Python loop per customer.

Inputs resolve in this order: a customer's own measurement (repeated rows are
averaged), else a constant of that name, else a derived quantity; a customer
lacking an input gets a missing value (NaN) for every element that needs it,
reported by phrase, never a silent 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from .equations import Equation, normalize_phrase
from .errors import CvmError
from .study import SOURCES, Study

SOURCE_RANK = {s: i for i, s in enumerate(SOURCES)}  # higher = less reliable
QUANTIFIED = ("difference", "contention")  # statuses that are summed
NOT_COMPUTABLE = "(no finite result)"  # fallback only: reasons name the step
TOTAL_COLUMNS = ["differential_value", "contention_value", "price_difference", "net_value"]


# ---------------------------------------------------------------------------
# inputs


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
    if not _copy_on_write():
        for c in (0, 1, 2, 4):
            digest.update(pd.util.hash_pandas_object(cols[c], index=False).to_numpy().tobytes())
    return (id(m), len(m), tuple(_buffer(c) for c in cols), digest.hexdigest())


def _copy_on_write() -> bool:
    if int(pd.__version__.split(".")[0]) >= 3:  # always on (reading the option warns)
        return True
    return getattr(pd.options.mode, "copy_on_write", False) is True


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
        return hit[1].copy()
    # group on one integer key (customer code x phrase code): far faster than two text keys
    cc, cu = pd.factorize(m["customer_id"], sort=False)
    pc, pu = pd.factorize(m["phrase"], sort=False)
    key = cc.astype(np.int64) * max(len(pu), 1) + pc
    frame = pd.DataFrame({"key": key, "value": m["value"].to_numpy(float),
                          "rank": m["source"].map(SOURCE_RANK).to_numpy(float), "row": np.arange(len(key))})
    g = frame.groupby("key", sort=False)
    agg = g.agg(value=("value", "mean"), n=("value", "size"), sd=("value", "std"), min=("value", "min"),
                max=("value", "max"), rank=("rank", "max"), row=("row", "min"))
    keys = agg.index.to_numpy()
    out = pd.DataFrame({
        "customer_id": pd.Series(np.asarray(cu, dtype=object)[keys // max(len(pu), 1)], dtype=object),
        "phrase": pd.Series(np.asarray(pu, dtype=object)[keys % max(len(pu), 1)], dtype=object),
        "variable": pd.Series(m["variable"].to_numpy(object)[agg["row"].to_numpy()], dtype=object),
        "value": agg["value"].to_numpy(), "n": agg["n"].to_numpy(), "sd": agg["sd"].to_numpy(),
        "min": agg["min"].to_numpy(), "max": agg["max"].to_numpy(),
    })
    out["source"] = pd.Series(np.asarray(SOURCES, dtype=object)[agg["rank"].to_numpy(int)], dtype=object)
    if len(_TABLE_CACHE) > 8:
        _TABLE_CACHE.clear()
    # hold the columns themselves: the addresses in the key stay theirs, and under copy-on-write
    # an in-place edit of the study's frame then copies the column (so its address changes)
    _TABLE_CACHE[cache_key] = ([m[c] for c in _TABLE_COLUMNS], out)
    return out.copy()


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


def _constants_map(study: Study) -> dict[str, tuple[float, int]]:
    return {normalize_phrase(c.name): (c.value, SOURCE_RANK.get(c.kind, SOURCE_RANK["data"])) for c in study.constants}


def leaf_phrases(study: Study) -> dict[str, tuple[str, ...]]:
    """For every phrase any equation uses, the measured/constant phrases it rests on."""
    derived = {normalize_phrase(d.name): d.equation for d in study.derived}
    memo: dict[str, tuple[str, ...]] = {}

    def leaves(p: str) -> tuple[str, ...]:
        if p in memo:
            return memo[p]
        if p in derived:
            out: list[str] = []
            for q in derived[p].phrases:
                out.extend(leaves(q))
            memo[p] = tuple(dict.fromkeys(out))
        else:
            memo[p] = (p,)
        return memo[p]

    for eq in _equations(study):
        for p in eq.phrases:
            leaves(p)
    return memo


def _equations(study: Study) -> Iterable[Equation]:
    for d in study.derived:
        yield d.equation
    if study.price is not None:
        yield study.price
    for e in study.elements:
        if e.equation is not None:
            yield e.equation


def _resolve_derived(study: Study, values: dict[str, np.ndarray], ranks: dict[str, np.ndarray],
                     given: frozenset[str] = frozenset()) -> dict[str, np.ndarray]:
    """Compute the derived quantities in place; return their reasons (see :attr:`Environment.reasons`)."""
    n_rows = len(next(iter(values.values()))) if values else 0
    reasons: dict[str, np.ndarray] = {}
    for d in study.derived:  # already in evaluation order
        n = normalize_phrase(d.name)
        v, own = d.equation.evaluate_with_reasons(values)
        computed = np.broadcast_to(_finite(v), (n_rows,))
        own = np.broadcast_to(own, (n_rows,))
        if own.any():
            own = np.where(own != "", own + f" (in [{d.name}])", "").astype(object)
        why = _with_inherited(d.equation, own, reasons, n_rows)
        rank = _weakest(d.equation, ranks, n_rows)
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


def _with_inherited(eq: Equation, own: np.ndarray, reasons: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """Why each row of ``eq`` has no finite value: a derived input's own problem first, else ``own``.

    A derived quantity that divided by zero is NaN where ``eq`` uses it, so
    ``eq`` itself sees only a NaN operand: its reason is inherited here.
    """
    inherited = [reasons[p] for p in eq.phrases if p in reasons]
    if not inherited:
        return np.broadcast_to(own, (n,))
    out = np.full(n, "", dtype=object)
    for why in inherited + [np.broadcast_to(own, (n,))]:
        take = (out == "") & (why != "")
        out[take] = why[take]
    return out


def _finite(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return np.where(np.isfinite(a), a, np.nan)


def _weakest(eq: Equation, ranks: Mapping[str, np.ndarray], n: int) -> np.ndarray:
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
    pos = pd.Index(ids)
    values: dict[str, np.ndarray] = {}
    ranks: dict[str, np.ndarray] = {}
    rows = pos.get_indexer(table["customer_id"])
    rank_codes = table["source"].map(SOURCE_RANK).to_numpy(float)
    for phrase, idx in table.groupby("phrase", sort=False).indices.items():
        v = np.full(n, np.nan)
        r = np.full(n, np.nan)
        v[rows[idx]] = table["value"].to_numpy(float)[idx]
        r[rows[idx]] = rank_codes[idx]
        values[phrase] = v
        ranks[phrase] = r
    for phrase, (value, rank) in _constants_map(study).items():
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
            hint = f"; did you mean [{_display_names(study).get(close[0], close[0])}]?" if close else ""
            raise CvmError(f"input column [{c}] is not a phrase any equation of the study uses{hint}")
        values[p] = pd.to_numeric(inputs[c], errors="coerce").to_numpy(float)
        ranks[p] = np.where(np.isnan(values[p]), np.nan, rank)
    given = frozenset(values)
    for phrase, (value, crank) in _constants_map(study).items():
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


# ---------------------------------------------------------------------------
# element values


def _element_arrays(study: Study, env: Environment
                    ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """element id -> (value, rank, status, reason) arrays, placeholders excluded.

    ``reason`` is ``""`` or why the row has no finite value although its inputs
    are present (a division by zero, an overflow; see :func:`_equation_values`).
    """
    n = len(env.ids)
    out = {}
    for e in study.elements:
        if not e.quantified:
            continue
        status = np.array([e.status_for(s) for s in env.subsegments], dtype=object) if e.status_by_subsegment \
            else np.full(n, e.status, dtype=object)
        if e.equation is not None:
            v, why = _equation_values(e.equation, env)
            r = _weakest(e.equation, env.ranks, n)
        else:
            v = np.full(n, np.nan)
            r = np.full(n, np.nan)
            why = np.full(n, "", dtype=object)
        parity = status == "parity"
        v = np.where(parity, 0.0, v)
        r = np.where(parity, np.nan, r)
        if parity.any() and why.any():
            why = np.where(parity, "", why).astype(object)
        out[e.id] = (v, r, status, why)
    return out


def _equation_values(eq: Equation, env: Environment) -> tuple[np.ndarray, np.ndarray]:
    """An equation over the environment's rows: (values, reasons), each of one entry per row.

    Any non-finite intermediate result makes the row's value NaN (never
    absorbed by ``min``/``max`` or a later division), and its reason names the
    sub-expression, e.g. ``"division by zero in [Call cost] / [Tonnes]"``.
    """
    n = len(env.ids)
    v, own = eq.evaluate_with_reasons(env.values)
    return _finite(np.broadcast_to(v, (n,))), _with_inherited(eq, own, env.reasons, n)


def _missing_text(study: Study, env: Environment, eq: Equation | None, leaves: Mapping[str, tuple[str, ...]],
                  display: Mapping[str, str]) -> np.ndarray:
    n = len(env.ids)
    text = np.full(n, "", dtype=object)
    if eq is None:
        return text
    needed = list(dict.fromkeys(q for p in eq.phrases for q in leaves.get(p, (p,))))
    for p in needed:
        miss = np.isnan(env.values.get(p, np.full(n, np.nan)))
        if miss.any():
            name = display.get(p, p)
            text[miss] = [t + ("; " if t else "") + name for t in text[miss]]
    return text


def _join_reasons(missing: np.ndarray, why: np.ndarray) -> np.ndarray:
    """Missing-input text followed by any non-finite reason, ``; ``-separated."""
    if not why.any():
        return missing
    both = (missing != "") & (why != "")
    return np.where(both, missing + "; " + why, np.where(why != "", why, missing)).astype(object)


def missing_text(missing_inputs: str) -> str:
    """A ``missing_inputs`` entry of :func:`element_values` as a sentence part.

    Examples
    --------
    >>> missing_text("Tonnes; division by zero in [Call cost] / [Tonnes]")
    'missing [Tonnes]; division by zero in [Call cost] / [Tonnes]'
    """
    parts = [p for p in str(missing_inputs).split("; ") if p]
    # a phrase never holds '[' (phrases are written in brackets); reasons quote [phrases]
    phrases = [p for p in parts if "[" not in p and not p.startswith("(")]
    others = [p for p in parts if p not in phrases]
    head = ["missing " + ", ".join(f"[{p}]" for p in phrases)] if phrases else []
    return "; ".join(head + others)


def _display_names(study: Study) -> dict[str, str]:
    d: dict[str, str] = {}
    for eq in _equations(study):
        for p, shown in zip(eq.phrases, eq.display_phrases):
            d.setdefault(p, shown)
    return d


def element_values(study: Study, env: Environment | None = None) -> pd.DataFrame:
    """Each quantified element's value for each customer.

    Parity elements are worth 0 (for the subsegments where they are parity);
    placeholders are never valued per customer (see :func:`~cvm_kit.estimates.value_summary`).

    Parameters
    ----------
    study : Study
    env : Environment, optional
        Inputs to evaluate on; default the studied customers' own.

    Returns
    -------
    DataFrame
        One row per customer and element: ``customer_id, subsegment,
        element_id, status, value, weakest_source, missing_inputs``.
        ``value`` is NaN when an input is missing, and ``missing_inputs``
        then names the phrases (``; ``-separated), followed by the reason
        when a step of the equation had no finite result with all inputs
        present, e.g. ``division by zero in [Call cost] / [Tonnes]`` or
        ``overflow in [a] * [b]`` (the value is then missing too, even if a
        later ``max(..., 0)`` would have hidden it). ``weakest_source`` is the
        least reliable source among the inputs used (data > estimate >
        perception > assumption); empty for parity.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> study = cvm.load_study(cvm.example_path())
    >>> v = cvm.element_values(study)
    >>> list(v.columns)[:6]
    ['customer_id', 'subsegment', 'element_id', 'status', 'value', 'weakest_source']
    """
    env = env if env is not None else environment(study)
    arrays = _element_arrays(study, env)
    n = len(env.ids)
    leaves = leaf_phrases(study)
    display = _display_names(study)
    names = np.asarray(SOURCES + ("",), dtype=object)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("element_id", "status", "value", "weakest_source", "missing_inputs")}
    ids = [e.id for e in study.elements if e.id in arrays]
    for eid in ids:
        e = study.element(eid)
        v, r, status, why = arrays[eid]
        missing = _join_reasons(_missing_text(study, env, e.equation, leaves, display), why)
        # inputs all present but no finite result: say so, never an unexplained blank
        missing = np.where(np.isnan(v) & (missing == ""), NOT_COMPUTABLE, missing)
        cols["missing_inputs"].append(np.where(status == "parity", "", missing))
        cols["weakest_source"].append(names[np.where(np.isnan(r), len(SOURCES), np.nan_to_num(r)).astype(int)])
        cols["value"].append(v)
        cols["status"].append(status)
    k = len(ids)
    # one frame from whole columns: far cheaper than concatenating a frame per element
    out = pd.DataFrame({
        "customer_id": np.tile(env.ids, k), "subsegment": np.tile(env.subsegments, k),
        "element_id": np.repeat(np.asarray(ids, dtype=object), n),
        "status": np.concatenate(cols["status"]) if k else np.array([], dtype=object),
        "value": np.concatenate(cols["value"]) if k else np.array([], dtype=float),
        "weakest_source": np.concatenate(cols["weakest_source"]) if k else np.array([], dtype=object),
        "missing_inputs": np.concatenate(cols["missing_inputs"]) if k else np.array([], dtype=object),
    })
    out["weakest_source"] = out["weakest_source"].replace("", pd.NA)
    return out


def price_difference(study: Study, env: Environment | None = None) -> pd.Series:
    """The price difference (offering minus alternative) per customer.

    Returns
    -------
    Series
        Indexed by customer id; 0 everywhere if the study has no price equation.
    """
    env = env if env is not None else environment(study)
    v, _ = _price_arrays(study, env)
    return pd.Series(v, index=pd.Index(env.ids, name="customer_id"), name="price_difference")


def _price_arrays(study: Study, env: Environment) -> tuple[np.ndarray, np.ndarray]:
    """(price difference, reason) per row; 0 and ``""`` without a price equation."""
    n = len(env.ids)
    if study.price is None:
        return np.zeros(n), np.full(n, "", dtype=object)
    return _equation_values(study.price, env)


def totals(study: Study, values: pd.DataFrame | None = None, env: Environment | None = None) -> pd.DataFrame:
    """Differential value, contention value, price difference and net value per customer.

    Differential value sums the difference and contention elements (a missing
    element makes it missing, never 0); net value = differential value - price
    difference. Placeholders are never summed.

    Returns
    -------
    DataFrame
        ``customer_id, subsegment, differential_value, contention_value,
        price_difference, net_value``.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> t = cvm.totals(cvm.load_study(cvm.example_path()))
    >>> gap = (t["differential_value"] - t["price_difference"] - t["net_value"]).abs().dropna()
    >>> bool((gap < 1e-6).all())
    True
    """
    env = env if env is not None else environment(study)
    values = values if values is not None else element_values(study, env)
    ids = pd.Index(env.ids, name="customer_id")
    if len(values):
        v = values.assign(diff=values["value"].where(values["status"].isin(QUANTIFIED), 0.0),
                          cont=values["value"].where(values["status"] == "contention", 0.0))
        wide_d = v.pivot(index="customer_id", columns="element_id", values="diff").reindex(ids)
        wide_c = v.pivot(index="customer_id", columns="element_id", values="cont").reindex(ids)
        diff = wide_d.sum(axis=1, skipna=False).to_numpy(float)
        cont = wide_c.sum(axis=1, skipna=False).to_numpy(float)
    else:
        diff = np.zeros(len(ids))
        cont = np.zeros(len(ids))
    price = price_difference(study, env).reindex(ids).to_numpy(float)
    return pd.DataFrame({
        "customer_id": env.ids, "subsegment": env.subsegments,
        "differential_value": diff, "contention_value": cont,
        "price_difference": price, "net_value": diff - price,
    })


def evaluate(study: Study, inputs: pd.DataFrame, subsegment: str | Iterable[str] | None = None) -> pd.DataFrame:
    """Value a table of what-if inputs (a prospect, a calculator, a sensitivity case).

    Parameters
    ----------
    inputs : DataFrame
        One row per case; columns are phrases (any case/spacing); constants
        fill any phrase not given. A ``subsegment`` column may name each
        case's subsegment (it decides per-subsegment parity).
    subsegment : str or sequence, optional
        The subsegment of every case (overrides the column).

    Returns
    -------
    DataFrame
        Indexed like ``inputs``: one column per quantified element, then
        ``differential_value, contention_value, price_difference, net_value``.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> study = cvm.load_study(cvm.example_path())
    >>> means = cvm.subsegment_input_means(study)
    >>> out = cvm.evaluate(study, means, subsegment=list(means.index))
    >>> "net_value" in out.columns
    True
    """
    env = what_if_environment(study, inputs, subsegment)
    arrays = _element_arrays(study, env)
    out = pd.DataFrame({k: v for k, (v, _, _, _) in arrays.items()}, index=inputs.index)
    diff = np.zeros(len(inputs))
    cont = np.zeros(len(inputs))
    for v, _, status, _ in arrays.values():
        diff = diff + np.where(np.isin(status, QUANTIFIED), v, 0.0)
        cont = cont + np.where(status == "contention", v, 0.0)
    out["differential_value"] = diff
    out["contention_value"] = cont
    out["price_difference"] = price_difference(study, env).to_numpy()
    out["net_value"] = diff - out["price_difference"].to_numpy()
    return out


def input_phrases(study: Study) -> list[str]:
    """Every measured/constant phrase the study's equations rest on (normalised), in order."""
    derived = {normalize_phrase(d.name) for d in study.derived}
    out: list[str] = []
    for leaves in leaf_phrases(study).values():
        out.extend(p for p in leaves if p not in derived)
    return list(dict.fromkeys(out))


def customer_phrases(study: Study) -> list[str]:
    """Input phrases customers are asked for: every leaf phrase that is not a constant."""
    consts = set(_constants_map(study))
    return [p for p in input_phrases(study) if p not in consts]


def subsegment_input_means(study: Study, env: Environment | None = None) -> pd.DataFrame:
    """Mean of every input phrase per subsegment (the calculator's pre-fill).

    Returns
    -------
    DataFrame
        Indexed by subsegment id, one column per input phrase (display form).
    """
    env = env if env is not None else environment(study)
    display = _display_names(study)
    data = {display.get(p, p): env.values[p] for p in input_phrases(study)}
    df = pd.DataFrame(data)
    df["subsegment"] = env.subsegments
    return df.groupby("subsegment", sort=False).mean().reindex(study.subsegment_ids)


def _phrase_users(study: Study) -> dict[str, list[str]]:
    """Leaf phrase -> the quantified elements (and ``price``) that rest on it."""
    leaves = leaf_phrases(study)
    users: dict[str, list[str]] = {}
    for e in study.elements:
        if e.equation is not None and e.quantified:
            for p in e.equation.phrases:
                for q in leaves.get(p, (p,)):
                    users.setdefault(q, []).append(e.id)
    if study.price is not None:
        for p in study.price.phrases:
            for q in leaves.get(p, (p,)):
                users.setdefault(q, []).append("price")
    return {k: list(dict.fromkeys(v)) for k, v in users.items()}


def _needed_for(study: Study, users: list[str], subsegment: str) -> list[str]:
    """The users of a phrase that need it for a customer of ``subsegment`` (parity needs nothing)."""
    out = []
    for u in users:
        if u == "price" or study.element(u).status_for(subsegment) in QUANTIFIED:
            out.append(u)
    return out


def input_coverage(study: Study) -> pd.DataFrame:
    """Which customer has which needed input on file.

    An input counts as needed for a customer when an element that is not a
    point of parity in the customer's subsegment (or the price) rests on it.

    Returns
    -------
    DataFrame
        ``customer_id, subsegment, phrase, present, needed_by`` for every
        customer x needed input phrase (constants excluded: they need no
        fieldwork unless a customer overrides them).
    """
    return _coverage(study, only_missing=False)


def _coverage(study: Study, *, only_missing: bool) -> pd.DataFrame:
    phrases = customer_phrases(study)
    display = _display_names(study)
    users = _phrase_users(study)
    table = measurement_table(study)
    cust_ids = study.customers["customer_id"].to_numpy(object)
    subs = study.customers["subsegment"].to_numpy(object)
    sub_codes = pd.Index(study.subsegment_ids).get_indexer(subs)
    # presence matrix customers x phrases from the aggregated table, no Python loop per row
    pidx = {p: j for j, p in enumerate(phrases)}
    rows = pd.Index(cust_ids).get_indexer(table["customer_id"])
    cols = table["phrase"].map(pidx).to_numpy(dtype=float, na_value=np.nan)
    ok = (rows >= 0) & ~np.isnan(cols)
    present = np.zeros((len(cust_ids), len(phrases)), dtype=bool)
    present[rows[ok], cols[ok].astype(int)] = True
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("customer_id", "subsegment", "phrase", "present", "needed_by")}
    for j, p in enumerate(phrases):
        need = np.array([", ".join(_needed_for(study, users.get(p, []), sid)) for sid in study.subsegment_ids] + [""],
                        dtype=object)
        needed_by = need[sub_codes]  # code -1 (unknown subsegment) picks the trailing ""
        keep = needed_by != ""
        if only_missing:
            keep &= ~present[:, j]
        parts["customer_id"].append(cust_ids[keep])
        parts["subsegment"].append(subs[keep])
        parts["phrase"].append(np.full(int(keep.sum()), display.get(p, p), dtype=object))
        parts["present"].append(present[keep, j])
        parts["needed_by"].append(needed_by[keep])
    if not phrases:
        return pd.DataFrame(columns=list(parts))
    return pd.DataFrame({k: pd.Series(np.concatenate(v), dtype=bool if k == "present" else object)
                         for k, v in parts.items()})


def missing_inputs(study: Study) -> pd.DataFrame:
    """The inputs still missing, with the elements (or price) waiting for them.

    Returns
    -------
    DataFrame
        ``customer_id, subsegment, phrase, needed_by``.
    """
    cov = _coverage(study, only_missing=True)
    return cov[["customer_id", "subsegment", "phrase", "needed_by"]].reset_index(drop=True)


def require_customer(study: Study, customer_id: str) -> None:
    """Raise a clear :class:`CvmError` if ``customer_id`` is not in the study."""
    if customer_id not in set(study.customers["customer_id"]):
        raise CvmError(f"customer {customer_id!r} is not in {study.path / 'customers.csv'}; "
                       f"known: {', '.join(map(str, study.customers['customer_id'][:20]))}")


# Public names for the helpers other stages (worksheets, calculators) build on.
display_names = _display_names
phrase_users = _phrase_users
needed_for = _needed_for
constants_map = _constants_map


# ---------------------------------------------------------------------------
# scenarios from the observed spread

SCENARIOS = ("conservative", "base", "optimistic")
DEFAULT_SCENARIO_PERCENTILES = (10.0, 50.0, 90.0)
SCENARIO_COLUMNS = ["phrase", "n", "p_low", "p_mid", "p_high", "direction", "conservative", "base", "optimistic"]


def scenario_percentiles(study: Study, percentiles: Iterable[float] | None = None) -> tuple[float, float, float]:
    """The (low, mid, high) percentiles the scenarios use.

    In this order: ``percentiles`` if given; the study's option
    ``scenario_percentiles`` (``options: {scenario_percentiles: [10, 50, 90]}``
    in project.yaml) where the study model exposes its options; else
    10, 50 and 90.

    Raises
    ------
    CvmError
        Unless three finite numbers with 0 <= low < mid < high <= 100.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> scenario_percentiles(cvm.load_study(cvm.example_path()), [5, 50, 95])
    (5.0, 50.0, 95.0)
    """
    where = "scenario percentiles"
    if percentiles is None:
        options = getattr(study, "options", None)
        if isinstance(options, Mapping) and options.get("scenario_percentiles") is not None:
            percentiles = options["scenario_percentiles"]
            where = f"{study.path / 'project.yaml'}: options.scenario_percentiles"
        else:
            return DEFAULT_SCENARIO_PERCENTILES
    try:
        vals = tuple(float(x) for x in percentiles)
    except (TypeError, ValueError):
        raise CvmError(f"{where}: expected three numbers (low, mid, high), e.g. 10, 50, 90; "
                       f"got {str(percentiles)[:60]!r}") from None
    if len(vals) != 3 or not all(np.isfinite(vals)) or not (0 <= vals[0] < vals[1] < vals[2] <= 100):
        raise CvmError(f"{where}: expected three increasing percentiles between 0 and 100 "
                       f"(low, mid, high), e.g. 10, 50, 90; got {', '.join(f'{v:g}' for v in vals)}")
    return vals  # type: ignore[return-value]


#: Fewest customers with a value for an input's percentiles to be given: with one, a
#: "percentile" is that customer's own figure; with two, the low and high percentiles give
#: both figures back exactly.
MIN_SCENARIO_CUSTOMERS = 3


def input_scenarios(study: Study, subsegment: str, percentiles: Iterable[float] | None = None,
                    env: Environment | None = None, *, min_customers: int = MIN_SCENARIO_CUSTOMERS
                    ) -> pd.DataFrame:
    """Conservative, base and optimistic values of every input, from a subsegment's observed spread.

    For each input phrase, the low, mid and high percentiles (default 10th,
    50th, 90th; :func:`scenario_percentiles`; numpy's linear interpolation)
    of the subsegment's customers' resolved values (a customer's own
    measurement, else the constant). Only these subsegment statistics are
    returned, never a customer's row.

    Orientation: an input whose high percentile gives a higher net value
    than its low percentile (every other input at its mid percentile,
    counting only the elements and price resting on it) has conservative =
    low percentile and optimistic = high; one that lowers net value (a cost,
    the offering's price) the reverse. Where the effect is 0 or cannot be
    computed (an input of the same element has no value in the subsegment),
    conservative is the low percentile and ``direction`` is 0.

    Parameters
    ----------
    study : Study
    subsegment : str
    percentiles : three numbers, optional
        Overrides the study option.
    env : Environment, optional
        The studied customers' inputs (computed if omitted).
    min_customers : int
        Fewest customers with a value for the percentiles to be given
        (default :data:`MIN_SCENARIO_CUSTOMERS`); below it they are NaN, so
        no single customer's figure passes for a subsegment statistic.

    Returns
    -------
    DataFrame
        ``phrase, n, p_low, p_mid, p_high, direction, conservative, base,
        optimistic``: one row per input phrase (display form, order of
        :func:`input_phrases`); ``n`` counts the subsegment's customers with
        a value; ``direction`` is +1 (higher raises net value), -1 or 0;
        NaN percentiles where fewer than ``min_customers`` have a value.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> study = cvm.load_study(cvm.example_path())
    >>> s = input_scenarios(study, study.subsegment_ids[0])
    >>> bool((s["base"] == s["p_mid"]).all())
    True
    """
    study.subsegment(subsegment)  # KeyError naming the known ids
    low, mid, high = scenario_percentiles(study, percentiles)
    env = env if env is not None else environment(study)
    display = _display_names(study)
    phrases = input_phrases(study)
    in_sub = env.subsegments == subsegment
    rows = []
    for p in phrases:
        x = env.values[p][in_sub] if p in env.values else np.array([])
        x = x[~np.isnan(x)]
        q = np.percentile(x, [low, mid, high]) if x.size >= max(min_customers, 1) else np.full(3, np.nan)
        rows.append((display.get(p, p), int(x.size), *map(float, q)))
    out = pd.DataFrame(rows, columns=["phrase", "n", "p_low", "p_mid", "p_high"])
    out["direction"] = _directions(study, subsegment, phrases, out)
    up = out["direction"].to_numpy() >= 0
    out["conservative"] = np.where(up, out["p_low"], out["p_high"])
    out["base"] = out["p_mid"]
    out["optimistic"] = np.where(up, out["p_high"], out["p_low"])
    return out[SCENARIO_COLUMNS]


def _directions(study: Study, subsegment: str, phrases: list[str], pct: pd.DataFrame) -> np.ndarray:
    """+1/-1/0: the sign of net value(high percentile) - net value(low), one input at a time."""
    k = len(phrases)
    if not k:
        return np.zeros(0, dtype=int)
    names = pct["phrase"].tolist()
    base = pct["p_mid"].to_numpy(float)
    cases = np.tile(base, (2 * k, 1))
    for j in range(k):  # row 2j: input j at its low percentile, row 2j+1: at its high one
        cases[2 * j, j] = pct["p_low"].iat[j]
        cases[2 * j + 1, j] = pct["p_high"].iat[j]
    frame = pd.DataFrame(cases, columns=names)
    env = what_if_environment(study, frame, subsegment)
    arrays = _element_arrays(study, env)
    price, _ = _price_arrays(study, env)
    users = _phrase_users(study)
    out = np.zeros(k, dtype=int)
    for j, p in enumerate(phrases):
        effect = 0.0
        for u in _needed_for(study, users.get(p, []), subsegment):
            v = price if u == "price" else arrays[u][0]
            effect += (v[2 * j + 1] - v[2 * j]) * (-1.0 if u == "price" else 1.0)
        if np.isfinite(effect) and effect != 0:
            out[j] = 1 if effect > 0 else -1
    return out
