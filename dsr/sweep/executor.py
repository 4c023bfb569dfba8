"""Fits on a ``dask.distributed`` cluster: a local one of processes by default, or an existing one.

Each fit is a :class:`FitTask` that a worker runs through the public fit API (:func:`dsr.fit`, or
:func:`dsr.resume` for a run store that a lost worker left unfinished), writing one run store as
``dsr fit`` does; the worker returns a plain summary (:func:`run_fit`). Sweeps, ``dsr fit --search``
and benchmarks submit their fits here.

Workers and threads: the local cluster has one worker process per job with one Dask thread each, and
each fit's kernels run on cores // jobs threads, so that jobs × kernel threads = cores (the fused
kernel's threads and torch's otherwise oversubscribe the cores: ``dsr.training.fused``). On an
existing cluster (``tcp://HOST:PORT`` or a scheduler file) each fit's kernels run on one thread:
start its workers with ``--nthreads 1``, one per core (the local cluster's worker settings,
:data:`LOCAL_CLUSTER`, can be given to them as ``DASK_...`` environment variables). The run stores
must lie on a file system the workers share with the client.

A worker that dies (killed, out of memory) loses its task; the scheduler gives it to another worker,
which continues the fit from the run store's last checkpoint (a resumed fit equals an uninterrupted
one), so nothing is lost.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from dsr.errors import DsrError


LOCAL_CLUSTER: dict[str, Any] = {
    # A worker holds only the task it runs, the rest wait at the scheduler in priority order (with
    # dask's default saturation of 1.1 a worker takes two, and ran later ones first).
    "distributed.scheduler.worker-saturation": 1.0,
    # Without the services of workers that hold data between tasks, which a worker running one fit at
    # a time does not need; measured per fit of sweep_scaling.py (150 epochs, 6.5-7 s of CPU in a
    # process alone, 7.1-7.5 s in a worker with Dask's defaults):
    # - no statistical profiler: it samples the fit's thread 100 times a second (adbd0b2);
    # - glibc's default trim threshold, not Dask's 64 KiB (which returns freed memory to the system at
    #   once): torch's per-batch buffers then fault in fresh pages, 1.3e5 page faults and 0.2 s of
    #   system time per fit, against 3e3 and 0.02 s in a process alone;
    # - the event loop's checks at 1 s, 1 s and 2 s instead of 20, 100 and 500 ms (the tick that detects
    #   a blocked loop, the memory monitor and the system monitor of the dashboard): 0.25 s of the
    #   event loop's CPU per fit, 0.06 s at the slower rates.
    "distributed.worker.profile.enabled": False,
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}
"""Dask settings of the local cluster's workers (:class:`Executor` without a scheduler)."""


@dataclass(frozen=True)
class FitTask:
    """One fit: ``dsr.fit(data, FitConfig(**config), test=test, out=out, name=name)`` on ``threads`` kernel threads."""

    name: str
    data: str
    config: dict[str, Any]
    out: str
    test: str | None = None
    threads: int = 1

    @property
    def path(self) -> Path:
        return Path(self.out) / f"{self.name}.zarr"


@dataclass
class FitOutcome:
    """What a worker reports on a fit: status (finished or failed), final metrics of the best member, wall time."""

    name: str
    status: str
    metrics: dict[str, float | None] = field(default_factory=dict)
    wall_s: float = float("nan")
    error: str = ""
    worker: str = ""
    resumed: bool = False


def outcome_of(task: FitTask, wall_s: float = float("nan"), worker: str = "", resumed: bool = False) -> FitOutcome:
    """The outcome recorded in the run store of ``task`` (its status, final metrics and error)."""
    from dsr import runstore

    attrs = runstore.read_attrs(task.path)
    status = "finished" if attrs.get("status") == "finished" else "failed"
    return FitOutcome(
        task.name, status, dict(attrs.get("final_metrics") or {}), wall_s, attrs.get("error", "") if status == "failed" else "",
        worker, resumed,
    )


def run_fit(task: FitTask) -> FitOutcome:
    """Run ``task`` here (on a worker, or in-process); a fit that fails or diverges is reported, not raised.

    A run store of this name that is already finished is reported as it is; one that exists
    unfinished (its worker died) is continued from its last checkpoint.
    """
    import dask
    import torch

    from dsr import fitting, runstore
    from dsr.training import fused
    from dsr.training.config import FitConfig

    fused.set_threads(task.threads)
    torch.set_num_threads(task.threads)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    start = time.perf_counter()
    resumed = task.path.exists()
    error = ""
    try:
        # Dask collections computed inside a task (xarray's lazily read stores) would otherwise go to the
        # worker's client, and a task that waits on its client secedes from the worker's thread: the
        # worker then starts its next fit beside this one, and fits meant to run one per core pile up.
        with dask.config.set(scheduler="synchronous"):
            if not resumed:
                fitting.fit(task.data, FitConfig(**task.config), test=task.test, out=task.out, name=task.name)
            elif runstore.read_attrs(task.path).get("status") != "finished":
                fitting.resume(task.path)
    except Exception as err:  # noqa: BLE001 -- one broken fit must not stop the others
        error = str(err) if isinstance(err, DsrError) else f"{type(err).__name__}: {err}"
        if not task.path.exists():  # refused before its run store existed (e.g. data too short)
            return FitOutcome(task.name, "failed", error=error, wall_s=time.perf_counter() - start, worker=worker)
    outcome = outcome_of(task, time.perf_counter() - start, worker, resumed)
    outcome.error = outcome.error or (error if outcome.status == "failed" else "")
    return outcome


def _is_scheduler_file(target: str) -> bool:
    return "://" not in target and Path(target).is_file()


def _require_listening(address: str) -> None:
    """Fail at once (not after the client's timeout) when nothing listens at a tcp:// address."""
    from urllib.parse import urlsplit

    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme != "tcp" or parts.hostname is None or parts.port is None:
        raise DsrError(f"--scheduler {address} is neither tcp://HOST:PORT nor a scheduler file; pass one of them")
    with socket.create_connection((parts.hostname, parts.port), timeout=10):
        pass


class _Preload(WorkerPlugin):
    """Imports the fit's modules when a worker starts (also one that replaces a dead worker), before any task.

    Otherwise a task's thread imports xarray while the worker's event loop imports it too (dask
    registers its ``sizeof`` for xarray lazily), and one of them sees a partly initialised module.
    """

    def setup(self, worker: object) -> None:
        import dsr.fitting  # noqa: F401 -- torch, xarray, zarr, numba and the kernels


class Executor:
    """A Dask client on a new local cluster (``jobs`` worker processes) or on the cluster at ``scheduler``.

    Use as a context manager; :meth:`run` yields the outcome of each task as it finishes.
    """

    def __init__(self, scheduler: str | None = None, jobs: int | None = None) -> None:
        import dask
        from distributed import Client, LocalCluster

        if jobs is not None and jobs < 1:
            raise DsrError(f"--jobs {jobs} is not a number of worker processes; pass 1 or more")
        self.cluster = None
        try:
            if scheduler is None:
                cores = os.cpu_count() or 1
                self.jobs = jobs or cores
                self.threads = max(1, cores // self.jobs)
                with dask.config.set(LOCAL_CLUSTER):
                    self.cluster = LocalCluster(
                        n_workers=self.jobs, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                        silence_logs=logging.ERROR,
                    )
                self.client = Client(self.cluster)
            else:
                self.threads = 1
                if _is_scheduler_file(scheduler):
                    self.client = Client(scheduler_file=scheduler, timeout="20s")
                else:
                    _require_listening(scheduler)
                    self.client = Client(scheduler, timeout="20s")
                self.jobs = sum(self.client.nthreads().values())
        except OSError as err:
            raise DsrError(f"cannot reach the Dask scheduler {scheduler} ({err}); check the address, or leave out --scheduler for a local cluster") from None
        self.client.register_plugin(_Preload(), name="dsr-preload")
        if self.jobs == 0:
            self.close()
            raise DsrError(f"the Dask scheduler {scheduler} has no workers; start some (dask worker {scheduler} --nthreads 1)")

    @property
    def dashboard(self) -> str | None:
        """The Dask dashboard's address, if the scheduler serves one (it needs bokeh)."""
        try:
            return self.client.dashboard_link
        except (KeyError, AttributeError):
            return None

    def worker_pids(self) -> dict[str, int]:
        """Process id of each worker (address -> pid)."""
        return self.client.run(os.getpid)

    def running(self, keys: Iterable[str]) -> int:
        """How many of the tasks ``keys`` are being processed by a worker now (a worker's queue counts as
        processing to the scheduler; each worker runs one at a time)."""
        wanted = set(keys)
        return sum(min(1, len(wanted.intersection(tasks))) for tasks in self.client.processing().values())

    def run(self, tasks: list[FitTask], prefix: str = "dsr-fit", poll: float = 0.5, on_poll=None) -> Iterator[FitOutcome]:
        """Submit ``tasks`` (each fit with this executor's kernel threads) and yield their outcomes as they finish.

        ``on_poll(keys)`` is called every ``poll`` seconds while tasks are pending (to show progress);
        when it returns True (a time budget is spent) the tasks no worker has started are cancelled, and
        those running are waited for. A task whose workers died too often is reported as failed.
        """
        from distributed import wait

        futures = {}
        token = uuid.uuid4().hex[:8]  # a key the scheduler has not seen: it may still hold an earlier run's result
        for i, task in enumerate(tasks):
            # Earlier tasks first (a search tries its candidates in order until its budget is spent).
            future = self.client.submit(
                run_fit, replace(task, threads=self.threads), key=f"{prefix}-{token}-{task.name}", pure=False, priority=len(tasks) - i
            )
            futures[future] = task
        pending = set(futures)
        try:
            while pending:
                try:
                    done, pending = wait(pending, timeout=poll, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    done = set()
                for future in done:
                    yield self._outcome(future, futures[future])
                if on_poll is not None and pending and on_poll([f.key for f in pending]):
                    started = {key for keys in self.client.processing().values() for key in keys}
                    queued = {f for f in pending if f.key not in started}
                    for future in queued:
                        future.cancel()
                    pending -= queued
        finally:
            for future in pending:
                future.cancel()

    @staticmethod
    def _outcome(future, task: FitTask) -> FitOutcome:
        if future.status == "finished":
            return future.result()
        error = future.exception()
        return FitOutcome(task.name, "failed", error=f"{type(error).__name__}: {error}")

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

