"""dsr sweep: fits on Dask equal serial fits, survive a killed worker, run on a real distributed cluster,
resume, and refuse bad specs in one line; the app's sweep page in a browser."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from dsr import runstore
from dsr.simulate import simulate
from dsr.sweep import store
from dsr.sweep.executor import LOCAL_CLUSTER, Executor, FitTask, run_fit
from dsr.sweep.runner import run_sweep, tasks_of
from dsr.sweep.spec import read_spec
from dsr.zarrstore import write_dataset
from tests.conftest import assert_one_line_error

FIT = """
[fit]
epochs = {epochs}
batches_per_epoch = 3
batch_size = 4
sequence_length = 20
eval_every = 1
eval_steps = 400
dtype = "float64"
hidden = 8
ensemble = 2
checkpoint_seconds = 0.0
"""
GRID = """
[grid]
seed = [0, 5]
forcing = ["agtf", "stf"]
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sweep-data") / "lorenz.zarr"
    return write_dataset(simulate("lorenz63", 2500, noise=0.05, seed=0), path)


def _spec(folder: Path, data: Path, epochs: int = 3, extra: str = GRID) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spec.toml"
    path.write_text(f'data = "{data}"\n' + FIT.format(epochs=epochs) + extra)
    return path


@pytest.fixture(scope="module")
def executor() -> Executor:
    with Executor(jobs=2) as ex:
        yield ex


def _params(path: Path) -> dict[str, np.ndarray]:
    out = {}
    for checkpoint in ("best", "last"):
        ds = runstore.read_group(path, f"params/{checkpoint}")
        out |= {f"{checkpoint}/{v}": ds[v].values for v in ds.data_vars}
    return out


def _serial(tasks: list[FitTask], folder: Path, threads: int) -> dict[str, dict[str, np.ndarray]]:
    """The same fits run one after another in this process."""
    out = {}
    for task in tasks:
        here = FitTask(task.name, task.data, task.config, str(folder), task.test, threads)
        outcome = run_fit(here)
        assert outcome.status == "finished", outcome.error
        out[task.name] = _params(here.path)
    return out


def _assert_identical(folder: Path, reference: dict[str, dict[str, np.ndarray]]) -> None:
    for name, expected in reference.items():
        got = _params(store.runs_folder(folder) / f"{name}.zarr")
        assert got.keys() == expected.keys()
        for key in expected:
            assert np.array_equal(got[key], expected[key]), (name, key)


def test_four_fits_on_two_workers_equal_the_same_fits_one_after_another(tmp_path: Path, data: Path, executor: Executor) -> None:
    spec = read_spec(_spec(tmp_path, data))
    assert len(spec.configs) == 4 and spec.varied == ("seed", "forcing")
    run_sweep(spec, tmp_path / "sweep", executor)
    table = store.read(tmp_path / "sweep")
    assert list(table["status"].values) == ["finished"] * 4
    assert len(set(table["worker"].values)) == 2  # both workers took fits
    _assert_identical(tmp_path / "sweep", _serial(tasks_of(spec, tmp_path / "sweep"), tmp_path / "serial", executor.threads))
    runs = store.runs_folder(tmp_path / "sweep")
    # The table's metrics are each run's final metrics; distinct configurations give distinct fits.
    for name, d_h in zip(table["fit"].values, table["d_h"].values):
        assert d_h == runstore.read_attrs(runs / f"{name}.zarr")["final_metrics"]["d_h"]
    first, other_seed = _params(runs / "fit-0000.zarr"), _params(runs / "fit-0002.zarr")
    assert not np.array_equal(first["last/A"], other_seed["last/A"])


def test_a_worker_runs_one_fit_at_a_time(tmp_path: Path, data: Path, executor: Executor) -> None:
    """Each worker's fits lie one after another inside the sweep, so their wall times add up to at most the
    sweep's (a fit that computed a lazily read store through the worker's client seceded, and the worker
    started its next fit beside it: one worker's fits summed to twice the sweep's wall time)."""
    spec = read_spec(_spec(tmp_path, data, epochs=8))
    start = time.perf_counter()
    run_sweep(spec, tmp_path / "sweep", executor)
    wall = time.perf_counter() - start
    table = store.read(tmp_path / "sweep")
    assert list(table["status"].values) == ["finished"] * 4
    for worker in set(table["worker"].values):
        assert table["wall_s"].values[table["worker"].values == worker].sum() <= wall


def _worker_settings() -> dict:
    import dask

    from dsr.training import fused

    return {
        "pid": os.getpid(), "MALLOC_TRIM_THRESHOLD_": os.environ.get("MALLOC_TRIM_THRESHOLD_"), "threads": fused.threads(),
        **{key: dask.config.get(key) for key in LOCAL_CLUSTER if not key.startswith("distributed.nanny")},
    }


def test_local_workers_run_with_the_executor_s_settings(tmp_path: Path, data: Path, executor: Executor) -> None:
    """The settings of LOCAL_CLUSTER reach the worker processes (Dask's 64 KiB trim threshold unset in their
    environment, the slower event-loop checks), and a fit runs its kernels on the worker's share of the cores."""
    expected = {key: value for key, value in LOCAL_CLUSTER.items() if not key.startswith("distributed.nanny")}
    assert LOCAL_CLUSTER["distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"] is None
    task = tasks_of(read_spec(_spec(tmp_path, data, epochs=1)), tmp_path / "sweep")[0]
    outcome = next(executor.run([task]))
    assert outcome.status == "finished", outcome.error
    workers = {settings.pop("pid"): settings for settings in executor.client.run(_worker_settings).values()}
    assert workers[int(outcome.worker.rsplit(":", 1)[1])]["threads"] == executor.threads == max(1, (os.cpu_count() or 1) // 2)
    for settings in workers.values():
        assert settings.pop("MALLOC_TRIM_THRESHOLD_") is None
        settings.pop("threads")
        assert settings == expected


def test_a_killed_worker_s_fit_runs_again_and_nothing_is_lost(tmp_path: Path, data: Path, executor: Executor) -> None:
    spec = read_spec(_spec(tmp_path, data, epochs=12, extra="[grid]\nseed = [0, 5]\n"))
    folder, outcome = tmp_path / "sweep", {}
    sweeper = threading.Thread(target=lambda: outcome.setdefault("table", run_sweep(spec, folder, executor)))
    sweeper.start()
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and time.monotonic() < deadline and sweeper.is_alive():
        for task in tasks_of(spec, folder):
            lock = runstore.lock_path(task.path)
            if runstore.has_group(task.path, runstore.HISTORY) and lock.exists():
                try:
                    pid = json.loads(lock.read_text())["pid"]
                except (ValueError, KeyError, OSError):
                    continue  # the lock is being written or released
                if pid in executor.worker_pids().values() and runstore.read_attrs(task.path)["status"] == "running":
                    os.kill(pid, signal.SIGKILL)  # in the middle of its fit (a checkpoint exists, epochs remain)
                    killed = (task.name, pid)
                    break
        time.sleep(0.05)
    sweeper.join(timeout=300)
    assert killed is not None, "no fit was seen running"
    assert "table" in outcome, "the sweep did not complete"
    table = store.read(folder)
    assert list(table["status"].values) == ["finished"] * 2
    row = list(table["fit"].values).index(killed[0])
    assert not table["worker"].values[row].endswith(f":{killed[1]}")  # another worker finished it
    lost = [t for t in tasks_of(spec, folder) if t.name == killed[0]]
    _assert_identical(folder, _serial(lost, tmp_path / "serial", executor.threads))


def test_resume_skips_finished_fits(tmp_path: Path, data: Path, executor: Executor) -> None:
    spec = read_spec(_spec(tmp_path, data, extra="[grid]\nseed = [0, 1, 2]\n"))
    folder = tmp_path / "sweep"
    run_sweep(spec, folder, executor)
    first = store.read(folder)
    runs = {t.name: t.path for t in tasks_of(spec, folder)}
    stamps = {name: (path / "zarr.json").stat().st_mtime_ns for name, path in runs.items()}
    shutil.rmtree(runs["fit-0001"])  # as if the sweep had stopped before this fit
    states = []
    run_sweep(spec, folder, executor, progress=lambda s: states.append((s.skipped, s.done, s.total)))
    assert states[0] == (2, 2, 3) and states[-1][1:] == (3, 3)
    for name in ("fit-0000", "fit-0002"):
        assert (runs[name] / "zarr.json").stat().st_mtime_ns == stamps[name]  # not touched
    assert runstore.read_attrs(runs["fit-0001"])["status"] == "finished"
    again = store.read(folder)
    assert list(again["status"].values) == ["finished"] * 3
    # The skipped fits keep the wall time and worker the table recorded when they ran (a search's record shows them).
    for i in (0, 2):
        assert np.isfinite(again["wall_s"].values[i]) and again["wall_s"].values[i] == first["wall_s"].values[i]
        assert again["worker"].values[i] == first["worker"].values[i] != ""


def test_a_failed_fit_is_recorded_and_the_others_finish(tmp_path: Path, data: Path, executor: Executor) -> None:
    # The data have one trial, so holding out one whole trial is refused; the other fit trains.
    spec = read_spec(_spec(tmp_path, data, extra="[grid]\ntest_trials = [0, 1]\n"))
    run_sweep(spec, tmp_path / "sweep", executor)
    table = store.read(tmp_path / "sweep")
    assert list(table["status"].values) == ["finished", "failed"]
    assert "cannot hold out 1 of 1 trials" in table["error"].values[1] and np.isnan(table["d_stsp"].values[1])
    assert store.best(table) == "fit-0000"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_real_distributed_run(tmp_path: Path, data: Path) -> None:
    """A scheduler and two workers as separate processes on 127.0.0.1; `dsr sweep --scheduler` uses them."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "dask"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    processes = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], **quiet)]
    try:
        processes += [
            subprocess.Popen([*dask, "worker", address, "--nthreads", "1", "--no-dashboard", "--name", f"w{i}"], **quiet) for i in range(2)
        ]
        spec = _spec(tmp_path, data)
        dsr = [sys.executable, "-m", "dsr", "sweep", str(spec), "-o", str(tmp_path / "sweep"), "--scheduler", address, "--json"]
        for _ in range(60):  # the scheduler and workers take a few seconds to start
            if _workers(address) == 2:
                break
            time.sleep(0.5)
        done = subprocess.run(dsr, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        assert result["finished"] == 4 and result["failed"] == 0
        assert len({row["worker"] for row in result["rows"]}) == 2
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def _workers(address: str) -> int:
    from distributed import Client

    try:
        with Client(address, timeout="2s") as client:
            return len(client.nthreads())
    except OSError:
        return 0


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("[grid]\nhiden = [50, 100]\n", ["unknown field(s) hiden in [grid]", "valid fields:"]),
        ("[fit]\nepochs = 3\nlearning_rate = 0.1\n", ["unknown field(s) learning_rate in [fit]"]),
        ("[grid]\nhidden = []\n", ["[grid] hidden is an empty list"]),
        ("[random]\nsamples = 2\nlr_start = { log_uniform = [1e-2, 1e-4] }\n", ["[random] lr_start", "is empty"]),
        ("[random]\nsamples = 2\nrelus = { int = [5, 2] }\n", ["[random] relus", "is empty"]),
        ("[grid]\nhidden = [50, \"many\"]\n", ["[grid] invalid option hidden (got 'many')"]),
        ("[fit]\nforcing = \"tf\"\n", ["[fit] invalid option forcing (got 'tf')"]),
        ("[grid]\nhidden = 50\n", ["[grid] hidden = 50 is not a list"]),
        ("[random]\nsamples = 0\nnoise = { uniform = [0, 1] }\n", ["[random] samples = 0"]),
        ("[random]\nsamples = 2\nnoise = { normal = [0, 1] }\n", ["[random] noise", "is not a distribution"]),
        ("[grids]\nhidden = [50]\n", ["unknown key(s) grids"]),
        ("[grid\n", ["not valid TOML"]),
    ],
)
def test_bad_spec_is_a_one_line_error(tmp_path: Path, data: Path, run_cli, text: str, fragments: list[str]) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text(f'data = "{data}"\n{text}')
    assert_one_line_error(run_cli("sweep", spec, "-o", tmp_path / "out"), f"sweep spec {spec}", *fragments)
    assert not (tmp_path / "out").exists()  # refused before any fit or cluster


def test_random_draws_are_seeded_and_combined_with_the_grid(tmp_path: Path, data: Path) -> None:
    extra = "[grid]\nseed = [0, 1]\n[random]\nsamples = 3\nseed = 7\nlr_start = { log_uniform = [1e-4, 1e-2] }\nrelus = { int = [2, 4] }\n"
    first, again = (read_spec(_spec(tmp_path / name, data, extra=extra)) for name in ("a", "b"))
    assert len(first.configs) == 6 and first.configs == again.configs
    assert all(1e-4 <= c["lr_start"] <= 1e-2 and c["relus"] in (2, 3, 4) for c in first.configs)
    assert [c["seed"] for c in first.configs] == [0, 0, 0, 1, 1, 1]
    assert len({c["lr_start"] for c in first.configs}) == 3  # the draws are shared by the grid points


def test_a_different_spec_in_the_same_folder_is_refused(tmp_path: Path, data: Path, executor: Executor) -> None:
    folder = tmp_path / "sweep"
    run_sweep(read_spec(_spec(tmp_path / "a", data, extra="[grid]\nseed = [0]\n")), folder, executor)
    with pytest.raises(ValueError, match="holds a sweep of another spec"):
        run_sweep(read_spec(_spec(tmp_path / "b", data, extra="[grid]\nseed = [1]\n")), folder, executor)


def test_no_scheduler_there_is_a_one_line_error(tmp_path: Path, data: Path, run_cli) -> None:
    result = run_cli("sweep", _spec(tmp_path, data), "-o", tmp_path / "out", "--scheduler", f"tcp://127.0.0.1:{_free_port()}")
    assert_one_line_error(result, "cannot reach the Dask scheduler")


# --- dsr fit --search ---------------------------------------------------------------------------------


def test_judge_takes_the_lowest_mean_rank_of_d_stsp_and_d_h() -> None:
    from dsr.sweep.search import judge

    candidates = [
        {"status": "finished", "d_stsp": 2.0, "d_h": 0.30},  # ranks 2, 3
        {"status": "finished", "d_stsp": 1.0, "d_h": 0.40},  # ranks 1, 4
        {"status": "finished", "d_stsp": 3.0, "d_h": 0.10},  # ranks 3, 1 -> mean 2, ties with the next
        {"status": "finished", "d_stsp": None, "d_h": 0.20},  # diverged: D_stsp ranks last (4), D_H 2 -> mean 3
        {"status": "pending", "d_stsp": None, "d_h": None},
    ]
    best, reason = judge(candidates)
    assert [c.get("mean_rank") for c in candidates] == [2.5, 2.5, 2.0, 3.0, None]
    assert best == 2 and "rank 3 of 4" in reason
    candidates[2]["d_h"] = 0.5  # now mean ranks 2, 2, 3.5, 2.5: the first two tie, and the lower D_stsp wins
    assert judge(candidates)[0] == 1
    with pytest.raises(ValueError, match="no candidate fit finished"):
        judge([{"status": "pending", "d_stsp": None, "d_h": None}])


def test_describe_shows_candidates_whose_wall_time_is_unknown() -> None:
    """Records written before resumed sweeps kept their table rows hold no wall time for some candidates."""
    from dsr.sweep.search import describe

    record = {
        "candidates": [
            {"choice": "default", "status": "finished", "d_stsp": 4.4, "d_h": 0.085, "mean_rank": 2.0, "wall_s": None},
            {"choice": "latent M = 4N", "status": "finished", "d_stsp": 2.75, "d_h": 0.026, "mean_rank": 1.0, "wall_s": 96.3},
        ],
        "candidate_epochs": 200, "search_seconds": 448.0, "budget_minutes": 10.0, "chosen": "latent M = 4N", "reason": "lowest mean rank",
        "validation": "last 0.2", "folder": "runs/x-search",
    }
    lines = describe(record)
    assert lines[2] == "  - default: D_stsp 4.4, D_H 0.085 (mean rank 2)"
    assert lines[3] == "  * latent M = 4N: D_stsp 2.75, D_H 0.026 (mean rank 1), 96 s"


def test_search_tries_candidates_on_held_out_training_data_and_fits_the_winner(
    tmp_path: Path, data: Path, executor: Executor, run_cli
) -> None:
    from dsr.sweep.search import search
    from dsr.training.config import FitConfig

    base = FitConfig(epochs=2, batches_per_epoch=3, batch_size=4, sequence_length=20, eval_every=1, eval_steps=400, ensemble=1, hidden=8)
    path = search(data, base, budget=0.2, out=tmp_path, name="found", scheduler=executor.cluster.scheduler_address)
    attrs = runstore.read_attrs(path)
    record = attrs["search"]
    tried = record["candidates"]
    assert tried[0]["choice"] == "default" and tried[0]["changes"] == {}
    assert all("hidden" not in c["changes"] for c in tried)  # the user set L = 8: kept
    finished = [c for c in tried if c["status"] == "finished"]
    assert finished and min(finished, key=lambda c: (c["mean_rank"], c["d_stsp"]))["choice"] == record["chosen"]
    assert {k: attrs["config"][k] for k in record["changes"]} == record["changes"]
    assert attrs["config"]["hidden"] == 8 and attrs["config"]["epochs"] == 2 and attrs["status"] == "finished"
    # The candidates saw only the training part (the first 2000 of 2500 steps) and held out its last 20 %.
    from dsr.data import load

    train = Path(store.read(record["folder"]).attrs["data"])
    assert train.name == "train.zarr" and load(train).n_time == 2000
    assert np.array_equal(load(train).values, load(data).values[:, :2000])
    info = run_cli("info", path)
    assert info.code == 0 and f"chose {record['chosen']}" in info.out and "default:" in info.out


def test_bad_search_options_are_one_line_errors(tmp_path: Path, data: Path, run_cli) -> None:
    assert_one_line_error(run_cli("fit", data, "--search", "--budget", "0", "--out", tmp_path), "--budget 0")
    assert_one_line_error(run_cli("fit", "--resume", tmp_path / "x.zarr", "--search"), "drop --search")
