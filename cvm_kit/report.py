"""What the notebooks show (compatibility module): the code lives in :mod:`cvm_kit.reporting`.

Notebooks call ``from cvm_kit import report`` and ``report.display_table(...)``;
every name is re-exported from

- :mod:`~cvm_kit.reporting.display`: :func:`table_html`, :func:`display_table`, :func:`show`,
  :func:`note`, :func:`attempt`, :func:`choose`, :func:`money`;
- :mod:`~cvm_kit.reporting.headers`: :func:`header`, :func:`customer_header`, the internal banner;
- :mod:`~cvm_kit.reporting.tables`: the per-stage tables (:func:`coverage_matrix`,
  :func:`source_mix`, :func:`customer_values`, ...);
- :mod:`~cvm_kit.reporting.params`: notebook parameters read into study objects
  (:func:`open_study`, :func:`pick_subsegment`, :func:`market_customers`, ...).

Examples
--------
>>> import cvm_kit as cvm
>>> from cvm_kit import report
>>> study = cvm.load_study(cvm.example_path())
>>> cid = study.customers["customer_id"].iloc[0]
>>> t = report.customer_values(study, cid)
>>> list(t.columns)[:4]
['element_id', 'name', 'status', 'value']
"""

from __future__ import annotations

from .reporting.display import (
                                DASH_NOTE,
                                _cell,
                                _display,
                                _figure_title,
                                _Html,
                                _is_num,
                                _number,
                                attempt,
                                choose,
                                column_label,
                                display_table,
                                money,
                                note,
                                show,
                                table_html,
)
from .reporting.headers import (
                                INTERNAL_MARK,
                                customer_header,
                                customer_header_html,
                                header,
                                header_html,
                                internal_banner,
                                internal_banner_html,
)
from .reporting.params import (
                                mapping_parameter,
                                market_customers,
                                open_study,
                                pick_subsegment,
                                study_path,
                                validated_study,
)
from .reporting.tables import (
                                TOTAL_LABELS,
                                _customer_row,
                                coverage_matrix,
                                coverage_summary,
                                customer_assumptions,
                                customer_facts,
                                customer_missing,
                                customer_totals,
                                customer_values,
                                documented_customers,
                                pick_customer,
                                placeholders,
                                source_mix,
                                validation_table,
)

__all__ = [
    "open_study", "study_path", "validated_study", "pick_customer", "header", "header_html", "customer_header",
    "customer_header_html", "internal_banner", "internal_banner_html", "INTERNAL_MARK", "money", "table_html",
    "display_table", "show", "note", "choose", "attempt", "validation_table", "coverage_matrix", "coverage_summary",
    "source_mix", "customer_values", "customer_totals", "customer_missing", "customer_assumptions", "customer_facts",
    "placeholders", "TOTAL_LABELS", "documented_customers", "pick_subsegment", "mapping_parameter",
    "market_customers", "column_label", "DASH_NOTE",
]
_PRIVATE = (_cell, _display, _figure_title, _Html, _is_num, _number, _customer_row)  # kept for old callers
