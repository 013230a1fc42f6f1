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
from cvm_kit.reporting.customer import show_customer_headline
from cvm_kit.reporting.labels import human_labels, table_formats, unit

s = report.open_study(study)
cid = report.pick_customer(s, customer_id)
# customer-safe unless `internal`: no charter, no other customer's rows (subsegment and segment means only)
report.customer_header(s, cid, f"Customer value report: {cid}", internal=internal, today=today or None)

# %% [markdown]
# What the offering is worth to this customer per period against its
# next-best alternative: its net value (the value it gains less the price
# difference) beside the mean of its subsegment and of the whole segment,
# then element by element, the assumptions behind the figures and the data
# still missing from it.

# %%
values = cvm.element_values(s)
totals = cvm.totals(s, values)
show_customer_headline(s, cid, totals=totals)

# %% [markdown]
# ## Element by element, against the subsegment and the segment
#
# Bars: this customer's value of each element; markers: the mean of its
# subsegment and of the whole segment.

# %%
mine = report.customer_values(s, cid, values)
report.show(plot_customer_values(mine, currency=unit(s)))
quantified = mine[mine["status"] != "placeholder"]
cols = ["name", "status", "value", "subsegment_mean", "segment_mean", "vs_subsegment", "weakest_source"]
if quantified["missing_inputs"].astype(str).str.len().gt(0).any():
    cols.append("missing_inputs")
table = human_labels(quantified[cols], s)
report.display_table(table, **table_formats(table))

# %% [markdown]
# Placeholders are worth something to the customer that the study does not
# quantify; they are listed with the perceived range, never summed.

# %%
unvalued = report.placeholders(s)
if len(unvalued):
    table = human_labels(unvalued[["name", "category", "perceived_low", "perceived_high"]], s)
    report.display_table(table, **table_formats(table))

# %% [markdown]
# ## About the customer

# %%
report.display_table(report.customer_facts(s, cid).rename(columns={"field": "About the customer",
                                                                   "value": "Detail"}))

# %% [markdown]
# ## Assumptions behind these figures

# %%
table = human_labels(report.customer_assumptions(s, cid), s)
report.display_table(table, **table_formats(table))

# %% [markdown]
# ## Data still missing from this customer

# %%
still = report.customer_missing(s, cid)
if len(still):
    table = human_labels(still, s)
    report.display_table(table, **table_formats(table))
else:
    report.note("Every input this customer's values need is on file.")

# %%
if interactive:
    from cvm_kit.calculator_widgets import value_calculator

    display(value_calculator(s, customer=cid))

# %%
if internal:
    report.internal_banner()
