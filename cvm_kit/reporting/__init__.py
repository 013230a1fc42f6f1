"""The reporting layer: one number format, one stylesheet, Jinja2 templates, the executive summary and the PDF pack.

- :mod:`~cvm_kit.reporting.fmt`: the one number/money formatter of pages and tables.
- :mod:`~cvm_kit.reporting.render`: the Jinja2 environment (autoescaped) over ``templates/``.
- :mod:`~cvm_kit.reporting.summary`: the executive summary page (HTML) from :mod:`cvm_kit.executive`.
- :mod:`~cvm_kit.reporting.pack`: the management pack (one HTML of every page) and its PDF, printed by
  headless Chromium.

Nothing here is imported by ``import cvm_kit``.
"""
