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
#   title: Value calculator
# ---

# %% tags=["parameters"]
study: str = ""  # study folder or .xlsx workbook; empty: the bundled example study
customer_id: str = ""  # a studied customer whose own inputs pre-fill the calculator; empty: a new prospect
subsegment: str = ""  # subsegment whose input means fill the gaps and whose points of parity apply; empty: the customer's, else the first
interactive: bool = True  # the live ipywidgets calculator (JupyterLab, Voila); False: the same figures as a static table and waterfall

# %% [markdown]
# # Value calculator
#
# Change any input (pre-filled with the customer's own figures, the
# study's constants, or the subsegment's means): the element values, the
# differential value, the price difference and the net value to the customer
# update at once, with the value waterfall. Every figure comes from the study's
# own word equations (`cvm_kit.values.evaluate`).

# %%
# %matplotlib inline
from cvm_kit import report
from cvm_kit.calculator_widgets import value_calculator
from cvm_kit.plotting.calculator import plot_value_waterfall

s = report.open_study(study)
calc = value_calculator(s, customer=customer_id.strip() or None, subsegment=subsegment.strip() or None)
if interactive:
    display(calc)
else:
    report.display_table(calc.result[["name", "kind", "status", "value", "missing_inputs"]],
                         money=["value"], currency=s.currency)
    report.show(plot_value_waterfall(calc.waterfall, currency=s.currency))
