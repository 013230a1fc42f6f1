"""``cvm worksheet``, ``cvm import`` and ``cvm calculator``: the tools handed to customers and sales."""

from __future__ import annotations

from pathlib import Path

import click

from .common import check_output, load, plain, study_argument, warn


def _plan_text(plan) -> str:
    """The change table as aligned text, one line per customer and phrase (control characters replaced)."""
    if not len(plan):
        return "no filled values found in the worksheets"
    cols = ["customer_id", "variable", "on_file", "new_value", "action", "detail"]

    def fmt(v) -> str:
        if isinstance(v, float):
            return "" if v != v else f"{v:g}"
        return plain(v)

    rows = [[fmt(v) for v in r] for r in plan[cols].itertuples(index=False)]
    heads = ["customer", "variable", "on file", "new", "action", "detail"]
    widths = [min(max(len(h), *(len(r[j]) for r in rows)), 50) for j, h in enumerate(heads[:-1])]

    def line(cells) -> str:
        return "  ".join(c[:50].ljust(w) for c, w in zip(cells[:-1], widths)) + "  " + cells[-1]

    return "\n".join([line(heads)] + [line(r) for r in rows])


def _refuse_conflicts(plan) -> None:
    from ..errors import CvmError

    if (plan["action"] == "conflict").any():
        raise CvmError(f"{int((plan['action'] == 'conflict').sum())} conflict(s) listed above; nothing written. "
                       "Correct or leave out a workbook, or use --replace for values differing from the file")


@click.command()
@study_argument
@click.option("--customer", "customers", multiple=True, metavar="ID",
              help="Only this customer (repeat for several; default: every customer).")
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="Folder for the workbooks (default: reports/<study>/worksheets).")
def worksheet(study: Path | None, customers: tuple[str, ...], out: Path | None) -> None:
    """Write one data-gathering workbook per customer (the inputs its equations need)."""
    s = load(study, then=("cvm_kit.worksheets",))
    from ..worksheets import write_worksheets

    folder = out if out is not None else Path("reports") / s.label / "worksheets"
    for path in write_worksheets(s, folder, customers=list(customers) or None):
        click.echo(plain(f"wrote {path}"))

@click.command(name="import")
@click.argument("study", type=click.Path(path_type=Path))
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--write", is_flag=True, help="Write the new measurements.csv (previous kept as a dated backup).")
@click.option("--replace", is_flag=True,
              help="Let a filled value replace a different value on file (otherwise a conflict).")
@click.option("--lock-timeout", "lock_timeout", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="With --write: how long to wait while another import writes the study (default 120).")
def import_(study: Path, files: tuple[Path, ...], write: bool, replace: bool,
            lock_timeout: float | None) -> None:
    """Read filled worksheets back: show what changes; write only with --write.

    Conflicts (two workbooks disagreeing, or a value differing from the one
    on file without --replace) block --write and are listed. Writing takes
    the study's lock (STUDY/.cvm.lock): a second import waits for the first,
    then plans again on the data the first wrote.
    """
    s = load(study, then=("cvm_kit.worksheets",))
    from ..worksheets import (LOCK_TIMEOUT, check_writable, file_sha256, import_summary, measurements_path,
                             plan_import, read_worksheets, study_lock, write_import)

    rows = read_worksheets(s, files)
    plan = plan_import(s, rows, replace=replace)
    click.echo(_plan_text(plan))
    click.echo(import_summary(plan))
    if not write:
        click.echo("nothing written (use --write to write measurements.csv)", err=True)
        return
    _refuse_conflicts(plan)
    if not plan["action"].isin(["added", "changed"]).any():
        click.echo("nothing to write: no value added or changed", err=True)
        return
    # a workbook study is refused before any lock is taken; whether another import wrote since the plan is
    # checked under the lock (and then planned again), not here: it may write until we hold the lock
    check_writable(s, plan, against_disk=False)
    timeout = LOCK_TIMEOUT if lock_timeout is None else lock_timeout
    with study_lock(s.path, timeout=timeout,
                    on_wait=lambda: warn(f"waiting for another cvm import writing {s.path} "
                                         f"(up to {timeout:g} s)...")):
        mpath = measurements_path(s)
        if mpath is not None and mpath.is_file() and file_sha256(mpath) != plan.attrs.get("measurements_sha256"):
            # another import wrote while we waited: plan again on what it wrote
            warn(f"{mpath} changed while waiting (another import wrote it); planned again on the new data:")
            s = load(study)
            plan = plan_import(s, rows, replace=replace)
            click.echo(_plan_text(plan))
            click.echo(import_summary(plan))
            _refuse_conflicts(plan)
        done = write_import(s, plan, lock_timeout=timeout)
    if done is None:
        click.echo("nothing to write: no value added or changed", err=True)
    else:
        click.echo(plain(f"wrote {done[0]} (previous kept as {done[1].name})"), err=True)

@click.command()
@study_argument
@click.option("--customer", default=None, metavar="ID", help="A studied customer's own inputs.")
@click.option("--subsegment", default=None, metavar="ID",
              help="A subsegment's mean inputs (default: the first subsegment).")
@click.option("-o", "--output", "output", type=click.Path(path_type=Path), default=None,
              callback=lambda ctx, param, value: check_output(value),
              help="Workbook to write (default: reports/<study>/calculator_<customer or subsegment>.xlsx).")
@click.option("--scenario-percentiles", "percentiles", default=None, metavar="LOW,MID,HIGH",
              help="A subsegment's scenarios: percentiles of its customers' values "
                   "(default: the study option scenario_percentiles, else 10,50,90).")
@click.option("--band", default=20.0, show_default=True, type=click.FloatRange(0, 100, min_open=True, max_open=True),
              metavar="PERCENT", help="A customer's scenarios: its own figures this many percent to the "
                                      "low-value and high-value side (never its peers' figures).")
def calculator(study: Path | None, customer: str | None, subsegment: str | None, output: Path | None,
               percentiles: str | None, band: float) -> None:
    """Write the value calculator workbook (live Excel formulas from the word equations).

    A customer's workbook (--customer) holds its own figures, the study's
    constants and equations, and nothing of other customers; a subsegment's
    holds its customers' means and percentiles.
    """
    from ..calculator import write_calculator
    from ..errors import CvmError

    if customer and subsegment:
        raise CvmError("give --customer or --subsegment, not both")
    pct = None
    if percentiles is not None:
        try:
            pct = [float(x) for x in percentiles.split(",")]
        except ValueError:
            raise CvmError(f"--scenario-percentiles {percentiles!r}: expected three numbers "
                           "separated by commas, e.g. 10,50,90") from None
    s = load(study)
    if output is None:
        which = customer or subsegment or s.subsegment_ids[0]
        from ..worksheets import safe_stem

        output = Path("reports") / s.label / f"calculator_{safe_stem(which)}.xlsx"
    check_output(output)  # the study just loaded (a workbook study itself) is protected too
    path = write_calculator(s, output, customer=customer, subsegment=subsegment, percentiles=pct, band=band / 100)
    click.echo(plain(f"wrote {path}"))


def register(group: click.Group) -> None:
    """Add ``worksheet``, ``import`` and ``calculator`` to the ``cvm`` command."""
    for command in (worksheet, import_, calculator):
        group.add_command(command)
