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
from cvm_kit.plotting import report as report_plots

s = report.open_study(study)
report.header(s, "2. Estimates and the value summary", today=today or None)
values = cvm.element_values(s)
summary = cvm.summarize(s, values, confidence=confidence)
totals = cvm.totals(s, values)

# %% [markdown]
# The customer value model: every element's value per customer, its mean and
# 95% interval per subsegment and for the whole segment, the totals (differential
# value, price difference, net value), the placeholders (never summed) and every
# assumption the figures rest on.

# %% [markdown]
# ## The customer value model per subsegment
#
# Each element's mean adds up to the differential value; the price difference
# is taken off to give the net value to the customer (black: 95% interval).
# Placeholders are listed under each chart, never summed.

# %%
from cvm_kit.executive import value_waterfall
from cvm_kit.plotting.waterfall import plot_value_waterfall

for sub in s.subsegment_ids:
    report.show(plot_value_waterfall(value_waterfall(s, sub, values=values, totals=totals)))

# %% [markdown]
# ## The value summary
#
# Whole-segment mean and interval of each element, its mean per subsegment, its
# status (a point of parity is worth 0), and placeholders with their perceived
# range: they are listed, never summed.

# %%
vs = cvm.value_summary(s, summary)
means = ["mean", "ci_low", "ci_high"] + [f"mean_{sub}" for sub in s.subsegment_ids] + ["perceived_low", "perceived_high"]
report.display_table(vs.drop(columns=["equation"]), money=means, currency=s.currency, percent=["share_from_data"])

# %% [markdown]
# ## Per element and subsegment

# %%
report.show(report_plots.plot_estimates(summary, currency=s.currency))
report.display_table(summary, money=["mean", "sd", "se", "ci_low", "ci_high", "min", "max"],
                     currency=s.currency, percent=["share_from_data"])

# %% [markdown]
# ## Totals: differential value, price difference, net value
#
# Net value to the customer = differential value − price difference, against
# the next-best-alternative. A customer missing an input has no total (never a
# silent 0).

# %%
report.display_table(cvm.summarize_totals(s, totals), money=["mean", "sd", "se", "ci_low", "ci_high", "min", "max"],
                     currency=s.currency)
report.show(report_plots.plot_net_values(totals, currency=s.currency))
report.display_table(totals, money=list(report.TOTAL_LABELS), currency=s.currency, caption="Per customer")

# %% [markdown]
# ## Values still missing

# %%
gaps = values[values["value"].isna()]
if len(gaps):
    report.display_table(gaps[["customer_id", "subsegment", "element_id", "missing_inputs"]])
else:
    report.note("Every element has a value for every customer.")

# %% [markdown]
# ## Assumptions

# %%
report.display_table(cvm.assumptions(s))

# %%
if interactive:
    # one element's value per customer
    def _element(element_id):
        one = values[values["element_id"] == element_id]
        report.show(report_plots.plot_net_values(one, value="value", currency=s.currency))
        report.display_table(one, money=["value"], currency=s.currency)

    report.choose("Element", list(dict.fromkeys(values["element_id"])), _element)
