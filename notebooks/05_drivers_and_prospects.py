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

s = report.open_study(study)
report.header(s, "5. Drivers, segmentation and prospects", today=today or None)
values = cvm.element_values(s)

# %% [markdown]
# Which customer characteristics explain the variation in value across
# customers, whether a different split of the customers would explain it better
# than the current subsegments, and which studied customers and prospects are
# worth most.

# %% [markdown]
# ## What drives value
#
# Each characteristic of customers.csv alone, by ordinary least squares:
# R² and adjusted R² (categories as dummies), the F-test p-value, and the rank.

# %%
found = report.attempt(drivers, s, values=values)
if found is not None:
    report.show(plot_drivers(found, element_id=target))
    report.display_table(found[found["element_id"] == target],
                         decimals={"r_squared": 2, "adj_r_squared": 2, "f_statistic": 2, "p_value": 3})
    frame = report.attempt(driver_frame, s, target, values=values)
    if frame is not None:
        report.show(plot_value_vs_driver(frame))

# %%
if found is not None:
    report.display_table(found, decimals={"r_squared": 2, "adj_r_squared": 2, "f_statistic": 2, "p_value": 3},
                         caption="Every element")

# %% [markdown]
# ## Segmentation: keep the subsegments, or split differently?

# %%
suggestion = report.attempt(segmentation_suggestion, s, target=target, min_gain=min_gain, values=values)
if suggestion is not None:
    report.note(suggestion.text)
    report.display_table(suggestion.table, money=["mean_a", "mean_b"], currency=s.currency,
                         percent=["share_explained", "current_share", "gain"], caption="Best split per element")
splits = report.attempt(best_split, s, target, values=values)
if splits is not None:
    report.display_table(splits, money=["mean_a", "mean_b"], currency=s.currency,
                         percent=["share_explained", "current_share", "gain"], caption=f"Best split of {target} per characteristic")

# %% [markdown]
# ## The most attractive customers and prospects

# %%
report.display_table(rank_customers(s), money=["net_value", "differential_value", "price_difference"],
                     currency=s.currency, caption="Studied customers by net value")
prospects = report.attempt(score_prospects, s, top=top_drivers, values=values)
if prospects is not None and len(prospects):
    report.display_table(prospects, money=["predicted_net_value", "pi_low", "pi_high"], currency=s.currency,
                         caption="Prospects by predicted net value (95% prediction interval)")
elif prospects is not None:
    report.note(prospects.attrs.get("message", "No prospects to score."))

# %%
if interactive and found is not None:
    def _driver(element_id):
        report.show(plot_drivers(found, element_id=element_id))
        one = report.attempt(driver_frame, s, element_id, values=values)
        if one is not None:
            report.show(plot_value_vs_driver(one))

    report.choose("Value", list(dict.fromkeys(found["element_id"])), _driver, value=target)
