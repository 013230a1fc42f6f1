"""Notebook parameters read into study objects: the study, the customer, the subsegment, the market.

Every notebook's parameters cell holds plain strings (papermill sets them);
these turn them into what the analysis takes, with a clear error naming the
parameter when they do not fit the study.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..errors import CvmError
from ..study import Study
from .display import display_table
from .tables import pick_customer, validation_table

__all__ = ["open_study", "study_path", "validated_study", "pick_customer", "pick_subsegment", "mapping_parameter",
           "market_customers"]


def open_study(study: str | Path | None = "") -> Study:
    """Load the study a notebook parameter names (empty: the bundled example).

    Parameters
    ----------
    study : str or Path
        A study folder or ``.xlsx`` workbook; ``""`` or None for the bundled
        example study.

    Returns
    -------
    Study

    Raises
    ------
    StudyError
        Listing every problem in the study.

    Examples
    --------
    >>> from cvm_kit import report
    >>> report.open_study("").label
    'pipe_coating'
    """
    from ..study import load_study

    return load_study(study_path(study))


def study_path(study: str | Path | None = "") -> Path:
    """The path a notebook's ``study`` parameter names (empty: the bundled example).

    Examples
    --------
    >>> from cvm_kit import report
    >>> report.study_path("").name
    'pipe_coating'
    """
    from .. import example_path

    if study is None or str(study).strip() == "":
        return example_path()
    return Path(str(study)).expanduser()


def validated_study(study: str | Path | None = "") -> tuple[Study, Any]:
    """Validate and load a study; on errors show every problem, then raise.

    Returns
    -------
    (Study, ValidationReport)
        The loaded study and the full report (warnings included).

    Raises
    ------
    StudyError
        After displaying the table of problems, so the executed notebook
        keeps them above the error.
    """
    from ..errors import StudyError
    from ..validate import validate

    path = study_path(study)
    check = validate(path)
    if check.study is None or check.errors:
        display_table(validation_table(check), caption=f"Problems in {path}")
        raise StudyError(check.errors, str(path))
    return check.study, check


def pick_subsegment(study: Study, subsegment: str | None = "") -> str:
    """The subsegment a report is about (empty: the study's first subsegment).

    Raises
    ------
    CvmError
        Not a subsegment id of project.yaml (the message lists them).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit import report
    >>> study = cvm.load_study(cvm.example_path())
    >>> report.pick_subsegment(study, "") == study.subsegment_ids[0]
    True
    """
    if not study.subsegment_ids:
        raise CvmError(f"{study.path / 'project.yaml'} defines no subsegment")
    if subsegment is None or str(subsegment).strip() == "":
        return study.subsegment_ids[0]
    sub = str(subsegment).strip()
    if sub not in study.subsegment_ids:
        raise CvmError(f"subsegment {sub!r} is not in {study.path / 'project.yaml'}; "
                       f"expected one of {', '.join(study.subsegment_ids)}")
    return sub


def mapping_parameter(spec: str | Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    """A notebook parameter holding name -> number pairs, given as a mapping or as text.

    Text is a JSON object (``{"Sales training": 50000}``) or the same without
    quotes and braces (``Sales training: 50000, Pilot: 20000``); it is
    parsed, never evaluated.

    Parameters
    ----------
    spec : str, mapping or None
        Empty or None: an empty mapping.
    name : str
        The parameter's name, for error messages.

    Returns
    -------
    dict
        Keys as text, values as given (checked by the function they go to).

    Raises
    ------
    CvmError
        The text is neither form, or is not a mapping.

    Examples
    --------
    >>> from cvm_kit import report
    >>> report.mapping_parameter('{"big": 400}', "market_customers")
    {'big': 400}
    >>> report.mapping_parameter("Sales training: 50000, Pilot: 2e4", "change_costs")
    {'Sales training': 50000, 'Pilot': 20000.0}
    """
    import json

    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        return {str(k): v for k, v in spec.items()}
    text = str(spec).strip()
    if not text:
        return {}
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
        body = text[1:-1] if text.startswith("{") and text.endswith("}") else text
        out: dict[str, Any] = {}
        for part in body.split(","):
            if not part.strip():
                continue
            key, sep, value = part.rpartition(":")
            key = key.strip().strip("\"'")
            if not sep or not key:
                raise CvmError(f"{name}: cannot read {text!r}; expected name: number pairs separated by commas, "
                               'e.g. {"Sales training": 50000} or Sales training: 50000') from None
            try:
                num = float(value)
            except ValueError:
                raise CvmError(f"{name}: {key!r} has {value.strip()!r}, which is not a number") from None
            out[key] = int(num) if num.is_integer() and "." not in value and "e" not in value.lower() else num
        return out
    if not isinstance(parsed, Mapping):
        raise CvmError(f"{name}: expected name: number pairs, e.g. {{\"big\": 400}}; got {text!r}")
    return {str(k): v for k, v in parsed.items()}


def market_customers(study: Study, spec: str | Mapping[str, Any] | None = "") -> dict[str, Any]:
    """Customers in the market per subsegment, for :func:`cvm_kit.business_case.business_case`.

    Parameters
    ----------
    study : Study
    spec : str or mapping
        Subsegment id -> count (see :func:`mapping_parameter`); empty: the
        studied customers of each subsegment (customers.csv), i.e. the case
        counts only the customers the study knows.

    Returns
    -------
    dict
        Subsegment id -> count, in the given order (project.yaml order by default).

    Raises
    ------
    CvmError
        A subsegment id that is not in the study (the message lists them).

    Examples
    --------
    >>> import cvm_kit as cvm
    >>> from cvm_kit import report
    >>> study = cvm.load_study(cvm.example_path())
    >>> sum(report.market_customers(study).values()) == len(study.customers)
    True
    """
    given = mapping_parameter(spec, "market_customers")
    if not given:
        counts = study.customers["subsegment"].astype(str).value_counts()
        return {sub: int(counts.get(sub, 0)) for sub in study.subsegment_ids}
    unknown = [k for k in given if k not in study.subsegment_ids]
    if unknown:
        raise CvmError(f"market_customers: subsegment {unknown[0]!r} is not in {study.path / 'project.yaml'}; "
                       f"expected ids among {', '.join(study.subsegment_ids)}")
    return given
