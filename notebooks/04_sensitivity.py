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
#   title: '4. Sensitivity: tornado charts and Monte Carlo'
# ---

# %% tags=["parameters"]
study: str = ""  # study folder or .xlsx workbook; empty: the bundled example study
interactive: bool = True  # show ipywidgets controls for exploring; `cvm report` / `cvm batch` run with False (static figures and tables only)
today: str = ""  # date (YYYY-MM-DD) the charter's days left and overdue fieldwork count from; empty: the day the notebook runs
by: str = "variable"  # tornado factors: "variable" (input phrases through the equations) or "element"
tornado_range: str = "p10-p90"  # low and high of a factor: "p10-p90", "sd" (mean plus or minus one sd) or "minmax"
of: str = "net"  # outcome of the tornado: "net" or "differential" value
max_factors: int = 12  # bars drawn per tornado chart (widest first); the table lists all
draws: int = 10000  # Monte Carlo draws per subsegment
seed: int = 0  # seed of the Monte Carlo draws (same seed, same draws)
method: str = "bootstrap"  # Monte Carlo: "bootstrap", "bootstrap_customers" or "parametric"
premium_prob: float = 0.8  # chance of a positive net value the largest safe premium must keep

# %%
# %matplotlib inline
import cvm_kit as cvm
from cvm_kit import report
from cvm_kit.sensitivity import simulate, simulation_summary, tornado
from cvm_kit.plotting.sensitivity import plot_simulation, plot_tornado

s = report.open_study(study)
report.header(s, "4. Sensitivity: tornado charts and Monte Carlo", today=today or None)
values = cvm.element_values(s)
totals = cvm.totals(s, values)

# %% [markdown]
# Which inputs move a typical customer's value most (one at a time, from low to
# high, everything else at its mean), and how uncertain the value of a typical
# customer of each subsegment is, with the chance that its net value is positive
# and the largest price premium that keeps that chance high.

# %% [markdown]
# ## Tornado: the whole segment

# %%
swing = report.attempt(tornado, s, by=by, range=tornado_range, of=of, values=values)
if swing is not None:
    report.show(plot_tornado(swing, max_factors=max_factors))
    report.display_table(swing, money=["low_value", "base_value", "high_value", "swing"], currency=s.currency)

# %% [markdown]
# ## Tornado per subsegment

# %%
for sub in s.subsegment_ids:
    per_sub = report.attempt(tornado, s, by=by, range=tornado_range, of=of, subsegment=sub, values=values)
    if per_sub is not None:
        ax = plot_tornado(per_sub, max_factors=max_factors)
        ax.set_title(f"{sub}: {ax.get_title()}".strip(": "))
        report.show(ax)

# %% [markdown]
# ## Monte Carlo: the value of a typical customer of each subsegment

# %%
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

# %%
if interactive:
    def _tornado(choice):
        rule, sub = choice
        report.show(plot_tornado(tornado(s, by=by, range=rule, of=of, subsegment=sub, values=values),
                                 max_factors=max_factors))

    report.choose("Range, subsegment",
                  {f"{r}, {sub or 'all customers'}": (r, sub) for r in ("p10-p90", "sd", "minmax")
                   for sub in [None] + s.subsegment_ids},
                  _tornado, value=(tornado_range, None))
