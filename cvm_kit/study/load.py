"""Validating and loading a study: every check, plus what the values stage knows.

:func:`validate` reads a study folder or workbook (:mod:`~cvm_kit.study.read`),
runs every check (:mod:`~cvm_kit.study.checks`) and, once the study is usable,
adds a warning per customer input still missing (which needs the values
stage: which element rests on which input). :func:`load_study` returns the
study or raises a :class:`~cvm_kit.errors.StudyError` listing every problem.

This module sits above :mod:`cvm_kit.values`, which imports only the model:
``cvm_kit.study`` exposes these functions on first use, so importing the
model never imports them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import Problem, StudyError
from ..values import coverage_counts, missing_inputs
from .checks import check_study
from .model import MEASUREMENTS_FILE, STATUSES, Study
from .read import RawStudy, read_raw


@dataclass
class ValidationReport:
    """The outcome of :func:`validate`: every problem, and the study if usable."""

    path: Path
    problems: list[Problem]
    study: Study | None = None

    @property
    def errors(self) -> list[Problem]:
        """The problems that make the study unusable."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """The problems to know about (the study is usable)."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """Whether there is no error."""
        return not self.errors

    def summary(self) -> str:
        """A short text: customers per subsegment, elements by status, input coverage."""
        s = self.study
        if s is None:
            return f"{self.path}: {len(self.errors)} error(s)"
        lines = [f"Study: {s.name} ({s.offering} vs {s.next_best_alternative}), {s.currency} per {s.period}"]
        counts = s.customers["subsegment"].value_counts()
        lines.append("Customers: " + ", ".join(f"{sid} {int(counts.get(sid, 0))}" for sid in s.subsegment_ids)
                     + f" (total {len(s.customers)})")
        by_status = {st: [e.id for e in s.elements if e.status == st] for st in STATUSES}
        lines.append("Elements: " + ", ".join(f"{st} {len(ids)}" for st, ids in by_status.items()))
        have, needed = coverage_counts(s)
        lines.append(f"Inputs: {have} of {needed} customer x phrase inputs on file ({have / max(needed, 1):.0%})"
                     f", {len(s.measurements)} measurement rows")
        lines.append(f"Warnings: {len(self.warnings)}")
        return "\n".join(lines)


def validate(path: str | Path) -> ValidationReport:
    """Check a whole study and collect every problem.

    Parameters
    ----------
    path : str or Path
        Study folder or workbook.

    Returns
    -------
    ValidationReport
        ``problems`` (errors and warnings, each located) and ``study`` (the
        loaded :class:`~cvm_kit.study.Study` when there is no error).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> report = cvm.validate(cvm.example_path())
    >>> report.ok
    True
    """
    path = Path(path)
    return check_raw(path, *read_raw(path))


def check_raw(path: Path, raw: RawStudy | None, problems: list[Problem]) -> ValidationReport:
    """:func:`validate` on a study :func:`~cvm_kit.study.read.read_raw` has read.

    Lets a caller read the files while something else happens (the CLI
    imports the checks in a thread meanwhile: see :mod:`cvm_kit._prefetch`).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit.study.read import read_raw
    >>> path = cvm.example_path()
    >>> check_raw(path, *read_raw(path)).ok
    True
    """
    if raw is None:
        return ValidationReport(path, problems)
    problems, study = check_study(raw, problems)
    if study is None:
        return ValidationReport(path, problems)
    problems.extend(coverage_warnings(study, raw.labels.get(MEASUREMENTS_FILE, MEASUREMENTS_FILE)))
    study = replace(study, warnings=tuple(p for p in problems if p.severity == "warning"))
    return ValidationReport(path, problems, study)


def coverage_warnings(study: Study, label: str = MEASUREMENTS_FILE) -> list[Problem]:
    """One warning per customer input still missing, naming the elements (or price) waiting for it."""
    return [Problem(label, f"customer {row.customer_id}",
                    f"no value yet for [{row.phrase}] (needed by {row.needed_by}); element left empty until measured",
                    "warning")
            for row in missing_inputs(study).itertuples(index=False)]


def load_study(path: str | Path) -> Study:
    """Load and validate a study folder or workbook.

    Parameters
    ----------
    path : str or Path
        A study folder (``project.yaml``, ``customers.csv``,
        ``measurements.csv`` ...) or an ``.xlsx`` workbook of the same study.

    Returns
    -------
    Study
        The validated study; ``study.warnings`` holds the warnings found.

    Raises
    ------
    StudyError
        Listing every problem, each with its file and row, column or key.

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> study = cvm.load_study(cvm.example_path())
    >>> len(study.subsegments)
    2
    """
    return study_or_raise(validate(path), str(path))


def study_or_raise(report: ValidationReport, label: str | None = None) -> Study:
    """The study of a :class:`ValidationReport`, or a :class:`~cvm_kit.errors.StudyError` listing its errors
    (under ``label``, by default the report's path)."""
    if report.study is None or report.errors:
        raise StudyError(report.errors, label if label is not None else str(report.path))
    return report.study
