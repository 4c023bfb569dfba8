"""Parallel-in-time evaluation of recurrent models: Newton solvers whose linear steps are parallel scans.

- :mod:`~dsr.parallel.scan`: affine maps composed associatively (dense and diagonal, forward and reverse).
- :mod:`~dsr.parallel.recurrence`: the model interface the solvers use and the teacher-forced step.
- :mod:`~dsr.parallel.newton`: the solvers ``deer``, ``quasi``, ``elk`` and ``pwl`` (one engine), their
  sequential fallback, and free-running generation.
- :mod:`~dsr.parallel.adjoint`: the forced rollout with gradients from the adjoint recurrence (training).
- :mod:`~dsr.parallel.cells`: LSTM and GRU cells behind the same interface.
"""

from dsr.parallel.newton import (
    KINDS,
    SOLVERS,
    NewtonFallbackWarning,
    check_options,
    default_tolerance,
    generate,
    sequential,
    solve,
)
from dsr.parallel.recurrence import Forcing, Recurrence, StepModel
from dsr.parallel.result import NewtonResult
from dsr.parallel.scan import compose, solve_linear

__all__ = [
    "KINDS",
    "SOLVERS",
    "Forcing",
    "NewtonFallbackWarning",
    "NewtonResult",
    "Recurrence",
    "StepModel",
    "check_options",
    "compose",
    "default_tolerance",
    "generate",
    "sequential",
    "solve",
    "solve_linear",
]
