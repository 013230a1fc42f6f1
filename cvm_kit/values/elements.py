"""Element values per customer, the price difference, the totals and what-if evaluation.

Each word equation was compiled once when the study loaded; here it is
evaluated vectorised over all customers at once (one numpy operation per
node of the equation), never in a Python loop per customer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from ..equations import Equation
from ..study import SOURCES, Study
from ..study.factors import from_codes, remember
from .inputs import Environment, environment, finite_or_nan, inherit_reasons, weakest_rank, what_if_environment
from .phrases import QUANTIFIED, display_names, leaf_phrases

__all__ = ["NOT_COMPUTABLE", "TOTAL_COLUMNS", "element_arrays", "element_values", "evaluate", "missing_text",
           "price_arrays", "price_difference", "totals"]

NOT_COMPUTABLE = "(no finite result)"  # fallback only: reasons name the step


TOTAL_COLUMNS = ["differential_value", "contention_value", "price_difference", "net_value"]


def element_arrays(study: Study, env: Environment
                    ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """element id -> (value, rank, status, reason) arrays, placeholders excluded.

    ``reason`` is ``""`` or why the row has no finite value although its inputs
    are present (a division by zero, an overflow; see :func:`_equation_values`).

    Parameters
    ----------
    study : Study
    env : Environment
        The rows to value (:func:`~cvm_kit.values.environment` or
        :func:`~cvm_kit.values.what_if_environment`).

    Returns
    -------
    dict
        Element id -> ``(value, rank, status, reason)``, each an array of one
        entry per row of ``env``; parity rows are worth 0.
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
            r = weakest_rank(e.equation, env.ranks, n)
        else:
            v = np.full(n, np.nan)
            r = np.full(n, np.nan)
            why = np.full(n, "", dtype=object)
        parity = status == "parity"
        # a placeholder in some subsegments: listed there, never valued (nor summed)
        unvalued = parity | (status == "placeholder")
        v = np.where(parity, 0.0, np.where(unvalued, np.nan, v))
        r = np.where(unvalued, np.nan, r)
        if unvalued.any() and why.any():
            why = np.where(unvalued, "", why).astype(object)
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
    return finite_or_nan(np.broadcast_to(v, (n,))), inherit_reasons(eq, own, env.reasons, n)


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
    arrays = element_arrays(study, env)
    n = len(env.ids)
    leaves = leaf_phrases(study)
    display = display_names(study)
    names = np.asarray(SOURCES + ("",), dtype=object)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("element_id", "status", "value", "weakest_source",
                                                         "missing_inputs")}
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
    # the key columns with their factorizations (summaries group on them next: no hashing of 200,000 rows)
    cust_codes, cust_uniques = pd.factorize(env.ids, use_na_sentinel=False)
    sub_codes, sub_uniques = pd.factorize(env.subsegments, use_na_sentinel=False)
    out = pd.DataFrame({
        "customer_id": remember(pd.Series(np.tile(env.ids, k), dtype=object), np.tile(cust_codes, k), cust_uniques),
        "subsegment": remember(pd.Series(np.tile(env.subsegments, k), dtype=object), np.tile(sub_codes, k),
                               sub_uniques),
        "element_id": from_codes(np.repeat(np.arange(k), n), np.asarray(ids, dtype=object)),
        "status": np.concatenate(cols["status"]) if k else np.array([], dtype=object),
        "value": np.concatenate(cols["value"]) if k else np.array([], dtype=float),
        "weakest_source": np.concatenate(cols["weakest_source"]) if k else np.array([], dtype=object),
        "missing_inputs": np.concatenate(cols["missing_inputs"]) if k else np.array([], dtype=object),
    }, copy=False)
    out["weakest_source"] = out["weakest_source"].replace("", pd.NA)
    held = out["status"].to_numpy() == "placeholder"
    if held.any():  # an element that is a placeholder for some subsegments has no rows for their customers
        out = out.loc[~held].reset_index(drop=True)
    return out


def price_difference(study: Study, env: Environment | None = None) -> pd.Series:
    """The price difference (offering minus alternative) per customer.

    Returns
    -------
    Series
        Indexed by customer id; 0 everywhere if the study has no price equation.
    """
    env = env if env is not None else environment(study)
    v, _ = price_arrays(study, env)
    return pd.Series(v, index=pd.Index(env.ids, name="customer_id"), name="price_difference")


def price_arrays(study: Study, env: Environment) -> tuple[np.ndarray, np.ndarray]:
    """(price difference, reason) per row; 0 and ``""`` without a price equation.

    Parameters
    ----------
    study : Study
    env : Environment

    Returns
    -------
    tuple of numpy.ndarray
        The price difference and why a row has none (``""`` if it has one).
    """
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
        if any(e.quantified and "placeholder" in (e.status, *e.status_by_subsegment.values()) for e in study.elements):
            # no row where the element is a placeholder: it adds nothing there (a missing value stays missing)
            has = v.assign(one=1.0).pivot(index="customer_id", columns="element_id", values="one").reindex(ids)
            wide_d, wide_c = wide_d.where(has.notna(), 0.0), wide_c.where(has.notna(), 0.0)
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
    arrays = element_arrays(study, env)
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
