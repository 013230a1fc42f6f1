"""Building the business case for change from a study and the case's inputs."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..errors import AnalysisError, CvmError
from ..study import Study
from .model import INCENTIVE_COLUMNS, PROFIT_COLUMNS, PROFIT_LABELS, BusinessCase
from .sections import case_actions, case_assumptions, case_concerns, case_milestones

__all__ = ["business_case"]

def _finite(name: str, value: object, *, low: float | None = None, high: float | None = None) -> float:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CvmError(f"business case: {name} {value!r} is not a number") from None
    if not math.isfinite(x):
        raise CvmError(f"business case: {name} must be a finite number, got {value!r}")
    if low is not None and x < low or high is not None and x > high:
        bounds = f"between {low:g} and {high:g}" if low is not None and high is not None else f">= {low:g}"
        raise CvmError(f"business case: {name} must be {bounds}, got {x:g}")
    return x


def _resources(change_costs: Mapping[str, float] | pd.DataFrame) -> pd.DataFrame:
    if isinstance(change_costs, pd.DataFrame):
        df = change_costs.copy()
        if "cost" not in df.columns and "cost_per_period" in df.columns:
            df = df.rename(columns={"cost_per_period": "cost"})
        if not {"item", "cost"} <= set(df.columns):
            raise CvmError("business case: change_costs table needs columns 'item' and 'cost' (cost per period); "
                           f"got {', '.join(map(str, df.columns))}")
        df = df.reset_index(drop=True)
    elif isinstance(change_costs, Mapping):
        df = pd.DataFrame({"item": list(change_costs.keys()), "cost": list(change_costs.values())})
    else:
        raise CvmError("business case: change_costs must be a mapping item -> cost per period or a table "
                       f"with columns item, cost; got {type(change_costs).__name__}")
    df["item"] = df["item"].astype(str)
    df["cost"] = [_finite(f"change cost of {item!r}", c, low=0.0) for item, c in zip(df["item"], df["cost"])]
    return df[["item", "cost"] + [c for c in df.columns if c not in ("item", "cost")]]


def _bootstrap_means(columns: np.ndarray, draws: int, seed: int | None, chunk: int = 2000) -> np.ndarray:
    """Means of ``columns`` (n customers x k) over ``draws`` resamples of the customers (draws x k)."""
    rng = np.random.default_rng(seed)
    n = columns.shape[0]
    out = np.empty((draws, columns.shape[1]))
    step = max(1, min(chunk, 4_000_000 // max(n, 1)))  # bound memory: step x n indices at a time
    for a in range(0, draws, step):
        b = min(draws, a + step)
        idx = rng.integers(0, n, size=(b - a, n))
        out[a:b] = columns[idx].mean(axis=1)
    return out


def _pct(x: np.ndarray) -> tuple[float, float, float]:
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return (math.nan, math.nan, math.nan)
    p5, p50, p95 = np.percentile(x, [5, 50, 95])
    return float(p5), float(p50), float(p95)


def business_case(study: Study, *, target_subsegment: str, market_customers: Mapping[str, int],
                  adoption_share: float, price_change: float,
                  change_costs: Mapping[str, float] | pd.DataFrame,
                  contribution_per_customer: float | str | None = None,
                  unit_margin_before: float | None = None, unit_cost: float = 0.0,
                  draws: int = 10_000, seed: int | None = 0) -> BusinessCase:
    """Build the business case for change for one target subsegment.

    Parameters
    ----------
    study : Study
    target_subsegment : str
        The subsegment the supplier proposes to target (an id of project.yaml).
    market_customers : mapping subsegment id -> int
        How many customers the market holds in each subsegment (not only the
        studied ones). Must include the target; the other subsegments are
        listed in the assumptions for context.
    adoption_share : float
        Expected share (0 to 1) of the target subsegment's market customers
        that adopt the offering at the new price within the case's horizon.
    price_change : float
        Change of the offering's price per customer per period (currency per
        period; + raises it). It moves the price difference versus the
        alternative and takes the same amount off the customer's net value.
    change_costs : mapping item -> cost, or DataFrame with ``item, cost``
        The resources the change needs, each a cost per period (sales
        training, value calculators, pilot support ...); extra columns
        (owner, note) are kept. Costs must be >= 0.
    contribution_per_customer : float, optional
        The supplier's contribution margin (its revenue from the customer
        less the variable cost of serving it) per adopting customer per
        period at today's price. The price change is added to it. Text is
        read as a number (empty: not given). When not given, the study's
        ``business_case.contribution_per_customer`` (project.yaml) is used;
        without either the profit figures are NaN and the break-even is
        stated as the contribution each expected adopter must bring.
    unit_margin_before : float, optional
        Former name of ``contribution_per_customer`` (give one of them).
    unit_cost : float
        Extra cost per adopting customer per period the change brings (e.g.
        on-site support), subtracted from the contribution.
    draws : int
        Bootstrap draws for the ranges (default 10,000).
    seed : int or None
        Seed of the bootstrap (same seed, same case); None draws a fresh one.

    Returns
    -------
    BusinessCase
        With ``profitability`` (quantities ``adopting_customers,
        contribution_per_adopter, incremental_contribution, change_costs,
        incremental_profit, break_even_customers``; columns ``quantity,
        label, mean, p5, p50, p95, p_positive``), ``incentive`` (quantities
        ``net_value_now, price_difference_now, price_change,
        price_difference_new, incentive_at_new_price,
        incentive_single_customer, share_with_positive_incentive``), ``resources``, ``milestones``,
        ``actions``, ``concerns``, ``assumptions``, ``draws`` and
        ``to_markdown()`` / ``to_html()``. See the module docstring for the
        definitions.

    Raises
    ------
    CvmError
        An unknown subsegment, a share outside 0..1, a negative count or
        cost, a non-number; :class:`AnalysisError` when no customer of the
        target subsegment has a complete net value.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.business_case import business_case
    >>> study = cvm.load_study(cvm.example_path())
    >>> sub = study.subsegment_ids[0]
    >>> case = business_case(study, target_subsegment=sub, market_customers={sub: 400}, adoption_share=0.1,
    ...                      price_change=5000, change_costs={"Sales training": 50_000},
    ...                      contribution_per_customer=20_000, draws=2000)
    >>> round(case.value("adopting_customers"), 1), case.value("incremental_profit")
    (40.0, 950000.0)
    """
    from ..values import element_values, missing_inputs, totals  # lazily: keeps the package import light

    market = _market(study, target_subsegment, market_customers)
    share = _finite("adoption_share", adoption_share, low=0.0, high=1.0)
    pc = _finite("price_change", price_change)
    margin = _margin(study, contribution_per_customer, unit_margin_before)
    ucost = _finite("unit_cost", unit_cost)
    _check_draws(draws)
    resources = _resources(change_costs)

    values = element_values(study)
    sub_t, pd_i, nv_i = _studied(totals(study, values), target_subsegment)
    n = len(pd_i)
    adopters = market[target_subsegment] * share

    # bootstrap: resample the studied customers, each keeping its own pair of figures (the customer's side)
    pd_b, nv_b, pos_b = _bootstrap_means(np.column_stack([pd_i, nv_i, (nv_i - pc > 0).astype(float)]),
                                         int(draws), seed).T
    # the supplier's side rests on the case's inputs only: point figures
    contrib = math.nan if margin is None else margin + pc - ucost
    profitability, point = _profitability(adopters, contrib, float(resources["cost"].sum()))
    incentive = _incentive(pd_i, nv_i, pd_b, nv_b, pos_b, pc, n)

    alternative = study.alternative_for(target_subsegment)
    unit = f"{study.currency} per customer per {study.period}"
    ssub = _quantified_summary(study, values, target_subsegment)
    actions = case_actions(study, target_subsegment, alternative, market[target_subsegment], share, adopters, pc,
                           float(pd_i.mean()), ssub, unit)
    concerns = case_concerns(study, target_subsegment, sub_t, n, ssub, missing_inputs(study), incentive,
                             profitability, resources, unit)
    milestones = case_milestones(target_subsegment)
    assumptions = case_assumptions(study, target_subsegment, market, share, pc, margin, ucost, int(draws), seed, n)
    draws_df = pd.DataFrame({"draw": np.arange(int(draws)), "price_difference": pd_b, "net_value": nv_b,
                             "contribution_per_adopter": contrib, "incremental_profit": point["incremental_profit"]})
    return BusinessCase(
        study_name=study.name, offering=study.offering, alternative=alternative,
        target_subsegment=target_subsegment, currency=study.currency, period=study.period, n_customers=n,
        n_draws=int(draws), seed=seed, profitability=profitability, incentive=incentive, resources=resources,
        milestones=milestones, actions=actions, concerns=concerns, assumptions=assumptions, draws=draws_df,
        contribution_given=margin is not None)


def _quantified_summary(study: Study, values: pd.DataFrame, sub: str) -> pd.DataFrame:
    """The value summary's rows of ``sub``'s difference and contention elements."""
    from ..estimates import summarize

    summary = summarize(study, values)
    return summary[(summary["subsegment"] == sub) & summary["status"].isin(("difference", "contention"))]


def _check_draws(draws: object) -> None:
    """Refuse a bootstrap size that is not a whole number >= 1 (a bool included)."""
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise CvmError(f"business case: draws must be a whole number >= 1, got {draws!r}")


def _studied(tot: pd.DataFrame, target_subsegment: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The target's totals, and the price differences and net values of its customers with both."""
    sub_t = tot[tot["subsegment"] == target_subsegment]
    complete = sub_t.dropna(subset=["price_difference", "net_value"])
    if len(complete) == 0:
        raise AnalysisError(f"business case: no customer of subsegment {target_subsegment!r} has a complete net "
                            f"value ({len(sub_t)} studied; see `cvm values` for the missing inputs)")
    return sub_t, complete["price_difference"].to_numpy(float), complete["net_value"].to_numpy(float)


def _market(study: Study, target_subsegment: str, market_customers: Mapping[str, int]) -> dict[str, float]:
    """The market's customers per subsegment, checked (the target must be among them)."""
    if target_subsegment not in study.subsegment_ids:
        raise CvmError(f"business case: target subsegment {target_subsegment!r} is not in "
                       f"{study.path / 'project.yaml'}; expected one of {', '.join(study.subsegment_ids)}")
    if not isinstance(market_customers, Mapping):
        raise CvmError("business case: market_customers must map subsegment id -> number of customers")
    market: dict[str, float] = {}
    for sid, count in market_customers.items():
        if sid not in study.subsegment_ids:
            raise CvmError(f"business case: market_customers names subsegment {sid!r}, which is not in the study; "
                           f"expected ids among {', '.join(study.subsegment_ids)}")
        market[sid] = _finite(f"market_customers[{sid!r}]", count, low=0.0)
    if target_subsegment not in market:
        raise CvmError(f"business case: market_customers has no count for the target subsegment {target_subsegment!r}")
    return market


def _margin(study: Study, contribution_per_customer: float | str | None,
            unit_margin_before: float | None) -> float | None:
    """The supplier's contribution per adopting customer: given, else the study's own, else None."""
    if isinstance(contribution_per_customer, str) and not contribution_per_customer.strip():
        contribution_per_customer = None
    if contribution_per_customer is not None and unit_margin_before is not None:
        raise CvmError("business case: give contribution_per_customer (unit_margin_before is its former name), "
                       "not both")
    given = contribution_per_customer if contribution_per_customer is not None else unit_margin_before
    if given is None:  # the study's own figure (project.yaml business_case.contribution_per_customer)
        given = study.business_case.get("contribution_per_customer")
    return None if given is None else _finite("contribution_per_customer", given)


def _profitability(adopters: float, contrib: float, costs: float) -> tuple[pd.DataFrame, dict[str, float]]:
    """The supplier's point figures: the profitability table and the figures by quantity."""
    point = {
        "adopting_customers": adopters,
        "contribution_per_adopter": contrib,
        "incremental_contribution": adopters * contrib,
        "change_costs": costs,
        "incremental_profit": adopters * contrib - costs,
        "break_even_customers": costs / contrib if contrib > 0 else math.nan,
    }
    rows = []
    for q, m in point.items():
        pos = math.nan if math.isnan(m) or q == "break_even_customers" else float(m > 0)
        rows.append((q, PROFIT_LABELS[q], float(m), float(m), float(m), float(m), pos))
    return pd.DataFrame(rows, columns=PROFIT_COLUMNS), point


def _incentive(pd_i: np.ndarray, nv_i: np.ndarray, pd_b: np.ndarray, nv_b: np.ndarray, pos_b: np.ndarray,
               pc: float, n: int) -> pd.DataFrame:
    """The customer's side: today's figures, at the new price, and the bootstrap percentiles."""
    from ..estimates import describe

    d_now = describe(nv_i)
    inc_i = nv_i - pc
    p_now = _pct(nv_b)
    d_pd = describe(pd_i)
    p_pd = _pct(pd_b)
    return pd.DataFrame([
        ("net_value_now", "Net value per customer, today (mean)", d_now["mean"], *p_now,
         d_now["ci_low"], d_now["ci_high"], n),
        ("price_difference_now", "Price difference versus the alternative per customer, today (mean)",
         d_pd["mean"], *p_pd, d_pd["ci_low"], d_pd["ci_high"], n),
        ("price_change", "Price change per customer", pc, pc, pc, pc, pc, pc, n),
        ("price_difference_new", "Price difference versus the alternative per customer, new price (mean)",
         d_pd["mean"] + pc, *(v + pc for v in p_pd), d_pd["ci_low"] + pc, d_pd["ci_high"] + pc, n),
        ("incentive_at_new_price", "Incentive left at the new price (mean)", d_now["mean"] - pc,
         *(v - pc for v in p_now), d_now["ci_low"] - pc, d_now["ci_high"] - pc, n),
        ("incentive_single_customer", "Incentive left at the new price, one customer (spread)",
         float(inc_i.mean()), *_pct(inc_i), math.nan, math.nan, n),
        ("share_with_positive_incentive", "Share of customers keeping a positive incentive",
         float((inc_i > 0).mean()), *_pct(pos_b), math.nan, math.nan, n),
    ], columns=INCENTIVE_COLUMNS)
