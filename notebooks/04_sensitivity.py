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
from cvm_kit.reporting.labels import human_labels, table_formats, unit

s = report.open_study(study)
report.header(s, "4. Sensitivity: tornado charts and Monte Carlo", today=today or None)
values = cvm.element_values(s)
totals = cvm.totals(s, values)
u = unit(s)

# %% [markdown]
# How sure is the value? First, per subsegment, the chance that a typical
# customer's net value is positive and the largest price premium that keeps
# that chance high (Monte Carlo); then which inputs move the value most, one
# at a time from low to high with everything else at its mean (tornado
# charts), and all at once (Sobol indices).

# %% [markdown]
# ## Monte Carlo: the value of a typical customer of each subsegment

# %%
sim = report.attempt(simulate, s, draws=draws, seed=seed, method=method, values=values, totals=totals)
if sim is not None:
    outlook = simulation_summary(sim, prob=premium_prob)
    for row in outlook.itertuples(index=False):
        report.note(f"{row.subsegment}: the net value of a typical customer is positive in {row.p_net_positive:.0%} "
                    "of the draws.")
    report.show(plot_simulation(sim, currency=u))
    table = human_labels(outlook[["subsegment", "draws", "net_mean", "net_p5", "net_p50", "net_p95",
                                  "differential_mean", "p_net_positive", "premium_prob", "max_premium"]], s)
    report.display_table(table, **table_formats(table))
    report.note(sim.attrs.get("assumption", ""))
    for text in sim.attrs.get("notes", []):
        report.note(text)

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
    top = swing.iloc[0]
    report.note(f"{top['label']} moves the {of} value most: from {report.money(top['low_value'], s.currency)} to "
                f"{report.money(top['high_value'], s.currency)} as it goes from its low to its high value.")
    report.show(plot_tornado(swing, max_factors=max_factors, currency=u))
    report.note(swing.attrs["base_case"][0].upper() + swing.attrs["base_case"][1:] + ".")
    table = human_labels(swing[["factor", "label", "low_input", "high_input", "low_value", "high_value", "swing"]], s)
    report.display_table(table, **table_formats(table))

# %% [markdown]
# ## Tornado per subsegment

# %%
for sub in s.subsegment_ids:
    per_sub = report.attempt(tornado, s, by=by, range=tornado_range, of=of, subsegment=sub, values=values)
    if per_sub is not None:
        report.show(plot_tornado(per_sub, max_factors=max_factors, currency=u,
                                 title=f"{sub}: each factor moved alone from its low to its high input"))
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
        lead = part.iloc[0]
        report.note(f"{sub}: {lead['factor']} explains {lead['S1']:.0%} of the variance of the {of} value alone "
                    f"and {lead['ST']:.0%} with its interactions.")
        report.show(plot_sobol(part, max_factors=max_factors))
    table = human_labels(sobol[["subsegment", "factor", "S1", "S1_conf", "ST", "ST_conf"]], s)
    report.display_table(table, **table_formats(table))
    report.note(sobol.attrs["assumption"])
    for text in sobol.attrs.get("notes", []):
        report.note(text)

# %%
if interactive:
    def _tornado(choice):
        rule, sub = choice
        report.show(plot_tornado(tornado(s, by=by, range=rule, of=of, subsegment=sub, values=values),
                                 max_factors=max_factors, currency=u))

    report.choose("Range, subsegment",
                  {f"{r}, {sub or 'all customers'}": (r, sub) for r in ("p10-p90", "sd", "minmax")
                   for sub in [None] + s.subsegment_ids},
                  _tornado, value=(tornado_range, None))
