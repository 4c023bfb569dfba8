"""One row per run for the overview and compare tables: cheap to read, never raising."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dsr import runstore
from dsr.app import panel_lyapunov
from dsr.app.catalog import StoreEntry
from dsr.app.runview import open_run

METRICS = ("d_stsp", "d_h", "pe")


@dataclass
class RunRow:
    """What the runs table shows of one run; ``error`` set when the store could not be read."""

    name: str
    data: str = ""
    model: str = ""
    size: int | None = None
    status: str = ""
    epochs: str = ""
    epochs_done: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    lambda_error: float | None = None
    created: str = ""
    error: str = ""

    def value(self, column: str) -> str | float | None:
        """The row's value in ``column`` (None when missing), for sorting."""
        value = {
            "name": self.name, "data": self.data, "model": self.model, "size": self.size, "status": self.status,
            "epochs": self.epochs_done, "lambda": self.lambda_error, "created": self.created,
        }.get(column, self.metrics.get(column))
        return None if isinstance(value, float) and math.isnan(value) else value

    def text(self) -> str:
        """Everything a filter matches against."""
        return " ".join([self.name, self.data, self.model, self.status, self.created]).lower()


def _model_text(config: dict) -> str:
    kind = config.get("model", "?")
    size = [f"M={config['latent']}"] if config.get("latent") else []
    if kind in ("shplrnn", "clipped-shplrnn"):
        size.append(f"L={config.get('hidden')}")
    elif kind == "alrnn":
        size.append(f"P={config.get('relus')}")
    elif kind == "dendplrnn":
        size.append(f"B={config.get('bases')}")
    return " ".join([kind, *size])


def _metrics(run, history) -> dict[str, float]:
    """Final metrics when finished; during a fit the best evaluated values so far."""
    final = run.attrs.get("final_metrics")
    if final:
        return {k: float(final[k]) for k in METRICS if final.get(k) is not None}
    if history is None:
        return {}
    out = {}
    for name in METRICS:
        if name in history:
            values = np.asarray(history[name].values, dtype=float)
            if np.isfinite(values).any():
                out[name] = float(np.nanmin(values))
    return out


def summarize(entry: StoreEntry) -> RunRow:
    """The table row of a run store (an error row if anything in it cannot be read)."""
    row = RunRow(name=entry.name, status=entry.kind if entry.error else "")
    if entry.error:
        row.error = entry.error
        return row
    try:
        run = open_run(entry.path)
        config = run.config_dict
        history = run.group(runstore.HISTORY)
        row.data = Path(str(run.attrs.get("data_path", ""))).name
        row.model = _model_text(config)
        row.size = run.attrs.get("n_parameters")
        row.status = str(run.attrs.get("status", "?"))
        row.epochs_done = 0 if history is None or history.sizes.get("epoch", 0) == 0 else int(history["epoch"].values[-1])
        row.epochs = f"{row.epochs_done}/{config.get('epochs', '?')}"
        row.metrics = _metrics(run, history)
        spectrum = panel_lyapunov.read(run)
        row.lambda_error = None if spectrum is None else spectrum.max_error
        row.created = str(run.attrs.get("created", ""))[:19].replace("T", " ")
    except Exception as err:  # noqa: BLE001 -- a corrupt store is one error row, not a broken table
        row.error = f"{type(err).__name__}: {err}"
        row.status = row.status or "unreadable"
    return row
