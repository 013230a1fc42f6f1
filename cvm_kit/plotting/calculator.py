"""Plots of the value calculator: the value waterfall."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import literal_text, money_axis, new_axes, set_title

_COLORS = {"start": "#7f7f7f", "total": "#1f4e79", "price": "#a6a6a6", "incentive": "#e69f00"}
_UP, _DOWN = "#2e8b57", "#c0392b"


@literal_text
def plot_value_waterfall(df: pd.DataFrame, *, ax=None, currency: str | None = None, annotate: bool = True, **kw):
    """Draw a value waterfall from :func:`cvm_kit.calculator_widgets.waterfall_table`.

    One bar per step, in order: full bars for the alternative's price, the
    offering's value and the offering's price; floating bars from ``start``
    to ``end`` for each element (green up, red down) and for the customer's
    incentive. A missing step is drawn with zero height and labelled
    ``missing``.

    Parameters
    ----------
    df : DataFrame
        ``step, kind, start, end, delta``.
    ax : Axes, optional
    currency : str, optional
        Put on the y axis label.
    annotate : bool
        Write each step's delta above its bar.
    **kw
        Passed to ``ax.bar``.

    Returns
    -------
    Axes
        Bar ``i`` (``ax.patches[i]``) spans ``min(start, end)`` to
        ``max(start, end)`` of row ``i``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> w = pd.DataFrame({"step": ["a", "b"], "kind": ["start", "total"], "start": [0.0, 0.0],
    ...                   "end": [1.0, 1.0], "delta": [1.0, 1.0]})
    >>> len(plot_value_waterfall(w).patches)
    2
    """
    ax = new_axes(ax, figsize=(max(6.0, 0.9 * len(df) + 2), 4.0))
    start = df["start"].to_numpy(float)
    end = df["end"].to_numpy(float)
    bottom = np.fmin(start, end)
    height = np.abs(end - start)
    missing = np.isnan(height)
    bottom = np.where(missing, 0.0, bottom)
    height = np.where(missing, 0.0, height)
    colors = []
    for kind, delta in zip(df["kind"], df["delta"].to_numpy(float)):
        if kind == "element":
            colors.append(_DOWN if delta < 0 else _UP)
        else:
            colors.append(_COLORS.get(kind, "#555555"))
    x = np.arange(len(df))
    ax.bar(x, height, bottom=bottom, color=colors, edgecolor="black", linewidth=0.5, **kw)
    # connectors: each element starts where the previous step ended
    for i in range(1, len(df)):
        if df["kind"].iloc[i] in ("element", "total") and not math.isnan(end[i - 1]):
            ax.plot([i - 1.4, i + 0.4], [end[i - 1], end[i - 1]], color="#999999", linewidth=0.6,
                    linestyle=":", zorder=0)
    if annotate:
        for i, (d, miss) in enumerate(zip(df["delta"].to_numpy(float), missing)):
            text = "missing" if miss else f"{d:+,.0f}" if df["kind"].iloc[i] in ("element", "incentive") else f"{d:,.0f}"
            ax.annotate(text, (x[i], bottom[i] + height[i]), ha="center", va="bottom", fontsize=8,
                        xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(x)
    ax.set_xticklabels([str(s) for s in df["step"]], rotation=30, ha="right", fontsize=8)
    ax.axhline(0, color="black", linewidth=0.6)
    money_axis(ax.yaxis)
    ax.set_ylabel(f"Value per customer ({currency})" if currency else "Value per customer")
    set_title(ax, "Value waterfall")
    return ax
