"""A whole training epoch in one compiled call per group of ensemble members (CPU).

The per-batch path (:func:`dsr.training.step.make_step` on the fused kernel) runs, for every batch,
window sampling in numpy, the kernel's forward and backward pass behind a ``torch.autograd.Function``,
torch's per-member gradient norms and clipping, torch's RAdam and, every ``agtf_interval`` batches,
aGTF's bound, handing the kernels' chunks to a thread pool and back at every call. For the small
models of this field those hand-offs and torch's small operations cost as much as the kernel.

Members of an ensemble never interact: each has its own windows, noise, α, gradient norm and
clipping, and RAdam is elementwise. So here each thread takes a group of members and runs the whole
epoch for them in one Numba call (:func:`train_members`): gather the batch's windows (drawn
beforehand from each member's own generator, in the order :class:`WindowSampler` draws them), the
kernel's forward and backward pass (:mod:`dsr.training.kernel_plrnn`), the gradient norm and
clipping, the RAdam update (``torch.optim.RAdam``'s single-tensor algorithm: Liu et al., ICLR 2020)
and aGTF's estimate of α (Hess et al., ICML 2023). Torch is touched only at the epoch's edges: the
parameters and the optimizer's moments are copied into the loop's entries before and back after.
The per-batch path stays the reference this one is tested against (``tests/test_fused_epoch.py``:
equal parameters to float64 rounding after several epochs, every kind and forcing mode).

The loop trains the normal form's arrays (``dsr.kinds``) as the kind's own parameters: each kind says
which parameter each array is and how it holds it (``Kind.trained``: as it is, transposed, negated, or
one row of group weights shared by every pre-activation; negation and layout are exact, so RAdam on the
array is RAdam on the parameter). Where the kernel's V is not the normal form's own, V'_{m, k r + b} =
V_{m,k} w_{k,b} with a masked diagonal (the dendPLRNN's W α; a PLRNN whose W has a nonzero diagonal),
the loop rebuilds it after every update and takes the kernel's ∂V' back to ∂V and ∂w by the chain rule
(``_coupling``, ``_coupling_gradients``). Every kind runs this way, with the identity observation (its
initial-state map L when M > N) or the affine one (x̂ = B z + b; z̃_0 and the forcing signals
pinv(B)(x − b), P = pinv(B) recomputed after every update by LAPACK's SVD as torch does, the initial
state's gradient taken through the pseudo-inverse, ``_pinv_backward``), external inputs (C s_t) and the
L2 term (its gradient added to each penalised parameter's before clipping, as autograd adds it).
:func:`fused_epoch_unsupported` says why a fit cannot (a kind without ``trained``, or a dendPLRNN with
one basis, whose α the reference leaves untouched), and the trainer keeps the per-batch path.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import literal_unroll, njit

from dsr.models import LatentModel
from dsr.training import kernel_plrnn
from dsr.training.config import FitConfig
from dsr.training.forcing import ForcingSchedule
from dsr.training.fused import in_parallel, kernel_dtype, unit_form
from dsr.training.lanes import lanes
from dsr.training.loss import l2_centres
from dsr.training.windows import WindowSampler

_FORCING_CODES = {"gtf": 0, "agtf": 1, "stf": 2}


def fused_epoch_unsupported(model: LatentModel, config: FitConfig, kernel: str) -> str | None:
    """Why whole epochs cannot run compiled for this fit (one line), or None when they can."""
    if kernel != "fused" or model.A.device.type != "cpu":
        return "whole compiled epochs run on the CPU's fused kernel path"
    if model.spec.trained is None:
        return f"the {model.kind} kind does not say which parameters its normal form's arrays are (Kind.trained)"
    missing = set(dict(model.named_parameters())) - {name for name, _ in _layout(model)}
    if missing:
        return f"the {model.kind} kind's Kind.trained leaves out {', '.join(sorted(missing))}"
    nf = model.normal_form()
    if nf.group == 1 and nf.weights is not None:
        return "group weights w with one column per pre-activation are unused (the dendPLRNN with one basis)"
    return None


def _layout(model: LatentModel) -> list[tuple[str | None, str]]:
    """The parameter (by its name in ``named_parameters``) behind each of the loop's entries and how the
    entry holds it (``dsr.kinds.normal_form.Trained``); None where the entry is fixed. The entries, in
    order: the normal form's A, V, Uᵀ, θ, h and group weights w (the kind's ``trained``), C (external
    inputs), the identity read-out's L and the affine read-out's B and b."""
    named = dict(model.named_parameters())
    extra = [name if name in named else None for name in ("C", "observation.L", "observation.B", "observation.b")]
    return [*model.spec.trained, *((name, "") for name in extra)]


def _held(value: np.ndarray, how: str, second_moment: bool) -> np.ndarray:
    """A parameter's array (or RAdam moment) as its entry holds it (``Trained``). Negation flips the
    gradient's sign and so RAdam's first moment, not its second (of squares): the update is the same."""
    if how == "T":
        return np.swapaxes(value, 1, 2)
    if how == "-":
        return value.reshape(value.shape[0], -1) if second_moment else -value.reshape(value.shape[0], -1)
    if how == "shared":
        return value[:, None]
    return value


def _unheld(array: np.ndarray, how: str, second_moment: bool, shape: torch.Size) -> np.ndarray:
    """The inverse of ``_held``: the parameter's (or moment's) array of ``shape`` from its entry's."""
    if how == "T":
        return np.swapaxes(array, 1, 2)
    return (array if how != "-" or second_moment else -array).reshape(shape)


class FusedEpoch:
    """Runs the trainer's epochs as compiled calls (module doc); the trainer's objects keep the state."""

    def __init__(
        self, model: LatentModel, optimizer: torch.optim.RAdam, sampler: WindowSampler, forcing: ForcingSchedule,
        config: FitConfig,
    ) -> None:
        self.model, self.optimizer, self.sampler, self.forcing, self.config = model, optimizer, sampler, forcing, config
        self.dtype = kernel_dtype(model.A)
        self.values = np.ascontiguousarray(sampler.values.numpy(), dtype=self.dtype)
        inputs = np.zeros((*self.values.shape[:2], 0)) if sampler.inputs is None else sampler.inputs.numpy()
        self.inputs = np.ascontiguousarray(inputs, dtype=self.dtype)
        self.layout = _layout(model)
        # L2 (``dsr.training.loss.l2_penalty``): which entries it penalises, and towards what.
        centres = l2_centres(model)
        self.penalised = np.array([name in centres for name, _ in self.layout], np.float64)
        self.centres = np.array([centres.get(name, 0.0) for name, _ in self.layout])

    # ----- torch ↔ unit form -------------------------------------------------------------------------

    def _parameters(self) -> list[torch.Tensor | None]:
        """The torch tensors behind the loop's entries (None where the entry is fixed)."""
        named = dict(self.model.named_parameters())
        return [named[name] if name else None for name, _ in self.layout]

    def _fixed(self) -> list[np.ndarray]:
        """The loop's entries as the model has them now (``_layout``): the normal form's A, V, Uᵀ (none:
        the repeat map), θ (0 where it has none), h and w (none for one column per pre-activation), then
        C, L, B and b (no columns or rows where there is no such entry; b = 0 for an affine read-out
        without bias)."""
        E, M, N = self.model.ensemble, self.model.latent, self.model.config.n_obs
        identity = self.model.config.observation == "identity"
        nf = self.model.normal_form()
        A = nf.A.detach().numpy()
        unit = [
            A, nf.V.detach().numpy(), np.zeros((E, M, 0)) if nf.U is None else np.swapaxes(nf.U.detach().numpy(), 1, 2),
            np.zeros((E, nf.columns)) if nf.theta is None else nf.theta.detach().numpy(), nf.h.detach().numpy(),
            np.zeros((E, 0, 0)) if nf.weights is None else nf.weights.detach().numpy(),
        ]
        return unit + [
            np.zeros((E, M, 0)), np.zeros((E, M - N if identity else 0, N)), np.zeros((E, 0, M)), np.zeros((E, 0 if identity else N)),
        ]

    def _arrays(self, tensors: list[torch.Tensor | None], moment: str | None = None) -> tuple[np.ndarray, ...]:
        """The loop's entries (``_layout``): the parameters' values as their entries hold them
        (``_held``), or with ``moment`` their RAdam state of that name; entries that are not parameters
        hold their values in the model (``_fixed``; moments: zeros)."""
        arrays = []
        for tensor, (_, how), value in zip(tensors, self.layout, self._fixed(), strict=True):
            if tensor is not None:
                value = (tensor if moment is None else self.optimizer.state[tensor][moment]).detach().numpy()
                value = _held(value, how, moment == "exp_avg_sq")
            elif moment is not None:
                value = np.zeros_like(value)
            arrays.append(np.ascontiguousarray(value, dtype=self.dtype))
        return tuple(arrays)

    def _write_back(self, tensors: list[torch.Tensor | None], arrays: tuple[np.ndarray, ...], moment: str | None = None) -> None:
        """The inverse of ``_arrays`` for the entries that are parameters."""
        with torch.no_grad():
            for tensor, array, (_, how) in zip(tensors, arrays, self.layout, strict=True):
                if tensor is not None:
                    target = tensor if moment is None else self.optimizer.state[tensor][moment]
                    target.copy_(torch.from_numpy(_unheld(array, how, moment == "exp_avg_sq", target.shape)))

    def _optimizer_state(self, tensors: list[torch.Tensor | None]) -> dict:
        """RAdam's per-parameter state, created as torch creates it on a first step."""
        for tensor in tensors:
            if tensor is not None and not self.optimizer.state.get(tensor):
                self.optimizer.state[tensor] = {
                    "step": torch.tensor(0.0, dtype=torch.get_default_dtype()),
                    "exp_avg": torch.zeros_like(tensor, memory_format=torch.preserve_format),
                    "exp_avg_sq": torch.zeros_like(tensor, memory_format=torch.preserve_format),
                }
        return self.optimizer.state

    # ----- one epoch -------------------------------------------------------------------------------

    def _draws(self, batches: int) -> tuple[np.ndarray, np.ndarray]:
        """Each member's windows (trial, start) per batch, (B, E, S, 2), and its noise (B, E, S, T̃+1, N)
        or an empty array: the calls and order of ``WindowSampler.sample`` on each member's generator."""
        s = self.sampler
        trials, n_time, n_obs = s.values.shape
        picks = np.empty((batches, len(s.rngs), s.batch_size, 2), np.int64)
        noise = np.zeros((batches, len(s.rngs), s.batch_size, s.length + 1, n_obs) if s.noise > 0 else (0, 0, 0, 0, 0), self.dtype)
        for b in range(batches):
            for e, rng in enumerate(s.rngs):
                picks[b, e, :, 0] = rng.integers(0, trials, s.batch_size)
                picks[b, e, :, 1] = rng.integers(0, n_time - s.length, s.batch_size)
                if s.noise > 0:
                    # As the sampler: the draw in float64, cast to the model's dtype, then scaled there.
                    noise[b, e] = rng.standard_normal((s.batch_size, s.length + 1, n_obs)).astype(self.dtype) * self.dtype(s.noise)
        return picks, noise

    def run(self) -> tuple[np.ndarray, np.ndarray, int | None]:
        """Train one epoch at the optimizer's current rate: mean loss and gradient norm per member over
        the batches, and the 1-based batch whose loss was not finite (None if none; then stop)."""
        c, model, forcing = self.config, self.model, self.forcing
        E, M, N = model.ensemble, model.latent, model.config.n_obs
        S, T = c.batch_size, c.sequence_length
        width = lanes(self.dtype)
        per_member = -(-S // width)
        tensors = self._parameters()
        state = self._optimizer_state(tensors)
        params, first, second = self._arrays(tensors), self._arrays(tensors, "exp_avg"), self._arrays(tensors, "exp_avg_sq")
        step0 = int(next(state[t]["step"] for t in tensors if t is not None).item())
        picks, noise = self._draws(c.batches_per_epoch)
        group = self.optimizer.param_groups[0]
        beta1, beta2 = group["betas"]
        alpha = forcing.alpha.numpy().astype(np.float64).copy()
        stf = np.array([1.0 if t % forcing.tau == 0 else 0.0 for t in range(1, T + 1)]) if forcing.kind == "stf" else np.zeros(0)
        identity = model.config.observation == "identity"
        forced = N if c.partial_forcing and identity else M  # the affine read-out forces every unit
        chunks = E * per_member
        # The kernel's V is the normal form's own unless its columns are weighted (w) or a diagonal the
        # kind masks is not 0: then V_{m, k r + b} = V_{m,k} w_{k,b}, masked, rebuilt after every update.
        V, weights = params[1], params[5]
        masked = model.spec.offdiagonal and np.diagonal(V, axis1=1, axis2=2).any()
        derived = weights.size > 0 or masked
        coupling = np.zeros((E, M, params[3].shape[1]), self.dtype) if derived else V
        work = (
            np.zeros((chunks, T, self.inputs.shape[2], width), self.dtype),  # inputs s_1..s_T
            np.zeros((chunks, T, N, width), self.dtype),  # targets x_1..x_T
            np.zeros((chunks, T, forced, width), self.dtype),  # forcing signals ẑ
            np.zeros((T, E), self.dtype),  # α_t per member
            np.zeros((chunks, M, width), self.dtype),  # z̃_0
            np.zeros((chunks, width), self.dtype),  # squares
            np.zeros((chunks, T + 1, M, width), self.dtype),  # states
            np.zeros((chunks, T, params[3].shape[1], width), self.dtype),  # units' inputs
            np.zeros((chunks, T, M, width), self.dtype),  # bound's states ẑ(x): [x; 0] or pinv(B)(x − b)
            np.zeros((chunks, width)),  # bound's log-norms
            np.zeros((chunks, 1, N, width), self.dtype),  # x_0
            np.zeros((E, 0 if identity else M, N), self.dtype),  # pinv(B) per member
            coupling,  # the kernel's V per member
        )
        losses = np.full((c.batches_per_epoch, E), np.nan)
        norms = np.full((c.batches_per_epoch, E), np.nan)
        failed = np.zeros(E, np.int64)
        settings = np.array([float(group["lr"]), beta1, beta2, group["eps"], c.grad_clip or 0.0, c.agtf_decay, c.l2])
        counters = np.array([
            step0, forcing.batches, c.agtf_interval, _FORCING_CODES[forcing.kind], kernel_plrnn.LANCZOS_STEPS, kernel_plrnn.bound_stride(M),
            int(model.spec.offdiagonal), int(derived),
        ])
        trained = np.array([t is not None for t in tensors], np.float64)
        unit = tuple(c.astype(self.dtype) for c in unit_form(model)[1])  # each epoch: experiments vary them
        in_parallel(
            train_members, E, per_member, self.values, self.inputs, picks, noise, params, first, second, trained,
            self.penalised, self.centres, unit, alpha, stf, settings, counters, work, losses, norms, failed,
        )
        bad = [int(b) for b in failed if b > 0]
        if bad:
            return losses[0], norms[0], min(bad)
        self._write_back(tensors, params)
        self._write_back(tensors, first, "exp_avg")
        self._write_back(tensors, second, "exp_avg_sq")
        for tensor in tensors:
            if tensor is not None:
                state[tensor]["step"].fill_(step0 + c.batches_per_epoch)
        forcing.advance(alpha, c.batches_per_epoch)
        return losses.mean(axis=0), norms.mean(axis=0), None


@njit(cache=True, nogil=True)
def _radam(param: np.ndarray, grad: np.ndarray, first: np.ndarray, second: np.ndarray, step: int, settings: np.ndarray) -> None:
    """torch.optim.RAdam's single-tensor update of one member's parameter array (flat views), at ``step`` ≥ 1.

    m ← m + (1 − β₁)(g − m); v ← β₂ v + (1 − β₂) g²; m̂ = m / (1 − β₁ᵗ); ρ_∞ = 2/(1 − β₂) − 1,
    ρ_t = ρ_∞ − 2t β₂ᵗ/(1 − β₂ᵗ); if ρ_t > 5: θ ← θ − lr m̂ √(1 − β₂ᵗ)/(√v + ε) r_t with
    r_t = √((ρ_t − 4)(ρ_t − 2)ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2)ρ_t)), else θ ← θ − lr m̂ (Liu et al., ICLR 2020).
    """
    lr, beta1, beta2, eps = settings[0], settings[1], settings[2], settings[3]
    correction1, correction2 = 1.0 - beta1**step, 1.0 - beta2**step
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    rho = rho_inf - 2.0 * step * beta2**step / correction2
    rectified = rho > 5.0
    rect = math.sqrt((rho - 4.0) * (rho - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho)) if rectified else 0.0
    for i in range(param.size):
        g = grad[i]
        first[i] += (1.0 - beta1) * (g - first[i])
        second[i] = second[i] * beta2 + (1.0 - beta2) * g * g
        corrected = first[i] / correction1
        if rectified:
            param[i] -= corrected * lr * (math.sqrt(correction2) / (math.sqrt(second[i]) + eps)) * rect
        else:
            param[i] -= corrected * lr


@njit(cache=True, nogil=True)
def _squares(a: np.ndarray) -> float:
    total = 0.0
    for value in a.ravel():
        total += float(value) * float(value)
    return total


@njit(cache=True, nogil=True)
def _update(param: np.ndarray, grad: np.ndarray, factor: float, first: np.ndarray, second: np.ndarray, step: int, settings: np.ndarray) -> None:
    """RAdam on one member's parameter array with its clipped gradient ``factor · grad`` (no-op when empty)."""
    if param.size:
        _radam(param.reshape(-1), (grad * factor).reshape(-1), first.reshape(-1), second.reshape(-1), step, settings)


@njit(cache=True, nogil=True)
def _add_l2(grad: np.ndarray, param: np.ndarray, l2: float, centre: float) -> None:
    """grad += l2 · 2(θ − c), the gradient of the L2 term l2 ‖θ − c‖² (``dsr.training.loss.l2_penalty``)."""
    flat_grad, flat_param = grad.reshape(-1), param.reshape(-1)
    for i in range(flat_grad.size):
        flat_grad[i] += l2 * (2.0 * (flat_param[i] - centre))


@njit(cache=True, nogil=True)
def _coupling(V: np.ndarray, w: np.ndarray, offdiagonal: int, out: np.ndarray) -> None:
    """The kernel's V from the normal form's (``dsr.training.fused.unit_form``): out_{m, k r + b} =
    V_{m,k} w_{k,b} (w: (P, r), one shared row (1, r), or none: 1), with V's diagonal masked if ``offdiagonal``."""
    columns = V.shape[1]
    group = out.shape[1] // columns
    for m in range(V.shape[0]):
        for k in range(columns):
            value = 0.0 if offdiagonal and m == k else V[m, k]
            for b in range(group):
                out[m, k * group + b] = value * w[k if w.shape[0] > 1 else 0, b] if w.shape[0] else value


@njit(cache=True, nogil=True)
def _coupling_gradients(grad: np.ndarray, V: np.ndarray, w: np.ndarray, offdiagonal: int, dw: np.ndarray) -> np.ndarray:
    """∂V of the normal form from ∂V of the kernel's (``_coupling``): ∂V_{m,k} = Σ_b ∂V'_{m, k r + b} w_{k,b};
    and ∂w_{k,b} += Σ_m ∂V'_{m, k r + b} V_{m,k} (summed over k for a shared row) into ``dw``."""
    columns = V.shape[1]
    group = grad.shape[1] // columns
    out = np.zeros(V.shape, V.dtype)
    for m in range(V.shape[0]):
        for k in range(columns):
            value = 0.0 if offdiagonal and m == k else V[m, k]
            row = k if w.shape[0] > 1 else 0
            acc = 0.0
            for b in range(group):
                g = grad[m, k * group + b]
                if w.shape[0]:
                    acc += g * w[row, b]
                    dw[row, b] += g * value
                else:
                    acc += g
            out[m, k] = acc
    return out


@njit(cache=True, nogil=True)
def _project(P: np.ndarray, bias: np.ndarray, source: np.ndarray, out: np.ndarray, lo: int, hi: int) -> None:
    """out[c, t] = P (source[c, t] − b) per lane for chunks lo..hi−1: the affine read-out's ẑ = pinv(B)(x − b)."""
    n_obs, width = source.shape[2], source.shape[3]
    for c in range(lo, hi):
        for t in range(source.shape[1]):
            for m in range(out.shape[2]):
                for lane in range(width):
                    acc = 0.0
                    for n in range(n_obs):
                        acc += P[m, n] * (source[c, t, n, lane] - bias[n])
                    out[c, t, m, lane] = acc


@njit(cache=True, nogil=True)
def _pinv_backward(grad: np.ndarray, pinv: np.ndarray, a: np.ndarray) -> np.ndarray:
    """∂/∂A of a loss whose gradient with respect to P = pinv(A) is ``grad``, for A of constant rank: dP =
    −P dA P + P Pᵀ dAᵀ (I − A P) + (I − P A) dAᵀ Pᵀ P (Golub & Pereyra, SIAM J. Numer. Anal. 10, 413
    (1973)), in torch's arrangement (``pinv_backward`` of its autograd), so that the rounding is close."""
    m, n = a.shape
    pinv_t, grad_t = np.ascontiguousarray(pinv.T), np.ascontiguousarray(grad.T)
    if m <= n:
        K = grad_t @ pinv
        K_pinv_t = K @ pinv_t
        return -(pinv @ K).T + K_pinv_t - (a @ pinv) @ K_pinv_t + (pinv_t @ pinv) @ (grad_t - K @ a)
    K = pinv @ grad_t
    pinv_t_K = pinv_t @ K
    return -(K @ pinv).T + ((grad_t - a @ K) @ pinv) @ pinv_t + pinv_t_K - (pinv_t_K @ pinv) @ a


@njit(cache=True, nogil=True)
def _initial_state_gradients(
    P: np.ndarray, B: np.ndarray, bias: np.ndarray, x0: np.ndarray, gz0: np.ndarray, lo: int, hi: int,
    dB: np.ndarray, dbias: np.ndarray,
) -> None:
    """Add the gradients through the affine read-out's z̃_0 = P (x_0 − b), P = pinv(B), to ∂B and ∂b:
    ∂P = Σ_w ∂z̃_0 (x_0 − b)ᵀ, taken through the pseudo-inverse (``_pinv_backward``), and ∂b −= Pᵀ Σ_w ∂z̃_0."""
    n_latent, n_obs = P.shape
    dP, total = np.zeros_like(P), np.zeros(n_latent, P.dtype)
    for c in range(lo, hi):
        for m in range(n_latent):
            for lane in range(x0.shape[3]):
                g = gz0[c, m, lane]
                total[m] += g
                for n in range(n_obs):
                    dP[m, n] += g * (x0[c, 0, n, lane] - bias[n])
    dB += _pinv_backward(dP, P, B)
    for n in range(dbias.shape[0]):
        for m in range(n_latent):
            dbias[n] -= P[m, n] * total[m]


@njit(cache=True, nogil=True)
def train_members(
    lo: int, hi: int, per_member: int, values: np.ndarray, inputs: np.ndarray, picks: np.ndarray, noise: np.ndarray,
    params: tuple, first: tuple, second: tuple, trained: np.ndarray, penalised: np.ndarray, centres: np.ndarray,
    unit: tuple, alpha: np.ndarray, stf: np.ndarray, settings: np.ndarray, counters: np.ndarray, work: tuple,
    losses: np.ndarray, norms: np.ndarray, failed: np.ndarray,
) -> None:
    """One epoch of members lo..hi−1 (module doc); losses and norms (B, E) per batch, failed[e] the first
    batch (1-based) with a non-finite loss, after which member e stops. ``params``/``first``/``second``:
    the normal form's A, V, Uᵀ, θ, h and w, then C, L, B and b, each (E, ...), updated in place
    (``trained``: which are parameters; ``penalised`` and ``centres``: which the L2 term pulls, towards
    what); ``inputs`` the external inputs (trials, time, K); ``alpha`` (E,) float64, updated by aGTF."""
    A, V, UT, theta, h, weights, C, L, B, beta = params
    s, x, zhat, table, z0, squares, states, pre, bound_states, logs, x0, pinvs, coupling = work
    grad_clip, decay, l2 = settings[4], settings[5], settings[6]
    step0, batches_done, interval, forcing, lanczos = counters[0], counters[1], counters[2], counters[3], counters[4]
    stride, offdiagonal, derived = counters[5], counters[6], counters[7]
    n_batches, n_windows, width = picks.shape[0], picks.shape[2], x.shape[-1]
    n_steps, n_obs, n_latent = x.shape[1], x.shape[2], z0.shape[1]
    count = n_windows * n_steps * n_obs
    n_members, n_chunks, dtype = A.shape[0], squares.shape[0], A.dtype
    kernel_params = (A, coupling, UT, theta, h, C, B, beta)
    affine = B.shape[1] > 0
    data = (s, x, zhat, table)
    gA, gV, gUT = np.zeros((n_chunks, *A.shape[1:]), dtype), np.zeros((n_chunks, *coupling.shape[1:]), dtype), np.zeros((n_chunks, *UT.shape[1:]), dtype)
    gtheta, gh, gz0 = np.zeros((n_chunks, *theta.shape[1:]), dtype), np.zeros((n_chunks, *h.shape[1:]), dtype), np.zeros_like(z0)
    gC, gB, gbeta = np.zeros((n_chunks, *C.shape[1:]), dtype), np.zeros((n_chunks, *B.shape[1:]), dtype), np.zeros((n_chunks, *beta.shape[1:]), dtype)
    grads = (gA, gV, gUT, gtheta, gh, gC, gB, gbeta, gz0)
    # k_e of the kernel's backward pass per window (the loss's gradient is 1 per member), 0 for padding.
    scale = np.zeros_like(squares)
    for e in range(lo, hi):
        for c in range(e * per_member, (e + 1) * per_member):
            for lane in range(width):
                scale[c, lane] = 2.0 / count if (c - e * per_member) * width + lane < n_windows else 0.0
        if affine:
            pinvs[e] = np.linalg.pinv(B[e])
        if derived:
            _coupling(V[e], weights[e], offdiagonal, coupling[e])
    for b in range(n_batches):
        for e in range(lo, hi):
            if failed[e]:
                continue
            lo_c, hi_c = e * per_member, (e + 1) * per_member
            # The batch's windows: x_0, targets x_1..x_T, the forcing signals ẑ (identity: x, also the
            # bound's states [x; 0]; affine: pinv(B)(x − b)), z̃_0 = [x_0; L x_0] or pinv(B)(x_0 − b), and α_t.
            for w in range(n_windows):
                c, lane = lo_c + w // width, w % width
                trial, start = picks[b, e, w, 0], picks[b, e, w, 1]
                for t in range(n_steps):
                    for k in range(s.shape[2]):
                        s[c, t, k, lane] = inputs[trial, start + t + 1, k]
                for t in range(n_steps + 1):
                    for n in range(n_obs):
                        value = values[trial, start + t, n] + (noise[b, e, w, t, n] if noise.shape[0] else 0.0)
                        if t == 0:
                            x0[c, 0, n, lane] = value
                            if not affine:
                                z0[c, n, lane] = value
                        else:
                            x[c, t - 1, n, lane] = value
                            if not affine:
                                zhat[c, t - 1, n, lane] = value
                                bound_states[c, t - 1, n, lane] = value
                for m in range(n_obs, n_latent if not affine else 0):
                    acc = 0.0
                    for n in range(n_obs):
                        acc += L[e, m - n_obs, n] * z0[c, n, lane]
                    z0[c, m, lane] = acc
            if affine:
                _project(pinvs[e], beta[e], x0, z0.reshape((n_chunks, 1, n_latent, width)), lo_c, hi_c)
                _project(pinvs[e], beta[e], x, zhat, lo_c, hi_c)
            for t in range(n_steps):
                table[t, e] = stf[t] if forcing == 2 else alpha[e]
            kernel_plrnn.forward(lo_c, hi_c, per_member, z0, kernel_params, unit, data, squares, states, pre)
            total = 0.0
            for c in range(lo_c, hi_c):
                for lane in range(width):
                    if scale[c, lane] > 0.0:
                        total += squares[c, lane]
            losses[b, e] = total / count
            if not np.isfinite(losses[b, e]):
                failed[e] = b + 1
                continue
            gA[lo_c:hi_c], gV[lo_c:hi_c], gUT[lo_c:hi_c], gtheta[lo_c:hi_c], gh[lo_c:hi_c] = 0.0, 0.0, 0.0, 0.0, 0.0
            gC[lo_c:hi_c], gB[lo_c:hi_c], gbeta[lo_c:hi_c], gz0[lo_c:hi_c] = 0.0, 0.0, 0.0, 0.0
            kernel_plrnn.backward(lo_c, hi_c, per_member, scale, states, pre, kernel_params, unit, data, grads)
            # The member's gradients: its chunks summed; ∂L = Σ_windows ∂z̃_0[N:] x_0ᵀ.
            dA, dV, dUT = gA[lo_c:hi_c].sum(axis=0), gV[lo_c:hi_c].sum(axis=0), gUT[lo_c:hi_c].sum(axis=0)
            dw = np.zeros(weights.shape[1:], dtype)
            if derived:  # the chain rule from the kernel's V to the normal form's V and w
                dV = _coupling_gradients(dV, V[e], weights[e], offdiagonal, dw)
            dtheta, dh, dC = gtheta[lo_c:hi_c].sum(axis=0), gh[lo_c:hi_c].sum(axis=0), gC[lo_c:hi_c].sum(axis=0)
            if offdiagonal:  # the PLRNN's V = W with its diagonal masked: no gradient reaches that diagonal
                for m in range(n_latent):
                    dV[m, m] = 0.0
            dL = np.zeros(L.shape[1:], dtype)
            for c in range(lo_c, hi_c):
                for m in range(n_obs, n_latent if not affine else 0):
                    for n in range(n_obs):
                        for lane in range(width):
                            dL[m - n_obs, n] += gz0[c, m, lane] * z0[c, n, lane]
            dB, dbeta = gB[lo_c:hi_c].sum(axis=0), gbeta[lo_c:hi_c].sum(axis=0)
            if affine:
                _initial_state_gradients(pinvs[e], B[e], beta[e], x0, gz0, lo_c, hi_c, dB, dbeta)
            # (array, gradient, RAdam's moments, whether it is a parameter, L2's weight and centre) of each entry.
            parts = (
                (A, dA, first[0], second[0], trained[0], penalised[0], centres[0]),
                (V, dV, first[1], second[1], trained[1], penalised[1], centres[1]),
                (UT, dUT, first[2], second[2], trained[2], penalised[2], centres[2]),
                (theta, dtheta, first[3], second[3], trained[3], penalised[3], centres[3]),
                (h, dh, first[4], second[4], trained[4], penalised[4], centres[4]),
                (weights, dw, first[5], second[5], trained[5], penalised[5], centres[5]),
                (C, dC, first[6], second[6], trained[6], penalised[6], centres[6]),
                (L, dL, first[7], second[7], trained[7], penalised[7], centres[7]),
                (B, dB, first[8], second[8], trained[8], penalised[8], centres[8]),
                (beta, dbeta, first[9], second[9], trained[9], penalised[9], centres[9]),
            )
            if l2 > 0.0:
                for part in literal_unroll(parts):
                    if part[4] and part[5]:
                        _add_l2(part[1], part[0][e], l2, part[6])
            squared = 0.0
            for part in literal_unroll(parts):
                squared += part[4] * _squares(part[1])
            norm = math.sqrt(squared)
            norms[b, e] = norm
            factor = min(grad_clip / (norm + 1e-12), 1.0) if grad_clip > 0.0 else 1.0
            for part in literal_unroll(parts):
                if part[4]:
                    _update(part[0][e], part[1], factor, part[2][e], part[3][e], step0 + b + 1, settings)
            if affine:
                pinvs[e] = np.linalg.pinv(B[e])
            if derived:
                _coupling(V[e], weights[e], offdiagonal, coupling[e])
            if forcing == 1 and (batches_done + b) % interval == 0:
                if affine:  # ẑ at the updated read-out
                    _project(pinvs[e], beta[e], x, bound_states, lo_c, hi_c)
                # aGTF (dsr.training.forcing): α̂ = max(0, 1 − 1/G) at the updated parameters, G the
                # largest exp(mean log ‖J‖) over the member's windows; immediate increase, slow decay.
                kernel_plrnn.jacobian_log_norms(lo_c, hi_c, per_member, bound_states, kernel_params, unit, lanczos, stride, logs)
                growth = 0.0
                for c in range(lo_c, hi_c):
                    for lane in range(width):
                        if scale[c, lane] > 0.0:
                            growth = max(growth, math.exp(logs[c, lane]))
                estimate = max(0.0, 1.0 - 1.0 / growth) if growth > 0.0 else 0.0
                alpha[e] = estimate if estimate > alpha[e] else decay * alpha[e] + (1.0 - decay) * estimate
