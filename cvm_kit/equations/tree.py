"""The expression tree of a value word equation, and its rendering back to text.

Nodes are frozen dataclasses (:class:`Num`, :class:`Var`, :class:`Neg`,
:class:`BinOp`, :class:`Call`); :func:`render` writes a tree with the fewest
parentheses that keep its exact shape (used for canonical text, Excel
formulas and the sub-expressions quoted in evaluation reasons).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["BinOp", "Call", "Neg", "Node", "Num", "Var", "normalize_phrase", "number_text", "render"]


def normalize_phrase(text: str) -> str:
    """Normalize a phrase for matching: case-folded, white space collapsed, stripped.

    Parameters
    ----------
    text : str
        A phrase as written (without the square brackets).

    Returns
    -------
    str
        The key phrases are matched by.

    Examples
    --------
    >>> normalize_phrase("  Tonnes  Coated\\tper year ")
    'tonnes coated per year'
    """
    return " ".join(text.split()).casefold()


def _depth_of(*children: Node) -> int:
    return 1 + max((c.depth for c in children), default=0)


@dataclass(frozen=True)
class Num:
    """A number literal (always >= 0; a sign is a :class:`Neg`)."""

    value: float
    depth: int = field(default=1, init=False, repr=False, compare=False)


@dataclass(frozen=True)
class Var:
    """A ``[phrase]``; ``phrase`` is normalized (:func:`normalize_phrase`)."""

    phrase: str
    depth: int = field(default=1, init=False, repr=False, compare=False)


@dataclass(frozen=True)
class Neg:
    """Unary minus. (Unary plus is dropped by the parser.)"""

    operand: Node
    depth: int = field(default=1, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "depth", _depth_of(self.operand))


@dataclass(frozen=True)
class BinOp:
    """A binary operation; ``op`` is one of ``"+" "-" "*" "/"`` (ASCII)."""

    op: str
    left: Node
    right: Node
    depth: int = field(default=1, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "depth", _depth_of(self.left, self.right))


@dataclass(frozen=True)
class Call:
    """A function call; ``fn`` is ``"min"``, ``"max"`` or ``"abs"`` (lower case)."""

    fn: str
    args: tuple[Node, ...]
    depth: int = field(default=1, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "depth", _depth_of(*self.args))


Node = Num | Var | Neg | BinOp | Call

# Binding strength used when rendering: higher binds tighter.
_PREC_SUM, _PREC_PRODUCT, _PREC_UNARY, _PREC_ATOM = 1, 2, 3, 4


def _prec(node: Node) -> int:
    if isinstance(node, BinOp):
        return _PREC_SUM if node.op in "+-" else _PREC_PRODUCT
    if isinstance(node, Neg):
        return _PREC_UNARY
    return _PREC_ATOM


def render(
    node: Node,
    var: Callable[[str], str],
    num: Callable[[float], str],
    fn: Callable[[str], str],
    spaced: bool,
) -> str:
    """Render a tree with minimal parentheses that preserve its exact shape.

    A right operand of equal precedence is parenthesized too (``a - (b - c)``,
    and also ``a + (b + c)``, so the tree, not just the value, round-trips).
    """
    if isinstance(node, Num):
        return num(node.value)
    if isinstance(node, Var):
        return var(node.phrase)
    if isinstance(node, Neg):
        inner = render(node.operand, var, num, fn, spaced)
        if _prec(node.operand) < _PREC_UNARY:
            inner = f"({inner})"
        return f"-{inner}"
    if isinstance(node, BinOp):
        p = _prec(node)
        left = render(node.left, var, num, fn, spaced)
        if _prec(node.left) < p:
            left = f"({left})"
        right = render(node.right, var, num, fn, spaced)
        if _prec(node.right) <= p:
            right = f"({right})"
        op = f" {node.op} " if spaced else node.op
        return f"{left}{op}{right}"
    if isinstance(node, Call):
        sep = ", " if spaced else ","
        return f"{fn(node.fn)}({sep.join(render(a, var, num, fn, spaced) for a in node.args)})"
    raise TypeError(f"not an equation node: {node!r}")  # pragma: no cover


def number_text(value: float, exponent: str = "e") -> str:
    """A number as the shortest text that reads back as exactly ``value``."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    return text.replace("e", exponent) if exponent != "e" else text
