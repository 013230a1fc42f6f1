"""The head of the per-customer page: this customer's net value against its subsegment and the segment.

Same style as the executive summary: a headline figure (the customer's net
value to it, per period), a small comparison chart and table (this customer,
its subsegment's mean, the segment's mean, each with n) and one generated
sentence. Customer-safe: only this customer's own figures and the
aggregates of its subsegment and segment (means, n) are shown; no other
customer's id or figure, no charter.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..study import Study
from . import fmt
from .disclosure import MIN_OTHERS, peer_mean
from .labels import unit

QUANTITIES = ("net_value", "differential_value", "price_difference")
HEADLINE_COLUMNS = ["group", "label", "n", "net_value", "differential_value", "price_difference"]


def customer_headline(study: Study, customer_id: str, *, totals: pd.DataFrame | None = None) -> pd.DataFrame:
    """This customer's net value, differential value and price difference against its subsegment and the segment.

    Parameters
    ----------
    study : Study
    customer_id : str
    totals : DataFrame, optional
        :func:`cvm_kit.values.totals` (computed if omitted).

    Returns
    -------
    DataFrame
        Three rows, ``group`` = ``customer``, ``subsegment``, ``segment``:
        ``group, label, n, net_value, differential_value, price_difference``.
        The customer's row holds its own figures (NaN where an input is
        missing; ``n`` = 1 if it has a net value, else 0); the others hold
        the means over the customers with a value and ``n`` = how many have
        a net value. A mean fewer than two other customers have a value in
        is withheld (NaN: it would give their figures back;
        :mod:`cvm_kit.reporting.disclosure`). ``attrs``: ``customer_id``,
        ``subsegment``, ``unit``.

    Raises
    ------
    CvmError
        The customer is not in the study.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> s = cvm.load_study(cvm.example_path())
    >>> h = customer_headline(s, s.customers["customer_id"].iloc[0])
    >>> list(h["group"])
    ['customer', 'subsegment', 'segment']
    """
    from ..values import require_customer
    from ..values import totals as _totals

    require_customer(study, customer_id)
    t = totals if totals is not None else _totals(study)
    mine = t[t["customer_id"] == customer_id].iloc[0]
    sub = str(mine["subsegment"])
    peers = t[t["subsegment"] == sub]

    def means(frame: pd.DataFrame) -> list[float]:  # withheld unless two other customers have a value
        return [peer_mean(frame[q], frame["customer_id"], customer_id) for q in QUANTITIES]

    own = [float(mine[q]) for q in QUANTITIES]
    rows = [
        ("customer", str(customer_id), int(np.isfinite(own[0])), *own),
        ("subsegment", f"Mean of {sub}", int(peers["net_value"].notna().sum()), *means(peers)),
        ("segment", f"Mean of {_short_segment(study.segment)}", int(t["net_value"].notna().sum()), *means(t)),
    ]
    out = pd.DataFrame(rows, columns=HEADLINE_COLUMNS)
    out.attrs.update(customer_id=str(customer_id), subsegment=sub, unit=unit(study))
    return out


def _short_segment(segment: str) -> str:
    """The segment's name for a table row and a chart label; a long one is "the segment" (the header names it)."""
    return segment if segment and len(segment) <= 32 else "the segment"


def _signed(x: float, u: str) -> str:
    return f"{fmt.money(abs(x))} {u} {'above' if x >= 0 else 'below'}".replace("  ", " ")


def headline_finding(head: pd.DataFrame) -> str:
    """One plain sentence from :func:`customer_headline`: where the customer stands, with the small-sample caution.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> s = cvm.load_study(cvm.example_path())
    >>> headline_finding(customer_headline(s, s.customers["customer_id"].iloc[0])).endswith(".")
    True
    """
    cid, sub, u = head.attrs.get("customer_id", ""), head.attrs.get("subsegment", ""), head.attrs.get("unit", "")
    r = head.set_index("group")
    net = float(r.loc["customer", "net_value"])
    sm, sn = float(r.loc["subsegment", "net_value"]), int(r.loc["subsegment", "n"])
    gm, gn = float(r.loc["segment", "net_value"]), int(r.loc["segment", "n"])
    withheld = (f"the mean of {sub} customers is not shown: fewer than {MIN_OTHERS} other customers have a net "
                f"value, and it would give their figures away")
    if not math.isfinite(net):
        return (f"{cid}'s net value cannot be computed yet: an input it rests on is still missing (see the data "
                f"still missing below). " + (f"The mean of {sub} customers is {fmt.money(sm)} {u} (n = {sn})."
                                              if math.isfinite(sm) else withheld[0].upper() + withheld[1:] + "."))
    text = f"{cid} gains {fmt.money(net)} {u} net" if net >= 0 else f"{cid} loses {fmt.money(-net)} {u} net"
    parts = []
    if math.isfinite(sm):
        parts.append(f"{_signed(net - sm, u)} the mean of {sub} customers ({fmt.money(sm)}, n = {sn})")
    if math.isfinite(gm):
        parts.append(f"{_signed(net - gm, u)} the segment's mean ({fmt.money(gm)}, n = {gn})")
    text += (": " + " and ".join(parts) if parts else "") + "."
    if not math.isfinite(sm):
        text += " " + withheld[0].upper() + withheld[1:] + "."
    elif sn < 6:
        text += f" The {sub} mean rests on {sn} customer{'s' if sn != 1 else ''}: read it as indicative."
    return text


def headline_png(head: pd.DataFrame) -> str:
    """:func:`cvm_kit.plotting.report.plot_customer_headline` of ``head`` as a base64 PNG (Agg, 100 dpi)."""
    import base64

    import matplotlib.pyplot as plt  # no backend switch: inside a notebook the inline backend stays

    from ..plotting.report import plot_customer_headline
    from .png import png_bytes

    ax = plot_customer_headline(head, currency=head.attrs.get("unit", ""))
    try:
        return base64.b64encode(png_bytes(ax.figure, dpi=100)).decode("ascii")
    finally:
        plt.close(ax.figure)


def customer_headline_html(study: Study, customer_id: str, *, totals: pd.DataFrame | None = None,
                           figure: bool = True) -> str:
    """The head of the customer page as an HTML fragment (every study text escaped).

    Parameters
    ----------
    study : Study
    customer_id : str
    totals : DataFrame, optional
    figure : bool
        Show :func:`cvm_kit.plotting.report.plot_customer_headline` beside
        the table (an embedded PNG).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> s = cvm.load_study(cvm.example_path())
    >>> "Net value to" in customer_headline_html(s, s.customers["customer_id"].iloc[0], figure=False)
    True
    """
    return _headline_html(study, customer_id, customer_headline(study, customer_id, totals=totals), figure=figure)


def _headline_html(study: Study, customer_id: str, head: pd.DataFrame, *, figure: bool = True) -> str:
    from .render import environment

    r = head.set_index("group")
    net = float(r.loc["customer", "net_value"])
    rows = [{"label": lab if g != "customer" else "This customer", "n": n if g != "customer" else "",
             "net": fmt.money(nv), "differential": fmt.money(dv), "price": fmt.money(pd_)}
            for g, lab, n, nv, dv, pd_ in head.itertuples(index=False, name=None)]
    ctx: dict[str, Any] = {
        "customer_id": str(customer_id), "subsegment": head.attrs["subsegment"], "unit": head.attrs["unit"],
        "net_text": fmt.money(net), "negative": math.isfinite(net) and net < 0, "missing": not math.isfinite(net),
        "differential_text": fmt.money(r.loc["customer", "differential_value"]),
        "price_text": fmt.money(r.loc["customer", "price_difference"]),
        "alternative": study.alternative_for(head.attrs["subsegment"]), "rows": rows,
        "finding": headline_finding(head), "png": headline_png(head) if figure else "", "dash": fmt.DASH,
    }
    return environment().get_template("customer.html.j2").render(**ctx)


def show_customer_headline(study: Study, customer_id: str, *, totals: pd.DataFrame | None = None) -> None:
    """Display :func:`customer_headline_html` in a notebook (with a plain-text form: the finding)."""
    from IPython.display import display

    head = customer_headline(study, customer_id, totals=totals)
    page = _headline_html(study, customer_id, head)  # the headline computed once
    text = headline_finding(head)

    class _Fragment:
        def _repr_html_(self) -> str:
            return page

        def __repr__(self) -> str:
            return text

    display(_Fragment())
