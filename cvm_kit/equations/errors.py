"""Errors of value word equations: a parse error located by position, and a missing input."""

from __future__ import annotations

from cvm_kit.errors import CvmError

__all__ = ["EquationError", "MissingInputError"]


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
    >>> from cvm_kit.equations import parse
    >>> try:  # doctest: +NORMALIZE_WHITESPACE
    ...     parse("[a] ^ 2")
    ... except EquationError as err:
    ...     print(str(err).splitlines()[0])
    at position 4 ('^ 2'): expected an operator (+ - * /) or the end of the equation, found '^';
    '^' (power) is not supported: write [x] * [x]
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
