"""Plots of the report notebooks: input coverage, source mix, estimates, net values, one customer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import CvmError
from . import literal_text, new_axes

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
    ax = new_axes(ax, figsize=(max(6.0, 0.35 * n_cols + 3), max(2.5, 0.28 * n_rows + 1.5)))
    cmap = ListedColormap(["#c0392b", "#1f4e79"]).with_extremes(bad="white")
    mat = np.ma.masked_invalid(data.to_numpy(float)) if n_rows and n_cols else np.zeros((1, 1))
    ax.imshow(mat, cmap=cmap, vmin=0, vmax=1, aspect="auto", interpolation="nearest", **kw)
    ax.set_xticks(range(n_cols))
    ax.set_xticklabels([str(c) for c in data.columns], rotation=60, ha="right", fontsize=7)
    labels = [f"{i} ({s})" for i, s in zip(data.index, df["subsegment"])] if "subsegment" in df else list(map(str, data.index))
    ax.set_yticks(range(n_rows))
    ax.set_yticklabels(labels, fontsize=7)
    missing = int((data.to_numpy(float) == 0).sum())
    ax.set_title(f"Inputs on file (blue), missing (red: {missing}), not needed (white)")
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
    ax = new_axes(ax, figsize=(7.0, 0.6 * max(df["subsegment"].nunique(), 1) + 1.6))
    wide = df.groupby(["subsegment", "source"], sort=False)["share"].sum().unstack("source").fillna(0.0)
    subs = list(dict.fromkeys(df["subsegment"]))
    wide = wide.reindex(subs)
    left = np.zeros(len(wide))
    for src in [s for s in _SOURCE_COLORS if s in wide.columns]:
        vals = wide[src].to_numpy(float) * 100
        ax.barh(range(len(wide)), vals, left=left, color=_SOURCE_COLORS[src], label=src, **kw)
        left = left + vals
    ax.set_yticks(range(len(wide)))
    ax.set_yticklabels(subs)
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of measurement rows (%)")
    ax.legend(loc="lower right", fontsize=8, ncols=4)
    ax.set_title("Where the numbers come from")
    return ax


@literal_text
def plot_estimates(df: pd.DataFrame, *, ax: Any = None, currency: str = "", **kw: Any):
    """Per element: the mean and 95% interval in each subsegment (and the whole segment).

    Parameters
    ----------
    df : DataFrame
        :func:`cvm_kit.estimates.summarize` (``element_id, subsegment, mean,
        ci_low, ci_high``).

    Returns
    -------
    Axes
        One errorbar container per subsegment (``all`` last), elements on the y axis.
    """
    _need(df, ("element_id", "subsegment", "mean", "ci_low", "ci_high"), "plot_estimates")
    elements = list(dict.fromkeys(df["element_id"]))
    subs = list(dict.fromkeys(df["subsegment"]))
    ax = new_axes(ax, figsize=(7.5, 0.55 * len(elements) + 1.5))
    k = len(subs)
    for j, sub in enumerate(subs):
        d = df[df["subsegment"] == sub].set_index("element_id").reindex(elements)
        y = np.arange(len(elements)) + (j - (k - 1) / 2) * 0.8 / max(k, 1)
        mean = d["mean"].to_numpy(float)
        lo = np.nan_to_num(mean - d["ci_low"].to_numpy(float))
        hi = np.nan_to_num(d["ci_high"].to_numpy(float) - mean)
        color = "black" if sub == "all" else _PALETTE[j % len(_PALETTE)]
        ax.errorbar(mean, y, xerr=[lo, hi], fmt="o", color=color, capsize=3, label=str(sub), **kw)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(range(len(elements)))
    ax.set_yticklabels(elements)
    ax.invert_yaxis()
    ax.set_xlabel(f"value per customer{(' (' + currency + ')') if currency else ''}, mean and 95% interval")
    ax.legend(fontsize=8)
    ax.set_title("Element values by subsegment")
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
    ax = new_axes(ax, figsize=(max(6.0, 0.3 * len(d) + 2), 3.8))
    subs = list(dict.fromkeys(df["subsegment"]))
    colors = {s: _PALETTE[i % len(_PALETTE)] for i, s in enumerate(subs)}
    ax.bar(range(len(d)), d[value].to_numpy(float), color=[colors[s] for s in d["subsegment"]], **kw)
    ax.set_xticks(range(len(d)))
    ax.set_xticklabels(d["customer_id"].astype(str), rotation=90, fontsize=7)
    ax.axhline(0, color="grey", lw=0.8)
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=colors[s], label=str(s)) for s in subs], fontsize=8)
    ax.set_ylabel(f"{value.replace('_', ' ')}{(' (' + currency + ')') if currency else ''}")
    left_out = len(df) - len(d)
    ax.set_title(f"{value.replace('_', ' ').capitalize()} per customer"
                 + (f" ({left_out} missing, not shown)" if left_out else ""))
    return ax


@literal_text
def plot_customer_values(df: pd.DataFrame, *, ax: Any = None, currency: str = "", **kw: Any):
    """One customer's element values (bars) against its subsegment's and the segment's means (markers).

    Parameters
    ----------
    df : DataFrame
        :func:`cvm_kit.report.customer_values` (``element_id, value,
        subsegment_mean, segment_mean``; placeholders are left out).

    Returns
    -------
    Axes
        One bar per quantified element (``ax.patches``; a missing value is a
        zero-width bar labelled ``missing``), two marker lines for the means.
    """
    _need(df, ("element_id", "status", "value", "subsegment_mean", "segment_mean"), "plot_customer_values")
    d = df[df["status"] != "placeholder"]
    ax = new_axes(ax, figsize=(7.5, 0.5 * len(d) + 1.5))
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
    ax.set_yticklabels(d["element_id"].astype(str))
    ax.invert_yaxis()
    ax.set_xlabel(f"value{(' (' + currency + ')') if currency else ''}")
    ax.legend(fontsize=8, loc="best")
    ax.set_title("Element values: this customer against its subsegment and the segment")
    return ax
