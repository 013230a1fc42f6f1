"""Warm kernels: one Jupyter kernel started once and reused, its event loop, its private socket folder.

See :mod:`cvm_kit.reporting.warm` for the engine built on them.
"""


from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .ipc import _IPC_PATH_MAX, ipc_dir  # noqa: F401 - _IPC_PATH_MAX re-exported (cvm_kit.warm)

#: Imported by every warm kernel before its first notebook (with every cvm_kit module notebooks use).
BASE_IMPORTS: tuple[tuple[str, list[str]], ...] = (("cvm_kit", []), ("cvm_kit.report", []), ("pandas", []), ("matplotlib.pyplot", []))
_KERNEL_MODULE = "cvm_kit._warm_kernel"
_START_ARGS = ["--HistoryManager.enabled=False"]  # no history database: nothing a notebook shows, and no lock races


_log = logging.getLogger("cvm_kit.warm")


class KernelDied(RuntimeError):
    """The kernel stopped (or stopped answering) outside a notebook."""


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


# ---------------------------------------------------------------------------
# the event loop all kernels of a process are driven from


class _Loop:
    """One asyncio loop in a daemon thread: kernel clients live on it whatever thread runs a job."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="cvm-warm-loop", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Any):
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Any, timeout: float | None = None) -> Any:
        if threading.current_thread() is self.thread:  # pragma: no cover - would deadlock
            raise RuntimeError("cvm_kit.warm: blocking call from the kernel loop")
        return self.submit(coro).result(timeout)


_LOOP: _Loop | None = None
_LOOP_PID = 0
_LOCK = threading.Lock()


def _loop() -> _Loop:
    global _LOOP, _LOOP_PID
    with _LOCK:
        if _LOOP is None or _LOOP_PID != os.getpid() or not _LOOP.thread.is_alive():
            _LOOP, _LOOP_PID = _Loop(), os.getpid()
        return _LOOP


# ---------------------------------------------------------------------------
# one kernel


def _kill_group(pid: int | None) -> None:
    """SIGKILL a kernel's process group and every descendant (also those that left the group)."""
    if not pid:
        return
    kids = []
    with contextlib.suppress(Exception):
        import psutil

        kids = psutil.Process(pid).children(recursive=True)
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
    for k in kids:
        with contextlib.suppress(Exception):
            k.kill()


def _rss(pid: int | None, *, children: bool = True) -> int:
    """Resident bytes of a process (and its descendants: a walk of /proc, so not too often); 0 if unknown."""
    if not pid:
        return 0
    if not children:
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError, AttributeError):
            pass
    try:
        import psutil

        p = psutil.Process(pid)
        total = p.memory_info().rss
        for c in p.children(recursive=True):
            with contextlib.suppress(Exception):
                total += c.memory_info().rss
        return total
    except ImportError:
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return 0
    except Exception:  # noqa: BLE001 - gone
        return 0



def kernel_imports(imports: Sequence[tuple[str, Sequence[str]]] = ()) -> list[tuple[str, list[str]]]:
    """What a warm kernel imports before its first notebook: :data:`BASE_IMPORTS`, then ``imports`` (deduplicated)."""
    out = [(m, list(n)) for m, n in BASE_IMPORTS]
    out += [x for x in ((m, list(n)) for m, n in imports) if x not in out]
    return out


class WarmKernel:
    """A kernel started once and reused: start, run notebooks, reset, kill.

    Every coroutine runs on the process's kernel loop (:class:`_Loop`); the
    blocking methods may be called from any thread.
    """

    def __init__(self, kernel_name: str, imports: Sequence[tuple[str, Sequence[str]]] = (), *,
                 start_timeout: float = 60, zygote: str | None = None) -> None:
        self.kernel_name = kernel_name
        self.zygote = zygote  # a zygote's socket (cvm_kit.reporting.zygote): the kernel is forked there if it can be
        self.forked = False
        self.imports = kernel_imports(imports)
        self.start_timeout = start_timeout
        self.km: Any = None
        self.kc: Any = None
        self.pid: int | None = None
        self.dir = ipc_dir("cvm-warm-")
        self.log = tempfile.TemporaryFile(dir=self.dir)
        self.pending: Any = None  # the start or reset future a job waits for
        self.cwd: str | None = None
        self.notebooks = 0
        self.dead = False
        self.idle_since = time.monotonic()

    # -- start -------------------------------------------------------------
    def start_async(self, cwd: str | None = None) -> None:
        """Start the kernel and its warm-up imports in the background; a job waits on ``pending``."""
        self.cwd = cwd or os.getcwd()
        self.pending = _loop().submit(self._astart(self.cwd))

    async def _astart(self, cwd: str) -> None:
        from jupyter_client.manager import AsyncKernelManager

        km = AsyncKernelManager(kernel_name=self.kernel_name, transport="ipc", ip=os.path.join(self.dir, "k"),
                                connection_file=os.path.join(self.dir, "kernel.json"))
        self.km = km
        prov = None
        if self.zygote:
            from .zygote import provisioner_for

            prov = provisioner_for(km, self.zygote, self.dir)
        await km.start_kernel(stdout=self.log, stderr=self.log, cwd=cwd, extra_arguments=list(_START_ARGS))
        proc = getattr(km.provisioner, "process", None)
        self.pid = getattr(proc, "pid", None)
        self.forked = bool(getattr(prov, "forked", False))
        kc = km.client()
        kc.start_channels()
        self.kc = kc
        await self._aready(self.start_timeout)
        code = (f"__import__({_KERNEL_MODULE!r}, fromlist=['warm_up']).warm_up({self.imports!r}, "
                f"cleanup={self.dir!r}, parent={os.getpid()})")
        await self._acode(code, self.start_timeout)

    async def _aready(self, timeout: float) -> None:
        """Wait until the kernel answers on shell and its iopub reaches us (what ``wait_for_ready`` checks).

        jupyter_client's ``wait_for_ready`` reads shell, then iopub for up to
        0.2 s; when the status message of its kernel_info request went out
        before the subscription had reached the kernel (usual just after the
        start) it asks again, and it ends by draining iopub until 0.2 s pass
        with nothing: 0.2-0.4 s of a start that a forked kernel makes in a
        tenth of a second. ipykernel (7) greets each new subscriber on iopub
        (``iopub_welcome``), so here both sockets are watched at once and the
        kernel is ready as soon as the reply and any iopub message are in; a
        kernel that does not greet is asked again after 0.2 s, as
        jupyter_client does. (Measured on a stand-in kernel: 3 ms against
        0.205 s greeted, 0.21 s against 0.41 s silent.)
        """
        import zmq
        import zmq.asyncio

        kc = self.kc
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        shell, iopub = kc.shell_channel.socket, kc.iopub_channel.socket
        poller = zmq.asyncio.Poller()
        poller.register(shell, zmq.POLLIN)
        poller.register(iopub, zmq.POLLIN)
        replied = subscribed = False
        kc.kernel_info()
        asked = checked = loop.time()
        while not (replied and subscribed):
            now = loop.time()
            if now > deadline:
                raise KernelDied(f"the kernel did not answer within {timeout:g} s")
            if now - checked > 0.25:
                checked = now
                if not await self.km.is_alive():
                    raise KernelDied("the kernel stopped while it started")
            if replied and now - asked > 0.2:  # no greeting and our status was lost: ask again
                kc.kernel_info()
                asked, replied = now, False
            ready = dict(await poller.poll(50))
            if iopub in ready:
                await kc.iopub_channel.get_msg(timeout=0)
                subscribed = True
            if shell in ready:
                msg = await kc.shell_channel.get_msg(timeout=0)
                if msg.get("msg_type") == "kernel_info_reply":
                    replied = True
                    kc._handle_kernel_info_reply(msg)
        while await kc.iopub_channel.msg_ready():  # what the start left on iopub (jupyter_client flushes it too)
            await kc.iopub_channel.get_msg(timeout=0)

    async def _acode(self, code: str, timeout: float) -> dict[str, Any]:
        """Run code silently (no prompt number, no history, nothing displayed); its reply content."""
        loop = asyncio.get_running_loop()
        msg_id = self.kc.execute(code, silent=True, store_history=False, allow_stdin=False)
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise KernelDied(f"no reply within {timeout:g} s")
            try:
                msg = await self.kc.get_shell_msg(timeout=min(left, 0.5))
            except queue.Empty:
                if not await self.km.is_alive():
                    raise KernelDied("the kernel stopped") from None
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                break
        content = msg["content"]
        if content.get("status") != "ok":
            raise KernelDied(f"{content.get('ename')}: {content.get('evalue')}")
        return content

    async def _ahandshake(self, timeout: float) -> None:
        """A kernel_info round trip before the first cell: a kernel lost while it waited fails here, not in a cell."""
        loop = asyncio.get_running_loop()
        msg_id = self.kc.kernel_info()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            try:
                msg = await self.kc.get_shell_msg(timeout=0.2)
            except queue.Empty:
                if not await self.km.is_alive():
                    raise KernelDied("the kernel stopped before the notebook started") from None
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return
        raise KernelDied(f"the kernel did not answer within {timeout:g} s")

    # -- between notebooks -------------------------------------------------
    def reset_async(self, cwd: str) -> None:
        """Put the kernel back as a fresh one would show it, in the background (after each notebook)."""
        self.cwd = cwd
        self.pending = _loop().submit(self._acode(
            f"__import__({_KERNEL_MODULE!r}, fromlist=['reset']).reset({cwd!r})", 60))

    def ready(self, timeout: float) -> None:
        """Wait for the start or reset in flight; raise if it failed or the kernel is gone."""
        fut, self.pending = self.pending, None
        if fut is not None:
            try:
                fut.result(timeout)
            except Exception as exc:
                self.dead = True
                raise KernelDied(f"{type(exc).__name__}: {exc}") from exc
        if not self.alive():
            self.dead = True
            raise KernelDied("the kernel stopped")

    def alive(self) -> bool:
        """Whether the kernel process still runs."""
        proc = getattr(getattr(self.km, "provisioner", None), "process", None)
        return proc is not None and proc.poll() is None

    def rss(self) -> int:
        """The kernel's resident memory in bytes (0 when unknown)."""
        return _rss(self.pid)

    # -- a notebook ----------------------------------------------------------
    def run(self, nb_man: Any, client_kw: Mapping[str, Any], *, timeout: float, memory_limit: int) -> dict[str, Any]:
        """Execute a prepared notebook under the wall-clock and memory limits.

        Returns ``{"exc": exception or None, "started": a code cell was sent,
        "fired": "timeout" | "memory" | ""}``; ``nb_man.nb`` holds what ran.
        """
        state = {"started": False}
        fired: list[str] = []
        stop = threading.Event()
        deadline = time.monotonic() + timeout

        def guard() -> None:
            tick = 0
            while not stop.wait(0.25):
                tick += 1
                if time.monotonic() >= deadline:
                    fired.append("timeout")
                elif memory_limit and _rss(self.pid, children=tick % 8 == 0) > memory_limit:
                    fired.append("memory")  # the kernel every quarter second, with its children every two
                else:
                    continue
                _kill_group(self.pid)  # nbclient notices the dead kernel and stops
                return

        with contextlib.suppress(OSError, ValueError):
            self.log.seek(0)
            self.log.truncate()
        g = threading.Thread(target=guard, name="cvm-warm-guard", daemon=True)
        g.start()
        exc: BaseException | None = None
        fut = _loop().submit(self._arun(nb_man, client_kw, state))
        try:
            try:
                fut.result(timeout + 30)  # the guard stops it long before; this is the last resort
            except TimeoutError:
                fired.append("timeout")
                _kill_group(self.pid)
                fut.cancel()
                raise
        except BaseException as e:  # noqa: BLE001 - the caller sorts it out
            exc = e
        finally:
            stop.set()
            g.join()
            self.notebooks += 1
        if exc is not None and not isinstance(exc, Exception):
            self.dead = True
            raise exc  # KeyboardInterrupt, SystemExit: the caller kills the kernel
        return {"exc": exc, "started": state["started"], "fired": fired[0] if fired else ""}

    async def _arun(self, nb_man: Any, client_kw: Mapping[str, Any], state: dict[str, bool]) -> None:
        """papermill's ``PapermillNotebookClient.execute`` on this kernel (its cell loop, awaited)."""
        from jupyter_core.utils import ensure_async
        from nbclient.exceptions import CellExecutionError
        from papermill.clientwrap import PapermillNotebookClient

        client = PapermillNotebookClient(nb_man, km=self.km, **client_kw)
        # our client, not a new one per notebook: clients of one manager share its session identity, and a
        # second one would take the replies of the first
        client.kc = self.kc
        self.kc.allow_stdin = False
        client.reset_execution_trackers()
        await self._ahandshake(min(30.0, float(client_kw.get("timeout") or 30)))
        async with client.async_setup_kernel():
            for index, cell in enumerate(client.nb.cells):
                try:
                    nb_man.cell_start(cell, index)
                    if cell.cell_type == "code" and cell.source.strip():
                        state["started"] = True
                    await client.async_execute_cell(cell, index)
                except CellExecutionError as ex:
                    nb_man.cell_exception(client.nb.cells[index], cell_index=index, exception=ex)
                    break
                finally:
                    nb_man.cell_complete(client.nb.cells[index], cell_index=index)
            info = await client.async_wait_for_reply(await ensure_async(client.kc.kernel_info()))
            client.nb.metadata["language_info"] = info["content"]["language_info"]
            client.set_widgets_metadata()

    # -- the end -------------------------------------------------------------
    def kill(self) -> None:
        """Kill the kernel and its children, reap it, close the client, remove its files. Idempotent."""
        self.dead = True
        _kill_group(self.pid)
        proc = getattr(getattr(self.km, "provisioner", None), "process", None)
        if proc is not None:
            with contextlib.suppress(Exception):
                proc.wait(timeout=5)
        lp = _LOOP if (_LOOP is not None and _LOOP_PID == os.getpid() and _LOOP.thread.is_alive()) else None
        if lp is not None and threading.current_thread() is not lp.thread and (self.kc or self.km):
            with contextlib.suppress(Exception):
                lp.run(self._aclose(), timeout=10)
        self.kc = self.km = None
        with contextlib.suppress(Exception):
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    async def _aclose(self) -> None:
        from jupyter_core.utils import ensure_async

        if self.kc is not None:
            with contextlib.suppress(Exception):
                self.kc.stop_channels()
        if self.km is not None:
            with contextlib.suppress(Exception):
                await ensure_async(self.km.cleanup_resources(restart=False))


