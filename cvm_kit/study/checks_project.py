"""Checks of the study model (``project.yaml`` or a workbook's model sheets) and its word equations.

:func:`check_project` validates the YAML data against the schema, then the
model: unique ids and names, reserved words, an equation for every element
that is valued, known subsegments, ranges and the charter's dates, no
control characters in ids and names, and derived quantities in evaluation
order without cycles. :func:`check_phrases` then ties the equations to the
measurements: every phrase used resolves to a measurement, a constant or a
derived quantity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..equations import Equation, EquationError, normalize_phrase, parse
from ..errors import Problem
from .cells import BRACKETED, closest_phrase, control_char, control_problem
from .factors import factorize, first_rows
from .model import ALL, PROJECT_FILE, SOURCES, Charter, Constant, Element, Subsegment
from .read import RawStudy
from .schema import ProjectModel, project_model

RESERVED_ELEMENT_IDS = ("differential_value", "net_value", "contention_value", "price_difference")


@dataclass
class ProjectParts:
    """What the checks of the model build: its pieces, and what its equations need."""

    label: str = PROJECT_FILE
    model: ProjectModel | None = None
    subsegments: list[Subsegment] = field(default_factory=list)
    sub_ids: list[str] = field(default_factory=list)
    subs_complete: bool = True  # False when a subsegment failed the schema: skip membership checks
    constants: list[Constant] = field(default_factory=list)
    derived: dict[str, tuple[str, Equation]] = field(default_factory=dict)  # norm name -> (display, eq)
    order: list[str] = field(default_factory=list)  # derived names in evaluation order
    price: Equation | None = None
    elements: list[Element] = field(default_factory=list)
    charter: Charter | None = None
    needs: dict[str, list[str]] = field(default_factory=dict)  # norm phrase -> where it is used
    loose: set[str] = field(default_factory=set)  # phrases of equations that failed to parse
    display: dict[str, str] = field(default_factory=dict)  # norm phrase -> as first written

    @property
    def known_subsegments(self) -> list[str]:
        """Subsegment ids to check other files against (none when some id is unknown)."""
        return self.sub_ids if self.subs_complete else []

    def parse(self, text: str, where: str, problems: list[Problem]) -> Equation | None:
        """Parse a word equation and record its phrases; a problem (and None) when it does not parse."""
        try:
            eq = parse(text)  # no context: Problem.file/where already locate it
        except EquationError as exc:
            problems.append(Problem(self.label, where, "word equation does not parse: "
                                    f"{exc.describe() if hasattr(exc, 'describe') else exc}"))
            # its phrases still count as used: no "unused measurement" noise on top of the real error
            for m in BRACKETED.finditer(text):
                self.loose.add(normalize_phrase(m.group(1)))
            return None
        for p, d in zip(eq.phrases, eq.display_phrases):
            self.needs.setdefault(p, []).append(where)
            self.display.setdefault(p, d)
        return eq


def check_project(raw: RawStudy, problems: list[Problem]) -> ProjectParts:
    """Check the study model of ``raw``, appending every problem; the parts built from it.

    Problems come in the order of the file: schema errors and unknown keys,
    then subsegments, constants, derived quantities, price, elements and the
    charter, then control characters and cycles among derived quantities.
    """
    parts = ProjectParts(label=raw.project_label)
    if raw.project is not None:
        parts.model, found = project_model(raw.project, parts.label, raw.yaml_lines)
        problems.extend(found)
    model = parts.model
    if model is not None:
        _check_subsegments(parts, model, problems)
        _check_constants(parts, model, problems)
        _check_derived(parts, model, problems)
        if model.price is not None:
            price = model.price
            parts.price = parts.parse(price if isinstance(price, str) else price.equation, "price.equation", problems)
        _check_elements(parts, model, problems)
        _check_charter(parts, model, problems)
        _check_control_characters(model, parts.label, problems)
    parts.order = derived_order(parts.derived, parts.label, problems)
    return parts


def _check_subsegments(parts: ProjectParts, model: ProjectModel, problems: list[Problem]) -> None:
    seen: dict[str, int] = {}
    for i, s in enumerate(model.subsegments):
        if s.id.startswith("?"):  # a salvage stand-in: its id is unknown (already reported)
            parts.subs_complete = False
            continue
        if s.id in seen:
            problems.append(Problem(parts.label, f"subsegments[{i}].id",
                                    f"subsegment id {s.id!r} is used twice (first at subsegments[{seen[s.id]}])"))
        elif s.id.lower() == ALL:
            problems.append(Problem(parts.label, f"subsegments[{i}].id",
                                    f"{s.id!r} is reserved for whole-segment rows; choose another id"))
        seen.setdefault(s.id, i)
        parts.subsegments.append(Subsegment(s.id, s.description, s.next_best_alternative))
    parts.sub_ids = list(seen)


def _constant_kind(kind: str | None, source: str) -> str:
    """A constant's source word: its ``kind``, else its source when that is a word, else data/assumption."""
    if kind:
        return kind
    word = source.strip().lower()
    return word if word in SOURCES else ("data" if source else "assumption")


def _check_constants(parts: ProjectParts, model: ProjectModel, problems: list[Problem]) -> None:
    seen: dict[str, int] = {}
    for i, c in enumerate(model.constants):
        n = normalize_phrase(c.name)
        if n in seen:
            problems.append(Problem(parts.label, f"constants[{i}].name",
                                    f"constant {c.name!r} is defined twice (first at constants[{seen[n]}])"))
            continue
        seen[n] = i
        parts.constants.append(Constant(c.name, float(c.value), c.source, _constant_kind(c.kind, c.source), c.note))
        parts.display.setdefault(n, c.name)


def _check_derived(parts: ProjectParts, model: ProjectModel, problems: list[Problem]) -> None:
    constants = {normalize_phrase(c.name) for c in parts.constants}
    for i, d in enumerate(model.derived):
        n = normalize_phrase(d.name)
        if n in parts.derived:
            problems.append(Problem(parts.label, f"derived[{i}].name", f"derived quantity {d.name!r} is defined twice"))
            continue
        if n in constants:
            problems.append(Problem(parts.label, f"derived[{i}].name",
                                    f"{d.name!r} is both derived and a constant; a name must be one or the other"))
        eq = parts.parse(d.equation, f"derived[{i}].equation (name={d.name})", problems)
        if eq is not None:
            parts.derived[n] = (d.name, eq)
            parts.display.setdefault(n, d.name)


def _check_elements(parts: ProjectParts, model: ProjectModel, problems: list[Problem]) -> None:
    label = parts.label
    seen: dict[str, int] = {}
    for i, e in enumerate(model.elements):
        if e.id in seen:
            problems.append(Problem(label, f"elements[{i}].id",
                                    f"element id {e.id!r} is used twice (first at elements[{seen[e.id]}])"))
            continue
        seen[e.id] = i
        if e.id.lower() in RESERVED_ELEMENT_IDS:
            problems.append(Problem(label, f"elements[{i}].id", f"{e.id!r} is reserved for totals; choose another id"))
        eq = None
        if e.equation:
            eq = parts.parse(e.equation, f"elements[{i}].equation (id={e.id})", problems)
        elif e.status in ("difference", "contention") or any(
            v in ("difference", "contention") for v in e.status_by_subsegment.values()
        ):
            problems.append(Problem(label, f"elements[{i}].equation (id={e.id})",
                                    f"a {e.status} element needs a value word equation "
                                    "(only parity and placeholder elements may omit it)"))
        for sid in e.status_by_subsegment:
            if parts.subs_complete and sid not in parts.sub_ids:
                problems.append(Problem(label, f"elements[{i}].status_by_subsegment.{sid} (id={e.id})",
                                        f"unknown subsegment {sid!r}; expected one of {', '.join(parts.sub_ids)}"))
        rng = e.perceived_range
        if rng is not None and rng[0] > rng[1]:
            problems.append(Problem(label, f"elements[{i}].perceived_range (id={e.id})",
                                    f"low {rng[0]} is above high {rng[1]}"))
        assumptions = (e.assumptions,) if isinstance(e.assumptions, str) else tuple(e.assumptions)
        parts.elements.append(Element(e.id, e.name or e.id, e.category, e.status, eq,
                                      tuple(a for a in assumptions if a), dict(e.status_by_subsegment), rng,
                                      e.unit, e.parity_margin))


def _check_charter(parts: ProjectParts, model: ProjectModel, problems: list[Problem]) -> None:
    c = model.charter
    if c is None:
        return
    team = (c.team,) if isinstance(c.team, str) else tuple(c.team)
    parts.charter = Charter(c.business_issue, c.success, c.sponsor, team, c.start, c.end)
    if not c.success:
        problems.append(Problem(parts.label, "charter.success",
                                "a charter needs a success statement (what result, by when)"))
    if c.start and c.end and c.end < c.start:
        problems.append(Problem(parts.label, "charter.end", f"end {c.end} is before start {c.start}"))


def _check_control_characters(model: ProjectModel, label: str, problems: list[Problem]) -> None:
    """Ids, names and equations hold no control characters (equations may hold tabs and line breaks)."""

    def ctl(value: Any, where: str, what: str, *, spaces_ok: bool = False) -> None:
        text = re.sub(r"[\t\n\r]", " ", value) if spaces_ok and isinstance(value, str) else value
        if control_char(text):
            problems.append(Problem(label, where, control_problem(value, what)))

    for i, s in enumerate(model.subsegments):
        ctl(s.id, f"subsegments[{i}].id", "a subsegment id")
    for i, c in enumerate(model.constants):
        ctl(c.name, f"constants[{i}].name", "a constant's name")
    for i, d in enumerate(model.derived):
        ctl(d.name, f"derived[{i}].name", "a derived quantity's name")
        ctl(d.equation, f"derived[{i}].equation", "a word equation", spaces_ok=True)
    if model.price is not None:
        ctl(model.price if isinstance(model.price, str) else model.price.equation, "price.equation",
            "a word equation", spaces_ok=True)
    for i, e in enumerate(model.elements):
        ctl(e.id, f"elements[{i}].id", "an element id")
        ctl(e.name, f"elements[{i}].name", "an element name")
        if e.equation:
            ctl(e.equation, f"elements[{i}].equation", "a word equation", spaces_ok=True)
        for sid in e.status_by_subsegment:
            ctl(sid, f"elements[{i}].status_by_subsegment", "a subsegment id")


def derived_order(derived_eqs: dict[str, tuple[str, Equation]], label: str, problems: list[Problem]) -> list[str]:
    """Derived quantities in evaluation order (each after those it uses); cycles reported.

    An iterative depth-first search: a chain of thousands of derived
    quantities needs no Python recursion.
    """
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in derived_eqs:
        if state.get(root):
            continue
        path: list[str] = [root]
        state[root] = 1
        todo = [iter([p for p in derived_eqs[root][1].phrases if p in derived_eqs])]
        while todo:
            nxt = next(todo[-1], None)
            if nxt is None:
                done = path.pop()
                todo.pop()
                state[done] = 2
                order.append(done)
                continue
            if state.get(nxt) == 2:
                continue
            if state.get(nxt) == 1:
                cyc = path[path.index(nxt):] + [nxt]
                shown = cyc if len(cyc) <= 12 else cyc[:6] + ["..."] + cyc[-5:]
                chain = " -> ".join("..." if x == "..." else f"[{derived_eqs[x][0]}]" for x in shown)
                problems.append(Problem(label, "derived",
                                        f"derived quantities refer to each other in a cycle: {chain}"))
                continue
            state[nxt] = 1
            path.append(nxt)
            todo.append(iter([p for p in derived_eqs[nxt][1].phrases if p in derived_eqs]))
    return order



def check_phrases(parts: ProjectParts, measurements: pd.DataFrame | None, mlabel: str,
                  problems: list[Problem]) -> None:
    """Every phrase an equation uses resolves; no name is both derived and measured; unused measurements warned."""
    measured: set[str] = set()
    measured_as: dict[str, str] = {}
    first_of: dict[str, int] = {}
    if measurements is not None:
        codes, phrases = factorize(measurements["phrase"])  # remembered from the checks: no pass over the rows
        firsts = first_rows(codes, len(phrases))
        measured = set(phrases)
        measured_as = dict(zip(phrases, measurements["variable"].to_numpy(object)[firsts]))
        first_of = dict(zip(phrases, firsts.tolist()))
    for n, (dname, _) in parts.derived.items():
        if n in measured:
            problems.append(Problem(parts.label, f"derived (name={dname})", f"[{dname}] is both derived and measured "
                                    f"in {mlabel}; a name must be one or the other"))
    if parts.model is None or measurements is None:
        return
    display = parts.display
    known = measured | {normalize_phrase(c.name) for c in parts.constants} | set(parts.derived)
    for p, wheres in parts.needs.items():
        if p not in known:
            cands = {x: measured_as[x] if x in measured_as else display.get(x, x) for x in known}
            shown = display.get(p, p)
            problems.append(Problem(parts.label, wheres[0], f"phrase [{shown}] is not measured by any customer, "
                                    f"not a constant and not derived{closest_phrase(shown, cands)}"))
    needed_as = {x: display.get(x, x) for x in parts.needs}
    for p in sorted(measured - set(parts.needs) - parts.loose):
        row = measurements.iloc[first_of[p]]
        problems.append(Problem(mlabel, f"line {row['line']}, column variable",
                                f"[{row['variable']}] is measured but no equation uses it"
                                f"{closest_phrase(p, needed_as)}", "warning"))
