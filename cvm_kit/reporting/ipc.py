"""Private temporary folders short enough for Unix sockets (kernels, the zygote, multiprocessing)."""

from __future__ import annotations

import os
import tempfile

# A Unix socket path holds at most 107 bytes; jupyter_client appends "-<port>" to the ipc name.
_IPC_PATH_MAX = 90


def ipc_dir(prefix: str) -> str:
    """A private temporary folder short enough for the kernel's Unix sockets.

    In the usual temporary folder; where that path is too long for a socket
    (a deep ``TMPDIR``), in ``/tmp``. The caller removes it.
    """
    d = tempfile.mkdtemp(prefix=prefix)
    if len(os.path.join(d, "k")) + 12 <= _IPC_PATH_MAX or not os.path.isdir("/tmp"):
        return d
    os.rmdir(d)
    return tempfile.mkdtemp(prefix=prefix, dir="/tmp")
