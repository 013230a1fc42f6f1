"""Helpers of the browser tests (importable from test modules, unlike conftest.py).

- :func:`artifact_path`: where a failing test's screenshot goes (``test-artifacts/``);
- :func:`offline`: abort every request of a page or context that is not local;
- :func:`find_free_port`: a free TCP port on 127.0.0.1;
- :class:`Server`: a server process started by the ``serve`` fixture, stopped
  with SIGTERM (it shuts its kernels down) and, failing that, SIGKILL of the
  server and the processes it started (found by pid in /proc).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def artifact_path(request, suffix: str) -> Path:
    """A file under test-artifacts/ named after the running test (screenshots, server logs)."""
    ARTIFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", request.node.nodeid)[-150:]
    return ARTIFACTS / f"{name}{suffix}"


def offline(target, allowed: tuple[str, ...]) -> list[str]:
    """Abort every request of a page/context whose URL does not start with ``allowed``; returns the blocked URLs."""
    blocked: list[str] = []

    def handle(route):
        url = route.request.url
        if url.startswith(allowed):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    target.route("**/*", handle)
    return blocked


def find_free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc), deepest last."""
    kids: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


@dataclass
class Server:
    """A server process started by :func:`serve`."""

    proc: subprocess.Popen
    url: str
    log: Path

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM (the server shuts its kernels down), then SIGKILL whatever it started that is left."""
        if self.proc.poll() is not None:
            return
        kids = _children(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for pid in kids:  # only processes this server started
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status < 500
    except urllib.error.HTTPError as e:
        return e.code < 500
    except (urllib.error.URLError, OSError):
        return False
