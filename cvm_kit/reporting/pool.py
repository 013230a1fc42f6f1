"""Running many notebook jobs: a process pool (or a Dask cluster), and ending everything on an interrupt.

:func:`_run_jobs` yields each :class:`~cvm_kit.reporting.execute.Outcome` as
it completes. Workers ignore Ctrl-C (the parent handles it), end their
kernels on SIGTERM and die with their parent, even when it is killed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sys
import threading
import time
from typing import Any, Generator, Iterator, Sequence

from .._warm_kernel import _pid_gone as _process_gone  # the kernels' own check (stdlib only)
from ..errors import CvmError
from .execute import Job, Outcome, _end_live_jobs, _execute, _failed_outcome
from .export import _warm_worker

__all__ = ["ENGINES"]


def _warm() -> Any:
    """The warm engine (:mod:`cvm_kit.reporting.warm`), loaded when a run uses it (jupyter_client stays unloaded)."""
    from . import warm

    return warm


def _short_mp_tempdir() -> None:
    """Give multiprocessing a temporary folder whose socket paths fit (a deep ``TMPDIR`` breaks forkserver).

    multiprocessing keeps its forkserver socket in ``TMPDIR/pymp-*``; a Unix
    socket path holds at most 107 bytes, so under a deep ``TMPDIR`` the
    folder goes to ``/tmp`` instead (removed at exit, as multiprocessing does).
    """
    from multiprocessing import process, util

    from .warm_kernel import ipc_dir

    config = process.current_process()._config  # type: ignore[attr-defined]  # noqa: SLF001 - get_temp_dir keeps it there
    if config.get("tempdir") is None:
        d = ipc_dir("pymp-")
        util.Finalize(None, shutil.rmtree, args=[d], exitpriority=-100)
        config["tempdir"] = d


def _pool_context():
    import multiprocessing as mp

    _short_mp_tempdir()

    if sys.platform.startswith("linux") and "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        with contextlib.suppress(Exception):
            ctx.set_forkserver_preload(["cvm_kit._fast_imports", "cvm_kit.runs", "cvm_kit.reporting.pool",
                                        "cvm_kit.reporting.warm", "papermill", "nbconvert", "jupytext"])
        return ctx
    return mp.get_context("spawn")


# ---------------------------------------------------------------------------
# worker processes: they end with their parent, and on SIGTERM they end their kernels first


def _end_worker(*_: Any) -> None:
    """Kill this worker's kernels (process groups), remove its temporary files, exit at once."""
    with contextlib.suppress(BaseException):
        _end_live_jobs()
    os._exit(143)


def _die_with_parent(parent: int) -> None:
    """End this worker (and its kernels) when the batch process dies, even by SIGKILL.

    On Linux the kernel sends SIGTERM when the parent (the forkserver, which
    exits when the batch process does) goes away (``PR_SET_PDEATHSIG``); a
    thread that polls the parent covers other systems and a missed signal.
    """
    ppid = os.getppid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != ppid or _process_gone(parent):  # the parent died before the request took effect
        _end_worker()

    def watch() -> None:
        while True:
            time.sleep(0.25)
            if os.getppid() != ppid or _process_gone(parent):
                _end_worker()

    threading.Thread(target=watch, name="cvm-parent-watch", daemon=True).start()


def _worker_init(parent: int, engine: str = "papermill", kernel_name: str | None = None,
                 templates: Sequence[str] = (), zygote: str | None = None) -> None:
    """Pool worker set-up: Ctrl-C is the parent's to handle, SIGTERM ends the kernels, then warm up."""
    # Ctrl-C reaches the whole foreground process group; only the batch process acts on it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _end_worker)
    _die_with_parent(parent)
    if engine == "warm":
        _warm().worker_init(kernel_name, templates, zygote)  # starts this worker's kernel, then _warm_worker meanwhile
    else:
        _warm_worker()


def _children(pids: set[int]) -> set[int]:
    """Every descendant of ``pids`` (Linux /proc; empty elsewhere)."""
    found: set[int] = set()
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return found
    parent_of: dict[int, int] = {}
    for e in entries:
        with contextlib.suppress(OSError, IndexError, ValueError):
            with open(f"/proc/{e}/stat", "rb") as f:
                parent_of[int(e)] = int(f.read().rsplit(b")", 1)[1].split()[1])
    frontier = set(pids)
    while frontier:
        nxt = {pid for pid, pp in parent_of.items() if pp in frontier and pid not in found}
        found |= nxt
        frontier = nxt
    return found


def _stop_pool(pool: Any) -> None:
    """Stop a process pool now: running jobs are abandoned, every worker and kernel is killed."""
    try:
        _stop_workers(pool)
    finally:
        _stop_zygote(pool)


def _stop_workers(pool: Any) -> None:
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for p in procs:  # SIGTERM: the worker kills its kernels and removes its temporary files
        with contextlib.suppress(Exception):
            p.terminate()
    with contextlib.suppress(Exception):
        pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + 1.0
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(max(0.0, deadline - time.monotonic()))
    stuck = [p for p in procs if p.is_alive()]
    if stuck and hasattr(os, "killpg"):  # a worker that did not end in time: kill its kernels' groups first
        me = os.getpgrp()
        for pid in _children({p.pid for p in stuck}):
            with contextlib.suppress(OSError):
                pg = os.getpgid(pid)
                if pg != me:
                    os.killpg(pg, signal.SIGKILL)
    if stuck:
        for p in stuck:
            with contextlib.suppress(Exception):
                p.kill()
                p.join(0.5)


def _stop_forkserver() -> None:
    """End the forkserver now (after an interrupt): it would otherwise take seconds tearing down its heap.

    It is started again, clean, by the next pool that needs it.
    """
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        from multiprocessing import forkserver

        fs = forkserver._forkserver
        pid = fs._forkserver_pid  # type: ignore[attr-defined]  # private: no public way to stop it
        if pid:
            os.kill(pid, signal.SIGKILL)
            fs._stop()  # type: ignore[attr-defined]  # reaps it and forgets its socket, so a later pool starts a new one


@contextlib.contextmanager
def _no_interrupts() -> Iterator[None]:
    """Ignore further Ctrl-C while an interrupted run cleans up (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)



def _start_pool(workers: int, engine: str, kernel_name: str | None, templates: Sequence[str]) -> Any:
    """A process pool whose workers start now, each starting its warm kernel at once.

    :func:`cvm_kit.reporting.series.run_report` makes it first, so the
    workers' and kernels' start-up overlaps the study's validation and the
    templates' reading; it is handed to :func:`_run_jobs` (``executor``), or
    stopped with :func:`_stop_pool` when no job runs.
    """
    from concurrent.futures import ProcessPoolExecutor

    templates = list(dict.fromkeys(map(str, templates)))
    zygote = _start_zygote(workers, engine, kernel_name, templates)  # first: its imports are the longest wait
    try:
        pool = ProcessPoolExecutor(max_workers=max(1, int(workers)), mp_context=_pool_context(),
                                   initializer=_worker_init,
                                   initargs=(os.getpid(), engine, kernel_name, templates,
                                             zygote.address if zygote is not None else None))
    except BaseException:
        if zygote is not None:
            zygote.stop()
        raise
    pool._cvm_zygote = zygote  # type: ignore[attr-defined]  # stopped with the pool (_stop_zygote)
    launch = getattr(pool, "_launch_processes", None)  # every worker now, not one per submitted job
    if launch is not None:
        with contextlib.suppress(Exception):
            launch()
    return pool


def _start_zygote(workers: int, engine: str, kernel_name: str | None, templates: Sequence[str]) -> Any:
    """The run's kernel zygote (:mod:`cvm_kit.reporting.zygote`) when its workers will start Python kernels.

    One process imports what the kernels import; each worker's kernel is
    forked from it. Only for two workers or more (one kernel gains nothing),
    on Linux, for the notebooks' own ``python3`` kernel; None otherwise or
    when it cannot start (the kernels then start on their own).
    """
    if engine != "warm" or int(workers) < 2 or not sys.platform.startswith("linux") or not templates:
        return None
    if os.environ.get("CVM_ZYGOTE", "1").strip().lower() in ("0", "no", "false", "off"):
        return None
    try:
        name = kernel_name or _warm()._spec_name(str(templates[0]))
        if name != "python3":
            return None
        from .zygote import Zygote

        return Zygote(templates)
    except Exception:  # noqa: BLE001 - an optimisation: without it every kernel starts on its own
        return None


def _stop_zygote(pool: Any) -> None:
    z = getattr(pool, "_cvm_zygote", None)
    if z is not None:
        z.stop()


def _run_jobs(jobs: list[Job], *, workers: int, scheduler: str | None, progress: bool,
              desc: str, engine: str = "warm", executor: Any = None,
              after: Any = None, after_at: int | None = None) -> Generator[Outcome, None, None]:
    """Run jobs on a process pool (or a Dask cluster); yield each outcome as it completes.

    ``engine``: ``"warm"`` runs them on warm kernels (:mod:`cvm_kit.reporting.warm`,
    one pool of kernels per worker process, Dask worker or this process),
    ``"papermill"`` in a fresh kernel each (:func:`_execute`).

    If the caller stops early (Ctrl-C, an error, ``close()``), every running
    job is ended at once: pool workers get SIGTERM and kill their kernels'
    process groups; pending jobs never start.

    ``executor``: a pool from :func:`_start_pool` (already starting), used
    instead of a new one and shut down here; ``after(pool)``: called with the
    process pool once the first ``after_at`` jobs (default: every job) are
    submitted, so the work it submits is queued behind those and ahead of
    the rest (workers take queued work in order).
    """
    _check_engine(engine)
    if not jobs:
        if executor is not None:
            _stop_pool(executor)
        return
    from tqdm.auto import tqdm

    run = _execute
    if engine == "warm":
        run = _warm().execute  # same job and outcome as _execute
    bar = tqdm(total=len(jobs), desc=desc, unit="nb", disable=not progress, file=sys.stderr)
    try:
        if scheduler:
            from ..errors import require

            distributed = require("distributed", "dask")
            with distributed.Client(scheduler, timeout="30s") as client:
                futures = client.map(run, jobs, pure=False, key=[f"cvm-{j['name']}-{os.urandom(4).hex()}"
                                                                      for j in jobs])
                by_future = dict(zip(futures, jobs))
                try:
                    for fut in distributed.as_completed(futures):
                        try:
                            out = fut.result()
                        except Exception as exc:  # noqa: BLE001 - a lost worker fails its job only
                            out = _failed_outcome(by_future[fut], f"{type(exc).__name__} on the cluster: {exc}")
                        bar.update()
                        yield out
                except BaseException:
                    with _no_interrupts(), contextlib.suppress(Exception):
                        client.cancel(futures)  # jobs not started never start; running ones keep their time limit
                    raise
            return
        workers = max(1, min(int(workers), len(jobs)))
        if workers == 1 and executor is None:
            for job in jobs:  # in this process: an interrupt ends the job's kernel in _execute_here
                out = run(job)
                bar.update()
                yield out
            return
        from concurrent.futures import as_completed

        pool = executor if executor is not None else _start_pool(
            workers, engine, jobs[0].get("kernel_name"), [str(j["template"]) for j in jobs])
        try:
            at = len(jobs) if after_at is None else max(0, min(int(after_at), len(jobs)))
            futs = {pool.submit(run, job): job for job in jobs[:at]}
            if after is not None:
                after(pool)
            futs.update({pool.submit(run, job): job for job in jobs[at:]})
            for fut in as_completed(futs):
                try:
                    out = fut.result()
                except Exception as exc:  # noqa: BLE001 - e.g. a worker killed by the OS
                    out = _failed_outcome(futs[fut], f"{type(exc).__name__}: {exc}")
                bar.update()
                yield out
        except BaseException as exc:
            with _no_interrupts():
                _stop_pool(pool)
                if isinstance(exc, KeyboardInterrupt):
                    _stop_forkserver()
            raise
        try:
            pool.shutdown(wait=True)
        finally:
            _stop_zygote(pool)
    finally:
        bar.close()
        if engine == "warm" and not scheduler:  # kernels of this process (workers=1) end with the run
            _warm().shutdown()


ENGINES = ("warm", "papermill")


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise CvmError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")


