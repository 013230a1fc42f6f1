"""The study model: one offering, one segment, one next-best-alternative.

A :class:`Study` is a small frozen dataclass built by :func:`load_study` from a
study folder (canonical) or the equivalent Excel workbook. Loading validates
everything at once (see :mod:`cvm_kit.validate`); a study that loads is
consistent: every equation parses, every phrase resolves, derived quantities
are in evaluation order.

The raw files are only ever read. :func:`save_study` writes a folder or a
workbook whole (to a temporary name, then renamed).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import pandas as pd

from .equations import Equation

if TYPE_CHECKING:  # pragma: no cover
    from .validate import ValidationReport

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
        """Whether the element is valued per customer (not a pure placeholder)."""
        return self.status != "placeholder"


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
        from .errors import NotFoundError

        raise NotFoundError(f"no element {element_id!r} in {self.path}; known: {', '.join(e.id for e in self.elements)}")

    def subsegment(self, subsegment_id: str) -> Subsegment:
        """The subsegment with this id (:class:`~cvm_kit.errors.NotFoundError` otherwise)."""
        for s in self.subsegments:
            if s.id == subsegment_id:
                return s
        from .errors import NotFoundError

        raise NotFoundError(f"no subsegment {subsegment_id!r} in {self.path}; known: {', '.join(self.subsegment_ids)}")

    def alternative_for(self, subsegment_id: str) -> str:
        """The next-best-alternative of a subsegment (its own, else the study's)."""
        return self.subsegment(subsegment_id).next_best_alternative or self.next_best_alternative

    @property
    def label(self) -> str:
        """A short file-system friendly name (the folder or workbook stem)."""
        return self.path.stem if self.path.suffix else self.path.name


# -- loading -------------------------------------------------------------

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
    from .errors import StudyError
    from .validate import validate

    report = validate(path)
    if report.study is None or report.errors:
        raise StudyError(report.errors, str(path))
    return report.study


def content_hash(files: Mapping[str, bytes]) -> str:
    """A short sha256 over file names and bytes, independent of their order."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode())
        h.update(b"\0")
        h.update(files[name])
        h.update(b"\0")
    return h.hexdigest()[:16]


# -- saving --------------------------------------------------------------

def project_dict(study: Study) -> dict[str, Any]:
    """The ``project.yaml`` content of a study, as plain data."""
    d: dict[str, Any] = {
        "name": study.name,
        "offering": study.offering,
        "segment": study.segment,
        "next_best_alternative": study.next_best_alternative,
        "currency": study.currency,
        "period": study.period,
    }
    if study.charter is not None:
        c = study.charter
        ch: dict[str, Any] = {
            "business_issue": c.business_issue,
            "success": c.success,
            "sponsor": c.sponsor,
            "team": list(c.team),
        }
        if c.start:
            ch["start"] = c.start
        if c.end:
            ch["end"] = c.end
        d["charter"] = ch
    d["subsegments"] = []
    for s in study.subsegments:
        sd = {"id": s.id, "description": s.description}
        if s.next_best_alternative:
            sd["next_best_alternative"] = s.next_best_alternative
        d["subsegments"].append(sd)
    d["constants"] = [
        {"name": c.name, "value": c.value, "source": c.source}
        | ({"kind": c.kind} if c.kind != "data" else {})
        | ({"note": c.note} if c.note else {})
        for c in study.constants
    ]
    d["derived"] = [{"name": x.name, "equation": x.equation.text} for x in study.derived]
    if study.price is not None:
        d["price"] = {"equation": study.price.text}
    d["elements"] = []
    for e in study.elements:
        ed: dict[str, Any] = {"id": e.id, "name": e.name}
        if e.category:
            ed["category"] = e.category
        ed["status"] = e.status
        if e.equation is not None:
            ed["equation"] = e.equation.text
        if e.assumptions:
            ed["assumptions"] = list(e.assumptions)
        if e.status_by_subsegment:
            ed["status_by_subsegment"] = dict(e.status_by_subsegment)
        if e.perceived_range is not None:
            ed["perceived_range"] = list(e.perceived_range)
        if e.unit_hint:
            ed["unit"] = e.unit_hint
        if e.parity_margin is not None:
            ed["parity_margin"] = e.parity_margin
        d["elements"].append(ed)
    if study.parity_margin is not None:
        d["parity_margin"] = study.parity_margin
    if study.options:
        d["options"] = {k: list(v) if isinstance(v, tuple) else v for k, v in study.options.items()}
    if study.business_case:
        d["business_case"] = dict(study.business_case)
    return d


def _measurements_out(study: Study) -> pd.DataFrame:
    cols = ["customer_id", "variable", "value", "source", "reliability", "note"]
    return study.measurements[cols].copy()


def save_study(study: Study, path: str | Path) -> Path:
    """Write a study as a folder, or as a workbook when ``path`` ends in ``.xlsx``.

    The output is written whole or not at all (temporary name, then rename).
    Converting folder -> workbook -> folder gives back the same study.

    Examples
    --------
    >>> import tempfile, cvm_kit as cvm
    >>> study = cvm.load_study(cvm.example_path())
    >>> out = cvm.save_study(study, tempfile.mkdtemp() + "/study.xlsx")
    >>> cvm.load_study(out).name == study.name
    True
    """
    from . import workbook
    from .io import atomic_dir, atomic_file

    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        with atomic_file(path) as tmp:
            workbook.write_study_workbook(study, tmp)
        return path
    import yaml

    def _date_safe(o: Any) -> Any:
        return o

    with atomic_dir(path) as tmp:
        (tmp / PROJECT_FILE).write_text(
            yaml.safe_dump(_date_safe(project_dict(study)), sort_keys=False, allow_unicode=True),
            encoding="utf-8",
        )
        study.customers.to_csv(tmp / CUSTOMERS_FILE, index=False)
        _measurements_out(study).to_csv(tmp / MEASUREMENTS_FILE, index=False)
        for name, df in (("prospects.csv", study.prospects), ("fieldwork.csv", study.fieldwork),
                         ("realized.csv", study.realized)):
            if df is not None:
                df.drop(columns=["line"], errors="ignore").to_csv(tmp / name, index=False)
    return path
