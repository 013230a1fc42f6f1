"""``cvm compare | tornado | simulate | segment | prospects``: the study statistics commands.

Thin shells over :mod:`cvm_kit.variance`, :mod:`cvm_kit.sensitivity`,
:mod:`cvm_kit.segments` and :mod:`cvm_kit.prospects`; tables go to ``-o``
(or stdout) as guarded CSV, prose and notes to stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

from .common import emit_csv, load, out_option, study_argument, warn


@click.command()
@study_argument
@out_option
@click.option("--permutations", type=click.IntRange(min=0), default=10_000, show_default=True,
              help="Monte Carlo permutations when exact enumeration would be too large.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the Monte Carlo permutations.")
def compare(study: Path | None, output: Path | None, permutations: int, seed: int) -> None:
    """Compare subsegments per element and on the totals (Welch, permutation, Holm, plain-language finding)."""
    s = load(study, then=("cvm_kit.variance", "statsmodels.stats.weightstats", "statsmodels.stats.multitest"))
    from ..variance import compare_subsegments

    emit_csv(compare_subsegments(s, permutations=permutations, seed=seed), output)


@click.command()
@study_argument
@click.option("--by", type=click.Choice(["element", "variable"]), default="element", show_default=True,
              help="Factors: element values, or input variables pushed through the equations.")
@click.option("--range", "range_", type=click.Choice(["p10-p90", "sd", "minmax"]), default="p10-p90",
              show_default=True, help="Low/high of each factor over the customers.")
@click.option("--of", "of", type=click.Choice(["net", "differential"]), default="net", show_default=True,
              help="The outcome.")
@click.option("--subsegment", default=None, help="Only this subsegment's customers (default: all).")
@click.option("--method", type=click.Choice(["oat", "sobol"]), default="oat", show_default=True,
              help="oat: one factor at a time (tornado table); sobol: Sobol first- and total-order indices of "
                   "each input variable, drawn from its observed values across each subsegment's customers "
                   "(columns subsegment, of, factor, S1, S1_conf, ST, ST_conf).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the Sobol sample and bootstrap (--method sobol).")
@click.option("--samples", type=click.IntRange(min=2), default=4096, show_default=True,
              help="Base samples N of the Sobol design, a power of 2 (--method sobol).")
@out_option
def tornado(study: Path | None, by: Literal["element", "variable"], range_: Literal["p10-p90", "sd", "minmax"],
            of: Literal["net", "differential"], subsegment: str | None, method: str, seed: int,
            samples: int, output: Path | None) -> None:
    """One-at-a-time sensitivity of a typical customer's value (tornado table, widest swing first),
    or with --method sobol its global sensitivity (Sobol indices per subsegment)."""
    s = load(study)
    if method == "sobol":
        from ..sensitivity import sobol_indices

        out = sobol_indices(s, of=of, subsegment=subsegment, samples=samples, seed=seed)
        warn(f"method: {out.attrs['assumption']}")
        for note in out.attrs.get("notes", []):
            warn(f"note: {note}")
        emit_csv(out, output)
        return
    from ..sensitivity import tornado as _tornado

    t = _tornado(s, by=by, range=range_, of=of, subsegment=subsegment)
    warn(t.attrs.get("base_case", ""))
    emit_csv(t, output)


@click.command()
@study_argument
@click.option("--draws", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="Draws per subsegment.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed (same seed, same draws).")
@click.option("--method", type=click.Choice(["bootstrap", "bootstrap_customers", "parametric"]),
              default="bootstrap", show_default=True,
              help="bootstrap: elements resampled independently; bootstrap_customers: whole customers; "
                   "parametric: independent normals.")
@click.option("--subsegment", default=None, help="Only this subsegment (default: each).")
@click.option("--prob", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.8, show_default=True,
              help="Probability of positive net value the premium must keep.")
@out_option
def simulate(study: Path | None, draws: int, seed: int,
             method: Literal["bootstrap", "bootstrap_customers", "parametric"], subsegment: str | None, prob: float,
             output: Path | None) -> None:
    """Monte Carlo of a typical customer's value: percentiles, P(net > 0), largest safe price premium."""
    s = load(study, then=("cvm_kit.sensitivity",))
    from ..sensitivity import simulate as _simulate
    from ..sensitivity import simulation_summary

    d = _simulate(s, draws=draws, seed=seed, method=method, subsegment=subsegment)
    warn(f"method: {d.attrs.get('assumption', method)}; {draws} draws per subsegment, seed {seed}")
    for note in d.attrs.get("notes", []):
        warn(f"note: {note}")
    emit_csv(simulation_summary(d, prob=prob), output)


@click.command()
@study_argument
@click.option("--target", default="net_value", show_default=True,
              help="What the suggestion is about: net_value, differential_value or an element id.")
@out_option
def segment(study: Path | None, target: str, output: Path | None) -> None:
    """What drives value (OLS R² per characteristic) and a segmentation suggestion (on stderr)."""
    s = load(study, then=("cvm_kit.segments", "cvm_kit.values", "statsmodels.regression.linear_model"))
    from ..segments import drivers, segmentation_suggestion
    from ..values import element_values

    v = element_values(s)
    d = drivers(s, values=v)
    sug = segmentation_suggestion(s, target=target, values=v)
    warn(sug.text)
    emit_csv(d, output)


@click.command()
@study_argument
@click.option("--top", type=click.IntRange(min=1), default=1, show_default=True,
              help="How many top drivers of net value predict the prospects.")
@out_option
def prospects(study: Path | None, top: int, output: Path | None) -> None:
    """Studied customers ranked by net value, then prospects ranked by predicted net value (95% PI)."""
    import pandas as pd

    s = load(study, then=("cvm_kit.prospects", "statsmodels.regression.linear_model"))
    from ..prospects import rank_customers, score_prospects

    r = rank_customers(s)
    cust = pd.DataFrame({"kind": "customer", "rank": r["rank"], "id": r["customer_id"], "subsegment": r["subsegment"],
                         "net_value": r["net_value"], "pi_low": float("nan"), "pi_high": float("nan"),
                         "basis": "measured", "note": ""})
    cust.loc[cust["net_value"].isna(), "note"] = "net value missing: an input is missing (see cvm values)"
    p = score_prospects(s, top=top)
    if "message" in p.attrs:
        warn(p.attrs["message"])
        out = cust
    else:
        pros = pd.DataFrame({"kind": "prospect", "rank": p["rank"], "id": p["prospect_id"],
                             "subsegment": p["subsegment"], "net_value": p["predicted_net_value"],
                             "pi_low": p["pi_low"], "pi_high": p["pi_high"],
                             "basis": "predicted from " + p["drivers"].astype(str), "note": p["note"]})
        out = pd.concat([cust, pros], ignore_index=True)
    emit_csv(out, output)


def register(group: click.Group) -> None:
    """Add the statistics commands to the ``cvm`` group."""
    for cmd in (compare, tornado, simulate, segment, prospects):
        group.add_command(cmd)
