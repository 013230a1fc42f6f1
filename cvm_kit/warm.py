"""Compatibility: the warm-kernel engine lives in :mod:`cvm_kit.reporting.warm`."""

from .reporting.warm import (  # noqa: F401 - the engine's public names, as before
    KernelPool,
    WarmKernel,
    execute,
    kill_all,
    pool,
    shutdown,
    template_imports,
    worker_init,
)
