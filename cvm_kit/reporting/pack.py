"""The management pack: the executive summary, then every page of the series, as one HTML and one PDF.

The pack is built from the executed notebooks' markdown and outputs (never
their code), styled by the one stylesheet, and printed to PDF by headless
Chromium (Debian's, as the browser tests use; no LaTeX): summary first, one
section per notebook each starting on a new page, page numbers in the
footer, the charter and provenance at the end.
"""

from __future__ import annotations

import html as _html
import os
import re
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import CvmError
from .render import render

_WIDGET = "application/vnd.jupyter.widget-view+json"
# Each page opens with the study header and charter; the pack shows them once, at the end.
# (Outputs carry no stylesheet: the one stylesheet is the page's.)
_PAGE_HEADER = re.compile(r"<section class=['\"]cvm-(?:header|charter)['\"]>.*?</section>", re.S)


@lru_cache(maxsize=1)
def _markdown_renderer() -> Any:
    import mistune  # nbconvert's markdown engine

    return mistune.create_markdown(escape=True, plugins=["table", "strikethrough"])


def _markdown(text: str) -> str:
    """Markdown cells as HTML; raw HTML in them is shown as text, never interpreted."""
    return str(_markdown_renderer()(text))


def _output_html(o: Mapping[str, Any]) -> str:
    """One output as HTML: tables and figures as the page shows them; stderr and widgets left out."""
    kind = o.get("output_type")
    if kind == "stream":
        return "" if o.get("name") == "stderr" else f"<pre>{_html.escape(''.join(o.get('text', '')))}</pre>"
    if kind == "error":
        return f"<p class='flag'>This step failed: {_html.escape(str(o.get('ename', '')))}</p>"
    data = o.get("data", {})
    if _WIDGET in data and "image/png" not in data and "text/html" not in data:
        return ""
    if "image/png" in data:
        alt = _html.escape(str(o.get("metadata", {}).get("image/png", {}).get("alt", "Figure")))
        png = data["image/png"]
        png = "".join(png) if isinstance(png, list) else png
        return f"<figure><img src='data:image/png;base64,{_html.escape(png.strip())}' alt='{alt}'></figure>"
    if "text/html" in data:
        h = data["text/html"]
        return "".join(h) if isinstance(h, list) else str(h)  # written by cvm_kit's escaping table/note helpers
    if "text/markdown" in data:
        return _markdown("".join(data["text/markdown"]))
    if "text/plain" in data:
        t = data["text/plain"]
        return f"<pre>{_html.escape(''.join(t) if isinstance(t, list) else str(t))}</pre>"
    return ""


def notebook_html(nb: Any) -> str:
    """An executed notebook's markdown and outputs as an HTML fragment (no code, no prompts).

    Examples
    --------
    >>> import nbformat
    >>> from nbformat.v4 import new_notebook, new_markdown_cell
    >>> "<h2>Hello</h2>" in notebook_html(new_notebook(cells=[new_markdown_cell("## Hello")]))
    True
    """
    parts = []
    for cell in nb.cells:
        if cell.get("cell_type") == "markdown":
            parts.append(_markdown(cell.get("source", "")))
        elif cell.get("cell_type") == "code":
            if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
                continue
            outs = _PAGE_HEADER.sub("", "".join(_output_html(o) for o in cell.get("outputs", []))).strip()
            if outs:
                parts.append(f"<div class='cell-output'>{outs}</div>")
    return "\n".join(parts)


def pack_html(*, title: str, summary_html: str, sections: Iterable[tuple[str, Any]], closing_html: str = "") -> str:
    """The whole pack as one HTML document.

    Parameters
    ----------
    title : str
        The study's name (page 1 heading and the footer of every page).
    summary_html : str
        The executive summary fragment (:func:`cvm_kit.reporting.summary.executive_html`).
    sections : iterable of (title, executed notebook)
        One section per page of the series, each starting on a new page.
    closing_html : str
        The charter and provenance, at the end.
    """
    secs = [{"title": t, "body": notebook_html(nb), "id": f"section-{i}"} for i, (t, nb) in enumerate(sections, 1)]
    return render("pack.html.j2", title=title, summary=summary_html, sections=secs, closing=closing_html)


def find_chromium() -> str:
    """The Chromium to print with: ``CVM_CHROMIUM``, else ``chromium`` or ``chromium-browser`` on the PATH."""
    for cand in (os.environ.get("CVM_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if cand and shutil.which(cand):
            return str(shutil.which(cand))
    raise CvmError("the PDF pack is printed by headless Chromium, which was not found: install Debian's chromium "
                   "(`make system-deps`, or `apt-get install chromium`) or set CVM_CHROMIUM to a Chromium binary")


def print_pdf(html_path: str | Path, pdf_path: str | Path, *, timeout: float = 120) -> Path:
    """Print an HTML file to PDF with headless Chromium (A4, page numbers from the stylesheet); written whole.

    Raises
    ------
    CvmError
        Chromium is missing, fails, or writes no PDF within ``timeout`` seconds.
    """
    chrome = find_chromium()
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path)
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{pdf_path.stem}.", suffix=".pdf", dir=pdf_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    profile = tempfile.mkdtemp(prefix="cvm-chromium-")
    cmd = [chrome, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--no-pdf-header-footer", "--run-all-compositor-stages-before-draw",
           f"--print-to-pdf={tmp}", html_path.as_uri()]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, start_new_session=True)
        if proc.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
            tail = (proc.stderr or "").strip().splitlines()[-1:] or [""]
            raise CvmError(f"Chromium did not print {html_path} to PDF (exit {proc.returncode}): {tail[0]}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, pdf_path)
    except subprocess.TimeoutExpired as exc:
        raise CvmError(f"Chromium did not print {html_path} to PDF within {timeout:g} s") from exc
    finally:
        if tmp.exists():
            tmp.unlink()
        shutil.rmtree(profile, ignore_errors=True)
    return pdf_path


def write_pack(study: Any, notebooks: Iterable[tuple[str, str | Path]], out_dir: str | Path, *,
               closing_html: str = "", pdf: bool = True, summary_html: str | None = None,
               stem: str = "management_pack") -> dict[str, Path]:
    """Write ``<stem>.html`` (and ``<stem>.pdf``) in ``out_dir`` from executed notebooks; each written whole.

    Parameters
    ----------
    study : Study
    notebooks : iterable of (title, path to an executed .ipynb)
        The pages of the series, in order.
    out_dir : path
    closing_html : str
        The charter and provenance (HTML, already escaped), shown last.
    pdf : bool
        Also print the PDF with headless Chromium.
    summary_html : str, optional
        The executive summary fragment (computed if omitted).

    Returns
    -------
    dict
        ``{"html": path, "pdf": path}`` (``pdf`` only when printed).
    """
    import nbformat

    from ..io import atomic_file
    from .summary import executive_html

    out_dir = Path(out_dir)
    sections = [(t, nbformat.read(str(p), as_version=4)) for t, p in notebooks]
    doc = pack_html(title=study.name, summary_html=summary_html if summary_html is not None else executive_html(study),
                    sections=sections, closing_html=closing_html)
    written: dict[str, Path] = {}
    html_path = out_dir / f"{stem}.html"
    with atomic_file(html_path) as tmp:
        tmp.write_text(doc, encoding="utf-8")
    written["html"] = html_path
    if pdf:
        written["pdf"] = print_pdf(html_path, out_dir / f"{stem}.pdf")
    return written
