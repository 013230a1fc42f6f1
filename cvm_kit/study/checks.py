"""Every check of a study, collected into one list of located problems.

:func:`check_study` runs the checks of each file in turn, model first
(:mod:`~cvm_kit.study.checks_project`), then the tables
(:mod:`~cvm_kit.study.checks_tables`), then how they fit together, and
builds the :class:`~cvm_kit.study.model.Study` when nothing is wrong. It
needs no stage above the model; the input-coverage warnings, which need the
values stage, are added by :func:`cvm_kit.study.load.validate`.
"""

from __future__ import annotations

import re

from ..errors import Problem
from .checks_project import check_phrases, check_project
from .checks_tables import (
    check_customers,
    check_fieldwork,
    check_measurements,
    check_prospects,
    check_realized,
    customer_id_problems,
)
from .model import MEASUREMENTS_FILE, Derived, Study
from .read import RawStudy


def check_study(raw: RawStudy, problems: list[Problem]) -> tuple[list[Problem], Study | None]:
    """Check every file of a study as read.

    Parameters
    ----------
    raw : RawStudy
        The study as read by :func:`cvm_kit.study.read.read_raw`.
    problems : list of Problem
        The problems found while reading (kept first).

    Returns
    -------
    problems : list of Problem
        Every error and warning, each located (a workbook's model problems
        by sheet, row and column).
    study : Study or None
        The study, when there is no error (its ``warnings`` not yet set).
    """
    problems = list(problems)
    parts = check_project(raw, problems)
    customers = check_customers(raw, parts.sub_ids if parts.model is not None and parts.subs_complete else None,
                                problems)
    mlabel = raw.labels.get(MEASUREMENTS_FILE, MEASUREMENTS_FILE)
    measurements = check_measurements(raw, customers, problems)
    check_phrases(parts, measurements, mlabel, problems)
    prospects = check_prospects(raw, customers.frame, parts.known_subsegments, problems)
    fieldwork = check_fieldwork(raw, customers.ids, problems, customers.unknown_refs, parts.known_subsegments)
    realized = check_realized(raw, customers.ids, {e.id for e in parts.elements}, problems, customers.unknown_refs)
    problems.extend(customer_id_problems(customers.label, customers.duplicates, customers.unknown_refs,
                                         sorted(customers.ids)))
    if raw.project_lines:
        problems = [sheet_location(p, raw) for p in problems]
    model = parts.model
    if any(p.severity == "error" for p in problems) or model is None or customers.frame is None or measurements is None:
        return problems, None
    study = Study(
        path=raw.path,
        name=model.name,
        offering=model.offering,
        segment=model.segment,
        next_best_alternative=model.next_best_alternative,
        currency=model.currency,
        period=model.period,
        subsegments=tuple(parts.subsegments),
        constants=tuple(parts.constants),
        derived=tuple(Derived(parts.derived[n][0], parts.derived[n][1]) for n in parts.order),
        price=parts.price,
        elements=tuple(parts.elements),
        customers=customers.frame,
        measurements=measurements.reset_index(drop=True),
        charter=parts.charter,
        prospects=prospects,
        fieldwork=fieldwork,
        realized=realized,
        content_hash=raw.content_hash(),
        parity_margin=model.parity_margin,
        options=model.options.model_dump(exclude_none=True) if model.options is not None else {},
        business_case=model.business_case.model_dump(exclude_none=True) if model.business_case is not None else {},
    )
    return problems, study


_SECTION_PATH = re.compile(r"^(subsegments|constants|derived|elements)\[(\d+)\]\.?([A-Za-z_]*)(.*)$")


def sheet_location(p: Problem, raw: RawStudy) -> Problem:
    """Re-locate a model problem of a workbook study from its YAML path to its sheet, row and column."""
    if p.file != raw.project_label:
        return p
    book = raw.path.name
    m = _SECTION_PATH.match(p.where)
    if m:
        section, idx, col, rest = m.group(1), int(m.group(2)), m.group(3), m.group(4)
        rows = raw.project_lines.get(section, [])
        row = rows[idx] if idx < len(rows) else idx + 2
        where = f"row {row}" + (f", column {col}" if col else "") + rest
        return Problem(f"{book}[{section}]", where, p.message, p.severity)
    key = p.where.split(" ")[0]
    if key.startswith("charter."):
        return Problem(f"{book}[project]", f"key {key}", p.message, p.severity)
    if key in ("price", "price.equation"):
        return Problem(f"{book}[project]", "key price", p.message, p.severity)
    return Problem(f"{book}[project]", f"key {p.where}" if p.where else "", p.message, p.severity)
