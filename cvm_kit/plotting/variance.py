"""Plots of the subsegment comparison: customers' values by subsegment."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import CvmError
from . import literal_text, money_axis, new_axes, set_title, with_unit, wrap

TOTAL_COLUMNS = ("differential_value", "net_value", "contention_value", "price_difference")


def _long(df: pd.DataFrame, element_id: str | None) -> tuple[pd.DataFrame, str]:
    """(customer_id, subsegment, value) rows of one element, from element values or totals."""
    if "element_id" in df.columns and "value" in df.columns:
        ids = list(dict.fromkeys(df["element_id"]))
        if element_id is None:
            if not ids:
                raise CvmError("the values table is empty: nothing to plot")
            element_id = ids[0]
        if element_id not in ids:
            raise CvmError(f"no element {element_id!r} in the values table; known: {', '.join(map(str, ids))}")
        sub = df[df["element_id"] == element_id]
        return sub[["subsegment", "value"]].reset_index(drop=True), element_id
    element_id = element_id or "net_value"
    if element_id not in df.columns:
        raise CvmError(f"column {element_id!r} not in the table; pass element values (element_id, value) or totals "
                       f"({', '.join(TOTAL_COLUMNS)})")
    return pd.DataFrame({"subsegment": df["subsegment"], "value": df[element_id]}), element_id


@literal_text
def plot_subsegment_values(values_df: pd.DataFrame, *, element_id: str | None = None, ax=None,
                           order: list[str] | None = None, confidence: float = 0.95, seed: int = 0,
                           name: str | None = None, currency: str | None = None, **kw):
    """Each customer's value of one element by subsegment, with box, mean and 95% interval.

    Parameters
    ----------
    values_df : DataFrame
        :func:`~cvm_kit.values.element_values` output (``element_id,
        subsegment, value``), or :func:`~cvm_kit.values.totals` output
        (then ``element_id`` names a column, default ``net_value``).
    element_id : str, optional
        The element to draw (default: the first in the table).
    ax : Axes, optional
    order : list of str, optional
        Subsegments left to right (default: as they first appear), e.g.
        ``study.subsegment_ids``.
    confidence : float
        Level of the t interval around each mean.
    seed : int
        Seed of the horizontal jitter of the points.
    name : str, optional
        The element's name for the title (default: the id).
    currency : str, optional
        The unit on the value axis, e.g. ``EUR/year``.
    **kw
        Passed to ``ax.scatter``.

    Returns
    -------
    Axes
        One box per subsegment at x = 0, 1, ... (in ``order``), the customers as points (``ax.collections``), and per
        subsegment an errorbar (``ax.containers``) at the mean with the t
        interval (none for a single customer). Missing values are left out
        and counted in the tick labels (``n=``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import cvm_kit as cvm
    >>> from cvm_kit.plotting.variance import plot_subsegment_values
    >>> ax = plot_subsegment_values(cvm.element_values(cvm.load_study(cvm.example_path())), element_id="rejects")
    >>> len(ax.containers)
    2
    """
    from scipy import stats

    data, element_id = _long(values_df, element_id)
    subs = list(order) if order is not None else list(dict.fromkeys(data["subsegment"]))
    ax = new_axes(ax, figsize=(max(6.5, 1.6 * len(subs) + 2.5), 4.2))
    rng = np.random.default_rng(seed)
    groups = [data.loc[data["subsegment"] == s, "value"].to_numpy(float) for s in subs]
    clean = [g[~np.isnan(g)] for g in groups]
    ax.boxplot([g if g.size else [np.nan] for g in clean], positions=np.arange(len(subs)), widths=0.5,
               showfliers=False, medianprops={"color": "0.4"}, boxprops={"color": "0.6"},
               whiskerprops={"color": "0.6"}, capprops={"color": "0.6"})
    for i, (s, g) in enumerate(zip(subs, clean)):
        color = f"C{i}"
        ax.scatter(i + rng.uniform(-0.12, 0.12, g.size), g, color=color, alpha=0.8, zorder=3, **kw)
        if g.size:
            m = g.mean()
            if g.size >= 2:
                half = stats.t.ppf(0.5 + confidence / 2, g.size - 1) * g.std(ddof=1) / np.sqrt(g.size)
                ax.errorbar(i + 0.3, m, yerr=[[half], [half]], fmt="D", color="k", capsize=4, zorder=4)
            else:
                ax.plot(i + 0.3, m, "D", color="k", zorder=4)
    ax.set_xticks(np.arange(len(subs)))
    ax.set_xticklabels([f"{wrap(s, 18)}\n(n={g.size}" + (f", {grp.size - g.size} missing)" if grp.size > g.size
                                                          else ")")
                        for s, g, grp in zip(subs, clean, groups)])
    ax.axhline(0, color="0.8", lw=0.8, zorder=0)
    money_axis(ax.yaxis)
    ax.set_ylabel(with_unit("Value per customer", currency))
    set_title(ax, f"{name or element_id}: customers by subsegment (diamond: mean and {confidence:.0%} interval)")
    return ax
