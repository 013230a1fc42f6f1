"""Shared fixtures: the tiny study (read-only), a writable copy, the bundled example.

Kept light on purpose: no heavy imports at module level, so collecting the
suite stays fast and import-weight tests are not disturbed.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
TINY = TESTS / "data" / "tiny"

# tools/ (the test-data generator, outside the runtime package) imports as `tools.synthetic`,
# under `pytest` as under `python -m pytest` (which alone puts the repository root on sys.path)
if str(TESTS.parent) not in sys.path:
    sys.path.insert(0, str(TESTS.parent))


@pytest.fixture(autouse=True)
def _agg_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never open a window: plots drawn in tests use the Agg backend."""
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every figure a test drew (only if matplotlib was imported at all)."""
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


@pytest.fixture
def tiny_path() -> Path:
    """The tiny study folder (never modify it: use ``tiny_copy`` for variants)."""
    return TINY


@pytest.fixture
def tiny_copy(tmp_path: Path) -> Path:
    """A writable copy of the tiny study in ``tmp_path``."""
    dest = tmp_path / "tiny"
    shutil.copytree(TINY, dest)
    return dest


@pytest.fixture
def fresh_pool():
    """Every warm-engine test starts without warm kernels in this process and leaves none behind."""
    from cvm_kit.reporting import warm

    warm.shutdown()
    yield warm.pool()
    warm.shutdown()


@pytest.fixture
def tiny(tiny_path: Path):
    """The tiny study, loaded."""
    from cvm_kit.study import load_study

    return load_study(tiny_path)


@pytest.fixture
def example_path() -> Path:
    """The bundled example study (skips if it has not been generated yet)."""
    import cvm_kit
    from cvm_kit.errors import CvmError

    try:
        return cvm_kit.example_path()
    except CvmError as exc:  # pragma: no cover - only while the example is being written
        pytest.skip(str(exc))
