"""Executed reports: the notebook series and the per-customer notebooks, run unattended.

:func:`run_report` executes the study notebooks (data gathering, estimates,
subsegment variance, sensitivity, drivers and prospects, value documenter,
business case for change) with papermill and
turns each into an HTML page for management (no code, no prompts, figures
embedded, nothing fetched from the network), with an ``index.html`` that
records the run's provenance. :func:`run_batch` executes the per-customer
notebook once per customer, in parallel worker processes (or on a Dask
cluster), each under a time limit, failures isolated, unchanged customers
skipped.

Every notebook runs in a fresh kernel; the per-notebook cost is kernel
start-up plus imports, so the worker processes are reused across notebooks
(papermill, nbconvert and the HTML template are loaded once per worker) and
the per-customer notebook keeps its imports light.

Examples
--------
>>> from cvm_kit.runs import run_batch
>>> result = run_batch("tests/data/tiny", ["A1", "B2"], workers=2)   # doctest: +SKIP
>>> print(result.summary())                                           # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import html
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from .errors import CvmError

__all__ = [
    "SERIES", "CUSTOMER_NOTEBOOK", "notebooks_dir", "template_path", "load_template", "notebook_parameters", "run_report",
    "run_batch", "export_html", "NotebookRun", "BatchResult", "RunError",
]

#: The study notebooks of ``cvm report``, in reading order.
SERIES = ("01_data_gathering", "02_estimates", "03_subsegment_variance", "04_sensitivity",
          "05_drivers_and_prospects", "07_value_documenter", "08_business_case")
#: The per-customer notebook of ``cvm batch``.
CUSTOMER_NOTEBOOK = "06_customer_report"
MANIFEST = "manifest.json"
# Parameters every run sets: batch and report runs are static (no widgets).
_RUN_PARAMETERS = {"interactive": False}


class RunError(CvmError):
    """A report run failed; ``runs`` holds every notebook's outcome (failures with their paths)."""

    def __init__(self, message: str, runs: Sequence["NotebookRun"] = ()) -> None:
        super().__init__(message)
        self.runs = list(runs)


@dataclass
class NotebookRun:
    """The outcome of one executed notebook.

    Attributes
    ----------
    name : str
        The customer id (batch) or the notebook's stem (report).
    status : {"ok", "failed", "timeout", "skipped"}
    notebook : Path or None
        The executed notebook (kept with papermill's error cell on failure).
    html : Path or None
        The HTML page (None unless ``ok`` or ``skipped``).
    seconds : float
        Wall-clock time of the execution and export (0 when skipped).
    error : str
        ``ExceptionName: message`` of the failure ('' otherwise).
    """

    name: str
    status: str
    notebook: Path | None = None
    html: Path | None = None
    seconds: float = 0.0
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "skipped")


@dataclass
class BatchResult:
    """Every notebook of a batch run, and how long the batch took."""

    out_dir: Path
    runs: list[NotebookRun] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 1
    scheduler: str | None = None

    @property
    def failed(self) -> list[NotebookRun]:
        """Runs that failed or timed out."""
        return [r for r in self.runs if not r.ok]

    @property
    def executed(self) -> list[NotebookRun]:
        """Runs executed this time (not skipped)."""
        return [r for r in self.runs if r.status != "skipped"]

    @property
    def skipped(self) -> list[NotebookRun]:
        """Runs skipped because the customer's inputs and the template were unchanged."""
        return [r for r in self.runs if r.status == "skipped"]

    @property
    def ok(self) -> bool:
        """True when no notebook failed."""
        return not self.failed

    def to_frame(self):
        """The runs as a DataFrame: ``name, status, notebook, html, seconds, error``."""
        import pandas as pd

        return pd.DataFrame([(r.name, r.status, str(r.notebook or ""), str(r.html or ""), r.seconds, r.error)
                             for r in self.runs], columns=["name", "status", "notebook", "html", "seconds", "error"])

    def summary(self) -> str:
        """A few lines for the terminal: counts, time, then every failure with its path."""
        n_ok = sum(r.status == "ok" for r in self.runs)
        where = f"on {self.scheduler}" if self.scheduler else f"{self.workers} worker(s)"
        lines = [f"{len(self.runs)} notebook(s) in {self.out_dir}: {n_ok} executed, {len(self.skipped)} skipped "
                 f"(unchanged), {len(self.failed)} failed; {self.seconds:.1f} s with {where}"]
        done = [r.seconds for r in self.runs if r.status == "ok"]
        if done:
            lines.append(f"per notebook: {sum(done) / len(done):.2f} s mean, "
                         f"{self.seconds / max(len(self.executed), 1):.2f} s of batch time")
        for r in self.failed:
            lines.append(f"FAILED {r.name} ({r.status}): {r.error}\n    notebook: {r.notebook}")
        return "\n".join(lines)


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
# templates


TEMPLATE_SUFFIXES = (".py", ".ipynb")


def notebooks_dir() -> Path:
    """The folder holding the notebook templates (jupytext percent-format ``.py`` sources).

    Examples
    --------
    >>> from cvm_kit.runs import notebooks_dir
    >>> (notebooks_dir() / "06_customer_report.py").exists()
    True
    """
    here = Path(__file__).resolve().parent
    for base in (here.parent / "notebooks", here / "notebooks"):
        if (base / f"{CUSTOMER_NOTEBOOK}.py").exists():
            return base
    raise CvmError(f"the notebook templates were not found beside the package (looked in {here.parent / 'notebooks'} "
                   f"and {here / 'notebooks'})")


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
    ['customer_id', 'interactive', 'study', 'today']
    """
    from papermill.translators import PythonTranslator

    nb = load_template(template_path(name))
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return {p.name: {"type": p.inferred_type_name, "default": p.default, "help": p.help}
                    for p in PythonTranslator.inspect(cell)}
    return {}


# ---------------------------------------------------------------------------
# HTML export

# The lab template without anything fetched from a CDN: no require.js, MathJax,
# mermaid or widget manager scripts (reports hold static figures and tables);
# figures always embedded, with their title as alternative text.
_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{% block data_png scoped %}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}"
 alt="{{ ((output | get_metadata('alt', 'image/png')) or 'Figure') | escape_html }}"
{%- set width=output | get_metadata('width', 'image/png') -%}
{%- if width is not none %} width="{{ width | escape_html }}"{%- endif %}
{%- set height=output | get_metadata('height', 'image/png') -%}
{%- if height is not none %} height="{{ height | escape_html }}"{%- endif %}>
</div>
{%- endblock data_png %}
"""
_EXPORTER: Any = None
_WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def _exporter():
    """One HTMLExporter per process (its template is compiled once)."""
    global _EXPORTER
    if _EXPORTER is None:
        from jinja2 import DictLoader
        from nbconvert import HTMLExporter

        _EXPORTER = HTMLExporter(template_name="lab", exclude_input=True, exclude_input_prompt=True,
                                 exclude_output_prompt=True, extra_loaders=[DictLoader({"cvm_report.html.j2": _TEMPLATE})],
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

    from .io import atomic_file

    nb = nbformat.read(str(notebook), as_version=4) if not hasattr(notebook, "cells") else notebook
    nb = _report_copy(nb)
    if title:
        nb.metadata["title"] = title
    body, _ = _exporter().from_notebook_node(nb, resources={"metadata": {"name": Path(html_path).stem}})
    html_path = Path(html_path)
    with atomic_file(html_path) as tmp:
        tmp.write_text(body, encoding="utf-8")
        _readable(tmp)
    return html_path


# ---------------------------------------------------------------------------
# executing one notebook (the job function of the process pool and of Dask)


def _tracking_manager(box: list, log: Any, ipc_dir: str | None):
    """An AsyncKernelManager class that records its instances in ``box`` (for the time-limit guard).

    The kernel process's own stderr (start-up warnings, a crash) goes to
    ``log`` instead of the terminal; what the notebook's code prints to
    stderr is captured into the notebook by ipykernel as usual. With
    ``ipc_dir`` the kernel talks over Unix sockets in that private folder
    instead of TCP ports, so parallel workers can never race for a port.
    """
    from jupyter_client.manager import AsyncKernelManager

    class _Tracked(AsyncKernelManager):
        def __init__(self, *a: Any, **kw: Any) -> None:
            if ipc_dir is not None:
                kw.setdefault("transport", "ipc")
                kw.setdefault("ip", os.path.join(ipc_dir, "k"))
            super().__init__(*a, **kw)
            box.append(self)

        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            kw.setdefault("stderr", log)
            kw.setdefault("stdout", log)
            await super().start_kernel(**kw)

    return _Tracked


def _log_tail(log: Any, lines: int = 3) -> str:
    """The last lines the kernel process wrote, minus its routine start-up warning."""
    try:
        log.seek(0)
        text = log.read().decode("utf-8", "replace")
    except (OSError, ValueError):
        return ""
    keep = [ln for ln in text.splitlines() if ln.strip() and "without encryption" not in ln]
    return " | ".join(keep[-lines:])


def _kill_kernels(box: list, fired: threading.Event) -> None:
    """Wall-clock guard: kill the notebook's kernel; nbclient then stops with DeadKernelError."""
    fired.set()
    for km in list(box):
        proc = getattr(getattr(km, "provisioner", None), "process", None)
        with contextlib.suppress(Exception):
            if proc is not None and proc.poll() is None:
                proc.kill()


def _error_cell_first(nb: Any, message: str) -> None:
    """Put a visible error cell at the top of a notebook papermill could not finish."""
    from nbformat.v4 import new_markdown_cell

    text = ('<span style="color:red;font-family:Helvetica Neue, Helvetica, Arial, sans-serif;font-size:2em;">'
            f"The notebook did not finish: {html.escape(message)}</span>")
    cell = new_markdown_cell(text)
    cell.metadata["tags"] = ["papermill-error-cell-tag", "cvm-error"]
    nb.cells.insert(0, cell)


def _execute(job: Mapping[str, Any]) -> dict[str, Any]:
    """Execute one notebook job; never raises (the outcome says what went wrong).

    ``job``: ``name, template, notebook, html, parameters, timeout,
    kernel_name, provenance, title``. Outside the main thread (a Dask worker
    running tasks in threads) the job runs in a thread of its own, so its
    event loop is its own: papermill runs one loop per thread, and a worker
    thread may have another loop set as current.
    """
    if threading.current_thread() is threading.main_thread():
        return _execute_here(job)
    box: list = []
    t = threading.Thread(target=lambda: box.append(_execute_here(job)), name=f"cvm-{job.get('name')}", daemon=True)
    t.start()
    t.join()
    if not box:  # pragma: no cover - _execute_here catches everything
        return {"name": job["name"], "status": "failed", "notebook": str(job["notebook"]), "html": None,
                "seconds": 0.0, "error": "the job's thread ended without a result"}
    return box[0]


def _execute_here(job: Mapping[str, Any]) -> dict[str, Any]:
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    t0 = time.perf_counter()
    out_nb = Path(job["notebook"])
    out_html = Path(job["html"]) if job.get("html") else None
    out_nb.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out_nb.stem}.", suffix=".ipynb", dir=out_nb.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    timeout = float(job.get("timeout") or 600)
    box: list = []
    fired = threading.Event()
    guard = threading.Timer(timeout, _kill_kernels, args=(box, fired))
    guard.daemon = True
    status, error, nb = "ok", "", None
    log = tempfile.TemporaryFile()
    ipc_dir = tempfile.mkdtemp(prefix="cvm-k") if os.name == "posix" else None
    try:
        guard.start()
        for attempt in (1, 2):
            try:
                nb = pm.execute_notebook(
                    load_template(job["template"]), str(tmp), parameters=dict(job["parameters"]),
                    kernel_name=job.get("kernel_name") or None, progress_bar=False,
                    execution_timeout=int(max(1, timeout)), start_timeout=int(max(1, min(60, timeout))),
                    kernel_manager_class=_tracking_manager(box, log, ipc_dir),
                    # every output has arrived once the last cell replied: stop the kernel at once
                    # rather than wait for its graceful exit (about half a second per notebook)
                    shutdown_kernel="immediate",
                )
                break
            except RuntimeError as exc:
                # a kernel that died while starting ran nothing yet: start it once more
                if attempt == 2 or fired.is_set() or "before replying to kernel_info" not in str(exc):
                    raise
                _kill_kernels(box, threading.Event())
                box.clear()
    except PapermillExecutionError as exc:
        status, error = "failed", f"{exc.ename}: {exc.evalue}"
    except Exception as exc:  # noqa: BLE001 - a job reports its failure, it never takes the batch down
        status = "timeout" if fired.is_set() or "Timeout" in type(exc).__name__ else "failed"
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        error = (f"no result within the time limit of {timeout:g} s ({type(exc).__name__})" if status == "timeout"
                 else f"{type(exc).__name__}: {msg}")
        tail = _log_tail(log)
        error += f" (kernel said: {tail})" if tail and status != "timeout" else ""
    finally:
        guard.cancel()
        _kill_kernels(box, threading.Event())  # nothing may outlive the job
        log.close()
        if ipc_dir is not None:
            shutil.rmtree(ipc_dir, ignore_errors=True)
    try:
        if nb is None:
            nb = nbformat.read(str(tmp), as_version=4) if tmp.exists() and tmp.stat().st_size else None
            if nb is None:
                nb = load_template(job["template"])
            if status == "timeout" or not any("papermill-error-cell-tag" in c.get("metadata", {}).get("tags", [])
                                              for c in nb.cells):
                _error_cell_first(nb, error)
        nb.metadata["cvm_kit"] = dict(job.get("provenance") or {}, status=status, error=error)
        nbformat.write(nb, str(tmp))
        _readable(tmp)
        os.replace(tmp, out_nb)
        if status == "ok" and out_html is not None:
            export_html(nb, out_html, title=job.get("title"))
        elif out_html is not None and out_html.exists():
            out_html.unlink()  # never leave a stale page beside a failed notebook
    except Exception as exc:  # noqa: BLE001
        status, error = "failed", (error + "; " if error else "") + f"writing the outputs: {type(exc).__name__}: {exc}"
    finally:
        if tmp.exists():
            tmp.unlink()
    return {"name": job["name"], "status": status, "notebook": str(out_nb),
            "html": str(out_html) if (out_html is not None and status == "ok") else None,
            "seconds": time.perf_counter() - t0, "error": error}


def _warm_worker() -> None:
    """Load papermill, nbclient and the HTML template once per worker process."""
    import papermill  # noqa: F401
    from papermill.engines import NBClientEngine  # noqa: F401

    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    # compile the template and load the markdown/highlighting machinery now, not in the first job
    png = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")
    nb = new_notebook(cells=[new_markdown_cell("# Warm-up\n\nSome *text*."), new_code_cell("x", outputs=[
        new_output("display_data", data={"text/html": "<table><tr><td>1</td></tr></table>", "text/plain": "1"}),
        new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"}),
        new_output("stream", name="stdout", text="ok")])])
    _exporter().from_notebook_node(nb)


def _pool_context():
    import multiprocessing as mp

    if sys.platform.startswith("linux") and "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        with contextlib.suppress(Exception):
            ctx.set_forkserver_preload(["cvm_kit.runs", "papermill", "nbconvert"])
        return ctx
    return mp.get_context("spawn")


def _run_jobs(jobs: list[dict[str, Any]], *, workers: int, scheduler: str | None, progress: bool,
              desc: str) -> Iterator[dict[str, Any]]:
    """Run jobs on a process pool (or a Dask cluster); yield each outcome as it completes."""
    if not jobs:
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), desc=desc, unit="nb", disable=not progress, file=sys.stderr)
    try:
        if scheduler:
            from .errors import require

            distributed = require("distributed", "dask")
            with distributed.Client(scheduler, timeout="30s") as client:
                futures = client.map(_execute, jobs, pure=False, key=[f"cvm-{j['name']}-{os.urandom(4).hex()}"
                                                                      for j in jobs])
                by_future = dict(zip(futures, jobs))
                for fut in distributed.as_completed(futures):
                    try:
                        out = fut.result()
                    except Exception as exc:  # noqa: BLE001 - a lost worker fails its job only
                        job = by_future[fut]
                        out = {"name": job["name"], "status": "failed", "notebook": job["notebook"], "html": None,
                               "seconds": 0.0, "error": f"{type(exc).__name__} on the cluster: {exc}"}
                    bar.update()
                    yield out
            return
        workers = max(1, min(int(workers), len(jobs)))
        if workers == 1:
            for job in jobs:
                out = _execute(job)
                bar.update()
                yield out
            return
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(), initializer=_warm_worker) as pool:
            futs = {pool.submit(_execute, job): job for job in jobs}
            for fut in as_completed(futs):
                try:
                    out = fut.result()
                except Exception as exc:  # noqa: BLE001 - e.g. a worker killed by the OS
                    job = futs[fut]
                    out = {"name": job["name"], "status": "failed", "notebook": job["notebook"], "html": None,
                           "seconds": 0.0, "error": f"{type(exc).__name__}: {exc}"}
                bar.update()
                yield out
    finally:
        bar.close()


def _to_run(out: Mapping[str, Any]) -> NotebookRun:
    return NotebookRun(name=str(out["name"]), status=str(out["status"]),
                       notebook=Path(out["notebook"]) if out.get("notebook") else None,
                       html=Path(out["html"]) if out.get("html") else None,
                       seconds=float(out.get("seconds") or 0.0), error=str(out.get("error") or ""))


# ---------------------------------------------------------------------------
# provenance


def _load(study: str | Path):
    """The study (None if it does not load) and its content hash (else a hash of its files)."""
    from .study import load_study

    path = Path(study).expanduser().resolve()
    if not path.exists():
        raise CvmError(f"study {path} does not exist")
    try:
        s = load_study(path)
        return s, s.content_hash
    except CvmError:
        h = hashlib.sha256()
        for f in sorted(path.rglob("*")) if path.is_dir() else [path]:
            if f.is_file():
                h.update(f.name.encode())
                h.update(f.read_bytes())
        return None, h.hexdigest()[:16] + " (study does not load)"


def _provenance(study_path: Path, content_hash: str, parameters: Mapping[str, Any], template: Path) -> dict[str, Any]:
    from . import __version__

    return {
        "study": str(study_path), "study_content_hash": content_hash, "cvm_kit_version": __version__,
        "parameters": dict(parameters), "template": template.name,
        "template_hash": _file_hash(template), "run_at": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
    }


def _file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _check_parameters(parameters: Mapping[str, Any] | None, templates: Sequence[Path]) -> dict[str, Any]:
    params = dict(parameters or {})
    known: set[str] = set()
    for t in templates:
        known |= set(notebook_parameters(t))
    unknown = sorted(set(params) - known)
    if unknown:
        raise CvmError(f"unknown notebook parameter(s) {', '.join(unknown)}; the notebooks take "
                       f"{', '.join(sorted(known))}")
    for key in ("study",):
        if key in params:
            raise CvmError(f"parameter {key!r} is set by the run itself (pass the study as the first argument)")
    return params


def _title(template: Path) -> str:
    """A template's title: its metadata ``title``, else its first markdown heading."""
    nb = load_template(template)
    title = nb.metadata.get("title")
    if title:
        return str(title)
    for c in nb.cells:
        if c.cell_type == "markdown":
            for line in c.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return template.stem


# ---------------------------------------------------------------------------
# cvm report


def run_report(study: str | Path, out_dir: str | Path | None = None, *, parameters: Mapping[str, Any] | None = None,
               kernel_name: str | None = None, workers: int = 2, timeout: float = 600,
               progress: bool = False, series: Sequence[str] = SERIES) -> Path:
    """Execute the notebook series on a study and write the HTML report with its index.

    Each notebook of :data:`SERIES` is executed with papermill (parameters
    ``study`` = the study's absolute path, ``interactive=False``, plus
    ``parameters``) and exported to HTML with no code and no prompts; an
    ``index.html`` links them with the run's provenance (study content hash,
    cvm_kit version, parameters, date) and the study charter. Everything is
    produced in a temporary folder first and moved into ``out_dir`` only when
    every notebook succeeded, so ``out_dir`` holds a whole report or the
    previous one. ``out_dir/customers`` (from :func:`run_batch`) is left alone.

    Parameters
    ----------
    study : path
        Study folder or workbook.
    out_dir : path, optional
        Default ``reports/<study label>``.
    parameters : mapping, optional
        Notebook parameters (e.g. ``{"draws": 20000}``); each notebook gets the
        ones it declares. Unknown names are an error.
    kernel_name : str, optional
        Jupyter kernel (default the notebooks' ``python3``).
    workers : int
        Notebooks executed at once (separate processes).
    timeout : float
        Seconds allowed per notebook (per cell and in total).
    progress : bool
        Show a progress bar on stderr.
    series : sequence of str
        Template stems or paths (default :data:`SERIES`).

    Returns
    -------
    Path
        ``out_dir/index.html``.

    Raises
    ------
    RunError
        A notebook failed: the message lists each failure with its executed
        notebook, kept (with papermill's error cell) in ``<out_dir>.failed/``;
        ``out_dir`` is unchanged.
    """
    study_path = Path(study).expanduser().resolve()
    s, content_hash = _load(study_path)
    label = s.label if s is not None else (study_path.stem if study_path.suffix else study_path.name)
    out = Path(out_dir) if out_dir is not None else Path("reports") / label
    out = out.resolve()
    templates = [template_path(t) for t in series]
    params = _check_parameters(parameters, templates)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    t0 = time.perf_counter()
    try:
        jobs = []
        for t in templates:
            declared = notebook_parameters(t)
            p = {"study": str(study_path), **_RUN_PARAMETERS, **{k: v for k, v in params.items() if k in declared}}
            jobs.append({"name": t.stem, "template": str(t), "notebook": str(tmp / f"{t.stem}.ipynb"),
                         "html": str(tmp / f"{t.stem}.html"), "parameters": p, "timeout": timeout,
                         "kernel_name": kernel_name, "provenance": _provenance(study_path, content_hash, p, t),
                         "title": _title(t)})
        outcomes = {o["name"]: _to_run(o) for o in _run_jobs(jobs, workers=workers, scheduler=None,
                                                              progress=progress, desc="cvm report")}
        runs = [outcomes[t.stem] for t in templates]
        failed = [r for r in runs if not r.ok]
        if failed:
            keep = out.with_name(out.name + ".failed")
            if keep.exists():
                shutil.rmtree(keep)
            keep.mkdir(parents=True)
            for r in runs:
                if r.notebook is not None and r.notebook.exists():
                    dest = keep / r.notebook.name
                    shutil.move(str(r.notebook), dest)
                    r.notebook, r.html = dest, None
            lines = [f"{len(failed)} of {len(runs)} notebook(s) failed; {out} was left unchanged:"]
            lines += [f"  {r.name}: {r.error}\n    notebook: {r.notebook}" for r in failed]
            raise RunError("\n".join(lines), runs)
        _write_index(tmp / "index.html", s, study_path, content_hash, params, runs, t0, out)
        # publish: every file is renamed into place, the index last
        out.mkdir(parents=True, exist_ok=True)
        names = [p.name for p in sorted(tmp.iterdir()) if p.name != "index.html"] + ["index.html"]
        for name in names:
            os.replace(tmp / name, out / name)
        stale = out.with_name(out.name + ".failed")
        if stale.exists():
            shutil.rmtree(stale, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out / "index.html"


_INDEX_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 60em; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em 0; }
th, td { text-align: left; padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; vertical-align: top; }
th { background: #f3f5f8; }
code { background: #f3f5f8; padding: 0 0.25em; }
.cvm-charter dl { display: grid; grid-template-columns: max-content auto; gap: 0.15em 1em; }
.cvm-charter dt { font-weight: 600; }
"""


def _write_index(path: Path, s: Any, study_path: Path, content_hash: str, params: Mapping[str, Any],
                 runs: Sequence[NotebookRun], t0: float, out: Path) -> None:
    from . import __version__

    e = html.escape
    try:
        import papermill

        pm_version = papermill.__version__
    except Exception:  # noqa: BLE001
        pm_version = "?"
    charter = ""
    if s is not None:
        from .research import charter_html

        charter = charter_html(s)
    name = s.name if s is not None else study_path.name
    rows = "".join(
        f"<tr><td><a href='{e(r.html.name)}'>{e(_title_of(r))}</a></td>"
        f"<td><a href='{e(r.notebook.name)}'>{e(r.notebook.name)}</a></td><td>{r.seconds:.1f} s</td></tr>"
        for r in runs if r.html is not None and r.notebook is not None)
    all_params = {"study": str(study_path), **_RUN_PARAMETERS, **params}
    prow = "".join(f"<tr><td><code>{e(k)}</code></td><td><code>{e(repr(v))}</code></td></tr>"
                   for k, v in all_params.items())
    customers = out / "customers" / "index.html"
    cust = ("<p><a href='customers/index.html'>Per-customer value reports</a></p>" if customers.exists() else
            "<p>Per-customer value reports: run <code>cvm batch</code> on this study to produce them "
            "(they go into <code>customers/</code> beside this page).</p>")
    prov = [
        ("Study", f"{e(name)}<br><code>{e(str(study_path))}</code>"),
        ("Study content hash", f"<code>{e(content_hash)}</code>"),
        ("cvm_kit version", e(__version__)),
        ("papermill / Python", e(f"{pm_version} / {sys.version.split()[0]}")),
        ("Run", e(_dt.datetime.now().astimezone().isoformat(timespec="seconds")) + f" ({time.perf_counter() - t0:.0f} s)"),
    ]
    provrows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in prov)
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(name)}: customer value report</title><style>{_INDEX_CSS}</style></head>
<body><main>
<h1>{e(name)}</h1>
<p>Customer value report. Each page below was produced by executing a notebook of the cvm_kit series on this study.</p>
{charter}
<h2>Reports</h2>
<table><thead><tr><th>Report</th><th>Executed notebook</th><th>Time</th></tr></thead><tbody>{rows}</tbody></table>
{cust}
<h2>Provenance</h2>
<table><tbody>{provrows}</tbody></table>
<h3>Parameters</h3>
<table><thead><tr><th>Parameter</th><th>Value</th></tr></thead><tbody>{prow}</tbody></table>
</main></body></html>
"""
    path.write_text(doc, encoding="utf-8")


def _title_of(r: NotebookRun) -> str:
    try:
        return _title(template_path(r.name))
    except CvmError:
        return r.name


# ---------------------------------------------------------------------------
# cvm batch


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def _file_stem(customer_id: str) -> str:
    """A file-system safe, collision-free name for a customer's files."""
    stem = _UNSAFE.sub("_", customer_id)[:80].lstrip(".") or "customer"
    if stem != customer_id:
        stem += "-" + hashlib.sha256(customer_id.encode()).hexdigest()[:8]
    return stem


def _frame_text(df: Any) -> str:
    if df is None or len(df) == 0:
        return ""
    return df.drop(columns=[c for c in ("line",) if c in df.columns]).to_csv(index=False, float_format="%.12g")


def _customer_keys(s: Any, ids: Iterable[str], template: Path, params: Mapping[str, Any]) -> dict[str, str]:
    """A hash per customer over everything its report shows.

    The customer's own rows (customers, measurements, fieldwork, realized),
    the study model (project), the means the report compares against, the
    template, the parameters and the cvm_kit version.
    """
    from . import __version__
    from .study import project_dict
    from .values import element_values, totals

    v = element_values(s)
    t = totals(s, v)
    means = (v.groupby(["subsegment", "element_id"])["value"].mean().to_csv(float_format="%.12g")
             + t.drop(columns=["customer_id"]).groupby("subsegment").mean().to_csv(float_format="%.12g")
             + t.drop(columns=["customer_id", "subsegment"]).mean().to_csv(float_format="%.12g"))
    common = hashlib.sha256()
    for part in (__version__, _file_hash(template), json.dumps(dict(params), sort_keys=True, default=str),
                 json.dumps(project_dict(s), sort_keys=True, default=str), means):
        common.update(part.encode())
        common.update(b"\0")
    frames = {"customers": s.customers, "measurements": s.measurements, "fieldwork": s.fieldwork,
              "realized": s.realized}
    groups = {k: (f.groupby("customer_id", sort=False) if f is not None and len(f) else None) for k, f in frames.items()}
    keys = {}
    for cid in ids:
        h = common.copy()
        for k, g in groups.items():
            rows = g.get_group(cid) if g is not None and cid in g.groups else None
            h.update(k.encode())
            h.update(_frame_text(rows).encode())
        keys[cid] = h.hexdigest()[:24]
    return keys


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) and isinstance(data.get("customers"), dict) else {"customers": {}}
    except (OSError, ValueError):
        return {"customers": {}}


def _write_manifest(path: Path, manifest: Mapping[str, Any]) -> None:
    from .io import atomic_file

    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
        _readable(tmp)


def run_batch(study: str | Path, customers: Sequence[str] | None = None, *, workers: int = 2, timeout: float = 600,
              force: bool = False, scheduler: str | None = None, out_dir: str | Path | None = None,
              parameters: Mapping[str, Any] | None = None, kernel_name: str | None = None,
              template: str | Path | None = None, progress: bool = True) -> BatchResult:
    """Execute the per-customer notebook once per customer, in parallel, with HTML for each.

    Parameters
    ----------
    study : path
        Study folder or workbook.
    customers : sequence of str, optional
        Customer ids (default every customer of the study). An id that is not
        in the study yields a failed notebook saying so, like any other
        failure.
    workers : int
        Worker processes (each executes notebooks one after another, each in
        a fresh kernel).
    timeout : float
        Seconds per notebook: papermill's per-cell ``execution_timeout`` and a
        wall-clock limit on the whole notebook (its kernel is killed).
    force : bool
        Execute every customer even if unchanged since the last run.
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``): run the
        same jobs there instead of on local processes (needs ``cvm_kit[dask]``
        and cvm_kit installed on the workers, which must see the same paths).
    out_dir : path, optional
        Default ``reports/<study label>/customers``.
    parameters : mapping, optional
        Extra notebook parameters (the template's; ``study``, ``customer_id``
        are set per job).
    kernel_name : str, optional
    template : str or path, optional
        Another per-customer template (default :data:`CUSTOMER_NOTEBOOK`).
    progress : bool
        A progress bar on stderr.

    Returns
    -------
    BatchResult
        One :class:`NotebookRun` per customer: ``ok`` (``<id>.ipynb`` and
        ``<id>.html`` written), ``skipped`` (inputs and template unchanged),
        ``failed`` or ``timeout`` (the executed notebook kept with the error
        cell, no HTML). ``out_dir/index.html`` lists them and
        ``out_dir/manifest.json`` remembers what each was made from.

    Examples
    --------
    >>> from cvm_kit.runs import run_batch
    >>> r = run_batch("tests/data/tiny", ["A1", "B2"], progress=False)   # doctest: +SKIP
    >>> [x.status for x in r.runs]                                      # doctest: +SKIP
    ['ok', 'ok']
    """
    t0 = time.perf_counter()
    study_path = Path(study).expanduser().resolve()
    s, content_hash = _load(study_path)
    label = s.label if s is not None else (study_path.stem if study_path.suffix else study_path.name)
    out = Path(out_dir) if out_dir is not None else Path("reports") / label / "customers"
    out = out.resolve()
    tpl = template_path(template if template is not None else CUSTOMER_NOTEBOOK)
    params = dict(parameters or {})
    declared = notebook_parameters(tpl)
    for k in params:
        if k in ("study", "customer_id"):
            raise CvmError(f"parameter {k!r} is set per job by the batch itself")
        if k not in declared:
            raise CvmError(f"unknown parameter {k!r} for {tpl.name}; it takes {', '.join(sorted(declared))}")
    if customers is None:
        if s is None:
            raise CvmError(f"study {study_path} does not load (run `cvm validate {study_path}`), so its customers "
                           "are unknown; name them with --customers to get a failed notebook per customer")
        ids = [str(c) for c in s.customers["customer_id"]]
    else:
        ids = list(dict.fromkeys(str(c) for c in customers))
    if not ids:
        raise CvmError("no customers to run")
    known = set(s.customers["customer_id"].astype(str)) if s is not None else set()
    keys = _customer_keys(s, [c for c in ids if c in known], tpl, params) if s is not None else {}
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    manifest = _read_manifest(manifest_path)
    entries: dict[str, Any] = manifest["customers"]
    runs: dict[str, NotebookRun] = {}
    jobs = []
    for cid in ids:
        stem = _file_stem(cid)
        nb_path, html_path = out / f"{stem}.ipynb", out / f"{stem}.html"
        prev = entries.get(cid, {})
        if (not force and cid in keys and prev.get("key") == keys[cid] and prev.get("status") == "ok"
                and nb_path.exists() and html_path.exists()):
            runs[cid] = NotebookRun(cid, "skipped", nb_path, html_path, 0.0, "")
            continue
        p = {"study": str(study_path), "customer_id": cid, **_RUN_PARAMETERS,
             **{k: v for k, v in params.items()}}
        jobs.append({"name": cid, "template": str(tpl), "notebook": str(nb_path), "html": str(html_path),
                     "parameters": p, "timeout": timeout, "kernel_name": kernel_name,
                     "provenance": _provenance(study_path, content_hash, p, tpl),
                     "title": f"{cid}: customer value report"})
    for o in _run_jobs(jobs, workers=workers, scheduler=scheduler, progress=progress, desc="cvm batch"):
        r = _to_run(o)
        runs[r.name] = r
        entries[r.name] = {"key": keys.get(r.name, ""), "status": r.status, "notebook": r.notebook.name if r.notebook else "",
                           "html": r.html.name if r.html else "", "seconds": round(r.seconds, 3), "error": r.error,
                           "study_content_hash": content_hash}
        _write_manifest(manifest_path, manifest)  # after each notebook: an interrupted batch resumes
    result = BatchResult(out, [runs[c] for c in ids], time.perf_counter() - t0, workers, scheduler)
    _write_manifest(manifest_path, manifest)
    _write_customer_index(out / "index.html", s, study_path, content_hash, result)
    return result


def _write_customer_index(path: Path, s: Any, study_path: Path, content_hash: str, result: BatchResult) -> None:
    from . import __version__
    from .io import atomic_file

    e = html.escape
    name = s.name if s is not None else study_path.name
    rows = []
    for r in result.runs:
        link = f"<a href='{e(r.html.name)}'>{e(r.name)}</a>" if r.html is not None else e(r.name)
        nb = f"<a href='{e(r.notebook.name)}'>{e(r.notebook.name)}</a>" if r.notebook is not None else ""
        rows.append(f"<tr><td>{link}</td><td>{e(r.status)}</td><td>{nb}</td><td>{e(r.error)}</td></tr>")
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(name)}: customer value reports</title>
<style>{_INDEX_CSS}</style></head><body><main>
<h1>{e(name)}: customer value reports</h1>
<p>Study <code>{e(str(study_path))}</code>, content hash <code>{e(content_hash)}</code>, cvm_kit {e(__version__)},
run {e(_dt.datetime.now().astimezone().isoformat(timespec="seconds"))}.</p>
<table><thead><tr><th>Customer</th><th>Status</th><th>Executed notebook</th><th>Error</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
</main></body></html>
"""
    with atomic_file(path) as tmp:
        tmp.write_text(doc, encoding="utf-8")
        _readable(tmp)
