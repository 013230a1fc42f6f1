"""The business case for change as an object: its tables and its management-readable rendering."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import pandas as pd

__all__ = ["ACTION_COLUMNS", "BusinessCase", "CONCERN_COLUMNS", "INCENTIVE_COLUMNS", "MILESTONE_COLUMNS",
           "PROFIT_COLUMNS", "PROFIT_LABELS"]

PROFIT_COLUMNS = ["quantity", "label", "mean", "p5", "p50", "p95", "p_positive"]


INCENTIVE_COLUMNS = ["quantity", "label", "mean", "p5", "p50", "p95", "ci_low", "ci_high", "n"]


MILESTONE_COLUMNS = ["milestone", "owner", "due", "status"]


CONCERN_COLUMNS = ["kind", "subject", "concern"]


ACTION_COLUMNS = ["action", "detail"]


PROFIT_LABELS = {
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
                return (f"Break-even: no adopting customers are expected, so the change costs of {_num(costs)} {unit} "
                        "are not recovered.")
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
        from ..errors import NotFoundError

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
