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
sobol_samples: int = 4096  # base samples of the Sobol design (a power of 2); the seed is `seed`

# %%
# %matplotlib inline
import cvm_kit as cvm
from cvm_kit import report
from cvm_kit.sensitivity import simulate, simulation_summary, sobol_indices, tornado
from cvm_kit.plotting.sensitivity import plot_simulation, plot_sobol, plot_tornado

s = report.open_study(study)
report.header(s, "4. Sensitivity: tornado charts and Monte Carlo", today=today or None)
values = cvm.element_values(s)
totals = cvm.totals(s, values)

# %% [markdown]
# Which inputs move a typical customer's value most (one at a time, from low to
# high, everything else at its mean; then all at once, as Sobol indices), and
# how uncertain the value of a typical customer of each subsegment is, with the
# chance that its net value is positive and the largest price premium that
# keeps that chance high.

# %% [markdown]
# ## Tornado: the whole segment
#
# Each bar shows how far the value moves when one factor goes from its low to
# its high value across the customers while every other factor stays at its
# mean (the base case, the solid line); the dashed line is the customers'
# own mean value when it differs from the base case.

# %%
swing = report.attempt(tornado, s, by=by, range=tornado_range, of=of, values=values)
if swing is not None:
    report.show(plot_tornado(swing, max_factors=max_factors))
    report.note(swing.attrs["base_case"][0].upper() + swing.attrs["base_case"][1:] + ".")
    report.display_table(swing.drop(columns=["base_case"]),
                         money=["low_value", "base_value", "high_value", "swing", "mean_value"], currency=s.currency)
    top = swing.iloc[0]
    report.note(f"{top['label']} moves the {of} value most: from {report.money(top['low_value'], s.currency)} to "
                f"{report.money(top['high_value'], s.currency)} as it goes from its low to its high value.")

# %% [markdown]
# ## Tornado per subsegment

# %%
for sub in s.subsegment_ids:
    per_sub = report.attempt(tornado, s, by=by, range=tornado_range, of=of, subsegment=sub, values=values)
    if per_sub is not None:
        ax = plot_tornado(per_sub, max_factors=max_factors)
        ax.set_title(f"{sub}: {ax.get_title()}".strip(": ")).set_parse_math(False)
        report.show(ax)
        report.note(f"{sub}: {per_sub.attrs['base_case']}.")

# %% [markdown]
# ## Global sensitivity: Sobol indices per subsegment
#
# All inputs vary at once, each drawn from the values the subsegment's
# customers reported: the first-order index is the share of the variance of
# the value an input explains alone, the total-order index adds its
# interactions with the others (bars: confidence intervals).

# %%
sobol = report.attempt(sobol_indices, s, of=of, samples=sobol_samples, seed=seed)
if sobol is not None:
    for sub, part in sobol.groupby("subsegment", sort=False):
        report.show(plot_sobol(part, max_factors=max_factors))
        lead = part.iloc[0]
        report.note(f"{sub}: {lead['factor']} explains {lead['S1']:.0%} of the variance of the {of} value alone "
                    f"and {lead['ST']:.0%} with its interactions.")
    report.display_table(sobol, decimals={c: 3 for c in ("S1", "S1_conf", "ST", "ST_conf")})
    report.note(sobol.attrs["assumption"])
    for text in sobol.attrs.get("notes", []):
        report.note(text)

# %% [markdown]
# ## Monte Carlo: the value of a typical customer of each subsegment

# %%
sim = report.attempt(simulate, s, draws=draws, seed=seed, method=method, values=values, totals=totals)
if sim is not None:
    report.show(plot_simulation(sim))
    outlook = simulation_summary(sim, prob=premium_prob)
    for row in outlook.itertuples(index=False):
        report.note(f"{row.subsegment}: the net value of a typical customer is positive in {row.p_net_positive:.0%} "
                    "of the draws.")
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
