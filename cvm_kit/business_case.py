"""The business case for change: what targeting a subsegment at a new price earns the supplier.

Anderson & Narus close a customer value study with a *business case for
change* addressed to the supplier's own management: the actions proposed
(which subsegment to target, at what price, making the case on which value
elements), the resources they need, the concerns, the milestones and the
profitability impact. :func:`business_case` computes the figures from the
study and pre-fills the rest for the team to complete.

Definitions (all figures per ``study.period``, in ``study.currency``):

- expected adopting customers ``A = market_customers[target] x adoption_share``;
- a studied customer's price difference ``pd_i`` and net value ``nv_i`` come
  from :func:`cvm_kit.values.totals`; at the new price the price difference
  is ``pd_i + price_change``;
- contribution per adopting customer ``C = contribution_per_customer +
  price_change - unit_cost``: the supplier's own contribution margin (its
  revenue from the customer less the variable cost of serving it) per
  adopting customer at today's price, an input of the case (documented in
  docs/format-extensions.md). It is never the customer's price difference
  versus the alternative: that is what the customer pays more (or less) than
  for the alternative, not what the supplier earns, and an offering that
  costs the customer less would otherwise show a certain loss;
- incremental contribution ``= A x C``; incremental profit ``= A x C -
  sum(change costs)``; break-even ``= sum(change costs) / C`` adopting
  customers (stated once). Without a contribution the profit is not
  computed and the break-even is stated as the contribution each expected
  adopter must bring, ``sum(change costs) / A``;
- the customer's side: price difference ``pd_i`` and net value ``nv_i``
  from :func:`cvm_kit.values.totals`; at the new price the price difference
  is ``pd_i + price_change`` and the incentive left ``= nv_i - price_change``;
- ranges: a seeded bootstrap over the target subsegment's studied customers
  (each draw resamples them with replacement, keeping each customer's price
  difference and net value together) gives the 5th, 50th and 95th
  percentiles of the customer-side means. The supplier's figures rest on
  the case's inputs (adoption, contribution, costs), which have no spread
  in the study: they are point figures, shown without a range.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from .errors import AnalysisError, CvmError
from .study import Study

PROFIT_COLUMNS = ["quantity", "label", "mean", "p5", "p50", "p95", "p_positive"]
INCENTIVE_COLUMNS = ["quantity", "label", "mean", "p5", "p50", "p95", "ci_low", "ci_high", "n"]
MILESTONE_COLUMNS = ["milestone", "owner", "due", "status"]
CONCERN_COLUMNS = ["kind", "subject", "concern"]
ACTION_COLUMNS = ["action", "detail"]

_PROFIT_LABELS = {
    "adopting_customers": "Expected adopting customers",
    "contribution_per_adopter": "Supplier's contribution per adopting customer",
    "incremental_contribution": "Incremental contribution",
    "change_costs": "Cost of the changes (resources)",
    "incremental_profit": "Incremental profit",
    "break_even_customers": "Adopting customers needed to break even",
}


@dataclass(frozen=True, eq=False)
class BusinessCase:
    """A business case for change: tidy tables plus a management-readable rendering.

    Attributes
    ----------
    profitability : DataFrame
        ``quantity, label, mean, p5, p50, p95, p_positive``: the supplier's
        figures, from the case's inputs (``p5 = p50 = p95 = mean``, no
        spread; NaN where the contribution is not given; ``p_positive`` is 1
        or 0 for a known figure).
    incentive : DataFrame
        ``quantity, label, mean, p5, p50, p95, ci_low, ci_high, n``: the
        customer's side: net value and price difference today, the price
        change, the price difference at the new price, the remaining
        incentive (mean and for a single customer) and the share of
        customers keeping a positive one (``p*`` bootstrap percentiles).
    resources : DataFrame
        ``item, cost`` (plus any other columns given), cost per period.
    milestones : DataFrame
        ``milestone, owner, due, status``: the method's steps for the team to fill.
    actions : DataFrame
        ``action, detail``.
    concerns : DataFrame
        ``kind, subject, concern``.
    assumptions : DataFrame
        ``parameter, value, meaning``: the inputs of the case.
    draws : DataFrame
        One row per bootstrap draw: ``draw, price_difference, net_value,
        contribution_per_adopter, incremental_profit``.
    """

    study_name: str
    offering: str
    alternative: str
    target_subsegment: str
    currency: str
    period: str
    n_customers: int
    n_draws: int
    seed: int | None
    profitability: pd.DataFrame
    incentive: pd.DataFrame
    resources: pd.DataFrame
    milestones: pd.DataFrame
    actions: pd.DataFrame
    concerns: pd.DataFrame
    assumptions: pd.DataFrame
    draws: pd.DataFrame

    contribution_given: bool = True

    @property
    def p_profit_positive(self) -> float:
        """1 if the incremental profit is above 0, 0 if not, NaN without a contribution."""
        return float(self.profitability.set_index("quantity").at["incremental_profit", "p_positive"])

    @property
    def break_even_text(self) -> str:
        """The break-even, in one sentence (the only place the rendering states it)."""
        unit = f"{self.currency} per {self.period}"
        costs = self.value("change_costs")
        adopters = self.value("adopting_customers")
        if not self.contribution_given:
            if costs == 0:
                return "Break-even: no change costs are listed, so any positive contribution is profit."
            if adopters <= 0:
                return f"Break-even: no adopting customers are expected, so the change costs of {_num(costs)} {unit} are not recovered."
            return (f"Break-even: each of the {_num(adopters, 'adopting_customers')} expected adopting customers must "
                    f"contribute at least {_num(costs / adopters)} {unit} to the supplier to cover the change "
                    f"costs of {_num(costs)} {unit}.")
        contrib = self.value("contribution_per_adopter")
        if contrib <= 0:
            return (f"Break-even: none; each adopting customer contributes {_num(contrib)} {unit}, so more adopters "
                    "only add to the loss.")
        if costs == 0:
            return "Break-even: from the first adopting customer (no change costs are listed)."
        return (f"Break-even: {_num(self.value('break_even_customers'), 'break_even_customers')} adopting customers "
                f"(change costs {_num(costs)} / contribution {_num(contrib)} per adopter); "
                f"{_num(adopters, 'adopting_customers')} are expected.")

    def value(self, quantity: str, column: str = "mean") -> float:
        """One figure of :attr:`profitability` or :attr:`incentive` by quantity name."""
        for t in (self.profitability, self.incentive):
            hit = t.loc[t["quantity"] == quantity, column]
            if len(hit):
                return float(hit.iloc[0])
        from .errors import NotFoundError

        raise NotFoundError(f"no quantity {quantity!r}; known: "
                       f"{', '.join(list(self.profitability['quantity']) + list(self.incentive['quantity']))}")

    # -- rendering ----------------------------------------------------------
    def _sections(self) -> list[tuple[str, str | None, pd.DataFrame | None]]:
        """(heading, paragraph, table) in the order management reads them."""
        unit = f"{self.currency} per {self.period}"
        # the supplier's figures are point figures (no spread): one column; the break-even is in the text only
        profit = self.profitability[self.profitability["quantity"] != "break_even_customers"]
        prof = pd.DataFrame({
            "Quantity": profit["label"],
            "Estimate": [_num(v, q) if not (math.isnan(v) and q != "adopting_customers") else "not computed"
                         for v, q in zip(profit["mean"], profit["quantity"])],
        })
        inc = self.incentive

        def _end(v: float, q: str, lo: float, hi: float) -> str:
            return "" if lo == hi else _num(v, q)  # no "range from X to X"

        inc_t = pd.DataFrame({
            "Quantity": inc["label"],
            "Estimate": [_num(v, q) for v, q in zip(inc["mean"], inc["quantity"])],
            "5%": [_end(v, q, lo, hi) for v, q, lo, hi in zip(inc["p5"], inc["quantity"], inc["p5"], inc["p95"])],
            "95%": [_end(v, q, lo, hi) for v, q, lo, hi in zip(inc["p95"], inc["quantity"], inc["p5"], inc["p95"])],
        })
        res = self.resources.copy()
        total = float(res["cost"].sum()) if len(res) else 0.0
        res_t = pd.DataFrame({"Item": res["item"].astype(str), f"Cost ({unit})": [_num(c) for c in res["cost"]]})
        res_t = pd.concat([res_t, pd.DataFrame({"Item": ["Total"], f"Cost ({unit})": [_num(total)]})],
                          ignore_index=True)
        conc = self.concerns.rename(columns={"kind": "Kind", "subject": "Subject", "concern": "Concern"})
        miles = self.milestones.rename(columns=str.capitalize).astype(str).replace({"nan": "", "NaT": ""})
        acts = self.actions.rename(columns={"action": "Action", "detail": "Detail"})
        assum = self.assumptions.rename(columns={"parameter": "Parameter", "value": "Value", "meaning": "Meaning"})
        intro = (f"{self.offering} versus {self.alternative}, target subsegment {self.target_subsegment} "
                 f"({self.study_name}). Figures in {unit}. The supplier's figures follow from the case's inputs "
                 "(adoption, contribution per adopting customer, change costs); the customer's figures are "
                 f"ranged by the 5th to 95th percentile of {self.n_draws:,} bootstrap draws over the "
                 f"{self.n_customers} studied customers of the subsegment with complete values (seed {self.seed}).")
        if self.contribution_given:
            ppos = (f"Expected incremental profit {_num(self.value('incremental_profit'))} {unit}: "
                    f"{_num(self.value('adopting_customers'), 'adopting_customers')} adopting customers x "
                    f"{_num(self.value('contribution_per_adopter'))} contribution each, less "
                    f"{_num(self.value('change_costs'))} of change costs. {self.break_even_text}")
        else:
            ppos = ("The supplier's contribution per adopting customer is not given (contribution_per_customer), "
                    "so the incremental profit is not computed: the customer's price difference is not the "
                    f"supplier's margin. {self.break_even_text}")
        return [
            ("Business case for change", intro, None),
            ("Profitability impact", ppos, prof),
            ("Customer's incentive at the new price",
             "Net value left to the customer after the price change (value minus price, versus the alternative).",
             inc_t),
            ("Actions", None, acts),
            ("Resources", None, res_t),
            ("Concerns", None if len(conc) else "None found in the study.", conc if len(conc) else None),
            ("Milestones", "To be completed by the team: owner, due date, status.", miles),
            ("Assumptions of the case", None, assum),
        ]

    def to_markdown(self) -> str:
        """The business case as a Markdown section (study text escaped for Markdown and HTML)."""
        out = []
        for i, (head, para, table) in enumerate(self._sections()):
            out.append(("## " if i == 0 else "### ") + (_md(head) if i else f"{_md(head)}: {_md(self.offering)}"))
            if para:
                out.append(_md(para))
            if table is not None:
                out.append(_md_table(table))
        return "\n\n".join(out) + "\n"

    def to_html(self) -> str:
        """The business case as an HTML section; every piece of study text is escaped."""
        e = html.escape
        out = ["<section class='cvm-business-case'>"]
        for i, (head, para, table) in enumerate(self._sections()):
            out.append(f"<h2>{e(head)}: {e(self.offering)}</h2>" if i == 0 else f"<h3>{e(head)}</h3>")
            if para:
                out.append(f"<p>{e(para)}</p>")
            if table is not None:
                out.append(_html_table(table))
        out.append("</section>")
        return "\n".join(out)

    def _repr_html_(self) -> str:  # shown by Jupyter
        return self.to_html()


# ---------------------------------------------------------------------------
# rendering helpers


def _num(x: float, quantity: str = "") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if quantity.startswith("share"):
        return f"{x:.0%}"
    if quantity in ("adopting_customers", "break_even_customers"):
        return f"{x:,.1f}"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}"


_MD_SPECIAL = "\\`*_[]|#"


def _md(text: object) -> str:
    """Text safe inside Markdown: HTML entities for & < >, backslash before Markdown syntax, one line."""
    s = html.escape(str(text), quote=False)
    s = "".join("\\" + c if c in _MD_SPECIAL else c for c in s)
    return " ".join(s.split())


def _md_table(df: pd.DataFrame) -> str:
    cols = [_md(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(" --- " for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(_md("" if pd.isna(v) else v) for v in row) + " |")
    return "\n".join(lines)


def _html_table(df: pd.DataFrame) -> str:
    e = html.escape
    head = "".join(f"<th>{e(str(c))}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{e('' if pd.isna(v) else str(v))}</td>" for v in row) + "</tr>"
                   for row in df.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# ---------------------------------------------------------------------------
# inputs


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


# ---------------------------------------------------------------------------
# the case


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
    from .estimates import describe, summarize
    from .values import element_values, missing_inputs, totals

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
    share = _finite("adoption_share", adoption_share, low=0.0, high=1.0)
    pc = _finite("price_change", price_change)
    if isinstance(contribution_per_customer, str) and not contribution_per_customer.strip():
        contribution_per_customer = None
    if contribution_per_customer is not None and unit_margin_before is not None:
        raise CvmError("business case: give contribution_per_customer (unit_margin_before is its former name), "
                       "not both")
    given = contribution_per_customer if contribution_per_customer is not None else unit_margin_before
    if given is None:  # the study's own figure (project.yaml business_case.contribution_per_customer)
        given = study.business_case.get("contribution_per_customer")
    margin = None if given is None else _finite("contribution_per_customer", given)
    ucost = _finite("unit_cost", unit_cost)
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        raise CvmError(f"business case: draws must be a whole number >= 1, got {draws!r}")
    resources = _resources(change_costs)
    costs = float(resources["cost"].sum())

    values = element_values(study)
    tot = totals(study, values)
    sub_t = tot[tot["subsegment"] == target_subsegment]
    complete = sub_t.dropna(subset=["price_difference", "net_value"])
    n = len(complete)
    if n == 0:
        raise AnalysisError(f"business case: no customer of subsegment {target_subsegment!r} has a complete net "
                            f"value ({len(sub_t)} studied; see `cvm values` for the missing inputs)")
    pd_i = complete["price_difference"].to_numpy(float)
    nv_i = complete["net_value"].to_numpy(float)
    adopters = market[target_subsegment] * share

    # bootstrap: resample the studied customers, each keeping its own pair of figures (the customer's side)
    cols = np.column_stack([pd_i, nv_i, (nv_i - pc > 0).astype(float)])
    boot = _bootstrap_means(cols, int(draws), seed)
    pd_b, nv_b, pos_b = boot.T
    # the supplier's side rests on the case's inputs only: point figures
    contrib = math.nan if margin is None else margin + pc - ucost
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
        rows.append((q, _PROFIT_LABELS[q], float(m), float(m), float(m), float(m), pos))
    profitability = pd.DataFrame(rows, columns=PROFIT_COLUMNS)

    d_now = describe(nv_i)
    inc_i = nv_i - pc
    p_now = _pct(nv_b)
    d_pd = describe(pd_i)
    p_pd = _pct(pd_b)
    incentive = pd.DataFrame([
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

    alternative = study.alternative_for(target_subsegment)
    unit = f"{study.currency} per customer per {study.period}"
    summary = summarize(study, values)
    ssub = summary[(summary["subsegment"] == target_subsegment) & summary["status"].isin(("difference", "contention"))]
    actions = _actions(study, target_subsegment, alternative, market[target_subsegment], share, adopters, pc,
                       float(pd_i.mean()), ssub, unit)
    concerns = _concerns(study, target_subsegment, sub_t, n, ssub, missing_inputs(study), incentive,
                         profitability, resources, unit)
    milestones = pd.DataFrame([(m.format(sub=target_subsegment), "", "", "not started") for m in _MILESTONES],
                              columns=MILESTONE_COLUMNS)
    assumptions = _assumptions(study, target_subsegment, market, share, pc, margin, ucost, int(draws), seed, n)
    draws_df = pd.DataFrame({"draw": np.arange(int(draws)), "price_difference": pd_b, "net_value": nv_b,
                             "contribution_per_adopter": contrib, "incremental_profit": point["incremental_profit"]})
    return BusinessCase(
        study_name=study.name, offering=study.offering, alternative=alternative,
        target_subsegment=target_subsegment, currency=study.currency, period=study.period, n_customers=n,
        n_draws=int(draws), seed=seed, profitability=profitability, incentive=incentive, resources=resources,
        milestones=milestones, actions=actions, concerns=concerns, assumptions=assumptions, draws=draws_df,
        contribution_given=margin is not None)


# the method's steps from a business case to realized value; the team fills owner, due, status
_MILESTONES = (
    "Management approves the business case for change",
    "Value calculator and value case histories ready for the sales force",
    "Sales force trained to sell on value to {sub} customers",
    "New price and offering announced to {sub} customers",
    "First {sub} customers adopt; value promised recorded with each (realized.csv)",
    "Value realized documented with the first customers and reviewed (cvm document)",
    "Profitability impact reviewed against this business case",
)


def _actions(study: Study, sub: str, alternative: str, market: float, share: float, adopters: float, pc: float,
             pd_mean: float, ssub: pd.DataFrame, unit: str) -> pd.DataFrame:
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


def _concerns(study: Study, sub: str, sub_t: pd.DataFrame, n: int, ssub: pd.DataFrame, missing: pd.DataFrame,
              incentive: pd.DataFrame, profitability: pd.DataFrame, resources: pd.DataFrame,
              unit: str) -> pd.DataFrame:
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


def _assumptions(study: Study, sub: str, market: Mapping[str, float], share: float, pc: float,
                 margin: float | None, ucost: float, draws: int, seed: int | None, n: int) -> pd.DataFrame:
    unit = f"{study.currency} per {study.period}"
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
