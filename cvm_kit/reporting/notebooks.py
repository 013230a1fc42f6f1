"""The notebook templates: where they are, how they are read, which parameters they declare.

Templates are jupytext percent-format ``.py`` sources (or ``.ipynb``) in the
package's bundled ``notebooks/`` folder (a wheel) or the checkout's
``notebooks/`` (an editable install).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import CvmError

__all__ = ["SERIES", "CUSTOMER_NOTEBOOK", "TEMPLATE_SUFFIXES", "notebooks_dir", "template_path", "load_template",
           "notebook_parameters", "declared_parameters", "typed_parameters"]

#: The study notebooks of ``cvm report``, in reading order.
SERIES = ("01_data_gathering", "02_estimates", "03_subsegment_variance", "04_sensitivity",
          "05_drivers_and_prospects", "07_value_documenter", "08_business_case")
#: The per-customer notebook of ``cvm batch``.
CUSTOMER_NOTEBOOK = "06_customer_report"
TEMPLATE_SUFFIXES = (".py", ".ipynb")


def notebooks_dir() -> Path:
    """The folder holding the notebook templates (jupytext percent-format ``.py`` sources).

    An installed wheel's copies (``cvm_kit/_bundled/notebooks``, read with
    :mod:`importlib.resources`), else the checkout's ``notebooks/`` (editable
    installs). The dashboard is in its ``dashboards/`` subfolder.

    Examples
    --------
    >>> from cvm_kit.runs import notebooks_dir
    >>> (notebooks_dir() / "06_customer_report.py").exists()
    True
    """
    from .._resources import candidates

    looked = candidates("notebooks", "notebooks")
    for base in looked:
        if (base / f"{CUSTOMER_NOTEBOOK}.py").exists():
            return base
    raise CvmError("the notebook templates were not found beside the package (looked in "
                   f"{' and '.join(str(b) for b in looked)}); reinstall cvm_kit")


def template_path(name: str | Path) -> Path:
    """A template by stem (``"02_estimates"``) or path (``.py`` jupytext source or ``.ipynb``); a clear error if absent."""
    p = Path(name)
    if p.suffix not in TEMPLATE_SUFFIXES:
        p = notebooks_dir() / f"{name}.py"
    if not p.exists():
        raise CvmError(f"notebook template {p} does not exist")
    return p


def load_template(path: str | Path) -> Any:
    """A template as an nbformat notebook: ``.py`` read with jupytext (percent format), ``.ipynb`` with nbformat.

    Stored outputs of an ``.ipynb`` template are dropped: a run starts clean.

    Examples
    --------
    >>> from cvm_kit.runs import load_template, template_path
    >>> nb = load_template(template_path("06_customer_report"))
    >>> nb.cells[0].metadata["tags"]
    ['parameters']
    """
    import nbformat

    p = Path(path)
    try:
        if p.suffix == ".ipynb":
            nb = nbformat.read(str(p), as_version=4)
        else:
            import jupytext

            nb = jupytext.read(str(p), fmt="py:percent")
    except Exception as exc:  # noqa: BLE001 - any unreadable template is the user's file
        raise CvmError(f"{p}: not a readable notebook template ({type(exc).__name__}: {exc})") from exc
    for i, cell in enumerate(nb.cells):
        cell.setdefault("id", f"cell-{i:02d}")
        if cell.get("cell_type") == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("jupytext", None)
    nb.metadata.setdefault("kernelspec", {"display_name": "Python 3 (ipykernel)", "language": "python",
                                          "name": "python3"})
    nb.metadata.setdefault("language_info", {"name": "python"})
    return nb


def notebook_parameters(name: str | Path) -> dict[str, dict[str, str]]:
    """The parameters a template declares: name -> ``{"type", "default", "help"}``.

    Examples
    --------
    >>> from cvm_kit.runs import notebook_parameters
    >>> sorted(notebook_parameters("06_customer_report"))
    ['customer_id', 'interactive', 'internal', 'study', 'today']
    """
    return declared_parameters(load_template(template_path(name)))


def declared_parameters(nb: Any) -> dict[str, dict[str, str]]:
    """The parameters a read notebook declares in its ``parameters`` cell (papermill's reading of it).

    Returns
    -------
    dict
        name -> ``{"type", "default", "help"}``; empty without a parameters cell.
    """
    from papermill.translators import PythonTranslator

    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return {p.name: {"type": p.inferred_type_name, "default": p.default, "help": p.help}
                    for p in PythonTranslator.inspect(cell)}
    return {}




_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


def _guess(text: str) -> Any:
    """Text for a parameter of no declared type: a number or true/false when it reads as one, else the text."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _as_declared(name: str, text: str, kind: str) -> Any:
    t = text.strip()
    try:
        if kind == "int":
            number = float(t)
            if number.is_integer():
                return int(number)
        elif kind == "float":
            number = float(t)
            if math.isfinite(number):
                return number
        elif t.lower() in _TRUE + _FALSE:  # bool
            return t.lower() in _TRUE
    except ValueError:
        pass
    expected = {"int": "a whole number", "float": "a number", "bool": "true or false"}[kind]
    raise CvmError(f"parameter {name!r} is {expected} (the notebooks declare {name}: {kind}); got {text!r}")


def typed_parameters(params: Mapping[str, Any], declared: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Parameter values as the notebooks declare them.

    Text given for an ``int``, ``float`` or ``bool`` parameter (``-p draws
    20000`` on the command line) becomes that type, or a clear error before
    any notebook runs; text for a ``str`` parameter stays exactly as given
    (``-p target_subsegment 001`` is the id ``001``, not the number 1). Text
    for a parameter of no declared type becomes a number or true/false when
    it reads as one. Values that are not text pass unchanged.

    Examples
    --------
    >>> declared = {"draws": {"type": "int"}, "target_subsegment": {"type": "str"}, "x": {"type": "None"}}
    >>> typed_parameters({"draws": "2e4", "target_subsegment": "001", "x": "1.5"}, declared)
    {'draws': 20000, 'target_subsegment': '001', 'x': 1.5}
    >>> typed_parameters({"draws": "many"}, declared)
    Traceback (most recent call last):
    ...
    cvm_kit.errors.CvmError: parameter 'draws' is a whole number (the notebooks declare draws: int); got 'many'
    """
    out: dict[str, Any] = {}
    for name, value in params.items():
        kind = str((declared.get(name) or {}).get("type") or "")
        if not isinstance(value, str) or kind == "str":
            out[name] = value
        elif kind in ("int", "float", "bool"):
            out[name] = _as_declared(name, value, kind)
        else:
            out[name] = _guess(value)
    return out
