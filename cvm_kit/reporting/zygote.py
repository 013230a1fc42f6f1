"""Kernels forked from a zygote: the imports of a run's warm kernels are made once, not once per kernel.

A run with several pool workers (``cvm batch``, ``cvm report``) starts one
:class:`Zygote` before its workers. The zygote process
(:mod:`cvm_kit._zygote`) imports ipykernel, cvm_kit, pandas, matplotlib and
what the run's templates import; each worker's kernel is then forked from it
(:func:`provisioner_for`: a jupyter_client provisioner) instead of started
as a new Python that imports everything again. The kernel belongs to the
worker as before: the worker's kernel manager and client drive it, the
worker's time and memory limits kill its process group, and it ends itself
when its worker is gone.

Whatever goes wrong with the zygote (not started, died, slow to answer, a
kernelspec that is not this Python's ipykernel), the kernel is started the
usual way; nothing depends on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .._warm_kernel import _pid_gone
from .ipc import ipc_dir

_log = logging.getLogger("cvm_kit.warm")

__all__ = ["Zygote", "ZygoteProcess", "forkable", "provisioner_for"]


class Zygote:
    """The zygote process of one run: started before the workers, stopped after them.

    Parameters
    ----------
    templates : sequence of str
        The run's templates: the zygote imports what they import.
    """

    def __init__(self, templates: Sequence[str]) -> None:
        self.dir = ipc_dir("cvm-zygote-")
        self.address = os.path.join(self.dir, "z")
        # the socket exists (and queues requests) before the zygote has imported anything
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(self.address)
            sock.listen(64)
            self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                [sys.executable, "-m", "cvm_kit._zygote", str(sock.fileno()),
                 json.dumps({"templates": [str(t) for t in templates]})],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(sock.fileno(),))
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        finally:
            sock.close()

    @property
    def pid(self) -> int | None:
        """The zygote's process id (None once stopped)."""
        return self.proc.pid if self.proc is not None else None

    def stop(self) -> None:
        """End the zygote (its kernels are their workers' to end) and remove its socket. Idempotent."""
        proc, self.proc = self.proc, None
        if proc is not None:
            with contextlib.suppress(OSError):
                proc.kill()  # nothing to flush; a clean exit would first tear down every import
            with contextlib.suppress(Exception):
                proc.wait(5)
            with contextlib.suppress(Exception):
                if proc.stdin is not None:
                    proc.stdin.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def forkable(cmd: Sequence[str]) -> bool:
    """Whether a kernel command is this Python's ``-m ipykernel_launcher`` (what the zygote can fork)."""
    if len(cmd) < 3 or list(cmd[1:3]) != ["-m", "ipykernel_launcher"]:
        return False
    try:
        return os.path.realpath(cmd[0]) == os.path.realpath(sys.executable)
    except (OSError, ValueError):
        return False


class ZygoteProcess:
    """A kernel forked by the zygote, with the part of :class:`subprocess.Popen` jupyter_client uses.

    The zygote is its parent, so its end is learnt from the zygote's
    ``{"exit": code}`` message (or, should the zygote be gone, from the pid).
    """

    stdin = stdout = stderr = None

    def __init__(self, address: str, cmd: Sequence[str], kw: Mapping[str, Any], *, watch: int,
                 cleanup: str | None, timeout: float = 60) -> None:
        out = kw.get("stdout")
        fd = out if isinstance(out, int) and out >= 0 else getattr(out, "fileno", lambda: None)()
        req = {"argv": list(cmd[3:]), "cwd": str(kw.get("cwd") or os.getcwd()),
               "env": dict(kw.get("env") or os.environ), "watch": int(watch), "cleanup": cleanup or ""}
        payload = json.dumps(req).encode() + b"\n"
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(timeout)
            s.connect(address)
            sent = socket.send_fds(s, [payload], [fd] if isinstance(fd, int) else [])
            s.sendall(payload[sent:])
            msg = self._read(s)
            if "pid" not in msg:
                raise OSError(f"the zygote refused: {msg.get('error', msg)}")
        except BaseException:
            s.close()
            raise
        self.args = list(cmd)
        self.pid = int(msg["pid"])
        self.returncode: int | None = None
        self._sock: socket.socket | None = s
        self._buf = b""
        s.setblocking(False)

    @staticmethod
    def _read(s: socket.socket) -> dict[str, Any]:
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                raise OSError("the zygote closed the connection")
            data += chunk
        return dict(json.loads(data))

    def poll(self) -> int | None:
        """The exit code once the kernel has ended, else None."""
        if self.returncode is not None:
            return self.returncode
        if self._sock is not None:
            try:
                data = self._sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                return None
            except OSError:
                data = b""
            if data:
                self._buf += data
                if b"\n" in self._buf:
                    with contextlib.suppress(ValueError, TypeError):
                        self.returncode = int(json.loads(self._buf.split(b"\n", 1)[0]).get("exit", -9))
                    if self.returncode is None:
                        self.returncode = -9
                    self._close()
                return self.returncode
            self._close()  # the zygote is gone: from now on the pid says
        if _pid_gone(self.pid):
            self.returncode = -int(signal.SIGKILL)
        return self.returncode

    def _close(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the kernel to end (``subprocess.TimeoutExpired`` after ``timeout`` seconds); its exit code."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
            step = 0.05 if left is None else max(0.0, min(0.05, left))
            if self._sock is not None:
                with contextlib.suppress(OSError, ValueError):
                    select.select([self._sock], [], [], step)
            else:
                time.sleep(step)
        return int(self.returncode if self.returncode is not None else -9)

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the kernel while it runs."""
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        """SIGTERM."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL."""
        self.send_signal(signal.SIGKILL)


@functools.lru_cache(maxsize=1)
def _provisioner_class() -> type:
    """:class:`ZygoteProvisioner`, made on first use (jupyter_client stays out of the process that starts the zygote)."""
    from jupyter_client.provisioning import LocalProvisioner

    class ZygoteProvisioner(LocalProvisioner):  # type: ignore[misc, valid-type]
        """jupyter_client's local provisioner, except that the kernel is forked by the zygote when it can be.

        ``address``: the zygote's socket; ``watch``: the pid the kernel belongs
        to (this process); ``kernel_dir``: the kernel's private folder.
        """

        address: str = ""
        watch: int = 0
        kernel_dir: str = ""  # not "cleanup": that is the provisioner's own method
        forked: bool = False

        async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
            if self.address and forkable(cmd):
                loop = asyncio.get_running_loop()
                make = functools.partial(ZygoteProcess, self.address, cmd, kwargs,
                                         watch=self.watch or os.getpid(), cleanup=self.kernel_dir)
                try:
                    proc = await loop.run_in_executor(None, make)
                except (OSError, ValueError) as exc:
                    _log.info("zygote unavailable (%s): kernel started on its own", exc)
                else:
                    self.process = proc  # type: ignore[assignment]  # the part of Popen jupyter_client uses
                    self.pid = self.pgid = proc.pid  # the child made its own session: its group is its pid
                    self.cwd = kwargs.get("cwd") or os.getcwd()
                    self.forked = True
                    return self.connection_info
            return await super().launch_kernel(cmd, **kwargs)

    return ZygoteProvisioner


def provisioner_for(km: Any, address: str, cleanup: str) -> Any:
    """A zygote provisioner (a jupyter_client ``LocalProvisioner`` that forks the kernel at the zygote when it
    can) installed on a kernel manager that has not started its kernel."""
    import uuid

    km.kernel_id = km.kernel_id or str(uuid.uuid4())
    prov = _provisioner_class()(kernel_id=km.kernel_id, kernel_spec=km.kernel_spec, parent=km)
    prov.address, prov.watch, prov.kernel_dir = address, os.getpid(), cleanup
    km.provisioner = prov  # jupyter_client keeps a provisioner it finds (it makes one only when there is none)
    return prov
