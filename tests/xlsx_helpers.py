"""Reading a calculator workbook back in tests: defined names, cached values, and a recalculation with `formulas`."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def defined_names(path: Path) -> dict[str, tuple[str, str]]:
    """Defined name -> (sheet, cell) of the workbook."""
    from openpyxl import load_workbook

    wb = load_workbook(path)
    out = {}
    for name, dn in wb.defined_names.items():
        sheet, cell = dn.attr_text.split("!")
        out[name] = (sheet, cell.replace("$", ""))
    return out


def recalc(path: Path, inputs: dict[str, object] | None = None) -> dict[str, object]:
    """Recalculate with `formulas`; defined name -> value (float, text, or the Excel error text)."""
    import formulas

    model = formulas.ExcelModel().loads(str(path)).finish()
    names = defined_names(path)
    given = {}
    for name, v in (inputs or {}).items():
        sheet, cell = names[name]
        given[f"'[{path.name}]{sheet.upper()}'!{cell}"] = v
    sol = model.calculate(inputs=given) if given else model.calculate()
    out = {}
    for name in names:
        v = sol[f"'[{path.name}]'!{name.upper()}"].value[0, 0]
        out[name] = float(v) if isinstance(v, (int, float, np.number)) else str(v)
    return out


def cached(path: Path) -> dict[str, object]:
    """Defined name -> the value Excel would show before recalculating (as written)."""
    from openpyxl import load_workbook

    wb = load_workbook(path, data_only=True)
    return {name: wb[sheet][cell].value for name, (sheet, cell) in defined_names(path).items()}
