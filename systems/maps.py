"""Benchmark maps x_{n+1} = f(x_n): maps, analytic Jacobians, metadata.

Same layout as `flows`: two ``@njit(cache=True)`` functions of ``(x, p)`` and one
`register(Spec(...))` per system.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .base import Spec, register

_SPROTT_2003 = "J. C. Sprott, Chaos and Time-Series Analysis (Oxford University Press, 2003), App. A"


# --- Hénon -------------------------------------------------------------------
@njit(cache=True)
def henon(x, p):
    """x' = 1 − a x² + y, y' = b x;  p = (a, b)."""
    return np.array([1.0 - p[0] * x[0] ** 2 + x[1], p[1] * x[0]])


@njit(cache=True)
def henon_jacobian(x, p):
    return np.array([[-2.0 * p[0] * x[0], 1.0], [p[1], 0.0]])


register(
    Spec(
        name="henon",
        kind="map",
        f=henon,
        jac=henon_jacobian,
        default_params={"a": 1.4, "b": 0.3},
        variables=("x", "y"),
        x0=(0.1, 0.1),
        description="Hénon map x'=1−ax²+y, y'=bx (area contraction b per iteration).",
        reference="M. Hénon, 'A two-dimensional mapping with a strange attractor', Commun. Math. Phys. 50, "
        "69 (1976).",
        invariants={
            "lyapunov_spectrum": (0.41922, -1.62319),
            "kaplan_yorke_dimension": 1.25827,
            "correlation_dimension": 1.21,
            "source": f"spectrum and D_KY: {_SPROTT_2003}; D2: Grassberger & Procaccia, Physica D 9, 189 (1983)",
        },
    )
)


# --- Lozi --------------------------------------------------------------------
@njit(cache=True)
def lozi(x, p):
    """x' = 1 − a|x| + y, y' = b x;  p = (a, b)."""
    return np.array([1.0 - p[0] * abs(x[0]) + x[1], p[1] * x[0]])


@njit(cache=True)
def lozi_jacobian(x, p):
    # Not differentiable at x = 0; np.sign gives slope 0 there.
    return np.array([[-p[0] * np.sign(x[0]), 1.0], [p[1], 0.0]])


register(
    Spec(
        name="lozi",
        kind="map",
        f=lozi,
        jac=lozi_jacobian,
        default_params={"a": 1.7, "b": 0.5},
        variables=("x", "y"),
        x0=(0.1, 0.1),
        description="Lozi map x'=1−a|x|+y, y'=bx: piecewise-linear Hénon map.",
        reference="R. Lozi, 'Un attracteur étrange (?) du type attracteur de Hénon', J. Phys. Colloques 39, "
        "C5-9 (1978).",
        invariants={
            "lyapunov_spectrum": (0.4703, -1.1634),
            "kaplan_yorke_dimension": 1.4043,
            "source": f"{_SPROTT_2003}; reproduced here to 4 digits by QR on 10^6 iterations",
        },
    )
)


# --- Ikeda -------------------------------------------------------------------
@njit(cache=True)
def ikeda(x, p):
    """x' = 1 + u(x cos t − y sin t), y' = u(x sin t + y cos t), t = a − b/(1 + x² + y²);  p = (u, a, b)."""
    u, a, b = p[0], p[1], p[2]
    t = a - b / (1.0 + x[0] ** 2 + x[1] ** 2)
    ct, st = np.cos(t), np.sin(t)
    return np.array([1.0 + u * (x[0] * ct - x[1] * st), u * (x[0] * st + x[1] * ct)])


@njit(cache=True)
def ikeda_jacobian(x, p):
    u, a, b = p[0], p[1], p[2]
    r2 = 1.0 + x[0] ** 2 + x[1] ** 2
    t = a - b / r2
    ct, st = np.cos(t), np.sin(t)
    # dt/dx and dt/dy; then the product rule through the rotation by t.
    tx, ty = 2.0 * b * x[0] / r2**2, 2.0 * b * x[1] / r2**2
    rx, ry = x[0] * ct - x[1] * st, x[0] * st + x[1] * ct
    return u * np.array([[ct - ry * tx, -st - ry * ty], [st + rx * tx, ct + rx * ty]])


register(
    Spec(
        name="ikeda",
        kind="map",
        f=ikeda,
        jac=ikeda_jacobian,
        default_params={"u": 0.9, "a": 0.4, "b": 6.0},
        variables=("x", "y"),
        x0=(0.1, 0.1),
        description="Ikeda map of a laser ring cavity: z' = 1 + u z exp(i(a − b/(1+|z|²))), z = x + iy.",
        reference="K. Ikeda, Opt. Commun. 30, 257 (1979); real form as in S. M. Hammel, C. K. R. T. Jones & "
        "J. V. Moloney, J. Opt. Soc. Am. B 2, 552 (1985).",
        invariants={
            "lyapunov_spectrum": (0.50752, -0.71824),
            "kaplan_yorke_dimension": 1.7066,
            "source": f"{_SPROTT_2003} (p. 424), as tabulated at sites.google.com/view/lyapunov-spectrum",
        },
    )
)


# --- Logistic ----------------------------------------------------------------
@njit(cache=True)
def logistic(x, p):
    """x' = r x (1 − x);  p = (r,)."""
    return np.array([p[0] * x[0] * (1.0 - x[0])])


@njit(cache=True)
def logistic_jacobian(x, p):
    return np.array([[p[0] * (1.0 - 2.0 * x[0])]])


register(
    Spec(
        name="logistic",
        kind="map",
        f=logistic,
        jac=logistic_jacobian,
        default_params={"r": 4.0},
        variables=("x",),
        x0=(0.3,),
        description="Logistic map x'=rx(1−x); r=4 is fully chaotic on [0, 1].",
        reference="R. M. May, 'Simple mathematical models with very complicated dynamics', Nature 261, 459 "
        "(1976).",
        invariants={
            "lyapunov_spectrum": (math.log(2.0),),
            "source": "exact for r=4 (invariant density 1/(π√(x(1−x)))): Ulam & von Neumann, Bull. Am. Math. "
            "Soc. 53, 1120 (1947)",
        },
    )
)


# --- Tent --------------------------------------------------------------------
@njit(cache=True)
def tent(x, p):
    """x' = μ min(x, 1 − x);  p = (μ,)."""
    return np.array([p[0] * min(x[0], 1.0 - x[0])])


@njit(cache=True)
def tent_jacobian(x, p):
    # Not differentiable at x = 1/2; the right-hand slope −μ is used there.
    return np.array([[p[0] if x[0] < 0.5 else -p[0]]])


register(
    Spec(
        name="tent",
        kind="map",
        f=tent,
        jac=tent_jacobian,
        default_params={"mu": 1.9},
        variables=("x",),
        x0=(0.3,),
        description="Tent map x'=μ min(x, 1−x) with slope μ (dysts' μ is half of ours). Slope exactly 2 "
        "collapses to 0 in binary floating point within ~55 iterations, hence μ=1.9.",
        reference="E. Ott, Chaos in Dynamical Systems, 2nd ed. (Cambridge University Press, 2002), ch. 2.",
        invariants={
            "lyapunov_spectrum": (math.log(1.9),),
            "source": "exact: |f'| = μ everywhere, so λ = ln μ",
        },
    )
)
