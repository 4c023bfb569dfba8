"""The fit configuration: every option of ``dsr fit``, validated in one place.

Options come from defaults, then a TOML file (``--config fit.toml``, keys = field names),
then command-line flags; the resolved configuration is stored in the run.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dsr.errors import DsrError

ModelKind = Literal[
    "clipped-shplrnn", "shplrnn", "alrnn", "plrnn", "dendplrnn",
    # The comparison baselines of dsr.zoo (tests/test_zoo.py checks this list against dsr.zoo.ZOO).
    "rnn", "lstm", "gru", "pararnn-gru", "pararnn-lstm", "lru", "s4d", "esn", "node", "aaren", "sindy", "parrot",
]
ZOO_KINDS = ModelKind.__args__[5:]
PLRNN_ONLY = ("latent", "hidden", "relus", "bases", "observation")
"""Sizes and options of the PLRNN family; a zoo family takes its own through ``model_options``."""
Forcing = Literal["agtf", "gtf", "stf"]
WINDOW_LENGTH = 200
"""Default training window length T̃ (Hess et al., ICML 2023: 200 for Lorenz-63, ECG and the PLRNN benchmarks)."""


def default_window_length(trial_length: int) -> int:
    """T̃ = min(200, ⌊shortest training trial / 4⌋), at least 2.

    Short recordings need short windows: with 288 training scans of a 360-scan fMRI recording this
    gives 72, the window Brenner et al. (NeurIPS 2024) trained their fMRI AL-RNN on; a window of 200
    would leave 88 start positions, so that every epoch's 800 windows repeat each start about nine
    times, at the cost of 200-step windows. Long series keep the published 200.
    """
    return max(2, min(WINDOW_LENGTH, trial_length // 4))


class FitConfig(BaseModel):
    """Resolved options of one fit.

    Defaults chosen by measurement (``benchmarks/sweep_defaults.py`` on the reference Lorenz-63
    pair; table in the README): a clipped shPLRNN with L = 100 under adaptive GTF whose α decays
    with γ = 0.98 every 5 batches (the published 0.999 is tuned for 250 000 iterations; with
    60 000 it keeps α too high), 1200 epochs of 50 batches with the rate decaying from 1e-3 to 1e-4
    (ten fits each: median D_stsp 0.165 against 0.198 with 800 epochs),
    held-out evaluation every 10 epochs for the best-checkpoint choice, and 4 seeds as ensemble
    members of which the run reports the best, because single fits occasionally collapse.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # model
    model: ModelKind = Field("clipped-shplrnn", description="model kind")
    latent: int | None = Field(None, ge=1, description="latent dimension M; default: number of observed variables")
    hidden: int = Field(100, ge=1, description="hidden width L (shplrnn, clipped-shplrnn)")
    relus: int = Field(2, ge=0, description="number P of ReLU units (alrnn)")
    bases: int = Field(20, ge=1, description="number B of spline bases (dendplrnn)")
    observation: Literal["identity", "affine"] = Field("identity", description="observation model: the first N latent units, or an affine map of all")
    model_options: dict[str, float] = Field(
        default_factory=dict, description="options of a zoo family (dsr.zoo), NAME=VALUE,... on the command line, e.g. hidden=64 for lstm"
    )
    # forcing
    forcing: Forcing = Field("agtf", description="teacher forcing: adaptive GTF, GTF or sparse teacher forcing")
    alpha: float = Field(0.1, ge=0.0, le=1.0, description="GTF alpha (gtf), or its start when alpha_end is set")
    alpha_end: float | None = Field(None, ge=0.0, le=1.0, description="gtf: anneal alpha linearly over the epochs to this value")
    agtf_interval: int = Field(5, ge=1, description="agtf: batches between alpha estimates")
    agtf_decay: float = Field(0.98, ge=0.0, lt=1.0, description="agtf: decay factor towards a smaller estimate")
    tau: int | None = Field(None, ge=1, description="stf: forcing interval; default from the predictability time")
    partial_forcing: bool = Field(True, description="with M > N force only the first N latent units")
    # optimisation
    sequence_length: int | None = Field(
        None, ge=2, description=f"training window length; default: {WINDOW_LENGTH}, or a quarter of the shortest training trial where that is shorter"
    )
    batch_size: int = Field(16, ge=1, description="windows per batch")
    batches_per_epoch: int = Field(50, ge=1, description="batches per epoch")
    epochs: int = Field(1200, ge=1, description="epochs (of batches_per_epoch batches)")
    lr_start: float = Field(1e-3, gt=0.0, description="RAdam learning rate at the start, decaying exponentially to lr_end")
    lr_end: float = Field(1e-4, gt=0.0, description="learning rate at the last epoch")
    noise: float = Field(0.0, ge=0.0, description="observation noise added to each batch (in standard deviations)")
    l2: float = Field(0.0, ge=0.0, description="L2 regularisation of the latent model")
    grad_clip: float | None = Field(None, gt=0.0, description="clip each member's gradient norm")
    time_budget: float | None = Field(
        None, gt=0.0, description="minutes of training at most: training stops after the epoch that uses them up, which is evaluated"
    )
    max_rollbacks: int = Field(3, ge=0, description="rollbacks (with the learning rate halved) after divergence before the run fails")
    # ensemble, reproducibility, device
    ensemble: int = Field(4, ge=1, description="members trained together; the run reports the best")
    seed: int = Field(0, ge=0, description="seed of the first ensemble member (member e has seed + e)")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: a GPU for large ensembles, else the CPU")
    kernel: Literal["auto", "fused", "graph", "autograd"] = Field(
        "auto",
        description="training path: fused kernels (CPU or GPU), CUDA graph, autograd reference, or auto (the fastest that supports the model)",
    )
    time_parallel: Literal["off", "newton"] = Field(
        "off", description="newton: solve each window's forced rollout by parallel Newton with adjoint-scan gradients (dsr.parallel; autograd path)"
    )
    newton_solver: Literal["auto", "deer", "quasi", "elk", "pwl"] = Field("auto", description="time_parallel newton: the solver (auto: pwl for the PLRNN family, quasi for pararnn-gru/-lstm, else deer)")
    newton_max_iter: int = Field(50, ge=0, description="time_parallel newton: Newton steps before falling back to the sequential loop")
    dtype: Literal["float32", "float64"] = Field("float32", description="floating-point type of parameters and training")
    # evaluation
    eval_every: int = Field(10, ge=1, description="epochs between held-out evaluations")
    checkpoint_seconds: float = Field(
        30.0, ge=0.0,
        description="seconds at least between checkpoints, written at evaluations (0: at every one); the first, the last and an interrupted epoch are always written",
    )
    eval_steps: int = Field(20_000, ge=100, description="maximal free-run length compared with the test set in training")
    pe_steps: int = Field(20, ge=1, description="horizon k of the prediction error PE(k)")
    test_fraction: float = Field(0.2, gt=0.0, lt=1.0, description="last part of every trial held out for testing (without --test)")
    test_trials: int = Field(
        0, ge=0, description="hold out the last K trials whole for testing (subjects or sessions as trials); 0: the last test_fraction of every trial"
    )
    # data
    var: str | None = Field(None, description="data variable of the store; default: the only one")
    inputs: str | None = Field(None, description="external-inputs variable of the store, if any")

    @model_validator(mode="after")
    def _consistent(self) -> FitConfig:
        if self.model == "alrnn" and self.latent is not None and self.relus > self.latent:
            raise ValueError(f"relus ({self.relus}) exceeds latent ({self.latent}); pass relus <= latent")
        if self.kernel == "graph" and self.device == "cpu":
            raise ValueError("the CUDA-graph path needs a GPU; pass --kernel auto or autograd with --device cpu")
        if self.time_parallel == "newton" and self.kernel in ("fused", "graph"):
            raise ValueError(f"--time-parallel newton runs on the autograd path, not --kernel {self.kernel}; pass --kernel auto or autograd")
        if self.time_parallel == "off" and self.newton_solver != "auto":
            raise ValueError("--newton-solver applies only with --time-parallel newton; add it or drop --newton-solver")
        if self.model in ZOO_KINDS:
            given = [f for f in PLRNN_ONLY if getattr(self, f) != FitConfig.model_fields[f].default]
            if given:
                raise ValueError(
                    f"{given[0]} is a PLRNN-family option, not used by {self.model}; pass its own options as model_options "
                    "(--model-options NAME=VALUE,...)"
                )
        elif self.model_options:
            raise ValueError(f"model_options are for the zoo's families; {self.model} takes its sizes as fields (--latent, --hidden, ...)")
        if self.lr_end > self.lr_start:
            raise ValueError(f"lr_end ({self.lr_end}) exceeds lr_start ({self.lr_start}); the rate decays")
        return self


def for_data(config: FitConfig, n_variables: int, trial_length: int) -> FitConfig:
    """``config`` with the data-dependent defaults filled in, as a run stores it: latent M = N (the PLRNN
    family; a zoo family's sizes come from its options) and T̃ = :func:`default_window_length`."""
    update: dict[str, int] = {}
    if config.latent is None and config.model not in ZOO_KINDS:
        update["latent"] = n_variables
    if config.sequence_length is None:
        update["sequence_length"] = default_window_length(trial_length)
    return config.model_copy(update=update) if update else config


def _one_line(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "combination"
    value = first.get("input")
    shown = "" if isinstance(value, dict) else f" (got {value!r})"
    message = first["msg"].removeprefix("Value error, ")
    return f"invalid option {where}{shown}: {message}"


def _pairs(text: str) -> dict[str, float]:
    """``"hidden=64,layers=2"`` -> {"hidden": 64.0, "layers": 2.0}; one-line DsrError otherwise."""
    pairs = {}
    for pair in filter(str.strip, text.split(",")):
        key, sep, value = pair.partition("=")
        try:
            if not sep or not key.strip():
                raise ValueError
            pairs[key.strip()] = float(value)
        except ValueError:
            raise DsrError(f"--model-options takes NAME=NUMBER pairs separated by commas (e.g. hidden=64,layers=2), got {pair!r}") from None
    return pairs


def resolve_config(file: Path | None = None, **overrides: object) -> FitConfig:
    """Defaults, then the TOML ``file``, then the non-None ``overrides``; one-line DsrError on bad values."""
    values: dict = {}
    if file is not None:
        file = Path(file)
        if not file.is_file():
            raise DsrError(f"config file {file} does not exist; check the path")
        try:
            values = tomllib.loads(file.read_text())
        except tomllib.TOMLDecodeError as err:
            raise DsrError(f"config file {file} is not valid TOML ({err})") from None
        unknown = sorted(set(values) - set(FitConfig.model_fields))
        if unknown:
            raise DsrError(
                f"config file {file} has unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(FitConfig.model_fields)}"
            )
    values |= {k: v for k, v in overrides.items() if v is not None}
    if isinstance(values.get("model_options"), str):  # the command line's --model-options NAME=VALUE,NAME=VALUE
        values["model_options"] = _pairs(values["model_options"])
    try:
        return FitConfig(**values)
    except ValidationError as err:
        raise DsrError(_one_line(err)) from None
