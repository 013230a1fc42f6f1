"""``cvm hypotheses | plan | shrink``: what six to eight customers can and cannot show.

Thin shells over :mod:`cvm_kit.hypothesis_tests`, :mod:`cvm_kit.planning`
and :mod:`cvm_kit.shrinkage`; tables go to ``-o`` (or stdout) as guarded
CSV, plain-language notes to stderr. (``cvm summary --bootstrap`` lives in
:mod:`cvm_kit.cli`.)
"""

from __future__ import annotations

from pathlib import Path

import click

from .common import emit_csv, load, out_option, study_argument, warn


def _margins(values: tuple[str, ...], study) -> float | dict[str, float] | None:
    """``--margin 500`` (every element) and/or ``--margin ELEMENT=300`` (one element)."""
    if not values:
        return None
    common: float | None = None
    per: dict[str, float] = {}
    for text in values:
        key, sep, num = text.rpartition("=")
        try:
            x = float(num)
        except ValueError:
            raise click.BadParameter(f"{text!r}: expected a number (currency per period) or ELEMENT=NUMBER",
                                     param_hint="--margin") from None
        if sep:
            per[key.strip()] = x
        else:
            common = x
    if not per:
        return common
    if common is not None:
        per = {e.id: common for e in study.elements if e.quantified} | per
    return per


@click.command()
@study_argument
@click.option("--margin", "margin", multiple=True, metavar="[ELEMENT=]NUMBER",
              help="Parity margin in currency per period: a number for every element, or ELEMENT=NUMBER "
                   "(repeatable); overrides parity_margin of project.yaml.")
@click.option("--alpha", type=click.FloatRange(0, 0.5, min_open=True, max_open=True), default=0.05,
              show_default=True, help="Level of the equivalence and difference tests.")
@out_option
def hypotheses(study: Path | None, margin: tuple[str, ...], alpha: float, output: Path | None) -> None:
    """Points of parity, difference and contention checked against the data (TOST and t interval).

    Per element and subsegment: n, mean, t interval, the parity margin, the
    equivalence p (TOST within ±margin) and the difference p (mean = 0),
    and a verdict: parity shown, difference shown, contention (straddles 0),
    not enough data (n < 3 or no equation), or contradicted.
    """
    s = load(study, then=("cvm_kit.hypothesis_tests",))
    from ..hypothesis_tests import check_hypotheses

    h = check_hypotheses(s, margin=_margins(margin, s), alpha=alpha)
    if h["margin"].isna().all():
        warn("note: no parity margin set (project.yaml parity_margin or --margin): equivalence not tested")
    for f in h.loc[h["verdict"] == "contradicted", "finding"]:
        warn(f"contradicted: {f}")
    emit_csv(h, output)


@click.command()
@study_argument
@click.option("--precision", type=click.FloatRange(0, min_open=True), default=0.2, show_default=True,
              help="Target half-width of the interval as a share of |mean| (0.2: ±20%).")
@click.option("--confidence", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.95,
              show_default=True, help="Level of the t interval.")
@click.option("--draws", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Simulated studies per row for the assurance.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the simulated studies.")
@out_option
def plan(study: Path | None, precision: float, confidence: float, draws: int, seed: int,
         output: Path | None) -> None:
    """Customers needed per element (and net value) and subsegment for a ±precision interval, with assurance."""
    s = load(study, then=("cvm_kit.planning",))
    from ..planning import plan as _plan
    from ..planning import plan_notes

    p = _plan(s, precision=precision, confidence=confidence, draws=draws, seed=seed)
    for line in plan_notes(p, precision):
        warn(line)
    emit_csv(p, output)


@click.command()
@study_argument
@out_option
def shrink(study: Path | None, output: Path | None) -> None:
    """Subsegment means partially pooled (empirical Bayes, DerSimonian-Laird tau²) beside the raw means."""
    s = load(study, then=("cvm_kit.shrinkage",))
    from ..shrinkage import shrink as _shrink

    emit_csv(_shrink(s), output)


def register(group: click.Group) -> None:
    """Add ``hypotheses``, ``plan`` and ``shrink`` to the ``cvm`` group."""
    for cmd in (hypotheses, plan, shrink):
        group.add_command(cmd)
