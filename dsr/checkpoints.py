"""A fit's checkpoints in its run store: the trainer callback that writes them, and resume's reader.

At evaluations the callback writes checkpoint ``last`` (parameters and training state: optimizer
moments, window sampler, forcing schedule, learning-rate scale, rollbacks, best scores), the best
parameters so far and the history, as one unit (``runstore.write_checkpoint``): the first and the last
epoch's and any at least ``checkpoint_seconds`` after the previous one (a checkpoint costs 0.2–0.5 s of
Zarr writes, as much as an evaluation; a resume from an older one recomputes the same epochs exactly),
and always on an interruption. :func:`load` puts a run's ``last`` checkpoint back into a trainer.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from dsr import runstore
from dsr.training.state import optimizer_from_dataset, optimizer_to_dataset
from dsr.training.trainer import Callback, Snapshot, Trainer, history_dataset, history_records


class RunStoreCheckpoints(Callback):
    """Writes the trainer's checkpoints to the run store ``store`` (module doc) and its path to the attrs."""

    def __init__(self, store: str | Path) -> None:
        self.store = str(store)
        self.saved_at: float | None = None  # when the last checkpoint was written

    def on_start(self, trainer: Trainer) -> None:
        runstore.update_attrs(self.store, kernel=trainer.kernel)

    def on_epoch_end(self, trainer: Trainer, record: dict, snapshot: Snapshot) -> None:
        if "d_stsp" in record and self._due(trainer):
            self.save(trainer, snapshot)

    def on_interrupt(self, trainer: Trainer, snapshot: Snapshot) -> None:
        self.save(trainer, snapshot)

    def _due(self, trainer: Trainer) -> bool:
        last = self.saved_at is None or trainer.epoch == trainer.config.epochs or trainer.stop_requested
        return last or time.perf_counter() - self.saved_at >= trainer.config.checkpoint_seconds

    def save(self, trainer: Trainer, snap: Snapshot) -> None:
        """Write ``snap`` as checkpoint ``last`` with its training state, plus best and history, as one unit."""
        state = optimizer_to_dataset(snap.optimizer).assign_attrs(
            epoch=snap.epoch, sampler=snap.sampler, forcing=snap.forcing, lr_scale=snap.lr_scale,
            rollbacks=snap.rollbacks, best_score=trainer.best_score.tolist(), best_epoch=trainer.best_epoch.tolist(),
        )
        self.saved_at = time.perf_counter()
        runstore.write_checkpoint(
            self.store,
            {
                f"{runstore.PARAMS}/last": snap.params.assign_attrs(epoch=snap.epoch),
                f"{runstore.STATE}/last": state,
                f"{runstore.PARAMS}/best": trainer.best_params.assign_attrs(epoch=trainer.best_epoch.tolist()),
                runstore.HISTORY: history_dataset(snap.history, trainer.model.ensemble),
            },
            epoch=snap.epoch,
        )


def load(trainer: Trainer, store: str | Path) -> None:
    """Continue ``trainer`` from the ``last`` checkpoint of the run store ``store`` (resume)."""
    state = runstore.read_group(store, f"{runstore.STATE}/last")
    params = runstore.read_group(store, f"{runstore.PARAMS}/last")
    device = next(trainer.model.parameters()).device
    history = history_records(runstore.read_group(store, runstore.HISTORY))
    trainer.best_params = runstore.read_group(store, f"{runstore.PARAMS}/best")
    trainer.best_score = np.asarray(state.attrs["best_score"], dtype=float)
    trainer.best_epoch = np.asarray(state.attrs["best_epoch"], dtype=int)
    trainer.restore(
        Snapshot(
            epoch=int(state.attrs["epoch"]), params=params, optimizer=optimizer_from_dataset(state, device),
            sampler=state.attrs["sampler"], forcing=state.attrs["forcing"], lr_scale=float(state.attrs["lr_scale"]),
            rollbacks=int(state.attrs["rollbacks"]), history=history,
        )
    )
    trainer.started = time.perf_counter() - (history[-1]["time"] if history else 0.0)
