"""Build step that ships the notebook series and the example study inside the wheel.

The canonical files stay at the top of the checkout (``notebooks/``,
``data/examples/``, ``jupytext.toml``); a built wheel carries copies under
``cvm_kit/_bundled/`` (read with ``importlib.resources``, see
:func:`cvm_kit.runs.notebooks_dir` and :func:`cvm_kit.example_path`). An
editable install (``pip install -e .``) copies nothing: the package then reads
the checkout's own files, so an edit there is live. ``MANIFEST.in`` puts the
same files in the sdist, so a wheel built from the sdist carries them too.
Everything else is in ``pyproject.toml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# checkout folder -> (folder under cvm_kit/_bundled, file patterns); the example's truth.json and
# generator script are for the checkout's tests only
BUNDLE = {
    "notebooks": ("notebooks", ("*.py", "dashboards/*.py", "jupytext.toml")),
    "data/examples/pipe_coating": ("examples/pipe_coating", ("project.yaml", "*.csv")),
    "docs": ("docs", ("*.md",)),  # `cvm format` prints the study format without the checkout
}


def bundled_files() -> list[tuple[Path, str]]:
    """``(source file, destination relative to the cvm_kit package)`` for every bundled file."""
    files = []
    for src, (dest, patterns) in BUNDLE.items():
        base = ROOT / src
        found = sorted({p for pattern in patterns for p in base.glob(pattern) if p.is_file()})
        if not found:
            raise SystemExit(f"setup.py: nothing to bundle in {base} (patterns {', '.join(patterns)})")
        files += [(p, f"_bundled/{dest}/{p.relative_to(base).as_posix()}") for p in found]
    return files


class BuildPyBundled(build_py):
    """``build_py`` that also copies :data:`BUNDLE` into ``cvm_kit/_bundled`` (not for editable installs)."""

    def _bundling(self) -> bool:
        return not getattr(self, "editable_mode", False)

    def run(self) -> None:
        super().run()
        if not self._bundling():
            return
        for src, rel in bundled_files():
            dest = Path(self.build_lib) / "cvm_kit" / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if self._bundling():
            outputs += [str(Path(self.build_lib) / "cvm_kit" / rel) for _, rel in bundled_files()]
        return outputs


setup(cmdclass={"build_py": BuildPyBundled})
