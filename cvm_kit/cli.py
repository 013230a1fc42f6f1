"""The ``cvm`` command: argument parsing and printing over cvm_kit functions.

Every command is a thin shell over functions a notebook can call. Errors a
user can cause (:class:`~cvm_kit.errors.CvmError`) are printed without a
traceback and exit 1; usage errors exit 2.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from .cli_common import emit_csv, load, out_option, plain, plain_streams, study_argument, warn


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cvm_kit")
def cli() -> None:
    """cvm: customer value models, from interview data to the value summary.

    STUDY is a study folder (project.yaml, customers.csv, measurements.csv ...)
    or the same study as one .xlsx workbook; it defaults to the bundled
    example study.
    """


@cli.command()
@study_argument
def validate(study: Path | None) -> None:
    """Check the whole study; list every problem, or print a short summary."""
    from .cli_common import example_path
    from .validate import validate as _validate

    report = _validate(study if study is not None else example_path())
    if not report.ok:
        for p in report.errors + report.warnings:
            warn(str(p))
        raise SystemExit(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s) in {plain(report.path)} "
                         "(the study format: docs/study-format.md in the cvm_kit repository)")
    click.echo(plain(report.summary()))
    for p in report.warnings:
        click.echo(plain(p))


@cli.command()
@study_argument
@out_option
def values(study: Path | None, output: Path | None) -> None:
    """Each element's value per customer (CSV); missing inputs reported on stderr."""
    from .values import element_values, missing_text

    s = load(study)
    v = element_values(s)
    for row in v[v["missing_inputs"] != ""].itertuples(index=False):
        warn(f"{row.customer_id}: {row.element_id} left empty, {missing_text(row.missing_inputs)}")
    emit_csv(v[["customer_id", "subsegment", "element_id", "status", "value", "weakest_source"]], output)


@cli.command()
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
    from .estimates import summarize

    s = load(study)
    emit_csv(summarize(s, bootstrap=bootstrap, n_resamples=resamples, seed=seed), output)


@cli.command()
@study_argument
@out_option
def totals(study: Path | None, output: Path | None) -> None:
    """Differential value, contention value, price difference and net value per customer."""
    from .values import totals as _totals

    s = load(study)
    t = _totals(s)
    for cid in t.loc[t["net_value"].isna(), "customer_id"]:
        warn(f"{cid}: net value left empty (an element or the price lacks an input; see `cvm values`)")
    emit_csv(t, output)


@cli.command()
@study_argument
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Folder for the tables (default: reports/<study>/tables).")
def tables(study: Path | None, out: Path | None) -> None:
    """Write every value table (values, summary, totals, value summary, assumptions) as CSV."""
    from .tables import write_tables

    s = load(study)
    folder = out if out is not None else Path("reports") / s.label / "tables"
    for path in write_tables(s, folder):
        click.echo(plain(f"wrote {path}"))


# Stage commands live in their own modules; each has register(group).
for _name in ("cli_statistics", "cli_tools", "cli_documenter", "cli_research", "cli_runs", "cli_inference",
              "cli_project"):
    try:
        _mod = importlib.import_module(f"cvm_kit.{_name}")
    except ModuleNotFoundError as _exc:  # a stage not present in this build
        if _exc.name != f"cvm_kit.{_name}":
            raise
        continue
    _mod.register(cli)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``cvm``: run the CLI, print user errors without a traceback.

    While it runs, standard output and error replace control characters
    (:func:`~cvm_kit.cli_common.plain_streams`): study text printed by any
    command cannot drive the terminal.
    """
    streams = plain_streams()
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = streams


def _main(argv: list[str] | None) -> int:
    from .errors import CvmError

    try:
        cli.main(args=argv, prog_name="cvm", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort as exc:
        click.echo("aborted", err=True)
        return 130 if isinstance(exc.__cause__, KeyboardInterrupt) else 1  # Ctrl-C: 128 + SIGINT
    except CvmError as exc:
        click.echo(plain(f"error: {exc}"), err=True)
        return 1
    except SystemExit as exc:
        if isinstance(exc.code, str):
            click.echo(plain(exc.code), err=True)
            return 1
        return int(exc.code or 0)
    except (OSError, UnicodeError) as exc:
        click.echo(plain(f"error: {exc}"), err=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
