"""Distributions of the customers' values by subsegment (seaborn strip and box plots)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..errors import CvmError
from . import literal_text, new_axes

#: Columns of :func:`~cvm_kit.values.totals` drawn when a totals table is given.
TOTALS = ("differential_value", "price_difference", "net_value")


def _long_values(values_df: pd.DataFrame, elements: list[str] | None) -> tuple[pd.DataFrame, list[str]]:
    """``customer_id, subsegment, element_id, value`` rows and the elements in drawing order."""
    if {"element_id", "value", "subsegment"} <= set(values_df.columns):
        long = values_df
    elif "subsegment" in values_df.columns and any(c in values_df.columns for c in TOTALS):
        cols = [c for c in TOTALS if c in values_df.columns]
        ids = values_df["customer_id"] if "customer_id" in values_df.columns else pd.Series(values_df.index)
        long = values_df.assign(customer_id=ids.to_numpy()).melt(
            id_vars=["customer_id", "subsegment"], value_vars=cols, var_name="element_id", value_name="value")
    else:
        raise CvmError("expected element values (columns element_id, subsegment, value) or totals "
                       f"(subsegment and {', '.join(TOTALS)}); got columns {', '.join(map(str, values_df.columns))}")
    known = list(dict.fromkeys(long["element_id"]))
    if elements is None:
        elements = known
    unknown = [e for e in elements if e not in known]
    if unknown:
        raise CvmError(f"no element {', '.join(map(repr, unknown))} in the values table; known: "
                       f"{', '.join(map(str, known))}")
    if not elements:
        raise CvmError("the values table is empty: nothing to plot")
    long = long[long["element_id"].isin(elements)]
    return long[["customer_id", "subsegment", "element_id", "value"]].reset_index(drop=True), list(elements)


@literal_text
def plot_value_distributions(values_df: pd.DataFrame, *, ax=None, elements: list[str] | None = None,
                             order: list[str] | None = None, names: Mapping[str, str] | None = None,
                             box: bool = True, currency: str | None = None, seed: int = 0, **kw):
    """Each element's customer values, one row per element, coloured by subsegment (seaborn).

    A strip plot of every customer's value (one point per customer and
    element, dodged by subsegment) over a box plot of each subsegment's
    spread, so the distributions of the subsegments can be compared element
    by element.

    Parameters
    ----------
    values_df : DataFrame
        :func:`~cvm_kit.values.element_values` output (``customer_id,
        subsegment, element_id, value``), or :func:`~cvm_kit.values.totals`
        output (its differential value, price difference and net value are
        drawn).
    ax : Axes, optional
    elements : list of str, optional
        The elements (or total columns), top to bottom; default all, in the
        table's order.
    order : list of str, optional
        The subsegments in legend and dodge order (default: as they first
        appear), e.g. ``study.subsegment_ids``.
    names : mapping, optional
        Element id -> name for the row labels (default: the ids).
    box : bool
        Draw the box plot behind the points (whiskers at 1.5 IQR, no
        outlier markers: every customer is a point already).
    currency : str, optional
        The unit on the value axis, e.g. ``EUR/year``.
    seed : int
        Seed of the points' jitter (numpy's global random state is restored
        afterwards).
    **kw
        Passed to :func:`seaborn.stripplot`.

    Returns
    -------
    Axes
        One y tick per element (``"name (k missing)"`` when ``k`` customers
        have no value), the points in ``ax.collections`` coloured by
        subsegment, and a legend titled ``subsegment`` with one entry per
        subsegment, ``"<id> (n=<customers with a value>)"``. Missing values
        are left out, never drawn as 0.

    Raises
    ------
    CvmError
        A table of neither shape, an unknown element, or nothing to draw.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import cvm_kit as cvm
    >>> from cvm_kit.plotting.distributions import plot_value_distributions
    >>> study = cvm.load_study(cvm.example_path())
    >>> ax = plot_value_distributions(cvm.element_values(study), order=study.subsegment_ids)
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['high_volume (n=7)', 'low_volume (n=7)']
    """
    import seaborn as sns

    long, elements = _long_values(values_df, elements)
    subs = list(order) if order is not None else list(dict.fromkeys(long["subsegment"]))
    shown = long[long["subsegment"].isin(subs)]
    have = shown.dropna(subset=["value"])
    if have.empty:
        raise CvmError("no customer has a value for the elements asked: nothing to plot")
    labels = {}
    for e in elements:
        missing = int(shown.loc[shown["element_id"] == e, "value"].isna().sum())
        name = str(names.get(e, e)) if names else str(e)
        labels[e] = f"{name} ({missing} missing)" if missing else name
    data = have.assign(element=have["element_id"].map(labels))
    rows = [labels[e] for e in elements]
    ax = new_axes(ax, figsize=(7.0, max(3.0, 0.55 * len(rows) * max(len(subs), 1) ** 0.5 + 1.5)))
    if box:
        with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib 3.11's deprecated `vert`: not ours to fix
            warnings.filterwarnings("ignore", message=".*vert: bool", category=DeprecationWarning)
            sns.boxplot(data=data, x="value", y="element", hue="subsegment", order=rows, hue_order=subs,
                        showfliers=False, legend=False, ax=ax, boxprops={"alpha": 0.35}, dodge=True)
    state = np.random.get_state()  # seaborn jitters with numpy's global generator: seed it, then put it back
    np.random.seed(seed)
    try:
        sns.stripplot(data=data, x="value", y="element", hue="subsegment", order=rows, hue_order=subs,
                      dodge=True, size=4, ax=ax, **kw)
    finally:
        np.random.set_state(state)
    counts = have.groupby("subsegment")["customer_id"].nunique()
    legend = ax.get_legend()
    if legend is not None:
        legend.set_title("subsegment")
        for text, sub in zip(legend.get_texts(), subs):
            text.set_text(f"{sub} (n={int(counts.get(sub, 0))})")
    ax.set_ylabel("")
    ax.set_xlabel(f"value ({currency})" if currency else "value")
    ax.axvline(0.0, color="0.6", linewidth=0.8, zorder=0)
    ax.set_title("Customers' values by subsegment", loc="left")
    return ax
