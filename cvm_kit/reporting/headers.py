"""The opening of every page: the study header with its provenance and charter, the per-customer header.

Every study text is escaped; the look comes from the one stylesheet
(``templates/style.css``), inlined into each exported page.
"""

from __future__ import annotations

import datetime as _dt
import html
from typing import Any

from ..study import Study
from .display import _display, _Html
from .tables import _customer_row

__all__ = ["header", "header_html", "customer_header", "customer_header_html", "internal_banner",
           "internal_banner_html", "INTERNAL_MARK"]


def header_html(study: Study, title: str, *, subtitle: str = "", today: Any = None) -> str:
    """The HTML that opens every report: title, the study's facts and provenance, its charter.

    Every study text is escaped.

    Parameters
    ----------
    study : Study
    title : str
        The notebook's title, e.g. ``"2. Estimates and the value summary"``.
    subtitle : str
        A line under the title (e.g. the customer of a per-customer report).
    today : date or str, optional
        The date the charter's days left count from (default: today).

    Returns
    -------
    str

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit import report
    >>> h = report.header_html(cvm.load_study(cvm.example_path()), "Test")
    >>> "Study charter" in h and "content hash" in h
    True
    """
    from .. import __version__
    from ..research import charter_html

    e = html.escape
    counts = study.customers["subsegment"].value_counts()
    alts = "".join(
        f"<li>{e(s.id)}: {e(study.alternative_for(s.id))}"
        + (f" <span class='cvm-note'>({e(s.description)})</span>" if s.description else "")
        + f", {int(counts.get(s.id, 0))} customers</li>"
        for s in study.subsegments)
    facts = [
        ("Offering", e(study.offering)),
        ("Segment", e(study.segment)),
        ("Next-best-alternative", e(study.next_best_alternative)),
        ("Subsegments", f"<ul class='cvm-list'>{alts}</ul>"),
        ("Values in", e(f"{study.currency} per customer per {study.period}")),
        ("Study", f"{e(study.label)} (content hash <code>{e(study.content_hash)}</code>)"),
        ("Produced", e(f"{_dt.datetime.now().strftime('%Y-%m-%d %H:%M')} with cvm_kit {__version__}")),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    sub = f"<p><b>{e(subtitle)}</b></p>" if subtitle else ""
    return (f"<section class='cvm-header'><h1>{e(title)}</h1><h2>{e(study.name)}</h2>{sub}"
            f"<dl>{dl}</dl></section>{charter_html(study, today)}")


def header(study: Study, title: str, *, subtitle: str = "", today: Any = None) -> None:
    """Display :func:`header_html` in the notebook."""
    text = f"{title}\n{study.name}\n{subtitle}\nstudy {study.label}, content hash {study.content_hash}"
    _display(_Html(header_html(study, title, subtitle=subtitle, today=today), text))


#: The mark on every internal part of a per-customer report.
INTERNAL_MARK = "Internal \u2014 not for the customer"


def internal_banner_html() -> str:
    """A red box saying the page is internal (:data:`INTERNAL_MARK`)."""
    return f"<div class='cvm-internal' role='note'>{html.escape(INTERNAL_MARK)}</div>"


def customer_header_html(study: Study, customer_id: str, title: str, *, internal: bool = False,
                         today: Any = None) -> str:
    """The opening of a per-customer report, safe to hand to that customer unless ``internal``.

    The customer-safe header names the offering, the next-best-alternative
    the customer is compared with, the unit of the values and the
    provenance (date, cvm_kit version, the study's content hash). It leaves
    out what the supplier keeps to itself: the study charter (its business
    issue is often a pricing question), the study's name and folder, the
    other subsegments and their customer counts. With ``internal=True`` the
    page opens with :func:`internal_banner_html` and adds the full study
    header (:func:`header_html`, charter included).

    Parameters
    ----------
    study : Study
    customer_id : str
    title : str
    internal : bool
    today : date or str, optional
        For the charter's days left (internal only).

    Returns
    -------
    str

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit import report
    >>> s = cvm.load_study(cvm.example_path())
    >>> cid = s.customers["customer_id"].iloc[0]
    >>> "Study charter" in report.customer_header_html(s, cid, "Report")
    False
    >>> "Study charter" in report.customer_header_html(s, cid, "Report", internal=True)
    True
    >>> report.INTERNAL_MARK in report.customer_header_html(s, cid, "Report", internal=True)
    True
    """
    from .. import __version__

    row = _customer_row(study, customer_id)
    if internal:
        return internal_banner_html() + header_html(study, title, subtitle=f"Customer {customer_id}", today=today)
    e = html.escape
    facts = [
        ("Customer", e(str(customer_id))),
        ("Segment", e(study.segment)),
        ("Offering", e(study.offering)),
        ("Compared with", e(study.alternative_for(str(row["subsegment"])))),
        ("Values in", e(f"{study.currency} per {study.period}")),
        ("Produced", e(f"{_dt.datetime.now().strftime('%Y-%m-%d')} with cvm_kit {__version__}")),
        ("Reference", f"<code>{e(study.content_hash)}</code>"),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    return f"<section class='cvm-header'><h1>{e(title)}</h1><dl>{dl}</dl></section>"


def customer_header(study: Study, customer_id: str, title: str, *, internal: bool = False,
                    today: Any = None) -> None:
    """Display :func:`customer_header_html` in the notebook."""
    text = (f"{INTERNAL_MARK}\n" if internal else "") + f"{title}\nreference {study.content_hash}"
    _display(_Html(customer_header_html(study, customer_id, title, internal=internal, today=today), text))


def internal_banner() -> None:
    """Display :func:`internal_banner_html` (e.g. again at the end of an internal page)."""
    _display(_Html(internal_banner_html(), INTERNAL_MARK))
