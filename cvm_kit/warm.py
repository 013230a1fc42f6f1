"""Compatibility: the warm-kernel engine lives in :mod:`cvm_kit.reporting.warm` (this name is that module)."""

import sys

from .reporting import warm as _engine

sys.modules[__name__] = _engine
