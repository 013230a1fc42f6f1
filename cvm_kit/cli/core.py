"""``cvm validate``, ``values``, ``summary``, ``totals`` and ``tables``: the study and its value tables."""

from __future__ import annotations

from pathlib import Path

import click

from .common import emit_csv, load, out_option, plain, read_and_check, study_argument, warn


@click.command()
@study_argument
def validate(study: Path | None) -> None:
    """Check the whole study; list every problem, or print a short summary."""
    report = read_and_check(study)
    if not report.ok:
        for p in report.errors + report.warnings:
            warn(str(p))
        raise SystemExit(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s) in {plain(report.path)} "
                         "(the study format: `cvm format` prints it)")
    click.echo(plain(report.summary()))
    for p in report.warnings:
        click.echo(plain(p))


@click.command()
@study_argument
@out_option
def values(study: Path | None, output: Path | None) -> None:
    """Each element's value per customer (CSV); missing inputs reported on stderr."""
    s = load(study, then=("cvm_kit.values",))
    from ..values import element_values, missing_text

    v = element_values(s)
    for row in v[v["missing_inputs"] != ""].itertuples(index=False):
        warn(f"{row.customer_id}: {row.element_id} left empty, {missing_text(row.missing_inputs)}")
    emit_csv(v[["customer_id", "subsegment", "element_id", "status", "value", "weakest_source"]], output)


@click.command()
@study_argument
@out_option
@click.option("--bootstrap", is_flag=True, help="Also a BCa bootstrap interval beside each t interval "
              "(boot_low, boot_high, boot_method; percentile where BCa degenerates).")
@click.option("--resamples", type=click.IntRange(min=100), default=9999, show_default=True,
              help="Bootstrap resamples per row (with --bootstrap).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap (with --bootstrap).")
def summary(study: Path | None, output: Path | None, bootstrap: bool = False, resamples: int = 9999,
            seed: int = 0) -> None:
    """Per element and subsegment (and all): n, mean, sd, se, 95% t interval, min, max."""
    s = load(study, then=("cvm_kit.estimates", "scipy.special"))  # t quantiles: scipy.special.stdtrit
    from ..estimates import summarize

    emit_csv(summarize(s, bootstrap=bootstrap, n_resamples=resamples, seed=seed), output)


@click.command()
@study_argument
@out_option
def totals(study: Path | None, output: Path | None) -> None:
    """Differential value, contention value, price difference and net value per customer."""
    s = load(study, then=("cvm_kit.values",))
    from ..values import totals as _totals

    t = _totals(s)
    for cid in t.loc[t["net_value"].isna(), "customer_id"]:
        warn(f"{cid}: net value left empty (an element or the price lacks an input; see `cvm values`)")
    emit_csv(t, output)


@click.command()
@study_argument
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Folder for the tables (default: reports/<study>/tables).")
def tables(study: Path | None, out: Path | None) -> None:
    """Write every value table (values, summary, totals, value summary, assumptions) as CSV."""
    s = load(study, then=("cvm_kit.tables",))
    from ..tables import write_tables

    folder = out if out is not None else Path("reports") / s.label / "tables"
    for path in write_tables(s, folder):
        click.echo(plain(f"wrote {path}"))


def register(group: click.Group) -> None:
    """Add ``validate``, ``values``, ``summary``, ``totals`` and ``tables`` to the ``cvm`` group."""
    for command in (validate, values, summary, totals, tables):
        group.add_command(command)
