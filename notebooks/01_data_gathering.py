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
#   title: 1. Data gathering
# ---

# %% tags=["parameters"]
study: str = ""  # study folder or .xlsx workbook; empty: the bundled example study
interactive: bool = True  # show ipywidgets controls for exploring; `cvm report` / `cvm batch` run with False (static figures and tables only)
today: str = ""  # date (YYYY-MM-DD) the charter's days left and overdue fieldwork count from; empty: the day the notebook runs
plan_precision: float = 0.2  # precision plan: target half-width of the 95% interval as a share of the mean (0.2: ±20%)

# %%
# %matplotlib inline
import cvm_kit as cvm
from cvm_kit import report
from cvm_kit import research
from cvm_kit.planning import plan, plan_notes
from cvm_kit.plotting import report as report_plots
from cvm_kit.plotting.research import plot_fieldwork_funnel
from cvm_kit.reporting.labels import human_labels, table_formats

s, check = report.validated_study(study)  # on errors: shows every problem, then stops
report.header(s, "1. Data gathering", today=today or None)

# %% [markdown]
# Where the research stands: how many customers per subsegment have given
# their data against the method's six to eight, whether the study files are
# valid, the hypotheses being tested, which customers have given which
# inputs, where the numbers come from, and what is still missing and from whom.

# %% [markdown]
# ## Fieldwork: customers per subsegment against the method's six to eight

# %%
funnel = research.fieldwork_by_subsegment(s)
fw_note = research.fieldwork_note(s)
if fw_note:
    report.note(fw_note)
report.show(plot_fieldwork_funnel(funnel))
table = human_labels(funnel[["subsegment", "customers", "invited", "agreed", "visited", "data_received", "declined",
                             "inputs_complete", "flag"]], s)
report.display_table(table, **table_formats(table))

# %% [markdown]
# ## Validation
#
# Every file of the study is checked at once; warnings are normal while the
# fieldwork is under way (e.g. a customer still missing an input).

# %%
report.note(check.summary())
problems = report.validation_table(check)
if len(problems):
    table = human_labels(problems, s)
    report.display_table(table, caption="Warnings", **table_formats(table))

# %% [markdown]
# ## Hypotheses: next-best-alternatives and points of parity and difference per subsegment

# %%
table = human_labels(research.alternatives(s).drop(columns=["own"], errors="ignore"), s)
report.display_table(table, caption="Per subsegment", **table_formats(table))

# %% [markdown]
# ## How many customers for a usable estimate (precision plan)
#
# Per element and on net value: the customers needed for the 95% interval to
# be within the target share of the mean, given the spread seen so far, and the
# assurance: the probability that a study of that size meets the target (the
# spread itself is uncertain with few customers).

# %%
precision_plan = plan(s, precision=plan_precision)
for line in plan_notes(precision_plan, plan_precision):
    report.note(line)
table = human_labels(precision_plan[["element_id", "subsegment", "n_now", "n_needed", "more_needed", "assurance",
                                     "mean", "sd", "note"]], s)
report.display_table(table, **table_formats(table))

# %%
by_customer = research.fieldwork_by_customer(s, today=today or None)
table = human_labels(by_customer[["customer_id", "subsegment", "stage", "last_step", "last_date", "next_step",
                                  "next_date", "overdue", "with", "missing_inputs"]], s)
report.display_table(table, caption="Per customer: the last step done and the next one planned",
                     **table_formats(table))

# %% [markdown]
# ## Inputs coverage per customer and variable
#
# An input is needed from a customer when an element that is not a point of
# parity in the customer's subsegment (or the price) rests on it.

# %%
coverage = report.coverage_matrix(s)
report.show(report_plots.plot_coverage(coverage))
for by, caption in (("customer", "Per customer"), ("phrase", "Per input variable")):
    table = human_labels(report.coverage_summary(s, by=by), s)
    report.display_table(table, caption=caption, **table_formats(table))

# %% [markdown]
# ## Source and reliability of the measurements
#
# `data` (records, measured) is stronger than a customer's `estimate`, which is
# stronger than a `perception`; `assumption` is the team's own figure.

# %%
mix = report.source_mix(s)
report.show(report_plots.plot_source_mix(mix))
table = human_labels(mix.rename(columns={"rows": "figures"}), s)
report.display_table(table, **table_formats(table))

# %% [markdown]
# ## Still missing, and whom to ask

# %%
missing = research.missing_by_contact(s)
if len(missing):
    table = human_labels(missing, s)
    report.display_table(table, caption=f"{len(missing)} input(s) not yet on file", **table_formats(table))
else:
    report.note("Every needed input is on file.")

# %%
if interactive:
    # explore one subsegment's coverage at a time
    report.choose("Subsegment", s.subsegment_ids,
                  lambda sub: report.show(report_plots.plot_coverage(coverage[coverage["subsegment"] == sub])))
