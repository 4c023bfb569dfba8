"""The options of one analysis (`Settings`), checked and stored with every group written."""

from __future__ import annotations

from dataclasses import dataclass

from dsr.errors import DsrError


@dataclass(frozen=True)
class Settings:
    """Options of one analysis, stored with every group it writes.

    ``steps``/``transient``: Lyapunov steps of the model from ``initial_conditions`` starts (the
    truth is integrated over the same time span); ``trajectory_steps``: the free run for symbolic
    codes and correlation dimension (at most ``dimension_points`` of its points are paired, Theiler
    window ``theiler`` steps); ``order``: cycles up to this order; ``seed``: random draws.
    """

    order: int = 2
    steps: int = 20_000
    transient: int = 1_000
    initial_conditions: int = 4
    trajectory_steps: int = 100_000
    dimension_points: int = 10_000
    theiler: int = 10
    seed: int = 0

    def checked(self) -> Settings:
        if self.order < 1:
            raise DsrError(f"--order {self.order} must be at least 1 (1 = fixed points only)")
        if self.steps < 1 or self.initial_conditions < 1:
            raise DsrError(f"--steps {self.steps} and the number of initial conditions must be at least 1")
        if self.trajectory_steps < 100:
            raise DsrError(f"--trajectory-steps {self.trajectory_steps} is too short for dimensions; use >= 100")
        if self.transient < 0 or self.theiler < 0:
            raise DsrError(f"the transient ({self.transient}) and Theiler window ({self.theiler}) must be >= 0")
        return self
