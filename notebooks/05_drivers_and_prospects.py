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
#   title: 5. What drives value, segmentation, and the most attractive prospects
# ---

# %% tags=["parameters"]
study: str = ""  # study folder or .xlsx workbook; empty: the bundled example study
interactive: bool = True  # show ipywidgets controls for exploring; `cvm report` / `cvm batch` run with False (static figures and tables only)
today: str = ""  # date (YYYY-MM-DD) the charter's days left and overdue fieldwork count from; empty: the day the notebook runs
target: str = "net_value"  # the value explained: "net_value", "differential_value" or an element id
min_gain: float = 0.15  # share of variance a new split must explain beyond the subsegments to be suggested
top_drivers: int = 1  # characteristics used to predict the prospects' net value

# %%
# %matplotlib inline
import cvm_kit as cvm
from cvm_kit import report
from cvm_kit.prospects import rank_customers, score_prospects
from cvm_kit.segments import best_split, driver_frame, drivers, segmentation_suggestion
from cvm_kit.plotting.segments import plot_drivers, plot_value_vs_driver
from cvm_kit.reporting.labels import element_names, human_labels, table_formats, unit

s = report.open_study(study)
report.header(s, "5. Drivers, segmentation and prospects", today=today or None)
values = cvm.element_values(s)
names = element_names(s)
target_name = names.get(target, target)

# %% [markdown]
# Which customers and prospects are worth most, which customer
# characteristics explain why value differs from one customer to another, and
# whether a different split of the customers would explain it better than the
# current subsegments.

# %% [markdown]
# ## The most attractive customers and prospects

# %%
ranked = rank_customers(s)
table = human_labels(ranked, s)
report.display_table(table, caption="Studied customers by net value", **table_formats(table))
prospects = report.attempt(score_prospects, s, top=top_drivers, values=values)
if prospects is not None and len(prospects):
    table = human_labels(prospects.rename(columns={"prospect_id": "prospect"}), s)
    report.display_table(table, caption="Prospects by predicted net value (95% prediction interval)",
                         **table_formats(table))
elif prospects is not None:
    report.note(prospects.attrs.get("message", "No prospects to score."))

# %% [markdown]
# ## What drives value
#
# Each characteristic of customers.csv alone, by ordinary least squares:
# R² and adjusted R² (categories as dummies), the F-test p-value, and the rank.

# %%
found = report.attempt(drivers, s, values=values)
if found is not None:
    report.show(plot_drivers(found, element_id=target, name=target_name.lower() if target in (
        "net_value", "differential_value") else target_name))
    table = human_labels(found.loc[found["element_id"] == target,
                                   ["rank", "characteristic", "n", "r_squared", "adj_r_squared", "p_value", "note"]], s)
    report.display_table(table, caption=f"What explains {target_name}", **table_formats(table))
    frame = report.attempt(driver_frame, s, target, values=values)
    if frame is not None:
        report.show(plot_value_vs_driver(frame, name=target_name, currency=unit(s)))

# %%
if found is not None:
    table = human_labels(found[["element_id", "rank", "characteristic", "n", "r_squared", "adj_r_squared", "p_value"]],
                         s)
    report.display_table(table, caption="Every element", **table_formats(table))

# %% [markdown]
# ## Segmentation: keep the subsegments, or split differently?

# %%
split_cols = ["characteristic", "rule", "group_a", "n_a", "mean_a", "group_b", "n_b", "mean_b", "share_explained",
              "current_share", "gain"]
suggestion = report.attempt(segmentation_suggestion, s, target=target, min_gain=min_gain, values=values)
if suggestion is not None:
    report.note(suggestion.text)
    t = suggestion.table.assign(target=suggestion.table["target"].map(lambda q: names.get(q, q)))
    table = human_labels(t[["target"] + split_cols], s).rename(columns={"Target": "Value explained"})
    report.display_table(table, caption="Best split per element", **table_formats(table))
splits = report.attempt(best_split, s, target, values=values, min_size=3)  # as the suggestion above weighs them
if splits is not None:
    table = human_labels(splits[split_cols], s)
    report.display_table(table, caption=f"Best split of {target_name} per characteristic (3+ customers a side)",
                         **table_formats(table))

# %%
if interactive and found is not None:
    def _driver(element_id):
        report.show(plot_drivers(found, element_id=element_id, name=names.get(element_id, element_id)))
        one = report.attempt(driver_frame, s, element_id, values=values)
        if one is not None:
            report.show(plot_value_vs_driver(one, name=names.get(element_id, element_id), currency=unit(s)))

    report.choose("Value", {names.get(e, e): e for e in dict.fromkeys(found["element_id"])}, _driver, value=target)
