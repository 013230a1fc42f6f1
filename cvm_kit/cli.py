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

from .cli_common import emit_csv, load, out_option, plain, study_argument, warn


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
        raise SystemExit(f"{len(report.errors)} error(s), {len(report.warnings)} warning(s) in {plain(report.path)}")
    click.echo(plain(report.summary()))
    for p in report.warnings:
        click.echo(plain(p))


@cli.command()
@study_argument
@out_option
def values(study: Path | None, output: Path | None) -> None:
    """Each element's value per customer (CSV); missing inputs reported on stderr."""
    from .values import element_values

    s = load(study)
    v = element_values(s)
    for row in v[v["missing_inputs"] != ""].itertuples(index=False):
        why = row.missing_inputs if row.missing_inputs.startswith("(") else \
            "missing " + ", ".join(f"[{p}]" for p in row.missing_inputs.split("; "))
        warn(f"{row.customer_id}: {row.element_id} left empty, {why}")
    emit_csv(v[["customer_id", "subsegment", "element_id", "status", "value", "weakest_source"]], output)


@cli.command()
@study_argument
@out_option
def summary(study: Path | None, output: Path | None) -> None:
    """Per element and subsegment (and all): n, mean, sd, se, 95% t interval, min, max."""
    from .estimates import summarize

    s = load(study)
    emit_csv(summarize(s), output)


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
        click.echo(f"wrote {path}")


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
    """Entry point of ``cvm``: run the CLI, print user errors without a traceback."""
    from .errors import CvmError

    try:
        cli.main(args=argv, prog_name="cvm", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return 1
    except CvmError as exc:
        click.echo(plain(f"error: {exc}"), err=True)
        return 1
    except SystemExit as exc:
        if isinstance(exc.code, str):
            click.echo(exc.code, err=True)
            return 1
        return int(exc.code or 0)
    except (OSError, UnicodeError) as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
