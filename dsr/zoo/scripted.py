"""A zoo model's long free run as one TorchScript loop, for evaluation.

Evaluation runs every member freely for n + n/4 steps (1.25·10⁵ on a 10⁵-step test set, three times in a
fit's final phase and 4.5·10⁴ at every evaluation during training), one step of E states at a time. Eager
torch dispatches each of the step's 25–60 small operations from Python: the 2-core machine measured 126 µs
per step for an LSTM and 513 µs for an LRU (E = 4, default sizes, CPU time), minutes per fit. Here the step
is traced once into a graph (``torch.jit.trace``: the zoo's steps have no data-dependent control flow, the
parrot's k-d tree query aside), called from a scripted loop (``torch.jit.script``: no Python per step) and
frozen (``torch.jit.freeze``: the parameters become constants, and what depends on them alone, such as the
LRU's λ = exp(−exp(ν) + i exp(θ)), is computed once instead of every step): 68 and 167 µs per step. The graph
runs the eager step's operations in the same order (``tests/test_zoo.py`` checks the states against
``generate``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

WARM_UP_CALLS = 2
"""Calls on two steps before the run: TorchScript's profiling executor runs a graph instrumented (about twice
as slow) until it has profiled it, and optimizes it on the next call."""


class _Step(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: Tensor) -> Tensor:
        return self.model.step(z)


class _Run(nn.Module):
    """States (E, steps, M) from z after ``transient`` steps, which are not kept."""

    def __init__(self, step: nn.Module) -> None:
        super().__init__()
        self.step = step

    def forward(self, z: Tensor, steps: int, transient: int) -> Tensor:
        for _ in range(transient):
            z = self.step(z)
        states = z.new_empty(z.shape[0], steps, z.shape[1])
        states[:, 0] = z
        for t in range(1, steps):
            z = self.step(z)
            states[:, t] = z
        return states


@contextmanager
def one_thread() -> Iterator[None]:
    """Torch on one thread (restored after): the step's operations on E states are too small to share, and
    OpenMP's workers only wait for each other between them (the zoo's tests measured ~30x on a busy 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@torch.no_grad()
def scripted_run(model: nn.Module, z0: Tensor, steps: int, transient: int = 0) -> Tensor:
    """``model.generate(transient + steps, z0=z0)[:, transient:]`` for states z0 (E, M), by one frozen TorchScript loop."""
    with warnings.catch_warnings():
        # The shape checks of dsr.models.tensors become constants of the trace, which is what they should be; torch
        # 2.13 deprecates TorchScript for torch.compile, which took 164 s to compile 32 LSTM steps here and ran slower.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        traced = torch.jit.trace(_Step(model), (z0,), check_trace=False)
        run = torch.jit.freeze(torch.jit.script(_Run(traced)).eval())
        with one_thread():
            for _ in range(WARM_UP_CALLS):
                run(z0, 2, 0)
            return run(z0, steps, transient)
