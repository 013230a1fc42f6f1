"""The kernel zygote: one process imports what the warm kernels import, then forks every kernel from itself.

Run as ``python -m cvm_kit._zygote FD SPEC`` by :class:`cvm_kit.reporting.zygote.Zygote`
(the process that starts a run's workers). ``FD`` is a listening Unix socket
the starter made; ``SPEC`` a JSON object with the run's ``templates``.

1. It imports ipykernel, cvm_kit, pandas, matplotlib, the templates' own
   imports and every cvm_kit module a notebook may reach (what a warm kernel
   imports while it warms up), draws one figure off screen (font cache, PNG
   writer), freezes the garbage collector's view of it all, and only then
   serves: the imports are made once per run instead of once per kernel.
2. Each connection is one request: a JSON line (kernel arguments, working
   directory, environment, the pid of the worker that owns the kernel, the
   kernel's private folder) with the kernel's log file descriptor attached.
   It forks; the child leaves the zygote's session and becomes an ipykernel
   (``IPKernelApp``) with those arguments, exactly as ``python -m
   ipykernel_launcher`` would start; the zygote replies ``{"pid": N}`` and,
   when the child ends, ``{"exit": code}`` on the same connection.
3. The zygote itself is single-threaded (a fork copies only the calling
   thread) and ends when its starter closes its stdin or dies.

A kernel forked here watches the worker that asked for it and kills its own
process group when that worker is gone; it does not depend on the zygote.
Nothing here runs notebook code, and nothing a notebook sees differs from a
freshly started kernel beyond modules already imported (the warm engine's
reset promises no more): the working directory, environment, ``sys.argv``,
``sys.path[0]``, signal handlers and random seeds are a new kernel's.
"""

from __future__ import annotations

import gc
import json
import os
import selectors
import signal
import socket
import sys
import traceback
from typing import Any

#: Imported first: what every kernel needs whatever its notebooks import.
_KERNEL_MODULES = ("ipykernel.kernelapp", "ipykernel.ipkernel", "matplotlib_inline.backend_inline")


def _preload(spec: dict[str, Any], parent: int) -> None:
    """Import everything a warm kernel of these templates imports (failures are the kernel's to report)."""
    import importlib

    # no collections while importing: the imports make millions of objects and little garbage, and the
    # collector's passes over them are about an eighth of the import time (it runs once, below)
    gc.disable()
    for name in _KERNEL_MODULES:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the kernel that needs it fails visibly
            pass
        if os.getppid() != parent:
            os._exit(0)
    try:
        from cvm_kit._warm_kernel import draw_sample, preload
        from cvm_kit.reporting.warm import template_imports
        from cvm_kit.reporting.warm_kernel import kernel_imports

        preload(kernel_imports(template_imports(spec.get("templates") or ())))
        # the font cache and PNG writer loaded with a figure that never reaches pyplot (no backend is chosen)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure()
        FigureCanvasAgg(fig)
        draw_sample(fig)
    except Exception:  # noqa: BLE001 - a kernel imports what is missing itself
        pass
    gc.enable()
    gc.collect()
    gc.freeze()  # copy-on-write: a kernel's collections do not touch (and so copy) the zygote's objects


# ---------------------------------------------------------------------------
# serving


def _read_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    conn.settimeout(30)
    data, fds = b"", []
    while not data.endswith(b"\n"):
        chunk, got, _flags, _addr = socket.recv_fds(conn, 1 << 16, 4)
        fds += got
        if not chunk:
            raise ValueError("the request ended early")
        data += chunk
    return json.loads(data), fds


def _hung_up(conn: socket.socket) -> bool:
    conn.setblocking(False)  # a socket with a timeout would wait for data despite MSG_DONTWAIT
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False  # nothing to read: still connected
    except OSError:
        return True


def _send(conn: socket.socket, msg: dict[str, Any]) -> None:
    try:
        conn.setblocking(True)
        conn.sendall(json.dumps(msg).encode() + b"\n")
    except OSError:
        pass  # the worker is gone; its kernel watches it


def serve(listener: socket.socket, parent: int) -> None:
    """Fork a kernel per request until the starter closes our stdin or dies."""
    sel = selectors.DefaultSelector()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # the wake-up fd does the work
    sel.register(listener, selectors.EVENT_READ, "accept")
    sel.register(0, selectors.EVENT_READ, "stdin")
    sel.register(wake_r, selectors.EVENT_READ, "wake")
    kids: dict[int, socket.socket] = {}
    while True:
        for key, _ in sel.select(timeout=1.0):
            if key.data == "accept":
                try:
                    conn, _addr = listener.accept()
                except OSError:
                    continue
                try:
                    req, fds = _read_request(conn)
                except (OSError, ValueError) as exc:
                    _send(conn, {"error": f"{type(exc).__name__}: {exc}"})
                    conn.close()
                    continue
                if _hung_up(conn):  # the worker gave up waiting (and started its kernel itself)
                    for fd in fds:
                        os.close(fd)
                    conn.close()
                    continue
                try:
                    pid = os.fork()
                except OSError as exc:  # out of processes or memory: the worker starts its kernel itself
                    for fd in fds:
                        os.close(fd)
                    _send(conn, {"error": f"fork: {exc}"})
                    conn.close()
                    continue
                if pid == 0:
                    _child(req, fds, close=[listener, conn, *kids.values()], fds_to_close=[wake_r, wake_w], sel=sel)
                for fd in fds:
                    os.close(fd)
                kids[pid] = conn
                _send(conn, {"pid": pid})
            elif key.data == "stdin":
                try:
                    if not os.read(0, 4096):
                        return
                except OSError:
                    return
            else:
                try:
                    while os.read(wake_r, 4096):
                        pass
                except OSError:
                    pass
        _reap(kids)
        if os.getppid() != parent:
            return


def _reap(kids: dict[int, socket.socket]) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = kids.pop(pid, None)
        if conn is not None:
            _send(conn, {"exit": os.waitstatus_to_exitcode(status)})
            conn.close()


# ---------------------------------------------------------------------------
# the child: a new kernel


def _child(req: dict[str, Any], fds: list[int], *, close: list[socket.socket], fds_to_close: list[int],
           sel: selectors.BaseSelector) -> None:
    """Become the kernel the request describes; never returns."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for s in close:
            s.close()
        sel.close()
        for fd in fds_to_close:
            os.close(fd)
        _kernel(req, fds)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    except BaseException:  # noqa: BLE001 - reported in the kernel's log, which the worker shows
        traceback.print_exc()
    finally:
        try:
            import atexit

            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _kernel(req: dict[str, Any], fds: list[int]) -> None:
    os.setsid()  # its own session and process group, as jupyter_client starts kernels: killed as a group
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    log = fds[0] if fds else os.open(os.devnull, os.O_WRONLY)
    os.dup2(log, 1)
    os.dup2(log, 2)
    for fd in {log, *fds}:
        if fd > 2:
            os.close(fd)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    cwd = str(req["cwd"])
    os.chdir(cwd)
    env = {str(k): str(v) for k, v in dict(req["env"]).items()}
    # what jupyter_client's launcher adds; ipykernel's own parent poller ignores it (our parent is the zygote):
    # the worker it belongs to is watched below
    env["JPY_PARENT_PID"] = str(int(req["watch"]))
    os.environ.clear()
    os.environ.update(env)
    import random

    random.seed()
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed()  # numpy's global generator was seeded once, in the zygote
    from cvm_kit._warm_kernel import _watch_parent

    _watch_parent(parent=int(req["watch"]), cleanup=req.get("cleanup") or None)
    argv = [str(a) for a in req["argv"]]
    import ipykernel_launcher  # noqa: F401 - the module `python -m ipykernel_launcher` runs (only a guard inside)

    sys.argv = [ipykernel_launcher.__file__, *argv]
    if sys.path and sys.path[0] == _STARTED_IN:
        # `python -m` put the zygote's working directory first; ipykernel_launcher removes a kernel's own
        # (IPython then adds '' after the standard library, as in any kernel)
        del sys.path[0]
    from ipykernel.kernelapp import IPKernelApp

    # what launch_instance does, with parent_handle as jupyter_client's launcher would have set it (ipykernel
    # read the zygote's environment) and without ipykernel's parent poller: it watches the parent process, the
    # zygote, and would end the kernel with it; the kernel belongs to the worker, watched above
    app = IPKernelApp.instance(parent_handle=int(req["watch"]))
    app.initialize(argv)
    app.poller = None
    app.start()


_STARTED_IN = ""  # sys.path[0] as `python -m` set it: the zygote's working directory


def main(argv: list[str] | None = None) -> None:
    """``python -m cvm_kit._zygote FD SPEC``: import, then serve until the starter is gone (see the module)."""
    global _STARTED_IN
    args = sys.argv[1:] if argv is None else argv
    _STARTED_IN = sys.path[0] if sys.path and sys.path[0] == os.getcwd() else ""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the run to handle; it stops us
    listener = socket.socket(fileno=int(args[0]))
    parent = os.getppid()
    _preload(json.loads(args[1]), parent)
    if os.getppid() == parent:
        serve(listener, parent)
    os._exit(0)  # no interpreter teardown: nothing to flush, and it would take a while with all this imported


if __name__ == "__main__":
    main()
