"""Reconstruction quality of a model ensemble on held-out data.

Protocol (``evaluate_run`` of GTF-shPLRNN, the code of Hess et al., ICML 2023): from the first
point of each test trial, run the model freely for ``n + n // 4`` steps, discard the first
``n // 4`` as transient, and compare the remaining n = min(trial length, ``max_steps``)
steps with the first n test points: D_stsp and D_H (:mod:`dsr.analysis.metrics`) on all
trials concatenated. PE(k) is the mean squared error k steps ahead from every test point.
All in the standardized coordinates the model was trained in.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
import xarray as xr

from dsr.analysis import metrics
from dsr.analysis.pwl import KINDS as PIECEWISE_LINEAR
from dsr.data import TimeSeries
from dsr.models import LatentModel
from dsr.numba_face import normal_form_faces
from dsr.zoo.scripted import scripted_run


def shared_tensor(values: np.ndarray, model: LatentModel) -> torch.Tensor:
    """``values`` repeated for every ensemble member, (E, *values.shape), in the model's dtype and device."""
    ref = next(iter(model.parameters()))
    # np.array copies the read-only broadcast view that torch would otherwise warn about.
    return torch.tensor(np.array(np.broadcast_to(values, (model.ensemble, *np.shape(values)))), dtype=ref.dtype, device=ref.device)


@torch.no_grad()
def latent_run(model: LatentModel, z0: torch.Tensor, steps: int, transient: int = 0, s: torch.Tensor | None = None) -> torch.Tensor:
    """Latent free run (E, steps, M) of every member from z0 (E, M), its first ``transient`` steps dropped.

    Without inputs each member runs through its Numba face (`dsr.numba_face`, float64): one
    compiled loop instead of a torch dispatch per step, about 100x faster for the long runs of
    evaluation (the faces agree with the torch step, ``tests/test_analyze.py``); a zoo model runs
    its step traced into one TorchScript loop (``dsr.zoo.scripted``, the same operations as its
    ``generate``). With inputs ``s`` (E, transient + steps, K), which the faces leave out, or a step
    that cannot be traced (the parrot's), torch's ``generate`` runs.
    """
    if s is None and model.config.kind in PIECEWISE_LINEAR:
        start = z0.detach().cpu().double().numpy()
        runs = _per_member(lambda e, face: face.trajectory(steps, start[e], transient), model)
        return torch.as_tensor(runs, dtype=z0.dtype, device=z0.device)
    if s is None and getattr(model, "scripted", False):
        return scripted_run(model, z0, steps, transient)
    return model.generate(transient + steps, z0=z0, s=s)[:, transient:]


def _per_member(run: Callable[[int, Any], np.ndarray], model: LatentModel) -> np.ndarray:
    """run(e, face) for each member e and its Numba face (float64, from the model's normal form),
    stacked; on the training kernels' threads (``dsr.training.fused.threads``: one per core, or a
    sweep worker's share of the cores), as the faces' kernels release the GIL."""
    from dsr.training import fused

    with torch.no_grad():
        faces = normal_form_faces(model.normal_form(), model.kind)
    with ThreadPoolExecutor(max(1, min(len(faces), fused.threads()))) as pool:
        return np.stack(list(pool.map(run, range(len(faces)), faces)))


@torch.no_grad()
def free_run(
    model: LatentModel, x0: np.ndarray, steps: int, transient: int = 0, inputs: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Observations (E, steps, N) and latent states (E, steps, M) of a free run from x0 (N,).

    The run starts from the data-inferred state of x0 and drops its first ``transient`` steps;
    ``inputs`` (transient + steps, K), if the model has inputs, drive it step by step.
    """
    z0 = model.initial_state(shared_tensor(x0, model))
    z = latent_run(model, z0, steps, transient, None if inputs is None else shared_tensor(inputs, model))
    return model.observe(z).cpu().numpy(), z.cpu().numpy()


PREDICTION_CHUNK = 2_048
"""Starts that torch's ``generate`` predicts from at once (the bound on its memory)."""
PREDICTION_VALUES = 2**22
"""State values (E x starts x M) that the zoo's predictions step at once: 16 MiB in float32, a few times
that in the step's temporaries; all of a 10⁵-point test set's starts in 7 batches for a 4-member LSTM."""


@torch.no_grad()
def _predictions(model: LatentModel, starts: np.ndarray, k: int, inputs: np.ndarray | None) -> np.ndarray:
    """k-step predictions (E, B, N) from every start point (B, N): by the Numba faces without inputs
    (as ``latent_run``; the final PE from every point of a 10⁵-step test set took 11 s in torch), else
    by torch's ``generate`` with the windows' inputs (B, k + 1, K). A zoo model (no inputs) steps
    batches of starts k times, keeping only the last state: its step is torch either way, and on
    ~10⁴ starts at once the step's arithmetic, not its per-step dispatch, sets the time."""
    x = shared_tensor(starts, model)
    if inputs is None and model.config.kind in PIECEWISE_LINEAR:
        z0 = model.initial_state(x).detach().cpu().double().numpy()
        z = _per_member(lambda e, face: face.ahead(z0[e], k), model)
        return model.observe(torch.as_tensor(z, dtype=x.dtype, device=x.device)).cpu().numpy()
    parts = []
    if inputs is None:
        chunk = max(1, PREDICTION_VALUES // (model.ensemble * model.latent))
        for lo in range(0, len(starts), chunk):
            z = model.initial_state(x[:, lo : lo + chunk])
            for _ in range(k):
                z = model.step(z)
            parts.append(model.observe(z).cpu().numpy())
        return np.concatenate(parts, axis=1)
    # In chunks of starts: a run keeps all k + 1 states of every start (a 303-unit ESN from 10⁵ test points: 10 GB).
    for lo in range(0, len(starts), PREDICTION_CHUNK):
        window = shared_tensor(inputs[lo : lo + PREDICTION_CHUNK], model)
        z = model.generate(k + 1, x0=x[:, lo : lo + PREDICTION_CHUNK], s=window)
        parts.append(model.observe(z[:, :, -1]).cpu().numpy())
    return np.concatenate(parts, axis=1)


def _hellinger_or_worst(truth: np.ndarray, generated: np.ndarray) -> np.ndarray:
    """D_H of each member's run (E, n, N) against the truth (n, N); 1, the maximum, for a run that diverged
    or collapsed onto a fixed point (constant: no spectrum), as ALRNN-DSR evaluate.jl scores them."""
    finite = np.all(np.isfinite(generated), axis=(1, 2))
    values = np.ones(len(generated))
    if finite.any():
        values[finite] = metrics.hellinger_distances(truth, list(generated[finite]))
    return np.where(np.isnan(values), 1.0, values)


def evaluate(
    model: LatentModel,
    test: TimeSeries,
    max_steps: int | None = None,
    pe_steps: int = 20,
    pe_starts: int | None = None,
    full_transient: bool = False,
) -> dict[str, np.ndarray]:
    """D_stsp, D_H and PE(pe_steps) per member on the test series: arrays of shape (E,).

    The free run starts from each trial's first point, drops a transient of a quarter of the
    compared length n = min(trial length, ``max_steps``) and is compared with the trial's first n
    points (the protocol of the module doc). With ``full_transient`` the transient is a quarter of the
    whole trial, as in the protocol's final evaluation, even when fewer steps are compared: the
    monitoring during training, so that a model whose chaos is only transient (it settles onto a
    cycle after a few hundred time units, seen in default fits) does not look good there.

    PE starts from every test point (the protocol), or with ``pe_starts`` from that many evenly
    spaced ones per trial: the monitoring during training, where PE does not choose checkpoints
    and predicting from all 20 000 points would cost more than the free run.
    """
    E = model.ensemble
    generated, truth = [], []
    pe_sum, pe_count = np.zeros(E), 0
    for k in range(test.n_trials):
        values = test.values[k]
        inputs = None if test.inputs is None else test.inputs[k]
        n = len(values) if max_steps is None else min(len(values), max_steps)
        transient = (len(values) if full_transient else n) // 4
        # The inputs during the transient are unknown; repeat the first one.
        run_inputs = None if inputs is None else np.concatenate([np.repeat(inputs[:1], transient, 0), inputs[:n]])
        generated.append(free_run(model, values[0], n, transient, run_inputs)[0])
        truth.append(values[:n])
        if n > pe_steps:
            starts = np.arange(n - pe_steps)
            if pe_starts is not None and pe_starts < len(starts):
                starts = np.unique(np.linspace(0, len(starts) - 1, pe_starts).astype(np.int64))
            window_inputs = None
            if inputs is not None:
                window_inputs = inputs[starts[:, None] + np.arange(pe_steps + 1)]
            predictions = _predictions(model, values[starts], pe_steps, window_inputs)
            # PE(k) (metrics.prediction_error): squared error at step k only, summed here over starts.
            pe_sum += np.mean((predictions - values[starts + pe_steps]) ** 2, axis=-1).sum(axis=-1)
            pe_count += len(starts)
    # All members against the one test set: the metrics compute the truth's part once.
    true = np.concatenate(truth, axis=0)
    d_stsp = metrics.state_space_divergences(true, [np.concatenate([g[e] for g in generated], axis=0) for e in range(E)])
    # Spectra need contiguous series: D_H per trial, averaged.
    d_h = np.mean([_hellinger_or_worst(t, g) for t, g in zip(truth, generated)], axis=0)
    pe = pe_sum / pe_count if pe_count else np.full(E, np.nan)
    return {"d_stsp": d_stsp, "d_h": d_h, "pe": pe}


def same_parameters(a: LatentModel, b: LatentModel) -> bool:
    """Whether two models are the same model: one class and configuration, equal parameters and buffers."""
    if type(a) is not type(b) or a.config != b.config:
        return False
    left, right = a.state_dict(), b.state_dict()
    return left.keys() == right.keys() and all(torch.equal(left[k], right[k]) for k in left)


def checkpoint_metrics(models: dict[str, LatentModel], test: TimeSeries, steps: int | None, pe_steps: int) -> xr.Dataset:
    """D_stsp, D_H, PE of each checkpoint's members; attr ``best_member``: lowest D_stsp of the first checkpoint.

    A checkpoint with the same parameters as an earlier one (the best is often the last, and always for the
    closed-form families) takes its scores: evaluation is deterministic, and on a 10⁵-step test set it costs minutes."""
    scores: dict[str, dict[str, np.ndarray]] = {}
    for name, model in models.items():
        twin = next((other for other in scores if same_parameters(models[other], model)), None)
        scores[name] = scores[twin] if twin is not None else evaluate(model, test, steps, pe_steps)
    first = next(iter(scores.values()))
    table = xr.Dataset(
        {name: (("checkpoint", "member"), np.stack([scores[c][name] for c in scores])) for name in first},
        coords={"checkpoint": np.array(list(scores), dtype=object), "member": np.arange(len(first["d_stsp"]))},
    )
    d_stsp = first["d_stsp"]
    table.attrs = {
        "best_member": int(np.argmin(np.where(np.isfinite(d_stsp), d_stsp, np.inf))),
        "pe_steps": pe_steps,
        "steps": steps,
        "protocol": "free run from each test trial's first point, 25 % transient dropped, compared with the test set",
    }
    return table
