"""``dsr analyze`` of a run of a zoo family (``dsr.zoo``): Lyapunov spectrum, Kaplan–Yorke and correlation dimensions.

The spectrum comes from the step's forward derivatives (:mod:`dsr.zoo.lyapunov`: the k = max(3, N + 1)
largest of M exponents, k ≤ M) from ``initial_conditions`` states along a free run that starts at the
end of the run's stored trajectory; the correlation dimension from that free run's observations. Fixed
points, cycles and symbolic codes need the linear regions of a piecewise-linear map: they are skipped,
and the report's notes say so.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from dsr import runstore
from dsr.errors import DsrError
from dsr.jsonable import plain
from dsr.run import Run
from dsr.run_analysis.groups import invariant_groups
from dsr.run_analysis.invariants import Frame, Invariants, dimensions, ground_truth
from dsr.run_analysis.report import comparison
from dsr.run_analysis.settings import Settings

MIN_EXPONENTS = 3


def analyze_zoo_run(run: Run, checkpoint: str, member: int | None, settings: Settings, write: bool) -> dict[str, Any]:
    """The report of ``dsr analyze`` for a zoo run (module doc); with ``write`` its lyapunov and dimensions groups."""
    import torch

    from dsr.zoo import from_dataset
    from dsr.zoo.lyapunov import lyapunov_spectrum

    params = run.params(checkpoint)
    members = int(params.sizes["member"])
    chosen = run.best_member if member is None else int(member)
    if not 0 <= chosen < members:
        raise DsrError(f"--member {chosen} is out of range: the ensemble has members 0..{members - 1}")
    try:
        model = from_dataset(params.isel(member=[chosen])).double()
    except ValueError as err:
        raise DsrError(f"the run's {checkpoint} parameters do not form a {params.attrs.get('model_kind')} model: {err}") from None
    kind, frame = model.kind, Frame(run.dt, run.standardization(model.n_obs))
    notes = [f"{kind} is not piecewise linear: fixed points, cycles and symbolic codes (they need a PWL map's regions) are skipped"]
    start = run.last_state()
    if start is None or start.shape != (model.latent,) or not np.all(np.isfinite(start)):
        start = np.zeros(model.latent)
    with torch.no_grad():
        latent = model.generate(settings.trajectory_steps, z0=torch.as_tensor(start, dtype=torch.float64)[None])[0]
        orbit = latent.numpy()
        observed = model.observe(latent[None])[0].numpy()
    inv = Invariants()
    if not np.all(np.isfinite(orbit)):
        notes.append("the model's free run diverges: no Lyapunov spectrum or dimensions")
    else:
        if model.fitted_by == "none":
            notes.append(f"{kind}'s map is piecewise constant (Jacobian 0): its exponents are −∞, none reported")
        else:
            k = min(model.latent, max(MIN_EXPONENTS, model.n_obs + 1))
            if k < model.latent:
                notes.append(f"the {k} largest of {model.latent} Lyapunov exponents (from the step's forward derivatives)")
            starts = orbit[np.linspace(0, len(orbit) - 1, settings.initial_conditions).astype(int)]
            inv.spectrum = lyapunov_spectrum(
                model, torch.as_tensor(starts)[None], steps=settings.steps, transient=settings.transient, n_exponents=k, dt=frame.dt,
                seed=settings.seed,
            )[0]
        dimensions(inv, observed, settings)
    truth = ground_truth(run.attrs, frame, settings)
    model_report = {
        "kind": kind, "member": chosen, "checkpoint": checkpoint, "latent": model.latent, "dt": frame.dt,
        "variables": run.variables or [f"x{i}" for i in range(model.n_obs)], **inv.report(),
        "cycles": [], "cycle_search": [], "symbolic": None, "notes": notes,
    }
    model_report.pop("fixed_points")
    truth_report = None if truth is None else truth.report()
    report = plain({
        "target": str(run.path), "kind": "run", "settings": asdict(settings), "model": model_report, "truth": truth_report,
        "comparison": comparison(model_report, truth_report),
    })
    if write:
        base = {**report["settings"], "checkpoint": checkpoint, "member": chosen, "model_kind": kind}
        groups = invariant_groups(inv, truth, base)
        for name, ds in groups.items():
            runstore.write_group(run.path, f"{runstore.ANALYSIS}/{name}", ds)
        report["groups"] = [f"{runstore.ANALYSIS}/{name}" for name in groups]
    return report
