"""Plots of the value documenter: a customer's value case history, delivery by element."""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import legend_outside, literal_text, money_axis, new_axes, row_height, set_title, with_unit, wrap, wrap_labels

PROMISED, REALIZED = "#9fb3c8", "#1f4e79"


def _period_label(start, end) -> str:
    if pd.isna(start) and pd.isna(end):
        return ""
    s = "" if pd.isna(start) else pd.Timestamp(start).strftime("%Y-%m")
    e = "" if pd.isna(end) else pd.Timestamp(end).strftime("%Y-%m")
    return f"{s} to {e}" if s and e else s or e


@literal_text
def plot_value_case_history(df: pd.DataFrame, *, ax=None, currency: str | None = None, **kw):
    """Promised versus realized value, one pair of bars per element and period.

    Parameters
    ----------
    df : DataFrame
        :func:`cvm_kit.documenter.value_case_history` (or any
        :func:`~cvm_kit.documenter.document_value` rows): ``element`` (or
        ``element_id``), ``period_start, period_end, promised, realized``.
    ax : Axes, optional
    currency : str, optional
        Put on the y axis label.
    **kw
        Passed to ``ax.bar``.

    Returns
    -------
    Axes
        ``ax.containers[0]`` holds the promised bars, ``ax.containers[1]`` the
        realized bars, in the rows' order (a missing figure has height 0).
        Where a promised range is given (``promised_low`` / ``promised_high``),
        a vertical line over the promised bar spans it (``ax.collections[0]``,
        one segment per row with a range; an open end stops at the promised
        figure, or at the other end without one) and the tick label says whether the realized value is inside,
        below or above it.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import cvm_kit as cvm
    >>> from cvm_kit.documenter import value_case_history
    >>> study = cvm.load_study(cvm.example_path())
    >>> h = value_case_history(study, study.realized["customer_id"].iloc[0])
    >>> len(plot_value_case_history(h).containers[1]) == len(h)
    True
    """
    ax = new_axes(ax, figsize=(max(7.0, 1.3 * len(df) + 3), 4.4))
    name_col = "element" if "element" in df.columns else "element_id"
    labels = [f"{wrap(n, 16)}\n{_period_label(s, e)}".strip() for n, s, e in
              zip(df[name_col].fillna(df.get("element_id", "")), df["period_start"], df["period_end"])]
    x = np.arange(len(df))
    w = 0.38
    ax.bar(x - w / 2, np.nan_to_num(df["promised"].to_numpy(float)), w, label="promised", color=PROMISED, **kw)
    ax.bar(x + w / 2, np.nan_to_num(df["realized"].to_numpy(float)), w, label="realized", color=REALIZED, **kw)
    if "realization_rate" in df.columns:
        for i, (r, top) in enumerate(zip(df["realization_rate"].to_numpy(float),
                                         np.fmax(df["promised"].to_numpy(float), df["realized"].to_numpy(float)))):
            if not np.isnan(r):
                ax.annotate(f"{r:.0%}", (x[i], np.nan_to_num(top)), ha="center", va="bottom", fontsize=8,
                            xytext=(0, 2), textcoords="offset points")
    if {"promised_low", "promised_high"} <= set(df.columns):
        lo = df["promised_low"].to_numpy(float)
        hi = df["promised_high"].to_numpy(float)
        has = ~(np.isnan(lo) & np.isnan(hi))
        if has.any():
            p = df["promised"].to_numpy(float)
            # an open end stops at the promised figure (or at the other end without one)
            bottom = np.where(np.isnan(lo), np.where(np.isnan(p), hi, p), lo)
            top = np.where(np.isnan(hi), np.where(np.isnan(p), lo, p), hi)
            ax.vlines((x - w / 2)[has], bottom[has], top[has], color="black", lw=2, label="promised range")
    if "vs_promise" in df.columns:
        labels = [f"{lab}\n{v} promise" if v else lab for lab, v in
                  zip(labels, df["vs_promise"].fillna("").astype(str))]
    ax.set_xticks(x)
    ax.set_xticklabels(labels, fontsize=8)
    for tl in ax.get_xticklabels():
        tl.set_parse_math(False)  # element names are study text, never math
    money_axis(ax.yaxis)
    ax.set_ylabel(with_unit("Value", currency))
    title = "Value case history"
    if "customer_id" in df.columns and df["customer_id"].nunique() == 1:
        title += f": {df['customer_id'].iloc[0]}"
    set_title(ax, title)
    legend_outside(ax, fontsize=9)
    return ax


@literal_text
def plot_delivery_by_element(df: pd.DataFrame, *, ax=None, rate: str = "overall_rate", **kw):
    """Realization rate per element (1 = delivered what was promised).

    Parameters
    ----------
    df : DataFrame
        :func:`cvm_kit.documenter.delivery_by_element`.
    ax : Axes, optional
    rate : str
        The column to draw: ``overall_rate`` (total realized / total
        promised, default), ``mean_rate`` or ``median_rate``.
    **kw
        Passed to ``ax.barh``.

    Returns
    -------
    Axes
        One horizontal bar per row (``ax.patches[i]`` width = ``df[rate][i]``,
        0 and labelled "no rate" when there is none: nothing known, or
        nothing positive, was promised), the first row at the top, a dashed
        line at 1.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import cvm_kit as cvm
    >>> from cvm_kit.documenter import delivery_by_element
    >>> t = delivery_by_element(cvm.load_study(cvm.example_path()))
    >>> len(plot_delivery_by_element(t).patches) == len(t)
    True
    """
    if rate not in df.columns:
        from ..errors import CvmError

        raise CvmError(f"plot_delivery_by_element: no column {rate!r}; expected overall_rate, mean_rate or median_rate")
    name_col = "element" if "element" in df.columns else "element_id"
    shown, lines = wrap_labels([str(n) for n in df[name_col]], 28)
    ax = new_axes(ax, figsize=(7.5, max(3.0, row_height(lines) * len(df) + 1.6)))
    values = df[rate].to_numpy(float)
    y = np.arange(len(df))[::-1]
    colors = [REALIZED if (not np.isnan(v) and v >= 1) else "#c0392b" for v in values]
    ax.barh(y, np.nan_to_num(values), color=colors, **kw)
    for yi, v in zip(y, values):
        # no rate: nothing known, or nothing positive, was promised (see cvm_kit.documenter._rate)
        ax.annotate("no rate" if np.isnan(v) else f"{v:.0%}", (np.nan_to_num(v), yi), va="center", fontsize=8,
                    xytext=(3, 0), textcoords="offset points")
    ax.axvline(1.0, color="black", linestyle="--", linewidth=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(shown, fontsize=9)
    for tl in ax.get_yticklabels():
        tl.set_parse_math(False)  # element names are study text, never math
    top = np.nanmax(np.r_[values, 1.0]) if len(values) else 1.0
    ax.set_xlim(0, top * 1.18)  # room for the percentages at the bar ends
    ax.set_xlabel({"overall_rate": "Realized / promised (totals)", "mean_rate": "Mean realization rate",
                   "median_rate": "Median realization rate"}.get(rate, rate))
    set_title(ax, "Value delivered versus promised, by element")
    return ax
