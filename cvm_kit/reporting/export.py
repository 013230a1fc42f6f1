"""HTML export of executed notebooks: the page management reads (no code, no prompts, nothing fetched).

The nbconvert ``lab`` template is extended to leave out every script a CDN
would serve (require.js, MathJax, mermaid, the widget manager) and to inline
the one stylesheet of :mod:`cvm_kit.reporting` (``templates/style.css``), so
the notebook pages look like the index, the summary and the PDF pack.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

__all__ = ["export_html"]


def _file_mode() -> int:
    """0o666 less the process umask (temporary files are created 0o600; reports are for reading)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o644


def _readable(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.chmod(path, _file_mode())




# ---------------------------------------------------------------------------
# HTML export

# The page template (templates/notebook_page.html.j2) over nbconvert's lab template.
_PAGE_TEMPLATE = "notebook_page.html.j2"
_EXPORTER: Any = None
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _exporter():
    """One HTMLExporter per process (its template is compiled once)."""
    global _EXPORTER
    if _EXPORTER is None:
        from jinja2 import DictLoader
        from nbconvert import HTMLExporter

        from .render import template_text

        page = {"cvm_report.html.j2": template_text(_PAGE_TEMPLATE)}
        _EXPORTER = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                                 exclude_output_prompt=True, extra_loaders=[DictLoader(page)],
                                 template_file="cvm_report.html.j2")
    return _EXPORTER


def _report_copy(nb: Any) -> Any:
    """The notebook as management reads it: no widget state or views, no stderr noise."""
    import copy

    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        outs = []
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream" and o.get("name") == "stderr":
                continue
            if _WIDGET_MIME in o.get("data", {}):
                continue  # a widget has no static form; the static figures sit beside it
            outs.append(o)
        cell.outputs = outs
    return nb


def export_html(notebook: Any, html_path: str | Path, *, title: str | None = None) -> Path:
    """Write an executed notebook as a self-contained HTML page for management.

    No code cells and no prompts; figures stay embedded as base64 PNG; no
    script is fetched from a CDN (require.js, MathJax and the widget manager
    are left out). Written whole or not at all.

    Parameters
    ----------
    notebook : path or NotebookNode
        The executed notebook.
    html_path : path
    title : str, optional
        The page title (default the notebook's file name).

    Returns
    -------
    Path
    """
    import nbformat

    from ..io import atomic_file

    nb = nbformat.read(str(notebook), as_version=4) if not hasattr(notebook, "cells") else notebook
    body = _html_body(nb, title, Path(html_path).stem)
    html_path = Path(html_path)
    with atomic_file(html_path) as tmp:
        tmp.write_text(body, encoding="utf-8")
        _readable(tmp)
    return html_path


def _html_body(nb: Any, title: str | None, name: str) -> str:
    """The management HTML of an executed notebook, as text."""
    nb = _report_copy(nb)
    if title:
        nb.metadata["title"] = title
    from .render import stylesheet

    body, _ = _exporter().from_notebook_node(nb, resources={"metadata": {"name": name}, "cvm_css": stylesheet()})
    return body



def _warm_worker() -> None:
    """Load papermill, nbclient and the HTML template once per worker process."""
    import papermill  # noqa: F401
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
    from papermill.engines import NBClientEngine  # noqa: F401

    # compile the template and load the markdown/highlighting machinery now, not in the first job
    png = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
    nb = new_notebook(cells=[new_markdown_cell("# Warm-up\n\nSome *text*."), new_code_cell("x", outputs=[
        new_output("display_data", data={"text/html": "<table><tr><td>1</td></tr></table>", "text/plain": "1"}),
        new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
        new_output("stream", name="stdout", text="ok")])])
    from .render import stylesheet

    _exporter().from_notebook_node(nb, resources={"cvm_css": stylesheet()})

