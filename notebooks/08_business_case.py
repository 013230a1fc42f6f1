# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     notebook_metadata_filter: title,kernelspec
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
#   title: 8. The business case for change
# ---

# %% tags=["parameters"]
study: str = ""  # study folder or .xlsx workbook; empty: the bundled example study
interactive: bool = True  # show ipywidgets controls for exploring; `cvm report` / `cvm batch` run with False (static figures and tables only)
today: str = ""  # date (YYYY-MM-DD) the charter's days left and overdue fieldwork count from; empty: the day the notebook runs
target_subsegment: str = ""  # subsegment id the supplier targets; empty: the study's first subsegment
market_customers: str = ""  # customers in the market per subsegment as JSON, e.g. {"big": 400, "small": 1200}; empty: only the studied customers
adoption_share: float = 0.25  # expected share (0 to 1) of the target's market customers adopting at the new price
price_change: float = 0.0  # change of the offering's price per customer per period (positive raises it)
change_costs: str = ""  # resources the change needs, a cost per period each, as JSON, e.g. {"Sales training": 50000}; empty: none listed
contribution_per_customer: str = ""  # the supplier's contribution margin per adopting customer per period at today's price (its revenue from the customer less the variable cost to serve it), e.g. 20000; empty: not given, so the profit is not computed and the break-even is stated as the contribution needed
draws: int = 10000  # bootstrap draws over the studied customers for the ranges of the customer's figures
seed: int = 0  # seed of the bootstrap draws (same seed, same case)

# %%
# %matplotlib inline
import cvm_kit as cvm
from cvm_kit import report
from IPython.display import HTML, display
from cvm_kit.business_case import business_case
from cvm_kit.plotting.business_case import INCENTIVE_QUANTITIES, plot_profit_range
from cvm_kit.reporting.labels import human_labels, table_formats

s = report.open_study(study)
report.header(s, "8. The business case for change", today=today or None)
target = report.pick_subsegment(s, target_subsegment)
market = report.market_customers(s, market_customers)
costs = report.mapping_parameter(change_costs, "change_costs")
if not target_subsegment and len(s.subsegment_ids) > 1:
    report.note(f"Target: {target}, the study's first subsegment (the default; give target_subsegment to weigh "
                "another). The case below is that choice worked out, not a recommendation among subsegments.")
if not market_customers:
    report.note("Market counts: the studied customers of each subsegment (the default; give market_customers "
                "for the whole market).")

# %% [markdown]
# What targeting one subsegment at a new price would earn the supplier: the
# expected adopting customers, the supplier's contribution and profit from
# them (from its own margin per customer, never from the customer's price
# difference), the break-even, the incentive the customers keep at the new
# price, and the actions, resources, concerns and milestones management
# decides on.

# %%
bc = report.attempt(business_case, s, target_subsegment=target, market_customers=market,
                    adoption_share=adoption_share, price_change=price_change, change_costs=costs,
                    contribution_per_customer=str(contribution_per_customer), draws=draws, seed=seed)
if bc is not None:
    display(HTML(bc.to_html()))

# %% [markdown]
# ## The customer's incentive at the new price
#
# Each bar spans the 5th to the 95th percentile of the bootstrap draws over
# the studied customers, the tick is the median and the diamond the estimate:
# what the customers keep after the price change decides whether they adopt.

# %%
if bc is not None:
    report.show(plot_profit_range(bc.incentive, quantities=INCENTIVE_QUANTITIES, currency=s.currency,
                                  title="Customer's incentive at the new price"))
    keep = bc.value("share_with_positive_incentive")
    report.note(f"{keep:.0%} of the studied {target} customers keep a positive net value at the new price.")

# %% [markdown]
# ## Milestones
#
# The team fills in the owner, the due date and the status of each step, from
# management's approval to the value documented with the first adopting
# customers.

# %%
if bc is not None:
    table = human_labels(bc.milestones, s)
    report.display_table(table, caption=f"Milestones: targeting {target}", **table_formats(table))

# %%
if interactive and bc is not None:
    # the same case with another price change
    def _price(change):
        other = business_case(s, target_subsegment=target, market_customers=market, adoption_share=adoption_share,
                              price_change=change, change_costs=costs,
                              contribution_per_customer=str(contribution_per_customer), draws=draws, seed=seed)
        report.show(plot_profit_range(other.incentive, quantities=INCENTIVE_QUANTITIES, currency=s.currency,
                                      title="Customer's incentive at the new price"))
        report.note(other.break_even_text)

    step = max(abs(price_change), abs(bc.value("price_difference_now")), 1.0) / 4
    report.choose("Price change", {report.money(c, s.currency): c for c in [price_change + k * step for k in range(-4, 5)]},
                  _price, value=price_change)
