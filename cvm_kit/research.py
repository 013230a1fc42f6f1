"""The research phase: the study charter, the hypotheses, the fieldwork log.

Before any number is measured the method sets up a project (a business issue
with a definition of success), decides per subsegment what the customers'
next-best-alternative is and which elements are expected to be points of
parity, difference or contention, then wins six to eight customers per
subsegment and tracks the visits until their data is in.

Fieldwork counts (:func:`fieldwork_by_subsegment`) read ``fieldwork.csv``
per customer as follows:

- **invited**: the customer has been contacted, i.e. has at least one row
  that is ``done`` or ``declined`` (any step). A customer whose only rows are
  ``planned`` is not invited yet.
- **declined**: the customer's latest answer on a research step
  (``invited`` .. ``data_received``, by date, then file line) is
  ``declined`` and no ``data_received`` is ``done``. Declining only the
  ``review`` once the data is in does not take a customer out of the
  research; a customer who declined and later agreed is not declined.
- **agreed**: ``initial_meeting`` or any later step ``done``, and not declined.
- **visited**: ``data_visit`` ``done``, and not declined.
- **data received**: ``data_received`` ``done``.
- **not in log**: a customer of ``customers.csv`` with no row in the log
  counts as *not yet invited*: the log is the record of contact. These
  customers are counted in ``customers`` and ``not_in_log`` only. A study
  without ``fieldwork.csv`` therefore shows every customer as not in the
  log; ``inputs_complete`` (from ``measurements.csv``) still shows whose
  data is in.
- **invitees**: a contact of the log that declined and never joined has no
  row in ``customers.csv`` (validation accepts it). It counts in
  ``invitees``, ``invited`` and ``declined`` of the subsegment named in the
  log's optional ``subsegment`` column, else in a last row
  ``(no subsegment)``; never in ``customers``.

So ``invited = agreed + declined + (contacted, no answer yet)``; a customer
may have data received without a logged visit (figures sent by mail).
"""

from __future__ import annotations

import datetime as _dt
import html
import re
from typing import Any

import numpy as np
import pandas as pd

from .errors import CvmError
from .study import FIELDWORK_STEPS, Study

TARGET_MIN = 6  # the method's six to eight customers per subsegment
TARGET_MAX = 8
STAGES = ("invited", "agreed", "visited", "data_received")  # the funnel, in order
_STEP_ORDER = {s: i for i, s in enumerate(FIELDWORK_STEPS)}
_RESEARCH_STEPS = ("invited", "initial_meeting", "data_visit", "data_received")  # a decline here leaves the study
_AGREED_STEPS = ("initial_meeting", "data_visit", "data_received", "review")


def as_date(today: Any) -> _dt.date:
    """``today`` as a date (None -> the current date; ISO text accepted).

    Parameters
    ----------
    today : date, datetime, Timestamp, str or None
        A ``YYYY-MM-DD`` text is read as ISO; None is the current date.

    Returns
    -------
    datetime.date

    Raises
    ------
    CvmError
        For text that is not an ISO date, or another type.

    Examples
    --------
    >>> as_date("2025-03-01")
    datetime.date(2025, 3, 1)
    """
    if today is None:
        return _dt.date.today()
    if isinstance(today, _dt.datetime):
        return today.date()
    if isinstance(today, _dt.date):
        return today
    if isinstance(today, pd.Timestamp):
        return today.date()
    if isinstance(today, str):
        try:
            return _dt.date.fromisoformat(today.strip())
        except ValueError:
            raise CvmError(f"today {today!r} is not a date; expected YYYY-MM-DD") from None
    raise CvmError(f"today {today!r} is not a date; expected a datetime.date or YYYY-MM-DD")


# ---------------------------------------------------------------------------
# charter


def _time_frame(start: _dt.date | None, end: _dt.date | None) -> str:
    if start and end:
        return f"{start.isoformat()} to {end.isoformat()}"
    if start:
        return f"from {start.isoformat()} (no end date)"
    if end:
        return f"until {end.isoformat()}"
    return "not set"


def _days_left_text(days: int | None, end: _dt.date | None) -> str:
    if days is None:
        return "not set (no end date)"
    if days < 0:
        return f"{days} (ended {end.isoformat() if end else ''}, {-days} days ago)"
    return str(days)


NO_CHARTER = ("No charter: project.yaml has no `charter` (business issue, success definition, "
               "sponsor, team, start, end).")


def charter_summary(study: Study, today: Any = None) -> pd.DataFrame:
    """The study charter as a two-column table, ending with the days left.

    Parameters
    ----------
    study : Study
    today : date or str, optional
        The date the days left count from (default: the current date).

    Returns
    -------
    DataFrame
        ``field, value`` (all text), rows: Business issue, Success
        definition, Sponsor, Team, Time frame, Days left. Empty (same
        columns) when the study has no charter.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.research import charter_summary
    >>> t = charter_summary(cvm.load_study(cvm.example_path()), today="2026-11-24")
    >>> t.set_index("field").loc["Days left", "value"]
    '94'
    """
    c = study.charter
    if c is None:
        return pd.DataFrame({"field": pd.Series(dtype=object), "value": pd.Series(dtype=object)})
    days = c.days_left(as_date(today))
    rows = [
        ("Business issue", c.business_issue),
        ("Success definition", c.success),
        ("Sponsor", c.sponsor),
        ("Team", "; ".join(c.team)),
        ("Time frame", _time_frame(c.start, c.end)),
        ("Days left", _days_left_text(days, c.end)),
    ]
    return pd.DataFrame(rows, columns=["field", "value"])


def charter_html(study: Study, today: Any = None) -> str:
    """A small HTML block for report headers: the charter and the days left.

    Every study text is escaped. A study without a charter gives a short note.

    Returns
    -------
    str
        ``<section class="cvm-charter">`` with a definition list.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.research import charter_html
    >>> "Days left" in charter_html(cvm.load_study(cvm.example_path()))
    True
    """
    t = charter_summary(study, today)
    if t.empty:
        return f'<section class="cvm-charter"><p><em>{html.escape(NO_CHARTER)}</em></p></section>'
    items = "".join(f"<dt>{html.escape(f)}</dt><dd>{html.escape(v)}</dd>" for f, v in zip(t["field"], t["value"]))
    return (f'<section class="cvm-charter"><h2>Study charter: {html.escape(study.name)}</h2>'
            f"<dl>{items}</dl></section>")


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#&!{}])")


def _md(text: str) -> str:
    """Markdown-escape study text so it renders literally (no links, HTML or emphasis)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def charter_markdown(study: Study, today: Any = None) -> str:
    """The charter as a Markdown list (escaped), for notebooks and Markdown reports.

    Returns
    -------
    str
        ``### Study charter: <name>`` then one ``- **field:** value`` line per
        row of :func:`charter_summary`; a short note without a charter.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.research import charter_markdown
    >>> charter_markdown(cvm.load_study(cvm.example_path())).startswith("### Study charter")
    True
    """
    t = charter_summary(study, today)
    if t.empty:
        return "_" + _md(NO_CHARTER) + "_\n"
    lines = [f"### Study charter: {_md(study.name)}", ""]
    lines += [f"- **{f}:** {_md(v)}" for f, v in zip(t["field"], t["value"])]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# alternatives and hypotheses


def hypotheses(study: Study) -> pd.DataFrame:
    """Each element's hypothesised status in each subsegment.

    Returns
    -------
    DataFrame
        ``subsegment, element_id, name, category, status, by_subsegment``:
        one row per subsegment x element (placeholders included), in
        project.yaml order; ``status`` is the effective status for that
        subsegment, ``by_subsegment`` whether it comes from the element's
        ``status_by_subsegment`` rather than its overall status.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.research import hypotheses
    >>> h = hypotheses(cvm.load_study(cvm.example_path()))
    >>> sorted(h["status"].unique())[:1]
    ['contention']
    """
    rows = []
    for sid in study.subsegment_ids:
        for e in study.elements:
            rows.append((sid, e.id, e.name, e.category or "", e.status_for(sid), sid in e.status_by_subsegment))
    return pd.DataFrame(rows, columns=["subsegment", "element_id", "name", "category", "status", "by_subsegment"])


def alternatives(study: Study) -> pd.DataFrame:
    """Per subsegment: its next-best-alternative and its points of parity, difference, contention.

    Returns
    -------
    DataFrame
        ``subsegment, description, next_best_alternative, own, customers,
        points_of_parity, points_of_difference, points_of_contention``:
        ``own`` is True when the subsegment names its own alternative (else
        the study's applies); ``customers`` counts its rows in customers.csv;
        the points are comma-separated element ids (placeholders are
        study-wide and not listed).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.research import alternatives
    >>> a = alternatives(cvm.load_study(cvm.example_path()))
    >>> a.set_index("subsegment").loc["low_volume", "next_best_alternative"]
    'Powder coating done in-house'
    """
    counts = study.customers["subsegment"].value_counts()
    rows = []
    for s in study.subsegments:
        by_status: dict[str, list[str]] = {"parity": [], "difference": [], "contention": []}
        for e in study.elements:
            st = e.status_for(s.id)
            if st in by_status:
                by_status[st].append(e.id)
        rows.append((s.id, s.description, study.alternative_for(s.id), bool(s.next_best_alternative),
                     int(counts.get(s.id, 0)), ", ".join(by_status["parity"]), ", ".join(by_status["difference"]),
                     ", ".join(by_status["contention"])))
    return pd.DataFrame(rows, columns=["subsegment", "description", "next_best_alternative", "own", "customers",
                                       "points_of_parity", "points_of_difference", "points_of_contention"])


# ---------------------------------------------------------------------------
# fieldwork


def _log(study: Study, only: frozenset[str] | None = None) -> pd.DataFrame:
    """The fieldwork log with a sort key (``only``: these customers' rows); an empty log of the same columns
    when there is none."""
    cols = ["customer_id", "date", "step", "status", "with", "note", "line"]
    fw = study.fieldwork
    if fw is None:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "date" else object) for c in cols}
                            ).assign(order=pd.Series(dtype=float))
    fw = (fw[fw["customer_id"].isin(only)] if only is not None else fw).copy()
    for c in ("with", "note"):
        if c not in fw.columns:
            fw[c] = ""
        fw[c] = fw[c].fillna("").astype(str)
    if "line" not in fw.columns:
        fw["line"] = np.arange(2, len(fw) + 2)
    fw["date"] = pd.to_datetime(fw["date"], errors="coerce")
    fw["order"] = fw["step"].map(_STEP_ORDER).astype(float)
    # chronological: date (undated rows last), then step order, then file line
    return fw.sort_values(["date", "order", "line"], na_position="last", kind="stable").reset_index(drop=True)


def _customer_state(rows: pd.DataFrame) -> dict[str, Any]:
    """Funnel flags, stage, last done and next planned step of one customer's log rows."""
    if rows.empty:
        return dict(in_log=False, invited=False, agreed=False, visited=False, data_received=False,
                    declined=False, stage="not in log", last_step="", last_date=pd.NaT, next_step="",
                    next_date=pd.NaT, with_="", note="")
    status, step = rows["status"].to_numpy(), rows["step"].to_numpy()
    done = set(step[status == "done"])
    received = "data_received" in done
    answers = rows[rows["step"].isin(_RESEARCH_STEPS) & rows["status"].isin(("done", "declined"))]
    declined = (not received and len(answers) > 0 and answers["status"].iloc[-1] == "declined")
    invited = bool(np.isin(status, ("done", "declined")).any())
    agreed = bool(done & set(_AGREED_STEPS)) and not declined
    visited = "data_visit" in done and not declined
    if declined:
        stage = "declined"
    elif "review" in done:
        stage = "reviewed"
    elif received:
        stage = "data received"
    elif visited:
        stage = "visited"
    elif agreed:
        stage = "agreed"
    elif invited:
        stage = "invited"
    else:
        stage = "planned"
    dn = rows[rows["status"] == "done"]
    # a planned row for a step already done is stale (the log was not tidied): skip it
    pl = rows[(rows["status"] == "planned") & ~rows["step"].isin(done)]
    named = rows[rows["with"].str.strip() != ""]
    return dict(
        in_log=True, invited=invited, agreed=agreed, visited=visited, data_received=received, declined=declined,
        stage=stage,
        last_step=dn["step"].iloc[-1] if len(dn) else "", last_date=dn["date"].iloc[-1] if len(dn) else pd.NaT,
        next_step=pl["step"].iloc[0] if len(pl) else "", next_date=pl["date"].iloc[0] if len(pl) else pd.NaT,
        with_=named["with"].iloc[-1] if len(named) else "", note=rows["note"].iloc[-1],
    )


NO_SUBSEGMENT = "(no subsegment)"  # where a declined invitee without a subsegment in the log is counted


def _states(study: Study, only: frozenset[str] | None = None) -> pd.DataFrame:
    """One row per customer of customers.csv, then per declined invitee of the log (``member`` False).

    ``only``: just these customers (a per-customer report asks for one: its
    cost must not grow with the number of customers in the study).
    """
    log = _log(study, only)
    groups = {cid: g for cid, g in log.groupby("customer_id", sort=False)} if len(log) else {}
    empty = log.iloc[0:0]
    recs = []
    for cid, sub in zip(study.customers["customer_id"], study.customers["subsegment"]):
        if only is not None and cid not in only:
            continue
        recs.append({"customer_id": cid, "subsegment": sub, "member": True,
                     **_customer_state(groups.get(cid, empty))})
    members = set(study.customers["customer_id"])
    for cid, rows in groups.items():
        if cid in members:
            continue
        subs = [s for s in (rows["subsegment"] if "subsegment" in rows.columns else []) if isinstance(s, str) and s]
        recs.append({"customer_id": cid, "subsegment": subs[-1] if subs else NO_SUBSEGMENT, "member": False,
                     **_customer_state(rows)})
    out = pd.DataFrame(recs)
    if out.empty:
        return out
    for c in ("last_date", "next_date"):
        out[c] = pd.to_datetime(out[c])
    return out.rename(columns={"with_": "with"})


def fieldwork_by_subsegment(study: Study, *, target_min: int = TARGET_MIN,
                            target_max: int = TARGET_MAX) -> pd.DataFrame:
    """Per subsegment: customers invited, agreed, visited, with data received, against six to eight.

    See the module docstring for how each count reads the log; a customer
    with no row in the log counts as not yet invited (``not_in_log``).

    Parameters
    ----------
    study : Study
    target_min, target_max : int
        The method's range of customers with data per subsegment (6 and 8).

    Returns
    -------
    DataFrame
        ``subsegment, customers, invitees, not_in_log, invited, agreed, visited,
        data_received, declined, inputs_complete, target_min, target_max,
        below_target, flag``, one row per subsegment of project.yaml, and a
        last row ``(no subsegment)`` when a declined invitee of the log has
        no subsegment. ``invitees`` counts the declined invitees (contacts
        with no row in customers.csv, also in ``invited`` and ``declined``).
        ``inputs_complete`` counts customers with every needed input in
        measurements.csv (whatever the log says); ``below_target`` is True
        when fewer than ``target_min`` customers have data received, and
        ``flag`` then reads "below the method's six to eight: N with data
        received" (empty otherwise). Without a fieldwork log the customers
        with figures in measurements.csv count instead ("N with figures in
        measurements.csv").

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.research import fieldwork_by_subsegment
    >>> f = fieldwork_by_subsegment(cvm.load_study(cvm.example_path()))
    >>> f[["subsegment", "data_received"]].values.tolist()
    [['high_volume', 7], ['low_volume', 6]]
    """
    from .values import input_coverage

    st = _states(study)
    cov = input_coverage(study)
    incomplete = set(cov.loc[~cov["present"], "customer_id"])
    logged = study.fieldwork is not None and len(study.fieldwork) > 0
    measured = set(study.measurements["customer_id"])
    flags = ["invited", "agreed", "visited", "data_received", "declined"]
    rows = []
    extra = [NO_SUBSEGMENT] if len(st) and (st["subsegment"] == NO_SUBSEGMENT).any() else []
    for sid in study.subsegment_ids + extra:
        g = st[st["subsegment"] == sid] if len(st) else st
        n = len(g)
        members = g[g["member"].astype(bool)] if n else g
        rec: dict[str, Any] = {"subsegment": sid, "customers": len(members), "invitees": n - len(members),
                               "not_in_log": int((~members["in_log"].astype(bool)).sum()) if len(members) else 0}
        for f in flags:
            rec[f] = int(g[f].astype(bool).sum()) if n else 0
        rec["inputs_complete"] = int(sum(1 for c in (members["customer_id"] if len(members) else [])
                                         if c not in incomplete))
        rec["target_min"], rec["target_max"] = target_min, target_max
        if logged:
            rec["below_target"] = rec["data_received"] < target_min
            have = f"{rec['data_received']} with data received"
        else:  # no log to say who sent data: the customers with figures in measurements.csv did
            n_data = sum(1 for c in (members["customer_id"] if len(members) else []) if c in measured)
            rec["below_target"] = n_data < target_min
            have = f"{n_data} with figures in measurements.csv"
        rec["flag"] = (f"below the method's {_words(target_min)} to {_words(target_max)}: {have}"
                       if rec["below_target"] else "")
        rows.append(rec)
    return pd.DataFrame(rows, columns=["subsegment", "customers", "invitees", "not_in_log", *flags, "inputs_complete",
                                       "target_min", "target_max", "below_target", "flag"])


def _words(n: int) -> str:
    names = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
    return names[n] if 0 <= n < len(names) else str(n)


def fieldwork_by_customer(study: Study, today: Any = None) -> pd.DataFrame:
    """Per customer: where the research stands, the last step done and the next one planned.

    Parameters
    ----------
    study : Study
    today : date or str, optional
        The date a planned step is overdue after (default: the current date).

    Returns
    -------
    DataFrame
        ``customer_id, subsegment, stage, last_step, last_date, next_step,
        next_date, overdue, with, note, missing_inputs``, one row per
        customer of customers.csv (in its order), then one per declined
        invitee of the log (stage ``declined``; subsegment from the log's
        ``subsegment`` column, else ``(no subsegment)``). ``stage`` is one of
        ``not in log, planned, invited, agreed, visited, data received,
        reviewed, declined``; ``last_step`` is the latest ``done`` step,
        ``next_step`` the earliest ``planned`` step not already done;
        ``overdue`` is True when ``next_date`` is before ``today`` (never for
        a declined customer); ``with`` and ``note`` come from the customer's
        latest row naming someone (note: latest row); ``missing_inputs``
        lists the needed input phrases not yet in measurements.csv
        (``; ``-separated).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.research import fieldwork_by_customer
    >>> c = fieldwork_by_customer(cvm.load_study(cvm.example_path()), today="2026-11-24")
    >>> int((c["stage"] == "declined").sum())
    0
    """
    from .values import missing_inputs

    day = pd.Timestamp(as_date(today))
    st = _states(study)
    cols = ["customer_id", "subsegment", "stage", "last_step", "last_date", "next_step", "next_date", "overdue",
            "with", "note", "missing_inputs"]
    if st.empty:
        return pd.DataFrame(columns=cols)
    st["overdue"] = (st["next_date"] < day).fillna(False).astype(bool) & (st["stage"] != "declined")
    miss = missing_inputs(study).groupby("customer_id", sort=False)["phrase"].agg("; ".join)
    st["missing_inputs"] = st["customer_id"].map(miss).astype(object).fillna("")  # none missing: all NaN floats
    return st[cols].reset_index(drop=True)


def missing_by_contact(study: Study, customer_id: str | None = None) -> pd.DataFrame:
    """The inputs still missing, from which customer, and whom to ask.

    Joins :func:`~cvm_kit.values.missing_inputs` with the customer's latest
    ``with`` in the fieldwork log (empty when the customer is not in the log).
    ``customer_id``: only that customer's rows, worked out from its own log
    rows alone (the same rows as the whole table's for that customer).

    Returns
    -------
    DataFrame
        ``customer_id, subsegment, phrase, needed_by, stage, with, next_step,
        next_date``, one row per missing customer x input phrase.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.research import missing_by_contact
    >>> m = missing_by_contact(cvm.load_study(cvm.example_path()))
    >>> m["customer_id"].tolist()
    ['C05']
    """
    from .values import missing_inputs

    miss = missing_inputs(study)
    only = None
    if customer_id is not None:
        only = frozenset([customer_id])
        miss = miss[miss["customer_id"] == customer_id].reset_index(drop=True)
    st = _states(study, only)
    cols = ["customer_id", "subsegment", "phrase", "needed_by", "stage", "with", "next_step", "next_date"]
    if miss.empty or st.empty:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "next_date" else object) for c in cols})
    out = miss.merge(st[["customer_id", "stage", "with", "next_step", "next_date"]], on="customer_id", how="left")
    return out[cols].reset_index(drop=True)


def fieldwork_note(study: Study) -> str:
    """A one-line note on where the counts come from ('' when the study has a fieldwork log)."""
    if study.fieldwork is not None:
        return ""
    return (f"No fieldwork.csv in {study.path}: every customer counts as not in the log; "
            "inputs_complete shows whose data is in measurements.csv.")
