"""Plots of the business case for change: the profitability figures and the customer's incentive with its range."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import legend_outside, literal_text, money_axis, new_axes, row_height, set_title, wrap_labels

DEFAULT_QUANTITIES = ("incremental_contribution", "change_costs", "incremental_profit")
INCENTIVE_QUANTITIES = ("net_value_now", "incentive_at_new_price", "incentive_single_customer")


@literal_text
def plot_profit_range(df: pd.DataFrame, *, ax=None, quantities=DEFAULT_QUANTITIES, currency: str | None = None,
                      title: str = "Profitability impact of the change", **kw):
    """The 5th-95th percentile range of each figure, with its median and estimate.

    Parameters
    ----------
    df : DataFrame
        ``BusinessCase.profitability`` or ``BusinessCase.incentive`` (with
        ``quantities=INCENTIVE_QUANTITIES``): ``quantity, label, mean, p5,
        p50, p95``. The supplier's figures are point figures (no range).
    ax : Axes, optional
    quantities : sequence of str
        Which rows to draw, top to bottom (those absent are skipped).
    currency : str, optional
        Put on the x axis label.
    title : str
    **kw
        Passed to ``ax.barh``.

    Returns
    -------
    Axes
        One horizontal bar per drawn quantity, ``ax.patches[i]`` spanning
        ``p5`` to ``p95`` (a zero-width bar when there is no spread), a black
        tick at the median (``ax.lines[0]`` holds the medians) and a diamond
        at the estimate (``ax.lines[1]``); a dashed line at 0.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> t = pd.DataFrame({"quantity": ["incremental_profit"], "label": ["Incremental profit"],
    ...                   "mean": [10.0], "p5": [2.0], "p50": [9.0], "p95": [20.0]})
    >>> ax = plot_profit_range(t)
    >>> float(ax.patches[0].get_x()), float(ax.patches[0].get_width())
    (2.0, 18.0)
    """
    rows = df.set_index("quantity")
    names = [q for q in quantities if q in rows.index]
    sel = rows.loc[names]
    labels = sel["label"] if "label" in sel.columns else pd.Series(names)
    shown, lines = wrap_labels([str(s) for s in labels], 28)
    ax = new_axes(ax, figsize=(8.0, max(3.0, row_height(lines) * len(names) + 1.8)))
    y = np.arange(len(names))[::-1]
    p5 = sel["p5"].to_numpy(float)
    p95 = sel["p95"].to_numpy(float)
    colors = ["#c0392b" if q == "change_costs" else ("#1f4e79" if q == "incremental_profit" else "#9fb3c8")
              for q in names]
    ax.barh(y, np.nan_to_num(p95 - p5), left=np.nan_to_num(p5), height=0.5, color=colors, **kw)
    ax.plot(sel["p50"].to_numpy(float), y, linestyle="none", marker="|", markersize=16, color="black", label="median")
    ax.plot(sel["mean"].to_numpy(float), y, linestyle="none", marker="D", markersize=5, color="#e69f00",
            label="estimate")
    ax.axvline(0.0, color="black", linestyle="--", linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(shown, fontsize=9)
    for tl in ax.get_yticklabels():
        tl.set_parse_math(False)  # labels may carry study text, never math
    money_axis(ax.xaxis)
    ax.set_xlabel(f"Per period ({currency}); bar = 5th to 95th percentile" if currency
                  else "Per period; bar = 5th to 95th percentile")
    set_title(ax, title)
    legend_outside(ax)
    return ax
