"""Reliability corpus: no run lost, no data destroyed, every failure a one-line error.

Generated, parametrized cases: a fit killed (SIGKILL) at every write point of a checkpoint
resumes to the uninterrupted result; two writers of one run store; outputs that are inputs;
resume against changed data or contradicting options; signals; inputs that once ended in a
traceback.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import dsr
from dsr import runstore
from dsr.simulate import simulate
from dsr.zarrstore import write_dataset
from tests.conftest import assert_one_line_error

TINY_TOML = (
    "epochs = 2\nbatches_per_epoch = 2\nbatch_size = 4\nsequence_length = 20\neval_every = 1\neval_steps = 300\ncheckpoint_seconds = 0\n"
    "hidden = 8\nensemble = 1\ndtype = \"float64\"\n"
)

# Runs `dsr ARGS...` and SIGKILLs itself before the KILL_AT-th rename of dsr's own inside the CHECKPOINT-th
# checkpoint write (or right after that write when KILL_AT exceeds its renames): the state a power
# cut leaves at that write point. zarr's renames of its ``.partial`` files happen inside a staged group.
KILLER = """
import os, signal, sys
from dsr import runstore
from dsr.cli import main

kill_at, checkpoint = int(sys.argv[1]), int(sys.argv[2])
seen = {"checkpoints": 0, "renames": 0, "inside": False}
real_write, real_replace = runstore.write_checkpoint, os.replace

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def replace(src, dst):
    if seen["inside"] and not str(src).endswith(".partial"):
        seen["renames"] += 1
        if seen["renames"] == kill_at:
            die()
    return real_replace(src, dst)

def write_checkpoint(*args, **kwargs):
    seen["checkpoints"] += 1
    seen["inside"] = seen["checkpoints"] == checkpoint
    real_write(*args, **kwargs)
    if seen["inside"]:
        die()

os.replace = replace
runstore.write_checkpoint = write_checkpoint
sys.argv = ["dsr", *sys.argv[3:]]
main()
"""

CHECKPOINT_RENAMES = 14
"""os.replace calls of a checkpoint that replaces an earlier one: 4 staged groups, the manifest,
the commit, and two per group to move it into place (checked by test_checkpoint_rename_count)."""


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dataset(simulate("lorenz63", 2500, noise=0.05, seed=0), tmp_path_factory.mktemp("data") / "lorenz.zarr")


@pytest.fixture(scope="module")
def toml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "fit.toml"
    path.write_text(TINY_TOML)
    return path


def _dsr(*args: object, script: str | None = None, script_args: tuple = ()) -> subprocess.Popen:
    code = script or "from dsr.cli import main; import sys; sys.argv = ['dsr', *sys.argv[1:]]; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, script_args), *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _fit_args(data: Path, toml: Path, out: Path, name: str) -> tuple:
    return ("fit", data, "--config", toml, "--out", out, "--name", name, "--quiet")


@pytest.fixture(scope="module")
def killed_fits(data: Path, toml: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """The uninterrupted fit (key 0) and one fit killed at each write point of its second checkpoint."""
    out = tmp_path_factory.mktemp("killed")

    def run(kill_at: int) -> Path:
        args = _fit_args(data, toml, out / str(kill_at), "run")
        proc = _dsr(*args, script=None if kill_at == 0 else KILLER, script_args=() if kill_at == 0 else (kill_at, 2))
        _, err = proc.communicate(timeout=300)
        expected = 0 if kill_at == 0 else -9
        assert proc.returncode == expected, err
        return out / str(kill_at) / "run.zarr"

    with ThreadPoolExecutor(max_workers=3) as pool:
        paths = list(pool.map(run, range(CHECKPOINT_RENAMES + 2)))
    return dict(enumerate(paths))


def test_checkpoint_rename_count(tmp_path: Path) -> None:
    path = runstore.create(tmp_path / "r.zarr", {})
    groups = {g: xr.Dataset({"v": ("i", np.arange(3.0))}) for g in ("params/last", "state/last", "params/best", "history")}
    runstore.write_checkpoint(path, groups, epoch=1)
    calls = []
    real = os.replace
    try:
        os.replace = lambda src, dst: (calls.append(dst) if not str(src).endswith(".partial") else None, real(src, dst))[1]
        runstore.write_checkpoint(path, groups, epoch=2)
    finally:
        os.replace = real
    assert len(calls) == CHECKPOINT_RENAMES


_LEFTOVER = re.compile(r"(\.tmp-|\.old-|^\.checkpoint$)")


def _leftovers(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if _LEFTOVER.search(p.name)]


@pytest.mark.parametrize("kill_at", range(1, CHECKPOINT_RENAMES + 2))
def test_fit_killed_at_each_checkpoint_write_point_resumes_exactly(killed_fits: dict[int, Path], kill_at: int) -> None:
    full, cut = killed_fits[0], killed_fits[kill_at]
    # What a reader sees before recovery: one whole checkpoint (epoch 1 or 2), never a mix.
    epochs = {
        int(runstore.read_group(cut, "params/last").attrs["epoch"]),
        int(runstore.read_group(cut, "state/last").attrs["epoch"]),
        int(runstore.read_group(cut, "history")["epoch"].values[-1]),
    }
    committed = kill_at > 6  # renames 1-4 stage the groups, 5 the manifest, 6 commits
    assert epochs == {2 if committed else 1}
    assert runstore.read_attrs(cut)["status"] == "running"
    dsr.resume(cut)
    assert runstore.read_attrs(cut)["status"] == "finished"
    for group in ("params/last", "params/best"):
        xr.testing.assert_identical(runstore.read_group(full, group).drop_attrs(), runstore.read_group(cut, group).drop_attrs())
    for name in ("loss", "d_stsp"):
        np.testing.assert_array_equal(runstore.read_group(full, "history")[name], runstore.read_group(cut, "history")[name])
    assert _leftovers(cut.parent) == []


# --- one writer per run store -----------------------------------------------------------------------


@pytest.mark.parametrize("writer", ["fit", "overwrite", "resume"])
def test_a_second_writer_is_refused_naming_the_holder(run_cli, data: Path, toml: Path, tmp_path: Path, writer: str) -> None:
    path = tmp_path / "run.zarr"
    assert run_cli(*_fit_args(data, toml, tmp_path, "run")).code == 0
    runstore.update_attrs(path, status="interrupted")
    args = {
        "fit": _fit_args(data, toml, tmp_path, "run"),
        "overwrite": (*_fit_args(data, toml, tmp_path, "run"), "--overwrite"),
        "resume": ("fit", "--resume", path, "--quiet"),
    }[writer]
    before = runstore.read_group(path, "params/last")
    with runstore.locked(path, "dsr fit"):
        result = run_cli(*args)
    assert_one_line_error(result, f"process {os.getpid()} on ", "(dsr fit, since ")
    xr.testing.assert_identical(before, runstore.read_group(path, "params/last"))
    assert not runstore.lock_path(path).exists()


def test_two_concurrent_fits_leave_one_consistent_run(data: Path, toml: Path, tmp_path: Path) -> None:
    procs = [_dsr(*_fit_args(data, toml, tmp_path, "run"), "--overwrite", "--seed", seed) for seed in (1, 2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    assert all(code == 0 or (code == 2 and "is being written by process" in err) for code, err in results), results
    path = tmp_path / "run.zarr"
    seed = runstore.read_attrs(path)["seed"]
    for group in ("params/last", "params/best"):
        assert int(runstore.read_group(path, group)["seed"].values[0]) == seed
    assert runstore.read_attrs(path)["status"] == "finished"
    assert not runstore.lock_path(path).exists() and _leftovers(tmp_path) == []


def test_a_stale_lock_of_a_dead_process_is_reported_and_taken_over(run_cli, data: Path, toml: Path, tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout.strip()
    lock = runstore.lock_path(tmp_path / "run.zarr")
    lock.write_text(f'{{"pid": {dead}, "host": "h", "command": "dsr fit", "since": "then"}}')
    result = run_cli(*_fit_args(data, toml, tmp_path, "run"))
    assert result.code == 0 and f"stale lock of process {dead} on h" in result.err
    assert not lock.exists()


# --- inputs are never outputs ----------------------------------------------------------------------------


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


SEPARATE_CASES = {
    # name: (files to lay out as data stores or arrays, command with {t} for the folder, expected relation)
    "fit onto its data": (["d/mydata.zarr"], "fit {t}/d/mydata.zarr --out {t}/d --name mydata --overwrite", "is the input"),
    "fit into its data": (["d.zarr"], "fit {t}/d.zarr --out {t}/d.zarr --name r", "lies inside the input"),
    "fit over a folder holding its data": (["r.zarr/d.zarr"], "fit {t}/r.zarr/d.zarr --out {t} --name r --overwrite", "contains the input"),
    "fit onto its test store": (["d.zarr", "t.zarr"], "fit {t}/d.zarr --test {t}/t.zarr --out {t} --name t --overwrite", "is the input"),
    "fit through a link to its data": (["d/x.zarr", "link->d"], "fit {t}/d/x.zarr --out {t}/link --name x --overwrite", "is the input"),
    "import onto its file": (["a.npy"], "import {t}/a.npy -o {t}/a.npy --overwrite", "is the input"),
    "import over the folder of its file": (["f/a.npy"], "import {t}/f/a.npy -o {t}/f --overwrite", "contains the input"),
}


@pytest.mark.parametrize("case", SEPARATE_CASES)
def test_an_output_that_is_contains_or_lies_inside_an_input_is_refused(run_cli, tmp_path: Path, case: str) -> None:
    layout, command, relation = SEPARATE_CASES[case]
    for item in layout:
        target = tmp_path / item
        if "->" in item:
            link, dest = item.split("->")
            (tmp_path / link).symlink_to(tmp_path / dest)
        elif item.endswith(".npy"):
            target.parent.mkdir(parents=True, exist_ok=True)
            np.save(target, np.random.default_rng(0).normal(size=(300, 2)))
        else:
            write_dataset(simulate("lorenz63", 400, noise=0.05, seed=0), target)
    before = _snapshot(tmp_path)
    assert_one_line_error(run_cli(*command.format(t=tmp_path).split()), relation, "choose an output path outside the inputs")
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("name", ["../x", "/tmp/abs", "a/b", ".", "..", ".hidden", "", "a\\b"])
def test_run_name_must_be_a_plain_name(run_cli, data: Path, toml: Path, tmp_path: Path, name: str) -> None:
    out = tmp_path / "runs"
    assert_one_line_error(run_cli(*_fit_args(data, toml, out, name)), "must be a plain file name")
    assert not out.exists() and not (tmp_path / "x.zarr").exists()


def test_plot_into_its_run_is_refused(run_cli, data: Path, toml: Path, tmp_path: Path) -> None:
    assert run_cli(*_fit_args(data, toml, tmp_path, "run")).code == 0
    assert_one_line_error(run_cli("plot", tmp_path / "run.zarr", "-o", tmp_path / "run.zarr" / "fig.pdf"), "lies inside the input")


# --- resume checks its data and options ------------------------------------------------------------------

RESUME_CASES = {
    # name: (extra arguments, change the data first, fragment of the refusal or None if accepted, forceable)
    "data changed": ((), True, "changed since the run started", True),
    "another DATA": (("{other}",), False, "is not the run's data store", True),
    "the run's own DATA": (("{data}",), False, None, True),
    "--epochs differs": (("--epochs", "3"), False, "contradict the run's configuration (epochs 2 -> 3)", True),
    "--epochs agrees": (("--epochs", "2"), False, None, True),
    "--model differs": (("--model", "alrnn"), False, "cannot change model", False),
    "--seed differs": (("--seed", "7"), False, "cannot change seed", False),
    "--test given": (("--test", "{other}"), False, "drop --test", False),
    "--name and --overwrite given": (("--name", "x", "--overwrite"), False, "drop --name, --overwrite", False),
}


@pytest.mark.parametrize("case", RESUME_CASES)
def test_resume_checks_data_hash_and_contradicting_options(run_cli, toml: Path, tmp_path: Path, case: str) -> None:
    extra, change_data, refusal, forceable = RESUME_CASES[case]
    data, other = (write_dataset(simulate("lorenz63", 2500, noise=0.05, seed=s), tmp_path / f"d{s}.zarr") for s in (0, 1))
    assert run_cli(*_fit_args(data, toml, tmp_path, "run")).code == 0
    path = tmp_path / "run.zarr"
    runstore.update_attrs(path, status="interrupted")
    if change_data:
        write_dataset(simulate("lorenz63", 2500, noise=0.05, seed=2), data, overwrite=True)
    args = ["fit", *(a.format(data=data, other=other) for a in extra), "--resume", path, "--quiet"]
    if refusal is None:
        assert run_cli(*args).code == 0 and "forced" not in runstore.read_attrs(path)
        return
    assert_one_line_error(run_cli(*args), refusal, *(["pass --force"] if forceable else []))
    assert runstore.read_attrs(path)["status"] == "interrupted"
    result = run_cli(*args, "--force")
    if not forceable:
        assert_one_line_error(result, refusal)
        return
    assert result.code == 0, result.err
    attrs = runstore.read_attrs(path)
    assert attrs["status"] == "finished" and refusal in attrs["forced"][0]["what"][0]


# --- signals ----------------------------------------------------------------------------------------------------


def test_sigterm_saves_marks_interrupted_and_exits_130(data: Path, tmp_path: Path) -> None:
    config = tmp_path / "long.toml"
    config.write_text(TINY_TOML.replace("epochs = 2", "epochs = 400"))
    path = tmp_path / "run.zarr"
    proc = _dsr(*_fit_args(data, config, tmp_path, "run"))
    for _ in range(1200):
        if runstore.has_group(path, "params/last") or proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "checkpoint saved" in err, err
    attrs = runstore.read_attrs(path)
    assert attrs["status"] == "interrupted"
    epoch = int(runstore.read_group(path, "params/last").attrs["epoch"])
    assert 1 <= epoch < 400 and int(runstore.read_group(path, "history")["epoch"].values[-1]) == epoch


def test_a_second_ctrl_c_during_the_save_waits_for_it(run_cli, data: Path, toml: Path, tmp_path: Path, monkeypatch) -> None:
    from dsr.training import trainer as trainer_module

    epochs = {"n": 0}
    train_epoch, write = trainer_module.Trainer.train_epoch, runstore.write_checkpoint

    def interrupt_in_epoch_2(self):
        epochs["n"] += 1
        if epochs["n"] == 2:
            raise KeyboardInterrupt
        return train_epoch(self)

    def ctrl_c_midway(path, groups, **info):
        if epochs["n"] == 2:  # the save that the first Ctrl-C started
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)  # the handler would run here, before anything is written
        write(path, groups, **info)

    monkeypatch.setattr(trainer_module.Trainer, "train_epoch", interrupt_in_epoch_2)
    monkeypatch.setattr(runstore, "write_checkpoint", ctrl_c_midway)
    config = tmp_path / "fit.toml"
    config.write_text(TINY_TOML.replace("eval_every = 1", "eval_every = 2"))  # epoch 1 is saved by the interrupt only
    result = run_cli(*_fit_args(data, config, tmp_path, "run"))
    assert result.code == 130 and "checkpoint saved" in result.err
    path = tmp_path / "run.zarr"
    assert runstore.read_attrs(path)["status"] == "interrupted"
    assert list(runstore.read_group(path, "history")["epoch"].values) == [1]
    assert runstore.read_group(path, "params/last").attrs["epoch"] == 1


# --- every failure a one-line error --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def finished(data: Path, toml: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from dsr.training.config import resolve_config

    return dsr.fit(data, resolve_config(toml), out=tmp_path_factory.mktemp("finished"), name="ok")


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _damage_chunk(store: Path, content: bytes | None) -> Path:
    chunk = next(p for p in sorted((store / "x" / "c").rglob("*")) if p.is_file())
    chunk.write_bytes(chunk.read_bytes()[: chunk.stat().st_size // 2] if content is None else content)
    return store


def _set_attr(store: Path, **attrs) -> Path:
    meta = json.loads((store / "zarr.json").read_text())
    meta["attributes"] |= attrs
    (store / "zarr.json").write_text(json.dumps(meta))
    return store


def _store(t: Path, values: np.ndarray, variables: list[str] | None = None) -> Path:
    names = np.array(variables or [f"v{i}" for i in range(values.shape[1])], dtype=object)
    return write_dataset(xr.Dataset({"x": (("time", "variable"), values)}, coords={"variable": names}), t / "s.zarr")


def _npy(t: Path, values: np.ndarray) -> Path:
    np.save(t / "a.npy", values)
    return t / "a.npy"


def _file(t: Path, name: str, content: bytes) -> Path:
    (t / name).write_bytes(content)
    return t / name


def _analysis_file(run: Path) -> Path:
    shutil.rmtree(run / "analysis")
    (run / "analysis").write_text("x")
    return run


def _busy_port() -> int:
    server = socket.create_server(("127.0.0.1", 0))
    _BUSY.append(server)  # kept open until the test ends
    return server.getsockname()[1]


_BUSY: list[socket.socket] = []
_LORENZ = simulate("lorenz63", 500, noise=0.05, seed=0)

# name: (arguments built from (tmp folder t, data store d, finished run r, fit config c), fragment of the one-line error)
ERROR_CASES: dict[str, tuple] = {
    **{
        f"{damage} chunk, {command}": (
            lambda t, d, r, c, damage=damage, command=command: [
                command, _damage_chunk(_copy(d, t / "d.zarr"), {"truncated": None, "garbage": os.urandom(64), "empty": b""}[damage]),
                *(["--config", c, "--out", t, "--quiet"] if command == "fit" else []),
            ],
            "the store is truncated or damaged",
        )
        for damage in ("truncated", "garbage", "empty") for command in ("check", "info", "fit")
    },
    **{
        f"dt {kind}, {command}": (
            lambda t, d, r, c, value=value, command=command: [command, _set_attr(_copy(d, t / "d.zarr"), dt=value)],
            "must be a positive number",
        )
        for kind, value in (("a string", "abc"), ("a list", [1, 2])) for command in ("check", "info")
    },
    "0 variables": (lambda t, d, r, c: ["check", _store(t, np.zeros((100, 0)))], "0 variables"),
    "0 time steps": (lambda t, d, r, c: ["check", _store(t, np.zeros((0, 3)))], "0 time steps"),
    "duplicate variable names": (lambda t, d, r, c: ["check", _store(t, np.random.rand(50, 2), ["a", "a"])], "names variables twice"),
    "values overflow standardization, check": (
        lambda t, d, r, c: ["check", write_dataset(_LORENZ.assign(x=_LORENZ["x"].astype("f8") * 1e300), t / "big.zarr")],
        "too large to standardize",
    ),
    "values overflow standardization, fit": (
        lambda t, d, r, c: [
            "fit", write_dataset(_LORENZ.assign(x=_LORENZ["x"].astype("f8") * 1e300), t / "big.zarr"), "--config", c, "--out", t,
        ],
        "too large to standardize",
    ),
    **{
        f"zarr.json is a folder, {command}": (
            lambda t, d, r, c, command=command: [command, (t / "s.zarr" / "zarr.json").mkdir(parents=True) or t / "s.zarr"],
            "s.zarr",
        )
        for command in ("check", "info")
    },
    "non-UTF-8 CSV": (lambda t, d, r, c: ["import", _file(t, "a.csv", b"a,b\n\xff\xfe,1\n1,2\n"), "-o", t / "a.zarr"], "not UTF-8"),
    "non-UTF-8 TOML": (lambda t, d, r, c: ["fit", d, "--config", _file(t, "f.toml", b"epochs = \xff\n"), "--out", t], "not UTF-8"),
    "CSV field over 131072 characters": (
        lambda t, d, r, c: ["import", _file(t, "a.csv", b"a,b\n" + b"1" * 140_000 + b",2\n1,2\n"), "-o", t / "a.zarr"],
        "cannot be parsed",
    ),
    **{
        f"output under a file, {command}": (
            lambda t, d, r, c, command=command: {
                "fit": ["fit", d, "--config", c, "--out", _file(t, "f", b"x"), "--name", "r", "--quiet"],
                "simulate": ["simulate", "lorenz63", "-o", _file(t, "f", b"x") / "s.zarr", "--steps", "100"],
                "import": ["import", _npy(t, np.random.rand(50, 2)), "-o", _file(t, "f", b"x") / "a.zarr"],
                "plot": ["plot", r, "-o", _file(t, "f", b"x") / "fig.pdf"],
            }[command],
            "choose another path",
        )
        for command in ("fit", "simulate", "import", "plot")
    },
    **{
        f"--{option} beyond memory": (
            lambda t, d, r, c, option=option, value=value: ["fit", d, "--config", c, "--out", t, f"--{option}", value],
            "are free on cpu",
        )
        for option, value in (("latent", "10000000"), ("hidden", "100000000000"), ("ensemble", "100000000000"))
    },
    "simulate --steps beyond memory": (
        lambda t, d, r, c: ["simulate", "lorenz63", "-o", t / "s.zarr", "--steps", str(10**13)], "out of memory; choose smaller sizes"
    ),
    "--seed 2**64": (lambda t, d, r, c: ["fit", d, "--config", c, "--out", t, "--seed", str(2**64)], "exceeds 64-bit seeds"),
    "evaluate --steps 0": (lambda t, d, r, c: ["evaluate", r, "--steps", "0"], "must be at least 1"),
    "evaluate --steps -3": (lambda t, d, r, c: ["evaluate", r, "--steps", "-3"], "must be at least 1"),
    **{
        f"garbage run zarr.json, {command}": (
            lambda t, d, r, c, command=command: [command, _file(_copy(r, t / "r.zarr"), "zarr.json", b"{garbage").parent],
            "not a readable Zarr store",
        )
        for command in ("info", "analyze")
    },
    "bad standardization attribute, analyze": (
        lambda t, d, r, c: ["analyze", _set_attr(_copy(r, t / "r.zarr"), standardization="bad"), "--no-write"],
        "standardization is malformed",
    ),
    "analysis is a file, analyze": (
        lambda t, d, r, c: ["analyze", _analysis_file(_copy(r, t / "r.zarr")), "--steps", "200", "--trajectory-steps", "2000"],
        "a file stands where a folder is needed",
    ),
    "complex array import": (lambda t, d, r, c: ["import", _npy(t, np.ones((50, 2), complex)), "-o", t / "a.zarr"], "no real numbers"),
    "0-row array import": (lambda t, d, r, c: ["import", _npy(t, np.ones((0, 2))), "-o", t / "a.zarr"], "no real numbers"),
    "0-column array import": (lambda t, d, r, c: ["import", _npy(t, np.ones((50, 0))), "-o", t / "a.zarr"], "no real numbers"),
    "app --port 99999": (lambda t, d, r, c: ["app", t, "--port", "99999"], "is not a TCP port"),
    "app on a busy port": (lambda t, d, r, c: ["app", t, "--port", str(_busy_port())], "choose another --port"),
}


@pytest.mark.parametrize("case", ERROR_CASES)
def test_each_failure_is_a_one_line_error(run_cli, data: Path, finished: Path, toml: Path, tmp_path: Path, case: str) -> None:
    build, fragment = ERROR_CASES[case]
    try:
        result = run_cli(*build(tmp_path, data, finished, toml))
    finally:
        while _BUSY:
            _BUSY.pop().close()
    assert_one_line_error(result, fragment)


@pytest.mark.parametrize("command", ["simulate", "import", "fit"])
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES, errno.EROFS])
def test_a_full_disk_or_read_only_output_is_a_one_line_error_and_leaves_nothing(
    run_cli, data: Path, toml: Path, tmp_path: Path, monkeypatch, command: str, code: int
) -> None:
    out = tmp_path / "out"
    args = {
        "simulate": ["simulate", "lorenz63", "-o", out / "s.zarr", "--steps", "100"],
        "import": ["import", _npy(tmp_path, np.random.rand(50, 2)), "-o", out / "a.zarr"],
        "fit": _fit_args(data, toml, out, "r"),
    }[command]
    out.mkdir()

    def refuse(src, dst):
        raise OSError(code, os.strerror(code), str(dst))

    monkeypatch.setattr(os, "replace", refuse)
    result = run_cli(*args)
    monkeypatch.undo()
    assert_one_line_error(result, os.strerror(code))
    assert _leftovers(out) == [] and (command == "fit" or list(out.iterdir()) == [])


def test_a_fit_that_meets_a_full_disk_at_a_checkpoint_resumes_exactly(
    run_cli, killed_fits: dict[int, Path], data: Path, toml: Path, tmp_path: Path, monkeypatch
) -> None:
    writes, real = {"n": 0}, runstore.write_dataset

    def full_at_the_second_checkpoint(ds, path, overwrite=False):
        writes["n"] += 1
        if writes["n"] == 6:  # checkpoint 1 writes 4 groups; this is checkpoint 2's second
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(ds, path, overwrite=overwrite)

    monkeypatch.setattr(runstore, "write_dataset", full_at_the_second_checkpoint)
    assert_one_line_error(run_cli(*_fit_args(data, toml, tmp_path, "run")), "No space left on device", "--resume")
    monkeypatch.undo()
    path = tmp_path / "run.zarr"
    assert runstore.read_attrs(path)["status"] == "failed" and _leftovers(tmp_path) == []
    assert run_cli("fit", "--resume", path, "--quiet").code == 0
    for group in ("params/last", "params/best"):
        xr.testing.assert_identical(runstore.read_group(killed_fits[0], group).drop_attrs(), runstore.read_group(path, group).drop_attrs())


def test_an_unexpected_exception_is_one_line_and_debug_shows_the_traceback(run_cli, data: Path, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("dsr.data.load", broken)
    assert_one_line_error(run_cli("check", data), "unexpected RuntimeError: boom", "dsr --debug")
    with pytest.raises(RuntimeError, match="boom"):
        run_cli("--debug", "check", data)


# --- the app reads nothing outside ROOT; callback errors are cards ---------------------------------------------


@pytest.fixture
def served(finished: Path, tmp_path: Path) -> Path:
    """ROOT holding a copy of a finished run whose data store lies outside ROOT."""
    root = tmp_path / "root"
    shutil.copytree(finished, root / "r.zarr")
    return root.resolve()


def _outside_link(root: Path, inside: Path, target: Path) -> None:
    """Replace ``inside`` (a file or folder in a store under ROOT) by a symlink to ``target`` outside ROOT."""
    shutil.rmtree(inside) if inside.is_dir() else inside.unlink()
    inside.symlink_to(target)


def test_the_app_does_not_read_a_runs_data_outside_root(served: Path) -> None:
    from dsr.app.page_run import open_run_named

    run = open_run_named(served, "r.zarr")
    assert run.data_series is None and "lies outside the served folder" in run.data_problem


def test_the_app_does_not_follow_a_link_out_of_root_inside_a_data_store(served: Path, data: Path, tmp_path: Path) -> None:
    from dsr.app.page_run import open_run_named

    inner = _copy(data, served / "d.zarr")
    chunk = next(p for p in sorted((inner / "x" / "c").rglob("*")) if p.is_file())
    _outside_link(served, chunk, next(p for p in sorted((data / "x" / "c").rglob("*")) if p.is_file()))
    runstore.update_attrs(served / "r.zarr", data_path=str(inner))
    run = open_run_named(served, "r.zarr")
    assert run.data_series is None and "holds a link" in run.data_problem


def test_the_app_refuses_a_store_with_a_group_linked_out_of_root(served: Path, finished: Path) -> None:
    from dsr.app import catalog
    from dsr.app.server import route

    _outside_link(served, served / "r.zarr" / "trajectory", finished / "trajectory")
    page = str(route(served, "/run/r.zarr", ""))
    assert "card error" in page and "holds a link (trajectory)" in page
    assert [(e.name, e.kind) for e in catalog.scan(served)] == [("r.zarr", "unreadable")]


def test_a_callback_error_becomes_an_error_card_not_http_500(served: Path) -> None:
    from dsr.app.page_run import PREFIX
    from dsr.app.panel_attractor import ids
    from dsr.app.server import CALLBACK_ERROR, create_app

    i = ids(PREFIX)
    values = {"mode": "variables", "colour": "source", "x": "x", "y": "y", "z": "z", "points": 1000}
    payload = {
        "output": f"{i['graph']}.figure",
        "outputs": {"id": i["graph"], "property": "figure"},
        "inputs": [{"id": i[k], "property": "value", "value": v} for k, v in values.items()],
        "state": [{"id": i["source"], "property": "data", "value": "../../etc"}],
        "changedPropIds": [f"{i['mode']}.value"],
    }
    response = create_app(served).server.test_client().post("/_dash-update-component", json=payload)
    assert response.status_code == 200, response.data
    side = response.get_json()["sideUpdate"][CALLBACK_ERROR]["children"]
    assert "card error" in json.dumps(side) and "served folder" in json.dumps(side)


def test_info_keeps_every_column_of_repeated_variable_names(run_cli, tmp_path: Path) -> None:
    result = run_cli("info", _store(tmp_path, np.random.rand(50, 2), ["a", "a"]), "--json")
    assert result.code == 0 and list(json.loads(result.out)["variables"]["x"]["stats"]) == ["a [0]", "a [1]"]


@pytest.mark.parametrize("command", ["simulate", "import"])
def test_overwriting_a_plain_file_leaves_no_old_copy(run_cli, tmp_path: Path, command: str) -> None:
    out = tmp_path / "out.zarr"
    out.write_text("a plain file")
    args = {
        "simulate": ["simulate", "lorenz63", "-o", out, "--steps", "100", "--overwrite"],
        "import": ["import", _npy(tmp_path, np.random.rand(50, 2)), "-o", out, "--overwrite"],
    }[command]
    assert run_cli(*args).code == 0
    assert out.is_dir() and _leftovers(tmp_path) == []


@pytest.fixture
def small_disk(request: pytest.FixtureRequest, tmp_path: Path):
    """A tmpfs of ``request.param`` bytes (needs root; skipped elsewhere), unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={request.param}", "tmpfs", disk], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("mounting a tmpfs needs root; the other full-disk tests raise ENOSPC instead")
    yield disk
    subprocess.run(["umount", "-l", disk], check=True)


@pytest.mark.parametrize("small_disk", ["150k", "450k", "600k"], indirect=True)  # full at the first checkpoint, later, or not
def test_a_fit_on_a_real_full_disk_fails_in_one_line_and_resumes_exactly(
    run_cli, killed_fits: dict[int, Path], data: Path, toml: Path, small_disk: Path
) -> None:
    path = small_disk / "run.zarr"
    result = run_cli(*_fit_args(data, toml, small_disk, "run"))
    if result.code != 0:
        assert_one_line_error(result, "No space left on device")
        assert _leftovers(small_disk) == []
        subprocess.run(["mount", "-o", "remount,size=64m", small_disk], check=True)  # space freed
        if not path.exists():  # it failed before its store existed
            assert run_cli(*_fit_args(data, toml, small_disk, "run")).code == 0
        else:
            assert run_cli("fit", "--resume", path, "--quiet").code == 0, "resume after the disk was freed"
    for group in ("params/last", "params/best"):
        xr.testing.assert_identical(runstore.read_group(killed_fits[0], group).drop_attrs(), runstore.read_group(path, group).drop_attrs())


def test_root_attributes_that_meet_a_full_disk_stay_whole_and_leave_nothing(tmp_path: Path, monkeypatch) -> None:
    path = runstore.create(tmp_path / "r.zarr", {"a": 1})

    def full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError):
        runstore.update_attrs(path, status="finished")
    monkeypatch.undo()
    assert runstore.read_attrs(path)["status"] == "running" and _leftovers(tmp_path) == []
