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
import glob
import hashlib
import html
import json
import os
import re
import shutil
import signal
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
    "run_batch", "export_html", "NotebookRun", "BatchResult", "RunError", "RunInterrupted",
]

#: The study notebooks of ``cvm report``, in reading order.
SERIES = ("01_data_gathering", "02_estimates", "03_subsegment_variance", "04_sensitivity",
          "05_drivers_and_prospects", "07_value_documenter", "08_business_case")
#: The per-customer notebook of ``cvm batch``.
CUSTOMER_NOTEBOOK = "06_customer_report"
MANIFEST = "manifest.json"
PACK = "management_pack"  # <out>/management_pack.html and .pdf
# Parameters every run sets: batch and report runs are static (no widgets).
_RUN_PARAMETERS = {"interactive": False}


class RunError(CvmError):
    """A report run failed; ``runs`` holds every notebook's outcome (failures with their paths)."""

    def __init__(self, message: str, runs: Sequence["NotebookRun"] = ()) -> None:
        super().__init__(message)
        self.runs = list(runs)


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C (SIGINT): kernels and workers ended, what finished recorded.

    ``str(exc)`` is the one line to show; ``result`` holds the batch's runs so
    far (None for ``run_report``).
    """

    def __init__(self, message: str, result: "BatchResult | None" = None) -> None:
        super().__init__(message)
        self.message = message
        self.result = result

    def __str__(self) -> str:
        return self.message


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

    An installed wheel's copies (``cvm_kit/_bundled/notebooks``, read with
    :mod:`importlib.resources`), else the checkout's ``notebooks/`` (editable
    installs). The dashboard is in its ``dashboards/`` subfolder.

    Examples
    --------
    >>> from cvm_kit.runs import notebooks_dir
    >>> (notebooks_dir() / "06_customer_report.py").exists()
    True
    """
    from ._resources import candidates

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
    body, _ = _exporter().from_notebook_node(nb, resources={"metadata": {"name": name}})
    return body


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


def _kill_kernels(box: list, fired: threading.Event | None = None) -> None:
    """Kill the notebooks' kernels with their whole process group (whatever the notebook spawned).

    The wall-clock guard calls it (nbclient then stops with DeadKernelError),
    and so does every exit path of a job: nothing a job started outlives it.
    """
    if fired is not None:
        fired.set()
    for km in list(box):
        prov = getattr(km, "provisioner", None)
        proc = getattr(prov, "process", None)
        if proc is None:
            continue
        # jupyter_client starts kernels in a session of their own: the group is the kernel and its children
        pgid = getattr(prov, "pgid", None)
        if not pgid:
            with contextlib.suppress(OSError):
                pgid = os.getpgid(proc.pid)
        if pgid and hasattr(os, "killpg") and pgid != os.getpgrp():
            with contextlib.suppress(OSError):
                os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            if proc.poll() is None:
                proc.kill()


# What the jobs of this process have running (kernel managers) and on disk (temporary files), so an
# interrupt, a SIGTERM or a dead parent can end them all and leave no hidden file behind.
_LIVE: dict[int, tuple[list, list]] = {}
_LIVE_LOCK = threading.Lock()


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists() or path.is_symlink():
            path.unlink()


def _end_live_jobs() -> None:
    """Kill every kernel (with its process group) and remove every temporary file of this process's jobs."""
    with _LIVE_LOCK:
        live = list(_LIVE.values())
    for box, temps in live:
        _kill_kernels(box)
    warm = sys.modules.get("cvm_kit.warm")
    if warm is not None:  # the warm engine's kernels (signals only)
        with contextlib.suppress(Exception):
            warm.kill_all()
    for box, temps in live:
        for t in list(temps):
            _remove(Path(t))
        for km in list(box):  # the kernels' connection files (their normal shutdown would remove them)
            conn = getattr(km, "connection_file", "")
            if conn:
                _remove(Path(conn))


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
    timeout = float(job.get("timeout") or 600)
    box: list = []
    temps: list[Path] = []
    fired = threading.Event()
    status, error, nb = "ok", "", None
    slot = object()
    with _LIVE_LOCK:
        _LIVE[id(slot)] = (box, temps)
    log = tempfile.TemporaryFile()
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out_nb.stem}.", suffix=".ipynb", dir=out_nb.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        temps.append(tmp)
        ipc_dir = tempfile.mkdtemp(prefix="cvm-k") if os.name == "posix" else None
        if ipc_dir is not None:
            temps.append(Path(ipc_dir))
        guard = threading.Timer(timeout, _kill_kernels, args=(box, fired))
        guard.daemon = True
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
                    _kill_kernels(box)
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
            _kill_kernels(box)  # nothing may outlive the job (also on KeyboardInterrupt)
        try:
            if nb is None:
                nb = nbformat.read(str(tmp), as_version=4) if tmp.exists() and tmp.stat().st_size else None
                if nb is None:
                    nb = load_template(job["template"])
                if status == "timeout" or not any("papermill-error-cell-tag" in c.get("metadata", {}).get("tags", [])
                                                  for c in nb.cells):
                    _error_cell_first(nb, error)
            # the page is made before the notebook is published, so a failed export marks the notebook failed
            html_tmp = None
            if status == "ok" and out_html is not None:
                try:
                    body = _html_body(nb, job.get("title"), out_html.stem)
                    fd, html_name = tempfile.mkstemp(prefix=f".{out_html.stem}.", suffix=".html", dir=out_html.parent)
                    os.close(fd)
                    html_tmp = Path(html_name)
                    temps.append(html_tmp)
                    html_tmp.write_text(body, encoding="utf-8")
                    _readable(html_tmp)
                except Exception as exc:  # noqa: BLE001
                    status, error, html_tmp = "failed", f"the HTML export failed: {type(exc).__name__}: {exc}", None
            nb.metadata["cvm_kit"] = dict(job.get("provenance") or {}, status=status, error=error)
            nbformat.write(nb, str(tmp))
            _readable(tmp)
            os.replace(tmp, out_nb)
            if html_tmp is not None:
                os.replace(html_tmp, out_html)
        except Exception as exc:  # noqa: BLE001
            status, error = "failed", (error + "; " if error else "") + f"writing the outputs: {type(exc).__name__}: {exc}"
        if status != "ok" and out_html is not None and out_html.exists():
            with contextlib.suppress(OSError):
                out_html.unlink()  # never leave a stale page beside a failed notebook
    finally:
        with _LIVE_LOCK:
            _LIVE.pop(id(slot), None)
        log.close()
        for t in temps:
            _remove(t)
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
            ctx.set_forkserver_preload(["cvm_kit._fast_imports", "cvm_kit.runs", "cvm_kit.warm", "papermill",
                                        "nbconvert", "jupytext"])
        return ctx
    return mp.get_context("spawn")


# ---------------------------------------------------------------------------
# worker processes: they end with their parent, and on SIGTERM they end their kernels first


def _end_worker(*_: Any) -> None:
    """Kill this worker's kernels (process groups), remove its temporary files, exit at once."""
    with contextlib.suppress(BaseException):
        _end_live_jobs()
    os._exit(143)


def _process_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie counts as gone: it runs nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def _die_with_parent(parent: int) -> None:
    """End this worker (and its kernels) when the batch process dies, even by SIGKILL.

    On Linux the kernel sends SIGTERM when the parent (the forkserver, which
    exits when the batch process does) goes away (``PR_SET_PDEATHSIG``); a
    thread that polls the parent covers other systems and a missed signal.
    """
    ppid = os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != ppid or _process_gone(parent):  # the parent died before the request took effect
        _end_worker()

    def watch() -> None:
        while True:
            time.sleep(0.25)
            if os.getppid() != ppid or _process_gone(parent):
                _end_worker()

    threading.Thread(target=watch, name="cvm-parent-watch", daemon=True).start()


def _worker_init(parent: int, engine: str = "papermill", kernel_name: str | None = None,
                 templates: Sequence[str] = ()) -> None:
    """Pool worker set-up: Ctrl-C is the parent's to handle, SIGTERM ends the kernels, then warm up."""
    # Ctrl-C reaches the whole foreground process group; only the batch process acts on it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _end_worker)
    _die_with_parent(parent)
    if engine == "warm":
        from .warm import worker_init

        worker_init(kernel_name, templates)  # starts this worker's kernel, then _warm_worker meanwhile
    else:
        _warm_worker()


def _children(pids: set[int]) -> set[int]:
    """Every descendant of ``pids`` (Linux /proc; empty elsewhere)."""
    found: set[int] = set()
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return found
    parent_of: dict[int, int] = {}
    for e in entries:
        with contextlib.suppress(OSError, IndexError, ValueError):
            with open(f"/proc/{e}/stat", "rb") as f:
                parent_of[int(e)] = int(f.read().rsplit(b")", 1)[1].split()[1])
    frontier = set(pids)
    while frontier:
        nxt = {pid for pid, pp in parent_of.items() if pp in frontier and pid not in found}
        found |= nxt
        frontier = nxt
    return found


def _stop_pool(pool: Any) -> None:
    """Stop a process pool now: running jobs are abandoned, every worker and kernel is killed."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for p in procs:  # SIGTERM: the worker kills its kernels and removes its temporary files
        with contextlib.suppress(Exception):
            p.terminate()
    with contextlib.suppress(Exception):
        pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + 1.0
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(max(0.0, deadline - time.monotonic()))
    stuck = [p for p in procs if p.is_alive()]
    if stuck and hasattr(os, "killpg"):  # a worker that did not end in time: kill its kernels' groups first
        me = os.getpgrp()
        for pid in _children({p.pid for p in stuck}):
            with contextlib.suppress(OSError):
                pg = os.getpgid(pid)
                if pg != me:
                    os.killpg(pg, signal.SIGKILL)
    if stuck:
        for p in stuck:
            with contextlib.suppress(Exception):
                p.kill()
                p.join(0.5)


def _stop_forkserver() -> None:
    """End the forkserver now (after an interrupt): it would otherwise take seconds tearing down its heap.

    It is started again, clean, by the next pool that needs it.
    """
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        from multiprocessing import forkserver

        fs = forkserver._forkserver
        pid = fs._forkserver_pid
        if pid:
            os.kill(pid, signal.SIGKILL)
            fs._stop()  # reaps it and forgets its socket, so a later pool starts a new one


@contextlib.contextmanager
def _no_interrupts() -> Iterator[None]:
    """Ignore further Ctrl-C while an interrupted run cleans up (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


def _failed_outcome(job: Mapping[str, Any], error: str) -> dict[str, Any]:
    return {"name": job["name"], "status": "failed", "notebook": job["notebook"], "html": None,
            "seconds": 0.0, "error": error}


def _run_jobs(jobs: list[dict[str, Any]], *, workers: int, scheduler: str | None, progress: bool,
              desc: str, engine: str = "warm") -> Iterator[dict[str, Any]]:
    """Run jobs on a process pool (or a Dask cluster); yield each outcome as it completes.

    ``engine``: ``"warm"`` runs them on warm kernels (:mod:`cvm_kit.warm`,
    one pool of kernels per worker process, Dask worker or this process),
    ``"papermill"`` in a fresh kernel each (:func:`_execute`).

    If the caller stops early (Ctrl-C, an error, ``close()``), every running
    job is ended at once: pool workers get SIGTERM and kill their kernels'
    process groups; pending jobs never start.
    """
    _check_engine(engine)
    if not jobs:
        return
    from tqdm.auto import tqdm

    run = _execute
    if engine == "warm":
        from .warm import execute as run  # same job and outcome as _execute
    bar = tqdm(total=len(jobs), desc=desc, unit="nb", disable=not progress, file=sys.stderr)
    try:
        if scheduler:
            from .errors import require

            distributed = require("distributed", "dask")
            with distributed.Client(scheduler, timeout="30s") as client:
                futures = client.map(run, jobs, pure=False, key=[f"cvm-{j['name']}-{os.urandom(4).hex()}"
                                                                      for j in jobs])
                by_future = dict(zip(futures, jobs))
                try:
                    for fut in distributed.as_completed(futures):
                        try:
                            out = fut.result()
                        except Exception as exc:  # noqa: BLE001 - a lost worker fails its job only
                            out = _failed_outcome(by_future[fut], f"{type(exc).__name__} on the cluster: {exc}")
                        bar.update()
                        yield out
                except BaseException:
                    with _no_interrupts(), contextlib.suppress(Exception):
                        client.cancel(futures)  # jobs not started never start; running ones keep their time limit
                    raise
            return
        workers = max(1, min(int(workers), len(jobs)))
        if workers == 1:
            for job in jobs:  # in this process: an interrupt ends the job's kernel in _execute_here
                out = run(job)
                bar.update()
                yield out
            return
        from concurrent.futures import ProcessPoolExecutor, as_completed

        pool = ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(), initializer=_worker_init,
                                   initargs=(os.getpid(), engine, jobs[0].get("kernel_name"),
                                             list(dict.fromkeys(str(j["template"]) for j in jobs))))
        try:
            futs = {pool.submit(run, job): job for job in jobs}
            for fut in as_completed(futs):
                try:
                    out = fut.result()
                except Exception as exc:  # noqa: BLE001 - e.g. a worker killed by the OS
                    out = _failed_outcome(futs[fut], f"{type(exc).__name__}: {exc}")
                bar.update()
                yield out
        except BaseException as exc:
            with _no_interrupts():
                _stop_pool(pool)
                if isinstance(exc, KeyboardInterrupt):
                    _stop_forkserver()
            raise
        pool.shutdown(wait=True)
    finally:
        bar.close()
        if engine == "warm" and not scheduler:  # kernels of this process (workers=1) end with the run
            from .warm import shutdown

            shutdown()


ENGINES = ("warm", "papermill")


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise CvmError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")


def _to_run(out: Mapping[str, Any]) -> NotebookRun:
    return NotebookRun(name=str(out["name"]), status=str(out["status"]),
                       notebook=Path(out["notebook"]) if out.get("notebook") else None,
                       html=Path(out["html"]) if out.get("html") else None,
                       seconds=float(out.get("seconds") or 0.0), error=str(out.get("error") or ""))


# ---------------------------------------------------------------------------
# provenance


def _load(study: str | Path):
    """The validated study and its content hash; a broken study stops the run before any notebook.

    Raises
    ------
    StudyError
        Every located problem of the study, once (the notebooks would each
        repeat it).
    """
    from .study import load_study

    path = Path(study).expanduser().resolve()
    if not path.exists():
        raise CvmError(f"study {path} does not exist")
    s = load_study(path)
    return s, s.content_hash


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
               progress: bool = False, series: Sequence[str] | None = None, engine: str = "warm",
               pdf: bool = False) -> Path:
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
    series : sequence of str, optional
        Template stems or paths (default :data:`SERIES`).
    engine : {"warm", "papermill"}
        ``"warm"`` (default): notebooks run one after another on kernels that
        start once per worker and are reset between notebooks
        (:mod:`cvm_kit.warm`); ``"papermill"``: a fresh kernel per notebook.
    pdf : bool
        Also print the management pack (executive summary, every page, the
        charter and provenance) to ``out_dir/management_pack.pdf`` with
        headless Chromium. ``management_pack.html`` is always written.

    Returns
    -------
    Path
        ``out_dir/index.html``: the executive summary first, then the pages.

    Raises
    ------
    StudyError
        The study does not validate: every located problem, before any
        notebook runs.
    RunError
        A notebook failed: the message lists each failure with its executed
        notebook, kept (with papermill's error cell) in ``<out_dir>.failed/``;
        ``out_dir`` is unchanged.
    RunInterrupted
        Ctrl-C: every kernel and worker ended, ``out_dir`` unchanged.
    """
    from . import _fast_imports  # noqa: F401 - before nbformat: see the module
    study_path = Path(study).expanduser().resolve()
    s, content_hash = _load(study_path)
    label = s.label if s is not None else (study_path.stem if study_path.suffix else study_path.name)
    out = Path(out_dir) if out_dir is not None else Path("reports") / label
    out = out.resolve()
    templates = [template_path(t) for t in (SERIES if series is None else series)]
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
        outcomes: dict[str, NotebookRun] = {}
        gen = _run_jobs(jobs, workers=workers, scheduler=None, progress=progress, desc="cvm report", engine=engine)
        try:
            for o in gen:
                outcomes[str(o["name"])] = _to_run(o)
        except KeyboardInterrupt:
            gen.close()  # workers and kernels are ended before the temporary folder goes
            done = sum(r.status == "ok" for r in outcomes.values())
            raise RunInterrupted(f"interrupted: {done} of {len(jobs)} notebook(s) had finished; nothing was "
                                 f"published, {out} was left unchanged") from None
        finally:
            gen.close()
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
        from .reporting.pack import write_pack
        from .reporting.summary import executive_html

        summary_html = executive_html(s) if s is not None else ""
        provenance_html = _provenance_html(s, study_path, content_hash, params, t0, engine)
        pages = [(_title_of(r), r.notebook) for r in runs if r.notebook is not None]
        if s is not None:
            packed = write_pack(s, pages, tmp, summary_html=summary_html, closing_html=provenance_html, pdf=pdf)
            if "pdf" in packed:
                _readable(packed["pdf"])
        _write_index(tmp / "index.html", s, study_path, runs, out, summary_html=summary_html,
                     provenance_html=provenance_html, pdf=f"{PACK}.pdf" if pdf and s is not None else None)
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


def _provenance_html(s: Any, study_path: Path, content_hash: str, params: Mapping[str, Any], t0: float,
                     engine: str) -> str:
    """The charter, provenance and parameters of a run (end of the index page and of the PDF pack)."""
    from . import __version__
    from .reporting.render import render

    try:
        import papermill

        pm_version = papermill.__version__
    except Exception:  # noqa: BLE001
        pm_version = "?"
    charter = ""
    if s is not None:
        from .research import charter_html

        charter = charter_html(s)
    all_params = {"study": str(study_path), **_RUN_PARAMETERS, **params}
    return render("provenance.html.j2", charter=charter, study_name=s.name if s is not None else study_path.name,
                  study_path=str(study_path), content_hash=content_hash, version=__version__, engine=engine,
                  papermill_version=pm_version, python_version=sys.version.split()[0],
                  run_at=_dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                  seconds=f"{time.perf_counter() - t0:.0f}",
                  parameters=[(k, repr(v)) for k, v in all_params.items()])


def _write_index(path: Path, s: Any, study_path: Path, runs: Sequence[NotebookRun], out: Path, *,
                 summary_html: str, provenance_html: str, pdf: str | None) -> None:
    """The report's front page: the executive summary first, then the pages, the charter and provenance."""
    from .reporting.render import render

    pages = [{"html": r.html.name, "notebook": r.notebook.name, "title": _title_of(r), "seconds": f"{r.seconds:.1f}"}
             for r in runs if r.html is not None and r.notebook is not None]
    doc = render("index.html.j2", study_name=s.name if s is not None else study_path.name,
                 offering=getattr(s, "offering", ""), alternative=getattr(s, "next_best_alternative", ""),
                 segment=getattr(s, "segment", ""), summary=summary_html, pages=pages,
                 customers=(out / "customers" / "index.html").exists(), provenance=provenance_html, pdf=pdf)
    path.write_text(doc, encoding="utf-8")


def _title_of(r: NotebookRun) -> str:
    try:
        # the notebook as run: an analyst's own series (`cvm report --notebooks`) has its own titles
        return _title(r.notebook if r.notebook is not None and r.notebook.exists() else template_path(r.name))
    except CvmError:
        return r.name


# ---------------------------------------------------------------------------
# cvm batch


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
# Names the batch's own files take (index.html, manifest.json), and names some file systems refuse.
_RESERVED = frozenset({"index", "manifest"})
_DEVICES = frozenset({"con", "prn", "aux", "nul"} | {f"{d}{i}" for d in ("com", "lpt") for i in range(10)})


def _file_stem(customer_id: str) -> str:
    """A file-system safe name for a customer's files (a hash is added when the id had to be changed)."""
    stem = _UNSAFE.sub("_", customer_id)[:80].lstrip(".") or "customer"
    if stem != customer_id:
        stem += "-" + hashlib.sha256(customer_id.encode()).hexdigest()[:8]
    return stem


def _file_stems(ids: Iterable[str]) -> dict[str, str]:
    """A file name per customer that no other customer's and no output of the batch can take.

    Names are compared ignoring case (two ids differing only by case share a
    file on Windows and macOS) and never equal ``index`` or ``manifest``;
    where they would, a hash of the id is added.

    Examples
    --------
    >>> from cvm_kit.runs import _file_stems
    >>> _file_stems(["A1", "index"])["A1"], _file_stems(["A1", "index"])["index"] != "index"
    ('A1', True)
    """
    ids = list(dict.fromkeys(str(c) for c in ids))
    stems = {cid: _file_stem(cid) for cid in ids}
    for rounds in range(5):
        groups: dict[str, list[str]] = {}
        for cid, st in stems.items():
            groups.setdefault(st.lower(), []).append(cid)
        clash = [cid for key, members in groups.items()
                 if len(members) > 1 or key in _RESERVED or key.split(".")[0] in _DEVICES for cid in members]
        if not clash:
            return stems
        for cid in clash:
            base = _UNSAFE.sub("_", cid.replace(".", "_"))[:80] or "customer"
            stems[cid] = f"{base}-{hashlib.sha256(cid.encode()).hexdigest()[:8 + 4 * (rounds + 1)]}"
    # pathological ids (hash prefixes that meet): number them, still deterministic for this set
    return {cid: f"{st}-{i}" for i, (cid, st) in enumerate(stems.items())}


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
              template: str | Path | None = None, progress: bool = True, engine: str = "warm") -> BatchResult:
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
    engine : {"warm", "papermill"}
        ``"warm"`` (default): notebooks run one after another on kernels that
        start once per worker and are reset between notebooks
        (:mod:`cvm_kit.warm`); ``"papermill"``: a fresh kernel per notebook.

    Returns
    -------
    BatchResult
        One :class:`NotebookRun` per customer: ``ok`` (``<id>.ipynb`` and
        ``<id>.html`` written), ``skipped`` (inputs and template unchanged),
        ``failed`` or ``timeout`` (the executed notebook kept with the error
        cell, no HTML). Files are named after the id, made file-system safe;
        an id that would take the name of another customer's files (ids
        differing only by case) or of the batch's own (``index``,
        ``manifest``) gets a hash of the id added. ``out_dir/manifest.json``
        remembers what each report was made from, and ``out_dir/index.html``
        lists every customer with a report in the folder, from any run.

    Raises
    ------
    StudyError
        The study does not validate: every located problem, before any
        notebook runs.
    RunInterrupted
        Ctrl-C: running kernels and workers ended, temporary files removed,
        what finished recorded in the manifest and the index.

    Examples
    --------
    >>> from cvm_kit.runs import run_batch
    >>> r = run_batch("tests/data/tiny", ["A1", "B2"], progress=False)   # doctest: +SKIP
    >>> [x.status for x in r.runs]                                      # doctest: +SKIP
    ['ok', 'ok']
    """
    from . import _fast_imports  # noqa: F401 - before nbformat: see the module
    t0 = time.perf_counter()
    study_path = Path(study).expanduser().resolve()
    s, content_hash = _load(study_path)
    out = Path(out_dir) if out_dir is not None else Path("reports") / s.label / "customers"
    out = out.resolve()
    tpl = template_path(template if template is not None else CUSTOMER_NOTEBOOK)
    params = dict(parameters or {})
    declared = notebook_parameters(tpl)
    for k in params:
        if k in ("study", "customer_id"):
            raise CvmError(f"parameter {k!r} is set per job by the batch itself")
        if k not in declared:
            raise CvmError(f"unknown parameter {k!r} for {tpl.name}; it takes {', '.join(sorted(declared))}")
    study_ids = [str(c) for c in s.customers["customer_id"]]
    ids = study_ids if customers is None else list(dict.fromkeys(str(c) for c in customers))
    if not ids:
        raise CvmError("no customers to run")
    keys = _customer_keys(s, study_ids, tpl, params)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    manifest = _read_manifest(manifest_path)
    entries: dict[str, Any] = manifest["customers"]
    stems = _file_stems(study_ids + ids + list(entries))
    runs: dict[str, NotebookRun] = {}
    jobs = []
    for cid in ids:
        stem = stems[cid]
        nb_path, html_path = out / f"{stem}.ipynb", out / f"{stem}.html"
        prev = entries.get(cid, {})
        if (not force and cid in keys and prev.get("key") == keys[cid] and prev.get("status") == "ok"
                and prev.get("notebook") == nb_path.name and prev.get("html") == html_path.name
                and nb_path.exists() and html_path.exists()):
            runs[cid] = NotebookRun(cid, "skipped", nb_path, html_path, 0.0, "")
            continue
        p = {"study": str(study_path), "customer_id": cid, **_RUN_PARAMETERS,
             **{k: v for k, v in params.items()}}
        jobs.append({"name": cid, "template": str(tpl), "notebook": str(nb_path), "html": str(html_path),
                     "parameters": p, "timeout": timeout, "kernel_name": kernel_name,
                     "provenance": _provenance(study_path, content_hash, p, tpl),
                     "title": f"{cid}: customer value report" + (" (internal)" if p.get("internal") else "")})
    # files of an earlier run under another name (the set of ids changed a name) go before anything is written
    claimed = {f"{st}.{ext}" for st in stems.values() for ext in ("ipynb", "html")}
    for j in jobs:
        prev = entries.get(j["name"], {})
        for f in (prev.get("notebook"), prev.get("html")):
            if f and f not in claimed and Path(f).name == f:
                _remove(out / f)

    def record(o: Mapping[str, Any]) -> None:
        r = _to_run(o)
        runs[r.name] = r
        entries[r.name] = {"key": keys.get(r.name, ""), "status": r.status,
                           "notebook": r.notebook.name if r.notebook else "", "html": r.html.name if r.html else "",
                           "seconds": round(r.seconds, 3), "error": r.error, "study_content_hash": content_hash,
                           "run_at": _dt.datetime.now().astimezone().isoformat(timespec="seconds")}
        _write_manifest(manifest_path, manifest)  # after each notebook: an interrupted batch resumes

    gen = _run_jobs(jobs, workers=workers, scheduler=scheduler, progress=progress, desc="cvm batch", engine=engine)
    interrupted = False
    try:
        for o in gen:
            record(o)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        gen.close()  # on an interrupt: workers and kernels ended here
    if interrupted:
        with _no_interrupts():
            for j in jobs:
                if j["name"] not in runs:  # a job killed mid-way may leave its hidden temporary files
                    stem = Path(j["notebook"]).stem
                    for f in out.glob(f".{glob.escape(stem)}.*"):
                        _remove(f)
                    runs[j["name"]] = NotebookRun(j["name"], "interrupted", None, None, 0.0,
                                                  "not finished: interrupted")
            result = BatchResult(out, [runs[c] for c in ids], time.perf_counter() - t0, workers, scheduler)
            _write_manifest(manifest_path, manifest)
            _write_customer_index(out / "index.html", s, study_path, content_hash, manifest, study_ids, keys)
            done = [j for j in jobs if runs[j["name"]].status != "interrupted"]
            raise RunInterrupted(
                f"interrupted: {len(done)} of {len(jobs)} notebook(s) finished "
                f"({sum(runs[j['name']].status == 'ok' for j in done)} ok), recorded in {manifest_path} and "
                f"{out / 'index.html'}; {len(jobs) - len(done)} not run", result)
    result = BatchResult(out, [runs[c] for c in ids], time.perf_counter() - t0, workers, scheduler)
    _write_manifest(manifest_path, manifest)
    _write_customer_index(out / "index.html", s, study_path, content_hash, manifest, study_ids, keys)
    return result


_STATE = {"ok": "ok", "skipped": "ok", "failed": "failed", "timeout": "timed out"}


def _write_customer_index(path: Path, s: Any, study_path: Path, content_hash: str, manifest: Mapping[str, Any],
                          study_ids: Sequence[str], keys: Mapping[str, str]) -> None:
    """The batch's index page: every customer with a report on disk (from the manifest), not only this run's."""
    from . import __version__
    from .io import atomic_file

    e = html.escape
    out = path.parent
    entries = manifest.get("customers", {})
    order = [c for c in study_ids if c in entries] + sorted(c for c in entries if c not in set(study_ids))
    rows = []
    for cid in order:
        ent = entries[cid]
        nb_name, html_name = str(ent.get("notebook") or ""), str(ent.get("html") or "")
        if not nb_name or not (out / nb_name).exists():
            continue  # no report on disk
        status = str(ent.get("status", ""))
        ok = status == "ok" and html_name and (out / html_name).exists()
        link = f"<a href='{e(html_name)}'>{e(cid)}</a>" if ok else e(cid)
        nb = f"<a href='{e(nb_name)}'>{e(nb_name)}</a>"
        if cid not in keys:
            current = "no longer in the study"
        elif ent.get("key") == keys[cid]:
            current = "yes"
        else:
            current = "no: inputs, template or parameters changed since"
        rows.append(f"<tr><td>{link}</td><td>{e(_STATE.get(status, status))}</td><td>{e(str(ent.get('run_at', '')))}"
                    f"</td><td>{e(current)}</td><td>{nb}</td><td>{e(str(ent.get('error', '')))}</td></tr>")
    name = s.name if s is not None else study_path.name
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{e(name)}: customer value reports</title>
<style>{_INDEX_CSS}</style></head><body><main>
<h1>{e(name)}: customer value reports</h1>
<p>Study <code>{e(str(study_path))}</code>, content hash <code>{e(content_hash)}</code>, cvm_kit {e(__version__)},
index written {e(_dt.datetime.now().astimezone().isoformat(timespec="seconds"))}. Every customer with a report in this
folder is listed, whichever run made it.</p>
<table><thead><tr><th>Customer</th><th>Status</th><th>Made</th><th>Up to date</th><th>Executed notebook</th>
<th>Error</th></tr></thead>
<tbody>{''.join(rows)}</tbody></table>
</main></body></html>
"""
    with atomic_file(path) as tmp:
        tmp.write_text(doc, encoding="utf-8")
        _readable(tmp)
