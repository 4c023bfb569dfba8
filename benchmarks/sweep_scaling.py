"""`dsr sweep --jobs 2` against the same fits one after another: wall-time ratio and per-task overhead.

Eight fits of the default model with a shortened schedule (`--epochs`, one member each: a sweep's
fits are usually single models over seeds or settings) on the Lorenz-63 sample store:

- serial: the fits one after another in this process (`dsr.sweep.executor.run_fit`, the function the
  workers run; as eight `dsr fit` calls without their start-up), each on one kernel thread as in a
  worker: a one-member fit has nothing to split over threads (the compiled epoch and the evaluation's
  free runs go one thread per member, and its 16 float32 windows fill one lane chunk);
- sweep: `run_sweep` on a new local Dask cluster of `--jobs` worker processes; its start and a first tiny fit
  per worker (loading and compiling the kernels, as the serial process's warm-up does) are timed apart
  ("cluster start s"): a one-off per sweep, which the "ratio with start" column includes.

Per-task overhead: the sweep's core time that was not spent inside fits, (wall × jobs − Σ fit wall) / fits
(cluster start, worker imports, scheduling, table writes, a worker idle at the end), and the round
trip of an empty task on the running cluster. The load average is printed with each run: other
processes on a shared machine shift the ratio either way. On a loaded machine the CPU ratio says more:
the serial fits' CPU time over the busiest worker's (what bounds the sweep when each process has a core;
the workers' CPU time includes their imports and the scheduling). Usage:
python benchmarks/sweep_scaling.py [--fits 8] [--epochs 150] [--jobs 2] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from dsr.sweep.executor import Executor, run_fit
from dsr.sweep.runner import run_sweep, tasks_of
from dsr.sweep.spec import SweepSpec

DATA = Path(__file__).resolve().parents[1] / "data" / "lorenz63.zarr"


def _spec(fits: int, epochs: int) -> SweepSpec:
    configs = tuple({"epochs": epochs, "ensemble": 1, "seed": seed} for seed in range(fits))
    return SweepSpec(DATA, None, configs, ("seed",), f"{fits} fits of {epochs} epochs")


def _serial(spec: SweepSpec, folder: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of the fits one after another here."""
    wall, cpu = time.perf_counter(), time.process_time()
    for task in tasks_of(spec, folder):
        assert run_fit(task).status == "finished"
    return time.perf_counter() - wall, time.process_time() - cpu


def _cpu() -> float:
    return time.process_time()


def _sweep(spec: SweepSpec, folder: Path, jobs: int) -> tuple[float, float, float, float, float]:
    """(wall, Σ fit wall in the workers, cluster start, empty-task round trip, the busiest worker's CPU) in seconds."""
    from dsr.sweep import store

    start = time.perf_counter()
    with Executor(jobs=jobs) as executor:
        # One tiny fit per worker first: a new worker process loads (and, for what Numba does not cache on
        # disk, compiles) the kernels once, as the serial process did in its warm-up.
        run_sweep(_spec(jobs, 2), folder.with_name(folder.name + "-warm"), executor)
        started = time.perf_counter() - start
        before = executor.client.run(_cpu)
        run_sweep(spec, folder, executor)
        wall = time.perf_counter() - start - started
        busiest = max(cpu - before[worker] for worker, cpu in executor.client.run(_cpu).items())
        trip = time.perf_counter()
        executor.client.gather([executor.client.submit(int, i, pure=False) for i in range(100)])
        round_trip = (time.perf_counter() - trip) / 100
    table = store.read(folder)
    assert list(table["status"].values) == ["finished"] * len(spec.configs)
    return wall, float(table["wall_s"].values.sum()), started, round_trip, busiest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fits", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1, help="serial and sweep alternately, this many times each")
    args = parser.parse_args()
    spec = _spec(args.fits, args.epochs)
    print(f"{args.fits} fits (default model, 1 member, {args.epochs} epochs) on {DATA.name}; {os.cpu_count()} cores")
    print("round  serial wall s  (CPU s)  sweep --jobs {j} wall s  (busiest worker CPU s)  ratio  ratio with start  CPU ratio  overhead per task s  cluster start s  empty task ms  load before/after".format(j=args.jobs))
    with tempfile.TemporaryDirectory() as tmp:
        run_fit(tasks_of(_spec(1, 2), Path(tmp) / "warm")[0])  # compile and cache the kernels once
        for k in range(args.rounds):
            load = os.getloadavg()[0]
            serial, cpu = _serial(spec, Path(tmp) / f"serial-{k}")
            wall, inside, started, trip, busiest = _sweep(spec, Path(tmp) / f"sweep-{k}", args.jobs)
            overhead = (wall * args.jobs - inside) / args.fits
            print(f"{k + 1:5d}  {serial:13.1f}  {cpu:7.1f}  {wall:22.1f}  {busiest:23.1f}  {serial / wall:5.2f}  {serial / (wall + started):16.2f}  {cpu / busiest:9.2f}  {overhead:19.2f}"
                  f"  {started:15.1f}  {1000 * trip:13.1f}  {load:.1f}/{os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
