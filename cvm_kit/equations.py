"""Value word equations: a safe, whitelisted parser and a vectorised compiler.

A value word equation is arithmetic over *phrases in square brackets*, the
words an analyst and a customer both read::

    ([Downtime hours per year, alternative] - [Downtime hours per year, offering])
        * [Contribution margin per line hour]

The grammar is deliberately tiny and nothing in it is ever handed to
``eval`` or any other code evaluator:

- a variable is ``[any text without brackets]`` (non-empty after stripping);
  phrases are matched ignoring case and runs of white space
  (:func:`normalize_phrase`);
- numbers: ``12``, ``0.5``, ``.5``, ``1e3``, ``2.5E-2`` (no ``%``);
- operators ``+ - * /`` and their typeset forms ``×`` ``÷`` ``−`` (the en dash
  ``–`` is also read as minus); unary ``-`` and ``+``; parentheses;
- functions ``min(a, b, ...)`` and ``max(a, b, ...)`` (two or more arguments)
  and ``abs(x)`` (exactly one), names case-insensitive.

Anything else is rejected with an :class:`EquationError` giving the position,
what was expected and what was found.

Examples
--------
>>> eq = parse("([Hours, alternative] - [Hours, offering]) × [Margin per hour]")
>>> eq.phrases
('hours, alternative', 'hours, offering', 'margin per hour')
>>> eq.evaluate({"hours, alternative": [10, 20], "Hours, offering": [4, 5],
...              "margin per hour": 100.0}).tolist()
[600.0, 1500.0]
>>> eq.to_excel({"hours, alternative": "H_alt", "hours, offering": "H_off",
...              "margin per hour": "Margin"})
'(H_alt-H_off)*Margin'
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Union

import numpy as np

from cvm_kit.errors import CvmError

__all__ = [
    "MAX_LENGTH",
    "MAX_NESTING",
    "MAX_TREE_DEPTH",
    "BinOp",
    "Call",
    "Equation",
    "EquationError",
    "MissingInputError",
    "Neg",
    "Node",
    "Num",
    "Var",
    "normalize_phrase",
    "parse",
    "phrases_in",
]

#: Longest equation text accepted, in characters.
MAX_LENGTH = 10_000
#: Deepest nesting of parentheses, function calls and unary signs accepted.
MAX_NESTING = 100
#: Deepest expression tree accepted (long operator chains nest too); keeps every
#: recursive walk over :attr:`Equation.tree` far from Python's recursion limit.
MAX_TREE_DEPTH = 150

_OPERAND = "a number, a [phrase], '(' or a function min/max/abs"
_FUNCTIONS = {"min": 2, "max": 2, "abs": 1}  # name -> minimum number of arguments


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


# --------------------------------------------------------------------------- errors


def _excerpt(text: str, position: int, width: int = 12) -> str:
    """A short printable excerpt of ``text`` starting at ``position``."""
    if position >= len(text):
        return "end of equation"
    piece = text[position : position + width]
    piece = "".join(c if c.isprintable() else " " for c in piece)
    more = "..." if position + width < len(text) else ""
    return f"'{piece}{more}'"


def _caret_lines(text: str, position: int, radius: int = 40) -> str:
    """The equation (a window of it if long) with a caret under ``position``."""
    start = max(0, position - radius)
    end = min(len(text), position + radius)
    window = "".join(c if c.isprintable() else " " for c in text[start:end])
    prefix = "..." if start > 0 else ""
    suffix = "..." if end < len(text) else ""
    caret = " " * (len(prefix) + position - start) + "^"
    return f"    {prefix}{window}{suffix}\n    {caret}"


class EquationError(CvmError):
    """A value word equation could not be parsed.

    Parameters
    ----------
    equation : str
        The equation text as given.
    position : int
        0-based character index of the problem.
    expected : str
        What the parser expected there.
    found : str
        What it found instead (quoted text, or ``the end of the equation``).
    context : str, optional
        Where the equation came from, e.g.
        ``"project.yaml: elements[2].equation (id=downtime)"``.
    hint : str, optional
        A short suggestion on how to fix it.

    Examples
    --------
    >>> try:
    ...     parse("[a] ^ 2")
    ... except EquationError as err:
    ...     print(str(err).splitlines()[0])
    at position 4 ('^ 2'): expected an operator (+ - * /) or the end of the equation, found '^'; '^' (power) is not supported: write [x] * [x]
    """

    def __init__(
        self,
        equation: str,
        position: int,
        expected: str,
        found: str,
        context: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.equation = equation
        self.position = position
        self.expected = expected
        self.found = found
        self.context = context
        self.hint = hint
        super().__init__(self._message())

    def _message(self) -> str:
        head = f"{self.context}: " if self.context else ""
        line = (
            f"{head}at position {self.position} ({_excerpt(self.equation, self.position)}): "
            f"expected {self.expected}, found {self.found}"
        )
        if self.hint:
            line += f"; {self.hint}"
        if self.equation:
            line += "\n" + _caret_lines(self.equation, self.position)
        return line

    def __str__(self) -> str:
        return self._message()

    def __reduce__(self):  # keep it picklable (Dask workers send errors back)
        return (
            type(self),
            (self.equation, self.position, self.expected, self.found, self.context, self.hint),
        )

    def with_context(self, context: str | None) -> EquationError:
        """The same error, located in ``context`` (returns ``self`` if ``context`` is None)."""
        if context is None:
            return self
        return EquationError(
            self.equation, self.position, self.expected, self.found, context, self.hint
        )


class MissingInputError(CvmError, KeyError):
    """An equation needs a phrase that the inputs (or Excel names) do not provide.

    Parameters
    ----------
    phrases : tuple of str
        The missing phrases, as first written in the equation.
    equation : str
        The equation text.
    what : str
        What is missing for them (``"no value"``, ``"no Excel name"``).
    """

    def __init__(self, phrases: tuple[str, ...], equation: str, what: str = "no value") -> None:
        self.phrases = tuple(phrases)
        self.equation = equation
        self.what = what
        super().__init__(self._message())

    def _message(self) -> str:
        names = ", ".join(f"[{p}]" for p in self.phrases)
        return f"{self.what} for {names} (needed by the equation {self.equation!r})"

    def __str__(self) -> str:  # KeyError would repr() the message
        return self._message()

    def __reduce__(self):
        return (type(self), (self.phrases, self.equation, self.what))


# --------------------------------------------------------------------------- tree


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


Node = Union[Num, Var, Neg, BinOp, Call]

# Binding strength used when rendering: higher binds tighter.
_PREC_SUM, _PREC_PRODUCT, _PREC_UNARY, _PREC_ATOM = 1, 2, 3, 4


def _prec(node: Node) -> int:
    if isinstance(node, BinOp):
        return _PREC_SUM if node.op in "+-" else _PREC_PRODUCT
    if isinstance(node, Neg):
        return _PREC_UNARY
    return _PREC_ATOM


def _render(
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
        inner = _render(node.operand, var, num, fn, spaced)
        if _prec(node.operand) < _PREC_UNARY:
            inner = f"({inner})"
        return f"-{inner}"
    if isinstance(node, BinOp):
        p = _prec(node)
        left = _render(node.left, var, num, fn, spaced)
        if _prec(node.left) < p:
            left = f"({left})"
        right = _render(node.right, var, num, fn, spaced)
        if _prec(node.right) <= p:
            right = f"({right})"
        op = f" {node.op} " if spaced else node.op
        return f"{left}{op}{right}"
    if isinstance(node, Call):
        sep = ", " if spaced else ","
        return f"{fn(node.fn)}({sep.join(_render(a, var, num, fn, spaced) for a in node.args)})"
    raise TypeError(f"not an equation node: {node!r}")  # pragma: no cover


def _number_text(value: float, exponent: str = "e") -> str:
    """A number as the shortest text that reads back as exactly ``value``."""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    return text.replace("e", exponent) if exponent != "e" else text


# --------------------------------------------------------------------------- lexer

_WS = re.compile(r"\s*")
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[^\W\d]\w*")
_OPERATORS = {"+": "+", "-": "-", "*": "*", "/": "/", "×": "*", "÷": "/", "−": "-", "–": "-"}
_BARE_RUN = re.compile(r"[^\[\]()+\-*/×÷−–,^;=<>\"'\n]*")

# Hints for characters that are not part of the grammar.
_CHAR_HINTS = {
    "^": "'^' (power) is not supported: write [x] * [x]",
    ".": "attribute access is not allowed",
    ",": "',' separates arguments only inside min(...) or max(...)",
    ")": "this ')' has no matching '('",
    "]": "this ']' has no matching '['",
    '"': "strings are not allowed; phrases go in square brackets",
    "'": "strings are not allowed; phrases go in square brackets",
    ";": "an equation is a single expression",
    "=": "write only the right-hand side, without '='",
    "%": "'%' is not supported: write / 100",
}


@dataclass(frozen=True)
class _Token:
    kind: str  # NUM PHRASE NAME OP LPAREN RPAREN COMMA BAD END
    text: str  # the source text of the token
    pos: int
    value: object = None  # float for NUM, (normalized, display) for PHRASE, op for OP


def _tokens(text: str) -> Iterator[_Token]:
    """Split ``text`` into tokens lazily, so errors surface left to right.

    Bracket errors (unclosed, nested, empty phrase) are raised here; any other
    unknown character becomes a ``BAD`` token the parser reports in context.
    """
    pos, n = 0, len(text)
    while True:
        pos = _WS.match(text, pos).end()
        if pos >= n:
            yield _Token("END", "", n)
            return
        ch = text[pos]
        if ch == "[":
            close = text.find("]", pos + 1)
            inner_open = text.find("[", pos + 1)
            if inner_open != -1 and (close == -1 or inner_open < close):
                raise EquationError(
                    text, inner_open, f"']' to close the '[' at position {pos}", "'['",
                    hint="phrases cannot contain square brackets",
                )
            if close == -1:
                raise EquationError(
                    text, pos, "a ']' to close this '['", "the end of the equation",
                    hint="every [phrase] needs its closing bracket",
                )
            raw = text[pos + 1 : close]
            if not raw.strip():
                raise EquationError(
                    text, pos, "a phrase inside the brackets", f"'{text[pos:close + 1]}'",
                    hint="empty phrase",
                )
            yield _Token(
                "PHRASE", text[pos : close + 1], pos, (normalize_phrase(raw), raw.strip())
            )
            pos = close + 1
        elif ch in _OPERATORS:
            yield _Token("OP", ch, pos, _OPERATORS[ch])
            pos += 1
        elif ch == "(":
            yield _Token("LPAREN", ch, pos)
            pos += 1
        elif ch == ")":
            yield _Token("RPAREN", ch, pos)
            pos += 1
        elif ch == ",":
            yield _Token("COMMA", ch, pos)
            pos += 1
        elif (m := _NUMBER.match(text, pos)) is not None:
            yield _Token("NUM", m.group(), pos, _number_value(text, m.group(), pos))
            pos = m.end()
        elif (m := _NAME.match(text, pos)) is not None:
            yield _Token("NAME", m.group(), pos)
            pos = m.end()
        else:
            yield _Token("BAD", ch, pos)
            pos += 1


def _number_value(text: str, literal: str, pos: int) -> float:
    """The float a number literal stands for; one that overflows or underflows is an error.

    ``1e400`` would read as infinity and ``1e-400`` as 0 (a silent change of
    the equation), so both are rejected where they are written.
    """
    value = float(literal)
    shown = f"'{literal[:30]}'"
    if not math.isfinite(value):
        raise EquationError(
            text, pos, "a number of at most about 1.8e308", shown, hint="number too large",
        )
    mantissa = re.split("[eE]", literal, maxsplit=1)[0]
    if value == 0.0 and any(c in "123456789" for c in mantissa):
        raise EquationError(
            text, pos, "0 or a number of at least about 5e-324", shown,
            hint="number too small: it would be read as 0",
        )
    return value


# --------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent: sum := product (('+'|'-') product)*,
    product := unary (('*'|'/') unary)*, unary := ('-'|'+') unary | primary,
    primary := NUM | PHRASE | '(' sum ')' | FUNC '(' sum (',' sum)* ')'.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._lex = _tokens(text)
        self.tok = next(self._lex)
        self.prev: _Token | None = None
        self.phrases: dict[str, str] = {}  # normalized -> display, in first-seen order

    # -- helpers
    def advance(self) -> _Token:
        tok, self.prev = self.tok, self.tok
        self.tok = next(self._lex)
        return tok

    def found(self, tok: _Token) -> str:
        if tok.kind == "END":
            return "the end of the equation"
        shown = tok.text if len(tok.text) <= 40 else tok.text[:37] + "..."
        return f"'{shown}'"

    def fail(self, expected: str, tok: _Token | None = None, hint: str | None = None,
             position: int | None = None) -> EquationError:
        tok = tok or self.tok
        if hint is None:
            hint = self.hint_for(tok, expected)
        pos = tok.pos if position is None else position
        return EquationError(self.text, pos, expected, self.found(tok), hint=hint)

    def hint_for(self, tok: _Token, expected: str) -> str | None:
        operand_expected = expected == _OPERAND
        if tok.kind in ("BAD", "RPAREN", "COMMA"):
            if tok.kind == "COMMA" and not expected.startswith("an operator"):
                return None
            if tok.kind == "RPAREN" and "end of the equation" not in expected:
                return None
            return _CHAR_HINTS.get(tok.text)
        if tok.kind == "OP" and operand_expected:
            if tok.value == "*" and self.prev is not None and self.prev.text == "*":
                return "'**' (power) is not supported: write [x] * [x]"
            if tok.value in "*/":
                return f"'{tok.text}' needs a value on its left"
        if tok.kind == "NAME":
            after = self.text[tok.pos + len(tok.text) :].lstrip()
            if after.startswith("("):
                return (
                    f"unknown function '{tok.text}': only min, max and abs are allowed"
                )
            if operand_expected:
                run = _BARE_RUN.match(self.text, tok.pos).group().strip()
                run = " ".join(run.split())
                if len(run) > 40:
                    run = run[:37] + "..."
                return f"phrases go in square brackets, e.g. [{run}]"
            if tok.text.casefold() == "x":
                return "use * or × for multiplication"
            return "phrases go in square brackets"
        if not operand_expected and tok.kind in ("NUM", "PHRASE", "LPAREN"):
            return "two values need an operator (+ - * /) between them"
        return None

    # -- grammar
    def parse(self) -> Node:
        node = self.sum(0)
        if self.tok.kind != "END":
            raise self.fail("an operator (+ - * /) or the end of the equation")
        return node

    def check_depth(self, node: Node, at: _Token) -> Node:
        if node.depth > MAX_TREE_DEPTH:
            raise EquationError(
                self.text, at.pos,
                f"at most {MAX_TREE_DEPTH} levels of nested operations",
                "a longer chain",
                hint="split the equation into derived quantities",
            )
        return node

    def sum(self, depth: int) -> Node:
        node = self.product(depth)
        while self.tok.kind == "OP" and self.tok.value in "+-":
            op = self.advance()
            node = self.check_depth(BinOp(op.value, node, self.product(depth)), op)
        return node

    def product(self, depth: int) -> Node:
        node = self.unary(depth)
        while self.tok.kind == "OP" and self.tok.value in "*/":
            op = self.advance()
            node = self.check_depth(BinOp(op.value, node, self.unary(depth)), op)
        return node

    def nest(self, depth: int, at: _Token) -> int:
        if depth >= MAX_NESTING:
            raise EquationError(
                self.text, at.pos,
                f"at most {MAX_NESTING} levels of nesting",
                f"{self.found(at)} nested deeper",
                hint="too deeply nested; split the equation into derived quantities",
            )
        return depth + 1

    def unary(self, depth: int) -> Node:
        if self.tok.kind == "OP" and self.tok.value in "+-":
            inner_depth = self.nest(depth, self.tok)
            op = self.advance()
            inner = self.unary(inner_depth)
            if op.value == "+":
                return inner
            return self.check_depth(Neg(inner), op)
        return self.primary(depth)

    def primary(self, depth: int) -> Node:
        tok = self.tok
        if tok.kind == "NUM":
            self.advance()
            return Num(tok.value)
        if tok.kind == "PHRASE":
            self.advance()
            norm, display = tok.value
            self.phrases.setdefault(norm, display)
            return Var(norm)
        if tok.kind == "LPAREN":
            inner_depth = self.nest(depth, tok)
            self.advance()
            node = self.sum(inner_depth)
            if self.tok.kind != "RPAREN":
                if self.tok.kind == "END":
                    raise self.fail(
                        f"an operator (+ - * /) or a ')' to close the '(' at position {tok.pos}",
                        position=tok.pos,
                    )
                raise self.fail("an operator (+ - * /) or ')'")
            self.advance()
            return node
        if tok.kind == "NAME" and tok.text.casefold() in _FUNCTIONS:
            return self.call(depth)
        raise self.fail(_OPERAND)

    def call(self, depth: int) -> Node:
        name_tok = self.advance()
        fn = name_tok.text.casefold()
        if self.tok.kind != "LPAREN":
            raise self.fail(
                f"'(' after {fn}",
                hint=f"to use a phrase called '{name_tok.text}', write [{name_tok.text}]",
            )
        inner_depth = self.nest(depth, name_tok)
        open_tok = self.advance()
        args = [self.sum(inner_depth)]
        single = _FUNCTIONS[fn] == 1
        while True:
            if self.tok.kind == "RPAREN":
                if len(args) < _FUNCTIONS[fn]:
                    raise self.fail(
                        f"',' and another argument ({fn} takes 2 or more arguments)",
                        hint=None,
                    )
                self.advance()
                break
            if self.tok.kind == "COMMA" and not single:
                self.advance()
                args.append(self.sum(inner_depth))
                continue
            if self.tok.kind == "END":
                what = "')'" if single else "',' or ')'"
                raise self.fail(
                    f"an operator (+ - * /) or {what} to close the '(' of {fn} "
                    f"at position {open_tok.pos}",
                    position=open_tok.pos,
                )
            if single:
                raise self.fail(
                    "an operator (+ - * /) or ')' (abs takes exactly 1 argument)",
                    hint="abs takes exactly one argument" if self.tok.kind == "COMMA" else None,
                )
            raise self.fail("an operator (+ - * /), ',' or ')'")
        return self.check_depth(Call(fn, tuple(args)), name_tok)


# --------------------------------------------------------------------------- equation


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
        by_norm: dict[str, object] | None = None
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
        run = _Evaluation(values, dict(zip(self.phrases, self.display_phrases)), shape)
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
        >>> parse("[a] - ([b] - [c]) × 2").to_excel({"a": "A1", "b": "B1", "c": "C1"})
        'A1-(B1-C1)*2'
        """
        resolved = dict(zip(self.phrases, self._resolve(names, self.phrases, "no Excel name")))
        return _render(
            self.tree,
            var=lambda p: str(resolved[p]),
            num=lambda v: _number_text(v, "E"),
            fn=str.upper,
            spaced=False,
        )

    def to_text(self) -> str:
        """Canonical text: ASCII operators, ``[phrases]`` as first written.

        ``parse(eq.to_text()).tree == eq.tree`` always holds.

        Examples
        --------
        >>> parse("([a]×[ B ])−−2").to_text()
        '[a] * [B] - -2'
        """
        display = dict(zip(self.phrases, self.display_phrases))
        return _render(
            self.tree,
            var=lambda p: f"[{display[p]}]",
            num=_number_text,
            fn=str,
            spaced=True,
        )

    def __str__(self) -> str:
        return self.text


_UFUNCS = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}
_REASON_WIDTH = 120  # longest sub-expression quoted in a reason


class _Evaluation:
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
        text = _render(node, var=lambda p: f"[{self.display.get(p, p)}]", num=_number_text, fn=str, spaced=True)
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


# --------------------------------------------------------------------------- entry points


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Equation:
    if len(text) > MAX_LENGTH:
        raise EquationError(
            text, MAX_LENGTH, f"at most {MAX_LENGTH:,} characters", f"{len(text):,} characters",
            hint="equation too long; split it into derived quantities",
        )
    parser = _Parser(text)
    if parser.tok.kind == "END":
        raise EquationError(
            text, 0, _OPERAND, "the end of the equation", hint="the equation is empty"
        )
    tree = parser.parse()
    return Equation(
        text=text,
        phrases=tuple(parser.phrases),
        display_phrases=tuple(parser.phrases.values()),
        tree=tree,
    )


def parse(text: str, *, context: str | None = None) -> Equation:
    """Parse a value word equation (cached: the same text gives the same object).

    Parameters
    ----------
    text : str
        The equation.
    context : str, optional
        Where it comes from, prefixed to error messages, e.g.
        ``"project.yaml: elements[2].equation (id=downtime)"``.

    Returns
    -------
    Equation

    Raises
    ------
    EquationError
        With the position, what was expected and what was found.

    Examples
    --------
    >>> parse("[Tonnes coated] * 1.5").phrases
    ('tonnes coated',)
    >>> try:
    ...     parse("[a] * sqrt([x])", context="derived[0]")
    ... except EquationError as err:
    ...     print(err)
    derived[0]: at position 6 ('sqrt([x])'): expected a number, a [phrase], '(' or a function min/max/abs, found 'sqrt'; unknown function 'sqrt': only min, max and abs are allowed
        [a] * sqrt([x])
              ^
    """
    if not isinstance(text, str):
        raise EquationError(
            "", 0, "an equation as text", f"a {type(text).__name__} ({text!r:.40})", context
        )
    try:
        return _parse_cached(text)
    except EquationError as err:
        raise err.with_context(context) from None


def phrases_in(text: str) -> tuple[str, ...]:
    """The normalized phrases of an equation, in order of first appearance.

    Examples
    --------
    >>> phrases_in("[B] + [a] * [ b ]")
    ('b', 'a')
    """
    return parse(text).phrases
