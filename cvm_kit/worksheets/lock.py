"""The study folder's write lock, held by every import that writes ``measurements.csv``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import CvmError
from ..io import LOCK_FILE

__all__ = ["LOCK_FILE", "LOCK_TIMEOUT", "study_lock"]

#: Seconds a second writer waits for the study's lock before giving up (``cvm import --lock-timeout``).
LOCK_TIMEOUT = 120.0


_LOCKS: dict[Path, Any] = {}  # filelock.FileLock, imported when a lock is taken


@contextlib.contextmanager
def study_lock(study_path: str | Path, *, timeout: float = LOCK_TIMEOUT,
               on_wait: Callable[[], None] | None = None) -> Iterator[Path]:
    """Hold the study folder's write lock (``<study>/.cvm.lock``, see :data:`LOCK_FILE`).

    Every import that writes takes it, so two imports never interleave their
    read-check-replace of ``measurements.csv``. The lock is an OS file lock
    (the ``filelock`` library): it is released when its holder exits, even
    by a crash, so a stale lock cannot block a study. Re-entrant within one
    thread. The lock file is hidden and never read as study input.

    Parameters
    ----------
    study_path : str or Path
        The study folder.
    timeout : float
        Seconds to wait for another writer before giving up.
    on_wait : callable, optional
        Called once, before waiting, when another writer holds the lock.

    Raises
    ------
    CvmError
        When the lock is still held after ``timeout`` seconds, or cannot be
        created (a read-only folder).
    """
    from filelock import FileLock, Timeout

    folder = Path(study_path).expanduser().resolve()
    path = folder / LOCK_FILE
    lock = _LOCKS.get(path)
    if lock is None:  # one lock object per path: a second object would block its own process
        lock = _LOCKS[path] = FileLock(str(path))
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if on_wait is not None:
                on_wait()
            lock.acquire(timeout=timeout)
    except Timeout:
        raise CvmError(f"another cvm import has been writing {folder} for more than {timeout:g} s (it holds "
                       f"{path}); nothing written. Run the import again when it has finished") from None
    except OSError as exc:
        raise CvmError(f"cannot lock {folder} for writing ({path}: {exc.strerror or exc}); nothing written") from None
    try:
        yield path
    finally:
        lock.release()
