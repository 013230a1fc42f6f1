"""Plots of the sensitivity analysis: the tornado and the Monte Carlo histogram."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import CvmError
from . import new_axes


def _fmt(x: float) -> str:
    from ..variance import fmt_money

    return fmt_money(x)


def plot_tornado(df: pd.DataFrame, *, ax=None, colors: tuple[str, str] = ("#d95f02", "#1b9e77"),
                 max_factors: int | None = None, label_inputs: bool = True, **kw):
    """Tornado chart of :func:`~cvm_kit.sensitivity.tornado`: widest swing on top.

    Each factor is a horizontal band; its two bars start at the base value
    (the vertical line) and end at the outcome with the factor at its low
    input (first colour) and at its high input (second colour). The input
    values are written at the bar ends.

    Parameters
    ----------
    df : DataFrame
        ``factor`` (or ``label``), ``low_input, high_input, low_value,
        base_value, high_value, swing``.
    ax : Axes, optional
    colors : (str, str)
        Colours of the low-input and high-input bars.
    max_factors : int, optional
        Draw only the widest ones.
    label_inputs : bool
        Write the input values at the bar ends.
    **kw
        Passed to ``ax.barh``.

    Returns
    -------
    Axes
        With ``n`` factors: ``ax.patches[:n]`` are the low bars and
        ``ax.patches[n:2n]`` the high bars, in order of decreasing swing; the
        widest is at the top (largest y). Each bar spans base_value to
        low_value (or high_value).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import cvm_kit as cvm
    >>> from cvm_kit.sensitivity import tornado
    >>> from cvm_kit.plotting.sensitivity import plot_tornado
    >>> t = tornado(cvm.load_study(cvm.example_path()))
    >>> ax = plot_tornado(t)
    >>> len(ax.patches) == 2 * len(t)
    True
    """
    need = {"low_value", "base_value", "high_value"}
    if not need <= set(df.columns):
        raise CvmError(f"plot_tornado needs columns {', '.join(sorted(need))}; got {', '.join(map(str, df.columns))}")
    t = df.copy()
    if "swing" not in t.columns:
        t["swing"] = (t["high_value"] - t["low_value"]).abs()
    t = t.sort_values("swing", ascending=False, kind="stable", na_position="last").reset_index(drop=True)
    if max_factors is not None:
        t = t.head(max_factors)
    ax = new_axes(ax, figsize=(8.0, max(2.5, 0.45 * len(t) + 1.2)))
    n = len(t)
    if n == 0:
        ax.set_title("tornado: no factors")
        return ax
    base = float(t["base_value"].iloc[0])
    y = np.arange(n)[::-1]  # widest on top
    low = t["low_value"].to_numpy(float)
    high = t["high_value"].to_numpy(float)
    ax.barh(y, low - base, left=base, color=colors[0], height=0.6, label="factor at its low input", **kw)
    ax.barh(y, high - base, left=base, color=colors[1], height=0.6, label="factor at its high input", **kw)
    ax.axvline(base, color="k", lw=1)
    labels = t["label"] if "label" in t.columns else t["factor"]
    ax.set_yticks(y)
    ax.set_yticklabels([str(v) for v in labels])
    if label_inputs and {"low_input", "high_input"} <= set(t.columns):
        span = np.nanmax(np.abs(np.r_[low, high] - base)) if n else 1.0
        pad = 0.01 * (span if np.isfinite(span) and span > 0 else 1.0)
        for yi, lv, hv, li, hi in zip(y, low, high, t["low_input"], t["high_input"]):
            if not (np.isfinite(lv) and np.isfinite(hv)) or lv == hv == base:
                continue  # no bar to label (a factor that does not move the outcome)
            for v, inp in ((lv, li), (hv, hi)):
                right = v >= base
                ax.text(v + (pad if right else -pad), yi, _fmt(inp), va="center", ha="left" if right else "right",
                        fontsize=8)
        lo_x = np.nanmin(np.r_[low, high, base])
        hi_x = np.nanmax(np.r_[low, high, base])
        ax.set_xlim(lo_x - 0.18 * (hi_x - lo_x + pad), hi_x + 0.18 * (hi_x - lo_x + pad))
    ax.set_xlabel(f"outcome (base {_fmt(base)})")
    ax.set_title("Tornado: each factor moved alone from its low to its high input")
    ax.legend(loc="lower right", fontsize=8)
    return ax


def plot_simulation(draws: pd.DataFrame, *, ax=None, column: str = "net_value", bins: int = 60, **kw):
    """Histogram of the drawn net value per subsegment, with P(net > 0) in the legend.

    Parameters
    ----------
    draws : DataFrame
        :func:`~cvm_kit.sensitivity.simulate` output (``subsegment`` and
        ``column``).
    column : str
        ``net_value`` (default) or ``differential_value``.
    bins : int
    **kw
        Passed to ``ax.hist``.

    Returns
    -------
    Axes
        One histogram per subsegment (legend ``<subsegment>: P(value > 0) = 94%``)
        and a dashed line at 0.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import cvm_kit as cvm
    >>> from cvm_kit.sensitivity import simulate
    >>> from cvm_kit.plotting.sensitivity import plot_simulation
    >>> ax = plot_simulation(simulate(cvm.load_study(cvm.example_path()), draws=1000))
    >>> len(ax.get_legend().get_texts())
    2
    """
    if column not in draws.columns or "subsegment" not in draws.columns:
        raise CvmError(f"plot_simulation needs columns subsegment and {column}")
    ax = new_axes(ax)
    x_all = draws[column].to_numpy(float)
    edges = np.histogram_bin_edges(x_all[np.isfinite(x_all)], bins=bins) if np.isfinite(x_all).any() else bins
    for i, (s, g) in enumerate(draws.groupby("subsegment", sort=False)):
        x = g[column].to_numpy(float)
        p = float((x > 0).mean())
        ax.hist(x, bins=edges, alpha=0.5, color=f"C{i}", label=f"{s}: P({column.replace('_', ' ')} > 0) = {p:.0%}",
                **kw)
    ax.axvline(0, color="k", ls="--", lw=1)
    ax.set_xlabel(column.replace("_", " "))
    ax.set_ylabel("draws")
    method = draws["method"].iloc[0] if "method" in draws.columns and len(draws) else ""
    ax.set_title(f"Simulated {column.replace('_', ' ')} of a typical customer" + (f" ({method})" if method else ""))
    ax.legend(fontsize=8)
    return ax
