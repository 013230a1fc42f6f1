"""HTML export of executed notebooks: the page management reads (no code, no prompts, nothing fetched).

The nbconvert ``lab`` template is extended to leave out every script a CDN
would serve (require.js, MathJax, mermaid, the widget manager) and to inline
the one stylesheet of :mod:`cvm_kit.reporting` (``templates/style.css``), so
the notebook pages look like the index, the summary and the PDF pack.
"""

from __future__ import annotations

import contextlib
import os
import re
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

        from .render import template_text

        page = {"cvm_report.html.j2": template_text(_PAGE_TEMPLATE)}
        _EXPORTER = _page_exporter_class()(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                                           exclude_output_prompt=True, extra_loaders=[DictLoader(page)],
                                           template_file="cvm_report.html.j2")
    return _EXPORTER


def _page_exporter_class() -> type:
    """nbconvert's HTMLExporter, with its accessibility edits made on the page text instead of a parsed copy.

    After rendering, ``HTMLExporter.from_notebook_node`` parses the whole page
    with BeautifulSoup (base64 figures included) to give images without
    alternative text a stock one and make cell wrappers and outputs focusable,
    then writes the page out again: half of the export's time (40 ms a page).
    This exporter renders the same way and makes the same edits with
    :func:`_accessible`; an nbconvert whose exporter is built otherwise is used
    as it is.
    """
    from nbconvert import HTMLExporter
    from nbconvert.exporters.templateexporter import TemplateExporter

    class PageExporter(HTMLExporter):  # type: ignore[misc]
        def from_notebook_node(self, nb: Any, resources: dict[str, Any] | None = None,  # type: ignore[override]
                               **kw: Any) -> tuple[str, dict[str, Any]]:
            try:  # what HTMLExporter.from_notebook_node does before rendering (nbconvert 7)
                from nbconvert.filters.highlight import Highlight2HTML
                from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

                langinfo = nb.metadata.get("language_info", {})
                lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
                highlight = self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self))
                resources = self._init_resources(resources)
                data_type = WidgetsDataTypeFilter(notebook_metadata=self._nb_metadata, parent=self,
                                                  resources=resources)
            except (ImportError, AttributeError, TypeError):  # another nbconvert: its own way
                return super().from_notebook_node(nb, resources, **kw)  # type: ignore[no-any-return]
            self.register_filter("highlight_code", highlight)
            self.register_filter("filter_data_type", data_type)
            html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            html, missing_alt = _accessible(html)
            if missing_alt:
                self.log.warning("Alternative text is missing on %s image(s).", missing_alt)
            return html, resources

    return PageExporter


# an opening div or img tag and what it holds up to its '>' (quoted values may hold '>'); written so each
# character can match one way only, so the scan stays linear in the page's length
_TAG = re.compile(r"""<(div|img)(?=[\s/>])([^>"']*(?:(?:"[^"]*"|'[^']*')[^>"']*)*)>""", re.IGNORECASE)
_ATTR = re.compile(r"""([^\s=>/"']+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>"']+))?""")
_FOCUSABLE = frozenset({"jp-Cell-inputWrapper", "jp-OutputArea-output"})  # in a page whose body is .jp-Notebook
NO_ALT = "No description has been provided for this image"  # nbconvert's stock alternative text


def _accessible(html: str) -> tuple[str, int]:
    """nbconvert's accessibility edits of an exported page: the page and how many images lacked alternative text.

    As ``HTMLExporter`` makes them on its parsed copy: every ``img``
    without ``alt`` gets :data:`NO_ALT`, every ``div`` of class
    ``jp-Cell-inputWrapper`` or ``jp-OutputArea-output`` gets
    ``tabindex="0"`` (added last, or set where it stands, as BeautifulSoup
    does).

    Examples
    --------
    >>> _accessible('<div class="a jp-OutputArea-output"><img src="x.png"><img src="y" alt="Y"/></div>')[0]
    '<div class="a jp-OutputArea-output" tabindex="0"><img src="x.png" alt="No description has been provided \
for this image"><img src="y" alt="Y"/></div>'
    """
    missing = 0

    def edit(m: re.Match[str]) -> str:
        nonlocal missing
        name, attrs = m.group(1), m.group(2).rstrip()
        slash = "/" if attrs.endswith("/") else ""
        attrs = attrs[:-1] if slash else attrs
        names = {a.group(1).lower(): a.group(2) for a in _ATTR.finditer(attrs)}
        if name.lower() == "img":
            if "alt" in names:
                return m.group(0)
            missing += 1
            extra = f' alt="{NO_ALT}"'
        else:
            classes = (names.get("class") or "").strip("\"'").split()
            if not _FOCUSABLE.intersection(classes):
                return m.group(0)
            if "tabindex" in names:  # set where it stands, as BeautifulSoup sets an attribute it has
                attrs = _ATTR.sub(lambda a: 'tabindex="0"' if a.group(1).lower() == "tabindex" else a.group(0), attrs)
                extra = ""
            else:
                extra = ' tabindex="0"'
        return f"<{name}{attrs}{extra}{slash}>"

    return _TAG.sub(edit, html), missing


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


def _html_body(nb: Any, title: str | None, name: str, banner: str = "") -> str:
    """The management HTML of an executed notebook, as text; ``banner``: a mark at the top of the page."""
    nb = _report_copy(nb)
    if title:
        nb.metadata["title"] = title
    from .render import stylesheet

    body, _ = _exporter().from_notebook_node(nb, resources={"metadata": {"name": name}, "cvm_css": stylesheet(),
                                                            "cvm_banner": banner})
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

