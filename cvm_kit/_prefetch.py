"""Importing what comes next in a thread while the caller reads a study.

Reading a study spends long stretches outside the GIL: file reads, hashing
and pandas' C tokenizer. The modules the checks and the statistics need next
(pydantic and the schema, ``scipy.special``) are pure import work that can
run in those gaps. On the 5,000-customer benchmark study this takes about a
tenth of a second off ``cvm summary``.

Only the CLI uses it: ``import cvm_kit`` and notebooks import as usual.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def _import_all(modules: tuple[str, ...]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the caller's own import raises it where it belongs, with its context
            return


@contextmanager
def prefetch(*modules: str) -> Iterator[None]:
    """Import ``modules`` (in order) in a daemon thread while the block runs; wait for them at its end.

    Python's per-module import locks make this safe: a module the block
    itself imports meanwhile is imported once, by whichever thread gets there
    first, and the other waits for it.

    Examples
    --------
    >>> import sys
    >>> with prefetch("json.decoder"):
    ...     pass
    >>> "json.decoder" in sys.modules
    True
    """
    thread = threading.Thread(target=_import_all, args=(modules,), name="cvm-prefetch", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()
