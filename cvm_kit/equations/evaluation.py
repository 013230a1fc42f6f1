"""Vectorised evaluation of an equation tree, recording why a row has no finite result."""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np

from .tree import BinOp, Call, Neg, Node, Num, Var, number_text, render

__all__ = ["Evaluation"]


_UFUNCS = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}


_REASON_WIDTH = 120  # longest sub-expression quoted in a reason


class Evaluation:
    """One vectorised evaluation: one numpy operation per node (call under ``np.errstate``).

    Every intermediate result is kept finite or NaN: a non-finite value is
    replaced by NaN where it arises (so ``min``/``max``/``abs`` or a later
    division cannot absorb it), and the first such event per row is recorded
    in :attr:`reasons` with the sub-expression that produced it.
    """

    def __init__(self, values: Mapping[str, np.ndarray], display: Mapping[str, str],
                 shape: tuple[int, ...]) -> None:
        self.values = values
        self.display = display
        self.shape = shape
        self.reasons: np.ndarray | None = None  # created on the first problem only

    def _text(self, node: Node) -> str:
        text = render(node, var=lambda p: f"[{self.display.get(p, p)}]", num=number_text, fn=str, spaced=True)
        return text if len(text) <= _REASON_WIDTH else text[: _REASON_WIDTH - 3] + "..."

    def _record(self, where: np.ndarray, text: np.ndarray | str) -> None:
        if self.reasons is None:
            self.reasons = np.full(self.shape, "", dtype=object)
        where = np.broadcast_to(where, self.shape) & (self.reasons == "")
        if np.ndim(text):
            self.reasons[where] = np.broadcast_to(text, self.shape)[where]
        else:
            self.reasons[where] = text

    def node(self, node: Node) -> np.ndarray | np.float64:
        """The value of ``node`` for every row, non-finite results made NaN and recorded in :attr:`reasons`.

        Parameters
        ----------
        node : Node
            A subtree of the equation (the whole tree for the result).

        Returns
        -------
        numpy.ndarray or numpy.float64
            Finite or NaN values, of the inputs' shape (a scalar for literals).
        """
        if isinstance(node, Num):
            return np.float64(node.value)
        if isinstance(node, Var):
            v = self.values[node.phrase]
            inf = np.isinf(v)
            if inf.any():  # an infinite input is no usable value either
                self._record(inf, f"infinite value for [{self.display.get(node.phrase, node.phrase)}]")
                v = np.where(inf, np.nan, v)
            return v
        if isinstance(node, Neg):
            return np.negative(self.node(node.operand))
        if isinstance(node, BinOp):
            a, b = self.node(node.left), self.node(node.right)
            r = _UFUNCS[node.op](a, b)
            bad = ~np.isfinite(r)
            if bad.any():
                # operands are finite or NaN here: a NaN operand is missing already, not a new problem
                fresh = bad & ~np.isnan(a) & ~np.isnan(b)
                if fresh.any():
                    sub = self._text(node)
                    text: np.ndarray | str
                    if node.op == "/":
                        text = np.where(np.asarray(b) == 0, f"division by zero in {sub}", f"overflow in {sub}")
                    else:
                        text = f"overflow in {sub}"
                    self._record(fresh, text)
                r = np.where(bad, np.nan, r)
            return r
        if isinstance(node, Call):
            args = [self.node(a) for a in node.args]
            if node.fn == "abs":
                return np.abs(args[0])
            combine = np.minimum if node.fn == "min" else np.maximum  # both propagate NaN
            return functools.reduce(combine, args)
        raise TypeError(f"not an equation node: {node!r}")  # pragma: no cover
