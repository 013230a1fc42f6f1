"""Human column labels for the tables a reader sees: "Mean (EUR/year)", "95% interval low", element names.

The analysis functions return tidy tables with snake_case columns and
element ids; a page shows the reader's words instead. :func:`human_labels`
renames the columns (the unit goes into the money columns' headers), puts
element names where the ids were, drops the columns that repeat another
(``factor`` beside ``label``, ``element_id`` beside ``name``), and records
how each column is formatted, which :func:`table_formats` hands to
``report.display_table``.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from ..study import Study

# money columns: "{unit}" is the study's currency per period
_MONEY = {
    "value": "Value", "mean": "Mean", "sd": "Standard deviation", "se": "Standard error",
    "ci_low": "95% interval low", "ci_high": "95% interval high", "min": "Lowest", "max": "Highest",
    "subsegment_mean": "Subsegment mean", "segment_mean": "Segment mean",
    "vs_subsegment": "Against the subsegment mean", "vs_segment": "Against the segment mean",
    "perceived_low": "Perceived low", "perceived_high": "Perceived high",
    "differential_value": "Differential value", "contention_value": "Of which contention",
    "price_difference": "Price difference", "net_value": "Net value",
    "mean_a": "Mean, first", "mean_b": "Mean, second", "difference": "Difference of means",
    "low_value": "Value at the low input", "base_value": "Base case", "high_value": "Value at the high input",
    "swing": "Swing", "mean_value": "Customers' mean", "margin": "Parity margin",
    "pooled_mean": "Pooled mean", "shrunk_mean": "Shrunk mean", "pulled_by": "Pulled by",
    "predicted_net_value": "Predicted net value", "pi_low": "95% prediction low", "pi_high": "95% prediction high",
    "promised": "Promised", "promised_low": "Promised low", "promised_high": "Promised high",
    "realized": "Realized", "gap": "Gap (realized − promised)", "max_premium": "Largest safe premium",
    "differential_mean": "Differential value, mean", "net_mean": "Net value, mean",
    "net_p5": "Net value, 5th percentile", "net_p50": "Net value, median", "net_p95": "Net value, 95th percentile",
    "differential_p5": "Differential value, 5th percentile", "differential_p50": "Differential value, median",
    "differential_p95": "Differential value, 95th percentile",
    "total_promised": "Promised, total", "total_realized": "Realized, total", "total_gap": "Gap, total",
    "total_estimate_for_period": "Study's estimate for the periods", "cum_promised": "Promised, running total",
    "cum_realized": "Realized, running total", "estimate": "Study's estimate",
    "estimate_for_period": "Study's estimate for the period",
}
_PERCENT = {
    "share_from_data": "Share on measured data", "p_net_positive": "Chance net value > 0",
    "premium_prob": "Chance kept by the premium", "share_on_file": "Share on file", "share": "Share",
    "assurance": "Assurance", "rate": "Rate", "share_explained": "Share explained",
    "current_share": "Explained by the subsegments", "gain": "Gain", "share_at_or_above": "Share at or above promise",
}
_DECIMALS = {
    "p_value": ("p-value", 3), "p_permutation": ("p-value (permutation)", 3), "p_holm": ("p-value (Holm)", 3),
    "p_equivalence": ("p-value (equivalence)", 3), "p_difference": ("p-value (difference)", 3),
    "hedges_g": ("Hedges' g", 2), "statistic": ("Test statistic", 2), "df": ("Degrees of freedom", 1),
    "draws": ("Draws", 0),
    "r_squared": ("R²", 2), "adj_r_squared": ("Adjusted R²", 2), "f_statistic": ("F statistic", 2),
    "S1": ("First-order index S1", 3), "S1_conf": ("S1 ± (95%)", 3), "ST": ("Total-order index ST", 3),
    "ST_conf": ("ST ± (95%)", 3), "weight": ("Weight on own mean", 2), "realization_rate": ("Realization rate", 2),
    "overall_rate": ("Realized ÷ promised", 2), "mean_rate": ("Mean realization rate", 2),
    "median_rate": ("Median realization rate", 2), "realized_vs_estimate": ("Realized ÷ study's estimate", 2),
    "cum_rate": ("Running realization rate", 2),
    "low_input": ("Low input", 2), "base_input": ("Base input", 2), "high_input": ("High input", 2),
}
_TEXT = {
    "element_id": "Element", "name": "Element", "element": "Element", "label": "Factor", "factor": "Factor",
    "subsegment": "Subsegment", "customer_id": "Customer", "status": "Status", "category": "Category",
    "n": "Customers (n)", "n_a": "n, first", "n_b": "n, second", "subsegment_a": "First subsegment",
    "subsegment_b": "Second subsegment", "finding": "Finding", "kind": "Kind", "verdict": "Verdict",
    "hypothesis": "Hypothesis", "weakest_source": "Weakest source", "missing_inputs": "Inputs not yet on file",
    "missing": "Not yet on file", "needed": "Inputs needed", "on_file": "On file",
    "characteristic": "Characteristic", "quantity": "Quantity", "note": "Note", "unit": "Unit",
    "range_rule": "Low/high rule", "test": "Test", "permutation": "Permutation", "source": "Source",
    "phrase": "Input", "needed_by": "Needed by", "with": "Ask", "next_step": "Next step", "next_date": "Next date",
    "assumption": "Assumption", "subject": "Subject", "period_start": "From", "period_end": "To",
    "vs_promise": "Against the promise", "n_customers": "Customers", "n_rows": "Rows",
    "met": "Met the promise", "last_step": "Last step", "last_date": "Last date", "overdue": "Overdue",
    "data_received": "Data received", "inputs_complete": "Inputs complete", "n_now": "Customers now",
    "n_needed": "Customers needed", "more_needed": "More needed", "group_a": "First group",
    "group_b": "Second group", "share_explained": "Share explained", "method": "Method", "rank": "Rank", "levels": "Levels",
}
# a column that only repeats another one the table keeps: (dropped, kept)
_DUPLICATES = (("element_id", "name"), ("element_id", "element"), ("factor", "label"))


def unit(study: Study) -> str:
    """The money unit of a study's figures, e.g. ``EUR/year`` (the currency alone without a period)."""
    cur, per = (study.currency or "").strip(), (study.period or "").strip()
    return f"{cur}/{per}" if cur and per else cur or per


def element_names(study: Study) -> dict[str, str]:
    """Element id -> name, plus the totals' names (``net_value`` -> ``Net value``)."""
    names = {e.id: (e.name or e.id) for e in study.elements}
    for q in ("differential_value", "contention_value", "price_difference", "net_value"):
        names.setdefault(q, _MONEY[q])
    return names


def _sentence(col: str) -> str:
    text = re.sub(r"_+", " ", str(col)).strip()
    return text[:1].upper() + text[1:] if text else str(col)


def human_labels(df: pd.DataFrame, study: Study, *, money_unit: str | None = None,
                 as_percent: tuple[str, ...] = ()) -> pd.DataFrame:
    """A copy of ``df`` for a reader: human column labels, element names for ids, no repeated columns.

    Parameters
    ----------
    df : DataFrame
        Any tidy table of cvm_kit (only the columns the reader needs).
    study : Study
        Gives the unit (``EUR/year``), the element names and the subsegment ids.
    money_unit : str, optional
        The unit of the money columns when it is not the study's per-period
        one (e.g. the currency alone for documented periods).
    as_percent : tuple of str
        Columns that are shares here although their name is usually money
        (``ci_low``/``ci_high`` of a rate).

    Returns
    -------
    DataFrame
        Columns renamed (money columns carry the unit: ``Mean (EUR/year)``;
        ``mean_<subsegment>`` becomes ``Mean, <subsegment> (EUR/year)``;
        unknown snake_case columns become words); ``element_id`` values
        replaced by the element names (or dropped when ``name`` or
        ``element`` is there too), ``factor`` dropped beside ``label``.
        ``attrs["formats"]`` holds the ``money``, ``percent`` and
        ``decimals`` keyword arguments of ``report.display_table`` for the
        new labels (see :func:`table_formats`).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> s = cvm.load_study(cvm.example_path())
    >>> t = human_labels(cvm.summarize(s)[["element_id", "subsegment", "n", "mean", "ci_low"]], s)
    >>> list(t.columns)
    ['Element', 'Subsegment', 'Customers (n)', 'Mean (EUR/year)', '95% interval low (EUR/year)']
    """
    u = unit(study) if money_unit is None else money_unit
    out = df.copy()
    for dropped, kept in _DUPLICATES:
        if dropped in out.columns and kept in out.columns:
            out = out.drop(columns=[dropped])
    if "element_id" in out.columns:
        names = element_names(study)
        out["element_id"] = [names.get(x, x) if isinstance(x, str) else x for x in out["element_id"]]
    subs = set(study.subsegment_ids)
    rename: dict[Any, str] = {}
    kind: dict[Any, Any] = {}  # column -> "money", "percent", or decimals (int)

    def money_label(text: str) -> str:
        return f"{text} ({u})" if u else text

    for c in out.columns:
        key = str(c)
        m = re.fullmatch(r"(mean|status)_(.+)", key)
        if key in as_percent:
            rename[c], kind[c] = _PERCENT.get(key) or _MONEY.get(key) or _sentence(key), "percent"
        elif key in _MONEY:
            rename[c], kind[c] = money_label(_MONEY[key]), "money"
        elif key in _PERCENT:
            rename[c], kind[c] = _PERCENT[key], "percent"
        elif key in _DECIMALS:
            rename[c], kind[c] = _DECIMALS[key]
        elif key in _TEXT:
            rename[c] = _TEXT[key]
        elif m and m.group(2) in subs and m.group(1) == "mean":
            rename[c], kind[c] = money_label(f"Mean, {m.group(2)}"), "money"
        elif m and m.group(2) in subs:
            rename[c] = f"Status, {m.group(2)}"
        else:
            rename[c] = _sentence(key)
    # two columns must never end up with one label
    seen: dict[str, int] = {}
    for c in out.columns:
        seen[rename[c]] = seen.get(rename[c], 0) + 1
        if seen[rename[c]] > 1:
            rename[c] = f"{rename[c]} ({seen[rename[c]]})"
    money = [rename[c] for c in out.columns if kind.get(c) == "money"]
    pct_cols = [rename[c] for c in out.columns if kind.get(c) == "percent"]
    decimals = {rename[c]: k for c, k in kind.items() if isinstance(k, int)}
    out = out.rename(columns=rename)
    out.attrs["formats"] = {"money": money, "percent": pct_cols, "decimals": decimals}
    return out


def table_formats(df: pd.DataFrame) -> dict[str, Any]:
    """The ``money``/``percent``/``decimals`` keywords of ``report.display_table`` for a :func:`human_labels` table.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> s = cvm.load_study(cvm.example_path())
    >>> table_formats(human_labels(cvm.summarize(s)[["mean", "share_from_data"]], s))["percent"]
    ['Share on measured data']
    """
    f = df.attrs.get("formats") or {}
    return {"money": list(f.get("money", [])), "percent": list(f.get("percent", [])),
            "decimals": dict(f.get("decimals", {}))}
