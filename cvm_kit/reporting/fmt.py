"""One number format for every page: thousands separators, no scientific notation, "—" where nothing applies."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

DASH = "—"  # a figure that does not apply or is not available (footnoted where it is shown)


def _float(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def money(x: Any, currency: str = "") -> str:
    """A money amount: whole units from 100 up, two decimals at most below, three significant digits under 1.

    Examples
    --------
    >>> money(162345.4, "EUR"), money(-12.5), money(float("nan")), money(0.00613)
    ('162,345 EUR', '-12.5', '—', '0.00613')
    """
    v = _float(x)
    if v is None:
        return DASH
    if abs(v) >= 100:
        text = f"{v:,.0f}"
    elif abs(v) >= 1 or v == 0:
        text = f"{v:,.2f}".rstrip("0").rstrip(".")
    else:  # below 1: three significant digits (0.00613 was "0.01", a cent-sized element "0")
        text = np.format_float_positional(v, precision=3, unique=False, fractional=False, trim="-")
    if text in ("-0", "-0.0"):
        text = "0"
    return f"{text} {currency}".strip()


def plain(x: float) -> str:
    """A figure as written in a rule or an assumption: as ``:g`` writes it, without an exponent from 100,000 up.

    Examples
    --------
    >>> plain(4.5e6), plain(3765070.5), plain(0.15), plain(1200.0), plain(-2.5e7)
    ('4,500,000', '3,765,070.5', '0.15', '1200', '-25,000,000')
    """
    v = float(x)
    return f"{v:,.12g}" if math.isfinite(v) and abs(v) >= 1e5 else f"{v:g}"


def number(x: Any, decimals: int = 0) -> str:
    """A plain number with thousands separators (``1,234``); "—" for missing.

    Examples
    --------
    >>> number(1234.567, 1), number(None)
    ('1,234.6', '—')
    """
    v = _float(x)
    return DASH if v is None else f"{v:,.{decimals}f}"


def percent(x: Any, decimals: int = 0) -> str:
    """A share as a percentage (``0.943`` -> ``94%``); "—" for missing.

    Examples
    --------
    >>> percent(0.9437), percent(float("nan"))
    ('94%', '—')
    """
    v = _float(x)
    return DASH if v is None else f"{v:.{decimals}%}"


def compact(x: Any, _pos: object = None) -> str:
    """An axis label: ``120k``, ``1.5M``, ``-40k``, ``950`` (usable as a matplotlib FuncFormatter).

    Examples
    --------
    >>> compact(120000), compact(-1500000), compact(950), compact(2.5e9), compact(0.005), compact(-0.0)
    ('120k', '-1.5M', '950', '2.5bn', '0.005', '0')
    """
    v = _float(x)
    if v is None:
        return ""
    a = abs(v)
    for div, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):  # bn: money, not an SI "G"
        if a >= div:
            w = v / div
            return f"{w:.0f}{suffix}" if abs(w) >= 10 or w == int(w) else f"{w:.1f}{suffix}"
    if a == 0:
        return "0"
    return f"{v:.0f}" if a >= 10 or v == int(v) else f"{v:.3g}"  # ticks of cents: 0.005, not 0 and -0


def prose_money(x: Any) -> str:
    """A figure for a sentence: 3 significant digits, thousands separators; ``n/a`` when missing.

    Findings round harder than tables (``45,200`` rather than ``45,213``):
    the sentence states an order of magnitude, the table beside it the figure.

    Examples
    --------
    >>> prose_money(45213), prose_money(-1482.88), prose_money(0.25), prose_money(999.6), prose_money(None)
    ('45,200', '-1,480', '0.25', '1,000', 'n/a')
    """
    v = _float(x)
    if v is None:
        return "n/a"
    if v == 0:
        return "0"
    decimals = 2 - int(math.floor(math.log10(abs(v))))
    r = round(v, decimals)
    if abs(r) >= 100 or decimals <= 0:
        return f"{r:,.0f}"
    return f"{r:,.{decimals}f}".rstrip("0").rstrip(".")
