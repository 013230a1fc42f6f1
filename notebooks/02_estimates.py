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
#   title: 2. Estimates and the value summary
# ---

# %% tags=["parameters"]
study: str = ""  # study folder or .xlsx workbook; empty: the bundled example study
interactive: bool = True  # show ipywidgets controls for exploring; `cvm report` / `cvm batch` run with False (static figures and tables only)
today: str = ""  # date (YYYY-MM-DD) the charter's days left and overdue fieldwork count from; empty: the day the notebook runs
confidence: float = 0.95  # level of the t intervals around each mean

# %%
# %matplotlib inline
import cvm_kit as cvm
from cvm_kit import report
from cvm_kit.executive import value_waterfall
from cvm_kit.plotting import report as report_plots
from cvm_kit.plotting.waterfall import plot_value_waterfall
from cvm_kit.reporting.labels import element_names, human_labels, table_formats, unit

s = report.open_study(study)
report.header(s, "2. Estimates and the value summary", today=today or None)
values = cvm.element_values(s)
summary = cvm.summarize(s, values, confidence=confidence)
totals = cvm.totals(s, values)
names = element_names(s)

# %% [markdown]
# What the offering is worth to a customer, per subsegment: each element's
# mean value adds up to the differential value, the price difference is taken
# off, and what is left is the net value to the customer (with its 95%
# interval). Below the pictures: the value summary per element, the totals,
# each customer's figures, the values still missing and every assumption the
# figures rest on.

# %% [markdown]
# ## The customer value model per subsegment
#
# Each element's mean adds up to the differential value; the price difference
# is taken off to give the net value to the customer (black: 95% interval).
# Placeholders are listed under each chart, never summed.

# %%
for sub in s.subsegment_ids:
    steps = report.attempt(value_waterfall, s, sub, values=values, totals=totals)
    if steps is not None:
        report.show(plot_value_waterfall(steps))

# %% [markdown]
# ## Totals: differential value, price difference, net value
#
# Net value to the customer = differential value − price difference, against
# the next-best-alternative, per subsegment and for the whole segment. A
# customer missing an input has no total (never a silent 0).

# %%
tt = cvm.summarize_totals(s, totals)
tt = tt.assign(quantity=tt["quantity"].map(lambda q: names.get(q, q)),
               subsegment=tt["subsegment"].replace({"all": "whole segment"}))
table = human_labels(tt[["quantity", "subsegment", "n", "mean", "ci_low", "ci_high"]], s)
report.display_table(table, **table_formats(table))

# %% [markdown]
# ## The value summary
#
# Per element: its status, the whole segment's mean and 95% interval, the
# mean per subsegment and the share of the value resting on measured data.
# A point of parity is worth 0. Placeholders follow, with the range customers
# perceive: they are listed, never summed.

# %%
vs = cvm.value_summary(s, summary)
valued = vs[vs["status"] != "placeholder"]
cols = (["name", "status", "n", "mean", "ci_low", "ci_high"] + [f"mean_{sub}" for sub in s.subsegment_ids]
        + ["share_from_data"])
table = human_labels(valued[[c for c in cols if c in valued.columns]], s)
report.display_table(table, **table_formats(table))
unvalued = report.placeholders(s)
if len(unvalued):
    table = human_labels(unvalued[["name", "category", "perceived_low", "perceived_high"]], s)
    report.display_table(table, **table_formats(table),
                         caption="The placeholder elements: listed with the range customers perceive, never summed")

# %% [markdown]
# ## Per element and subsegment

# %%
report.show(report_plots.plot_estimates(summary, currency=unit(s), names=names))
per = summary.assign(subsegment=summary["subsegment"].replace({"all": "whole segment"}))
table = human_labels(per[["element_id", "subsegment", "status", "n", "mean", "ci_low", "ci_high", "min", "max",
                          "share_from_data"]], s)
report.display_table(table, **table_formats(table))

# %% [markdown]
# ## Each customer's totals

# %%
report.show(report_plots.plot_net_values(totals, currency=unit(s)))
table = human_labels(totals[["customer_id", "subsegment", "differential_value", "price_difference", "net_value"]], s)
report.display_table(table, **table_formats(table))

# %% [markdown]
# ## Values still missing

# %%
gaps = values[values["value"].isna()]
if len(gaps):
    table = human_labels(gaps[["customer_id", "subsegment", "element_id", "missing_inputs"]], s)
    report.display_table(table, **table_formats(table))
else:
    report.note("Every element has a value for every customer.")

# %% [markdown]
# ## Assumptions

# %%
table = human_labels(cvm.assumptions(s), s)
report.display_table(table, **table_formats(table))

# %%
if interactive:
    # one element's value per customer
    def _element(element_id):
        one = values[values["element_id"] == element_id]
        report.show(report_plots.plot_net_values(one, value="value", currency=unit(s)))
        table = human_labels(one[["customer_id", "subsegment", "value", "weakest_source", "missing_inputs"]], s)
        report.display_table(table, **table_formats(table))

    report.choose("Element", {names.get(e, e): e for e in dict.fromkeys(values["element_id"])}, _element)
