"""The cvm_kit error family.

Every error a user can cause derives from :class:`CvmError`, so the CLI can
print it without a traceback. :class:`StudyError` carries *every* located
problem found in a study at once, rather than stopping at the first.
"""

from __future__ import annotations

from dataclasses import dataclass


class CvmError(Exception):
    """Base of every cvm_kit error (bad input, not a bug)."""


@dataclass(frozen=True)
class Problem:
    """One located problem in a study.

    Parameters
    ----------
    file : str
        The file it is in (``project.yaml``, ``customers.csv`` ...).
    where : str
        The row, column or YAML key, e.g. ``row 7, column value`` or
        ``elements[2].status (id=downtime)``.
    message : str
        What is wrong and what was expected.
    severity : {"error", "warning"}
        Errors stop loading; warnings are normal in fieldwork but worth seeing.
    """

    file: str
    where: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        loc = f"{self.file}: {self.where}" if self.where else self.file
        return f"{self.severity}: {loc}: {self.message}"


class StudyError(CvmError):
    """A study failed validation; ``problems`` lists every error found."""

    def __init__(self, problems: list[Problem], path: str | None = None) -> None:
        self.problems = list(problems)
        self.path = path
        errors = [p for p in self.problems if p.severity == "error"]
        head = f"{len(errors)} problem(s) in study {path}" if path else f"{len(errors)} problem(s)"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in errors))


class MissingDependencyError(CvmError, ImportError):
    """An optional dependency is missing; the message names the extra."""

    def __init__(self, module: str, extra: str) -> None:
        super().__init__(
            f"{module} is needed for this; install it with: pip install 'cvm_kit[{extra}]'"
        )


class AnalysisError(CvmError):
    """A statistic cannot be computed on this data (too few customers, no variance ...)."""


class NotFoundError(CvmError, KeyError):
    """A name looked up in a study is not there (element, subsegment, customer, quantity).

    Also a :class:`KeyError`, so code that caught the lookup's KeyError keeps
    working; its text is the message itself (a plain KeyError would quote it).
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvalidValueError(CvmError, ValueError):
    """An argument has a value cvm_kit cannot use; also a :class:`ValueError`."""


def require(module: str, extra: str):
    """Import an optional module or raise :class:`MissingDependencyError` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(module, extra) from exc
