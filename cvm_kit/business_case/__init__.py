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

The package is split by concern: :mod:`.model` (the :class:`BusinessCase`
object and its rendering), :mod:`.build` (computing the case) and
:mod:`.sections` (actions, concerns, milestones, assumptions). Import the
public names from here.
"""

from __future__ import annotations

from .build import business_case
from .model import (
    ACTION_COLUMNS,
    CONCERN_COLUMNS,
    INCENTIVE_COLUMNS,
    MILESTONE_COLUMNS,
    PROFIT_COLUMNS,
    BusinessCase,
)

__all__ = ["ACTION_COLUMNS", "BusinessCase", "CONCERN_COLUMNS", "INCENTIVE_COLUMNS", "MILESTONE_COLUMNS",
           "PROFIT_COLUMNS", "business_case"]
