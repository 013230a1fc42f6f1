"""Every check of a study, collected into one report of located problems.

:func:`validate` reads a study folder or workbook, checks the model
(``project.yaml``), the tables and how they fit together, and returns a
:class:`ValidationReport` listing *every* problem at once, each naming the
file, the row/column or YAML key, the offending text and what was expected.
Errors make the study unusable; warnings are normal in fieldwork (a customer
still missing inputs, a measured variable no equation uses).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .equations import Equation, EquationError, normalize_phrase, parse
from .errors import Problem
from .study import (
    ALL,
    CUSTOMERS_FILE,
    FIELDWORK_STATUSES,
    FIELDWORK_STEPS,
    MEASUREMENTS_FILE,
    OPTIONAL_FILES,
    PROJECT_FILE,
    RELIABILITIES,
    SOURCES,
    STATUSES,
    Charter,
    Constant,
    Derived,
    Element,
    Study,
    Subsegment,
    content_hash,
)

# ---------------------------------------------------------------------------
# project.yaml schema (pydantic: collects every field error with its path)


def _lower(v: Any) -> Any:
    return v.strip().lower() if isinstance(v, str) else v


_Status = Literal["parity", "difference", "contention", "placeholder"]
_Category = Literal["technical", "economic", "service", "social"]
_Kind = Literal["data", "estimate", "perception", "assumption"]


class _Model(BaseModel):
    # .nan/.inf (and "1e400") are not values: a constant or range must be a finite number
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True, allow_inf_nan=False)


class _Charter(_Model):
    business_issue: str = ""
    success: str = ""
    sponsor: str = ""
    team: Union[list[str], str] = Field(default_factory=list)
    start: Optional[_dt.date] = None
    end: Optional[_dt.date] = None


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
    kind: Optional[_Kind] = None
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
    category: Optional[_Category] = None
    status: _Status
    equation: Optional[str] = None
    assumptions: Union[list[str], str] = Field(default_factory=list)
    status_by_subsegment: dict[str, _Status] = Field(default_factory=dict)
    perceived_range: Optional[tuple[float, float]] = None
    unit: str = ""
    parity_margin: Optional[float] = Field(None, gt=0)

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
    scenario_percentiles: Optional[tuple[float, float, float]] = None

    @field_validator("scenario_percentiles")
    @classmethod
    def _ordered(cls, v: Any) -> Any:
        if v is not None and not (0 <= v[0] < v[1] < v[2] <= 100):
            raise ValueError(f"expected three percentiles rising within 0..100 (conservative, base, optimistic), got {list(v)}")
        return v


class _BusinessCaseInputs(_Model):
    contribution_per_customer: Optional[float] = None


class _Project(_Model):
    name: str = Field(min_length=1)
    offering: str = Field(min_length=1)
    segment: str = ""
    next_best_alternative: str = Field(min_length=1)
    currency: str = Field(min_length=1)
    period: str = "year"
    charter: Optional[_Charter] = None
    subsegments: list[_Subsegment] = Field(min_length=1)
    constants: list[_Constant] = Field(default_factory=list)
    derived: list[_Derived] = Field(default_factory=list)
    price: Optional[Union[_Price, str]] = None
    elements: list[_Element] = Field(min_length=1)
    parity_margin: Optional[float] = Field(None, gt=0)
    options: Optional[_Options] = None
    business_case: Optional[_BusinessCaseInputs] = None

    @field_validator("constants", "derived", mode="before")
    @classmethod
    def _none_is_empty(cls, v: Any) -> Any:
        return [] if v is None else v


_KNOWN_KEYS = {
    "": set(_Project.model_fields),
    "charter": set(_Charter.model_fields),
    "subsegments": set(_Subsegment.model_fields),
    "constants": set(_Constant.model_fields),
    "derived": set(_Derived.model_fields),
    "elements": set(_Element.model_fields),
    "options": set(_Options.model_fields),
    "business_case": set(_BusinessCaseInputs.model_fields),
}


# ---------------------------------------------------------------------------
# raw reading: files -> dict + string tables, with file-level problems


@dataclass
class RawStudy:
    """A study as read, before checks: YAML data and all-text tables."""

    path: Path
    project: dict[str, Any] | None
    tables: dict[str, pd.DataFrame]  # file name -> text table with a 'line' column
    labels: dict[str, str]  # file name -> how to name it in messages
    files: dict[str, bytes]
    project_label: str = PROJECT_FILE
    project_lines: dict[str, list[int]] = field(default_factory=dict)  # workbook: sheet rows per model section
    yaml_lines: dict[tuple[Any, ...], int] = field(default_factory=dict)  # project.yaml: line of each key path


def _read_yaml(text: str, label: str, problems: list[Problem],
               lines: dict[tuple[Any, ...], int] | None = None) -> dict[str, Any] | None:
    """Parse project.yaml (see :mod:`cvm_kit.yamlsafe`); ``lines`` receives the line of each key path."""
    import yaml

    from .yamlsafe import load_yaml

    try:
        data, yproblems, ylines = load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = getattr(exc, "problem", None) or str(exc)[:300]
        problems.append(Problem(label, where, f"malformed YAML: {what}"))
        return None
    if lines is not None:
        lines.update(ylines)
    for yp in yproblems:
        problems.append(Problem(label, f"{yp.where}, line {yp.line}" if yp.where else f"line {yp.line}", yp.message))
    if yproblems and data is None:
        return None
    if data is None:
        problems.append(Problem(label, "", "the file is empty; expected the study model (name, offering, subsegments, elements ...)"))
        return None
    if not isinstance(data, dict):
        problems.append(Problem(label, "", f"expected a mapping of keys (name, offering, elements ...), found {type(data).__name__}"))
        return None
    return data


def _decode(raw: bytes, label: str, problems: list[Problem]) -> str | None:
    # other formats saved under a .csv/.yaml name: say what the file really is
    if raw.startswith(b"PK\x03\x04") or raw.startswith(b"\xd0\xcf\x11\xe0"):
        problems.append(Problem(label, "", "is an Excel workbook, not CSV text (saved with the wrong type); in Excel "
                                "use File > Save As > 'CSV UTF-8 (Comma delimited)' under this name"))
        return None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        problems.append(Problem(label, "", "is UTF-16 text (Excel's 'Unicode Text'); save it as "
                                "'CSV UTF-8 (Comma delimited)' instead"))
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problems.append(
            Problem(label, f"line {line}, byte {exc.start}",
                    f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8 (CSV UTF-8 in Excel)")
        )
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n")


# columns that hold text, never numbers: a decimal comma is never converted in them
_TEXT_COLUMNS = {"customer_id", "prospect_id", "subsegment", "variable", "source", "reliability", "note", "date",
                 "step", "status", "with", "element_id", "period_start", "period_end"}
_DECIMAL_COMMA = re.compile(r"^[+\-\u2212]?\d*,\d+$")
_DECIMAL_POINT = re.compile(r"^[+\-\u2212]?\d*\.\d+([eE][+-]?\d+)?$")
_SEPARATOR_NAMES = {",": "','", ";": "';'", "\t": "tab"}


def _separator(text: str) -> str:
    """The field separator, from the header line: ',' unless ';' or tab is clearly it (Excel in many locales)."""
    head = next((ln for ln in text.split("\n") if ln.strip()), "")
    head = re.sub(r'"[^"]*"', "", head)  # separators inside quoted names do not count
    counts = {s: head.count(s) for s in (",", ";", "\t")}
    best = max(counts, key=lambda s: (counts[s], s == ","))
    return best if counts[best] else ","


def _decimal_commas(df: pd.DataFrame, sep: str, label: str, problems: list[Problem]) -> None:
    """Convert decimal commas ('1,5') of a ';'- or tab-separated file in place, or report why not.

    Read as decimal commas only when unambiguous: no number cell of the file
    is written with a decimal point. Text columns are never touched.
    """
    cols = [c for c in df.columns if c not in _TEXT_COLUMNS and c != "line" and not pd.api.types.is_numeric_dtype(df[c])]
    comma: tuple[int, str, str] | None = None
    point: tuple[int, str, str] | None = None
    for c in cols:
        vals = df[c].astype(str).str.strip()
        hit = vals.str.match(_DECIMAL_COMMA.pattern)
        if hit.any() and comma is None:
            i = int(np.flatnonzero(hit.to_numpy())[0])
            comma = (int(df["line"].iloc[i]), c, vals.iloc[i])
        hit = vals.str.match(_DECIMAL_POINT.pattern)
        if hit.any() and point is None:
            i = int(np.flatnonzero(hit.to_numpy())[0])
            point = (int(df["line"].iloc[i]), c, vals.iloc[i])
    if comma is None:
        return
    found = f"{_SEPARATOR_NAMES[sep]}-separated with decimal commas (e.g. {comma[2]!r} on line {comma[0]}, column {comma[1]})"
    if point is not None:
        # '0,5' can only be 0.5, but '1.000' may be 1000 or 1: report it (the commas are still read, no cascade)
        problems.append(Problem(label, f"line {point[0]}, column {point[1]}",
                                f"the file is {found}, but {point[2]!r} here has a decimal point: is it a thousands "
                                f"separator ({point[2].replace('.', '')}) or a decimal ({point[2].replace('.', ',')})? "
                                "Write every number with the same decimal mark and no thousands separators"))
    for c in cols:
        vals = df[c].astype(str)
        hit = vals.str.strip().str.match(_DECIMAL_COMMA.pattern)
        if hit.any():
            df.loc[hit, c] = vals[hit].str.strip().str.replace(",", ".", regex=False)
    if point is None:
        problems.append(Problem(label, "", f"read as {found}, as Excel saves CSV in many locales", "warning"))


def _tokenizer_message(exc: Exception, sep: str) -> str:
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if m:
        return (f"line {m.group(2)} has {m.group(3)} fields but the header has {m.group(1)}: a value holding the "
                f"separator ({_SEPARATOR_NAMES[sep]}) must be in double quotes")
    return f"cannot be read as CSV: {str(exc)[:300]}"


def read_csv_text(text: str, label: str, problems: list[Problem]) -> pd.DataFrame | None:
    """Read CSV text as an all-text table with a ``line`` column (file line numbers).

    The separator is ',' unless the header is clearly ';'- or tab-separated
    (as Excel saves CSV in many European locales); such files may use decimal
    commas, read as numbers when unambiguous (see :func:`_decimal_commas`).
    """
    if not text.strip():
        problems.append(Problem(label, "", "the file is empty; expected a header row and data rows"))
        return None
    sep = _separator(text)
    try:
        header = [str(c).strip() for c in pd.read_csv(io.StringIO(text), sep=sep, nrows=0).columns]
        # text columns stay exact Python strings; a numeric 'value' column parses in C (comma files only:
        # elsewhere it may hold decimal commas)
        dtypes = {i: object for i, c in enumerate(header) if c != "value" or sep != ","}
        df = pd.read_csv(io.StringIO(text), sep=sep, dtype=dtypes, keep_default_na=False, skip_blank_lines=True)
    except Exception as exc:  # pandas raises several parser error types
        problems.append(Problem(label, "", _tokenizer_message(exc, sep)))
        return None
    df.columns = header
    if len(set(header)) != len(header):
        dup = sorted({c for c in header if header.count(c) > 1})
        problems.append(Problem(label, "header", f"column(s) {', '.join(dup)} appear more than once"))
        return None
    df["line"] = _line_numbers(text, len(df), sep)
    for c in header:
        # free-text notes keep their spacing (and skipping them saves a pass over 600k rows)
        if c == "note":
            continue
        if df[c].dtype == object:
            df[c] = map_unique(df[c], lambda t: str(t).strip())
        elif pd.api.types.is_string_dtype(df[c]):  # pandas >= 3 reads text as its str dtype: keep it
            df[c] = df[c].str.strip()
    if sep != ",":
        _decimal_commas(df, sep, label, problems)
    return df


def map_unique(col: pd.Series, fn) -> pd.Series:
    """Apply ``fn`` once per distinct value of a text column (600k rows, few distinct values)."""
    codes, uniques = pd.factorize(col, use_na_sentinel=False)
    mapped = np.empty(len(uniques), dtype=object)
    mapped[:] = [fn(u) for u in uniques]
    return pd.Series(mapped[codes], index=col.index, dtype=object)


def _line_numbers(text: str, n: int, sep: str = ",") -> list[int] | range:
    """File line of each data row (header is line 1; blank lines are skipped)."""
    if text.count("\n") - text.endswith("\n") == n:
        return range(2, n + 2)  # one physical line per row: no loop over lines needed
    import csv

    # records may span lines (quoted newlines): the csv reader knows where each starts
    # a note may be longer than the csv module's default field limit (128 KiB)
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    starts: list[int] = []
    prev = 0
    for rec in reader:
        if any(f.strip() for f in rec):
            starts.append(prev + 1)
        prev = reader.line_num
    lines = starts[1:]
    return lines[:n] if len(lines) >= n else range(2, n + 2)


def read_raw(path: str | Path) -> tuple[RawStudy | None, list[Problem]]:
    """Read a study folder or workbook without checking its content."""
    path = Path(path)
    problems: list[Problem] = []
    if not path.exists():
        return None, [Problem(str(path), "", "no such study folder or workbook")]
    if path.is_file():
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            from .workbook import read_study_workbook

            return read_study_workbook(path)
        return None, [Problem(str(path), "", "expected a study folder or an .xlsx workbook")]

    files: dict[str, bytes] = {}
    tables: dict[str, pd.DataFrame] = {}
    project = None
    yaml_lines: dict[tuple[Any, ...], int] = {}
    present = [f for f in sorted(path.iterdir()) if f.is_file() and not f.name.startswith(".")]
    for name in (PROJECT_FILE, CUSTOMERS_FILE, MEASUREMENTS_FILE, *OPTIONAL_FILES):
        if (path / name).is_file():
            files[name] = (path / name).read_bytes()
            continue
        required = name in (PROJECT_FILE, CUSTOMERS_FILE, MEASUREMENTS_FILE)
        stand_in = _stand_in(name, present)
        if stand_in is not None:
            problems.append(Problem(name, "", stand_in, "error" if required else "warning"))
        elif required:
            problems.append(Problem(name, "", f"missing: a study folder needs {PROJECT_FILE}, {CUSTOMERS_FILE} and {MEASUREMENTS_FILE}"))
    if PROJECT_FILE in files:
        text = _decode(files[PROJECT_FILE], PROJECT_FILE, problems)
        if text is not None:
            project = _read_yaml(text, PROJECT_FILE, problems, yaml_lines)
    for name, raw in files.items():
        if name.endswith(".csv"):
            text = _decode(raw, name, problems)
            if text is not None:
                df = read_csv_text(text, name, problems)
                if df is not None:
                    tables[name] = df
    labels = {n: n for n in tables}
    return RawStudy(path, project, tables, labels, files, yaml_lines=yaml_lines), problems


def _stand_in(name: str, present: list[Path]) -> str | None:
    """What to say when ``name`` is missing but a file that was probably meant for it is there."""
    stem, suffix = name.rsplit(".", 1)
    for f in present:
        low = f.name.lower()
        if low == name:
            return f"found {f.name}: file names are case-sensitive; rename it {name}"
        fstem = low.rsplit(".", 1)[0] if "." in low else low
        if fstem != stem and fstem != name:
            continue
        if suffix == "yaml" and f.suffix.lower() == ".yml":
            return f"found {f.name}: rename it {name}"
        if f.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods", ".numbers"):
            return (f"found {f.name}, a spreadsheet, where {name} belongs: cvm_kit reads CSV text here; in Excel use "
                    f"File > Save As > 'CSV UTF-8 (Comma delimited)' and name it {name}")
        return f"found {f.name} where {name} belongs: save it as CSV text named {name}"
    return None


# ---------------------------------------------------------------------------
# the report


@dataclass
class ValidationReport:
    """The outcome of :func:`validate`: every problem, and the study if usable."""

    path: Path
    problems: list[Problem]
    study: Study | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        """A short text: customers per subsegment, elements by status, input coverage."""
        s = self.study
        if s is None:
            return f"{self.path}: {len(self.errors)} error(s)"
        from .values import input_coverage

        lines = [f"Study: {s.name} ({s.offering} vs {s.next_best_alternative}), {s.currency} per {s.period}"]
        counts = s.customers["subsegment"].value_counts()
        lines.append("Customers: " + ", ".join(f"{sid} {int(counts.get(sid, 0))}" for sid in s.subsegment_ids)
                     + f" (total {len(s.customers)})")
        by_status = {st: [e.id for e in s.elements if e.status == st] for st in STATUSES}
        lines.append("Elements: " + ", ".join(f"{st} {len(ids)}" for st, ids in by_status.items()))
        cov = input_coverage(s)
        have = int(cov["present"].sum())
        lines.append(f"Inputs: {have} of {len(cov)} customer x phrase inputs on file ({have / max(len(cov), 1):.0%})"
                     f", {len(s.measurements)} measurement rows")
        lines.append(f"Warnings: {len(self.warnings)}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------
# the checks


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
                ident = f"id={_text_of(node['id'])}" if "id" in node else f"name={_text_of(node['name'])}"
        except (KeyError, IndexError, TypeError):
            node = None
    return out + (f" ({ident})" if ident else "")


def _text_of(v: Any) -> str:
    """Short text of a YAML value for a message: strings as written (cut at 60), anything else a bounded repr."""
    from .yamlsafe import short_repr

    if isinstance(v, str):
        return v if len(v) <= 60 else v[:57] + "..."
    return short_repr(v)


def _finite_text(v: Any) -> str:
    if isinstance(v, float):
        return ".nan" if v != v else (".inf" if v > 0 else "-.inf")
    return _text_of(v) if not isinstance(v, str) else repr(_text_of(v))


def _pydantic_problems(exc: ValidationError, project: dict[str, Any], label: str,
                       lines: dict[tuple[Any, ...], int] | None = None) -> list[Problem]:
    from .yamlsafe import short_repr

    out = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        # union branches add their type names to the location; drop them
        loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in ("str", "list[str]", "_Price", "constrained-str"))))
        where = _loc(loc, project)
        got = err.get("input")
        msg = err["msg"]
        if err["type"] == "missing":
            msg = "required key is missing"
        elif err["type"] == "literal_error":
            msg = f"{short_repr(got)} is not allowed; expected {msg.split('Input should be ')[-1]}"
        elif err["type"] == "finite_number":
            msg = (f"{_finite_text(got)} is not a finite number (.nan, .inf and numbers beyond 1.8e308 are not values); "
                   "expected a plain number")
            line = (lines or {}).get(loc)
            where += f", line {line}" if line else ""
        elif got is not None and not isinstance(got, (dict, list)):
            msg = f"{short_repr(got)}: {msg}" + (_number_hint(got) if isinstance(got, str) and err["type"] == "float_parsing" else "")
        out.append(Problem(label, where, msg))
    return out


def _unknown_keys(project: dict[str, Any], label: str) -> list[Problem]:
    out = []
    for key in project:
        if key not in _KNOWN_KEYS[""]:
            out.append(Problem(label, str(key), "unknown key (ignored); check its spelling", "warning"))
    for section in ("subsegments", "constants", "derived", "elements"):
        items = project.get(section)
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    for key in item:
                        if key not in _KNOWN_KEYS[section]:
                            out.append(Problem(label, _loc((section, i, key), project),
                                               "unknown key (ignored); check its spelling", "warning"))
    ch = project.get("charter")
    if isinstance(ch, dict):
        for key in ch:
            if key not in _KNOWN_KEYS["charter"]:
                out.append(Problem(label, f"charter.{key}", "unknown key (ignored)", "warning"))
    return out


_SAFE_FIELD = {
    "id": None, "name": "?", "status": "placeholder", "value": 0.0, "equation": "0", "description": "",
    "next_best_alternative": "", "source": "", "assumptions": [], "status_by_subsegment": {}, "unit": "", "note": "",
}
_SAFE_ITEM = {"subsegments": {"id": "?"}, "constants": {"name": "?", "value": 0.0},
              "derived": {"name": "?", "equation": "0"}, "elements": {"id": "?", "status": "placeholder"}}


def _salvage(project: dict[str, Any], exc: ValidationError) -> _Project | None:
    """A best-effort model with the invalid fields neutralised, so later checks still run.

    The problems were already reported; this model only serves to find the
    *other* problems (unknown subsegments in customers.csv, duplicate ids ...).
    """
    import copy

    fixed = copy.deepcopy(project)
    for err in exc.errors():
        loc = [p for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p in ("str", "list[str]", "_Price", "constrained-str")))]
        if not loc:
            return None
        head = loc[0]
        if head in ("charter", "price"):
            fixed.pop(head, None)
        elif head in _SAFE_ITEM and len(loc) >= 2 and isinstance(loc[1], int) and isinstance(fixed.get(head), list):
            items = fixed[head]
            i = loc[1]
            if not isinstance(items[i], dict) or len(loc) == 2:
                items[i] = dict(_SAFE_ITEM[head], **({"id": f"?{head}[{i}]"} if "id" in _SAFE_ITEM[head] else {"name": f"?{head}[{i}]"}))
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


def _closest(word: str, candidates: dict[str, str]) -> str:
    """Suggest the closest phrase; match on normalised text, show it as written."""
    m = difflib.get_close_matches(normalize_phrase(word), list(candidates), n=1, cutoff=0.6)
    return f"; did you mean [{candidates[m[0]]}]?" if m else ""


_BRACKETED = re.compile(r"\[([^\[\]]*)\]")


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _to_number(text: str) -> float | None:
    t = text.strip().replace("\u2212", "-")
    if not _NUMBER.match(t):
        return None
    return float(t)


_THOUSANDS = re.compile(r"^[+-]?\d{1,3}([,. '\u00a0\u202f]\d{3})+([.,]\d+)?$")


def _number_hint(text: str) -> str:
    t = text.strip()
    if _THOUSANDS.match(t):
        return " (write it without thousands separators, e.g. 1200.5)"
    if re.match(r"^[+-]?\d*,\d+$", t):
        return f" (a decimal comma? write it with a point: {t.replace(',', '.')})"
    return ""


# control characters (C0, DEL, C1) and bidirectional overrides: never part of an id or a name
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_NAMES = {0: "NUL", 7: "BEL", 8: "backspace", 9: "tab", 10: "line break", 13: "carriage return",
                  27: "ESC", 127: "DEL"}


def _control(text: Any) -> str | None:
    """Which control character ``text`` holds, and where (None when it is plain)."""
    if not isinstance(text, str):
        return None
    m = _CONTROL.search(text)
    if m is None:
        return None
    code = ord(m.group())
    name = _CONTROL_NAMES.get(code, f"U+{code:04X}")
    return f"{name} (U+{code:04X}) at character {m.start() + 1}"


def _control_problem(text: str, what: str) -> str:
    return (f"{_text_of(text)!r} holds a control character, {_control(text)}; {what} must be plain text "
            "(control characters garble terminals, reports and workbooks)")


def _check_control_column(df: pd.DataFrame, col: str, label: str, what: str, problems: list[Problem]) -> None:
    """One error per distinct id or name of ``col`` holding a control character (first line, count)."""
    if col not in df.columns:
        return
    vals = df[col]
    uniq = pd.unique(vals)
    bad = [u for u in uniq if _control(u)]
    for u in bad:
        hit = (vals == u).to_numpy()
        lines = df["line"].to_numpy()[hit]
        more = f" (and {len(lines) - 1} more row(s))" if len(lines) > 1 else ""
        problems.append(Problem(label, f"line {lines[0]}, column {col}", _control_problem(u, what) + more))


def _required_columns(df: pd.DataFrame, label: str, cols: tuple[str, ...], problems: list[Problem]) -> bool:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        found = ", ".join(c for c in df.columns if c != "line")
        problems.append(Problem(label, "header", f"missing column(s) {', '.join(missing)}; found: {found}"))
        return False
    return True


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
    raw, problems = read_raw(path)
    if raw is None:
        return ValidationReport(path, problems)
    plabel = raw.project_label
    model: _Project | None = None
    if raw.project is not None:
        try:
            model = _Project.model_validate(raw.project)
        except ValidationError as exc:
            problems.extend(_pydantic_problems(exc, raw.project, plabel, raw.yaml_lines))
            # keep checking the rest: neutralise the bad fields and validate again
            model = _salvage(raw.project, exc)
        problems.extend(_unknown_keys(raw.project, plabel))

    # ---- model-level checks -------------------------------------------------
    sub_ids: list[str] = []
    subs_complete = True  # False when a subsegment failed the schema: skip membership checks
    elements: list[Element] = []
    constants: list[Constant] = []
    derived_eqs: dict[str, tuple[str, Equation]] = {}  # norm name -> (display, eq)
    price: Equation | None = None
    charter: Charter | None = None
    subsegments: list[Subsegment] = []
    needs: dict[str, list[str]] = {}  # norm phrase -> where it is used
    loose: set[str] = set()  # phrases of equations that failed to parse
    display: dict[str, str] = {}

    def _parse(text: str, where: str) -> Equation | None:
        try:
            eq = parse(text)  # no context: Problem.file/where already locate it
        except EquationError as exc:
            problems.append(Problem(plabel, where, f"word equation does not parse: {exc.describe() if hasattr(exc, 'describe') else exc}"))
            # its phrases still count as used: no "unused measurement" noise on top of the real error
            for m in _BRACKETED.finditer(text):
                loose.add(normalize_phrase(m.group(1)))
            return None
        for p, d in zip(eq.phrases, eq.display_phrases):
            needs.setdefault(p, []).append(where)
            display.setdefault(p, d)
        return eq

    if model is not None:
        seen: dict[str, int] = {}
        for i, s in enumerate(model.subsegments):
            if s.id.startswith("?"):  # a salvage stand-in: its id is unknown (already reported)
                subs_complete = False
                continue
            if s.id in seen:
                problems.append(Problem(plabel, f"subsegments[{i}].id", f"subsegment id {s.id!r} is used twice (first at subsegments[{seen[s.id]}])"))
            elif s.id.lower() == ALL:
                problems.append(Problem(plabel, f"subsegments[{i}].id", f"{s.id!r} is reserved for whole-segment rows; choose another id"))
            seen.setdefault(s.id, i)
            subsegments.append(Subsegment(s.id, s.description, s.next_best_alternative))
        sub_ids = list(seen)

        cseen: dict[str, int] = {}
        for i, c in enumerate(model.constants):
            n = normalize_phrase(c.name)
            if n in cseen:
                problems.append(Problem(plabel, f"constants[{i}].name", f"constant {c.name!r} is defined twice (first at constants[{cseen[n]}])"))
                continue
            cseen[n] = i
            kind = c.kind or (c.source.strip().lower() if c.source.strip().lower() in SOURCES else ("data" if c.source else "assumption"))
            constants.append(Constant(c.name, float(c.value), c.source, kind, c.note))
            display.setdefault(n, c.name)

        for i, d in enumerate(model.derived):
            n = normalize_phrase(d.name)
            where = f"derived[{i}].equation (name={d.name})"
            if n in derived_eqs:
                problems.append(Problem(plabel, f"derived[{i}].name", f"derived quantity {d.name!r} is defined twice"))
                continue
            if n in cseen:
                problems.append(Problem(plabel, f"derived[{i}].name", f"{d.name!r} is both derived and a constant; a name must be one or the other"))
            eq = _parse(d.equation, where)
            if eq is not None:
                derived_eqs[n] = (d.name, eq)
                display.setdefault(n, d.name)

        if model.price is not None:
            ptext = model.price if isinstance(model.price, str) else model.price.equation
            price = _parse(ptext, "price.equation")

        eseen: dict[str, int] = {}
        for i, e in enumerate(model.elements):
            where = f"elements[{i}]" + f" (id={e.id})"
            if e.id in eseen:
                problems.append(Problem(plabel, f"elements[{i}].id", f"element id {e.id!r} is used twice (first at elements[{eseen[e.id]}])"))
                continue
            eseen[e.id] = i
            if e.id.lower() in ("differential_value", "net_value", "contention_value", "price_difference"):
                problems.append(Problem(plabel, f"elements[{i}].id", f"{e.id!r} is reserved for totals; choose another id"))
            eq = None
            if e.equation:
                eq = _parse(e.equation, f"elements[{i}].equation (id={e.id})")
            elif e.status in ("difference", "contention") or any(
                v in ("difference", "contention") for v in e.status_by_subsegment.values()
            ):
                problems.append(Problem(plabel, f"elements[{i}].equation (id={e.id})",
                                        f"a {e.status} element needs a value word equation (only parity and placeholder elements may omit it)"))
            for sid in e.status_by_subsegment:
                if subs_complete and sid not in seen:
                    problems.append(Problem(plabel, f"elements[{i}].status_by_subsegment.{sid} (id={e.id})",
                                            f"unknown subsegment {sid!r}; expected one of {', '.join(seen)}"))
            rng = e.perceived_range
            if rng is not None and rng[0] > rng[1]:
                problems.append(Problem(plabel, f"elements[{i}].perceived_range (id={e.id})", f"low {rng[0]} is above high {rng[1]}"))
            assumptions = (e.assumptions,) if isinstance(e.assumptions, str) else tuple(e.assumptions)
            elements.append(Element(e.id, e.name or e.id, e.category, e.status, eq, tuple(a for a in assumptions if a),
                                    dict(e.status_by_subsegment), rng, e.unit, e.parity_margin))
            del where

        if model.charter is not None:
            c = model.charter
            team = (c.team,) if isinstance(c.team, str) else tuple(c.team)
            charter = Charter(c.business_issue, c.success, c.sponsor, team, c.start, c.end)
            if not c.success:
                problems.append(Problem(plabel, "charter.success", "a charter needs a success statement (what result, by when)"))
            if c.start and c.end and c.end < c.start:
                problems.append(Problem(plabel, "charter.end", f"end {c.end} is before start {c.start}"))

    # ---- ids and names: no control characters ---------------------------------
    if model is not None:
        def _ctl(value: Any, where: str, what: str, *, spaces_ok: bool = False) -> None:
            text = re.sub(r"[\t\n\r]", " ", value) if spaces_ok and isinstance(value, str) else value
            if _control(text):
                problems.append(Problem(plabel, where, _control_problem(value, what)))

        for i, s in enumerate(model.subsegments):
            _ctl(s.id, f"subsegments[{i}].id", "a subsegment id")
        for i, c in enumerate(model.constants):
            _ctl(c.name, f"constants[{i}].name", "a constant's name")
        for i, d in enumerate(model.derived):
            _ctl(d.name, f"derived[{i}].name", "a derived quantity's name")
            _ctl(d.equation, f"derived[{i}].equation", "a word equation", spaces_ok=True)
        if model.price is not None:
            _ctl(model.price if isinstance(model.price, str) else model.price.equation, "price.equation",
                 "a word equation", spaces_ok=True)
        for i, e in enumerate(model.elements):
            _ctl(e.id, f"elements[{i}].id", "an element id")
            _ctl(e.name, f"elements[{i}].name", "an element name")
            if e.equation:
                _ctl(e.equation, f"elements[{i}].equation", "a word equation", spaces_ok=True)
            for sid in e.status_by_subsegment:
                _ctl(sid, f"elements[{i}].status_by_subsegment", "a subsegment id")

    # ---- derived: cycles and evaluation order -------------------------------
    order = _derived_order(derived_eqs, plabel, problems)

    # ---- customers.csv ------------------------------------------------------
    customers = raw.tables.get(CUSTOMERS_FILE)
    clabel = raw.labels.get(CUSTOMERS_FILE, CUSTOMERS_FILE)
    cust_ids: set[str] = set()
    cust_frame: pd.DataFrame | None = None
    duplicates: list[tuple[str, int, int]] = []  # (customer id, line, first line)
    # customer ids used by other tables but absent from customers.csv: id -> [(file label, lines)]
    unknown_refs: dict[str, list[tuple[str, list[int]]]] = {}
    if customers is not None and _required_columns(customers, clabel, ("customer_id", "subsegment"), problems):
        for col in customers.columns:
            if col != "line" and _control(col):
                problems.append(Problem(clabel, "header", _control_problem(col, "a column name")))
        _check_control_column(customers, "customer_id", clabel, "a customer id", problems)
        first: dict[str, int] = {}
        for cid, sub, line in zip(customers["customer_id"], customers["subsegment"], customers["line"]):
            if not cid:
                problems.append(Problem(clabel, f"line {line}, column customer_id", "empty customer_id"))
                continue
            if cid in first:
                duplicates.append((cid, line, first[cid]))
            first.setdefault(cid, line)
            if model is not None and subs_complete and sub not in sub_ids:
                problems.append(Problem(clabel, f"line {line}, column subsegment", f"unknown subsegment {_text_of(sub)!r} for customer {_text_of(cid)!r}; expected one of {', '.join(sub_ids)}"))
        cust_ids = set(first)
        if not len(customers):
            problems.append(Problem(clabel, "", "no customers: expected one row per participating customer"))
        cust_frame = _typed_characteristics(customers, clabel, problems)

    # ---- measurements.csv ---------------------------------------------------
    meas = raw.tables.get(MEASUREMENTS_FILE)
    mlabel = raw.labels.get(MEASUREMENTS_FILE, MEASUREMENTS_FILE)
    meas_frame: pd.DataFrame | None = None
    if meas is not None and _required_columns(meas, mlabel, ("customer_id", "variable", "value", "source"), problems):
        meas = meas.copy()
        for col in ("reliability", "note"):
            if col not in meas.columns:
                meas[col] = ""
        if not pd.api.types.is_numeric_dtype(meas["value"]):
            meas["value"] = map_unique(meas["value"], lambda t: "" if t is None or t is pd.NA else str(t).strip())
            values = pd.to_numeric(map_unique(meas["value"], lambda t: str(t).replace("\u2212", "-")), errors="coerce")
        else:
            values = meas["value"].astype(float)
        bad = ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
        for line, text, var, x in zip(meas.loc[bad, "line"], meas.loc[bad, "value"], meas.loc[bad, "variable"], values[bad]):
            text = str(text)
            if not text:
                what = "empty value"
            elif np.isinf(x):  # '1e999' or 'inf': the float column no longer holds the text
                what = "not a finite number (too large, or inf)"
            else:
                what = f"{text[:60]!r} is not a number{_number_hint(text)}"
            problems.append(Problem(mlabel, f"line {line}, column value ([{var[:80]}])", f"{what}; expected a plain number"))
        src = map_unique(meas["source"], str.lower)
        for line, text in zip(meas.loc[~src.isin(SOURCES), "line"], meas.loc[~src.isin(SOURCES), "source"]):
            problems.append(Problem(mlabel, f"line {line}, column source", f"{text[:60]!r} is not a source word; expected one of {', '.join(SOURCES)}"))
        rel = map_unique(meas["reliability"], str.lower)
        badrel = ~(rel.isin(RELIABILITIES) | (rel == ""))
        for line, text in zip(meas.loc[badrel, "line"], meas.loc[badrel, "reliability"]):
            problems.append(Problem(mlabel, f"line {line}, column reliability", f"{text[:60]!r}; expected one of {', '.join(RELIABILITIES)} or empty"))
        _check_control_column(meas, "customer_id", mlabel, "a customer id", problems)
        _check_control_column(meas, "variable", mlabel, "a variable (a phrase of the word equations)", problems)
        if customers is not None and cust_ids:
            _collect_unknown(meas, cust_ids, mlabel, unknown_refs)
        empty_var = meas["variable"] == ""
        for line in meas.loc[empty_var, "line"]:
            problems.append(Problem(mlabel, f"line {line}, column variable", "empty variable; expected a phrase used by an equation"))
        meas_frame = pd.DataFrame({
            "customer_id": meas["customer_id"],
            "variable": meas["variable"],
            "phrase": _normalize_column(meas["variable"]),
            "value": values.astype(float),
            "source": src,
            "reliability": rel,
            "note": meas["note"],
            "line": meas["line"].astype(int),
        })

    # ---- phrases: every needed phrase resolves; names are not doubly defined --
    measured: set[str] = set(meas_frame["phrase"].unique()) if meas_frame is not None else set()
    measured_as: dict[str, str] = {}
    if meas_frame is not None:
        firsts = meas_frame.drop_duplicates("phrase")
        measured_as = dict(zip(firsts["phrase"], firsts["variable"]))
    const_names = {normalize_phrase(c.name) for c in constants}
    for n, (dname, _) in derived_eqs.items():
        if n in measured:
            problems.append(Problem(plabel, f"derived (name={dname})", f"[{dname}] is both derived and measured in {mlabel}; a name must be one or the other"))
    if model is not None and meas_frame is not None:
        known = measured | const_names | set(derived_eqs)
        for p, wheres in needs.items():
            if p not in known:
                cands = {x: measured_as[x] if x in measured_as else display.get(x, x) for x in known}
                problems.append(Problem(plabel, wheres[0], f"phrase [{display.get(p, p)}] is not measured by any customer, "
                                        f"not a constant and not derived{_closest(display.get(p, p), cands)}"))
        needed_as = {x: display.get(x, x) for x in needs}
        for p in sorted(measured - set(needs) - loose):
            row = meas_frame.loc[meas_frame["phrase"] == p].iloc[0]
            problems.append(Problem(mlabel, f"line {row['line']}, column variable",
                                    f"[{row['variable']}] is measured but no equation uses it{_closest(p, needed_as)}", "warning"))

    # ---- optional tables ----------------------------------------------------
    prospects = _optional_prospects(raw, cust_frame, sub_ids if subs_complete else [], problems)
    fieldwork = _optional_fieldwork(raw, cust_ids, problems, unknown_refs, sub_ids if subs_complete else [])
    realized = _optional_realized(raw, cust_ids, {e.id for e in elements}, problems, unknown_refs)
    problems.extend(_customer_id_problems(clabel, duplicates, unknown_refs, sorted(cust_ids)))

    if raw.project_lines:
        problems = [_sheet_location(p, raw) for p in problems]
    errors = [p for p in problems if p.severity == "error"]
    if errors or model is None or cust_frame is None or meas_frame is None:
        return ValidationReport(path, problems)

    study = Study(
        path=path,
        name=model.name,
        offering=model.offering,
        segment=model.segment,
        next_best_alternative=model.next_best_alternative,
        currency=model.currency,
        period=model.period,
        subsegments=tuple(subsegments),
        constants=tuple(constants),
        derived=tuple(Derived(derived_eqs[n][0], derived_eqs[n][1]) for n in order),
        price=price,
        elements=tuple(elements),
        customers=cust_frame,
        measurements=meas_frame.reset_index(drop=True),
        charter=charter,
        prospects=prospects,
        fieldwork=fieldwork,
        realized=realized,
        content_hash=content_hash(raw.files),
        parity_margin=model.parity_margin,
        options=model.options.model_dump(exclude_none=True) if model.options is not None else {},
        business_case=model.business_case.model_dump(exclude_none=True) if model.business_case is not None else {},
    )
    # coverage warnings need the study (which customer lacks which phrase)
    from .values import missing_inputs

    for row in missing_inputs(study).itertuples(index=False):
        problems.append(Problem(mlabel, f"customer {row.customer_id}",
                                f"no value yet for [{row.phrase}] (needed by {row.needed_by}); element left empty until measured",
                                "warning"))
    study = _replace_warnings(study, [p for p in problems if p.severity == "warning"])
    return ValidationReport(path, problems, study)


def _derived_order(derived_eqs: dict[str, tuple[str, Equation]], label: str, problems: list[Problem]) -> list[str]:
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
                problems.append(Problem(label, "derived", "derived quantities refer to each other in a cycle: "
                                        + " -> ".join("..." if x == "..." else f"[{derived_eqs[x][0]}]" for x in shown)))
                continue
            state[nxt] = 1
            path.append(nxt)
            todo.append(iter([p for p in derived_eqs[nxt][1].phrases if p in derived_eqs]))
    return order


def _normalize_column(col: pd.Series) -> pd.Series:
    """normalize_phrase over a column, once per distinct text (600k rows, ~100 phrases)."""
    uniq = {u: normalize_phrase(u) for u in col.unique()}
    return col.map(uniq)


_SECTION_PATH = re.compile(r"^(subsegments|constants|derived|elements)\[(\d+)\]\.?([A-Za-z_]*)(.*)$")


def _sheet_location(p: Problem, raw: RawStudy) -> Problem:
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


def _replace_warnings(study: Study, warnings: list[Problem]) -> Study:
    from dataclasses import replace

    return replace(study, warnings=tuple(warnings))


def _collect_unknown(df: pd.DataFrame, cust_ids: set[str], label: str,
                     unknown_refs: dict[str, list[tuple[str, list[int]]]]) -> None:
    """Record the rows of ``df`` whose customer_id is not in customers.csv, grouped by id."""
    unknown = ~df["customer_id"].isin(cust_ids) & (df["customer_id"] != "")
    if not unknown.any():
        return
    for cid, lines in df.loc[unknown].groupby("customer_id", sort=False)["line"]:
        unknown_refs.setdefault(cid, []).append((label, [int(x) for x in lines]))


def _lines_text(lines: list[int]) -> str:
    if len(lines) == 1:
        return f"line {lines[0]}"
    shown = ", ".join(str(x) for x in lines[:5]) + (", ..." if len(lines) > 5 else "")
    return f"{len(lines)} rows, lines {shown}"


def _customer_id_problems(clabel: str, duplicates: list[tuple[str, int, int]],
                          unknown_refs: dict[str, list[tuple[str, list[int]]]], known: list[str]) -> list[Problem]:
    """Duplicate customers and unknown customer ids, each reported once.

    A duplicated row in customers.csv is often another customer's row with a
    mistyped id: that customer's rows elsewhere then all look unknown. Those
    follow from the duplicate, so they are named in its message rather than
    reported row by row.
    """
    out = []
    if duplicates:
        orphans = ""
        if unknown_refs:
            names = list(unknown_refs)
            uses = "; ".join(f"{_text_of(cid)!r} in " + ", ".join(f"{lab} ({len(ls)} row{'s' if len(ls) > 1 else ''})"
                                                             for lab, ls in refs)
                             for cid, refs in list(unknown_refs.items())[:5])
            more = f" and {len(names) - 5} more" if len(names) > 5 else ""
            orphans = (f"; meanwhile {uses}{more} ha{'s' if len(names) == 1 else 've'} no row in {CUSTOMERS_FILE}: "
                       f"was this row meant to be {' or '.join(repr(_text_of(n)) for n in names[:3])}?")
        for cid, line, first in duplicates:
            out.append(Problem(clabel, f"line {line}, column customer_id",
                               f"duplicate customer {_text_of(cid)!r} (first on line {first}){orphans}"))
        return out
    for cid, refs in unknown_refs.items():
        for label, lines in refs:
            hint = difflib.get_close_matches(cid, known, n=1, cutoff=0.6)
            tip = " (an invitee who declined may stay out of it: log its declined step)" if "fieldwork" in label else ""
            out.append(Problem(label, f"line {lines[0]}, column customer_id",
                               f"unknown customer {_text_of(cid)!r} ({_lines_text(lines)}); expected a customer_id of "
                               f"{CUSTOMERS_FILE}{tip}" + (f"; did you mean {hint[0]!r}?" if hint else "")))
    return out


#: Cells read as a missing number in a numeric characteristic column (case-insensitive).
MISSING_MARKERS = ("", "n/a", "na", "n.a.", "#n/a", "nan", "null", "none", "-", "?", "missing")


def _plain_number(text: str) -> str:
    """'6,130' -> '6130', '6.130,5' -> '6130.5', "6'130" -> '6130': the number without grouping."""
    t = text.strip()
    if re.match(r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$", t):
        return t.replace(".", "").replace(",", ".")
    return re.sub(r"[, '\u00a0\u202f]", "", t)


def _typed_characteristics(df: pd.DataFrame, label: str, problems: list[Problem],
                           numeric_columns: frozenset[str] = frozenset()) -> pd.DataFrame:
    """Characteristic columns typed: numeric ones as floats (NaN where missing), the rest as text.

    A column is numeric when at least half of its non-missing cells are
    numbers (thousands-separated ones included), or when it is numeric in
    customers.csv (``numeric_columns``, for prospects.csv). In a numeric
    column, text that is not a plain number is an error naming the line, the
    column and the text; a missing marker (empty, ``n/a``, ``NA`` ...) is a
    missing value, with one warning per column. Elsewhere only empty cells
    are missing (``NA`` may be a region, ``none`` a category).
    """
    out = df.drop(columns=["line"]).copy()
    lines = df["line"].to_numpy()
    for c in out.columns:
        if c in ("customer_id", "subsegment", "prospect_id"):
            continue
        vals = out[c].astype(str)
        missing = map_unique(vals, lambda t: t.strip().lower() in MISSING_MARKERS).astype(bool).to_numpy()
        nums = map_unique(vals, lambda t: _to_number(t))
        is_num = nums.notna().to_numpy() & ~missing
        grouped = map_unique(vals, lambda t: bool(_THOUSANDS.match(t.strip()))).astype(bool).to_numpy() & ~is_num & ~missing
        n_present = int((~missing).sum())
        numeric = c in numeric_columns or (is_num.any() and 2 * int((is_num | grouped).sum()) >= n_present)
        if not numeric:
            _check_control_column(df, c, label, "a characteristic's category", problems)
            out[c] = vals.replace("", pd.NA)
            continue
        bad = np.flatnonzero(~is_num & ~missing)
        for k, i in enumerate(bad[:10]):
            text = vals.iloc[i]
            if grouped[i]:
                what = (f"{_text_of(text)!r} has a thousands separator; write the number without it "
                        f"({_plain_number(text)})")
            else:
                what = (f"{_text_of(text)!r} is not a number{_number_hint(text)}; column {c} is numeric "
                        f"({int(is_num.sum())} of {n_present} filled cells are numbers): write a plain number "
                        "(a unit belongs in the column name), or leave the cell empty or n/a when unknown")
            problems.append(Problem(label, f"line {lines[i]}, column {c}", what))
        if len(bad) > 10:
            problems.append(Problem(label, f"column {c}", f"{len(bad) - 10} more cells that are not numbers "
                                    f"(lines {', '.join(str(x) for x in lines[bad[10:15]])} ...)"))
        miss = np.flatnonzero(missing)
        if len(miss):
            shown = ", ".join(f"line {lines[i]} ({vals.iloc[i].strip()!r})" for i in miss[:5])
            problems.append(Problem(label, f"column {c}",
                                    f"{len(miss)} missing value(s) in a numeric column: {shown}"
                                    f"{' ...' if len(miss) > 5 else ''}; those rows are left out of analyses of {c}",
                                    "warning"))
        out[c] = np.where(is_num, nums.to_numpy(dtype=object), np.nan).astype(float)
    return out


def _optional_prospects(raw: RawStudy, customers: pd.DataFrame | None, sub_ids: list[str], problems: list[Problem]) -> pd.DataFrame | None:
    df = raw.tables.get("prospects.csv")
    if df is None:
        return None
    label = raw.labels.get("prospects.csv", "prospects.csv")
    id_col = "prospect_id" if "prospect_id" in df.columns else "customer_id"
    if not _required_columns(df, label, (id_col,), problems):
        return None
    for col in df.columns:
        if col != "line" and _control(col):
            problems.append(Problem(label, "header", _control_problem(col, "a column name")))
    _check_control_column(df, id_col, label, "a prospect id", problems)
    seen: dict[str, int] = {}
    for pid, line in zip(df[id_col], df["line"]):
        if pid in seen:
            problems.append(Problem(label, f"line {line}, column {id_col}", f"duplicate prospect {_text_of(pid)!r} (first on line {seen[pid]})"))
        seen.setdefault(pid, line)
    if "subsegment" in df.columns and sub_ids:
        for sub, line in zip(df["subsegment"], df["line"]):
            if sub and sub not in sub_ids:
                problems.append(Problem(label, f"line {line}, column subsegment", f"unknown subsegment {_text_of(sub)!r}; expected one of {', '.join(sub_ids)}"))
    # a characteristic numeric among the studied customers is numeric for prospects too
    numeric = frozenset() if customers is None else frozenset(
        c for c in customers.columns if c not in ("customer_id", "subsegment") and pd.api.types.is_float_dtype(customers[c]))
    return _typed_characteristics(df.rename(columns={id_col: "prospect_id"}), label, problems, numeric)


def _parse_date(text: str) -> _dt.date | None:
    try:
        return _dt.datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        return None


def _optional_fieldwork(raw: RawStudy, cust_ids: set[str], problems: list[Problem],
                        unknown_refs: dict[str, list[tuple[str, list[int]]]] | None = None,
                        sub_ids: list[str] | None = None) -> pd.DataFrame | None:
    """The research log, checked. A contact not in customers.csv may be an invitee who declined.

    Such a contact is accepted (with a warning naming it) when its log shows
    it declined and never had a visit or sent data: it never joined, so it
    has no row in customers.csv. Any other contact missing from
    customers.csv is an unknown customer (an error). An optional
    ``subsegment`` column places declined invitees in the funnel of their
    subsegment.
    """
    df = raw.tables.get("fieldwork.csv")
    if df is None:
        return None
    label = raw.labels.get("fieldwork.csv", "fieldwork.csv")
    if not _required_columns(df, label, ("customer_id", "date", "step", "status"), problems):
        return None
    df = df.copy()
    for col in ("with", "note"):
        if col not in df.columns:
            df[col] = ""
    _check_control_column(df, "customer_id", label, "a customer id", problems)
    dates = []
    for row in df.itertuples(index=False):
        d = getattr(row, "date")
        line = getattr(row, "line")
        if row.step.lower() not in FIELDWORK_STEPS:
            problems.append(Problem(label, f"line {line}, column step", f"{_text_of(row.step)!r}; expected one of {', '.join(FIELDWORK_STEPS)}"))
        if row.status.lower() not in FIELDWORK_STATUSES:
            problems.append(Problem(label, f"line {line}, column status", f"{_text_of(row.status)!r}; expected one of {', '.join(FIELDWORK_STATUSES)}"))
        parsed = _parse_date(d) if d else None
        if parsed is None and not (d == "" and row.status.lower() == "planned"):  # planned, not yet dated: fine
            problems.append(Problem(label, f"line {line}, column date", f"{_text_of(d)!r} is not a date; expected YYYY-MM-DD"))
        dates.append(parsed)
    if "subsegment" in df.columns and sub_ids:
        for sub, line in zip(df["subsegment"], df["line"]):
            if sub and sub not in sub_ids:
                problems.append(Problem(label, f"line {line}, column subsegment",
                                        f"unknown subsegment {_text_of(sub)!r}; expected one of {', '.join(sub_ids)} or empty"))
    df["date"] = pd.to_datetime(pd.Series(dates, dtype=object), errors="coerce").values
    df["step"] = df["step"].str.lower()
    df["status"] = df["status"].str.lower()
    if cust_ids:
        outside = df[~df["customer_id"].isin(cust_ids) & (df["customer_id"] != "")]
        took_part = []
        for cid, rows in outside.groupby("customer_id", sort=False):
            if _never_joined(rows):
                problems.append(Problem(label, f"line {int(rows['line'].iloc[0])}, column customer_id",
                                        f"{_text_of(cid)!r} is not in {CUSTOMERS_FILE}: counted as an invitee who "
                                        "declined (the fieldwork funnel shows it as invited and declined)", "warning"))
            else:
                took_part.append(cid)
        if took_part and unknown_refs is not None:
            _collect_unknown(outside[outside["customer_id"].isin(took_part)], cust_ids, label, unknown_refs)
    return df


def _never_joined(rows: pd.DataFrame) -> bool:
    """Whether a contact's log rows show a declined invitation: a decline, and no visit or data done."""
    if not (rows["status"] == "declined").any():
        return False
    return not ((rows["status"] == "done") & rows["step"].isin(("data_visit", "data_received", "review"))).any()


def _optional_realized(raw: RawStudy, cust_ids: set[str], element_ids: set[str], problems: list[Problem],
                       unknown_refs: dict[str, list[tuple[str, list[int]]]] | None = None) -> pd.DataFrame | None:
    df = raw.tables.get("realized.csv")
    if df is None:
        return None
    label = raw.labels.get("realized.csv", "realized.csv")
    if not _required_columns(df, label, ("customer_id", "element_id", "promised", "realized"), problems):
        return None
    df = df.copy()
    for col in ("period_start", "period_end", "source", "note"):
        if col not in df.columns:
            df[col] = ""
    _check_control_column(df, "customer_id", label, "a customer id", problems)
    if cust_ids and unknown_refs is not None:  # reported with the other unknown ids, once per id
        _collect_unknown(df, cust_ids, label, unknown_refs)
    for row in df.itertuples(index=False):
        line = row.line
        if element_ids and row.element_id not in element_ids:
            problems.append(Problem(label, f"line {line}, column element_id", f"unknown element {_text_of(row.element_id)!r}; expected one of {', '.join(sorted(element_ids))}"))
        for col in ("promised", "realized"):
            text = getattr(row, col)
            if text != "" and _to_number(text) is None:
                problems.append(Problem(label, f"line {line}, column {col}", f"{text[:60]!r} is not a number{_number_hint(text)}"))
        for col in ("period_start", "period_end"):
            text = getattr(row, col)
            if text and _parse_date(text) is None:
                problems.append(Problem(label, f"line {line}, column {col}", f"{text!r} is not a date; expected YYYY-MM-DD"))
        src = row.source.lower()
        if src and src not in SOURCES:
            problems.append(Problem(label, f"line {line}, column source", f"{row.source!r}; expected one of {', '.join(SOURCES)}"))
    for col in ("promised", "realized"):
        df[col] = df[col].map(lambda t: _to_number(t) if t != "" else float("nan")).astype(float)
    df["source"] = df["source"].str.lower()
    return df
