"""λ1 and the Kaplan–Yorke dimension D_KY of a run's best member, and of the system the data came from.

Models: the Lyapunov spectrum from the step's Jacobian along a free run that starts at the last state of
the run's stored trajectory (on the attractor): the Numba face of a piecewise-linear model
(:func:`dsr.analysis.lyapunov.lyapunov_spectrum`), the step's forward derivatives for a zoo model
(:func:`dsr.zoo.lyapunov.lyapunov_spectrum`); D_KY = j + Σ_{i≤j} λ_i / |λ_{j+1}| (Kaplan & Yorke, 1979;
:func:`dsr.analysis.dimensions.kaplan_yorke`). Exponents are per unit of the data's time (steps × dt).
Truth: the published invariants of the ``dsr.systems`` system named in the data store's attrs.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

MIN_EXPONENTS = 3
"""Zoo models: the k = max(3, N + 1) largest exponents (at most M), enough for D_KY of a low-dimensional attractor."""


def run_invariants(path: str | Path, steps: int, transient: int = 500) -> tuple[float, float, str]:
    """(λ1, D_KY, note) of the best member of the finished run at ``path``; NaN and the reason where there are none."""
    import torch

    from dsr.analysis import dimensions
    from dsr.run import Run

    run = Run(path)
    params = run.params("best")
    start = run.last_state()
    if start is None or not np.all(np.isfinite(start)):
        return math.nan, math.nan, "the free run diverged"
    dt = float(run.dt)
    kind = str(params.attrs["model_kind"])
    from dsr.analysis import pwl

    if kind in pwl.KINDS:
        from dsr.analysis import lyapunov
        from dsr.numba_face import numba_face

        face = numba_face(params, run.best_member)
        exponents = lyapunov.lyapunov_spectrum(face, np.asarray(start, dtype=np.float64), steps=steps, transient=transient, dt=dt).exponents
    else:
        from dsr.zoo import from_dataset
        from dsr.zoo.lyapunov import lyapunov_spectrum

        # The best member alone: the other members' spectra would cost E - 1 times as much and are not reported.
        model = from_dataset(params.isel(member=[run.best_member]))
        if model.fitted_by == "none":
            return math.nan, math.nan, f"{kind} is piecewise constant (Jacobian 0): no Lyapunov exponents"
        k = min(model.latent, max(MIN_EXPONENTS, model.n_obs + 1))
        z0 = torch.as_tensor(np.asarray(start, dtype=np.float64)[None, None].copy())
        exponents = lyapunov_spectrum(model, z0, steps=steps, transient=transient, n_exponents=k, dt=dt)[0].exponents
    exponents = np.sort(np.asarray(exponents, dtype=np.float64))[::-1]
    if not np.all(np.isfinite(exponents)):
        return math.nan, math.nan, "the Lyapunov exponents are not finite (a collapsed or diverging run)"
    return float(exponents[0]), float(dimensions.kaplan_yorke(exponents)), ""


def truth(data_attrs: dict) -> dict[str, float]:
    """Published λ1 and D_KY of the system named in a data store's attrs (``dsr simulate`` writes it); {} if none."""
    from dsr import systems

    name = data_attrs.get("system")
    if name not in systems.names():
        return {}
    published = systems.get(name).invariants
    result = {}
    if "max_lyapunov_exponent" in published:
        result["lambda1"] = float(published["max_lyapunov_exponent"])
    if "kaplan_yorke_dimension" in published:
        result["d_ky"] = float(published["kaplan_yorke_dimension"])
    return result
