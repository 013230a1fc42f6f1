"""Code that runs inside a warm kernel (see :mod:`cvm_kit.reporting.warm`): the warm-up and the reset between notebooks.

:func:`warm_up` runs once when the kernel starts: it imports what the
notebooks import, installs the study cache and takes a snapshot of the
process state a notebook can change. :func:`reset` runs after every notebook
and puts that state back, so the next notebook sees what a fresh kernel
would show it (plus modules already imported and studies already loaded).

Restored by :func:`reset`: the user namespace and the prompt numbers, open
figures, matplotlib's rcParams and backend, warnings filters and the
"already shown" registries, the working directory, ``os.environ``, the
umask, ``sys.path``, the standard streams and hooks, builtins, numpy's error
and print options, pandas options, the random seeds (fresh entropy, as a new
kernel), IPython's display formatters, event callbacks and input
transformers, the root logger, open widgets, and every attribute of every
``cvm_kit`` module and class (a notebook's monkeypatch is undone); a
``cvm_kit`` module first imported by a notebook is imported afresh and
recorded. Nothing here is imported by ``import cvm_kit``.
"""

from __future__ import annotations

import builtins
import copy
import functools
import gc
import hashlib
import importlib
import os
import random
import sys
import threading
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_STATE: dict[str, Any] = {}
_STUDY_CACHE: dict[tuple[str, str], Any] = {}
_STUDY_CACHE_SIZE = 4
_FRAMES = ("customers", "measurements", "prospects", "fieldwork", "realized")


def _ours(name: str) -> bool:
    return (name == "cvm_kit" or name.startswith("cvm_kit.")) and name != __name__


def _shell() -> Any:
    from IPython import get_ipython

    return get_ipython()


# -- the study cache -----------------------------------------------------


def study_key(path: Path) -> str | None:
    """A sha256 over the study's file names and bytes (folder: its files; workbook: the file); None if unreadable."""
    h = hashlib.sha256()
    try:
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        for f in files:
            h.update(f.name.encode())
            h.update(b"\0")
            h.update(f.read_bytes())
            h.update(b"\0")
    except OSError:
        return None
    return h.hexdigest()


def _fresh(study: Any) -> Any:
    """A copy whose frames a notebook may change without touching the cached study.

    Under pandas' copy-on-write a shallow copy is enough (a change copies the
    column it touches) and costs nothing, and the frames keep their arrays, so
    cvm_kit's per-column caches (factorizations, the measurement table) serve
    every notebook of the study; otherwise the frames are copied deeply.
    """
    from cvm_kit.study.factors import copy_on_write

    c = copy.copy(study)
    deep = not copy_on_write()
    for name in _FRAMES:
        df = getattr(c, name, None)
        if df is not None and hasattr(df, "copy"):
            object.__setattr__(c, name, df.copy(deep=deep))
    return c


def _install_study_cache() -> None:
    """``report.open_study`` served from a cache keyed on the study's path and content (a changed study reloads)."""
    from cvm_kit import report

    original = report.open_study
    if getattr(original, "_cvm_warm_cache", False):
        return

    @functools.wraps(original)
    def open_study(study: Any = "") -> Any:
        try:
            path = Path(report.study_path(study)).expanduser().resolve()
            key = study_key(path)
        except Exception:  # noqa: BLE001 - the original says what is wrong with the path
            key = None
        if key is None:
            return original(study)
        k = (str(path), key)
        hit = _STUDY_CACHE.pop(k, None)
        if hit is None:
            hit = original(study)  # a study that does not load raises here, every time, as before
        _STUDY_CACHE[k] = hit  # most recently used last
        while len(_STUDY_CACHE) > _STUDY_CACHE_SIZE:
            _STUDY_CACHE.pop(next(iter(_STUDY_CACHE)))
        return _fresh(hit)

    open_study._cvm_warm_cache = True  # type: ignore[attr-defined]
    report.open_study = open_study


# -- snapshots -----------------------------------------------------------


def _module_state(mod: Any) -> tuple[dict[str, Any], dict[str, tuple[type, dict[str, Any]]]]:
    d = dict(vars(mod))
    classes = {k: (v, dict(vars(v))) for k, v in d.items()
               if isinstance(v, type) and getattr(v, "__module__", None) == mod.__name__}
    return d, classes


def _restore_dict(target: Any, saved: dict[str, Any]) -> None:
    """Attributes added since the snapshot deleted, replaced ones put back (compared by identity)."""
    current = vars(target)
    for k in [k for k in current if k not in saved]:
        try:
            delattr(target, k)
        except (AttributeError, TypeError):
            pass
    for k, v in saved.items():
        if current.get(k, _MISSING) is not v:
            try:
                setattr(target, k, v)
            except (AttributeError, TypeError):
                pass


_MISSING = object()


def _restore_nested(target: dict, saved: dict) -> None:
    for k in [k for k in target if k not in saved]:
        del target[k]
    for k, v in saved.items():
        if isinstance(v, dict) and isinstance(target.get(k), dict):
            _restore_nested(target[k], v)
        elif k not in target or target[k] != v:
            target[k] = copy.deepcopy(v)


def snapshot() -> None:
    """Record the state :func:`reset` restores."""
    ip = _shell()
    s = _STATE
    s["environ"] = dict(os.environ)
    s["path"] = list(sys.path)
    s["meta_path"] = list(sys.meta_path)
    s["warnings"] = (list(warnings.filters), warnings.defaultaction)  # type: ignore[attr-defined]
    s["builtins"] = dict(vars(builtins))
    s["streams"] = (sys.stdout, sys.stderr, sys.stdin, sys.displayhook, sys.excepthook)
    s["umask"] = os.umask(0o022)
    os.umask(s["umask"])
    s["recursion"] = sys.getrecursionlimit()
    s["modules"] = {n: (m, _module_state(m)) for n, m in list(sys.modules.items()) if m is not None and _ours(n)}
    if "matplotlib" in sys.modules:
        import matplotlib

        s["rc"] = copy.deepcopy(dict(matplotlib.rcParams))
        s["backend"] = matplotlib.rcParams["backend"]
    if "numpy" in sys.modules:
        import numpy as np

        s["np"] = (np.geterr(), np.get_printoptions())
    if "pandas" in sys.modules:
        from pandas._config import config as pdc

        s["pd"] = copy.deepcopy(pdc._global_config)
    if ip is not None:
        f = ip.display_formatter
        s["formatters"] = {mime: (fm, fm.enabled, dict(fm.type_printers), dict(fm.deferred_printers),
                                  dict(getattr(fm, "singleton_printers", {}) or {}))
                           for mime, fm in f.formatters.items()}
        s["active_types"] = list(f.active_types)
        s["events"] = {k: list(v) for k, v in ip.events.callbacks.items()}
        s["transformers"] = (list(ip.ast_transformers), list(ip.input_transformers_post),
                             list(ip.input_transformer_manager.cleanup_transforms),
                             list(ip.input_transformer_manager.line_transforms))
    import logging

    root = logging.getLogger()
    s["logging"] = (root.level, list(root.handlers), logging.root.manager.disable)


def _restore_modules() -> None:
    saved = _STATE.get("modules", {})
    # a cvm_kit module first imported by the last notebook: its pristine state is unknown, so it is
    # imported afresh (after its parents are put back) and recorded
    new = sorted((n for n, m in list(sys.modules.items()) if m is not None and _ours(n) and n not in saved),
                 key=lambda n: n.count("."))
    for n in new:
        sys.modules.pop(n, None)
    for name, (mod, (d, classes)) in saved.items():
        if sys.modules.get(name) is not mod:
            sys.modules[name] = mod
        _restore_dict(mod, d)
        for cls, cd in classes.values():
            _restore_dict(cls, cd)
    for n in new:
        try:
            importlib.import_module(n)
        except Exception:  # noqa: BLE001 - it failed in the notebook too; the next one imports it itself
            sys.modules.pop(n, None)
            continue
    for n in new:
        m = sys.modules.get(n)
        if m is None:
            continue
        saved[n] = (m, _module_state(m))
        parent, _, child = n.rpartition(".")
        if parent in saved:  # the package's attribute for the new submodule is part of its state now
            saved[parent][1][0][child] = m


def reset(cwd: str | None = None) -> None:
    """Put the kernel back as a fresh kernel would show it; ``cwd``: the working directory of the next notebook."""
    ip = _shell()
    s = _STATE
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        plt.close("all")
    if "ipywidgets" in sys.modules:
        try:
            sys.modules["ipywidgets"].Widget.close_all()
        except Exception:  # noqa: BLE001
            pass
    if ip is not None:
        # namespace, Out/In history, prompt number back to 1; its full gc.collect() is done once, below
        collect, gc.collect = gc.collect, _no_collect
        try:
            ip.reset(new_session=True)
        finally:
            gc.collect = collect
        f = ip.display_formatter
        for mime, (fm, enabled, tp, dp, sp) in s.get("formatters", {}).items():
            f.formatters[mime] = fm
            fm.enabled = enabled
            for attr, saved in (("type_printers", tp), ("deferred_printers", dp)):
                cur = getattr(fm, attr)
                cur.clear()
                cur.update(saved)
            if hasattr(fm, "singleton_printers"):
                fm.singleton_printers.clear()
                fm.singleton_printers.update(sp)
        for mime in [m for m in f.formatters if m not in s.get("formatters", {})]:
            del f.formatters[mime]
        if "active_types" in s:
            f.active_types = list(s["active_types"])
        for k, v in s.get("events", {}).items():
            ip.events.callbacks[k][:] = v
        if "transformers" in s:
            a, p, c, ln = s["transformers"]
            ip.ast_transformers[:] = a
            ip.input_transformers_post[:] = p
            ip.input_transformer_manager.cleanup_transforms[:] = c
            ip.input_transformer_manager.line_transforms[:] = ln
    _restore_modules()
    if "rc" in s:
        import matplotlib

        rc = matplotlib.rcParams
        if rc["backend"] != s["backend"] and "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].switch_backend(s["backend"])
        for k, v in s["rc"].items():
            if rc.get(k) != v:
                dict.__setitem__(rc, k, copy.deepcopy(v))
    if "np" in s:
        import numpy as np

        np.seterr(**s["np"][0])
        np.set_printoptions(**s["np"][1])
        np.random.seed()
    if "pd" in s:
        from pandas._config import config as pdc

        _restore_nested(pdc._global_config, s["pd"])
    random.seed()
    filters, default = s["warnings"]
    # the warnings module's own state (real attributes its stubs leave out); after _filters_mutated every
    # "already shown" registry is stale: a warning shows again, as in a new kernel
    warnings.filters[:] = filters  # type: ignore[index]
    warnings.defaultaction = default  # type: ignore[attr-defined]
    warnings.onceregistry.clear()  # type: ignore[attr-defined]
    warnings._filters_mutated()  # type: ignore[attr-defined]
    _restore_dict(builtins, s["builtins"])
    sys.stdout, sys.stderr, sys.stdin, sys.displayhook, sys.excepthook = s["streams"]
    sys.path[:] = s["path"]
    sys.meta_path[:] = s["meta_path"]
    sys.setrecursionlimit(s["recursion"])
    os.umask(s["umask"])
    env = s["environ"]
    for k in [k for k in os.environ if k not in env]:
        del os.environ[k]
    for k, v in env.items():
        if os.environ.get(k) != v:
            os.environ[k] = v
    import logging

    root = logging.getLogger()
    level, handlers, disable = s["logging"]
    root.setLevel(level)
    root.handlers[:] = handlers
    logging.disable(disable)
    if cwd is not None:
        os.chdir(cwd)
    _collect()


def _no_collect(generation: int = 2) -> int:
    return 0


def _collect() -> None:
    """Collect the last notebook's cyclic garbage, then freeze what survives (modules, caches).

    Frozen objects are left out of later collections, so a collection after a
    notebook scans only what that notebook made, not every object of pandas,
    matplotlib and scipy (a full collection there costs a tenth of a second or more).
    """
    gc.collect()
    gc.freeze()


_WATCHING: list[int] = []  # the pid a watcher thread already watches (one per kernel)


def _pid_gone(pid: int) -> bool:
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


def _watch_parent(interval: float = 0.25, cleanup: str | None = None, parent: int | None = None) -> None:
    """Kill this kernel's process group (it and its children) as soon as the worker that started it is gone.

    ``parent``: the worker's pid (default this process's parent). A kernel
    forked by the zygote (:mod:`cvm_kit._zygote`) has the zygote as its
    parent but belongs to the worker that asked for it, so it watches that
    pid. ``cleanup``: the kernel's private folder (sockets, connection
    file), removed first: a worker that died could not remove it.
    """
    import shutil
    import signal
    import time

    if _WATCHING:
        return
    ppid = os.getppid()
    watched = ppid if parent is None else int(parent)
    _WATCHING.append(watched)

    def gone() -> bool:
        if watched == ppid:
            return os.getppid() != ppid  # reparented: the parent is gone (cheaper than a /proc read)
        return _pid_gone(watched)

    def run() -> None:
        while True:
            time.sleep(interval)
            if gone():
                try:
                    if cleanup and os.path.basename(cleanup).startswith("cvm-warm-"):
                        shutil.rmtree(cleanup, ignore_errors=True)
                    os.killpg(os.getpgid(0), signal.SIGKILL)
                finally:
                    os._exit(1)

    threading.Thread(target=run, name="cvm-warm-parent-watch", daemon=True).start()


# not needed by notebooks (the command line, the runners) or heavy and interactive only
_SKIP = ("cvm_kit.cli", "cvm_kit.runs", "cvm_kit.warm", "cvm_kit._warm_kernel", "cvm_kit.calculator_widgets",
         "cvm_kit.scaffold", "cvm_kit.reporting.warm", "cvm_kit.reporting.pool", "cvm_kit.reporting.execute",
         "cvm_kit.reporting.batch", "cvm_kit.reporting.series")


def _import_library() -> list[str]:
    """Every cvm_kit module a notebook may reach (their heavy imports are inside functions, so this is cheap).

    Imported now, they are part of the snapshot; a module first imported by a
    notebook would otherwise be imported a second time after it, to record it clean.
    """
    import pkgutil

    import cvm_kit

    failed = []
    for m in pkgutil.walk_packages(cvm_kit.__path__, "cvm_kit."):
        if m.name.startswith(_SKIP):
            continue
        try:
            importlib.import_module(m.name)
        except Exception:  # noqa: BLE001
            failed.append(m.name)
    return failed


def draw_sample(fig: Any) -> None:
    """Draw a small bar chart on ``fig`` and encode it as a PNG (loads fonts and the PNG writer; kept nowhere)."""
    from cvm_kit.reporting.png import png_bytes

    ax = fig.add_subplot()
    ax.barh(["a", "b"], [1.0, -2.0])
    ax.set_title("warm-up")
    ax.set_xlabel("value")
    png_bytes(fig, dpi=100)


def _rehearse() -> None:
    """Draw and encode one small figure and one table, so the first notebook does not pay the first-use costs.

    (matplotlib's font lookup and PNG writer, pandas' HTML formatting); it
    changes nothing a notebook can see, and it happens before the snapshot.
    """
    try:
        import matplotlib.pyplot as plt
        import pandas as pd

        fig = plt.figure()
        draw_sample(fig)
        plt.close(fig)
        from cvm_kit import report

        report.table_html(pd.DataFrame({"a": [1.5, -2.0], "b": ["x", "y"]}))
    except Exception:  # noqa: BLE001 - only a head start
        pass


def preload(imports: Iterable[tuple[str, list[str]]] = ()) -> list[str]:
    """Import the templates' imports (``(module, imported names)``) and the cvm_kit library; what failed.

    Also run by the zygote (:mod:`cvm_kit._zygote`) before it forks kernels.
    """
    failed = []
    for module, names in imports:
        try:
            mod = importlib.import_module(module)
            for name in names:
                if getattr(mod, "__path__", None) is not None and not hasattr(mod, name):
                    importlib.import_module(f"{module}.{name}")  # `from package import submodule`
        except Exception:  # noqa: BLE001 - the notebook will raise it where the reader sees it
            failed.append(module)
    return failed + _import_library()


def warm_up(imports: Iterable[tuple[str, list[str]]] = (), *, watch_parent: bool = True,
            cleanup: str | None = None, parent: int | None = None) -> list[str]:
    """Import what the templates import and cvm_kit, cache studies, take the snapshot; what failed to import.

    ``parent``: the pid of the worker that owns this kernel (default the
    kernel's parent process); the kernel ends itself when it is gone.
    """
    ip = _shell()
    failed = []
    if ip is not None:
        try:
            ip.run_line_magic("matplotlib", "inline")
        except Exception:  # noqa: BLE001 - no matplotlib: nothing to activate
            failed.append("%matplotlib inline")
    failed += preload(imports)
    _rehearse()
    try:
        _install_study_cache()
    except Exception:  # noqa: BLE001 - no cvm_kit.report in this kernel: no cache
        failed.append("study cache")
    snapshot()
    _collect()
    if watch_parent and os.name == "posix":
        _watch_parent(cleanup=cleanup, parent=parent)
    return failed


def call(name: str, *args: str) -> None:
    """Run one of the library's tasks for the worker, outside the notebook namespace (reset follows).

    ``"summary"``, ``(study, out)``: the executive summary of the study (from the study cache) written to ``out``.
    """
    if name != "summary":
        raise ValueError(f"unknown task {name!r}")
    study, out = args
    from cvm_kit import report
    from cvm_kit.reporting.summary import executive_html

    text = executive_html(report.open_study(study))
    Path(out).write_text(text, encoding="utf-8")


def rss() -> int:
    """This kernel's resident memory in bytes (0 if unknown)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0
