"""Plots of the report notebooks: input coverage, source mix, estimates, net values, one customer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import CvmError
from . import legend_outside, literal_text, money_axis, new_axes, row_height, set_title, with_unit, wrap, wrap_labels

_SOURCE_COLORS = {"data": "#1f4e79", "estimate": "#5b9bd5", "perception": "#f4b183", "assumption": "#c00000"}
_PALETTE = ["#1f4e79", "#e69f00", "#2e8b57", "#8e44ad", "#c0392b", "#7f7f7f"]


def _need(df: pd.DataFrame, cols: tuple[str, ...], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise CvmError(f"{what}: expected columns {', '.join(cols)}; missing {', '.join(missing)}")


@literal_text
def plot_coverage(df: pd.DataFrame, *, ax: Any = None, **kw: Any):
    """Heat map of :func:`cvm_kit.report.coverage_matrix`: customers (rows) x inputs (columns).

    Blue = on file, red = needed but missing, white = not needed (parity).

    Returns
    -------
    Axes
        ``ax.images[0]`` holds the matrix (1 on file, 0 missing, NaN not needed).
    """
    from matplotlib.colors import ListedColormap

    data = df.drop(columns=["subsegment"], errors="ignore")
    n_rows, n_cols = data.shape
    cols, col_lines = wrap_labels(data.columns, 22)
    ax = new_axes(ax, figsize=(max(6.0, 0.3 * n_cols + 3.5), max(3.0, 0.24 * n_rows + 1.4 + 0.11 * col_lines)))
    cmap = ListedColormap(["#c0392b", "#1f4e79"]).with_extremes(bad="white")
    mat = np.ma.masked_invalid(data.to_numpy(float)) if n_rows and n_cols else np.zeros((1, 1))
    ax.imshow(mat, cmap=cmap, vmin=0, vmax=1, aspect="auto", interpolation="nearest", **kw)
    ax.set_xticks(range(n_cols))
    # vertical, wrapped: long input phrases never run into each other
    ax.set_xticklabels(cols, rotation=90, ha="center", va="top", fontsize=7)
    labels = [f"{i} ({s})" for i, s in zip(data.index, df["subsegment"])] if "subsegment" in df else list(map(str, data.index))
    ax.set_yticks(range(n_rows))
    ax.set_yticklabels([wrap(x, 30) for x in labels], fontsize=7)
    missing = int((data.to_numpy(float) == 0).sum())
    set_title(ax, f"Inputs on file (blue), missing (red: {missing}), not needed (white)")
    return ax


@literal_text
def plot_source_mix(df: pd.DataFrame, *, ax: Any = None, **kw: Any):
    """Stacked bars: share of measurement rows by source, one bar per subsegment.

    Parameters
    ----------
    df : DataFrame
        :func:`cvm_kit.report.source_mix` (``subsegment, source, rows, share``).

    Returns
    -------
    Axes
        One bar container per source, in the order data, estimate, perception, assumption.
    """
    _need(df, ("subsegment", "source", "share"), "plot_source_mix")
    subs_shown, lines = wrap_labels(dict.fromkeys(df["subsegment"].astype(str)), 24)
    ax = new_axes(ax, figsize=(7.5, row_height(lines) * max(df["subsegment"].nunique(), 1) + 1.8))
    wide = df.groupby(["subsegment", "source"], sort=False)["share"].sum().unstack("source").fillna(0.0)
    subs = list(dict.fromkeys(df["subsegment"]))
    wide = wide.reindex(subs)
    left = np.zeros(len(wide))
    for src in [s for s in _SOURCE_COLORS if s in wide.columns]:
        vals = wide[src].to_numpy(float) * 100
        ax.barh(range(len(wide)), vals, left=left, color=_SOURCE_COLORS[src], label=src, **kw)
        left = left + vals
    ax.set_yticks(range(len(wide)))
    ax.set_yticklabels(subs_shown)
    ax.invert_yaxis()  # first subsegment on top, as in the tables
    ax.set_xlim(0, 100)
    ax.set_xlabel("Share of the customers' figures (%)")
    legend_outside(ax)
    set_title(ax, "Where the numbers come from")
    return ax


@literal_text
def plot_estimates(df: pd.DataFrame, *, ax: Any = None, currency: str = "",
                   names: dict[str, str] | None = None, **kw: Any):
    """Per element: the mean and 95% interval in each subsegment (and the whole segment).

    Parameters
    ----------
    df : DataFrame
        :func:`cvm_kit.estimates.summarize` (``element_id, subsegment, mean,
        ci_low, ci_high``).
    currency : str
        The unit on the value axis, e.g. ``EUR/year``.
    names : dict, optional
        Element id -> name shown on the axis (default: a ``name`` column, else the ids).

    Returns
    -------
    Axes
        One errorbar container per subsegment (``all`` last, labelled "whole
        segment"), elements (by name) on the y axis.
    """
    _need(df, ("element_id", "subsegment", "mean", "ci_low", "ci_high"), "plot_estimates")
    elements = list(dict.fromkeys(df["element_id"]))
    subs = list(dict.fromkeys(df["subsegment"]))
    names = dict(names or {})
    if "name" in df.columns:
        names = {**dict(zip(df["element_id"], df["name"])), **names}
    shown, lines = wrap_labels([names.get(e, e) for e in elements], 28)
    ax = new_axes(ax, figsize=(8.0, row_height(lines) * len(elements) + 1.6))
    k = len(subs)
    for j, sub in enumerate(subs):
        d = df[df["subsegment"] == sub].set_index("element_id").reindex(elements)
        y = np.arange(len(elements)) + (j - (k - 1) / 2) * 0.8 / max(k, 1)
        mean = d["mean"].to_numpy(float)
        lo = np.nan_to_num(mean - d["ci_low"].to_numpy(float))
        hi = np.nan_to_num(d["ci_high"].to_numpy(float) - mean)
        color = "black" if sub == "all" else _PALETTE[j % len(_PALETTE)]
        ax.errorbar(mean, y, xerr=[lo, hi], fmt="o", color=color, capsize=3,
                    label="whole segment" if sub == "all" else str(sub), **kw)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(range(len(elements)))
    ax.set_yticklabels(shown, fontsize=9)
    ax.invert_yaxis()
    money_axis(ax.xaxis)
    ax.set_xlabel(with_unit("Mean value per customer", currency) + "; bars: 95% interval")
    legend_outside(ax)
    set_title(ax, "Element values by subsegment")
    return ax


@literal_text
def plot_net_values(df: pd.DataFrame, *, ax: Any = None, value: str = "net_value", currency: str = "", **kw: Any):
    """Bars of each customer's net (or differential) value, coloured by subsegment, largest first.

    Parameters
    ----------
    df : DataFrame
        :func:`cvm_kit.values.totals` (``customer_id, subsegment, <value>``).

    Returns
    -------
    Axes
        One bar per customer with a value (``ax.patches`` in plotted order).
    """
    _need(df, ("customer_id", "subsegment", value), "plot_net_values")
    d = df.dropna(subset=[value]).sort_values(value, ascending=False)
    ax = new_axes(ax, figsize=(max(6.5, 0.28 * len(d) + 3.0), 4.2))
    subs = list(dict.fromkeys(df["subsegment"]))
    colors = {s: _PALETTE[i % len(_PALETTE)] for i, s in enumerate(subs)}
    ax.bar(range(len(d)), d[value].to_numpy(float), color=[colors[s] for s in d["subsegment"]], **kw)
    ax.set_xticks(range(len(d)))
    ax.set_xticklabels([wrap(c, 16) for c in d["customer_id"].astype(str)], rotation=90, fontsize=7)
    ax.axhline(0, color="grey", lw=0.8)
    money_axis(ax.yaxis)
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=colors[s], label=wrap(s, 24)) for s in subs], fontsize=8, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0.0)
    what = value.replace("_", " ")
    ax.set_ylabel(with_unit(what[:1].upper() + what[1:], currency))
    left_out = len(df) - len(d)
    set_title(ax, f"{what.capitalize()} per customer" + (f" ({left_out} missing, not shown)" if left_out else ""))
    return ax


@literal_text
def plot_customer_values(df: pd.DataFrame, *, ax: Any = None, currency: str = "", **kw: Any):
    """One customer's element values (bars) against its subsegment's and the segment's means (markers).

    Parameters
    ----------
    df : DataFrame
        :func:`cvm_kit.report.customer_values` (``element_id, value,
        subsegment_mean, segment_mean``; placeholders are left out).
    currency : str
        The unit on the value axis, e.g. ``EUR/year``.

    Returns
    -------
    Axes
        One bar per quantified element (``ax.patches``; a missing value is a
        zero-width bar labelled ``missing``), two marker lines for the means;
        the elements are labelled by ``name`` when the table has it.
    """
    _need(df, ("element_id", "status", "value", "subsegment_mean", "segment_mean"), "plot_customer_values")
    d = df[df["status"] != "placeholder"]
    shown, lines = wrap_labels(d["name"].fillna(d["element_id"]) if "name" in d.columns else d["element_id"], 28)
    ax = new_axes(ax, figsize=(8.0, row_height(lines) * len(d) + 1.6))
    y = np.arange(len(d))
    vals = d["value"].to_numpy(float)
    ax.barh(y, np.nan_to_num(vals), color="#1f4e79", label="this customer", **kw)
    ax.plot(d["subsegment_mean"].to_numpy(float), y, "D", color="#e69f00", label="subsegment mean")
    ax.plot(d["segment_mean"].to_numpy(float), y, "|", color="black", markersize=14, mew=2, label="segment mean")
    for yi, v in zip(y, vals):
        if np.isnan(v):
            ax.annotate("missing", (0, yi), xytext=(3, 0), textcoords="offset points", va="center",
                        color="#c0392b", fontsize=8)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(shown, fontsize=9)
    ax.invert_yaxis()
    money_axis(ax.xaxis)
    ax.set_xlabel(with_unit("Value", currency))
    legend_outside(ax)
    set_title(ax, "Element values: this customer against its subsegment and the segment")
    return ax


@literal_text
def plot_customer_headline(df: pd.DataFrame, *, ax: Any = None, currency: str = "", value: str = "net_value",
                           **kw: Any):
    """This customer's net value against its subsegment's and the segment's means: three bars.

    Parameters
    ----------
    df : DataFrame
        :func:`cvm_kit.reporting.customer.customer_headline` (``group, label,
        n, net_value, ...``).
    currency : str
        The unit on the value axis, e.g. ``EUR/year``.
    value : str
        The column drawn (``net_value`` by default).
    **kw
        Passed to ``ax.barh``.

    Returns
    -------
    Axes
        ``ax.patches[i]`` is row ``i`` (the customer on top), width = its
        value (0 when missing, labelled "—"); each bar's value is written at
        its end.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import cvm_kit as cvm
    >>> from cvm_kit.reporting.customer import customer_headline
    >>> s = cvm.load_study(cvm.example_path())
    >>> h = customer_headline(s, s.customers["customer_id"].iloc[0])
    >>> len(plot_customer_headline(h).patches)
    3
    """
    from ..reporting.fmt import money

    _need(df, ("group", "label", "n", value), "plot_customer_headline")
    labels = [("This customer" if g == "customer" else f"{lab} (n\u00a0=\u00a0{n})")
              for g, lab, n in zip(df["group"], df["label"], df["n"])]
    shown, lines = wrap_labels(labels, 24)
    ax = new_axes(ax, figsize=(6.0, row_height(lines) * len(df) + 1.5))
    vals = df[value].to_numpy(float)
    y = np.arange(len(df))
    colors = ["#253494" if g == "customer" else "#9fb3c8" for g in df["group"]]
    ax.barh(y, np.nan_to_num(vals), color=colors, height=0.6, **kw)
    finite = vals[np.isfinite(vals)]
    span = float(np.ptp(np.r_[finite, 0.0])) if finite.size else 1.0
    for yi, v in zip(y, vals):
        ax.annotate(money(v), (0.0 if not np.isfinite(v) else v, yi), va="center", fontsize=9,
                    ha="left" if not np.isfinite(v) or v >= 0 else "right",
                    xytext=(4 if not np.isfinite(v) or v >= 0 else -4, 0), textcoords="offset points")
    lo = min(0.0, float(finite.min()) if finite.size else 0.0)
    hi = max(0.0, float(finite.max()) if finite.size else 1.0)
    pad = 0.22 * (span or 1.0)  # room for the values written at the bar ends
    ax.set_xlim(lo - (pad if lo < 0 else 0.0), hi + (pad if hi > 0 else 0.05 * (span or 1.0)))
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(shown, fontsize=9)
    ax.invert_yaxis()
    money_axis(ax.xaxis, nbins=5)
    what = value.replace("_", " ")
    ax.set_xlabel(with_unit(what[:1].upper() + what[1:], currency))
    set_title(ax, f"{df.attrs.get('customer_id', 'This customer')}: {what} against the means")
    return ax
