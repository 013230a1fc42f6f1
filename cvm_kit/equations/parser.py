"""The tokenizer and recursive-descent parser of value word equations (cached by text)."""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .equation import Equation
from .errors import EquationError
from .tree import BinOp, Call, Neg, Node, Num, Var, normalize_phrase

__all__ = ["FUNCTIONS", "MAX_LENGTH", "MAX_NESTING", "MAX_TREE_DEPTH", "OPERAND", "parse", "phrases_in"]

#: Longest equation text accepted, in characters.
MAX_LENGTH = 10_000


#: Deepest nesting of parentheses, function calls and unary signs accepted.
MAX_NESTING = 100


#: Deepest expression tree accepted (long operator chains nest too); keeps every
#: recursive walk over :attr:`Equation.tree` far from Python's recursion limit.
MAX_TREE_DEPTH = 150


OPERAND = "a number, a [phrase], '(' or a function min/max/abs"


FUNCTIONS = {"min": 2, "max": 2, "abs": 1}  # name -> minimum number of arguments


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
    value: Any = None  # by kind: float for NUM, (normalized, display) for PHRASE, the operator for OP


def _tokens(text: str) -> Iterator[_Token]:
    """Split ``text`` into tokens lazily, so errors surface left to right.

    Bracket errors (unclosed, nested, empty phrase) are raised here; any other
    unknown character becomes a ``BAD`` token the parser reports in context.
    """
    pos, n = 0, len(text)
    while True:
        ws = _WS.match(text, pos)  # r"\s*" matches everywhere (maybe nothing)
        pos = ws.end() if ws else pos
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
        operand_expected = expected == OPERAND
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
                bare = _BARE_RUN.match(self.text, tok.pos)  # matches everywhere (maybe nothing)
                run = (bare.group() if bare else tok.text).strip()
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
        if tok.kind == "NAME" and tok.text.casefold() in FUNCTIONS:
            return self.call(depth)
        raise self.fail(OPERAND)

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
        single = FUNCTIONS[fn] == 1
        while True:
            if self.tok.kind == "RPAREN":
                if len(args) < FUNCTIONS[fn]:
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
            text, 0, OPERAND, "the end of the equation", hint="the equation is empty"
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
    ...     first, *caret = str(err).splitlines()
    >>> print(first)  # doctest: +NORMALIZE_WHITESPACE
    derived[0]: at position 6 ('sqrt([x])'): expected a number, a [phrase], '(' or a function min/max/abs,
    found 'sqrt'; unknown function 'sqrt': only min, max and abs are allowed
    >>> print("\\n".join(caret))
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
