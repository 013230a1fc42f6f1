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
#   title: Customer value report
# ---

# %% tags=["parameters"]
study: str = ""  # study folder or .xlsx workbook; empty: the bundled example study
customer_id: str = ""  # the customer reported on (customer_id in customers.csv); empty: the first customer
interactive: bool = True  # show ipywidgets controls for exploring; `cvm report` / `cvm batch` run with False (static figures and tables only)
today: str = ""  # date (YYYY-MM-DD) the charter's days left and overdue fieldwork count from; empty: the day the notebook runs
internal: bool = False  # add the internal parts (study charter), marked "Internal - not for the customer"; False: safe to hand to the customer

# %%
# %matplotlib inline
import cvm_kit as cvm
from cvm_kit import report
from cvm_kit.plotting.report import plot_customer_values

s = report.open_study(study)
cid = report.pick_customer(s, customer_id)
# customer-safe unless `internal`: no charter, no other customer's rows (subsegment and segment means only)
report.customer_header(s, cid, f"Customer value report: {cid}", internal=internal, today=today or None)
report.display_table(report.customer_facts(s, cid))

# %% [markdown]
# One customer's value: each element against its subsegment's and the whole
# segment's mean, its net value, the assumptions behind the figures and the
# data still missing.

# %% [markdown]
# ## Net value to the customer

# %%
values = cvm.element_values(s)
report.display_table(report.customer_totals(s, cid).drop(columns=["quantity"]),
                     money=["value", "subsegment_mean", "segment_mean", "vs_subsegment"], currency=s.currency)

# %% [markdown]
# ## Element by element, against the subsegment and the segment

# %%
mine = report.customer_values(s, cid, values)
report.show(plot_customer_values(mine, currency=s.currency))
report.display_table(mine[mine["status"] != "placeholder"],
                     money=["value", "subsegment_mean", "segment_mean", "vs_subsegment"], currency=s.currency)

# %% [markdown]
# Placeholders are worth something to the customer that the study does not
# quantify; they are listed with the perceived range, never summed.

# %%
unvalued = report.placeholders(s)
if len(unvalued):
    report.display_table(unvalued, money=["perceived_low", "perceived_high"], currency=s.currency)

# %% [markdown]
# ## Assumptions behind these figures

# %%
report.display_table(report.customer_assumptions(s, cid))

# %% [markdown]
# ## Data still missing from this customer

# %%
still = report.customer_missing(s, cid)
if len(still):
    report.display_table(still)
else:
    report.note("Every input this customer's values need is on file.")

# %%
if interactive:
    from cvm_kit.calculator_widgets import value_calculator

    display(value_calculator(s, customer=cid))

# %%
if internal:
    report.internal_banner()
