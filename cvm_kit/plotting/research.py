"""Plots of the research phase: the fieldwork funnel per subsegment."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..errors import CvmError
from . import legend_outside, literal_text, new_axes, set_title, wrap

_STAGES = (("invited", "invited"), ("agreed", "agreed"), ("visited", "visited"), ("data_received", "data received"))
_COLOURS = ("#c6dbef", "#6baed6", "#2171b5", "#08306b")


@literal_text
def plot_fieldwork_funnel(df: pd.DataFrame, *, ax: Any = None, **kw: Any):
    """Per subsegment bars of customers invited, agreed, visited and with data received.

    A shaded band marks the method's six to eight customers with data per
    subsegment; a subsegment below it gets "(below N)" under its name.

    Parameters
    ----------
    df : DataFrame
        The output of :func:`cvm_kit.research.fieldwork_by_subsegment`
        (``subsegment, invited, agreed, visited, data_received`` and
        optionally ``target_min, target_max``).
    ax : matplotlib Axes, optional
    **kw
        Passed to ``ax.bar``.

    Returns
    -------
    matplotlib Axes
        One bar container per stage (in funnel order), bars grouped by
        subsegment; the band is an ``axhspan`` from target_min to target_max.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.research import fieldwork_by_subsegment
    >>> from cvm_kit.plotting import plot_fieldwork_funnel
    >>> ax = plot_fieldwork_funnel(fieldwork_by_subsegment(cvm.load_study(cvm.example_path())))
    """
    need = ["subsegment"] + [c for c, _ in _STAGES]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise CvmError(f"plot_fieldwork_funnel needs columns {', '.join(need)} "
                       f"(from fieldwork_by_subsegment); missing: {', '.join(missing)}")
    ax = new_axes(ax, figsize=(max(7.0, 1.4 * len(df) + 3.0), 4.0))
    lo = int(df["target_min"].iloc[0]) if "target_min" in df.columns and len(df) else 6
    hi = int(df["target_max"].iloc[0]) if "target_max" in df.columns and len(df) else 8
    ax.axhspan(lo, hi, color="#a1d99b", alpha=0.35, zorder=0, label=f"target: {lo} to {hi} with data")
    n = len(_STAGES)
    width = 0.8 / n
    x = list(range(len(df)))
    for i, ((col, label), colour) in enumerate(zip(_STAGES, _COLOURS)):
        pos = [xi - 0.4 + width * (i + 0.5) for xi in x]
        ax.bar(pos, df[col].astype(float).to_numpy(), width=width, label=label, color=colour, zorder=2, **kw)
    ticks = []
    for sub, got in zip(df["subsegment"].astype(str), df["data_received"]):
        sub = wrap(sub, 18)
        ticks.append(f"{sub}\n(below {lo})" if got < lo else sub)
    ax.set_xticks(x)
    ax.set_xticklabels(ticks)
    top = max([hi + 1] + [float(df[c].max()) + 1 for c, _ in _STAGES if len(df)])
    ax.set_ylim(0, top)
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of customers
    ax.set_ylabel("customers")
    set_title(ax, "Fieldwork per subsegment")
    legend_outside(ax, fontsize=9)
    return ax
