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
#   title: '7. Value documenter: value promised against value realized'
# ---

# %% tags=["parameters"]
study: str = ""  # study folder or .xlsx workbook; empty: the bundled example study
customer_id: str = ""  # the customer whose value case history is shown; empty: every customer with rows in realized.csv
interactive: bool = True  # show ipywidgets controls for exploring; `cvm report` / `cvm batch` run with False (static figures and tables only)
today: str = ""  # date (YYYY-MM-DD) the charter's days left and overdue fieldwork count from; empty: the day the notebook runs
rate: str = "overall_rate"  # realization rate drawn per element: "overall_rate" (totals), "mean_rate" or "median_rate"
rate_by: str = "customer"  # documented rate counts "customer" (every promise to the customer met, summed over periods) or "row"
confidence: float = 0.95  # level of the documented rate's Wilson interval

# %%
# %matplotlib inline
import cvm_kit as cvm
from cvm_kit import report
from cvm_kit.documenter import delivery_by_element, document_value, documented_rate, value_case_history
from cvm_kit.plotting.documenter import plot_delivery_by_element, plot_value_case_history
from cvm_kit.reporting.labels import human_labels, table_formats

s = report.open_study(study)
report.header(s, "7. Value documenter", today=today or None)
documented = None if s.realized is None else document_value(s)
if documented is None or documented.empty:
    report.note("Nothing documented yet: this study has no rows in realized.csv. Record what is promised to each "
                "adopting customer and what is later realized with it (customer_id, element_id, period_start, "
                "period_end, promised, realized, source, note) to document the value delivered.", kind="warning")
    documented = None

# %% [markdown]
# Is the value promised to customers delivered? The documented rate first:
# the share of customers whose realized value meets what was promised to
# them; then which elements deliver, each realized figure against the promise
# made to that customer (realized.csv), and each documented customer's value
# case history, the evidence the sales force shows the next prospects.

# %% [markdown]
# ## The documented rate
#
# The share of customers whose realized value meets what was promised to
# them, with its Wilson interval: the figure to quote to the next prospect,
# with the interval showing how far a handful of customers can be trusted.

# %%
if documented is not None:
    rates = documented_rate(s, documented, by=rate_by, confidence=confidence)
    table = human_labels(rates[["element", "unit", "n", "met", "rate", "ci_low", "ci_high"]], s,
                         as_percent=("rate", "ci_low", "ci_high"))
    table = table.rename(columns={"95% interval low": f"{confidence:.0%} interval low",
                                  "95% interval high": f"{confidence:.0%} interval high"})
    fmts = table_formats(table)
    fmts["percent"] = ["Rate"] + [c for c in table.columns if "interval" in c]
    report.display_table(table, **fmts)
    overall = rates.set_index("element_id").loc["all"]
    if overall["n"]:
        report.note(f"{overall['met']} of {overall['n']} {overall['unit']} got at least what was promised "
                    f"({overall['rate']:.0%}; {confidence:.0%} Wilson interval {overall['ci_low']:.0%} to "
                    f"{overall['ci_high']:.0%}).")

# %% [markdown]
# ## Which elements deliver what was promised
#
# Per element, total realized ÷ total promised across customers; beside it,
# the realized value against the study's estimate for the same customers and
# periods (the subsegment's mean, put on the documented period), which tells
# whether the study itself was right.

# %%
if documented is not None:
    delivery = delivery_by_element(s, documented)
    report.show(plot_delivery_by_element(delivery, rate=rate))
    table = human_labels(delivery[["element", "n_customers", "total_promised", "total_realized", "overall_rate",
                                   "share_at_or_above", "total_estimate_for_period", "realized_vs_estimate"]], s,
                         money_unit=s.currency)
    report.display_table(table, **table_formats(table))

# %% [markdown]
# ## Realized against what was promised to each customer
#
# Each row compares the realized value with the promise made to that
# customer, not with the subsegment's average: "against the promise" says inside,
# below or above the promised range (or met / below a single promised
# figure); a realization rate of 1 means exactly what was promised and the
# gap is realized − promised.

# %%
if documented is not None:
    cols = ["customer_id", "subsegment", "element", "period_start", "period_end", "promised_low", "promised",
            "promised_high", "realized", "vs_promise", "realization_rate", "gap", "source", "note"]
    # a range column nobody filled in says nothing: left out
    cols = [c for c in cols if c not in ("promised_low", "promised_high", "note") or documented[c].notna().any()
            and (documented[c].astype(str) != "").any()]
    table = human_labels(documented[cols], s, money_unit=s.currency)
    report.display_table(table, **table_formats(table))
    counts = documented["vs_promise"].replace("", "no promise").value_counts()
    report.note("Realized against the promise: " + ", ".join(f"{n} {k}" for k, n in counts.items()) + ".")

# %% [markdown]
# ## Value case histories
#
# Each documented customer's periods in order, with running totals per
# element.

# %%
if documented is not None:
    for cid in report.documented_customers(s, customer_id, documented):
        history = report.attempt(value_case_history, s, cid, documented)
        if history is not None:
            report.show(plot_value_case_history(history, currency=s.currency))
            table = human_labels(history[["element", "period_start", "period_end", "promised", "realized",
                                          "vs_promise", "realization_rate", "cum_promised", "cum_realized",
                                          "cum_rate"]], s, money_unit=s.currency)
            report.display_table(table, caption=f"Value case history: {cid}", **table_formats(table))

# %%
if interactive and documented is not None:
    # one documented customer at a time
    report.choose("Customer", report.documented_customers(s, "", documented),
                  lambda cid: report.show(plot_value_case_history(value_case_history(s, cid, documented),
                                                                  currency=s.currency)))
