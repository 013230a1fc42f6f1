"""The prose tables of a business case: actions, concerns, milestones and assumptions."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from ..study import Study
from .model import ACTION_COLUMNS, CONCERN_COLUMNS, MILESTONE_COLUMNS

__all__ = ["MILESTONES", "case_actions", "case_assumptions", "case_concerns", "case_milestones"]

# the method's steps from a business case to realized value; the team fills owner, due, status
MILESTONES = (
    "Management approves the business case for change",
    "Value calculator and value case histories ready for the sales force",
    "Sales force trained to sell on value to {sub} customers",
    "New price and offering announced to {sub} customers",
    "First {sub} customers adopt; value promised recorded with each (realized.csv)",
    "Value realized documented with the first customers and reviewed (cvm document)",
    "Profitability impact reviewed against this business case",
)


def case_milestones(sub: str) -> pd.DataFrame:
    """The method's milestones for a case targeting ``sub``, for the team to fill (owner, due, status).

    Parameters
    ----------
    sub : str
        The target subsegment.

    Returns
    -------
    DataFrame
        ``milestone, owner, due, status`` (status ``not started``).

    Examples
    --------
    >>> case_milestones("small").iloc[2].tolist()
    ['Sales force trained to sell on value to small customers', '', '', 'not started']
    """
    return pd.DataFrame([(m.format(sub=sub), "", "", "not started") for m in MILESTONES], columns=MILESTONE_COLUMNS)


def case_actions(study: Study, sub: str, alternative: str, market: float, share: float, adopters: float,
                 pc: float, pd_mean: float, ssub: pd.DataFrame, unit: str) -> pd.DataFrame:
    """The actions the case proposes: target, price, the elements to make the case on, tools.

    Parameters
    ----------
    study : Study
    sub, alternative : str
        The target subsegment and its next-best alternative.
    market, share, adopters : float
        Market customers of ``sub``, adoption share, expected adopters.
    pc, pd_mean : float
        The price change and today's mean price difference.
    ssub : DataFrame
        :func:`~cvm_kit.estimates.summarize` rows of ``sub``'s quantified elements.
    unit : str
        The unit the figures are written in.

    Returns
    -------
    DataFrame
        ``action, detail``.
    """
    desc = study.subsegment(sub).description
    rows = [
        (f"Target the {sub} subsegment", f"{desc + '. ' if desc else ''}{market:,.0f} customers in the market; "
                                         f"expected adoption {share:.0%}, about {adopters:,.1f} customers."),
        ("Change the price" if pc else "Keep the price",
         f"{pc:+,.2f} {unit}: price difference versus {alternative} from {pd_mean:,.2f} to "
         f"{pd_mean + pc:,.2f} on average."),
    ]
    pos = ssub[ssub["mean"] > 0].sort_values("mean", ascending=False)
    for r in pos.itertuples(index=False):
        e = study.element(r.element_id)
        ci = f" (95% interval {r.ci_low:,.0f} to {r.ci_high:,.0f})" if not math.isnan(r.ci_low) else ""
        rows.append((f"Make the value case on: {e.name}", f"{r.mean:,.0f} {unit} on average{ci}; "
                                                          f"{r.status} element."))
    rows.append(("Equip the sales force", "Value calculator per customer (value_calculator / cvm calculator) and "
                                          "value case histories of documented customers (cvm document)."))
    rows.append(("Document the value delivered", "Record what is promised and later realized with each adopting "
                                                 "customer in realized.csv."))
    return pd.DataFrame(rows, columns=ACTION_COLUMNS)


def case_concerns(study: Study, sub: str, sub_t: pd.DataFrame, n: int, ssub: pd.DataFrame, missing: pd.DataFrame,
                  incentive: pd.DataFrame, profitability: pd.DataFrame, resources: pd.DataFrame,
                  unit: str) -> pd.DataFrame:
    """What management should weigh: placeholders, weak or missing inputs, thin samples, incentive, profit.

    Parameters
    ----------
    study : Study
    sub : str
        The target subsegment.
    sub_t : DataFrame
        :func:`~cvm_kit.values.totals` of ``sub``'s customers.
    n : int
        Customers with a complete net value.
    ssub : DataFrame
        :func:`~cvm_kit.estimates.summarize` rows of ``sub``'s quantified elements.
    missing : DataFrame
        :func:`~cvm_kit.values.missing_inputs`.
    incentive, profitability, resources : DataFrame
        The case's tables.
    unit : str
        The unit the figures are written in.

    Returns
    -------
    DataFrame
        ``kind, subject, concern``.
    """
    rows: list[tuple[str, str, str]] = []
    for e in study.elements:
        if e.status == "placeholder":
            rng = e.perceived_range
            worth = f"; perceived {rng[0]:,.0f} to {rng[1]:,.0f} {unit}" if rng else ""
            rows.append(("placeholder", e.name, f"Not quantified and never summed{worth}: "
                                                "an upside the case does not count."))
    ids = set(sub_t["customer_id"])
    m = study.measurements[study.measurements["customer_id"].isin(ids)]
    low = m[m["reliability"].fillna("").astype(str).str.lower() == "low"]
    for var, g in low.groupby("variable", sort=False):
        rows.append(("low reliability", str(var),
                     f"Low-reliability measurement for {', '.join(dict.fromkeys(map(str, g['customer_id'])))}."))
    assumed = m[m["source"] == "assumption"]
    for var, g in assumed.groupby("variable", sort=False):
        rows.append(("assumed input", str(var),
                     f"The team's assumption, not the customer's figure, for "
                     f"{', '.join(dict.fromkeys(map(str, g['customer_id'])))}."))
    miss = missing[missing["subsegment"] == sub]
    for phrase, g in miss.groupby("phrase", sort=False):
        rows.append(("missing input", str(phrase),
                     f"Missing for {', '.join(dict.fromkeys(map(str, g['customer_id'])))} "
                     f"(needed by {', '.join(dict.fromkeys(g['needed_by']))})."))
    left_out = len(sub_t) - n
    if left_out:
        rows.append(("missing input", "net value", f"{left_out} of {len(sub_t)} studied {sub} customers lack a "
                                                   "complete net value and are left out of the figures."))
    for r in ssub.itertuples(index=False):
        if not math.isnan(r.share_from_data) and r.share_from_data < 0.5:
            rows.append(("data share", study.element(r.element_id).name,
                         f"Only {r.share_from_data:.0%} of the customers' values rest on measured data."))
        if not math.isnan(r.mean) and r.mean < 0:
            rows.append(("negative element", study.element(r.element_id).name,
                         f"Worth {r.mean:,.0f} {unit} on average: the offering is worse than the alternative here."))
    if n < 5:
        rows.append(("sample", sub, f"Only {n} studied customers with complete values: the ranges are rough."))
    inc = incentive.set_index("quantity")
    left, p5 = inc.at["incentive_at_new_price", "mean"], inc.at["incentive_at_new_price", "p5"]
    if left <= 0:
        rows.append(("incentive", "new price", f"At the new price the average customer keeps no incentive "
                                               f"({left:,.0f} {unit}): adoption is unlikely."))
    elif not math.isnan(p5) and p5 <= 0:
        rows.append(("incentive", "new price", "The range of the incentive left at the new price includes 0."))
    share_pos = inc.at["share_with_positive_incentive", "mean"]
    if share_pos < 1:
        rows.append(("incentive", "new price", f"{1 - share_pos:.0%} of the studied customers would keep no "
                                               "incentive at the new price."))
    profit = float(profitability.set_index("quantity").at["incremental_profit", "mean"])
    if not math.isnan(profit) and profit <= 0:
        rows.append(("profitability", "incremental profit",
                     f"The incremental profit is {profit:,.0f} {unit.replace(' per customer', '')}: the change "
                     "does not pay for itself at the expected adoption."))
    if resources.empty:
        rows.append(("resources", "change costs", "No resources listed: the cost of the change is taken as 0."))
    return pd.DataFrame(rows, columns=CONCERN_COLUMNS)


def case_assumptions(study: Study, sub: str, market: Mapping[str, float], share: float, pc: float,
                     margin: float | None, ucost: float, draws: int, seed: int | None, n: int) -> pd.DataFrame:
    """The inputs of the case, each with its meaning.

    Parameters
    ----------
    study : Study
    sub : str
        The target subsegment.
    market : Mapping[str, float]
        Market customers per subsegment.
    share, pc : float
        Adoption share and price change.
    margin : float or None
        The supplier's contribution per adopting customer (None: not given).
    ucost : float
        Extra cost to serve per adopting customer.
    draws, seed, n :
        The bootstrap's draws and seed, and the customers it resamples.

    Returns
    -------
    DataFrame
        ``parameter, value, meaning``.
    """
    rows = [("target subsegment", sub, study.subsegment(sub).description)]
    for sid, c in market.items():
        rows.append((f"market customers, {sid}", f"{c:,.0f}", "customers in the market" +
                     (" (target)" if sid == sub else "")))
    rows += [
        ("adoption share", f"{share:.1%}", "expected share of the target's market customers adopting"),
        ("price change", f"{pc:+,.2f}", f"{study.currency} per customer per {study.period}"),
        ("contribution per adopter",
         (f"{margin:,.2f} + price change" + (f" - {ucost:,.2f}" if ucost else "")) if margin is not None
         else "not given",
         "the supplier's contribution margin per adopting customer at today's price (contribution_per_customer), "
         "plus the price change, less any extra cost to serve" if margin is not None else
         "give contribution_per_customer (the supplier's margin per adopting customer) to compute the profit"),
        ("ranges", f"{draws:,} bootstrap draws, seed {seed}", f"over {n} studied {sub} customers"),
    ]
    return pd.DataFrame(rows, columns=["parameter", "value", "meaning"])
