"""``dsr.fit``: from a data store to a finished run store.

Data flow: :mod:`dsr.data` loads and validates the store, the training part is split off
(the last ``test_fraction`` of every trial is held out unless a test store is given) and
both parts are standardized with the training statistics; :mod:`dsr.models` builds the
ensemble; :class:`~dsr.training.trainer.Trainer` trains it, evaluating and checkpointing
into the run store (:mod:`dsr.runstore`); finally the best and last checkpoints are
evaluated on the whole test set and a long free run of the best member is stored.
"""

from __future__ import annotations

import hashlib
import os
import platform
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from dsr import __version__, checkpoints, runstore
from dsr.checkpoints import RunStoreCheckpoints
from dsr.data import TimeSeries
from dsr.errors import DsrError
from dsr.evaluation import checkpoint_metrics, free_run
from dsr.fitdata import prepare_data
from dsr.models import LatentModel, from_dataset, make_model
from dsr.signals import deferred_interrupts
from dsr.training.config import ZOO_KINDS, FitConfig, for_data
from dsr.training.forcing import predictability_tau
from dsr.training.paths import choose_path
from dsr.training.trainer import Callback, Progress, ProgressCallback, Trainer
from dsr.zarrstore import require_separate

StatusCallback = Callable[[str], None]
"""Receives one line of text on a stage of a fit that takes time without epochs."""


GPU_MIN_ENSEMBLE = 32
"""``--device auto`` trains ensembles of at least this many members on a GPU, smaller ones on the CPU.

These models are too small to fill a GPU: the H100 overtakes 2 CPU cores just below E = 16 (measured
with ``benchmarks/train_speed.py``; ``docs/gpu.md``); 32 leaves a margin for CPUs with more cores
(pass ``--device`` to choose).
"""


def resolve_device(config: FitConfig) -> torch.device:
    """``auto``: CUDA when a GPU is there and the fit is worth it (an ensemble of ``GPU_MIN_ENSEMBLE``
    or more, or ``--kernel graph``), else the CPU. Asking for CUDA without a GPU is a user error."""
    name = config.device
    if name == "auto":
        wanted = config.ensemble >= GPU_MIN_ENSEMBLE or config.kernel == "graph"
        return torch.device("cuda" if wanted and torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DsrError("--device cuda was requested but no CUDA GPU is available; use --device cpu or auto")
    return torch.device(name)


def data_hash(ts: TimeSeries) -> str:
    """SHA-256 of the data's values (float64), variable names and dt."""
    digest = hashlib.sha256(np.ascontiguousarray(ts.values, dtype=np.float64).tobytes())
    digest.update(repr((ts.variables, ts.dt)).encode())
    return digest.hexdigest()


def versions() -> dict[str, str]:
    import zarr

    return {
        "dsr": __version__, "torch": torch.__version__, "numpy": np.__version__, "xarray": xr.__version__,
        "zarr": zarr.__version__, "python": platform.python_version(),
    }


MIN_TEST_STEPS = 320
"""Shortest test trial on whose free run D_H means something: its power spectra are smoothed with a
Gaussian of σ = 20 frequency bins (radius 4σ), so a trial needs 2·8σ = 320 steps for 160 bins."""
MIN_TEST_POINTS = 1000
"""Fewest test points (all trials together) for D_stsp, a rule of thumb: its binned (30 bins per
dimension) or mixture estimate of the test part's state-space occupation is mostly sampling noise below."""


def short_test_warning(test: TimeSeries) -> str | None:
    """A one-line warning when the test part is too short to judge a reconstruction, else None."""
    if test.n_time >= MIN_TEST_STEPS and test.n_trials * test.n_time >= MIN_TEST_POINTS:
        return None
    return (
        f"the test part is too short to judge the reconstruction ({test.n_trials} x {test.n_time} steps; D_H needs "
        f"{MIN_TEST_STEPS} steps per trial, D_stsp about {MIN_TEST_POINTS} points): read its metrics as rough, hold out "
        "whole trials with --test-trials K (subjects or sessions as trials) or pass a longer --test store"
    )


def require_sizes(config: FitConfig, n_obs: int, device: torch.device) -> None:
    """Refuse seeds beyond 64-bit integers and model sizes whose training state cannot fit in free memory.

    The memory needed is a lower bound: per member, six copies of the parameters (values,
    gradients, RAdam's two moments, best checkpoint, rollback snapshot) and four of a batch's
    activations (forward states, adjoint, windows, noise).
    """
    if config.seed + config.ensemble > 2**63:
        raise DsrError(f"--seed {config.seed} with --ensemble {config.ensemble} exceeds 64-bit seeds; pass a seed below 2**63 - ensemble")
    m = config.latent or n_obs
    width = m + (config.hidden if config.model in ("shplrnn", "clipped-shplrnn") else 0)
    params = m * (m + 2 * width + 2) + (m * config.bases if config.model == "dendplrnn" else 0)
    activations = config.batch_size * config.sequence_length * width
    needed = config.ensemble * (6 * params + 4 * activations) * (8 if config.dtype == "float64" else 4)
    available = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else _free_memory()
    if available is not None and needed > available:
        raise DsrError(
            f"the model needs at least {needed / 2**30:.3g} GiB ({config.ensemble} member(s) of latent {m}, width {width}) "
            f"but {available / 2**30:.3g} GiB are free on {device.type}; choose smaller --latent, --hidden, --ensemble or --batch-size"
        )


def _free_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux: MemAvailable, page cache included); None if unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def build_model(config: FitConfig, train: TimeSeries, device: torch.device) -> LatentModel:
    """The freshly initialised ensemble for ``config`` (member e has seed config.seed + e)."""
    if config.model in ZOO_KINDS:
        return _zoo_model(config, train, device)
    try:
        return make_model(
            config.model,
            n_obs=train.n_variables,
            latent=config.latent or train.n_variables,
            hidden=config.hidden if config.model in ("shplrnn", "clipped-shplrnn") else None,
            relus=config.relus if config.model == "alrnn" else None,
            bases=config.bases if config.model == "dendplrnn" else None,
            inputs=0 if train.inputs is None else train.inputs.shape[-1],
            observation=config.observation,
            ensemble=config.ensemble,
            seeds=config.seed,
            data_range=(float(train.values.min()), float(train.values.max())),
            dtype=getattr(torch, config.dtype),
            device=device,
        )
    except ValueError as err:
        raise DsrError(str(err)) from None


def _zoo_model(config: FitConfig, train: TimeSeries, device: torch.device) -> LatentModel:
    """A zoo family's ensemble (``dsr.zoo``): options from the data (dt, context), then ``model_options``."""
    from dsr.zoo import ZOO, make_zoo_model

    if train.inputs is not None:
        raise DsrError(f"{config.model} takes no external inputs; fit it without --inputs")
    options = ZOO[config.model].data_options(torch.as_tensor(train.values), train.dt) | dict(config.model_options)
    try:
        return make_zoo_model(
            config.model, train.n_variables, ensemble=config.ensemble, seeds=config.seed, dtype=getattr(torch, config.dtype),
            device=device, **options,
        )
    except ValueError as err:
        raise DsrError(str(err)) from None


def default_name(data: Path, config: FitConfig) -> str:
    """The run name when none is given: data stem, model kind and a timestamp."""
    return f"{data.stem}-{config.model}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"


def run_path(out: str | Path, name: str | None, data: Path, config: FitConfig) -> Path:
    """``out/<name>.zarr``; ``name`` (default: :func:`default_name`) must be a plain file name."""
    if name is not None and (name in ("", ".", "..") or name.startswith(".") or Path(name).name != name or "\\" in name):
        raise DsrError(f"--name {name!r} must be a plain file name (no folders, not starting with '.'); choose the folder with --out")
    return Path(out) / f"{name or default_name(data, config)}.zarr"


def fit(
    data: str | Path,
    config: FitConfig | None = None,
    *,
    test: str | Path | None = None,
    out: str | Path = "runs",
    name: str | None = None,
    progress: ProgressCallback | None = None,
    overwrite: bool = False,
    status: StatusCallback | None = None,
    callbacks: Sequence[Callback] = (),
) -> Path:
    """Train a model on the data store ``data``; return the path of the finished run store.

    ``progress`` receives each epoch's summary, ``status`` a line on each stage that takes time
    without epochs (compiling, the final evaluation, writing the trajectory); ``callbacks``
    (:class:`dsr.training.trainer.Callback`) see the trainer around every epoch, after the run
    store's checkpoint writer (experiments that change the schedule, say).
    """
    config = config or FitConfig()
    data = Path(data)
    train, held_out, mean, scale = prepare_data(config, data, None if test is None else Path(test))
    if config.model in ZOO_KINDS and config.forcing == FitConfig.model_fields["forcing"].default:
        # aGTF's α estimate needs the Jacobian products along the windows, M derivatives of every step of a non-PWL
        # model: the zoo's recurrent families train under GTF with --alpha (0.1), as Hess et al. (2023) trained baselines.
        config = config.model_copy(update={"forcing": "gtf"})
    config = for_data(config, train.n_variables, train.n_time)  # stored resolved, not "default"
    device = resolve_device(config)
    require_sizes(config, train.n_variables, device)
    torch.manual_seed(config.seed)
    model = build_model(config, train, device)
    choose_path(model, config.kernel)  # an unavailable --kernel fails before the store exists
    tau = None
    if config.forcing == "stf":
        tau = config.tau or predictability_tau(train.values)
        train.require_length(tau, what="forcing interval tau")
    path = run_path(out, name, data, config)
    require_separate(path, [data, test])
    attrs = {
        "config": config.model_dump(),
        "versions": versions(),
        "device": str(device),
        "seed": config.seed,
        "data_path": str(data.resolve()),
        "data_hash": data_hash(train),
        "test_path": None if test is None else str(Path(test).resolve()),
        "variables": list(train.variables),
        "dt": train.dt,
        "standardization": {"mean": mean.tolist(), "scale": scale.tolist()},
        "tau": tau,
        "n_parameters": parameter_count(model),
    }
    warning = short_test_warning(held_out)
    if warning:
        attrs["warnings"] = [warning]
        _say(status, f"warning: {warning}")
    with runstore.locked(path, "dsr fit"):
        runstore.create(path, attrs, overwrite=overwrite)
        _run(_trainer(model, train, held_out, config, path, tau, progress, callbacks), path, status)
    return path


STRUCTURAL_FIELDS = (
    "model", "latent", "hidden", "relus", "bases", "observation", "inputs", "var", "ensemble", "seed", "dtype",
    "batch_size", "sequence_length",
)
"""Settings a checkpoint's parameters, optimizer moments or window sampler are shaped by: a resume cannot change them."""


def resume(
    path: str | Path,
    progress: ProgressCallback | None = None,
    status: StatusCallback | None = None,
    *,
    data: str | Path | None = None,
    changes: dict | None = None,
    force: bool = False,
) -> Path:
    """Continue an interrupted (or failed) run from its last complete checkpoint to its configured epochs.

    A run stopped before its first checkpoint starts again from its (seeded) initialisation,
    which gives the same result as the uninterrupted fit. The data must hash as when the run
    started, ``data`` (if given) must be the run's data store and ``changes`` (FitConfig fields)
    must agree with the stored configuration; ``force`` accepts the difference (except in
    :data:`STRUCTURAL_FIELDS`) and records it in the run's ``forced`` attribute.
    """
    path = runstore.require_run(path)
    with runstore.locked(path, "dsr fit --resume"):
        return _resume(path, progress, status, None if data is None else Path(data), changes or {}, force)


def _refuse_unless(force: bool, problem: str, forced: list[str]) -> None:
    if not force:
        raise DsrError(f"{problem}; pass --force to resume anyway (recorded in the run)")
    forced.append(problem)


def _resume(
    path: Path, progress: ProgressCallback | None, status: StatusCallback | None, data: Path | None, changes: dict, force: bool
) -> Path:
    runstore.recover(path)
    attrs = runstore.read_attrs(path)
    if attrs["status"] == "finished":
        raise DsrError(f"{path} is already finished; start a new fit instead of --resume")
    config, forced = FitConfig(**attrs["config"]), []
    base = config.model_dump()
    wanted = FitConfig(**{**base, **changes}).model_dump()
    changed = {k: wanted[k] for k in changes if wanted[k] != base[k]}
    if fixed := sorted(set(changed) & set(STRUCTURAL_FIELDS)):
        raise DsrError(f"--resume cannot change {', '.join(fixed)} of {path} (its checkpoints are shaped by them); start a new fit")
    if changed:
        given = ", ".join(f"{k} {base[k]} -> {v}" for k, v in changed.items())
        _refuse_unless(force, f"the options contradict the run's configuration ({given})", forced)
        config = config.model_copy(update=changed)
    stored = Path(attrs["data_path"])
    if data is not None and data.resolve() != stored:
        _refuse_unless(force, f"DATA {data} is not the run's data store {stored}", forced)
        stored = data.resolve()
    test = attrs.get("test_path")
    train, held_out, mean, scale = prepare_data(config, stored, None if test is None else Path(test))
    if data_hash(train) != attrs.get("data_hash"):
        _refuse_unless(force, f"the data in {stored} changed since the run started (content hash differs)", forced)
    if forced:
        runstore.update_attrs(
            path, config=config.model_dump(), data_path=str(stored), data_hash=data_hash(train),
            standardization={"mean": mean.tolist(), "scale": scale.tolist()},
            forced=[*attrs.get("forced", []), {"at": runstore.now(), "what": forced}],
        )
    torch.manual_seed(config.seed)
    model = build_model(config, train, resolve_device(config))
    trainer = _trainer(model, train, held_out, config, path, attrs.get("tau"), progress)
    if runstore.has_group(path, f"{runstore.STATE}/last"):
        checkpoints.load(trainer, path)
    runstore.update_attrs(path, status="running")
    _run(trainer, path, status)
    return path


def _trainer(
    model: LatentModel, train: TimeSeries, test: TimeSeries, config: FitConfig, path: Path, tau: int | None,
    progress: ProgressCallback | None, extra: Sequence[Callback] = (),
) -> Trainer:
    """The fit's trainer: checkpoints into the run store at ``path``, ``progress`` if given, then ``extra``."""
    callbacks: list[Callback] = [RunStoreCheckpoints(path)]
    if progress is not None:
        callbacks.append(Progress(progress))
    return Trainer(model, train, test, config, tau=tau, callbacks=[*callbacks, *extra])


def _say(status: StatusCallback | None, text: str) -> None:
    if status is not None:
        status(text)


def _run(trainer: Trainer, path: Path, status: StatusCallback | None = None) -> None:
    config = trainer.config
    _say(
        status,
        f"training {config.ensemble} {config.model} model(s) for {config.epochs} epochs on {next(trainer.model.parameters()).device.type}; "
        "the first epoch also compiles the kernels (about 20 s after installing or upgrading dsr)",
    )
    try:
        trainer.run()
        finish(trainer, path, status)
    except KeyboardInterrupt:
        with deferred_interrupts():
            runstore.update_attrs(path, status="interrupted")
        raise
    except BaseException as err:
        runstore.update_attrs(path, status="failed", error=str(err))
        raise
    runstore.update_attrs(path, status="finished")


def parameter_count(model: LatentModel) -> int:
    """Parameters of one member fitted to the data (a zoo family's fixed reservoir or stored context are not)."""
    unfitted = getattr(model, "unfitted", ())
    return int(sum(p[0].numel() for name, p in model.named_parameters() if name not in unfitted))


def finish(trainer: Trainer, path: Path, status: StatusCallback | None = None) -> None:
    """Final metrics of the best and last checkpoints on the whole test set, and the best free run."""
    model, config = trainer.model, trainer.config
    best = from_dataset(trainer.best_params, device=next(model.parameters()).device)
    test = trainer.test
    _say(status, f"evaluating the best and last checkpoints on the whole test set ({test.n_trials} x {test.n_time} steps)")
    metrics = checkpoint_metrics({"best": best, "last": model}, test, None, config.pe_steps)
    member = metrics.attrs["best_member"]
    runstore.write_group(path, runstore.METRICS, metrics)
    _say(status, f"writing the free run of the best member ({member}) to {path / runstore.TRAJECTORY}")
    runstore.write_group(path, runstore.TRAJECTORY, trajectory_dataset(best, member, test))
    final = {name: float(metrics[name].sel(checkpoint="best", member=member)) for name in metrics.data_vars}
    runstore.update_attrs(path, best_member=member, final_metrics=final)


def trajectory_dataset(model: LatentModel, member: int, test: TimeSeries, min_steps: int = 10_000) -> xr.Dataset:
    """A free run of ``member`` as long as the first test trial (at least ``min_steps``), after a transient.

    Its ``time`` coordinate counts from the start of the run (transient included) in the data's dt.
    """
    steps = max(test.n_time, min_steps)
    inputs = None if test.inputs is None else np.resize(test.inputs[0], (steps // 4 + steps, test.inputs.shape[-1]))
    obs, latent = free_run(model, test.values[0, 0], steps, steps // 4, inputs)
    data_vars = {
        "x": (("time", "variable"), obs[member].astype(np.float32)),
        "z": (("time", "latent"), latent[member].astype(np.float32)),
    }
    if hasattr(model, "pattern"):  # piecewise-linear kinds: the linear region of every state (zoo models have none)
        with torch.no_grad():
            ref = next(model.parameters())
            # Every member's pattern of its own states (the member axis must match the parameters'), then ``member``'s.
            pattern = model.pattern(torch.as_tensor(latent, dtype=ref.dtype, device=ref.device))[member]
        data_vars["pattern"] = (("time", "unit"), pattern.cpu().numpy().astype(np.uint8))
    return xr.Dataset(
        data_vars,
        coords={
            "time": ("time", (steps // 4 + np.arange(steps)) * test.dt, {"long_name": "time since the start of the free run"}),
            "variable": np.array(test.variables, dtype=object),
        },
        attrs={"member": member, "checkpoint": "best", "standardized": True, "transient": steps // 4, "dt": test.dt},
    )
