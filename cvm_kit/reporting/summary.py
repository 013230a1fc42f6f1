"""The executive summary as HTML: the top of the report index and page 1 of the PDF pack."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from ..executive import METHOD_MAX, METHOD_MIN, executive_summary, value_waterfall
from ..study import Study
from . import fmt
from .render import render


def _png(fig: Any) -> str:
    from .png import png_bytes

    return base64.b64encode(png_bytes(fig, dpi=110)).decode("ascii")


def waterfall_figures(study: Study, *, values: Any = None, totals: Any = None) -> list[dict[str, str]]:
    """One value waterfall per subsegment as base64 PNG, with alternative text and a caption."""
    import matplotlib

    if "inline" not in str(dict.__getitem__(matplotlib.rcParams, "backend")):  # a warm kernel keeps its backend
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..errors import AnalysisError
    from ..plotting.waterfall import plot_value_waterfall

    out = []
    for sid in study.subsegment_ids:
        try:
            w = value_waterfall(study, sid, values=values, totals=totals)
        except AnalysisError:  # no customer yet: its card says so; no chart of zeros
            continue
        ax = plot_value_waterfall(w)
        try:
            n, studied = w.attrs.get("n", 0), w.attrs.get("n_studied", 0)
            basis = (f" Means over the {n} of {studied} customers with every input." if 0 < n < studied else "")
            out.append({"png": _png(ax.figure), "alt": f"Value waterfall, {sid}",
                        "caption": (f"{sid}: each element's mean adds up to the differential value; the price "
                                    f"difference is taken off to give the net value (black: 95% interval)."
                                    + basis)})
        finally:
            plt.close(ax.figure)
    return out


def executive_context(study: Study, *, draws: int = 20_000, seed: int = 0, prob: float = 0.8,
                      figures: bool = True) -> dict[str, Any]:
    """Everything the summary template shows, computed from the study.

    Returns
    -------
    dict
        ``rows`` (one per subsegment, the columns of
        :func:`~cvm_kit.executive.executive_summary` plus display texts and
        ``top``), ``placeholders``, ``flags`` (contradicted or untested
        hypotheses, :func:`~cvm_kit.hypothesis_tests.hypotheses_flags`), ``figures``, ``business_issue``, ``unit``,
        ``currency``, ``period``, ``offering``, ``segment``, ``draws``, ``seed``.
    """
    from ..values import element_values
    from ..values import totals as _totals

    values = element_values(study)
    totals = _totals(study, values)
    ex = executive_summary(study, values=values, totals=totals, draws=draws, seed=seed, prob=prob)
    top = ex.attrs["top"]  # over the customers the card's net value rests on
    rows = []
    for r in ex.to_dict("records"):
        r = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
        r["net_mean_text"] = fmt.money(r["net_mean"])
        r["net_ci_text"] = (f"{fmt.money(r['net_ci_low'])} to {fmt.money(r['net_ci_high'])}"
                            if r["net_ci_low"] is not None and r["net_ci_high"] is not None else fmt.DASH)
        r["max_premium_text"] = fmt.money(r["max_premium"])
        r["top"] = top[top["subsegment"] == r["subsegment"]].to_dict("records")
        rows.append(r)
    placeholders = []
    for p in ex.attrs.get("placeholders", []):
        lo, hi = p["perceived_low"], p["perceived_high"]
        rng = f"{fmt.money(lo)} to {fmt.money(hi, study.currency)}" if np.isfinite(lo) and np.isfinite(hi) else ""
        placeholders.append({"name": p["name"], "range": rng})
    from ..hypothesis_tests import check_hypotheses, hypotheses_flags

    try:
        flags = hypotheses_flags(check_hypotheses(study))
    except Exception as exc:  # noqa: BLE001 - the summary stands without the hypothesis checks; say why
        flags = [f"The hypotheses could not be checked: {exc}"]
    return {
        "rows": rows, "placeholders": placeholders, "flags": flags,
        "figures": waterfall_figures(study, values=values, totals=totals) if figures else [],
        "business_issue": ex.attrs.get("business_issue", ""), "unit": ex.attrs.get("unit", ""),
        "currency": study.currency, "period": study.period, "offering": study.offering or "the offering",
        "segment": study.segment or study.name, "draws": draws, "seed": seed, "method_min": METHOD_MIN,
        "method_max": METHOD_MAX,
    }


def executive_html(study: Study, **kw: Any) -> str:
    """The executive summary as an HTML fragment (``<section class="executive">``), every study text escaped.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.reporting.summary import executive_html
    >>> html = executive_html(cvm.load_study(cvm.example_path()), draws=2000, figures=False)
    >>> "Net value to the customer" in html and "high_volume" in html
    True
    """
    return render("summary.html.j2", **executive_context(study, **kw))
