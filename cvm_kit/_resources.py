"""Where the files shipped beside the code are: a wheel's copies, or the checkout's own.

A built wheel carries the notebook series and the example study under
``cvm_kit/_bundled/`` (``setup.py`` copies them in), read here with
:mod:`importlib.resources`. A checkout or an editable install has no such
copies: there the canonical top-level folders (``notebooks/``,
``data/examples/``) are used, so edits to them are live.
"""

from __future__ import annotations

from pathlib import Path


def candidates(bundled: str, checkout: str) -> list[Path]:
    """Folders to look in, best first: ``cvm_kit/_bundled/<bundled>``, then ``<checkout root>/<checkout>``.

    Parameters
    ----------
    bundled : str
        Folder under ``cvm_kit/_bundled`` in a wheel, e.g. ``"notebooks"``.
    checkout : str
        Folder under the checkout's root, e.g. ``"data/examples"``.

    Examples
    --------
    >>> from cvm_kit._resources import candidates
    >>> candidates("notebooks", "notebooks")[-1].name
    'notebooks'
    """
    from importlib.resources import files

    found: list[Path] = []
    res = files("cvm_kit") / "_bundled"
    for part in bundled.split("/"):
        res = res / part
    if res.is_dir():
        # an installed wheel is unpacked on disk: the Traversable is a real folder
        found.append(Path(str(res)))
    found.append(Path(__file__).resolve().parent.parent.joinpath(*checkout.split("/")))
    return found


def doc_path(name: str = "study-format.md") -> Path:
    """One of the project's documents (``docs/<name>``): the wheel's copy, else the checkout's.

    Examples
    --------
    >>> from cvm_kit._resources import doc_path
    >>> doc_path().read_text(encoding="utf-8").startswith("#")
    True
    """
    for base in candidates("docs", "docs"):
        if (base / name).is_file():
            return base / name
    from .errors import CvmError

    raise CvmError(f"document {name!r} not found in this installation; reinstall cvm_kit")
