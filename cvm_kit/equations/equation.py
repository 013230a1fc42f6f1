"""The parsed equation: evaluation over many customers at once, Excel formula and canonical text."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from cvm_kit.errors import CvmError

from .errors import MissingInputError
from .evaluation import Evaluation
from .tree import Node, normalize_phrase, number_text, render

__all__ = ["Equation"]


@dataclass(frozen=True)
class Equation:
    """A parsed value word equation (immutable; build it with :func:`parse`).

    Attributes
    ----------
    text : str
        The original text.
    phrases : tuple of str
        Normalized phrases in order of first appearance, each once.
    display_phrases : tuple of str
        The same phrases as first written (stripped).
    tree : Node
        The expression tree (:class:`Num`, :class:`Var`, :class:`Neg`,
        :class:`BinOp`, :class:`Call`) for translators.

    Examples
    --------
    >>> from cvm_kit.equations import parse
    >>> eq = parse("max([Saving] - 100, 0)")
    >>> eq.tree
    Call(fn='max', args=(BinOp(op='-', left=Var(phrase='saving'), right=Num(value=100.0)), Num(value=0.0)))
    >>> eq.evaluate({"saving": [50, 150]}).tolist()
    [0.0, 50.0]
    """

    text: str
    phrases: tuple[str, ...]
    display_phrases: tuple[str, ...]
    tree: Node = field(repr=False, compare=False)

    # -- evaluation
    def _resolve(self, inputs: Mapping[str, object], phrases: tuple[str, ...], what: str) -> list:
        """Look each phrase up by its normalized key, then by normalizing the keys once."""
        found: list = []
        missing: list[str] = []
        by_norm: dict[str, str] | None = None
        for phrase, display in zip(phrases, self.display_phrases):
            if phrase in inputs:
                found.append(inputs[phrase])
                continue
            if by_norm is None:
                by_norm = {}
                for key in inputs:
                    if isinstance(key, str):
                        by_norm.setdefault(normalize_phrase(key), key)
            if phrase in by_norm:
                found.append(inputs[by_norm[phrase]])
            else:
                missing.append(display)
        if missing:
            raise MissingInputError(tuple(missing), self.text, what)
        return found

    def evaluate(self, inputs: Mapping[str, np.ndarray | float]) -> np.ndarray:
        """Evaluate the equation on many customers at once.

        Parameters
        ----------
        inputs : Mapping[str, array_like or float]
            Values keyed by phrase (normalized keys are looked up first; other
            keys are matched after normalizing them). Every array-valued input
            the equation uses must have the same shape, e.g. one value per
            customer; scalars (constants) are broadcast.

        Returns
        -------
        numpy.ndarray
            float64, of the common shape of the inputs used. If those are all
            scalars, the result is broadcast to the shape of the other arrays
            in ``inputs`` when they all agree, else it is 0-d. Every value is
            finite or NaN: ``nan`` inputs (missing) propagate, also through
            ``min``/``max``/``abs``, and any non-finite intermediate result
            (a division by zero, an overflow, an infinite input) makes that
            row NaN, even where a later step would have absorbed it
            (``max([a] - 1 / 0, 0)`` is NaN, not 0).
            :meth:`evaluate_with_reasons` says why. No warnings are raised.

        Raises
        ------
        MissingInputError
            If a phrase has no input (a :class:`KeyError` and a :class:`CvmError`).
        CvmError
            If an input is not numeric or array shapes differ.

        Examples
        --------
        >>> from cvm_kit.equations import parse
        >>> parse("[a] / [b]").evaluate({"a": [1.0, 0.0, 6.0], "b": 0.0}).tolist()
        [nan, nan, nan]
        >>> parse("max([a] - [c] / [b], 0)").evaluate({"a": [5.0, 5.0], "b": [0.0, 2.0], "c": 4.0}).tolist()
        [nan, 3.0]
        """
        return self.evaluate_with_reasons(inputs)[0]

    def evaluate_with_reasons(self, inputs: Mapping[str, np.ndarray | float]) -> tuple[np.ndarray, np.ndarray]:
        """Evaluate like :meth:`evaluate` and say why a row has no finite result.

        Returns
        -------
        values : numpy.ndarray
            As :meth:`evaluate`.
        reasons : numpy.ndarray
            Object array of the same shape: ``""`` where nothing non-finite
            happened, else the first problem met (in evaluation order), with
            the sub-expression, e.g. ``"division by zero in [Call cost] /
            [Tonnes]"``, ``"overflow in [a] * [b]"`` or ``"infinite value for
            [a]"``. A row that is NaN only because an input is missing (NaN)
            has ``""``: the missing input is the reason, reported by the caller.

        Examples
        --------
        >>> from cvm_kit.equations import parse
        >>> v, why = parse("[x] / (1 + [y] / [z])").evaluate_with_reasons({"x": 1.0, "y": 2.0, "z": [0.0, 1.0]})
        >>> v.tolist(), why.tolist()
        ([nan, 0.3333333333333333], ['division by zero in [y] / [z]', ''])
        """
        raw = self._resolve(inputs, self.phrases, "no value")
        values: dict[str, np.ndarray] = {}
        shapes: dict[tuple[int, ...], str] = {}
        for phrase, display, value in zip(self.phrases, self.display_phrases, raw):
            try:
                arr = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise CvmError(f"the input for [{display}] is not numeric: {exc}") from None
            if arr.ndim:
                shapes.setdefault(arr.shape, display)
            values[phrase] = arr
        if len(shapes) > 1:
            detail = ", ".join(f"[{d}] has shape {s}" for s, d in shapes.items())
            raise CvmError(f"the inputs of {self.text!r} differ in length: {detail}")
        shape = next(iter(shapes), ())
        if not shapes:  # only constants used: follow the arrays given, if they agree
            others = {np.shape(v) for v in inputs.values() if not np.isscalar(v)} - {()}
            if len(others) == 1:
                shape = others.pop()
        run = Evaluation(values, dict(zip(self.phrases, self.display_phrases)), shape)
        with np.errstate(all="ignore"):
            result = run.node(self.tree)
        out = np.array(result, dtype=np.float64)  # always a fresh array, never an input
        if out.shape != shape:
            out = np.broadcast_to(out, shape).copy()
        reasons = run.reasons if run.reasons is not None else np.full(shape, "", dtype=object)
        return out, reasons

    # -- rendering
    def to_excel(self, names: Mapping[str, str]) -> str:
        """Translate to an Excel formula, without the leading ``=``.

        Parameters
        ----------
        names : Mapping[str, str]
            Normalized phrase -> Excel defined name or cell reference (other
            keys are matched after normalizing them).

        Returns
        -------
        str
            E.g. ``(Downtime_alt-Downtime_off)*Margin``. Parentheses are kept
            wherever the tree needs them; functions become ``MIN``, ``MAX``,
            ``ABS``.

        Raises
        ------
        MissingInputError
            If a phrase has no name (a :class:`CvmError`).

        Examples
        --------
        >>> from cvm_kit.equations import parse
        >>> parse("[a] - ([b] - [c]) × 2").to_excel({"a": "A1", "b": "B1", "c": "C1"})
        'A1-(B1-C1)*2'
        """
        resolved = dict(zip(self.phrases, self._resolve(names, self.phrases, "no Excel name")))
        return render(
            self.tree,
            var=lambda p: str(resolved[p]),
            num=lambda v: number_text(v, "E"),
            fn=str.upper,
            spaced=False,
        )

    def to_text(self) -> str:
        """Canonical text: ASCII operators, ``[phrases]`` as first written.

        ``parse(eq.to_text()).tree == eq.tree`` always holds.

        Examples
        --------
        >>> from cvm_kit.equations import parse
        >>> parse("([a]×[ B ])−−2").to_text()
        '[a] * [B] - -2'
        """
        display = dict(zip(self.phrases, self.display_phrases))
        return render(
            self.tree,
            var=lambda p: f"[{display[p]}]",
            num=number_text,
            fn=str,
            spaced=True,
        )

    def __str__(self) -> str:
        return self.text
