"""Parallel-in-time Newton solvers for z_t = G_t(z_{t−1}), t = 1..T: one engine, four ways to linearise.

Stack the states Z = (z_1..z_T) and solve the residual r_t = z_t − G_t(z_{t−1}) = 0 by Newton's method.
Its Jacobian is block lower-bidiagonal, so each Newton step is the linear recurrence

    z_t^{k+1} = Ã_t z_{t−1}^{k+1} + b̃_t,    b̃_t = G_t(z_{t−1}^k) − Ã_t z_{t−1}^k,

solved for all t by the parallel scan of :mod:`dsr.parallel.scan` (DEER: Lim et al., ICLR 2024;
ParaRNN: Danieli et al., arXiv 2510.21450). The solver kinds differ only in Ã_t and in the stopping test:

- ``deer``: Ã_t = ∂G_t/∂z at z_{t−1}^k (dense), stop when the residual is below the tolerance.
- ``quasi``: Ã_t = diag(∂G_t/∂z) (diagonal scan; quasi-DEER, Gonzalez et al., NeurIPS 2024, and
  ParaRNN's diagonal form).
- ``elk``: the dense step damped towards the previous iterate,
  z_t^{k+1} = (1 − κ)(Ã_t z_{t−1}^{k+1} + b̃_t) + κ z_t^k. This is the filtering step of ELK
  (Gonzalez et al., NeurIPS 2024: Levenberg–Marquardt as a Kalman filter that observes the previous
  iterate) with the gain held at a scalar κ per step, so each step stays one affine scan; it shrinks
  the linearised dynamics by (1 − κ), which is what stabilises ELK, and keeps the exact trajectory as
  its fixed point. κ follows Levenberg–Marquardt's rule: halved after a step that lowers the merit ½‖r‖²
  (so near the solution the step is DEER's, with its quadratic convergence), and raised towards 1
  after one that does not, which is undone; past κ = 0.9 one undamped step is taken unconditionally,
  which keeps DEER's finite termination (at least one more exact time step per full step). The
  rejected steps count as iterations.
- ``pwl``: for piecewise-linear models, Ã_t and b̃_t are the affine map of z_{t−1}^k's region, so a step
  is the rollout with the activation pattern frozen at the previous iterate's. Once the pattern of the
  new iterate equals the one it was computed with, the iterate *is* the trajectory (round-off aside):
  the solve stops on that integer test, confirmed by the residual (for a piecewise-linear map Newton's linearisation is the map itself within a region; Eisenmann et al., NeurIPS 2023).

Every Newton step makes at least one more time step exact (causality; ELK's Prop. 1), so the exact
trajectory is reached within T steps in exact arithmetic; in practice the scan is accurate only when
the forced recurrence contracts (largest Lyapunov exponent < 0; Gonzalez et al., NeurIPS 2025),
which teacher forcing with α > 1 − e^{−λ} ensures. A solve that does not converge within
``max_iter`` steps, or whose iterate turns non-finite, returns the sequential loop's trajectory with
``converged = False`` and a :class:`NewtonFallbackWarning`: never an unconverged iterate.

The initial guess is the data where forced (z0 elsewhere), refined by ``sweeps`` Jacobi sweeps
Z_t ← G_t(Z_{t−1}), all t at once: the fixed-point iteration whose linear model is Ã_t = 0 (Gonzalez et
al., "A unifying framework for parallelizing sequential models with linear dynamical systems", 2025),
and ParaRNN's initial guess (one sweep from zero states). A sweep costs one evaluation of the step
(no Jacobian, no scan) and makes one more leading time step exact. They matter where the forced
recurrence expands locally: on the default model trained on Lorenz-63 under GTF with α = 0.05, one
40-step passage near the origin saddle (forced linearisation growing ×9.9) needs 8 Newton steps from the
data and 5 after two sweeps (docs/parallel-time.md). Sweeps are counted apart from the Newton steps.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Literal

import torch
from torch import Tensor

from dsr.parallel.recurrence import Forcing, Recurrence, StepModel
from dsr.parallel.result import NewtonResult
from dsr.parallel.scan import solve_linear

SOLVERS = ("auto", "deer", "quasi", "elk", "pwl")
DEFAULT_MAX_ITER = 50
DEFAULT_DAMPING = 0.3
DEFAULT_SWEEPS = 2
_TOLERANCE = {torch.float64: 1e-12, torch.float32: 2e-5}


class NewtonFallbackWarning(RuntimeWarning):
    """A Newton solve did not converge; its result is the sequential loop's."""


@dataclass(frozen=True)
class SolverKind:
    """How a solver linearises: dense, diagonal or region-exact Ã_t; damped; stopping on the pattern."""

    name: str
    form: Literal["dense", "diagonal", "region"]
    damped: bool = False


KINDS = {
    "deer": SolverKind("deer", "dense"),
    "quasi": SolverKind("quasi", "diagonal"),
    "elk": SolverKind("elk", "dense", damped=True),
    "pwl": SolverKind("pwl", "region"),
}


def check_options(
    solver: str, max_iter: int, tol: float | None = None, damping: float = DEFAULT_DAMPING, sweeps: int = DEFAULT_SWEEPS
) -> None:
    """Raise ValueError (one line naming the fix) for an unknown solver, negative budget or sweeps, bad tolerance or damping."""
    if solver not in SOLVERS:
        raise ValueError(f"unknown Newton solver {solver!r}; choose one of: {', '.join(SOLVERS)}")
    for name, value in (("the Newton budget max_iter", max_iter), ("the number of Jacobi sweeps", sweeps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    if tol is not None and not tol > 0:
        raise ValueError(f"the Newton tolerance tol must be > 0, got {tol!r}")
    if not 0 <= damping < 1:
        raise ValueError(f"the ELK damping must lie in [0, 1), got {damping!r}")


def resolve_solver(model: StepModel, solver: str) -> SolverKind:
    """``auto``: ``pwl`` for piecewise-linear models, else the model's ``newton_solver`` attribute where it names
    one (``quasi`` for the zoo's cells with diagonal recurrent weights, ``dsr.zoo.pararnn``), else ``deer``;
    ``pwl`` on another model is an error."""
    pwl = Recurrence(model, 0).piecewise_linear
    if solver == "auto":
        return KINDS["pwl" if pwl else getattr(model, "newton_solver", "deer")]
    if solver == "pwl" and not pwl:
        raise ValueError(f"the pwl solver needs a piecewise-linear model (pattern and affine); {type(model).__name__} has none; use deer")
    return KINDS[solver]


def default_tolerance(dtype: torch.dtype) -> float:
    """Residual tolerance relative to the states' size: 1e-12 (float64), 2e-5 (float32), 1e-2 otherwise."""
    return _TOLERANCE.get(dtype, 1e-2)


def sequential(rec: Recurrence, z0: Tensor) -> Tensor:
    """z_1..z_T (…, T, M) by the plain loop z_t = G_t(z_{t−1}): the reference, and the fallback."""
    z, out = z0, []
    for t in range(rec.steps):
        z = rec.at(z, t)
        out.append(z)
    return torch.stack(out, dim=-2)


def solve(
    model: StepModel,
    z0: Tensor,
    steps: int,
    *,
    s: Tensor | None = None,
    forcing: Forcing | None = None,
    solver: str = "auto",
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float | None = None,
    damping: float = DEFAULT_DAMPING,
    init: Tensor | None = None,
    sweeps: int = DEFAULT_SWEEPS,
) -> NewtonResult:
    """z_1..z_steps of ``model`` from z0 (…, M) by a parallel Newton solve (module doc), without autograd.

    ``s``: inputs (…, steps, K) aligned with the states they produce; ``forcing``: GTF/STF (see
    :class:`~dsr.parallel.recurrence.Forcing`), None for a free run. ``tol``: residual tolerance
    relative to max(1, max|z|) (default :func:`default_tolerance`); ``damping``: κ of ``elk``;
    ``init``: the initial guess (…, steps, M), by default the data where forced (z0 elsewhere);
    ``sweeps``: Jacobi sweeps applied to it before the Newton steps (module doc).
    """
    check_options(solver, max_iter, tol, damping, sweeps)
    if steps < 1:
        raise ValueError(f"steps must be a positive number of time steps, got {steps}")
    kind = resolve_solver(model, solver)
    rec = Recurrence(model, steps, s, forcing)
    tol = default_tolerance(z0.dtype) if tol is None else tol
    with torch.no_grad():
        z0 = z0.detach()
        Z = _initial_guess(z0, steps, forcing) if init is None else init.detach().expand(*z0.shape[:-1], steps, z0.shape[-1])
        for _ in range(sweeps):
            Z = rec(_previous(z0, Z))
        return replace(_iterate(rec, kind, z0, Z, max_iter, tol, damping), sweeps=sweeps)


def _previous(z0: Tensor, Z: Tensor) -> Tensor:
    """z_0..z_{T−1} of an iterate z_1..z_T: the states each step starts from."""
    return torch.cat((z0.unsqueeze(-2), Z[..., :-1, :]), dim=-2)


def _initial_guess(z0: Tensor, steps: int, forcing: Forcing | None) -> Tensor:
    guess = z0.unsqueeze(-2).expand(*z0.shape[:-1], steps, z0.shape[-1])
    if forcing is None:
        return guess.clone()
    signal = forcing.signal.expand(*z0.shape[:-1], steps, forcing.signal.shape[-1])
    return torch.cat((signal, guess[..., signal.shape[-1] :]), dim=-1)


def _iterate(rec: Recurrence, kind: SolverKind, z0: Tensor, Z: Tensor, max_iter: int, tol: float, damping: float) -> NewtonResult:
    residuals: list[float] = []
    changes: list[int] = []
    used: Tensor | None = None  # the pattern the current iterate was computed with (pwl)
    accepted: tuple[Tensor, Tensor, Tensor, float] | None = None  # elk: the best iterate (Z, prev, G, merit)
    for k in range(max_iter + 1):
        prev = _previous(z0, Z)
        G = rec(prev)
        r = Z - G
        residuals.append(float(r.abs().amax()))
        if not residuals[-1] < float("inf") and accepted is None:
            reason = f"the iterate turned non-finite at Newton step {k}"
            break
        small = residuals[-1] <= tol * max(1.0, float(Z.abs().amax()))
        pattern = rec.model.pattern(prev) if kind.form == "region" else None  # type: ignore[attr-defined]
        if pattern is not None and used is not None:
            changes.append(int((pattern != used).sum()))
            if changes[-1] == 0 and small:
                return NewtonResult(Z, kind.name, k, residuals, True, pattern_changes=changes)
            if changes[-1] == 0:
                reason = (
                    f"the pattern settled at Newton step {k} but the residual {residuals[-1]:.3g} exceeds the tolerance "
                    "(the scan lost accuracy)"
                )
                break
        elif pattern is None and small:
            return NewtonResult(Z, kind.name, k, residuals, True)
        if k == max_iter:
            reason = f"not converged in {max_iter} Newton steps (residual {residuals[-1]:.3g})"
            break
        if kind.damped:
            # Levenberg–Marquardt's rule on its merit ½‖r‖²: a step that lowers it is kept and the
            # damping relaxed; one that does not is undone and the damping raised.
            merit = float((r * r).sum())
            if accepted is None or merit < accepted[3]:
                accepted, damping = (Z, prev, G, merit), damping / 2
            else:
                Z, prev, G, _ = accepted
                damping = 1 - (1 - damping) / 2 if damping > 0 else 0.5
                if damping > 0.9:
                    # Stalled at a kink of a piecewise-linear merit: one full (DEER) step, taken
                    # unconditionally, which makes at least one more time step exact (causality).
                    accepted, damping = None, 0.0
        Z, used = _newton_step(rec, kind, z0, Z, prev, G, pattern, damping), pattern
    warnings.warn(
        f"{kind.name} Newton solve of {rec.steps} steps fell back to the sequential loop: {reason}",
        NewtonFallbackWarning,
        stacklevel=3,
    )
    return NewtonResult(sequential(rec, z0), kind.name, len(residuals) - 1, residuals, False, reason, changes)


def _newton_step(
    rec: Recurrence, kind: SolverKind, z0: Tensor, Z: Tensor, prev: Tensor, G: Tensor, pattern: Tensor | None, damping: float
) -> Tensor:
    """The next iterate: the linear recurrence z_t = Ã_t z_{t−1} + b̃_t solved by the scan."""
    if pattern is not None:
        A, b = rec.affine(pattern)  # exact in the region: b̃_t is the region's offset
        return solve_linear(A, b, z0)
    if kind.form == "diagonal":
        A = torch.diagonal(rec.jacobian(prev), dim1=-2, dim2=-1)
        b = G - A * prev
    else:
        A = rec.jacobian(prev)
        b = G - (A @ prev.unsqueeze(-1)).squeeze(-1)
    if kind.damped:
        A, b = (1 - damping) * A, (1 - damping) * b + damping * Z
    return solve_linear(A, b, z0)


def generate(model: StepModel, n: int, z0: Tensor, *, s: Tensor | None = None, **options: object) -> NewtonResult:
    """A free run of n states (…, n, M) from z0 by :func:`solve`; here ``states`` includes z0 as state 0.

    ``s`` (…, n, K) follows ``LatentModel.generate``'s convention (s[..., 0, :] unused); ``options`` are
    :func:`solve`'s (solver, max_iter, tol, damping, sweeps).
    """
    if n < 1:
        raise ValueError(f"n must be a positive number of states, got {n}; pass n >= 1")
    start = z0.detach().unsqueeze(-2)
    if n == 1:
        return NewtonResult(start, str(options.get("solver", "auto")), 0, [], True)
    result = solve(model, z0, n - 1, s=None if s is None else s[..., 1:, :], **options)  # type: ignore[arg-type]
    return replace(result, states=torch.cat((start, result.states), dim=-2))
