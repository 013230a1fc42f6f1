"""Every plot of cvm_kit: ``plot_x(df, *, ax=None, **kw) -> Axes``.

Plots take the tidy tables the analysis functions return, draw on ``ax`` (a
new figure's axes if None) and return it; they never call ``plt.show`` or
``savefig``. Each stage has its submodule; all are re-exported here lazily so
importing this package does not import matplotlib until a plot is drawn.
"""

from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = ("estimates", "variance", "sensitivity", "segments", "calculator", "documenter", "business_case",
               "research", "report")


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


def new_axes(ax=None, figsize: tuple[float, float] = (7.0, 4.0)):
    """Return ``ax`` or the axes of a new figure (matplotlib imported here, on first plot)."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize)
    return ax
