"""Every plot of cvm_kit: ``plot_x(df, *, ax=None, **kw) -> Axes``.

Plots take the tidy tables the analysis functions return, draw on ``ax`` (a
new figure's axes if None) and return it; they never call ``plt.show`` or
``savefig``. Each stage has its submodule; all are re-exported here lazily so
importing this package does not import matplotlib until a plot is drawn.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any, Callable, TypeVar

_SUBMODULES = ("estimates", "variance", "sensitivity", "segments", "calculator", "documenter", "business_case",
               "research", "report", "waterfall")


def __getattr__(name: str) -> Any:
    if name.startswith("plot_"):
        for sub in _SUBMODULES:
            try:
                mod = importlib.import_module(f"cvm_kit.plotting.{sub}")
            except ModuleNotFoundError as exc:
                if exc.name != f"cvm_kit.plotting.{sub}":
                    raise
                continue
            if hasattr(mod, name):
                return getattr(mod, name)
    raise AttributeError(f"module 'cvm_kit.plotting' has no attribute {name!r}")


F = TypeVar("F", bound=Callable[..., Any])


def literal_text(func: F) -> F:
    """Draw every text of a plot literally: study text is never read as matplotlib math.

    A name such as ``spend_$k_2025`` or ``$x$`` would otherwise be parsed as
    mathtext (and a lone ``$`` or ``\\`` can make drawing fail). The plot
    function runs with ``text.parse_math`` off, so every text artist it
    creates keeps it off; afterwards the tick labels are made now (under the
    same setting) and every text of the figure -- titles, labels, tick
    labels, legends, annotations -- is set not to parse math, so later
    drawing (the inline backend, ``savefig``) shows the text as written.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> @literal_text
    ... def plot_names(names, *, ax=None):
    ...     ax = new_axes(ax)
    ...     ax.barh(names, [1] * len(names))
    ...     return ax
    >>> ax = plot_names(["spend_$k_2025", "$x$"])
    >>> ax.figure.canvas.draw()
    >>> [t.get_text() for t in ax.get_yticklabels()], ax.get_yticklabels()[0].get_parse_math()
    (['spend_$k_2025', '$x$'], False)
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kw: Any) -> Any:
        import matplotlib as mpl

        with mpl.rc_context({"text.parse_math": False}):
            out = func(*args, **kw)
            _no_math(out)
        return out

    return wrapper  # type: ignore[return-value]


def _no_math(obj: Any) -> None:
    """Turn math parsing off on every text of the figure holding ``obj`` (an Axes, Figure or array of Axes)."""
    from matplotlib.text import Text

    items = obj if isinstance(obj, (list, tuple)) else getattr(obj, "flat", [obj])
    figs = []
    for it in items:
        fig = it if hasattr(it, "savefig") else getattr(it, "figure", None)
        if fig is not None and all(fig is not f for f in figs):
            figs.append(fig)
    for fig in figs:
        for axes in fig.get_axes():
            for axis in axes._axis_map.values() if hasattr(axes, "_axis_map") else (axes.xaxis, axes.yaxis):
                # the tick label artists are made here, with parse_math off, rather than at draw time
                axis.get_major_ticks()
                axis.get_minor_ticks()
        for t in fig.findobj(Text):
            t.set_parse_math(False)


def new_axes(ax=None, figsize: tuple[float, float] = (7.0, 4.0)):
    """Return ``ax`` or the axes of a new figure (matplotlib imported here, on first plot)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax
