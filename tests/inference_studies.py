"""Small studies whose truth the inference tests set (issue 15: hypotheses, plan, bootstrap, shrinkage).

Every element ``X`` has the equation ``[Saving X]`` and each customer's
measurement of ``Saving X`` is the element value the test chose, so an
element's values per subsegment are exactly the lists given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml


def write_study(path: Path, values: Mapping[str, Mapping[str, Sequence[float | None]]], *,
                statuses: Mapping[str, str | Mapping[str, str]] | None = None,
                no_equation: Sequence[str] = (), project_extra: Mapping[str, Any] | None = None,
                element_extra: Mapping[str, Mapping[str, Any]] | None = None) -> Path:
    """Write a study folder.

    Parameters
    ----------
    values : {element_id: {subsegment: [value per customer, None = missing]}}
        Every element must list the same subsegments with the same number of
        customers (customer ids ``<subsegment>_<i>``).
    statuses : {element_id: status or {"status": s, sub: s, ...}}
        Default ``difference``; a mapping gives the overall status under
        ``"status"`` and the rest as ``status_by_subsegment``.
    no_equation : element ids written without an equation (parity only).
    """
    path.mkdir(parents=True, exist_ok=True)
    statuses = statuses or {}
    first = next(iter(values.values()))
    subs = list(first)
    customers = [(f"{s}_{i}", s) for s in subs for i in range(len(first[s]))]
    elements = []
    for eid in values:
        st = statuses.get(eid, "difference")
        el: dict[str, Any] = {"id": eid, "name": f"Element {eid}", "category": "economic"}
        if isinstance(st, Mapping):
            el["status"] = st["status"]
            el["status_by_subsegment"] = {k: v for k, v in st.items() if k != "status"}
        else:
            el["status"] = st
        if eid not in no_equation:
            el["equation"] = f"[Saving {eid}]"
        el.update((element_extra or {}).get(eid, {}))
        elements.append(el)
    doc: dict[str, Any] = {"name": "Inference test study", "offering": "X", "segment": "Test",
                           "next_best_alternative": "Y", "currency": "EUR", "period": "year",
                           "subsegments": [{"id": s, "description": s} for s in subs], "elements": elements}
    doc.update(project_extra or {})
    (path / "project.yaml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    lines = ["customer_id,subsegment,size"] + [f"{cid},{s},{i}" for i, (cid, s) in enumerate(customers)]
    (path / "customers.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = ["customer_id,variable,value,source,reliability,note"]
    for eid, per in values.items():
        if eid in no_equation:
            continue
        for s, vals in per.items():
            for i, v in enumerate(vals):
                if v is not None:
                    rows.append(f"{s}_{i},Saving {eid},{v!r},data,high,")
    (path / "measurements.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path
