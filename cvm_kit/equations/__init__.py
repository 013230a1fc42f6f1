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

The package is split by concern: :mod:`.tree` (the expression tree and its
rendering), :mod:`.parser` (tokenizer and recursive-descent parser),
:mod:`.evaluation` (vectorised evaluation with reasons), :mod:`.equation`
(the :class:`Equation` object: evaluation, Excel formula, canonical text)
and :mod:`.errors`. Import the public names from here.

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

from .equation import Equation
from .errors import EquationError, MissingInputError
from .parser import MAX_LENGTH, MAX_NESTING, MAX_TREE_DEPTH, parse, phrases_in
from .tree import BinOp, Call, Neg, Node, Num, Var, normalize_phrase

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
