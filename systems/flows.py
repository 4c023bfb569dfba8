"""Benchmark flows dx/dt = f(x): vector fields, analytic Jacobians, metadata.

Each system is two ``@njit(cache=True)`` functions of ``(x, p)`` (``p`` = parameter
values in the order of ``default_params``) and one `register(Spec(...))`.
The Mackey–Glass delay equation lives in `delay`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .base import Spec, register


# --- Lorenz-63 ---------------------------------------------------------------
@njit(cache=True)
def lorenz63(x, p):
    """dx = σ(y − x), dy = x(ρ − z) − y, dz = xy − βz;  p = (σ, ρ, β)."""
    sigma, rho, beta = p[0], p[1], p[2]
    return np.array([sigma * (x[1] - x[0]), x[0] * (rho - x[2]) - x[1], x[0] * x[1] - beta * x[2]])


@njit(cache=True)
def lorenz63_jacobian(x, p):
    sigma, rho, beta = p[0], p[1], p[2]
    return np.array([[-sigma, sigma, 0.0], [rho - x[2], -1.0, -x[0]], [x[1], x[0], -beta]])


register(
    Spec(
        name="lorenz63",
        kind="flow",
        f=lorenz63,
        jac=lorenz63_jacobian,
        default_params={"sigma": 10.0, "rho": 28.0, "beta": 8.0 / 3.0},
        variables=("x", "y", "z"),
        x0=(1.0, 1.0, 1.0),
        default_dt=0.01,
        description="Lorenz-63 convection model: dx=σ(y−x), dy=x(ρ−z)−y, dz=xy−βz (butterfly attractor).",
        reference="E. N. Lorenz, 'Deterministic nonperiodic flow', J. Atmos. Sci. 20, 130 (1963).",
        invariants={
            "lyapunov_spectrum": (0.9056, 0.0, -14.5723),
            "kaplan_yorke_dimension": 2.0621,
            "correlation_dimension": 2.05,
            "source": "spectrum and D_KY: J. C. Sprott, 'Lyapunov exponent and dimension of the Lorenz "
            "attractor' (sprott.physics.wisc.edu/chaos/lorenzle.htm); D2: Grassberger & Procaccia, "
            "Physica D 9, 189 (1983)",
        },
    )
)


# --- Rössler -----------------------------------------------------------------
@njit(cache=True)
def rossler(x, p):
    """dx = −y − z, dy = x + a y, dz = b + z(x − c);  p = (a, b, c)."""
    a, b, c = p[0], p[1], p[2]
    return np.array([-x[1] - x[2], x[0] + a * x[1], b + x[2] * (x[0] - c)])


@njit(cache=True)
def rossler_jacobian(x, p):
    a, c = p[0], p[2]
    return np.array([[0.0, -1.0, -1.0], [1.0, a, 0.0], [x[2], 0.0, x[0] - c]])


register(
    Spec(
        name="rossler",
        kind="flow",
        f=rossler,
        jac=rossler_jacobian,
        default_params={"a": 0.2, "b": 0.2, "c": 5.7},
        variables=("x", "y", "z"),
        x0=(1.0, 1.0, 0.0),
        default_dt=0.01,
        description="Rössler band attractor: dx=−y−z, dy=x+ay, dz=b+z(x−c).",
        reference="O. E. Rössler, 'An equation for continuous chaos', Phys. Lett. A 57, 397 (1976).",
        invariants={
            "lyapunov_spectrum": (0.0714, 0.0, -5.3943),
            "kaplan_yorke_dimension": 2.0132,
            "source": "J. C. Sprott, Chaos and Time-Series Analysis (Oxford University Press, 2003); "
            "D_KY = 2 + λ1/|λ3|",
        },
    )
)


# --- Lorenz-96 ---------------------------------------------------------------
@njit(cache=True)
def lorenz96(x, p):
    """dx_i = (x_{i+1} − x_{i−2}) x_{i−1} − x_i + F, indices mod N;  p = (N, F)."""
    n = x.shape[0]
    out = np.empty(n)
    for i in range(n):
        out[i] = (x[(i + 1) % n] - x[i - 2]) * x[i - 1] - x[i] + p[1]
    return out


@njit(cache=True)
def lorenz96_jacobian(x, p):
    n = x.shape[0]
    jac = np.zeros((n, n))
    for i in range(n):
        ip, im1, im2 = (i + 1) % n, (i - 1) % n, (i - 2) % n
        jac[i, ip] = x[im1]
        jac[i, im2] = -x[im1]
        jac[i, im1] = x[ip] - x[im2]
        jac[i, i] = -1.0
    return jac


def _lorenz96_x0(params):
    # Standard start: the unstable equilibrium x_i = F with one component nudged.
    x0 = np.full(params["N"], params["F"])
    x0[0] += 0.01
    return x0


register(
    Spec(
        name="lorenz96",
        kind="flow",
        f=lorenz96,
        jac=lorenz96_jacobian,
        default_params={"N": 40, "F": 8.0},
        integer_params={"N": 4},
        variables=lambda params: tuple(f"x{i}" for i in range(params["N"])),
        x0=_lorenz96_x0,
        default_dt=0.01,
        description="Lorenz-96 ring of N sites (dimension N, default 40): dx_i=(x_{i+1}−x_{i−2})x_{i−1}−x_i+F.",
        reference="E. N. Lorenz, 'Predictability: a problem partly solved', ECMWF Seminar on "
        "Predictability (1996); Lorenz & Emanuel, J. Atmos. Sci. 55, 399 (1998).",
        invariants={
            "max_lyapunov_exponent": 1.70,
            "kaplan_yorke_dimension": 27.0,
            "source": "approximate values commonly quoted for N=40, F=8 (cf. Karimi & Paul, 'Extensive chaos "
            "in the Lorenz-96 model', Chaos 20, 043105 (2010)); independent check λ1 = 1.696, D_KY = 27.08",
        },
    )
)


# --- Chua's circuit (smooth cubic and piecewise-linear diode) ------------------
# Both variants share dx = α(y − x − h(x)), dy = x − y + z, dz = −βy and differ only in h.
@njit(cache=True)
def _chua(x, alpha, beta, h):
    return np.array([alpha * (x[1] - x[0] - h), x[0] - x[1] + x[2], -beta * x[1]])


@njit(cache=True)
def _chua_jacobian(alpha, beta, dh):
    return np.array([[-alpha * (1.0 + dh), alpha, 0.0], [1.0, -1.0, 1.0], [0.0, -beta, 0.0]])


@njit(cache=True)
def chua(x, p):
    """Chua's equation with the cubic diode h(x) = a x³ + c x;  p = (α, β, a, c)."""
    return _chua(x, p[0], p[1], p[2] * x[0] ** 3 + p[3] * x[0])


@njit(cache=True)
def chua_jacobian(x, p):
    return _chua_jacobian(p[0], p[1], 3.0 * p[2] * x[0] ** 2 + p[3])


@njit(cache=True)
def chua_pwl(x, p):
    """Chua's equation with h(x) = m1 x + (m0 − m1)(|x+1| − |x−1|)/2;  p = (α, β, m0, m1)."""
    m0, m1 = p[2], p[3]
    return _chua(x, p[0], p[1], m1 * x[0] + 0.5 * (m0 - m1) * (abs(x[0] + 1.0) - abs(x[0] - 1.0)))


@njit(cache=True)
def chua_pwl_jacobian(x, p):
    # h is not differentiable at |x| = 1; the one-sided outer slope m1 is used there.
    return _chua_jacobian(p[0], p[1], p[2] if abs(x[0]) < 1.0 else p[3])


_CHUA_EQUATIONS = "dx=α(y−x−h(x)), dy=x−y+z, dz=−βy"
register(
    Spec(
        name="chua",
        kind="flow",
        f=chua,
        jac=chua_jacobian,
        default_params={"alpha": 15.6, "beta": 28.0, "a": 4.0 / 63.0, "c": -8.0 / 7.0},
        variables=("x", "y", "z"),
        x0=(0.7, 0.0, 0.0),
        default_dt=0.01,
        description=f"Chua's circuit with smooth cubic diode h(x)=a x³+c x: {_CHUA_EQUATIONS}. The default cubic "
        "has the inner slope m0 and the three equilibria (x=0, ±1.5) of the chua_pwl default (double scroll).",
        reference="G.-Q. Zhong, 'Implementation of Chua's circuit with a cubic nonlinearity', IEEE Trans. "
        "Circuits Syst. I 41, 934 (1994); A. Huang et al., Int. J. Bifurcation Chaos 6, 2175 (1996).",
    )
)
register(
    Spec(
        name="chua_pwl",
        kind="flow",
        f=chua_pwl,
        jac=chua_pwl_jacobian,
        default_params={"alpha": 15.6, "beta": 28.0, "m0": -8.0 / 7.0, "m1": -5.0 / 7.0},
        variables=("x", "y", "z"),
        x0=(0.7, 0.0, 0.0),
        default_dt=0.01,
        description="Chua's circuit with the piecewise-linear diode h(x)=m1 x+(m0−m1)(|x+1|−|x−1|)/2: "
        f"{_CHUA_EQUATIONS} (double scroll). Jacobian is discontinuous at |x|=1.",
        reference="L. O. Chua, M. Komuro, T. Matsumoto, 'The double scroll family', IEEE Trans. Circuits "
        "Syst. 33, 1072 (1986).",
    )
)


# --- Duffing oscillator (double well) ----------------------------------------
@njit(cache=True)
def _duffing_acceleration(x, v, p):
    # p = (δ, α, β, ...): the unforced part −δv − αx − βx³ shared by both variants.
    return -p[0] * v - p[1] * x - p[2] * x**3


@njit(cache=True)
def duffing(x, p):
    """dx = v, dv = −δv − αx − βx³;  p = (δ, α, β)."""
    return np.array([x[1], _duffing_acceleration(x[0], x[1], p)])


@njit(cache=True)
def duffing_jacobian(x, p):
    return np.array([[0.0, 1.0], [-p[1] - 3.0 * p[2] * x[0] ** 2, -p[0]]])


@njit(cache=True)
def duffing_forced(x, p):
    """dx = v, dv = −δv − αx − βx³ + γ cos θ, dθ = ω;  p = (δ, α, β, γ, ω)."""
    return np.array([x[1], _duffing_acceleration(x[0], x[1], p) + p[3] * np.cos(x[2]), p[4]])


@njit(cache=True)
def duffing_forced_jacobian(x, p):
    return np.array(
        [[0.0, 1.0, 0.0], [-p[1] - 3.0 * p[2] * x[0] ** 2, -p[0], -p[3] * np.sin(x[2])], [0.0, 0.0, 0.0]]
    )


_DUFFING_REFERENCE = (
    "G. Duffing, Erzwungene Schwingungen bei veränderlicher Eigenfrequenz (Vieweg, 1918); "
    "J. Guckenheimer & P. Holmes, Nonlinear Oscillations, Dynamical Systems, and Bifurcations of "
    "Vector Fields (Springer, 1983), §2.2."
)
register(
    Spec(
        name="duffing",
        kind="flow",
        f=duffing,
        jac=duffing_jacobian,
        default_params={"delta": 0.3, "alpha": -1.0, "beta": 1.0},
        variables=("x", "v"),
        x0=(1.5, 0.0),
        default_dt=0.01,
        description="Unforced damped double-well Duffing oscillator x''=−δx'−αx−βx³ (not chaotic: "
        "spirals into a well at x=±1).",
        reference=_DUFFING_REFERENCE,
    )
)
register(
    Spec(
        name="duffing_forced",
        kind="flow",
        f=duffing_forced,
        jac=duffing_forced_jacobian,
        default_params={"delta": 0.3, "alpha": -1.0, "beta": 1.0, "gamma": 0.5, "omega": 1.2},
        variables=("x", "v", "theta"),
        x0=(1.0, 0.0, 0.0),
        default_dt=0.01,
        description="Periodically forced double-well Duffing oscillator x''=−δx'−αx−βx³+γcos(ωt), made "
        "autonomous by the phase θ=ωt (state (x, v, θ); θ grows without bound, use cos θ for data).",
        reference=_DUFFING_REFERENCE,
    )
)


# --- Thomas' cyclically symmetric attractor -------------------------------------
@njit(cache=True)
def thomas(x, p):
    """dx = sin y − bx, dy = sin z − by, dz = sin x − bz;  p = (b,)."""
    b = p[0]
    return np.array([np.sin(x[1]) - b * x[0], np.sin(x[2]) - b * x[1], np.sin(x[0]) - b * x[2]])


@njit(cache=True)
def thomas_jacobian(x, p):
    b = p[0]
    return np.array([[-b, np.cos(x[1]), 0.0], [0.0, -b, np.cos(x[2])], [np.cos(x[0]), 0.0, -b]])


register(
    Spec(
        name="thomas",
        kind="flow",
        f=thomas,
        jac=thomas_jacobian,
        default_params={"b": 0.208186},
        variables=("x", "y", "z"),
        x0=(0.1, 0.0, 0.0),
        default_dt=0.05,
        description="Thomas' cyclically symmetric attractor: dx=sin y−bx, dy=sin z−by, dz=sin x−bz.",
        reference="R. Thomas, 'Deterministic chaos seen in terms of feedback circuits', Int. J. Bifurcation "
        "Chaos 9, 1889 (1999).",
    )
)


# --- Hindmarsh–Rose bursting neuron ----------------------------------------------
@njit(cache=True)
def hindmarsh_rose(x, p):
    """dx = y − a x³ + b x² − z + I, dy = c − d x² − y, dz = r(s(x − x_R) − z);  p = (a, b, c, d, r, s, x_R, I)."""
    a, b, c, d, r, s, x_rest, current = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]
    u = x[0]
    return np.array(
        [x[1] - a * u**3 + b * u**2 - x[2] + current, c - d * u**2 - x[1], r * (s * (u - x_rest) - x[2])]
    )


@njit(cache=True)
def hindmarsh_rose_jacobian(x, p):
    a, b, d, r, s = p[0], p[1], p[3], p[4], p[5]
    u = x[0]
    return np.array([[-3.0 * a * u**2 + 2.0 * b * u, 1.0, -1.0], [-2.0 * d * u, -1.0, 0.0], [r * s, 0.0, -r]])


register(
    Spec(
        name="hindmarsh_rose",
        kind="flow",
        f=hindmarsh_rose,
        jac=hindmarsh_rose_jacobian,
        default_params={"a": 1.0, "b": 3.0, "c": 1.0, "d": 5.0, "r": 0.006, "s": 4.0, "x_rest": -1.6, "I": 3.25},
        variables=("x", "y", "z"),
        x0=(-1.6, -10.0, 2.0),
        default_dt=0.05,
        description="Hindmarsh–Rose neuron in the chaotic bursting regime: membrane potential x, fast "
        "recovery y, slow adaptation z (time-scale ratio r).",
        reference="J. L. Hindmarsh & R. M. Rose, 'A model of neuronal bursting using three coupled first "
        "order differential equations', Proc. R. Soc. Lond. B 221, 87 (1984).",
    )
)
