"""The schema of ``project.yaml``: the one place a model field is declared.

Pydantic models check the YAML data and collect every field error with its
key path; :func:`project_model` turns those errors into located
:class:`~cvm_kit.errors.Problem` messages (``elements[2].status (id=downtime):
'maybe' is not allowed ...``) and salvages a best-effort model so the other
checks still run. The words allowed (statuses, categories, sources) come from
:mod:`cvm_kit.study.model`. A new field is declared here, converted into the
model in :mod:`cvm_kit.study.checks_project` and written back in
:mod:`cvm_kit.study.write`.
"""

from __future__ import annotations

import copy
import datetime as _dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import Problem
from .cells import number_hint, text_of
from .model import CATEGORIES, SOURCES, STATUSES
from .yamlsafe import short_repr


def _lower(v: Any) -> Any:
    return v.strip().lower() if isinstance(v, str) else v


# the words come from the model: one list of statuses, categories and sources
_Status = Literal[STATUSES]  # type: ignore[valid-type]
_Category = Literal[CATEGORIES]  # type: ignore[valid-type]
_Kind = Literal[SOURCES]  # type: ignore[valid-type]


class _Model(BaseModel):
    # .nan/.inf (and "1e400") are not values: a constant or range must be a finite number
    # a name written as a number (name: 2026) is text, as in a workbook cell; numbers stay numbers
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True, allow_inf_nan=False,
                              coerce_numbers_to_str=True)


class _Charter(_Model):
    business_issue: str = ""
    success: str = ""
    sponsor: str = ""
    team: list[str] | str = Field(default_factory=list)
    start: _dt.date | None = None
    end: _dt.date | None = None


class _Subsegment(_Model):
    id: str = Field(min_length=1)
    description: str = ""
    next_best_alternative: str = ""

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


class _Constant(_Model):
    name: str = Field(min_length=1)
    value: float
    source: str = ""
    kind: _Kind | None = None
    note: str = ""

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, v: Any) -> Any:
        return _lower(v)


class _Derived(_Model):
    name: str = Field(min_length=1)
    equation: str = Field(min_length=1)


class _Price(_Model):
    equation: str = Field(min_length=1)


class _Element(_Model):
    id: str = Field(min_length=1)
    name: str = ""
    category: _Category | None = None
    status: _Status
    equation: str | None = None
    assumptions: list[str] | str = Field(default_factory=list)
    status_by_subsegment: dict[str, _Status] = Field(default_factory=dict)
    perceived_range: tuple[float, float] | None = None
    unit: str = ""
    parity_margin: float | None = Field(None, gt=0)

    @field_validator("category", "status", mode="before")
    @classmethod
    def _words(cls, v: Any) -> Any:
        return _lower(v)

    @field_validator("status_by_subsegment", mode="before")
    @classmethod
    def _sbs(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): _lower(x) for k, x in v.items()}
        return v

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v


class _Options(_Model):
    scenario_percentiles: tuple[float, float, float] | None = None

    @field_validator("scenario_percentiles")
    @classmethod
    def _ordered(cls, v: Any) -> Any:
        if v is not None and not (0 <= v[0] < v[1] < v[2] <= 100):
            raise ValueError("expected three percentiles rising within 0..100 (conservative, base, optimistic), "
                             f"got {list(v)}")
        return v


class _BusinessCaseInputs(_Model):
    contribution_per_customer: float | None = None


class _Project(_Model):
    name: str = Field(min_length=1)
    offering: str = Field(min_length=1)
    segment: str = ""
    next_best_alternative: str = Field(min_length=1)
    currency: str = Field(min_length=1)
    period: str = "year"
    charter: _Charter | None = None
    subsegments: list[_Subsegment] = Field(min_length=1)
    constants: list[_Constant] = Field(default_factory=list)
    derived: list[_Derived] = Field(default_factory=list)
    price: _Price | str | None = None
    elements: list[_Element] = Field(min_length=1)
    parity_margin: float | None = Field(None, gt=0)
    options: _Options | None = None
    business_case: _BusinessCaseInputs | None = None

    @field_validator("constants", "derived", mode="before")
    @classmethod
    def _none_is_empty(cls, v: Any) -> Any:
        return [] if v is None else v


#: The keys each section of project.yaml may hold (others are reported as unknown).
KNOWN_KEYS: dict[str, set[str]] = {
    "": set(_Project.model_fields),
    "charter": set(_Charter.model_fields),
    "subsegments": set(_Subsegment.model_fields),
    "constants": set(_Constant.model_fields),
    "derived": set(_Derived.model_fields),
    "elements": set(_Element.model_fields),
    "options": set(_Options.model_fields),
    "business_case": set(_BusinessCaseInputs.model_fields),
}


_UNION_BRANCHES = ("str", "list[str]", "_Price", "constrained-str")


def _key_path(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """A pydantic error location as a key path: union branches add their type names to it; drop them."""
    return tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in _UNION_BRANCHES)))


def _loc(parts: tuple[Any, ...], project: dict[str, Any]) -> str:
    """Render a pydantic location as ``elements[2].status (id=downtime)`` (the id shortened if long)."""
    out = ""
    ident = None
    node: Any = project
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
        try:
            node = node[p]
            if isinstance(node, dict) and ident is None and ("id" in node or "name" in node) and isinstance(p, int):
                ident = f"id={text_of(node['id'])}" if "id" in node else f"name={text_of(node['name'])}"
        except (KeyError, IndexError, TypeError):
            node = None
    return out + (f" ({ident})" if ident else "")


def _finite_text(v: Any) -> str:
    if isinstance(v, float):
        return ".nan" if v != v else (".inf" if v > 0 else "-.inf")
    return text_of(v) if not isinstance(v, str) else repr(text_of(v))


def _pydantic_problems(exc: ValidationError, project: dict[str, Any], label: str,
                       lines: dict[tuple[Any, ...], int] | None = None) -> list[Problem]:
    out = []
    for err in exc.errors():
        loc = _key_path(err["loc"])
        where = _loc(loc, project)
        got = err.get("input")
        msg = err["msg"]
        if err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "literal_error":
            msg = f"{short_repr(got)} is not allowed; expected {msg.split('Input should be ')[-1]}"
        elif err["type"] == "finite_number":
            msg = (f"{_finite_text(got)} is not a finite number "
                   "(.nan, .inf and numbers beyond 1.8e308 are not values); "
                   "expected a plain number")
            line = (lines or {}).get(loc)
            where += f", line {line}" if line else ""
        elif got is not None and not isinstance(got, (dict, list)):
            hint = number_hint(got) if isinstance(got, str) and err["type"] == "float_parsing" else ""
            msg = f"{short_repr(got)}: {msg}{hint}"
        out.append(Problem(label, where, msg))
    return out


def _unknown_keys(project: dict[str, Any], label: str) -> list[Problem]:
    out = []
    for key in project:
        if key not in KNOWN_KEYS[""]:
            out.append(Problem(label, str(key), "unknown key (ignored); check its spelling", "warning"))
    for section in ("subsegments", "constants", "derived", "elements"):
        items = project.get(section)
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    for key in item:
                        if key not in KNOWN_KEYS[section]:
                            out.append(Problem(label, _loc((section, i, key), project),
                                               "unknown key (ignored); check its spelling", "warning"))
    ch = project.get("charter")
    if isinstance(ch, dict):
        for key in ch:
            if key not in KNOWN_KEYS["charter"]:
                out.append(Problem(label, f"charter.{key}", "unknown key (ignored)", "warning"))
    return out


_SAFE_FIELD: dict[str, Any] = {
    "id": None, "name": "?", "status": "placeholder", "value": 0.0, "equation": "0", "description": "",
    "next_best_alternative": "", "source": "", "assumptions": [], "status_by_subsegment": {}, "unit": "", "note": "",
}
_SAFE_ITEM: dict[str, dict[str, Any]] = {"subsegments": {"id": "?"}, "constants": {"name": "?", "value": 0.0},
                                         "derived": {"name": "?", "equation": "0"},
                                         "elements": {"id": "?", "status": "placeholder"}}


def _salvage(project: dict[str, Any], exc: ValidationError) -> _Project | None:
    """A best-effort model with the invalid fields neutralised, so later checks still run.

    The problems were already reported; this model only serves to find the
    *other* problems (unknown subsegments in customers.csv, duplicate ids ...).
    """
    fixed = copy.deepcopy(project)
    for err in exc.errors():
        loc = list(_key_path(err["loc"]))
        if not loc:
            return None
        head = loc[0]
        if head in ("charter", "price"):
            fixed.pop(head, None)
        elif head in _SAFE_ITEM and len(loc) >= 2 and isinstance(loc[1], int) and isinstance(fixed.get(head), list):
            items = fixed[head]
            i = loc[1]
            if not isinstance(items[i], dict) or len(loc) == 2:
                stand_in = {"id": f"?{head}[{i}]"} if "id" in _SAFE_ITEM[head] else {"name": f"?{head}[{i}]"}
                items[i] = dict(_SAFE_ITEM[head], **stand_in)
                continue
            field = loc[2]
            if field in ("id",):
                items[i]["id"] = f"?{head}[{i}]"
            elif field == "name" and head in ("constants", "derived"):
                items[i]["name"] = f"?{head}[{i}]"
            elif field in _SAFE_FIELD:
                items[i][field] = _SAFE_FIELD[field]
            else:
                items[i].pop(field, None)
        elif head in ("name", "offering", "next_best_alternative", "currency", "segment", "period"):
            fixed[head] = "?"
        elif head in ("constants", "derived"):
            fixed[head] = []
        else:
            return None
    try:
        return _Project.model_validate(fixed)
    except ValidationError:
        return None


#: The validated ``project.yaml`` (the root of the schema).
ProjectModel = _Project


def project_model(project: dict[str, Any], label: str,
                  lines: dict[tuple[Any, ...], int] | None = None) -> tuple[ProjectModel | None, list[Problem]]:
    """Check ``project.yaml`` data against the schema.

    Parameters
    ----------
    project : dict
        The YAML data (or the workbook's model sheets in the same shape).
    label : str
        How to name the file in messages.
    lines : dict, optional
        The line of each key path (``project.yaml``), added to some messages.

    Returns
    -------
    model : ProjectModel or None
        The validated model; when fields are invalid, a best-effort model
        with those fields neutralised (None if even that fails), so the
        other checks still run.
    problems : list of Problem
        Every schema error, then every unknown key (a warning).
    """
    problems: list[Problem] = []
    model: _Project | None
    try:
        model = _Project.model_validate(project)
    except ValidationError as exc:
        problems.extend(_pydantic_problems(exc, project, label, lines))
        # keep checking the rest: neutralise the bad fields and validate again
        model = _salvage(project, exc)
    problems.extend(_unknown_keys(project, label))
    return model, problems
