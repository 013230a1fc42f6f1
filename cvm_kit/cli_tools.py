"""``cvm worksheet``, ``cvm import`` and ``cvm calculator``: the tools handed to customers and sales."""

from __future__ import annotations

from pathlib import Path

import click

from .cli_common import load, study_argument


def _plan_text(plan) -> str:
    """The change table as aligned text, one line per customer and phrase."""
    if not len(plan):
        return "no filled values found in the worksheets"
    cols = ["customer_id", "variable", "on_file", "new_value", "action", "detail"]

    def fmt(v) -> str:
        if isinstance(v, float):
            return "" if v != v else f"{v:g}"
        return str(v)

    rows = [[fmt(v) for v in r] for r in plan[cols].itertuples(index=False)]
    heads = ["customer", "variable", "on file", "new", "action", "detail"]
    widths = [min(max(len(h), *(len(r[j]) for r in rows)), 50) for j, h in enumerate(heads[:-1])]

    def line(cells) -> str:
        return "  ".join(c[:50].ljust(w) for c, w in zip(cells[:-1], widths)) + "  " + cells[-1]

    return "\n".join([line(heads)] + [line(r) for r in rows])


def register(group: click.Group) -> None:
    """Add ``worksheet``, ``import`` and ``calculator`` to the ``cvm`` command."""

    @group.command()
    @study_argument
    @click.option("--customer", "customers", multiple=True, metavar="ID",
                  help="Only this customer (repeat for several; default: every customer).")
    @click.option("--out", "out", type=click.Path(path_type=Path), default=None,
                  help="Folder for the workbooks (default: reports/<study>/worksheets).")
    def worksheet(study: Path | None, customers: tuple[str, ...], out: Path | None) -> None:
        """Write one data-gathering workbook per customer (the inputs its equations need)."""
        from .worksheets import write_worksheets

        s = load(study)
        folder = out if out is not None else Path("reports") / s.label / "worksheets"
        for path in write_worksheets(s, folder, customers=list(customers) or None):
            click.echo(f"wrote {path}")

    @group.command(name="import")
    @click.argument("study", type=click.Path(path_type=Path))
    @click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
    @click.option("--write", is_flag=True, help="Write the new measurements.csv (previous kept as a dated backup).")
    @click.option("--replace", is_flag=True,
                  help="Let a filled value replace a different value on file (otherwise a conflict).")
    def import_(study: Path, files: tuple[Path, ...], write: bool, replace: bool) -> None:
        """Read filled worksheets back: show what changes; write only with --write.

        Conflicts (two workbooks disagreeing, or a value differing from the one
        on file without --replace) block --write and are listed.
        """
        from .errors import CvmError
        from .worksheets import _write, import_summary, plan_import, read_worksheets

        s = load(study)
        rows = read_worksheets(s, files)
        plan = plan_import(s, rows, replace=replace)
        click.echo(_plan_text(plan))
        click.echo(import_summary(plan))
        if not write:
            click.echo("nothing written (use --write to write measurements.csv)", err=True)
            return
        if (plan["action"] == "conflict").any():
            raise CvmError(f"{int((plan['action'] == 'conflict').sum())} conflict(s) listed above; nothing written. "
                           "Correct or leave out a workbook, or use --replace for values differing from the file")
        done = _write(s, plan)
        if done is None:
            click.echo("nothing to write: no value added or changed", err=True)
        else:
            click.echo(f"wrote {done[0]} (previous kept as {done[1].name})", err=True)

    @group.command()
    @study_argument
    @click.option("--customer", default=None, metavar="ID", help="A studied customer's own inputs.")
    @click.option("--subsegment", default=None, metavar="ID",
                  help="A subsegment's mean inputs (default: the first subsegment).")
    @click.option("-o", "--output", "output", type=click.Path(path_type=Path), default=None,
                  help="Workbook to write (default: reports/<study>/calculator_<customer or subsegment>.xlsx).")
    def calculator(study: Path | None, customer: str | None, subsegment: str | None, output: Path | None) -> None:
        """Write the value calculator workbook (live Excel formulas from the word equations)."""
        from .calculator import write_calculator
        from .errors import CvmError

        if customer and subsegment:
            raise CvmError("give --customer or --subsegment, not both")
        s = load(study)
        if output is None:
            which = customer or subsegment or s.subsegment_ids[0]
            from .worksheets import _safe_stem

            output = Path("reports") / s.label / f"calculator_{_safe_stem(which)}.xlsx"
        path = write_calculator(s, output, customer=customer, subsegment=subsegment)
        click.echo(f"wrote {path}")
