"""The study model: one offering, one segment, one next-best-alternative.

Frozen dataclasses (:class:`Study`, :class:`Element` ...) and the words and
file names of the format. This module imports nothing of cvm_kit above the
word equations: every stage (values, estimates ...) imports it, never the
reverse. Reading, checking and writing a study live beside it
(:mod:`cvm_kit.study.read`, :mod:`~cvm_kit.study.checks`,
:mod:`~cvm_kit.study.write`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..equations import Equation

STATUSES = ("parity", "difference", "contention", "placeholder")
CATEGORIES = ("technical", "economic", "service", "social")
SOURCES = ("data", "estimate", "perception", "assumption")  # most to least reliable
RELIABILITIES = ("high", "medium", "low")
FIELDWORK_STEPS = ("invited", "initial_meeting", "data_visit", "data_received", "review")
FIELDWORK_STATUSES = ("planned", "done", "declined")
ALL = "all"  # the subsegment label of whole-segment rows; reserved

PROJECT_FILE = "project.yaml"
CUSTOMERS_FILE = "customers.csv"
MEASUREMENTS_FILE = "measurements.csv"
OPTIONAL_FILES = ("prospects.csv", "fieldwork.csv", "realized.csv")

# the one-workbook form: sheets mirror the folder's files
TABLE_SHEETS = {"customers": CUSTOMERS_FILE, "measurements": MEASUREMENTS_FILE, "prospects": "prospects.csv",
                "fieldwork": "fieldwork.csv", "realized": "realized.csv"}
MODEL_SHEETS = ("project", "subsegments", "constants", "derived", "elements")
ELEMENT_COLUMNS = ["id", "name", "category", "status", "equation", "assumptions", "status_by_subsegment",
                   "perceived_low", "perceived_high", "unit", "parity_margin"]
SECTIONS = ("charter", "options", "business_case")  # project keys written as "<section>.<key>" in a workbook


@dataclass(frozen=True)
class Subsegment:
    """A subsegment studied, with its own next-best-alternative if it has one."""

    id: str
    description: str = ""
    next_best_alternative: str = ""


@dataclass(frozen=True)
class Constant:
    """A study-wide input. ``kind`` is its source word (data ... assumption)."""

    name: str
    value: float
    source: str = ""
    kind: str = "data"
    note: str = ""


@dataclass(frozen=True)
class Derived:
    """A named intermediate quantity defined by a word equation."""

    name: str
    equation: Equation


@dataclass(frozen=True)
class Element:
    """A value element: status versus the NBA, word equation, assumptions."""

    id: str
    name: str
    category: str | None
    status: str
    equation: Equation | None = None
    assumptions: tuple[str, ...] = ()
    status_by_subsegment: Mapping[str, str] = field(default_factory=dict)
    perceived_range: tuple[float, float] | None = None
    unit_hint: str = ""
    parity_margin: float | None = None  # currency per period: |value| within it counts as parity (hypotheses)

    def status_for(self, subsegment: str) -> str:
        """The element's status for customers of ``subsegment``."""
        return self.status_by_subsegment.get(subsegment, self.status)

    @property
    def quantified(self) -> bool:
        """Whether the element is valued per customer in some subsegment (not a placeholder everywhere)."""
        return self.status != "placeholder" or any(v != "placeholder" for v in self.status_by_subsegment.values())


@dataclass(frozen=True)
class Charter:
    """Why the study exists: business issue, success, sponsor, team, time frame."""

    business_issue: str = ""
    success: str = ""
    sponsor: str = ""
    team: tuple[str, ...] = ()
    start: _dt.date | None = None
    end: _dt.date | None = None

    def days_left(self, today: _dt.date | None = None) -> int | None:
        """Days until ``end`` (negative once past), or None without an end date."""
        if self.end is None:
            return None
        return (self.end - (today or _dt.date.today())).days


@dataclass(frozen=True)
class Study:
    """A loaded, validated value study.

    DataFrames are read-only by convention: every function returns new frames.

    Attributes
    ----------
    customers : DataFrame
        ``customer_id, subsegment`` then characteristic columns: numeric
        (float, NaN where missing) when at least half of the column's
        non-missing cells are numbers, else text (see docs/format-extensions.md).
    measurements : DataFrame
        ``customer_id, variable, phrase, value, source, reliability, note, line``
        where ``phrase`` is the normalised variable and ``line`` the CSV line.
    """

    path: Path
    name: str
    offering: str
    segment: str
    next_best_alternative: str
    currency: str
    period: str
    subsegments: tuple[Subsegment, ...]
    constants: tuple[Constant, ...]
    derived: tuple[Derived, ...]  # in evaluation order
    price: Equation | None
    elements: tuple[Element, ...]
    customers: pd.DataFrame
    measurements: pd.DataFrame
    charter: Charter | None = None
    prospects: pd.DataFrame | None = None
    fieldwork: pd.DataFrame | None = None
    realized: pd.DataFrame | None = None
    content_hash: str = ""
    warnings: tuple[Any, ...] = ()
    parity_margin: float | None = None  # study-wide margin for parity hypotheses (an element's own wins)
    options: Mapping[str, Any] = field(default_factory=dict)  # e.g. scenario_percentiles
    business_case: Mapping[str, Any] = field(default_factory=dict)  # e.g. contribution_per_customer

    # -- lookups ---------------------------------------------------------
    @property
    def subsegment_ids(self) -> list[str]:
        """Subsegment ids in the order of project.yaml."""
        return [s.id for s in self.subsegments]

    @property
    def characteristics(self) -> list[str]:
        """Customer characteristic columns (everything after ``subsegment``)."""
        return [c for c in self.customers.columns if c not in ("customer_id", "subsegment")]

    def element(self, element_id: str) -> Element:
        """The element with this id.

        Raises
        ------
        NotFoundError
            (a :class:`~cvm_kit.errors.CvmError` and a KeyError) naming the known ids.
        """
        for e in self.elements:
            if e.id == element_id:
                return e
        from ..errors import NotFoundError

        known = ", ".join(e.id for e in self.elements)
        raise NotFoundError(f"no element {element_id!r} in {self.path}; known: {known}")

    def subsegment(self, subsegment_id: str) -> Subsegment:
        """The subsegment with this id (:class:`~cvm_kit.errors.NotFoundError` otherwise)."""
        for s in self.subsegments:
            if s.id == subsegment_id:
                return s
        from ..errors import NotFoundError

        raise NotFoundError(f"no subsegment {subsegment_id!r} in {self.path}; known: {', '.join(self.subsegment_ids)}")

    def alternative_for(self, subsegment_id: str) -> str:
        """The next-best-alternative of a subsegment (its own, else the study's)."""
        return self.subsegment(subsegment_id).next_best_alternative or self.next_best_alternative

    @property
    def label(self) -> str:
        """A short file-system friendly name (the folder or workbook stem)."""
        return self.path.stem if self.path.suffix else self.path.name


def content_hash(files: Mapping[str, bytes]) -> str:
    """A short sha256 over file names and bytes, independent of their order."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode())
        h.update(b"\0")
        h.update(files[name])
        h.update(b"\0")
    return h.hexdigest()[:16]
