"""Importing what comes next in a thread while the caller reads a study.

Reading a study spends long stretches outside the GIL: file reads, hashing
and pandas' C tokenizer. The modules the checks and the statistics need next
(pydantic and the schema, ``scipy.special``) are pure import work that can
run in those gaps. On the 5,000-customer benchmark study this takes about a
tenth of a second off ``cvm summary``.

Only the CLI uses it: ``import cvm_kit`` and notebooks import as usual.

A command-line run also defers two numpy subpackages nothing in it uses
(:func:`defer_unused`): ``scipy.special`` copies every name of numpy into its
array-API layer, which imports ``numpy.testing`` (with ``unittest``) and
``numpy.f2py`` only to copy the module objects: a third of that import's CPU
time (0.1 s on a loaded machine), spent on the core the command also reads
with.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# imported only to be listed by scipy.special's array-API layer (see the module docstring)
UNUSED = ("numpy.testing", "numpy.f2py")
_defer = False


def defer_unused() -> None:
    """From now on the prefetch thread first makes :data:`UNUSED` lazy modules (loaded on first use).

    Only for a command-line run (:func:`cvm_kit.cli.main` without ``argv``),
    where nothing uses them: Python 3.11's ``LazyLoader`` does not guard a
    module's first load against two threads at once, so a library caller (a
    notebook, a test run) gets the ordinary import.
    """
    global _defer
    _defer = True


def lazy_module(name: str) -> bool:
    """Register the not yet imported submodule ``name`` as a lazy module (executed when first used).

    It is bound on its parent too, so ``dir``/``getattr`` on the parent find
    it without importing it. Returns whether it was made lazy (False when it
    is imported already or cannot be found).

    Examples
    --------
    >>> import sys
    >>> lazy_module("json.tool") or "json.tool" in sys.modules
    True
    >>> import json.tool
    >>> callable(json.tool.main)
    True
    """
    parent_name, _, child = name.rpartition(".")
    if name in sys.modules or not parent_name:
        return False
    try:
        parent = importlib.import_module(parent_name)
    except ImportError:
        return False
    if child in vars(parent):
        return False
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
        return False
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    setattr(parent, child, module)
    return True


def _import_all(modules: tuple[str, ...]) -> None:
    if _defer:
        for name in UNUSED:
            try:
                lazy_module(name)
            except Exception:  # noqa: BLE001 - then it is imported the ordinary way
                pass
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
