"""Plots of what drives value: driver ranking and value against the top driver."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import CvmError
from . import legend_outside, literal_text, money_axis, new_axes, row_height, set_title, with_unit, wrap, wrap_labels


@literal_text
def plot_drivers(df: pd.DataFrame, *, element_id: str | None = None, ax=None, metric: str = "r_squared",
                 name: str | None = None, **kw):
    """R² of each characteristic for one element (or net value), best on top.

    Parameters
    ----------
    df : DataFrame
        :func:`~cvm_kit.segments.drivers` output.
    element_id : str, optional
        Which element; default ``net_value`` (else the first in the table).
    metric : str
        ``r_squared`` (default) or ``adj_r_squared``.
    name : str, optional
        What the element is called in the title (default: its id).
    **kw
        Passed to ``ax.barh``.

    Returns
    -------
    Axes
        One bar per characteristic, ranked by ``metric`` from the top
        (``ax.patches[0]`` is the largest); bar width = ``metric`` (0 for a
        fit that could not be made, labelled ``n/a``; a negative adjusted R²
        is drawn as 0); the F-test p-value is written beside each bar.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import cvm_kit as cvm
    >>> from cvm_kit.segments import drivers
    >>> from cvm_kit.plotting.segments import plot_drivers
    >>> ax = plot_drivers(drivers(cvm.load_study(cvm.example_path())), element_id="rejects")
    >>> ax.get_yticklabels()[0].get_text()  # the top bar
    'humidity_pct'
    """
    ids = list(dict.fromkeys(df["element_id"]))
    if element_id is None:
        element_id = "net_value" if "net_value" in ids else (ids[0] if ids else None)
    if element_id not in ids:
        raise CvmError(f"no element {element_id!r} in the drivers table; known: {', '.join(map(str, ids))}")
    d = df[df["element_id"] == element_id].sort_values(metric, ascending=False, na_position="last", kind="stable")
    shown, lines = wrap_labels([str(c) for c in d["characteristic"]], 28)
    ax = new_axes(ax, figsize=(7.5, max(3.0, row_height(lines) * len(d) + 1.6)))
    n = len(d)
    y = np.arange(n)[::-1]
    w = d[metric].to_numpy(float)
    ax.barh(y, np.nan_to_num(np.clip(w, 0, None)), color="C0", height=0.6, **kw)
    for yi, wi, p in zip(y, w, d["p_value"].to_numpy(float)):
        text = "n/a" if np.isnan(wi) else (f"p={p:.3f}" if p >= 0.001 else "p<0.001")
        ax.text(max(0.0, wi if np.isfinite(wi) else 0.0) + 0.01, yi, text, va="center", fontsize=8)
    ax.set_yticks(y)
    ax.set_yticklabels(shown, fontsize=9)
    ax.set_xlim(0, 1.15)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_xlabel("Share of the variance explained (R²)" if metric == "r_squared"
                  else "Share of the variance explained (adjusted R²)")
    key = str(element_id)  # one of the table's element ids by now
    what = name or {"net_value": "net value", "differential_value": "differential value"}.get(key, key)
    set_title(ax, f"What explains {what} across customers (OLS, one characteristic at a time)")
    return ax


@literal_text
def plot_value_vs_driver(df: pd.DataFrame, *, ax=None, fit: bool = True, seed: int = 0, name: str | None = None,
                         currency: str | None = None, **kw):
    """Each customer's value against a characteristic, coloured by subsegment.

    Parameters
    ----------
    df : DataFrame
        :func:`~cvm_kit.segments.driver_frame` output: ``customer_id,
        subsegment, element_id, value, driver, driver_value, driver_kind``.
    fit : bool
        Draw the OLS line (numeric driver) or each level's mean (categorical).
    seed : int
        Seed of the jitter of categorical levels.
    name : str, optional
        What the value is called on the axis (default: the element id).
    currency : str, optional
        The unit on the value axis, e.g. ``EUR/year``.
    **kw
        Passed to ``ax.scatter``.

    Returns
    -------
    Axes
        One scatter collection per subsegment (``ax.collections``, legend =
        subsegment ids); x = the driver's value (numeric) or the level's
        position (categorical, tick labels = levels).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import cvm_kit as cvm
    >>> from cvm_kit.segments import driver_frame
    >>> from cvm_kit.plotting.segments import plot_value_vs_driver
    >>> ax = plot_value_vs_driver(driver_frame(cvm.load_study(cvm.example_path()), "rejects"))
    >>> ax.get_xlabel()
    'humidity_pct'
    """
    need = {"subsegment", "value", "driver", "driver_value"}
    if not need <= set(df.columns):
        raise CvmError(f"plot_value_vs_driver needs columns {', '.join(sorted(need))} (see segments.driver_frame)")
    ax = new_axes(ax, figsize=(8.0, 4.2))
    driver = str(df["driver"].iloc[0]) if len(df) else ""
    numeric = (df["driver_kind"].iloc[0] == "numeric") if "driver_kind" in df.columns and len(df) else \
        pd.api.types.is_numeric_dtype(df["driver_value"])
    if numeric:
        x = pd.to_numeric(df["driver_value"], errors="coerce").to_numpy(float)
        levels: list[str] | None = None
    else:
        levels = sorted(df["driver_value"].dropna().astype(str).unique())
        pos = {lev: i for i, lev in enumerate(levels)}
        rng = np.random.default_rng(seed)
        x = np.array([pos.get(str(v), np.nan) if pd.notna(v) else np.nan for v in df["driver_value"]], float)
        x = x + rng.uniform(-0.15, 0.15, len(x))
    y = df["value"].to_numpy(float)
    for i, s in enumerate(dict.fromkeys(df["subsegment"])):
        m = (df["subsegment"] == s).to_numpy()
        ax.scatter(x[m], y[m], color=f"C{i}", label=str(s), zorder=3, **kw)
    ok = np.isfinite(x) & np.isfinite(y)
    if fit and ok.sum() >= 2:
        if numeric and np.ptp(x[ok]) > 0:
            b, a = np.polyfit(x[ok], y[ok], 1)
            xs = np.linspace(x[ok].min(), x[ok].max(), 50)
            ax.plot(xs, a + b * xs, color="0.3", lw=1, label="OLS fit")
        elif not numeric:
            for i, lev in enumerate(levels or []):
                sel = ok & (np.round(x) == i)
                if sel.any():
                    ax.plot([i - 0.3, i + 0.3], [y[sel].mean()] * 2, color="0.3", lw=2)
    if levels is not None:
        ax.set_xticks(range(len(levels)))
        ax.set_xticklabels([wrap(lev, 14) for lev in levels], fontsize=9)
    ax.set_xlabel(driver)
    what = name or (str(df["element_id"].iloc[0]) if "element_id" in df.columns and len(df) else "value")
    what = {"net_value": "Net value", "differential_value": "Differential value"}.get(what, what)
    money_axis(ax.yaxis)
    ax.set_ylabel(with_unit(wrap(what, 40), currency))
    set_title(ax, f"{what} against {driver}, by subsegment")
    legend_outside(ax)
    return ax
