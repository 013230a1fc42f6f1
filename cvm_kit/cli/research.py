"""``cvm fieldwork`` and ``cvm charter``: the research phase on the command line."""

from __future__ import annotations

import re
from pathlib import Path

import click

from .common import emit_csv, load, out_option, study_argument

# control characters (incl. ANSI escapes) in study text must not drive the terminal
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _plain(text: object) -> str:
    return _CONTROL.sub("?", str(text))


def _today_option(f):
    return click.option("--today", "today", default=None, metavar="YYYY-MM-DD",
                        help="Count days left / overdue steps from this date (default: the current date).")(f)


def _text_table(df, columns: list[str] | None = None, max_width: int = 60) -> str:
    """A readable fixed-width table: dates as YYYY-MM-DD, empty for missing, long text cut."""
    import pandas as pd

    d = df[columns] if columns else df
    d = d.copy()
    for c in d.columns:
        s = d[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            d[c] = s.dt.strftime("%Y-%m-%d").fillna("")
        elif pd.api.types.is_bool_dtype(s):
            d[c] = s.map({True: "yes", False: ""})
        else:
            d[c] = s.map(lambda v: "" if v is None or (isinstance(v, float) and v != v) else _plain(v))
            d[c] = d[c].map(lambda t: t if len(t) <= max_width else t[: max_width - 3] + "...")
    return d.to_string(index=False)


def _plan_lines(study) -> list[str]:
    """One line per subsegment on net value from :func:`cvm_kit.planning.plan` (issue 15)."""
    from ..planning import plan, plan_notes

    return plan_notes(plan(study)) or ["no subsegment has a net value yet"]


@click.command()
@study_argument
@out_option
@_today_option
def fieldwork(study: Path | None, output: Path | None, today: str | None) -> None:
    """Where the research stands: per subsegment, per customer, and what is still missing.

    Prints customers invited, agreed, visited and with data received per
    subsegment against the method's six to eight (flagging a subsegment
    below six), each customer's last and next step, and every missing input
    with whom to ask. With -o, also writes the per-customer table as CSV.
    """
    s = load(study, then=("cvm_kit.research",))
    from ..research import (
        as_date,
        fieldwork_by_customer,
        fieldwork_by_subsegment,
        fieldwork_note,
        missing_by_contact,
    )

    day = as_date(today)
    subs = fieldwork_by_subsegment(s)
    cust = fieldwork_by_customer(s, today=day)
    miss = missing_by_contact(s)
    out = [f"Fieldwork: {_plain(s.name)} (as of {day.isoformat()})"]
    note = fieldwork_note(s)
    if note:
        out.append(_plain(note))
    out += ["", "Per subsegment (the method asks six to eight customers with data per subsegment):",
            _text_table(subs, ["subsegment", "customers", "not_in_log", "invited", "agreed", "visited",
                               "data_received", "declined", "inputs_complete", "flag"]),
            "", "Precision plan on net value (95% interval; `cvm plan` for every element):",
            *(_plain(line) for line in _plan_lines(s)),
            "", "Per customer:",
            _text_table(cust, ["customer_id", "subsegment", "stage", "last_step", "last_date", "next_step",
                               "next_date", "overdue", "with"]),
            "", "Missing inputs and who to ask:"]
    if miss.empty:
        out.append("none: every needed input is in measurements.csv")
    else:
        out.append(_text_table(miss, ["customer_id", "phrase", "needed_by", "stage", "with", "next_step",
                                      "next_date"]))
    click.echo("\n".join(out))
    if output is not None:
        emit_csv(cust, output)


@click.command()
@study_argument
@_today_option
def charter(study: Path | None, today: str | None) -> None:
    """The study charter: business issue, success definition, sponsor, team, time frame, days left."""
    s = load(study, then=("cvm_kit.research",))
    from ..research import NO_CHARTER, as_date, charter_summary

    t = charter_summary(s, today=as_date(today))
    click.echo(f"Study: {_plain(s.name)}")
    if t.empty:
        click.echo(NO_CHARTER)
        return
    width = max(len(f) for f in t["field"])
    for f, v in zip(t["field"], t["value"]):
        click.echo(f"{f + ':':<{width + 2}}{_plain(v)}")


def register(group: click.Group) -> None:
    """Add ``fieldwork`` and ``charter`` to the ``cvm`` command group."""
    group.add_command(fieldwork)
    group.add_command(charter)
