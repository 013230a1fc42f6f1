"""The warm-kernel engine: notebook after notebook on kernels that start once per worker.

``cvm batch`` and ``cvm report`` (engine ``"warm"``, the default) execute
their notebooks here rather than with one fresh papermill kernel each. A
worker process (or Dask worker, or the calling process) keeps a small pool of
Jupyter kernels, managed with jupyter_client and driven by nbclient. Each
kernel starts once, imports what the notebooks import (cvm_kit, pandas,
matplotlib and the templates' own top-level imports) and then executes
notebook after notebook:

* parameters are injected the papermill way, with papermill's own functions
  (``load_notebook_node``, ``parameterize_notebook``,
  ``prepare_notebook_metadata``, its ``NotebookExecutionManager`` and
  ``PapermillNotebookClient``, ``raise_for_execution_errors``): a cell tagged
  ``injected-parameters`` after the ``parameters`` cell, papermill's metadata
  on the notebook and on every cell, papermill's error cells on failure;
* between notebooks the kernel is put back as a fresh kernel would show it
  (:mod:`cvm_kit._warm_kernel`): namespace, figures, rcParams, warnings,
  working directory, environment, monkeypatched cvm_kit modules and more. The
  reset runs while the worker writes the previous notebook's HTML;
* ``report.open_study`` is served from a per-kernel cache keyed on the
  study's path and content hash, so one study load serves every customer
  (and a changed study is loaded again);
* a kernel that dies, runs past the time limit or grows past the memory
  limit is killed with its process group (kernels run in a session of their
  own) and replaced; a notebook is retried once on a fresh kernel only when
  its kernel died before running any cell. A kernel kills itself and its
  children when the process that started it is gone.

:func:`execute` is the job function (same job and outcome dicts as
``cvm_kit.reporting.execute._execute``); :func:`worker_init` the process-pool initializer;
:func:`shutdown` stops this process's kernels.

With two pool workers or more, kernels are forked from one process that made
the imports once (:mod:`cvm_kit.reporting.zygote`; ``CVM_ZYGOTE=0``: not).

Tuning (environment, read when a pool is made): ``CVM_WARM_MEMORY_MB``
(resident memory per kernel, default 4096), ``CVM_WARM_MAX_NOTEBOOKS``
(notebooks before a kernel is recycled, default 500), ``CVM_WARM_IDLE_S``
(an idle kernel outside a local batch is stopped after this, default 300).
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import functools
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .execute import Job, Outcome

from .warm_kernel import (  # noqa: F401 - re-exported: cvm_kit.warm is this module
    _IPC_PATH_MAX,
    _KERNEL_MODULE,
    _START_ARGS,
    BASE_IMPORTS,
    KernelDied,
    WarmKernel,
    _env_number,
    _kill_group,
    _log,
    _Loop,
    _loop,
    _rss,
    ipc_dir,
)

__all__ = ["KernelPool", "WarmKernel", "execute", "kill_all", "pool", "shutdown", "summary_job", "template_imports",
           "worker_init"]


# ---------------------------------------------------------------------------
# the pool of a process


class KernelPool:
    """This process's warm kernels: one per concurrent job, started on demand, reused, replaced when broken."""

    def __init__(self, *, memory_mb: float | None = None, max_notebooks: int | None = None,
                 idle_seconds: float | None = None) -> None:
        self.memory_limit = int((memory_mb if memory_mb is not None else _env_number("CVM_WARM_MEMORY_MB", 4096))
                                * 2**20)
        self.max_notebooks = int(max_notebooks if max_notebooks is not None
                                 else _env_number("CVM_WARM_MAX_NOTEBOOKS", 500))
        self.idle_seconds = idle_seconds if idle_seconds is not None else _env_number("CVM_WARM_IDLE_S", 300)
        self._lock = threading.Lock()
        self._idle: list[WarmKernel] = []
        self._all: set[WarmKernel] = set()
        self._reaper: threading.Timer | None = None
        self.started = 0  # kernels started (for the tests and the benchmark)
        self.zygote: str | None = None  # a run's zygote socket: new kernels are forked there (reporting.zygote)

    def _new(self, kernel_name: str, imports: Sequence[tuple[str, Sequence[str]]], start_timeout: float) -> WarmKernel:
        k = WarmKernel(kernel_name, imports, start_timeout=start_timeout, zygote=self.zygote)
        with self._lock:
            self._all.add(k)
            self.started += 1
        k.start_async()
        return k

    def prestart(self, kernel_name: str, imports: Sequence[tuple[str, Sequence[str]]] = (), start_timeout: float = 60) -> None:
        """Start a kernel now (in the background) so the first job finds it warm."""
        k = self._new(kernel_name, imports, start_timeout)
        with self._lock:
            self._idle.append(k)

    def acquire(self, kernel_name: str, imports: Sequence[tuple[str, Sequence[str]]] = (), *, start_timeout: float = 60) -> WarmKernel:
        """A ready kernel for one job (an idle one, else a new one); raises KernelDied if a new one fails to start."""
        while True:
            with self._lock:
                k = next((x for x in self._idle if x.kernel_name == kernel_name), None)
                if k is not None:
                    self._idle.remove(k)
            if k is None:
                break
            try:
                k.ready(max(start_timeout, 60))
                if k.rss() > self.memory_limit or (self.max_notebooks and k.notebooks >= self.max_notebooks):
                    raise KernelDied("recycled")  # grew past the memory limit: a fresh one instead
                if k.cwd != os.getcwd():
                    k.reset_async(os.getcwd())
                    k.ready(60)
                return k
            except KernelDied as exc:
                _log.info("warm kernel %s replaced: %s", k.pid, exc)
                self.discard(k)  # a kernel lost between notebooks: nothing of this job ran on it
        k = self._new(kernel_name, imports, start_timeout)
        try:
            k.ready(start_timeout + 5)
        except KernelDied as exc:
            tail = _log_tail(k.log)
            self.discard(k)
            raise KernelDied(f"the kernel did not start: {exc}" + (f" (kernel said: {tail})" if tail else "")) from exc
        return k

    def release(self, k: WarmKernel) -> None:
        """Back to the pool after a notebook; its reset starts now and runs while the worker writes HTML."""
        if k.dead or not k.alive():
            self.discard(k)
            return
        k.reset_async(os.getcwd())
        k.idle_since = time.monotonic()
        with self._lock:
            self._idle.append(k)
        self._schedule_reaper()

    def discard(self, k: WarmKernel) -> None:
        """Forget a kernel that was stopped or broke (it is never handed out again)."""
        with self._lock:
            self._all.discard(k)
            if k in self._idle:
                self._idle.remove(k)
        k.kill()

    def shutdown(self) -> None:
        """Kill every kernel of this pool (idle or not)."""
        with self._lock:
            kernels = list(self._all)
            self._all.clear()
            self._idle.clear()
            if self._reaper is not None:
                self._reaper.cancel()
                self._reaper = None
        for k in kernels:
            k.kill()

    @property
    def kernels(self) -> list[WarmKernel]:
        """Every kernel this pool started and has not discarded (idle or busy)."""
        with self._lock:
            return list(self._all)

    def _schedule_reaper(self) -> None:
        if not self.idle_seconds or self.idle_seconds <= 0:
            return
        with self._lock:
            if self._reaper is not None:
                return
            self._reaper = threading.Timer(self.idle_seconds, self._reap)
            self._reaper.daemon = True
            self._reaper.start()

    def _reap(self) -> None:
        now = time.monotonic()
        with self._lock:
            self._reaper = None
            old = [k for k in self._idle if now - k.idle_since >= self.idle_seconds]
            for k in old:
                self._idle.remove(k)
                self._all.discard(k)
            more = bool(self._idle)
        for k in old:
            k.kill()
        if more:
            self._schedule_reaper()


_LOCK = threading.Lock()  # guards this process's pool
_POOL: KernelPool | None = None
_POOL_PID = 0
_HOOKED_PID = 0


def pool() -> KernelPool:
    """This process's kernel pool (made on first use; a forked child makes its own)."""
    global _POOL, _POOL_PID, _HOOKED_PID
    with _LOCK:
        if _POOL is None or _POOL_PID != os.getpid():
            _POOL, _POOL_PID = KernelPool(), os.getpid()
        if _HOOKED_PID != os.getpid():
            _HOOKED_PID = os.getpid()
            atexit.register(_shutdown_at_exit, os.getpid())
            with contextlib.suppress(Exception):
                from multiprocessing import util

                # pool workers leave through os._exit: atexit does not run there, multiprocessing finalizers do
                util.Finalize(None, _shutdown_at_exit, args=(os.getpid(),), exitpriority=100)
        return _POOL


def _shutdown_at_exit(pid: int) -> None:
    if pid == os.getpid() and _POOL is not None and _POOL_PID == pid:
        for k in list(_POOL._all):
            _kill_group(k.pid)
            proc = getattr(getattr(k.km, "provisioner", None), "process", None)
            with contextlib.suppress(Exception):
                if proc is not None:
                    proc.wait(timeout=2)
            shutil.rmtree(k.dir, ignore_errors=True)
        _POOL._all.clear()
        _POOL._idle.clear()


def shutdown() -> None:
    """Stop this process's warm kernels and drop its pool (the next job makes a new one)."""
    global _POOL
    with _LOCK:
        p, _POOL = (_POOL, None) if _POOL_PID == os.getpid() else (None, _POOL)
    if p is not None:
        p.shutdown()


# ---------------------------------------------------------------------------
# templates


@functools.lru_cache(maxsize=32)
def _template_cached(path: str, stamp: tuple[int, int]) -> Any:
    from .notebooks import load_template

    return load_template(path)


def _template(path: str | Path) -> Any:
    """The template as notebooks.load_template reads it, parsed once per worker while the file is unchanged."""
    st = os.stat(path)
    return _template_cached(str(path), (st.st_mtime_ns, st.st_size))


def _import_statements(source: str) -> list[tuple[str, list[str]]]:
    """A cell's top-level imports as ``(module, names)``: ``import a.b`` -> ("a.b", []), ``from a import b, c``
    -> ("a", ["b", "c"]). Read with ast, never run: the kernel imports these modules by name."""
    keep = "\n".join(ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!")))
    try:
        tree = ast.parse(keep)
    except SyntaxError:
        return []
    out: list[tuple[str, list[str]]] = []
    for node in tree.body:  # top level only: an import under `if interactive:` stays where it is
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.append((node.module, [a.name for a in node.names if a.name != "*"]))
    return out


def template_imports(templates: Iterable[str | Path]) -> list[tuple[str, list[str]]]:
    """The top-level imports of the templates' code cells, ``(module, names)`` (a warm kernel imports them at start).

    A jupytext percent source is read as the Python file it is (its cells'
    top level is the file's: markdown is comments, magics commented out);
    an ``.ipynb`` cell by cell. Then the libraries those cvm_kit modules
    load on first use (:data:`_LIBRARIES`), so no notebook pays for them.
    """
    out: list[tuple[str, list[str]]] = []
    for t in templates:
        try:
            if str(t).endswith(".py"):
                sources = [Path(t).read_text(encoding="utf-8")]
            else:
                sources = [c.source for c in _template(t).cells if c.get("cell_type") == "code"]
        except Exception:  # noqa: BLE001 - the job reports an unreadable template
            continue
        for source in sources:
            out.extend(x for x in _import_statements(source) if x not in out)
    for module, _ in list(out):
        for lib in _LIBRARIES.get(module, ()):
            if (lib, []) not in out:
                out.append((lib, []))
    return out


_STATS = ("scipy.stats", "statsmodels.stats.weightstats")
#: Heavy libraries a cvm_kit module imports inside its functions (kept out of ``import cvm_kit``): a warm
#: kernel whose templates import the module loads them at start, while it waits for its first notebook.
_LIBRARIES: dict[str, tuple[str, ...]] = {
    "cvm_kit.variance": _STATS + ("statsmodels.stats.multitest", "statsmodels.stats.oneway"),
    "cvm_kit.hypothesis_tests": _STATS,
    "cvm_kit.sensitivity": ("scipy.stats",),
    "cvm_kit.segments": ("scipy.stats", "statsmodels.regression.linear_model"),
    "cvm_kit.prospects": ("statsmodels.regression.linear_model",),
    "cvm_kit.documenter": ("statsmodels.stats.proportion",),
    "cvm_kit.plotting.distributions": ("seaborn",),
}


def _log_tail(log: Any) -> str:
    from .execute import _log_tail as tail

    return tail(log)


def _spec_name(template: str) -> str:
    """The kernel a template names (its kernelspec), read without papermill: the worker starts it first."""
    if str(template).endswith(".py"):
        import re

        head = Path(template).read_text(encoding="utf-8")[:4000]
        m = re.search(r"^#\s+kernelspec:\s*$(?:\n#\s{4,}.*$)*?\n#\s{4,}name:\s*(\S+)\s*$", head, re.M)
        if m:
            return m.group(1).strip("'\"")
    return _kernel_name(_template(template), None)


def _kernel_name(nb: Any, name: str | None) -> str:
    from papermill.engines import papermill_engines

    return papermill_engines.nb_kernel_name(engine_name=None, nb=nb, name=name)


@functools.lru_cache(maxsize=16)
def _is_python(kernel_name: str) -> bool:
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        return (KernelSpecManager().get_kernel_spec(kernel_name).language or "").lower() == "python"
    except Exception:  # noqa: BLE001 - unknown kernel: the cold path reports it
        return False


def _prepare(template: Any, parameters: Mapping[str, Any], kernel_name: str | None, input_path: str,
             output_path: str) -> Any:
    """papermill's preparation of a notebook (execute_notebook before the engine), on a copy of the template."""
    from papermill.execute import prepare_notebook_metadata, remove_error_markers
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = load_notebook_node(template)  # a copy, with papermill's metadata skeleton
    if parameters:
        nb = parameterize_notebook(nb, dict(parameters), False, kernel_name=kernel_name, language=None,
                                   engine_name=None)
    nb = prepare_notebook_metadata(nb, input_path, output_path, False)
    return remove_error_markers(nb)


# ---------------------------------------------------------------------------
# the job


def worker_init(kernel_name: str | None = None, templates: Sequence[str] = (), zygote: str | None = None) -> None:
    """Process-pool initializer: start this worker's kernel (forked by ``zygote`` if given), then load papermill
    and the HTML template meanwhile."""
    from .export import _warm_worker

    pool().zygote = zygote
    try:
        name = kernel_name or _spec_name(templates[0]) if templates else (kernel_name or "python3")
        if _is_python(name):
            pool().prestart(name, template_imports(templates))
    except Exception:  # noqa: BLE001 - the first job starts it and reports what goes wrong
        pass
    _warm_worker()


def execute(job: Job) -> Outcome:
    """Execute one notebook job on a warm kernel; never raises (the outcome says what went wrong).

    ``job`` and the outcome are those of ``cvm_kit.reporting.execute._execute``:
    ``name, template, notebook, html, parameters, timeout, kernel_name,
    provenance, title`` in; ``name, status, notebook, html, seconds, error``
    out. A template for a kernel that is not Python runs on the cold path.
    """
    from papermill.engines import NotebookExecutionManager
    from papermill.exceptions import PapermillExecutionError
    from papermill.execute import raise_for_execution_errors
    from papermill.log import logger

    from . import execute

    t0 = time.perf_counter()
    out_nb = Path(job["notebook"])
    html = job.get("html")
    out_html = Path(html) if html else None
    timeout = float(job.get("timeout") or 600)
    memory_mb: Any = job.get("memory_limit_mb")  # not a Job key: a test's way to set a low limit for one job
    status, error, nb = "ok", "", None
    p = pool()
    memory_limit = int(float(memory_mb) * 2**20) if memory_mb else p.memory_limit
    kernel: WarmKernel | None = None
    try:
        template = _template(job["template"])
        kname = _kernel_name(template, job.get("kernel_name") or None)
        if not _is_python(kname):
            return execute._execute(job)
        imports = template_imports([job["template"]])
        start_timeout = max(1.0, min(60.0, timeout))
        for attempt in (1, 2):
            nb = _prepare(template, job["parameters"], job.get("kernel_name") or None, str(job["template"]),
                          str(out_nb))
            try:
                kernel = p.acquire(kname, imports, start_timeout=start_timeout)
            except KernelDied:
                if attempt == 2:
                    raise
                continue  # a kernel that died while starting ran nothing yet: start it once more
            nb_man = NotebookExecutionManager(nb, output_path=None, progress_bar=False, log_output=False,
                                              autosave_cell_every=30)
            client_kw = {"timeout": int(max(1, timeout)), "startup_timeout": int(start_timeout),
                         "kernel_name": kname, "log": logger, "log_output": False, "stdout_file": None,
                         "stderr_file": None}
            nb_man.notebook_start()
            try:
                res = kernel.run(nb_man, client_kw, timeout=timeout, memory_limit=memory_limit)
            finally:
                nb_man.cleanup_pbar()
                nb_man.notebook_complete()
            nb = nb_man.nb
            exc = res["exc"]
            if exc is None:
                raise_for_execution_errors(nb, None)  # papermill's error cells and PapermillExecutionError
                break
            kernel.dead = True  # stopped mid-notebook: never reused
            if attempt == 1 and not res["started"] and not res["fired"] and (
                    isinstance(exc, KernelDied) or type(exc).__name__ == "DeadKernelError"):
                p.discard(kernel)
                kernel = None
                continue  # died before running any cell: once more on a fresh kernel
            if res["fired"] == "timeout":
                status = "timeout"
                error = f"no result within the time limit of {timeout:g} s ({type(exc).__name__})"
            elif res["fired"] == "memory":
                error = (f"the kernel used more than {memory_limit / 2**20:.0f} MB of memory and was stopped "
                         f"({type(exc).__name__})")
                status = "failed"
            else:
                status = "timeout" if "Timeout" in type(exc).__name__ else "failed"
                msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                error = (f"no result within the time limit of {timeout:g} s ({type(exc).__name__})"
                         if status == "timeout" else f"{type(exc).__name__}: {msg}")
                tail = _log_tail(kernel.log)
                error += f" (kernel said: {tail})" if tail and status != "timeout" else ""
            break
    except PapermillExecutionError as exc:
        status, error = "failed", f"{exc.ename}: {exc.evalue}"
    except BaseException as exc:
        if kernel is not None:
            kernel.dead = True
        if not isinstance(exc, Exception):
            if kernel is not None:
                p.discard(kernel)
            raise
        status = "failed"
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        error = f"{type(exc).__name__}: {msg}"
    finally:
        if kernel is not None:
            if kernel.dead:
                p.discard(kernel)
            else:
                p.release(kernel)  # its reset overlaps the writing below
    status, error = _publish(job, nb, status, error, out_nb, out_html)
    return {"name": job["name"], "status": status, "notebook": str(out_nb),
            "html": str(out_html) if (out_html is not None and status == "ok") else None,
            "seconds": time.perf_counter() - t0, "error": error}


def _publish(job: Mapping[str, Any], nb: Any, status: str, error: str, out_nb: Path,
             out_html: Path | None) -> tuple[str, str]:
    """Write the notebook and its page as the cold path (``execute._execute_here``) does; the final status and error.

    The page is made before the notebook is published (a failed export marks
    the notebook failed); both are written to temporary names in their folder
    and renamed into place; a failed notebook never keeps a stale page.
    """
    import nbformat

    from . import execute, export, notebooks

    temps: list[Path] = []
    slot = object()
    live = execute._LIVE
    if live is not None:  # an interrupted worker removes these temporary files (execute._end_live_jobs)
        with execute._LIVE_LOCK:
            live[id(slot)] = ([], temps)
    try:
        out_nb.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out_nb.stem}.", suffix=".ipynb", dir=out_nb.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        temps.append(tmp)
        if nb is None:
            nb = notebooks.load_template(job["template"])
        if status != "ok" and (status == "timeout" or not any(
                "papermill-error-cell-tag" in c.get("metadata", {}).get("tags", []) for c in nb.cells)):
            execute._error_cell_first(nb, error)
        html_tmp = None
        if status == "ok" and out_html is not None:
            try:
                body = export._html_body(nb, job.get("title"), out_html.stem, str(job.get("banner") or ""))
                fd, html_name = tempfile.mkstemp(prefix=f".{out_html.stem}.", suffix=".html", dir=out_html.parent)
                os.close(fd)
                html_tmp = Path(html_name)
                temps.append(html_tmp)
                html_tmp.write_text(body, encoding="utf-8")
                export._readable(html_tmp)
            except Exception as exc:  # noqa: BLE001
                status, error, html_tmp = "failed", f"the HTML export failed: {type(exc).__name__}: {exc}", None
        nb.metadata["cvm_kit"] = dict(job.get("provenance") or {}, status=status, error=error)
        nbformat.write(nb, str(tmp))
        export._readable(tmp)
        os.replace(tmp, out_nb)
        if html_tmp is not None and out_html is not None:
            os.replace(html_tmp, out_html)
    except Exception as exc:  # noqa: BLE001
        status, error = "failed", (error + "; " if error else "") + f"writing the outputs: {type(exc).__name__}: {exc}"
    finally:
        if live is not None:
            with execute._LIVE_LOCK:
                live.pop(id(slot), None)
        for t in temps:
            with contextlib.suppress(OSError):
                if t.exists():
                    t.unlink()
    if status != "ok" and out_html is not None and out_html.exists():
        with contextlib.suppress(OSError):
            out_html.unlink()  # never leave a stale page beside a failed notebook
    return status, error


def summary_job(job: Mapping[str, Any]) -> str:
    """The executive summary HTML of a study, made on a warm kernel of this process.

    The kernel has scipy and matplotlib loaded and the study cached, which
    the calling process has not; the summary is the same HTML the caller's
    :func:`cvm_kit.reporting.summary.executive_html` would make. ``job``:
    ``study`` (path), ``templates`` (the run's, for the kernel's name and
    imports), ``kernel_name``, ``timeout``. Raises when it cannot (the caller
    then makes the summary itself).
    """
    templates = [str(t) for t in job.get("templates") or ()]
    tpl = _template(templates[0]) if templates else None
    kname = _kernel_name(tpl, job.get("kernel_name") or None) if tpl is not None else (job.get("kernel_name")
                                                                                         or "python3")
    if not _is_python(kname):
        raise KernelDied(f"kernel {kname!r} is not a Python kernel")
    timeout = float(job.get("timeout") or 600)
    p = pool()
    k = p.acquire(kname, template_imports(templates), start_timeout=max(1.0, min(60.0, timeout)))
    try:
        out = os.path.join(k.dir, "summary.html")
        code = f"__import__({_KERNEL_MODULE!r}, fromlist=['call']).call('summary', {str(job['study'])!r}, {out!r})"
        _loop().run(k._acode(code, timeout), timeout + 5)
        text = Path(out).read_text(encoding="utf-8")
        os.unlink(out)
    except BaseException:
        k.dead = True  # it may still be running the call: never reused
        raise
    finally:
        if k.dead:
            p.discard(k)
        else:
            p.release(k)
    return text


def kill_all() -> None:
    """SIGKILL every kernel of this process (signals only: safe from a signal handler or a dying worker)."""
    if _POOL is not None and _POOL_PID == os.getpid():
        for k in list(_POOL._all):
            _kill_group(k.pid)
            shutil.rmtree(k.dir, ignore_errors=True)
