"""Plots of the sensitivity analysis: the tornado and the Monte Carlo histogram."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import CvmError
from . import legend_outside, literal_text, money_axis, new_axes, row_height, set_title, with_unit, wrap_labels


def _fmt(x: float) -> str:
    from ..variance import fmt_money

    return fmt_money(x)


def _outcome_name(df: pd.DataFrame) -> str:
    text = str(df["base_case"].iloc[0]) if "base_case" in df.columns and len(df) else ""
    return "differential value" if "differential value" in text else ("net value" if "net value" in text
                                                                      else "outcome")


@literal_text
def plot_tornado(df: pd.DataFrame, *, ax=None, colors: tuple[str, str] = ("#d95f02", "#1b9e77"),
                 max_factors: int | None = None, label_inputs: bool = True, currency: str | None = None,
                 title: str | None = None, **kw):
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
    currency : str, optional
        The unit on the value axis, e.g. ``EUR/year``.
    title : str, optional
        The chart's title (default: what the tornado shows).
    **kw
        Passed to ``ax.barh``.

    Returns
    -------
    Axes
        With ``n`` factors: ``ax.patches[:n]`` are the low bars and
        ``ax.patches[n:2n]`` the high bars, in order of decreasing swing; the
        widest is at the top (largest y). Each bar spans base_value to
        low_value (or high_value). The solid vertical line is the base case
        (every factor at its mean; the x label says so and gives its value);
        when ``mean_value`` (the customers' mean outcome) differs from it, a
        dashed line marks it, labelled in the legend.

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
    labels = t["label"] if "label" in t.columns else t["factor"]
    shown, lines = wrap_labels([str(v) for v in labels], 28)
    ax = new_axes(ax, figsize=(9.0, max(3.0, row_height(lines) * len(t) + 1.9)))
    n = len(t)
    if n == 0:
        set_title(ax, title or "Tornado: no factors")
        return ax
    base = float(t["base_value"].iloc[0])
    y = np.arange(n)[::-1]  # widest on top
    low = t["low_value"].to_numpy(float)
    high = t["high_value"].to_numpy(float)
    ax.barh(y, low - base, left=base, color=colors[0], height=0.6, label="factor at its low input", **kw)
    ax.barh(y, high - base, left=base, color=colors[1], height=0.6, label="factor at its high input", **kw)
    from ..sensitivity import base_differs, fmt_outcome

    name = _outcome_name(t)
    ax.axvline(base, color="k", lw=1, label=f"base case: every factor at its mean ({fmt_outcome(base)})")
    mean = float(t["mean_value"].iloc[0]) if "mean_value" in t.columns else np.nan
    show_mean = bool(base_differs(base, mean))
    if show_mean:
        ax.axvline(mean, color="0.35", lw=1, ls="--", label=f"customers' mean {name} ({fmt_outcome(mean)})")
    ax.set_yticks(y)
    ax.set_yticklabels(shown, fontsize=9)
    for tl in ax.get_yticklabels():
        tl.set_parse_math(False)  # factor names are study text, never math
    if label_inputs and {"low_input", "high_input"} <= set(t.columns):
        span = np.nanmax(np.abs(np.r_[low, high] - base)) if n else 1.0
        pad = 0.01 * (span if np.isfinite(span) and span > 0 else 1.0)
        ends: list[tuple[float, int, bool]] = []  # (bar end, label characters, label to the right)
        for yi, lv, hv, li, hi in zip(y, low, high, t["low_input"], t["high_input"]):
            if not (np.isfinite(lv) and np.isfinite(hv)) or lv == hv == base:
                continue  # no bar to label (a factor that does not move the outcome)
            for v, inp in ((lv, li), (hv, hi)):
                right = v >= base
                ax.text(v + (pad if right else -pad), yi, _fmt(inp), va="center", ha="left" if right else "right",
                        fontsize=8)
                ends.append((v, len(_fmt(inp)), right))
        lo_x = np.nanmin(np.r_[low, high, base, mean if show_mean else base])
        hi_x = np.nanmax(np.r_[low, high, base, mean if show_mean else base])
        names = max((len(line) for lab in shown for line in str(lab).split("\n")), default=0)
        ax.set_xlim(*_room_for_labels(ax, lo_x, hi_x, pad, ends, names))
    money_axis(ax.xaxis)
    ax.set_xlabel(with_unit(name[:1].upper() + name[1:], currency)
                  + f"\nbase case (every factor at its mean): {fmt_outcome(base)}"
                  + (f"; customers' mean: {fmt_outcome(mean)}" if show_mean else ""))
    set_title(ax, title or "Tornado: each factor moved alone from its low to its high input")
    legend_outside(ax, width=36)
    return ax


def _room_for_labels(ax, lo_x: float, hi_x: float, pad: float, ends: list[tuple[float, int, bool]],
                     names: int, fontsize: float = 8.0) -> tuple[float, float]:
    """x limits that keep every bar-end label (``ends``: bar end, characters, to the right?) inside the axes.

    A label's width is estimated (0.62 em a character) against the axes'
    width the laid-out figure leaves (its width less the factor names,
    ``names`` characters at 9 pt, and the legend, 36 at 8 pt), so a long
    input ("1,000,000") no longer runs over the frame into the factor names;
    at least 18% of the range on each side.
    """
    fig = ax.figure
    em = fig.dpi / 72 * 0.62  # pixels per character and point
    axes_px = max(fig.get_figwidth() * fig.dpi - (names * 9 + 36 * 8) * em - 60, 120.0)
    span = max(hi_x - lo_x + pad, 1e-12)
    left = right = 0.18 * span
    for _ in range(4):  # the label widths in data units depend on the limits: settle them
        per_px = (span + left + right) / axes_px
        need_l = max([lo_x - (v - pad - n * fontsize * em * per_px) for v, n, r in ends if not r] + [0.0])
        need_r = max([(v + pad + n * fontsize * em * per_px) - hi_x for v, n, r in ends if r] + [0.0])
        left, right = max(left, need_l * 1.05), max(right, need_r * 1.05)
    return lo_x - left, hi_x + right


@literal_text
def plot_sobol(df: pd.DataFrame, *, ax=None, colors: tuple[str, str] = ("#7570b3", "#d95f02"),
               max_factors: int | None = None, **kw):
    """Sobol indices of :func:`~cvm_kit.sensitivity.sobol_indices` for one subsegment, with their intervals.

    Parameters
    ----------
    df : DataFrame
        ``factor, S1, S1_conf, ST, ST_conf`` (one subsegment's rows; with
        several, the first subsegment's are drawn).
    ax : Axes, optional
    colors : (str, str)
        Colours of the first-order and total-order bars.
    max_factors : int, optional
        Draw only the inputs with the largest total-order index.
    **kw
        Passed to ``ax.barh``.

    Returns
    -------
    Axes
        With ``n`` inputs: ``ax.patches[:n]`` are the first-order bars
        (width ``S1``) and ``ax.patches[n:2n]`` the total-order bars (width
        ``ST``), largest ``ST`` on top; error bars show the confidence
        intervals.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import cvm_kit as cvm
    >>> from cvm_kit.sensitivity import sobol_indices
    >>> from cvm_kit.plotting.sensitivity import plot_sobol
    >>> s = sobol_indices(cvm.load_study(cvm.example_path()), samples=256)
    >>> ax = plot_sobol(s)
    >>> len(ax.patches) == 2 * int((s["subsegment"] == s["subsegment"].iloc[0]).sum())
    True
    """
    need = {"factor", "S1", "S1_conf", "ST", "ST_conf"}
    if not need <= set(df.columns):
        raise CvmError(f"plot_sobol needs columns {', '.join(sorted(need))}; got {', '.join(map(str, df.columns))}")
    t = df
    sub = None
    if "subsegment" in t.columns and len(t):
        sub = t["subsegment"].iloc[0]
        t = t[t["subsegment"] == sub]
    t = t.sort_values("ST", ascending=False, kind="stable", na_position="last").reset_index(drop=True)
    if max_factors is not None:
        t = t.head(max_factors)
    n = len(t)
    shown, lines = wrap_labels([str(v) for v in t["factor"]], 28)
    ax = new_axes(ax, figsize=(9.0, max(3.0, row_height(lines) * n + 1.8)))
    if n == 0:
        set_title(ax, "Sobol indices: no input varies")
        return ax
    y = np.arange(n)[::-1]
    h = 0.38
    ax.barh(y + h / 2, t["S1"].to_numpy(float), height=h, color=colors[0], xerr=t["S1_conf"].to_numpy(float),
            label="first order S1: the input alone", **kw)
    ax.barh(y - h / 2, t["ST"].to_numpy(float), height=h, color=colors[1], xerr=t["ST_conf"].to_numpy(float),
            label="total order ST: with its interactions", **kw)
    ax.set_yticks(y)
    ax.set_yticklabels(shown, fontsize=9)
    for tl in ax.get_yticklabels():
        tl.set_parse_math(False)  # input phrases are study text, never math
    ax.axvline(0, color="k", lw=0.8)
    of = str(t["of"].iloc[0]) if "of" in t.columns else "net"
    ax.set_xlabel(f"Share of the variance of the {of} value (lines: confidence interval)")
    set_title(ax, ("" if sub is None else f"{sub}: ") + "Sobol indices, inputs drawn from the customers' values")
    legend_outside(ax, width=24)
    return ax


@literal_text
def plot_simulation(draws: pd.DataFrame, *, ax=None, column: str = "net_value", bins: int = 60,
                    currency: str | None = None, **kw):
    """Histogram of the drawn net value per subsegment, with P(net > 0) in the legend.

    Parameters
    ----------
    draws : DataFrame
        :func:`~cvm_kit.sensitivity.simulate` output (``subsegment`` and
        ``column``).
    column : str
        ``net_value`` (default) or ``differential_value``.
    bins : int
    currency : str, optional
        The unit on the value axis, e.g. ``EUR/year``.
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
    ax = new_axes(ax, figsize=(9.0, 4.2))
    x_all = draws[column].to_numpy(float)
    edges = np.histogram_bin_edges(x_all[np.isfinite(x_all)], bins=bins) if np.isfinite(x_all).any() else bins
    for i, (s, g) in enumerate(draws.groupby("subsegment", sort=False)):
        x = g[column].to_numpy(float)
        p = float((x > 0).mean())
        ax.hist(x, bins=edges, alpha=0.5, color=f"C{i}", label=f"{s}: P({column.replace('_', ' ')} > 0) = {p:.0%}",
                **kw)
    ax.axvline(0, color="k", ls="--", lw=1)
    what = column.replace("_", " ")
    money_axis(ax.xaxis)
    ax.set_xlabel(with_unit(what[:1].upper() + what[1:], currency))
    ax.set_ylabel("Draws")
    method = draws["method"].iloc[0] if "method" in draws.columns and len(draws) else ""
    set_title(ax, f"Simulated {what} of a typical customer" + (f" ({method.replace('_', ' ')})" if method else ""))
    legend_outside(ax, width=34)
    return ax
