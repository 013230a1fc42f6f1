"""The reporting layer: one number format, one stylesheet, Jinja2 templates, the executive summary and the PDF pack.

- :mod:`~cvm_kit.reporting.fmt`: the one number/money formatter of pages and tables.
- :mod:`~cvm_kit.reporting.render`: the Jinja2 environment (autoescaped) over ``templates/``.
- :mod:`~cvm_kit.reporting.summary`: the executive summary page (HTML) from :mod:`cvm_kit.executive`.
- :mod:`~cvm_kit.reporting.pack`: the management pack (one HTML of every page) and its PDF, printed by
  headless Chromium.
- :mod:`~cvm_kit.reporting.display`: what notebooks call to show tables (human labels, one number
  format, "—" footnoted, wide tables split into column groups), notes and figures;
  :mod:`~cvm_kit.reporting.headers` the page headers; :mod:`~cvm_kit.reporting.tables` the per-stage
  tables; :mod:`~cvm_kit.reporting.params` notebook parameters read into study objects
  (``cvm_kit.report`` re-exports all four for the notebooks).
- :mod:`~cvm_kit.reporting.series` (``cvm report``), :mod:`~cvm_kit.reporting.batch` (``cvm batch``),
  :mod:`~cvm_kit.reporting.notebooks` (the templates), :mod:`~cvm_kit.reporting.execute` (one notebook
  job: ``Job``/``Outcome``, the kernel guard), :mod:`~cvm_kit.reporting.pool` (process pool, Dask,
  interrupts), :mod:`~cvm_kit.reporting.export` (the HTML page of an executed notebook);
  ``cvm_kit.runs`` re-exports them.

Nothing here is imported by ``import cvm_kit``.
"""
