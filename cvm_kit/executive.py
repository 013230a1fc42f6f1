"""The executive summary: what the offering is worth per subsegment, and what premium it supports.

Management reads one page first. It answers the charter's business issue
per subsegment from the study's own statistics: the net value to a
customer (mean, 95% interval, n), the differential value and the price
difference it nets, the chance that net value is positive, the largest
premium that keeps that chance at 80% or more, the three largest elements,
the placeholders, how much of the value rests on measured data and how
many customers the figures rest on against the method's six to eight.
Nothing is typed by hand: every sentence is generated from the numbers.

Functions here compute tidy tables; :mod:`cvm_kit.reporting_html` (or a
notebook) renders them, and :func:`value_waterfall` feeds
:func:`cvm_kit.plotting.waterfall.plot_value_waterfall`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .estimates import summarize, summarize_totals
from .study import ALL, Study
from .values import element_values
from .values import totals as _totals

METHOD_MIN, METHOD_MAX = 6, 8  # customers per subsegment the method asks for
TOP_K = 3

SUMMARY_COLUMNS = ["subsegment", "description", "next_best_alternative", "n", "n_studied", "net_mean", "net_ci_low",
                   "net_ci_high", "differential_mean", "price_difference_mean", "p_net_positive", "premium_prob",
                   "max_premium", "top_elements", "share_from_data", "inputs_measured", "customers_vs_method",
                   "finding"]


def _fmt(x: float) -> str:
    from .variance import fmt_money

    return fmt_money(x)


def _valued_share(sub: pd.DataFrame) -> float:
    """Share of the (absolute) element value resting on data-only inputs, weighting each element by |mean|."""
    w = sub["mean"].abs().to_numpy(float)
    s = sub["share_from_data"].to_numpy(float)
    ok = np.isfinite(w) & np.isfinite(s) & (w > 0)
    if not ok.any():
        return float("nan")
    return float((w[ok] * s[ok]).sum() / w[ok].sum())


def _inputs_measured(study: Study, subsegment: str) -> float:
    """Share of a subsegment's customer figures (measurement rows) whose source is ``data``."""
    ids = study.customers.loc[study.customers["subsegment"] == subsegment, "customer_id"]
    m = study.measurements[study.measurements["customer_id"].isin(ids)]
    return float((m["source"] == "data").mean()) if len(m) else float("nan")


def top_elements(study: Study, summary: pd.DataFrame | None = None, *, k: int = TOP_K) -> pd.DataFrame:
    """The ``k`` elements with the largest mean value (by size, sign kept) in each subsegment.

    Parameters
    ----------
    study : Study
    summary : DataFrame, optional
        :func:`~cvm_kit.estimates.summarize` (computed if omitted).
    k : int
        How many per subsegment.

    Returns
    -------
    DataFrame
        ``subsegment, rank, element_id, name, status, mean, n`` (points of
        parity and elements nobody has a value for are left out).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.executive import top_elements
    >>> t = top_elements(cvm.load_study(cvm.example_path()))
    >>> int(t.groupby("subsegment").size().max()) <= 3
    True
    """
    summary = summary if summary is not None else summarize(study)
    names = {e.id: e.name for e in study.elements}
    rows = []
    for sid in study.subsegment_ids:
        sub = summary[(summary["subsegment"] == sid) & summary["status"].isin(["difference", "contention"])
                      & summary["mean"].notna()]
        sub = sub.assign(size=sub["mean"].abs()).sort_values("size", ascending=False, kind="stable").head(k)
        for rank, r in enumerate(sub.itertuples(index=False), start=1):
            rows.append({"subsegment": sid, "rank": rank, "element_id": r.element_id, "name": names[r.element_id],
                         "status": r.status, "mean": float(r.mean), "n": int(r.n)})
    return pd.DataFrame(rows, columns=["subsegment", "rank", "element_id", "name", "status", "mean", "n"])


def _customers_text(n: int, studied: int | None = None) -> str:
    studied = n if studied is None else studied
    if studied < METHOD_MIN:
        text = f"{studied} customers: fewer than the {METHOD_MIN} to {METHOD_MAX} the method asks for"
    elif studied <= METHOD_MAX:
        text = f"{studied} customers: within the method's {METHOD_MIN} to {METHOD_MAX}"
    else:
        text = f"{studied} customers: more than the method's {METHOD_MIN} to {METHOD_MAX}"
    if n < studied:  # the totals rest on fewer customers than were studied: say so, never hide it
        text += f"; {n} with every input for a net value"
    return text


def _finding(study: Study, row: dict, top: pd.DataFrame) -> str:
    """One plain-language paragraph per subsegment, generated from the figures."""
    unit = f"{study.currency} per {study.period}".strip()
    sid, n = row["subsegment"], row["n"]
    if n == 0 or not np.isfinite(row["net_mean"]):
        return f"No customer of {sid} has a complete net value yet: nothing can be concluded for this subsegment."
    net, lo, hi = row["net_mean"], row["net_ci_low"], row["net_ci_high"]
    worth = (f"For a typical {sid} customer, {study.offering or 'the offering'} is worth "
             f"{_fmt(row['differential_mean'])} {unit} more than the next-best alternative"
             if row["differential_mean"] >= 0 else
             f"For a typical {sid} customer, {study.offering or 'the offering'} is worth "
             f"{_fmt(-row['differential_mean'])} {unit} less than the next-best alternative")
    price = row["price_difference_mean"]
    if np.isfinite(price) and price != 0:
        worth += (f"; net of a price {'premium' if price > 0 else 'saving'} of {_fmt(abs(price))}, "
                  f"the customer {'gains' if net >= 0 else 'loses'} {_fmt(abs(net))} on average")
    studied = int(row.get("n_studied", n))
    basis = f"n = {n}" if n >= studied else f"n = {n} of the {studied} customers studied: those with every input"
    if np.isfinite(lo) and np.isfinite(hi):
        worth += f" (95% interval {_fmt(lo)} to {_fmt(hi)}, {basis})"
    elif n < studied:
        worth += f" ({basis})"
    text = worth + "."
    p = row["p_net_positive"]
    if np.isfinite(p):
        text += f" Net value is positive for {p:.0%} of simulated customers"
        if np.isfinite(row["max_premium"]):
            text += (f"; a further premium of up to {_fmt(row['max_premium'])} {unit} keeps that chance at "
                     f"{row['premium_prob']:.0%} or more.")
        else:
            text += (f"; no further premium keeps that chance at {row['premium_prob']:.0%}: the price would have to "
                     f"fall first.")
    mine = top[top["subsegment"] == sid]
    if len(mine):
        text += " The value rests most on " + ", ".join(
            f"{r.name} ({_fmt(r.mean)}{', disputed by the customer' if r.status == 'contention' else ''})"
            for r in mine.itertuples(index=False)) + "."
    if np.isfinite(row["share_from_data"]):
        text += f" {row['share_from_data']:.0%} of it rests on measured data alone"
        if np.isfinite(row["inputs_measured"]):
            text += f"; {row['inputs_measured']:.0%} of the customer figures behind it are measured"
        text += "."
    text += (" Small samples: read as indicative." if n < 30 else "")
    return text


def executive_summary(study: Study, *, values: pd.DataFrame | None = None, totals: pd.DataFrame | None = None,
                      draws: int = 20_000, seed: int = 0, prob: float = 0.8) -> pd.DataFrame:
    """Per subsegment: net value, its interval and n, P(net > 0), the largest safe premium, and a finding.

    P(net > 0) and the largest premium come from
    :func:`~cvm_kit.sensitivity.simulate` (``bootstrap`` method, seeded):
    the premium is the largest extra price per customer and period that keeps
    the share of draws with positive net value at or above ``prob``.

    Parameters
    ----------
    study : Study
    values, totals : DataFrame, optional
        :func:`~cvm_kit.values.element_values` and :func:`~cvm_kit.values.totals`.
    draws, seed : int
        Monte Carlo draws per subsegment and the seed.
    prob : float
        The chance of positive net value the premium must keep (default 80%).

    Returns
    -------
    DataFrame
        One row per subsegment: ``subsegment, description,
        next_best_alternative, n, n_studied, net_mean, net_ci_low,
        net_ci_high, differential_mean, price_difference_mean,
        p_net_positive, premium_prob, max_premium, top_elements,
        share_from_data, inputs_measured, customers_vs_method, finding``.
        ``n`` counts customers with a net value (every input), ``n_studied``
        the subsegment's customers; ``differential_mean`` and
        ``price_difference_mean`` are means over the same ``n`` customers
        as ``net_mean``, so they net to it exactly (over each total's own
        customers when no customer has a net value); ``top_elements`` names the three largest elements
        (means over the same customers as ``net_mean``, as are the chance and the premium;
        ``attrs["top"]``: their table);
        ``share_from_data`` weights each element's share of data-only
        customers by its mean's size. ``attrs["placeholders"]`` lists the
        placeholders (name, perceived range), never summed.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.executive import executive_summary
    >>> ex = executive_summary(cvm.load_study(cvm.example_path()), draws=2000)
    >>> list(ex["subsegment"])
    ['high_volume', 'low_volume']
    """
    from .sensitivity import max_premium_at, simulate

    values = values if values is not None else element_values(study)
    totals = totals if totals is not None else _totals(study, values)
    ts = summarize_totals(study, totals).set_index(["quantity", "subsegment"])
    # the card's elements, chance and premium rest on the customers its net value rests on (a subsegment
    # without any such customer keeps all of its customers: its card then says nothing can be concluded)
    complete_subs = set(totals.loc[totals["net_value"].notna(), "subsegment"])
    basis = totals.loc[totals["net_value"].notna() | ~totals["subsegment"].isin(complete_subs), "customer_id"]
    if len(basis) < len(totals):
        values = values[values["customer_id"].isin(set(basis))]
        totals = totals[totals["customer_id"].isin(set(basis))]
    summary = summarize(study, values)
    top = top_elements(study, summary)
    try:
        d = simulate(study, draws=draws, seed=seed, values=values, totals=totals)
    except Exception:  # noqa: BLE001 - nothing to simulate (no complete customer): figures stay NaN
        d = pd.DataFrame(columns=["subsegment", "net_value"])
    prem = max_premium_at(d, prob).set_index("subsegment") if len(d) else pd.DataFrame()
    complete = totals[totals["net_value"].notna()]
    rows = []
    for sub in study.subsegments:
        sid = sub.id

        def stat(q: str, col: str, sid: str = sid) -> float:
            return float(ts.loc[(q, sid), col]) if (q, sid) in ts.index else float("nan")

        n = int(stat("net_value", "n")) if np.isfinite(stat("net_value", "n")) else 0
        studied = int((study.customers["subsegment"] == sid).sum())
        diff_mean, price_mean = stat("differential_value", "mean"), stat("price_difference", "mean")
        if n:  # the net value's own customers, so differential - price = net on the card and in the finding
            mine = complete[complete["subsegment"] == sid]
            diff_mean = float(mine["differential_value"].mean())
            price_mean = float(mine["price_difference"].mean())
        g = d.loc[d["subsegment"] == sid, "net_value"].to_numpy(float) if len(d) else np.array([])
        g = g[np.isfinite(g)]
        row = {
            "subsegment": sid, "description": sub.description, "next_best_alternative": study.alternative_for(sid),
            "n": n, "n_studied": studied, "net_mean": stat("net_value", "mean"),
            "net_ci_low": stat("net_value", "ci_low"), "net_ci_high": stat("net_value", "ci_high"),
            "differential_mean": diff_mean, "price_difference_mean": price_mean,
            "p_net_positive": float((g > 0).mean()) if g.size else float("nan"), "premium_prob": prob,
            "max_premium": float(prem.loc[sid, "max_premium"]) if sid in prem.index else float("nan"),
            "top_elements": "; ".join(top.loc[top["subsegment"] == sid, "name"]),
            "share_from_data": _valued_share(summary[(summary["subsegment"] == sid)
                                                     & summary["status"].isin(["difference", "contention"])]),
            "inputs_measured": _inputs_measured(study, sid),
            "customers_vs_method": _customers_text(n, studied),
        }
        row["finding"] = _finding(study, row, top)
        rows.append(row)
    out = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    out.attrs["placeholders"] = [
        {"name": e.name, "perceived_low": e.perceived_range[0] if e.perceived_range else math.nan,
         "perceived_high": e.perceived_range[1] if e.perceived_range else math.nan}
        for e in study.elements if e.status == "placeholder"]
    out.attrs["business_issue"] = study.charter.business_issue if study.charter is not None else ""
    out.attrs["top"] = top  # the largest elements, over the same customers as the card
    out.attrs["unit"] = f"{study.currency} per {study.period}".strip()
    return out


def value_waterfall(study: Study, subsegment: str, *, values: pd.DataFrame | None = None,
                    totals: pd.DataFrame | None = None) -> pd.DataFrame:
    """The customer value model of one subsegment as waterfall steps.

    Each valued element's subsegment mean adds up to the differential value;
    the price difference is taken off it to give the net value. Totals carry
    their 95% t interval. When some of the subsegment's customers lack an
    input, every bar is a mean over the customers with a net value, so the
    steps add up to it exactly (``attrs["n"]`` of ``attrs["n_studied"]``).

    Returns
    -------
    DataFrame
        ``step, element_id, label, kind, value, start, end, ci_low, ci_high``;
        ``kind`` is ``element``, ``differential`` (a subtotal bar from 0),
        ``price`` or ``net`` (a total bar from 0). ``attrs["placeholders"]``
        names the placeholders, listed beside the chart, never summed.

    Raises
    ------
    CvmError
        ``subsegment`` is not one of the study's.
    AnalysisError
        The subsegment has no customer yet (nothing to draw).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.executive import value_waterfall
    >>> w = value_waterfall(cvm.load_study(cvm.example_path()), "high_volume")
    >>> list(w["kind"][-3:])
    ['differential', 'price', 'net']
    """
    values = values if values is not None else element_values(study)
    totals = totals if totals is not None else _totals(study, values)
    mine = totals[totals["subsegment"] == subsegment]
    complete = set(mine.loc[mine["net_value"].notna(), "customer_id"])
    incomplete = 0 < len(complete) < len(mine)
    if incomplete:  # every bar over the customers with a net value, so the elements add up to its totals
        values = values[values["customer_id"].isin(complete)]
        totals = totals[totals["customer_id"].isin(complete)]
    summary = summarize(study, values)
    ts = summarize_totals(study, totals).set_index(["quantity", "subsegment"])
    if subsegment not in study.subsegment_ids:
        from .errors import CvmError

        raise CvmError(f"no subsegment {subsegment!r}; known: {', '.join(study.subsegment_ids)}")
    sub = summary[(summary["subsegment"] == subsegment) & summary["status"].isin(["difference", "contention"])]
    if not (totals["subsegment"] == subsegment).any():
        from .errors import AnalysisError

        # nothing to draw: every bar would be a made-up 0
        raise AnalysisError(f"no customer of subsegment {subsegment!r} has a value yet")
    names = {e.id: e.name for e in study.elements}
    rows, level = [], 0.0
    for r in sub.itertuples(index=False):
        m = float(r.mean) if np.isfinite(r.mean) else 0.0
        rows.append({"element_id": r.element_id, "label": names[r.element_id], "kind": "element", "value": m,
                     "start": level, "end": level + m, "ci_low": np.nan, "ci_high": np.nan})
        level += m

    def total(q: str) -> tuple[float, float, float]:
        if (q, subsegment) not in ts.index:
            return (np.nan, np.nan, np.nan)
        a = ts.loc[(q, subsegment)]
        return float(a["mean"]), float(a["ci_low"]), float(a["ci_high"])

    dm, dlo, dhi = total("differential_value")
    pm, _, _ = total("price_difference")
    nm, nlo, nhi = total("net_value")
    dm = dm if np.isfinite(dm) else level
    rows.append({"element_id": "differential_value", "label": "Differential value", "kind": "differential",
                 "value": dm, "start": 0.0, "end": dm, "ci_low": dlo, "ci_high": dhi})
    pm = pm if np.isfinite(pm) else 0.0
    rows.append({"element_id": "price_difference", "label": "Price difference", "kind": "price", "value": -pm,
                 "start": dm, "end": dm - pm, "ci_low": np.nan, "ci_high": np.nan})
    nm = nm if np.isfinite(nm) else dm - pm
    rows.append({"element_id": "net_value", "label": "Net value to the customer", "kind": "net", "value": nm,
                 "start": 0.0, "end": nm, "ci_low": nlo, "ci_high": nhi})
    out = pd.DataFrame(rows)
    out.insert(0, "step", range(len(out)))
    out.attrs["placeholders"] = [e.name for e in study.elements if e.status == "placeholder"]
    out.attrs["subsegment"] = subsegment
    out.attrs["currency"] = study.currency
    out.attrs["n"] = len(complete) if incomplete else len(mine)
    out.attrs["n_studied"] = int((study.customers["subsegment"] == subsegment).sum())
    return out


__all__ = ["executive_summary", "top_elements", "value_waterfall", "METHOD_MIN", "METHOD_MAX", "ALL"]
