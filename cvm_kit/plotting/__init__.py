"""Every plot of cvm_kit: ``plot_x(df, *, ax=None, **kw) -> Axes``.

Plots take the tidy tables the analysis functions return, draw on ``ax`` (a
new figure's axes if None) and return it; they never call ``plt.show`` or
``savefig``. Each stage has its submodule; all are re-exported here lazily so
importing this package does not import matplotlib until a plot is drawn.
"""

from __future__ import annotations

import functools
import importlib
import textwrap
from typing import Any, Callable, Iterable, TypeVar

_SUBMODULES = ("estimates", "variance", "sensitivity", "segments", "calculator", "documenter", "business_case",
               "research", "report", "waterfall", "distributions")


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
    figs: list[Any] = []
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
    """Return ``ax`` or the axes of a new figure (matplotlib imported here, on first plot).

    A new figure uses constrained layout, so titles, tick labels and legends
    placed outside the axes are fitted inside the figure when it is drawn.
    """
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


# --- readable figures at 1,280 px and in print -------------------------------------------------------------------

TITLE_SIZE = 11.0  # points; a figure is at most ~9 inches wide, so longer titles wrap
_CHAR_EM = 0.6  # a DejaVu Sans character is about 0.6 em wide on average (a safe upper bound for prose)


def wrap(text: object, width: int) -> str:
    r"""``text`` wrapped at ``width`` characters (existing line breaks kept; long words broken).

    Examples
    --------
    >>> wrap("Savings on maintenance labour and spare parts", 20)
    'Savings on\nmaintenance labour\nand spare parts'
    """
    lines = []
    for part in str(text).split("\n"):
        lines.extend(textwrap.wrap(part, max(int(width), 4), break_long_words=True, break_on_hyphens=False) or [""])
    return "\n".join(lines)


def wrap_labels(labels: Iterable[object], width: int = 28) -> tuple[list[str], int]:
    """Category labels wrapped at ``width`` characters, and the most lines any of them takes."""
    out = [wrap(x, width) for x in labels]
    return out, max([s.count("\n") + 1 for s in out] or [1])


def row_height(lines: int, fontsize: float = 9.0) -> float:
    """Inches one horizontal-bar row needs for a tick label of ``lines`` lines (no overlapping labels)."""
    return max(0.42, lines * fontsize * 1.3 / 72 + 0.12)


def set_title(ax, text: str, *, loc: str = "left", fontsize: float = TITLE_SIZE, share: float = 0.94):
    """Set the axes' title wrapped to the figure's width, flush with the figure's left edge; returns the Text.

    Long tick labels or a legend beside the axes narrow and shift the axes,
    so a title centred on them can run off the figure. The title is the
    axes' own (``ax.get_title()`` returns it) but placed from the figure's
    left edge and wrapped at ``share`` of the figure's width, so it always
    fits. Study text is never read as math.
    """
    from matplotlib.transforms import blended_transform_factory

    width_pt = ax.figure.get_figwidth() * 72 * share
    chars = int(width_pt / (fontsize * _CHAR_EM))
    t = ax.set_title(wrap(text, chars), fontsize=fontsize, loc="center")
    t.set_parse_math(False)
    if loc == "left":
        t.set_horizontalalignment("left")
        t.set_x(0.02)
        t.set_transform(blended_transform_factory(ax.figure.transFigure, ax.transAxes) + ax.titleOffsetTrans)
    return t


def money_axis(axis, *, nbins: int = 6) -> None:
    """Compact value labels (``120k``, ``1.5M``) and at most ``nbins`` ticks: no overlapping numbers."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    from ..reporting.fmt import compact

    axis.set_major_locator(MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(FuncFormatter(compact))


def legend_outside(ax, *, width: int = 30, fontsize: float = 8.0, **kw):
    """The legend to the right of the axes (never over the bars), its labels wrapped at ``width`` characters."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    kw.setdefault("loc", "upper left")
    kw.setdefault("bbox_to_anchor", (1.01, 1.0))
    kw.setdefault("frameon", False)
    leg = ax.legend(handles, [wrap(x, width) for x in labels], fontsize=fontsize, borderaxespad=0.0, **kw)
    for t in leg.get_texts():
        t.set_parse_math(False)
    return leg


def with_unit(label: str, currency: str | None) -> str:
    """``"Mean (EUR/year)"`` from ``"Mean"`` and ``"EUR/year"`` (the label alone without a unit)."""
    return f"{label} ({currency})" if currency else label


def layout_problems(fig, *, tol: float = 1.0) -> list[str]:
    """What does not read well in a drawn figure: text outside the figure, overlapping tick labels.

    The figure is drawn (Agg) and every visible, non-empty text artist's
    window extent is checked against the figure's bounding box (``tol``
    pixels of slack); on every axis, the drawn tick labels are checked
    pairwise for overlap.

    Returns
    -------
    list of str
        One sentence per problem (empty when the figure reads well).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = new_axes()
    >>> _ = ax.set_title("fits")
    >>> layout_problems(ax.figure)
    []
    """
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    problems: list[str] = []
    hidden: set[int] = set()  # tick labels of ticks outside the view (never drawn)
    drawn_ticks: list[tuple[str, list[Text]]] = []
    for ax in fig.get_axes():
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            every = [t for tick in axis.get_major_ticks() + axis.get_minor_ticks() for t in (tick.label1, tick.label2)]
            shown = [t for tick in axis._update_ticks() for t in (tick.label1, tick.label2)
                     if t.get_visible() and t.get_text()]
            hidden |= {id(t) for t in every} - {id(t) for t in shown}
            drawn_ticks.append((f"{ax.get_title() or 'axes'!r} {name} axis", shown))
    for t in fig.findobj(Text):
        if id(t) in hidden or not t.get_visible() or not t.get_text().strip():
            continue
        e = t.get_window_extent(renderer)
        if e.x0 < box.x0 - tol or e.y0 < box.y0 - tol or e.x1 > box.x1 + tol or e.y1 > box.y1 + tol:
            problems.append(f"text {t.get_text()[:60]!r} at ({e.x0:.0f}, {e.y0:.0f})-({e.x1:.0f}, {e.y1:.0f}) "
                            f"lies outside the figure (0, 0)-({box.x1:.0f}, {box.y1:.0f})")
    for where, labels in drawn_ticks:
        ext = [(t.get_text(), t.get_window_extent(renderer)) for t in labels]
        for i in range(len(ext)):
            for j in range(i + 1, len(ext)):
                a, b = ext[i][1], ext[j][1]
                if min(a.x1, b.x1) - max(a.x0, b.x0) > tol and min(a.y1, b.y1) - max(a.y0, b.y0) > tol:
                    problems.append(f"{where}: tick labels {ext[i][0][:40]!r} and {ext[j][0][:40]!r} overlap")
    return problems
