"""The `System` classes and the registry that every benchmark system is declared in.

A system is declared once, as a `Spec` (two jitted functions plus metadata), with
`register`; `get(name, **params)` resolves the parameters and returns a `Flow` or
a `Map` instance. All numerics go through the generic kernels in `integrate`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from . import integrate

ParamResolver = Callable[[Mapping[str, float]], Any]


@dataclass(frozen=True)
class Spec:
    """Declaration of one benchmark system.

    ``f`` and ``jac`` are ``@njit(cache=True)`` functions ``(x, p) -> array`` with
    ``p`` the parameter values in the order of ``default_params``. ``variables`` and
    ``x0`` may be callables of the resolved parameters (for systems whose dimension
    is a parameter). ``integer_params`` maps each integer-valued parameter to its
    smallest allowed value. ``invariants`` hold published values for the default
    parameters only, each with its ``"source"``.
    """

    name: str
    kind: Literal["flow", "map"]
    f: Any
    jac: Any
    default_params: Mapping[str, float]
    variables: tuple[str, ...] | ParamResolver
    x0: tuple[float, ...] | ParamResolver
    description: str
    reference: str
    default_dt: float | None = None
    invariants: Mapping[str, Any] = field(default_factory=dict)
    integer_params: Mapping[str, int] = field(default_factory=dict)


_REGISTRY: dict[str, Spec] = {}


def register(spec: Spec) -> Spec:
    """Add ``spec`` to the registry (names are unique)."""
    if spec.name in _REGISTRY:
        raise ValueError(f"system '{spec.name}' is already registered")
    if (spec.kind == "flow") != (spec.default_dt is not None):
        raise ValueError(f"system '{spec.name}': flows need a default_dt, maps must not have one")
    _REGISTRY[spec.name] = spec
    return spec


def names() -> list[str]:
    """Registered system names, sorted."""
    return sorted(_REGISTRY)


def get(name: str, **params: float) -> System:
    """Instantiate system ``name`` with default parameters overridden by ``params``.

    Raises ValueError for an unknown name or parameter, or an invalid integer parameter.
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown system '{name}'; choose one of: {', '.join(names())}")
    spec = _REGISTRY[name]
    cls = Flow if spec.kind == "flow" else Map
    return cls(spec, params)


def _resolve(value: Any, params: Mapping[str, float]) -> Any:
    return value(params) if callable(value) else value


def _resolve_params(spec: Spec, overrides: Mapping[str, float]) -> dict[str, float]:
    unknown = sorted(set(overrides) - set(spec.default_params))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {', '.join(unknown)} for system '{spec.name}'; "
            f"valid parameters: {', '.join(spec.default_params)}"
        )
    params = {k: float(overrides.get(k, v)) for k, v in spec.default_params.items()}
    for key, minimum in spec.integer_params.items():
        value = params[key]
        if not value.is_integer() or value < minimum:
            raise ValueError(f"parameter {key} of system '{spec.name}' must be an integer >= {minimum}, got {value}")
        params[key] = int(value)
    return params


def _as_states(x: Any, dim: int, batch: bool = False) -> np.ndarray:
    """Writable C-contiguous float64 copy of a state (dim,) or, if ``batch``, also (K, dim).

    These are the kernels' only signatures, so nothing else ever gets compiled.
    """
    arr = np.array(x, dtype=np.float64, order="C")
    if arr.shape != (dim,) and not (batch and arr.ndim == 2 and arr.shape[1] == dim):
        allowed = f"({dim},)" + (f" or (K, {dim})" if batch else "")
        raise ValueError(f"expected a state of shape {allowed}, got shape {arr.shape}")
    return arr


class System:
    """A benchmark system with resolved parameters. Use `get` to make one.

    Attributes: ``name``, ``kind``, ``dim``, ``params``, ``default_params``,
    ``param_array`` (float64, order of ``default_params``), ``variables``,
    ``default_dt``, ``x0``, ``description``, ``reference``, ``invariants``,
    ``numba_rhs`` (the jitted ``f(x, p)``: vector field or map) and
    ``numba_jacobian`` (the jitted ``jac(x, p)``).
    """

    kind: str

    def __init__(self, spec: Spec, overrides: Mapping[str, float]) -> None:
        self._spec = spec
        self.params = _resolve_params(spec, overrides)
        self.param_array = np.array(list(self.params.values()), dtype=np.float64)
        self.variables: tuple[str, ...] = tuple(_resolve(spec.variables, self.params))
        self.dim = len(self.variables)
        x0 = np.array(_resolve(spec.x0, self.params), dtype=np.float64)
        x0.setflags(write=False)
        self.x0 = x0
        self.numba_rhs = spec.f
        self.numba_jacobian = spec.jac

    @property
    def name(self) -> str:
        return self._spec.name

    @property
    def description(self) -> str:
        return self._spec.description

    @property
    def reference(self) -> str:
        return self._spec.reference

    @property
    def default_dt(self) -> float | None:
        return self._spec.default_dt

    @property
    def default_params(self) -> dict[str, float]:
        return dict(self._spec.default_params)

    @property
    def invariants(self) -> dict[str, Any]:
        """Published invariants; empty unless the parameters are the defaults."""
        if any(self.params[k] != v for k, v in self._spec.default_params.items()):
            return {}
        inv = dict(self._spec.invariants)
        if "lyapunov_spectrum" in inv:
            inv.setdefault("max_lyapunov_exponent", inv["lyapunov_spectrum"][0])
        return inv

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{type(self).__name__}({self.name!r}, {args})"

    def jacobian(self, x: Any) -> np.ndarray:
        """Analytic Jacobian (dim, dim) of the vector field (flows) or the map (maps) at ``x``."""
        return self.numba_jacobian(_as_states(x, self.dim), self.param_array)

    def _evaluate(self, x: Any) -> np.ndarray:
        return self.numba_rhs(_as_states(x, self.dim), self.param_array)

    def _step_size(self, dt: float | None) -> float:
        raise NotImplementedError

    def trajectory(self, steps: int, dt: float | None = None, x0: Any = None, transient: int = 0) -> np.ndarray:
        """Simulate ``steps`` states; row 0 is the state after ``transient`` discarded steps.

        Flows: fixed-step RK4 with step ``dt`` (default ``default_dt``), every step
        recorded, so row i is at time i*dt. Maps: iterates (``dt`` must be None).
        ``x0`` None -> ``self.x0``; shape (dim,) -> (steps, dim); (K, dim) -> (K, steps, dim).
        """
        if steps < 1 or transient < 0:
            raise ValueError(f"need steps >= 1 and transient >= 0, got steps={steps}, transient={transient}")
        h = self._step_size(dt)
        x0 = _as_states(self.x0 if x0 is None else x0, self.dim, batch=True)
        kernel = integrate.simulate if x0.ndim == 1 else integrate.simulate_batch
        return kernel(self.numba_rhs, x0, self.param_array, h, int(steps), int(transient), self.kind == "flow")

    def sample_initial_conditions(
        self, k: int, rng: np.random.Generator, transient: int | None = None
    ) -> np.ndarray:
        """``k`` distinct initial conditions (k, dim) in the basin of the attractor.

        Gaussian perturbations of ``x0`` (standard deviation 1e-3 (1 + |x0|) per
        component) followed by ``transient`` steps (default 1000 for flows, 100
        for maps) that spread them over the attractor.
        """
        if transient is None:
            transient = 1000 if self.kind == "flow" else 100
        x0 = self.x0 + 1e-3 * (1.0 + np.abs(self.x0)) * rng.standard_normal((k, self.dim))
        return np.ascontiguousarray(self.trajectory(1, x0=x0, transient=transient)[:, 0])


class Flow(System):
    """Continuous-time system dx/dt = f(x)."""

    kind = "flow"

    def rhs(self, x: Any) -> np.ndarray:
        """Vector field f(x) at one state ``x`` of shape (dim,)."""
        return self._evaluate(x)

    def _step_size(self, dt: float | None) -> float:
        h = self.default_dt if dt is None else float(dt)
        if not h > 0:
            raise ValueError(f"dt must be positive, got {dt}")
        return h

    def reference_trajectory(
        self, steps: int, dt: float | None = None, x0: Any = None, rtol: float = 1e-10, atol: float = 1e-12
    ) -> np.ndarray:
        """DOP853 (scipy) solution at the times of `trajectory` (t = i*dt); shape (steps, dim)."""
        x0 = _as_states(self.x0 if x0 is None else x0, self.dim)
        return integrate.dop853(self.rhs, x0, int(steps), self._step_size(dt), rtol, atol)


class Map(System):
    """Discrete-time system x_{n+1} = f(x_n)."""

    kind = "map"

    def map(self, x: Any) -> np.ndarray:
        """Next state f(x) of one state ``x`` of shape (dim,)."""
        return self._evaluate(x)

    def _step_size(self, dt: float | None) -> float:
        if dt is not None:
            raise ValueError(f"system '{self.name}' is a map: it takes no dt")
        return 0.0
