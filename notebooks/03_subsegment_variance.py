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
#   title: 3. Subsegment variance
# ---

# %% tags=["parameters"]
study: str = ""  # study folder or .xlsx workbook; empty: the bundled example study
interactive: bool = True  # show ipywidgets controls for exploring; `cvm report` / `cvm batch` run with False (static figures and tables only)
today: str = ""  # date (YYYY-MM-DD) the charter's days left and overdue fieldwork count from; empty: the day the notebook runs
permutations: int = 10000  # Monte Carlo permutations when an exact enumeration is too large
seed: int = 0  # seed of the permutations and of the points' jitter (results are reproducible)
confidence: float = 0.95  # level of the interval of the difference of means

# %%
# %matplotlib inline
import cvm_kit as cvm
from cvm_kit import report
from cvm_kit.variance import compare_subsegments
from cvm_kit.plotting.variance import plot_subsegment_values

s = report.open_study(study)
report.header(s, "3. Subsegment variance", today=today or None)
values = cvm.element_values(s)
totals = cvm.totals(s, values)
comparison = report.attempt(compare_subsegments, s, values, totals, permutations=permutations, seed=seed,
                            confidence=confidence)

# %% [markdown]
# Do the subsegments value the elements differently? For every element, and for
# differential and net value: the difference of the subsegments' means with its
# 95% interval, Welch's test, a permutation p-value (exact where feasible: 6 to
# 8 customers per subsegment is a small sample), Hedges' g, and p-values
# Holm-adjusted across the elements. Each row ends in a plain-language finding.

# %% [markdown]
# ## Findings

# %%
if comparison is not None:
    report.display_table(comparison[["element_id", "name", "finding"]])

# %% [markdown]
# ## The statistics behind them

# %%
if comparison is not None:
    report.display_table(comparison.drop(columns=["finding"]),
                         money=["mean_a", "mean_b", "difference", "ci_low", "ci_high"], currency=s.currency,
                         decimals={"p_value": 3, "p_permutation": 3, "p_holm": 3, "hedges_g": 2, "statistic": 2})

# %% [markdown]
# ## Each customer's value by subsegment
#
# Boxes, the customers as points, and each subsegment's mean with its interval.

# %%
if comparison is not None:
    for element_id in comparison.loc[comparison["kind"] == "element", "element_id"]:
        report.show(plot_subsegment_values(values, element_id=element_id, confidence=confidence, seed=seed))
report.show(plot_subsegment_values(totals, element_id="net_value", confidence=confidence, seed=seed))

# %%
if interactive:
    report.choose("Element", list(dict.fromkeys(values["element_id"])),
                  lambda e: report.show(plot_subsegment_values(values, element_id=e, confidence=confidence)))
