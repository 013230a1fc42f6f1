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
confidence: float = 0.95  # level of the interval of the difference of means (and of the hypothesis tests: alpha is 1 - confidence)
parity_margin: float = 0.0  # parity margin in currency per period for the equivalence tests; 0: the study's parity_margin

# %%
# %matplotlib inline
import cvm_kit as cvm
from cvm_kit import report
from cvm_kit.variance import compare_subsegments
from cvm_kit.hypothesis_tests import check_hypotheses, hypotheses_flags
from cvm_kit.shrinkage import shrink
from cvm_kit.plotting.variance import plot_subsegment_values
from cvm_kit.reporting.labels import element_names, human_labels, table_formats, unit

s = report.open_study(study)
report.header(s, "3. Subsegment variance", today=today or None)
values = cvm.element_values(s)
totals = cvm.totals(s, values)
names = element_names(s)
comparison = None
if len(s.subsegment_ids) < 2:
    report.note(f"The study has one subsegment ({s.subsegment_ids[0]}): there is nothing to compare between "
                "subsegments. The picture below shows each customer's net value; page 5 says whether the customers' "
                "characteristics suggest subsegments.")
else:
    comparison = report.attempt(compare_subsegments, s, values, totals, permutations=permutations, seed=seed,
                                confidence=confidence)

# %% [markdown]
# Do the subsegments value the offering differently? For every element, and
# for the differential and net value, one plain finding first; then the
# pictures of each customer's value by subsegment, the statistics behind the
# findings (difference of the means with its 95% interval, Welch's test, a
# permutation p-value, exact where feasible since 6 to 8 customers per
# subsegment is a small sample, Hedges' g, p-values Holm-adjusted across the
# elements), the hypotheses checked against the data, and the means of thin
# subsegments pooled toward each other.

# %% [markdown]
# ## Findings

# %%
if comparison is not None:
    table = human_labels(comparison[["element_id", "finding"]], s)
    report.display_table(table, **table_formats(table))

# %% [markdown]
# ## Each customer's value by subsegment
#
# Boxes, the customers as points, and each subsegment's mean with its interval.

# %%
u = unit(s)
if comparison is not None:
    for element_id in comparison.loc[comparison["kind"] == "element", "element_id"]:
        report.show(plot_subsegment_values(values, element_id=element_id, confidence=confidence, seed=seed,
                                           name=names.get(element_id, element_id), currency=u))
report.show(plot_subsegment_values(totals, element_id="net_value", confidence=confidence, seed=seed,
                                   name="Net value", currency=u))

# %% [markdown]
# ## The statistics behind the findings

# %%
if comparison is not None:
    table = human_labels(comparison[["element_id", "subsegment_a", "n_a", "mean_a", "subsegment_b", "n_b", "mean_b",
                                     "difference", "ci_low", "ci_high", "p_value", "p_permutation", "p_holm",
                                     "hedges_g"]], s)
    report.display_table(table, **table_formats(table))

# %% [markdown]
# ## Hypotheses checked against the data
#
# Per subsegment, each hypothesis against its customers' values: a point of
# parity is shown when its mean is equivalent to 0 within the study's parity
# margin (two one-sided t-tests, TOST); a point of difference or contention is
# shown when its interval excludes 0. Fewer than three customers with a value,
# or an element without an equation, is not enough data; a declared parity
# that is a shown difference (or the reverse) is contradicted. The rules:
# docs/inference.md.

# %%
hyp = check_hypotheses(s, margin=parity_margin or None, alpha=1 - confidence)
if hyp["margin"].isna().all():
    report.note("No parity margin set (parity_margin in project.yaml, or this notebook's parity_margin): "
                "points of parity are not tested for equivalence.")
for flag in hypotheses_flags(hyp):
    report.note(flag, kind="warning")
table = human_labels(hyp[["element_id", "subsegment", "hypothesis", "verdict", "finding"]], s)
report.display_table(table, **table_formats(table))
stats_cols = ["element_id", "subsegment", "n", "mean", "ci_low", "ci_high", "p_difference"]
if hyp["margin"].notna().any():  # equivalence is tested only against a parity margin
    stats_cols[6:6] = ["margin", "p_equivalence"]
table = human_labels(hyp[stats_cols], s)
report.display_table(table, caption="The statistics behind the verdicts", **table_formats(table))

# %% [markdown]
# ## Thin subsegments borrowing from each other (shrinkage)
#
# With six to eight customers a subsegment's mean is noisy. Partially pooled
# means (empirical Bayes: the spread between subsegments, tau², estimated by
# DerSimonian-Laird) pull each mean toward the pooled mean, the more the
# noisier it is against that spread; tau² at its boundary 0 means the
# subsegments differ no more than chance.

# %%
shrunk = shrink(s, values, totals)
table = human_labels(shrunk[["element_id", "subsegment", "finding"]], s)
report.display_table(table, **table_formats(table))
table = human_labels(shrunk[["element_id", "subsegment", "n", "mean", "se", "pooled_mean", "shrunk_mean", "weight"]],
                     s)
report.display_table(table, caption="The pooled and shrunk means", **table_formats(table))

# %%
if interactive:
    report.choose("Element", {names.get(e, e): e for e in dict.fromkeys(values["element_id"])},
                  lambda e: report.show(plot_subsegment_values(values, element_id=e, confidence=confidence,
                                                               name=names.get(e, e), currency=u)))
