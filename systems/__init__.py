"""Benchmark dynamical systems: vector fields and maps, analytic Jacobians, published invariants.

    import dsr.systems as systems
    lorenz = systems.get("lorenz63", rho=28.0)
    x = lorenz.trajectory(10_000, transient=1_000)     # fixed-step Numba RK4

Flows: lorenz63, rossler, lorenz96 (dimension N), chua (cubic diode), chua_pwl
(piecewise-linear diode), duffing (unforced), duffing_forced (state (x, v, θ)),
thomas, hindmarsh_rose, mackey_glass (delay equation on a Chebyshev history
buffer, dimension M+1). Maps: henon, lozi, ikeda, logistic, tent.

Numerics go through the generic kernels of `dsr.systems.integrate`; each system's
jitted ``f(x, p)`` and ``jac(x, p)`` are ``sys.numba_rhs`` and ``sys.numba_jacobian``
with ``p = sys.param_array``. This package imports only numpy, numba and scipy.
"""

from . import delay, flows, maps  # noqa: F401  (importing registers the systems)
from .base import Flow, Map, Spec, System, get, names, register

__all__ = ["Flow", "Map", "Spec", "System", "get", "names", "register"]
