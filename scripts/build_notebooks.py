"""Write the templated notebook series in ``notebooks/`` (clean: no outputs, no execution counts).

The notebooks are the source of truth an analyst opens in JupyterLab; this
script is how they were written and how to rewrite them after a change here,
so that every notebook keeps the same conventions:

- the first cell is tagged ``parameters`` and holds annotated defaults,
  one comment per parameter (``papermill --help-notebook`` prints them);
- every notebook opens with the study header and charter (``report.header``);
- code cells are thin calls into cvm_kit; markdown cells carry the prose a
  manager reads in the HTML report (code is hidden there);
- widgets only under ``if interactive:`` (``cvm report``/``cvm batch`` pass
  ``interactive=False``), static tables and figures always.

Usage::

    python scripts/build_notebooks.py          # rewrite notebooks/*.ipynb
    python scripts/build_notebooks.py --check  # exit 1 if a notebook differs
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "notebooks"

STUDY = 'study: str = ""  # study folder or .xlsx workbook; empty: the bundled example study'
INTERACTIVE = ("interactive: bool = True  # show ipywidgets controls for exploring; "
               "`cvm report` / `cvm batch` run with False (static figures and tables only)")
TODAY = ('today: str = ""  # date (YYYY-MM-DD) the charter\'s days left and overdue fieldwork count from; '
         "empty: the day the notebook runs")

SETUP = """%matplotlib inline
import cvm_kit as cvm
from cvm_kit import report"""


def _notebook(stem: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A clean notebook: the parameters cell first, then the set-up cell (header), then the intro and the rest.

    ``cells`` starts with the intro (``# Title`` then prose), the parameters
    and the set-up cell; the title goes into the notebook's metadata (the
    HTML page title; the header cell shows it on the page).
    """
    (k0, intro), params, setup, *rest = cells
    if k0 != "md" or not intro.lstrip().startswith("# ") or params[0] != "params":
        raise ValueError(f"{stem}: expected the intro (# Title ...), then the parameters cell")
    title, _, text = intro.strip().partition("\n")
    cells = [params, setup, ("md", text.strip())] + rest
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "title": title.lstrip("#").strip(),
    }
    out = []
    for i, (kind, src) in enumerate(cells):
        cid = f"{stem[:2]}-{i:02d}"
        src = src.strip("\n")
        if kind == "md":
            c = new_markdown_cell(src, id=cid)
        else:
            c = new_code_cell(src, id=cid)
            c.metadata = {"tags": ["parameters"]} if kind == "params" else {}
            c.execution_count = None
            c.outputs = []
        out.append(c)
    nb.cells = out
    return nb


NOTEBOOKS: dict[str, list[tuple[str, str]]] = {}

NOTEBOOKS["01_data_gathering"] = [
    ("md", """
# 1. Data gathering

Where the research stands: the study's charter and hypotheses, whether the
study files are valid, which customers have given which inputs, where the
numbers come from, and what is still missing and from whom.
"""),
    ("params", f"""
{STUDY}
{INTERACTIVE}
{TODAY}
"""),
    ("code", f"""
{SETUP}
from cvm_kit import research
from cvm_kit.plotting import report as report_plots
from cvm_kit.plotting.research import plot_fieldwork_funnel

s, check = report.validated_study(study)  # on errors: shows every problem, then stops
report.header(s, "1. Data gathering", today=today or None)
"""),
    ("md", """
## Validation

Every file of the study is checked at once; warnings are normal while the
fieldwork is under way (e.g. a customer still missing an input).
"""),
    ("code", """
report.note(check.summary())
problems = report.validation_table(check)
if len(problems):
    report.display_table(problems, caption="Warnings")
"""),
    ("md", """
## Hypotheses: next-best-alternatives and points of parity and difference per subsegment
"""),
    ("code", """
report.display_table(research.alternatives(s), caption="Per subsegment")
"""),
    ("md", """
## Fieldwork: customers per subsegment against the method's six to eight
"""),
    ("code", """
funnel = research.fieldwork_by_subsegment(s)
report.display_table(funnel)
report.show(plot_fieldwork_funnel(funnel))
fw_note = research.fieldwork_note(s)
if fw_note:
    report.note(fw_note)
"""),
    ("code", """
report.display_table(research.fieldwork_by_customer(s, today=today or None),
                     caption="Per customer: the last step done and the next one planned")
"""),
    ("md", """
## Inputs coverage per customer and variable

An input is needed from a customer when an element that is not a point of
parity in the customer's subsegment (or the price) rests on it.
"""),
    ("code", """
coverage = report.coverage_matrix(s)
report.show(report_plots.plot_coverage(coverage))
report.display_table(report.coverage_summary(s, by="customer"), percent=["share_on_file"],
                     caption="Per customer")
report.display_table(report.coverage_summary(s, by="phrase"), percent=["share_on_file"],
                     caption="Per input variable")
"""),
    ("md", """
## Source and reliability of the measurements

`data` (records, measured) is stronger than a customer's `estimate`, which is
stronger than a `perception`; `assumption` is the team's own figure.
"""),
    ("code", """
mix = report.source_mix(s)
report.show(report_plots.plot_source_mix(mix))
report.display_table(mix, percent=["share"])
"""),
    ("md", """
## Still missing, and whom to ask
"""),
    ("code", """
missing = research.missing_by_contact(s)
if len(missing):
    report.display_table(missing, caption=f"{len(missing)} inputs missing")
else:
    report.note("Every needed input is on file.")
"""),
    ("code", """
if interactive:
    # explore one subsegment's coverage at a time
    report.choose("Subsegment", s.subsegment_ids,
                  lambda sub: report.show(report_plots.plot_coverage(coverage[coverage["subsegment"] == sub])))
"""),
]

NOTEBOOKS["02_estimates"] = [
    ("md", """
# 2. Estimates and the value summary

The customer value model: every element's value per customer, its mean and
95% interval per subsegment and for the whole segment, the totals (differential
value, price difference, net value), the placeholders (never summed) and every
assumption the figures rest on.
"""),
    ("params", f"""
{STUDY}
{INTERACTIVE}
{TODAY}
confidence: float = 0.95  # level of the t intervals around each mean
"""),
    ("code", f"""
{SETUP}
from cvm_kit.plotting import report as report_plots

s = report.open_study(study)
report.header(s, "2. Estimates and the value summary", today=today or None)
values = cvm.element_values(s)
summary = cvm.summarize(s, values, confidence=confidence)
totals = cvm.totals(s, values)
"""),
    ("md", """
## The value summary

Whole-segment mean and interval of each element, its mean per subsegment, its
status (a point of parity is worth 0), and placeholders with their perceived
range: they are listed, never summed.
"""),
    ("code", """
vs = cvm.value_summary(s, summary)
means = ["mean", "ci_low", "ci_high"] + [f"mean_{sub}" for sub in s.subsegment_ids] + ["perceived_low", "perceived_high"]
report.display_table(vs.drop(columns=["equation"]), money=means, currency=s.currency, percent=["share_from_data"])
"""),
    ("md", """
## Per element and subsegment
"""),
    ("code", """
report.show(report_plots.plot_estimates(summary, currency=s.currency))
report.display_table(summary, money=["mean", "sd", "se", "ci_low", "ci_high", "min", "max"],
                     currency=s.currency, percent=["share_from_data"])
"""),
    ("md", """
## Totals: differential value, price difference, net value

Net value to the customer = differential value − price difference, against
the next-best-alternative. A customer missing an input has no total (never a
silent 0).
"""),
    ("code", """
report.display_table(cvm.summarize_totals(s, totals), money=["mean", "sd", "se", "ci_low", "ci_high", "min", "max"],
                     currency=s.currency)
report.show(report_plots.plot_net_values(totals, currency=s.currency))
report.display_table(totals, money=list(report.TOTAL_LABELS), currency=s.currency, caption="Per customer")
"""),
    ("md", """
## Values still missing
"""),
    ("code", """
gaps = values[values["value"].isna()]
if len(gaps):
    report.display_table(gaps[["customer_id", "subsegment", "element_id", "missing_inputs"]])
else:
    report.note("Every element has a value for every customer.")
"""),
    ("md", """
## Assumptions
"""),
    ("code", """
report.display_table(cvm.assumptions(s))
"""),
    ("code", """
if interactive:
    # one element's value per customer
    def _element(element_id):
        one = values[values["element_id"] == element_id]
        report.show(report_plots.plot_net_values(one, value="value", currency=s.currency))
        report.display_table(one, money=["value"], currency=s.currency)

    report.choose("Element", list(dict.fromkeys(values["element_id"])), _element)
"""),
]

NOTEBOOKS["03_subsegment_variance"] = [
    ("md", """
# 3. Subsegment variance

Do the subsegments value the elements differently? For every element, and for
differential and net value: the difference of the subsegments' means with its
95% interval, Welch's test, a permutation p-value (exact where feasible: 6 to
8 customers per subsegment is a small sample), Hedges' g, and p-values
Holm-adjusted across the elements. Each row ends in a plain-language finding.
"""),
    ("params", f"""
{STUDY}
{INTERACTIVE}
{TODAY}
permutations: int = 10000  # Monte Carlo permutations when an exact enumeration is too large
seed: int = 0  # seed of the permutations and of the points' jitter (results are reproducible)
confidence: float = 0.95  # level of the interval of the difference of means
"""),
    ("code", f"""
{SETUP}
from cvm_kit.variance import compare_subsegments
from cvm_kit.plotting.variance import plot_subsegment_values

s = report.open_study(study)
report.header(s, "3. Subsegment variance", today=today or None)
values = cvm.element_values(s)
totals = cvm.totals(s, values)
comparison = report.attempt(compare_subsegments, s, values, totals, permutations=permutations, seed=seed,
                            confidence=confidence)
"""),
    ("md", """
## Findings
"""),
    ("code", """
if comparison is not None:
    report.display_table(comparison[["element_id", "name", "finding"]])
"""),
    ("md", """
## The statistics behind them
"""),
    ("code", """
if comparison is not None:
    report.display_table(comparison.drop(columns=["finding"]),
                         money=["mean_a", "mean_b", "difference", "ci_low", "ci_high"], currency=s.currency,
                         decimals={"p_value": 3, "p_permutation": 3, "p_holm": 3, "hedges_g": 2, "statistic": 2})
"""),
    ("md", """
## Each customer's value by subsegment

Boxes, the customers as points, and each subsegment's mean with its interval.
"""),
    ("code", """
if comparison is not None:
    for element_id in comparison.loc[comparison["kind"] == "element", "element_id"]:
        report.show(plot_subsegment_values(values, element_id=element_id, confidence=confidence, seed=seed))
report.show(plot_subsegment_values(totals, element_id="net_value", confidence=confidence, seed=seed))
"""),
    ("code", """
if interactive:
    report.choose("Element", list(dict.fromkeys(values["element_id"])),
                  lambda e: report.show(plot_subsegment_values(values, element_id=e, confidence=confidence)))
"""),
]

NOTEBOOKS["04_sensitivity"] = [
    ("md", """
# 4. Sensitivity: tornado charts and Monte Carlo

Which inputs move a typical customer's value most (one at a time, from low to
high, everything else at its mean), and how uncertain the value of a typical
customer of each subsegment is, with the chance that its net value is positive
and the largest price premium that keeps that chance high.
"""),
    ("params", f"""
{STUDY}
{INTERACTIVE}
{TODAY}
by: str = "variable"  # tornado factors: "variable" (input phrases through the equations) or "element"
tornado_range: str = "p10-p90"  # low and high of a factor: "p10-p90", "sd" (mean plus or minus one sd) or "minmax"
of: str = "net"  # outcome of the tornado: "net" or "differential" value
max_factors: int = 12  # bars drawn per tornado chart (widest first); the table lists all
draws: int = 10000  # Monte Carlo draws per subsegment
seed: int = 0  # seed of the Monte Carlo draws (same seed, same draws)
method: str = "bootstrap"  # Monte Carlo: "bootstrap", "bootstrap_customers" or "parametric"
premium_prob: float = 0.8  # chance of a positive net value the largest safe premium must keep
"""),
    ("code", f"""
{SETUP}
from cvm_kit.sensitivity import simulate, simulation_summary, tornado
from cvm_kit.plotting.sensitivity import plot_simulation, plot_tornado

s = report.open_study(study)
report.header(s, "4. Sensitivity: tornado charts and Monte Carlo", today=today or None)
values = cvm.element_values(s)
totals = cvm.totals(s, values)
"""),
    ("md", """
## Tornado: the whole segment
"""),
    ("code", """
swing = report.attempt(tornado, s, by=by, range=tornado_range, of=of, values=values)
if swing is not None:
    report.show(plot_tornado(swing, max_factors=max_factors))
    report.display_table(swing, money=["low_value", "base_value", "high_value", "swing"], currency=s.currency)
"""),
    ("md", """
## Tornado per subsegment
"""),
    ("code", """
for sub in s.subsegment_ids:
    per_sub = report.attempt(tornado, s, by=by, range=tornado_range, of=of, subsegment=sub, values=values)
    if per_sub is not None:
        ax = plot_tornado(per_sub, max_factors=max_factors)
        ax.set_title(f"{sub}: {ax.get_title()}".strip(": "))
        report.show(ax)
"""),
    ("md", """
## Monte Carlo: the value of a typical customer of each subsegment
"""),
    ("code", """
sim = report.attempt(simulate, s, draws=draws, seed=seed, method=method, values=values, totals=totals)
if sim is not None:
    report.show(plot_simulation(sim))
    outlook = simulation_summary(sim, prob=premium_prob)
    report.display_table(outlook, money=[c for c in outlook.columns
                                         if c.startswith(("differential_", "net_")) or c == "max_premium"],
                         currency=s.currency, percent=["p_net_positive", "premium_prob"])
    report.note(sim.attrs.get("assumption", ""))
    for text in sim.attrs.get("notes", []):
        report.note(text, kind="warning")
"""),
    ("code", """
if interactive:
    def _tornado(choice):
        rule, sub = choice
        report.show(plot_tornado(tornado(s, by=by, range=rule, of=of, subsegment=sub, values=values),
                                 max_factors=max_factors))

    report.choose("Range, subsegment",
                  {f"{r}, {sub or 'all customers'}": (r, sub) for r in ("p10-p90", "sd", "minmax")
                   for sub in [None] + s.subsegment_ids},
                  _tornado, value=(tornado_range, None))
"""),
]

NOTEBOOKS["05_drivers_and_prospects"] = [
    ("md", """
# 5. What drives value, segmentation, and the most attractive prospects

Which customer characteristics explain the variation in value across
customers, whether a different split of the customers would explain it better
than the current subsegments, and which studied customers and prospects are
worth most.
"""),
    ("params", f"""
{STUDY}
{INTERACTIVE}
{TODAY}
target: str = "net_value"  # the value explained: "net_value", "differential_value" or an element id
min_gain: float = 0.15  # share of variance a new split must explain beyond the subsegments to be suggested
top_drivers: int = 1  # characteristics used to predict the prospects' net value
"""),
    ("code", f"""
{SETUP}
from cvm_kit.prospects import rank_customers, score_prospects
from cvm_kit.segments import best_split, driver_frame, drivers, segmentation_suggestion
from cvm_kit.plotting.segments import plot_drivers, plot_value_vs_driver

s = report.open_study(study)
report.header(s, "5. Drivers, segmentation and prospects", today=today or None)
values = cvm.element_values(s)
"""),
    ("md", """
## What drives value

Each characteristic of customers.csv alone, by ordinary least squares:
R² and adjusted R² (categories as dummies), the F-test p-value, and the rank.
"""),
    ("code", """
found = report.attempt(drivers, s, values=values)
if found is not None:
    report.show(plot_drivers(found, element_id=target))
    report.display_table(found[found["element_id"] == target],
                         decimals={"r_squared": 2, "adj_r_squared": 2, "f_statistic": 2, "p_value": 3})
    frame = report.attempt(driver_frame, s, target, values=values)
    if frame is not None:
        report.show(plot_value_vs_driver(frame))
"""),
    ("code", """
if found is not None:
    report.display_table(found, decimals={"r_squared": 2, "adj_r_squared": 2, "f_statistic": 2, "p_value": 3},
                         caption="Every element")
"""),
    ("md", """
## Segmentation: keep the subsegments, or split differently?
"""),
    ("code", """
suggestion = report.attempt(segmentation_suggestion, s, target=target, min_gain=min_gain, values=values)
if suggestion is not None:
    report.note(suggestion.text)
    report.display_table(suggestion.table, money=["mean_a", "mean_b"], currency=s.currency,
                         percent=["share_explained", "current_share", "gain"], caption="Best split per element")
splits = report.attempt(best_split, s, target, values=values)
if splits is not None:
    report.display_table(splits, money=["mean_a", "mean_b"], currency=s.currency,
                         percent=["share_explained", "current_share", "gain"], caption=f"Best split of {target} per characteristic")
"""),
    ("md", """
## The most attractive customers and prospects
"""),
    ("code", """
report.display_table(rank_customers(s), money=["net_value", "differential_value", "price_difference"],
                     currency=s.currency, caption="Studied customers by net value")
prospects = report.attempt(score_prospects, s, top=top_drivers, values=values)
if prospects is not None and len(prospects):
    report.display_table(prospects, money=["predicted_net_value", "pi_low", "pi_high"], currency=s.currency,
                         caption="Prospects by predicted net value (95% prediction interval)")
elif prospects is not None:
    report.note(prospects.attrs.get("message", "No prospects to score."))
"""),
    ("code", """
if interactive and found is not None:
    def _driver(element_id):
        report.show(plot_drivers(found, element_id=element_id))
        one = report.attempt(driver_frame, s, element_id, values=values)
        if one is not None:
            report.show(plot_value_vs_driver(one))

    report.choose("Value", list(dict.fromkeys(found["element_id"])), _driver, value=target)
"""),
]

NOTEBOOKS["06_customer_report"] = [
    ("md", """
# Customer value report

One customer's value: each element against its subsegment's and the whole
segment's mean, its net value, the assumptions behind the figures and the
data still missing.
"""),
    ("params", f"""
{STUDY}
customer_id: str = ""  # the customer reported on (customer_id in customers.csv); empty: the first customer
{INTERACTIVE}
{TODAY}
"""),
    ("code", f"""
{SETUP}
from cvm_kit.plotting.report import plot_customer_values

s = report.open_study(study)
cid = report.pick_customer(s, customer_id)
report.header(s, f"Customer value report: {{cid}}", today=today or None)
report.display_table(report.customer_facts(s, cid))
"""),
    ("md", """
## Net value to the customer
"""),
    ("code", """
values = cvm.element_values(s)
report.display_table(report.customer_totals(s, cid).drop(columns=["quantity"]),
                     money=["value", "subsegment_mean", "segment_mean", "vs_subsegment"], currency=s.currency)
"""),
    ("md", """
## Element by element, against the subsegment and the segment
"""),
    ("code", """
mine = report.customer_values(s, cid, values)
report.show(plot_customer_values(mine, currency=s.currency))
report.display_table(mine[mine["status"] != "placeholder"],
                     money=["value", "subsegment_mean", "segment_mean", "vs_subsegment"], currency=s.currency)
"""),
    ("md", """
Placeholders are worth something to the customer that the study does not
quantify; they are listed with the perceived range, never summed.
"""),
    ("code", """
unvalued = report.placeholders(s)
if len(unvalued):
    report.display_table(unvalued, money=["perceived_low", "perceived_high"], currency=s.currency)
"""),
    ("md", """
## Assumptions behind these figures
"""),
    ("code", """
report.display_table(report.customer_assumptions(s, cid))
"""),
    ("md", """
## Data still missing from this customer
"""),
    ("code", """
still = report.customer_missing(s, cid)
if len(still):
    report.display_table(still)
else:
    report.note("Every input this customer's values need is on file.")
"""),
    ("code", """
if interactive:
    from cvm_kit.calculator_widgets import value_calculator

    display(value_calculator(s, customer=cid))
"""),
]

NOTEBOOKS["07_value_documenter"] = [
    ("md", """
# 7. Value documenter: value promised against value realized

What was promised to customers and what was later documented with them
(realized.csv): per customer and element the realization rate (realized ÷
promised) and the gap, across customers which elements deliver what was
promised, and each documented customer's value case history, the evidence
the sales force shows the next prospects.
"""),
    ("params", f"""
{STUDY}
customer_id: str = ""  # the customer whose value case history is shown; empty: every customer with rows in realized.csv
{INTERACTIVE}
{TODAY}
rate: str = "overall_rate"  # realization rate drawn per element: "overall_rate" (totals), "mean_rate" or "median_rate"
"""),
    ("code", f"""
{SETUP}
from cvm_kit.documenter import delivery_by_element, document_value, value_case_history
from cvm_kit.plotting.documenter import plot_delivery_by_element, plot_value_case_history

s = report.open_study(study)
report.header(s, "7. Value documenter", today=today or None)
documented = None if s.realized is None else document_value(s)
if documented is None or documented.empty:
    report.note("Nothing documented yet: this study has no rows in realized.csv. Record what is promised to each "
                "adopting customer and what is later realized with it (customer_id, element_id, period_start, "
                "period_end, promised, realized, source, note) to document the value delivered.", kind="warning")
    documented = None
"""),
    ("md", """
## Promised versus realized, per customer and element

A realization rate of 1 means the customer got what was promised; the gap
is realized − promised (negative: less delivered than promised). The
estimate is the study's mean value of the element in the customer's
subsegment, put on the documented period.
"""),
    ("code", """
if documented is not None:
    report.display_table(documented.drop(columns=["estimate"]),
                         money=["promised", "realized", "gap", "estimate_for_period"], currency=s.currency,
                         decimals={"realization_rate": 2})
"""),
    ("md", """
## Which elements deliver what was promised
"""),
    ("code", """
if documented is not None:
    delivery = delivery_by_element(s, documented)
    report.show(plot_delivery_by_element(delivery, rate=rate))
    report.display_table(delivery, money=["total_promised", "total_realized", "total_gap",
                                          "total_estimate_for_period"], currency=s.currency,
                         percent=["share_at_or_above"],
                         decimals={"overall_rate": 2, "mean_rate": 2, "median_rate": 2, "realized_vs_estimate": 2})
"""),
    ("md", """
## Value case histories

Each documented customer's periods in order, with running totals per
element.
"""),
    ("code", """
if documented is not None:
    for cid in report.documented_customers(s, customer_id, documented):
        history = report.attempt(value_case_history, s, cid, documented)
        if history is not None:
            report.show(plot_value_case_history(history, currency=s.currency))
            report.display_table(history[["element", "period_start", "period_end", "promised", "realized",
                                          "realization_rate", "cum_promised", "cum_realized", "cum_rate", "note"]],
                                 money=["promised", "realized", "cum_promised", "cum_realized"], currency=s.currency,
                                 decimals={"realization_rate": 2, "cum_rate": 2}, caption=f"Value case history: {cid}")
"""),
    ("code", """
if interactive and documented is not None:
    # one documented customer at a time
    report.choose("Customer", report.documented_customers(s, "", documented),
                  lambda cid: report.show(plot_value_case_history(value_case_history(s, cid, documented),
                                                                  currency=s.currency)))
"""),
]

NOTEBOOKS["08_business_case"] = [
    ("md", """
# 8. The business case for change

What targeting one subsegment at a new price would earn the supplier: the
expected adopting customers, the incremental revenue, contribution and profit
with their range from the variation among the studied customers, the
incentive the customers keep at the new price, and the actions, resources,
concerns and milestones management decides on.
"""),
    ("params", f"""
{STUDY}
{INTERACTIVE}
{TODAY}
target_subsegment: str = ""  # subsegment id the supplier targets; empty: the study's first subsegment
market_customers: str = ""  # customers in the market per subsegment as JSON, e.g. {{"big": 400, "small": 1200}}; empty: only the studied customers
adoption_share: float = 0.25  # expected share (0 to 1) of the target's market customers adopting at the new price
price_change: float = 0.0  # change of the offering's price per customer per period (positive raises it)
change_costs: str = ""  # resources the change needs, a cost per period each, as JSON, e.g. {{"Sales training": 50000}}; empty: none listed
draws: int = 10000  # bootstrap draws over the studied customers for the ranges
seed: int = 0  # seed of the bootstrap draws (same seed, same case)
"""),
    ("code", f"""
{SETUP}
from IPython.display import HTML, display
from cvm_kit.business_case import business_case
from cvm_kit.plotting.business_case import plot_profit_range

s = report.open_study(study)
report.header(s, "8. The business case for change", today=today or None)
target = report.pick_subsegment(s, target_subsegment)
market = report.market_customers(s, market_customers)
costs = report.mapping_parameter(change_costs, "change_costs")
if not market_customers:
    report.note("No market counts given (parameter market_customers): the case counts only the studied customers "
                "of each subsegment. Give the number of customers in the market for a case management can use.",
                kind="warning")
"""),
    ("code", """
bc = report.attempt(business_case, s, target_subsegment=target, market_customers=market,
                    adoption_share=adoption_share, price_change=price_change, change_costs=costs,
                    draws=draws, seed=seed)
if bc is not None:
    display(HTML(bc.to_html()))
"""),
    ("md", """
## The range of the profitability impact

Each bar spans the 5th to the 95th percentile of the bootstrap draws, the
tick is the median and the diamond the estimate on the studied customers.
Adoption and the costs of the change are taken as given.
"""),
    ("code", """
if bc is not None:
    report.show(plot_profit_range(bc.profitability, currency=s.currency))
    report.display_table(bc.profitability.drop(columns=["quantity"]), money=["mean", "p5", "p50", "p95"],
                         currency=s.currency, percent=["p_positive"], caption="Profitability")
"""),
    ("md", """
## Milestones

The team fills in the owner, the due date and the status of each step, from
management's approval to the value documented with the first adopting
customers.
"""),
    ("code", """
if bc is not None:
    report.display_table(bc.milestones, caption=f"Milestones: targeting {target}")
"""),
    ("code", """
if interactive and bc is not None:
    # the same case with another price change
    def _price(change):
        other = business_case(s, target_subsegment=target, market_customers=market, adoption_share=adoption_share,
                              price_change=change, change_costs=costs, draws=draws, seed=seed)
        report.show(plot_profit_range(other.profitability, currency=s.currency))
        report.display_table(other.incentive.drop(columns=["quantity"]), money=["mean", "p5", "p50", "p95",
                                                                                "ci_low", "ci_high"],
                             currency=s.currency)

    step = max(abs(price_change), abs(bc.value("price_difference_per_customer")), 1.0) / 4
    report.choose("Price change", {report.money(c, s.currency): c for c in [price_change + k * step for k in range(-4, 5)]},
                  _price, value=price_change)
"""),
]


def build() -> dict[str, nbformat.NotebookNode]:
    """Every notebook of the series, by file stem."""
    return {stem: _notebook(stem, cells) for stem, cells in NOTEBOOKS.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only compare with notebooks/ (exit 1 on a difference)")
    args = ap.parse_args(argv)
    differ = []
    for stem, nb in build().items():
        path = OUT / f"{stem}.ipynb"
        text = nbformat.writes(nb) + "\n"
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                differ.append(path)
            continue
        nbformat.validate(nb)
        OUT.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    for p in differ:
        print(f"differs from the generator: {p}", file=sys.stderr)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
