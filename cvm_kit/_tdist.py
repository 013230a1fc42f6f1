"""Student t quantiles: ``scipy.special.stdtrit``, imported on first use.

The t interval is all the foundation needs from scipy; importing
``scipy.special`` lazily keeps ``import cvm_kit``, ``cvm --help`` and
``cvm validate`` free of it. ``stdtrit`` costs the same at any degrees of
freedom (the hand-written closed form it replaces grew with them).
"""

from __future__ import annotations

import numpy as np


def t_quantile(p: float, df) -> np.ndarray | float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom, vectorised over ``df``.

    Examples
    --------
    >>> round(float(t_quantile(0.975, 5)), 6)
    2.570582
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    from scipy.special import stdtrit

    arr = np.asarray(df, dtype=float)
    if np.any(arr <= 0):
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    out = stdtrit(arr, p)
    return float(out) if out.ndim == 0 else out
