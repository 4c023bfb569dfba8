"""The training loop: batches, forcing, RAdam, evaluation, rollback; checkpoints and progress by callbacks.

One :class:`Trainer` trains all E members of an ensemble in one batched computation. Members
stay independent: each has its own windows and noise (:class:`WindowSampler`), its own α
(aGTF), its own gradient norm and clipping, and its own best checkpoint; the optimizer
(RAdam) is elementwise. So member e of an ensemble follows the fit of a single model with
member e's seed (up to floating-point reassociation in batched products).

Each batch is one step of the training path chosen once for the fit (``config.kernel``; the rule is
:func:`dsr.training.paths.choose_path`): the fused kernels or the CUDA graph, else the autograd
reference. On the CPU's fused path, where the fit allows it, a whole epoch runs as compiled calls
instead (:mod:`dsr.training.fused_epoch`; the same steps, tested equal to this loop).

The trainer reads and writes no files: what happens around the epochs — writing checkpoints to a run
store (:class:`dsr.checkpoints.RunStoreCheckpoints`), reporting progress, changing the schedule in an
experiment — are :class:`Callback` objects, called at the start, at each epoch's start and end and on
an interruption; a callback may end training early with :meth:`Trainer.request_stop`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr

from dsr.data import TimeSeries
from dsr.errors import FitDiverged
from dsr.evaluation import evaluate
from dsr.models import LatentModel, from_dataset
from dsr.signals import deferred_interrupts
from dsr.training.config import FitConfig, for_data
from dsr.training.forcing import ForcingSchedule
from dsr.training.paths import path_for_fit
from dsr.training.step import optimizer_state_for, set_learning_rate
from dsr.training.windows import WindowSampler

EVAL_METRICS = ("d_stsp", "d_h", "pe")


class Diverged(Exception):
    """Non-finite loss or parameters during an epoch."""


@dataclass
class Snapshot:
    """Everything needed to continue training from the end of epoch ``epoch``."""

    epoch: int
    params: xr.Dataset
    optimizer: dict
    sampler: str
    forcing: dict
    lr_scale: float
    rollbacks: int
    history: list[dict]


ProgressCallback = Callable[[dict], None]


class Callback:
    """Hooks around the epochs (module doc); each does nothing unless a subclass overrides it."""

    def on_start(self, trainer: Trainer) -> None:
        """Before the first epoch of this run (also of a resumed one)."""

    def on_epoch_start(self, trainer: Trainer) -> None:
        """Before epoch ``trainer.epoch`` (0-based) trains: schedule changes go here."""

    def on_epoch_end(self, trainer: Trainer, record: dict, snapshot: Snapshot) -> None:
        """After an epoch: its history record (with metrics where it was evaluated) and the state after it."""

    def on_interrupt(self, trainer: Trainer, snapshot: Snapshot) -> None:
        """On Ctrl-C (a second one waits until this returns): the state after the last complete epoch."""


class Progress(Callback):
    """Calls ``report`` with each epoch's record, the epoch count, the best D_stsp so far and the path."""

    def __init__(self, report: ProgressCallback) -> None:
        self.report = report

    def on_epoch_end(self, trainer: Trainer, record: dict, snapshot: Snapshot) -> None:
        best = float(np.min(trainer.best_score))
        self.report({**record, "epochs": trainer.config.epochs, "best_d_stsp": best, "kernel": trainer.kernel})


PE_STARTS = 2_000
"""Evenly spaced starts of PE during training (an estimate for the history; the final metrics use every point)."""


class Trainer:
    """Trains ``model`` on ``train`` and selects checkpoints by D_stsp on ``test``; ``callbacks`` see every epoch."""

    def __init__(
        self,
        model: LatentModel,
        train: TimeSeries,
        test: TimeSeries,
        config: FitConfig,
        tau: int | None = None,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        config = for_data(config, train.n_variables, train.n_time)
        self.model = model
        self.train = train
        self.test = test
        self.config = config
        self.callbacks = list(callbacks)
        ref = next(model.parameters())
        self.sampler = WindowSampler(
            train.values, train.inputs, config.sequence_length, config.batch_size, list(model.seeds),
            noise=config.noise, dtype=ref.dtype, device=ref.device,
        )
        self.path = path_for_fit(model, config)
        self.kernel = self.path.name
        self.optimizer = self.path.make_optimizer(model, config.lr_start)
        self.step = self.path.make_step(model, self.optimizer, partial=config.partial_forcing, l2=config.l2, grad_clip=config.grad_clip)
        self.forcing = ForcingSchedule(config, model.ensemble, tau)
        # Whole epochs as compiled calls where they can run (the per-batch loop below stays the reference).
        self.fused_epoch = self.path.compiled_epochs(model, self.optimizer, self.sampler, self.forcing, config)
        self.epoch = 0
        self.lr_scale = 1.0
        self.rollbacks = 0
        self.history: list[dict] = []
        self.best_score = np.full(model.ensemble, np.inf)
        self.best_epoch = np.full(model.ensemble, -1)
        self.best_params = model.to_dataset()
        self.started = time.perf_counter()
        self.stop_requested = False

    # ----- schedule -------------------------------------------------------------------------------

    def learning_rate(self, epoch: int) -> float:
        """Exponential decay from lr_start (epoch 0) to lr_end (last epoch), times the rollback scale."""
        c = self.config
        frac = epoch / max(c.epochs - 1, 1)
        return self.lr_scale * c.lr_start * (c.lr_end / c.lr_start) ** frac

    # ----- one epoch ------------------------------------------------------------------------------

    def train_epoch(self) -> dict[str, np.ndarray]:
        """One epoch at this epoch's rate and α: mean loss and gradient norm per member; Diverged if not finite."""
        set_learning_rate(self.optimizer, self.learning_rate(self.epoch))
        self.forcing.start_epoch(self.epoch)
        stats = self._batches() if self.fused_epoch is None else self._compiled_epoch()
        if not all(torch.isfinite(p).all() for p in self.model.parameters()):
            raise Diverged(f"non-finite parameters after epoch {self.epoch + 1}")
        return stats

    def _compiled_epoch(self) -> dict[str, np.ndarray]:
        loss, grad_norm, failed = self.fused_epoch.run()
        if failed is not None:
            raise Diverged(f"non-finite loss in epoch {self.epoch + 1}")
        return {"loss": loss, "grad_norm": grad_norm}

    def _batches(self) -> dict[str, np.ndarray]:
        """The per-batch loop: one ``make_step`` step per batch, aGTF after each."""
        losses, norms = [], []
        for _ in range(self.config.batches_per_epoch):
            x, s = self.sampler.sample()
            alphas = _alphas_like(self.forcing.alphas(x.shape[2] - 1), x)
            loss, grad_norm = self.step(x, s, alphas)
            # Checked after the update (a graph replays the whole step); the rollback undoes it.
            if not torch.isfinite(loss).all():
                raise Diverged(f"non-finite loss in epoch {self.epoch + 1}")
            self.forcing.after_batch(self.model, x, self.path.loss)
            losses.append(loss.clone())
            norms.append(grad_norm.clone())
        return {
            "loss": torch.stack(losses).mean(0).cpu().numpy(),
            "grad_norm": torch.stack(norms).mean(0).cpu().numpy(),
        }

    # ----- snapshots: rollback, interruption, resume ----------------------------------------------

    def snapshot(self) -> Snapshot:
        return Snapshot(
            epoch=self.epoch,
            params=self.model.to_dataset(),
            optimizer=copy.deepcopy(self.optimizer.state_dict()),
            sampler=self.sampler.state(),
            forcing=copy.deepcopy(self.forcing.state()),
            lr_scale=self.lr_scale,
            rollbacks=self.rollbacks,
            history=list(self.history),
        )

    def restore(self, snap: Snapshot) -> None:
        restored = from_dataset(snap.params, device=next(self.model.parameters()).device)
        with torch.no_grad():
            for mine, saved in zip(self.model.parameters(), restored.parameters(), strict=True):
                mine.copy_(saved)
        self.optimizer.load_state_dict(optimizer_state_for(copy.deepcopy(snap.optimizer), self.model, self.path))
        self.step.invalidate()  # the loaded state tensors are new ones, which a recorded graph does not read
        self.sampler.load_state(snap.sampler)
        self.forcing.load_state(copy.deepcopy(snap.forcing))
        self.epoch, self.lr_scale, self.rollbacks = snap.epoch, snap.lr_scale, snap.rollbacks
        self.history = list(snap.history)

    # ----- evaluation -----------------------------------------------------------------------------

    def evaluate(self) -> dict[str, np.ndarray]:
        scores = evaluate(
            self.model, self.test, self.config.eval_steps, self.config.pe_steps, pe_starts=PE_STARTS, full_transient=True
        )
        current = self.model.to_dataset()
        d = np.where(np.isfinite(scores["d_stsp"]), scores["d_stsp"], np.inf)
        for e in np.flatnonzero(d < self.best_score):
            self.best_score[e], self.best_epoch[e] = d[e], self.epoch
            for name in current.data_vars:
                self.best_params[name][e] = current[name][e]
        return scores

    # ----- the loop -------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """End training after the current epoch (a callback's way to stop a run early)."""
        self.stop_requested = True

    def run(self) -> None:
        for callback in self.callbacks:
            callback.on_start(self)
        if getattr(self.model, "fitted_by", "gradient") != "gradient":
            self._closed_form()
            return
        with self.path.threads():
            self._run_epochs()

    def _closed_form(self) -> None:
        """A zoo family fitted in closed form (ESN, SINDy) or not at all (parrot): its parameters from the whole
        training series, then one evaluated epoch, which the callbacks see as the last (its checkpoint)."""
        ref = next(self.model.parameters())
        self.model.fit_closed_form(torch.as_tensor(self.train.values, dtype=ref.dtype, device=ref.device))
        self.epoch = self.config.epochs
        nothing = np.full(self.model.ensemble, np.nan)
        record = {"epoch": self.epoch, "time": time.perf_counter() - self.started, "lr": 0.0, "rollbacks": 0, "alpha": nothing,
                  "loss": nothing, "grad_norm": nothing}
        record |= self.evaluate()
        self.history = [record]
        snap = self.snapshot()
        for callback in self.callbacks:
            callback.on_epoch_end(self, record, snap)

    def out_of_time(self) -> bool:
        """``time_budget`` minutes of training are used up (a resumed run counts its earlier time)."""
        budget = self.config.time_budget
        return budget is not None and time.perf_counter() - self.started >= 60 * budget

    def _run_epochs(self) -> None:
        c = self.config
        snap = self.snapshot()
        try:
            while self.epoch < c.epochs and not self.stop_requested:
                for callback in self.callbacks:
                    callback.on_epoch_start(self)
                try:
                    stats = self.train_epoch()
                except Diverged as err:
                    if self.rollbacks >= c.max_rollbacks:
                        raise FitDiverged(
                            f"training diverged ({err}) after {self.rollbacks} rollbacks with halved learning rates; "
                            "lower --lr-start, raise --alpha or add --grad-clip"
                        ) from None
                    rollbacks = self.rollbacks + 1
                    self.restore(snap)
                    self.rollbacks, self.lr_scale = rollbacks, self.lr_scale * 0.5
                    continue
                self.epoch += 1
                record = {
                    "epoch": self.epoch, "time": time.perf_counter() - self.started, "lr": self.learning_rate(self.epoch - 1),
                    "rollbacks": self.rollbacks, "alpha": self.forcing.alpha.numpy().copy(), **stats,
                }
                out_of_time = self.out_of_time()
                if out_of_time:  # the budget's last epoch is evaluated, so that it can be the best
                    self.request_stop()
                if self.epoch % c.eval_every == 0 or self.epoch == c.epochs or out_of_time:
                    record |= self.evaluate()
                self.history.append(record)
                snap = self.snapshot()
                for callback in self.callbacks:
                    callback.on_epoch_end(self, record, snap)
        except KeyboardInterrupt:
            with deferred_interrupts():  # a second Ctrl-C waits for the callbacks (a checkpoint being written)
                for callback in self.callbacks:
                    callback.on_interrupt(self, snap)
            raise


def _alphas_like(alphas: list[torch.Tensor | float], x: torch.Tensor) -> list[torch.Tensor | float]:
    """α values in x's dtype and device; each tensor is converted once, as schedules repeat one per step."""
    converted: dict[int, torch.Tensor] = {}
    for a in alphas:
        if not isinstance(a, float) and id(a) not in converted:
            converted[id(a)] = a.to(x)
    return [a if isinstance(a, float) else converted[id(a)] for a in alphas]


def history_dataset(records: list[dict], ensemble: int) -> xr.Dataset:
    """Per-epoch records as a Dataset with dims (epoch,) and (epoch, member); NaN where not evaluated."""
    n = len(records)
    epochs = np.array([r["epoch"] for r in records], dtype=np.int64)
    data_vars = {}
    for name in ("time", "lr", "rollbacks"):
        data_vars[name] = ("epoch", np.array([r[name] for r in records], dtype=float))
    data_vars["evaluated"] = ("epoch", np.array(["d_stsp" in r for r in records], dtype=bool))
    for name in ("loss", "grad_norm", "alpha", *EVAL_METRICS):
        values = np.full((n, ensemble), np.nan)
        for i, r in enumerate(records):
            if name in r:
                values[i] = r[name]
        data_vars[name] = (("epoch", "member"), values)
    return xr.Dataset(data_vars, coords={"epoch": epochs, "member": np.arange(ensemble)})


def history_records(ds: xr.Dataset) -> list[dict]:
    """Inverse of :func:`history_dataset` (evaluation entries only where evaluated)."""
    records = []
    for i, epoch in enumerate(ds["epoch"].values):
        record = {"epoch": int(epoch), "rollbacks": int(ds["rollbacks"].values[i])}
        record |= {name: float(ds[name].values[i]) for name in ("time", "lr")}
        record |= {name: ds[name].values[i].copy() for name in ("loss", "grad_norm", "alpha")}
        if ds["evaluated"].values[i]:
            record |= {name: ds[name].values[i].copy() for name in EVAL_METRICS}
        records.append(record)
    return records

