"""Executing one notebook: the job and its outcome, the kernel guard, what an interrupt must end.

A :class:`Job` says what to run and where to write it; :func:`_execute` runs
it in a fresh papermill kernel under a wall-clock limit (the guard kills the
kernel's whole process group) and returns an :class:`Outcome`, never an
exception. Jobs and outcomes are plain dicts (typed here) because they cross
process boundaries (the process pool, Dask) and the warm engine
(:mod:`cvm_kit.reporting.warm`) takes and returns the same ones.
:class:`NotebookRun` is an outcome as the caller reads it.
"""

from __future__ import annotations

import contextlib
import html
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence, TypedDict

from ..errors import CvmError
from .export import _html_body, _readable
from .notebooks import load_template

__all__ = ["Job", "Outcome", "NotebookRun", "RunError", "RunInterrupted"]


class Job(TypedDict):
    """One notebook to execute (what the pool, Dask and the warm engine are handed)."""

    name: str  # the customer id (batch) or the notebook's stem (report)
    template: str  # the template's path
    notebook: str  # where the executed notebook goes
    html: str | None  # where its page goes (None: no page)
    parameters: dict[str, Any]
    timeout: float  # seconds per cell and for the whole notebook
    kernel_name: str | None
    provenance: dict[str, Any]  # recorded in the notebook's metadata
    title: str  # the page title
    banner: str  # a mark at the top of the page ("" none; a batch page that is not a customer report)


class Outcome(TypedDict):
    """What became of a :class:`Job`."""

    name: str
    status: str  # "ok", "failed" or "timeout"
    notebook: str
    html: str | None
    seconds: float
    error: str


class RunError(CvmError):
    """A report run failed; ``runs`` holds every notebook's outcome (failures with their paths)."""

    def __init__(self, message: str, runs: Sequence[NotebookRun] = ()) -> None:
        super().__init__(message)
        self.runs = list(runs)


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C (SIGINT): kernels and workers ended, what finished recorded.

    ``str(exc)`` is the one line to show; ``result`` holds the batch's runs so
    far (None for ``run_report``).
    """

    def __init__(self, message: str, result: Any = None) -> None:
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
        """True when the notebook ran (or was up to date and skipped)."""
        return self.status in ("ok", "skipped")




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
    for box, _temps in live:
        _kill_kernels(box)
    warm = sys.modules.get("cvm_kit.reporting.warm")
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


def _execute(job: Job) -> Outcome:
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


def _execute_here(job: Job) -> Outcome:
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    t0 = time.perf_counter()
    out_nb = Path(job["notebook"])
    html = job.get("html")
    out_html = Path(html) if html else None
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
        from .warm_kernel import ipc_dir as _short_dir  # Unix socket paths are short: not under a deep TMPDIR

        ipc_dir = _short_dir("cvm-k") if os.name == "posix" else None
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
                    body = _html_body(nb, job.get("title"), out_html.stem, str(job.get("banner") or ""))
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
            if html_tmp is not None and out_html is not None:
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



def _failed_outcome(job: Job, error: str) -> Outcome:
    return {"name": job["name"], "status": "failed", "notebook": job["notebook"], "html": None,
            "seconds": 0.0, "error": error}


def _to_run(out: Mapping[str, Any]) -> NotebookRun:
    return NotebookRun(name=str(out["name"]), status=str(out["status"]),
                       notebook=Path(out["notebook"]) if out.get("notebook") else None,
                       html=Path(out["html"]) if out.get("html") else None,
                       seconds=float(out.get("seconds") or 0.0), error=str(out.get("error") or ""))

