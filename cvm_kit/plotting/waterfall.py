"""The customer value model picture: a value waterfall per subsegment."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from ..errors import CvmError
from ..reporting.fmt import compact  # noqa: F401 - kept importable from here
from . import literal_text, money_axis, new_axes, row_height, set_title

COLORS = {"element": "#1b9e77", "negative": "#d95f02", "differential": "#386cb0", "price": "#7f7f7f",
          "net": "#253494"}


@literal_text
def plot_value_waterfall(df: pd.DataFrame, *, ax=None, currency: str | None = None, wrap: int = 28, **kw):
    """Value waterfall of :func:`~cvm_kit.executive.value_waterfall`: elements add up to the net value.

    Horizontal bars, top to bottom: each element from the running level to
    the next (green if it adds value, orange if it takes some away), the
    differential value as a subtotal from 0 with its 95% interval, the price
    difference taken off, and the net value from 0 with its interval.
    Placeholders are listed below the chart, never summed.

    Parameters
    ----------
    df : DataFrame
        ``label, kind, start, end, ci_low, ci_high`` in step order.
    ax : Axes, optional
    currency : str, optional
        Shown on the value axis (default ``df.attrs["currency"]``).
    wrap : int
        Wrap element names at this many characters.
    **kw
        Passed to ``ax.barh``.

    Returns
    -------
    Axes
        ``ax.patches[i]`` is step ``i`` (first at the top) spanning
        ``start`` to ``end``; the interval lines are ``ax.lines``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import cvm_kit as cvm
    >>> from cvm_kit.executive import value_waterfall
    >>> from cvm_kit.plotting.waterfall import plot_value_waterfall
    >>> w = value_waterfall(cvm.load_study(cvm.example_path()), "high_volume")
    >>> ax = plot_value_waterfall(w)
    >>> len(ax.patches) == len(w)
    True
    """
    need = {"label", "kind", "start", "end"}
    if not need <= set(df.columns):
        raise CvmError(f"plot_value_waterfall needs columns {', '.join(sorted(need))}")
    n = len(df)
    labels = ["\n".join(textwrap.wrap(str(x), wrap)) or " " for x in df["label"]]
    lines = max([lab.count("\n") + 1 for lab in labels] or [1])
    ph = df.attrs.get("placeholders") or []
    ax = new_axes(ax, figsize=(8.0, max(3.0, row_height(lines) * n + 1.6 + (0.45 if ph else 0.0))))
    y = np.arange(n)[::-1]
    start = df["start"].to_numpy(float)
    end = df["end"].to_numpy(float)
    colors = [COLORS[k] if k != "element" else (COLORS["element"] if e >= s else COLORS["negative"])
              for k, s, e in zip(df["kind"], start, end)]
    bars = ax.barh(y, end - start, left=start, color=colors, height=0.62, **kw)
    for b in bars:  # a bar drawn leftwards (the price) pinned the axis end to its start: only 0 stays pinned
        b.sticky_edges.x[:] = [0.0]
    for yi, r in zip(y, df.itertuples(index=False)):
        lo, hi = getattr(r, "ci_low", np.nan), getattr(r, "ci_high", np.nan)
        if np.isfinite(lo) and np.isfinite(hi):
            ax.plot([lo, hi], [yi, yi], color="black", lw=1.4)
            ax.plot([lo, lo], [yi - 0.15, yi + 0.15], color="black", lw=1.4)
            ax.plot([hi, hi], [yi - 0.15, yi + 0.15], color="black", lw=1.4)
    ax.axvline(0, color="#444444", lw=0.8)
    ax.set_yticks(y)
    for t in ax.set_yticklabels(labels):
        t.set_parse_math(False)  # study text is never math
    money_axis(ax.xaxis)
    cur = currency if currency is not None else df.attrs.get("currency", "")
    xl = ax.set_xlabel(f"Mean value per customer ({cur})" if cur else "Mean value per customer")
    xl.set_parse_math(False)
    sub = df.attrs.get("subsegment")
    if sub:
        n, studied = df.attrs.get("n", 0), df.attrs.get("n_studied", 0)
        basis = f" ({n} of {studied} customers: those with every input)" if 0 < n < studied else ""
        set_title(ax, f"Customer value model: {sub}{basis}", loc="left")
    if ph:
        txt = "Not summed (placeholders): " + "; ".join(ph)
        # from the figure's left edge (long tick labels may push the axes right), wrapped to the figure's width
        chars = int(ax.figure.get_figwidth() * 72 * 0.9 / (8 * 0.6))
        ax.annotate("\n".join(textwrap.wrap(txt, chars)), xy=(0.02, 0), xycoords=("figure fraction", "axes fraction"),
                    xytext=(0, -34), textcoords="offset points", va="top", fontsize=8, color="#555555",
                    annotation_clip=False).set_parse_math(False)
    ax.grid(axis="x", color="#dddddd", lw=0.6)
    ax.set_axisbelow(True)
    return ax
