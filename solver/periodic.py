"""Periodic conditions, exactly: the network sees a periodic coordinate only through two
triangle waves of its period.

On normalized inputs z in [-1, 1]^N_0 (solver.training), a periodic coordinate z_i is read as
s = (z_i + 1) / 2 in [0, 1] (the box's lower face at s = 0, the upper at s = 1) and replaced
by the two triangle waves of period 1

    f_1(s) = |2 frac(s - 1/4) - 1|,    f_2(s) = |2 frac(s - 1/8) - 1|,

which on [0, 1] are the ReLU expressions

    f_1 = 1/2 + 2 s - 4 rho(s - 1/4) + 4 rho(s - 3/4),
    f_2 = 3/4 + 2 s - 4 rho(s - 1/8) + 4 rho(s - 5/8).

Both take the same value and the same slope (+2) at s = 0 and s = 1 (their kinks, at 1/8,
1/4, 5/8 and 3/4, stay inside), and (f_1, f_2) is one-to-one on the circle s mod 1 (a point
is fixed by the reflections about 1/4 and 1/8 together only if it is the same point).  So
u = Psi(..., f_1(s), f_2(s), ...) has u and grad u equal on the two faces for any Psi, and
every periodic function of s is a function of (f_1, f_2).  The other inputs pass unchanged,
through rho(z_j + 2) - 2 (the kink at z_j = -2, outside the domain); s itself is
rho(s + 1) - 1.  The feature layer and its combination are fixed (models.EmbeddedNetwork):
training cannot break the periodicity, and the delivered model is one ReLU network
(N_0 -> features -> hidden -> output) on which D Phi, the bounds and the files work as on
any other.  With leaky ReLU, rho(v) = (rho_alpha(v) - alpha v) / (1 - alpha) gives the
same combination of the leaky features.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor

from models import ReLUNetwork
from models.embedding import EmbeddedNetwork

#: The two triangle waves: constant, and the ReLU kinks with their weights (besides 2 s).
WAVES: tuple[tuple[float, tuple[tuple[float, float], ...]], ...] = (
    (0.5, ((0.25, -4.0), (0.75, 4.0))),
    (0.75, ((0.125, -4.0), (0.625, 4.0))),
)


def embedded_inputs(n_inputs: int, periodic: Sequence[int]) -> int:
    """Inputs of the trainable network: one per input, two per periodic one."""
    return n_inputs + len(periodic)


def feature_map(
    n_inputs: int,
    periodic: Sequence[int],
    alpha: float,
    dtype: torch.dtype,
    shear: Mapping[int, float] | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(A_E, b_E, C, d) of e(z) = C rho_alpha(A_E z + b_E) + d on normalized inputs z; ``periodic``
    holds input indices (t first when there is time).  Embedded inputs are in input order, a
    periodic one giving (2 f_1 - 1, 2 f_2 - 1), both in [-1, 1].  ``shear`` maps a periodic
    input to g: its waves then read the characteristic coordinate sigma = s - g (z_0 + 1)
    instead of s (``sheared_waves``)."""
    rows_w: list[list[float]] = []
    rows_b: list[float] = []
    combine: list[dict[int, float]] = []
    offset: list[float] = []

    def feature(j: int, weight: float, bias: float, time_weight: float = 0.0) -> int:
        row = [0.0] * n_inputs
        row[j] = weight
        if time_weight:
            row[0] += time_weight
        rows_w.append(row)
        rows_b.append(bias)
        return len(rows_b) - 1

    for j in range(n_inputs):
        g = (shear or {}).get(j, 0.0)
        if j in periodic and g != 0.0:
            _sheared_waves(j, g, alpha, feature, combine, offset)
            continue
        if j not in periodic:
            k = feature(j, 1.0, 2.0)  # rho(z + 2) = z + 2 on the domain
            combine.append({k: 1.0})
            offset.append(-2.0)
            continue
        # s = (z + 1)/2; rho(s + 1) = s + 1 on the domain, rho(s - c) the kinks
        base = feature(j, 0.5, 1.5)
        for constant, kinks in WAVES:
            row = {base: 2.0}  # 2 s = 2 (g0 - 1)
            const = constant - 2.0
            for at, weight in kinks:
                k = feature(j, 0.5, 0.5 - at)  # v = s - at
                # rho(v) = (leaky(v) - alpha v) / (1 - alpha), v = g0 - 1 - at
                row[k] = row.get(k, 0.0) + weight / (1.0 - alpha)
                row[base] = row[base] - weight * alpha / (1.0 - alpha)
                const += weight * alpha * (1.0 + at) / (1.0 - alpha)
            combine.append({key: 2.0 * value for key, value in row.items()})  # e = 2 f - 1
            offset.append(2.0 * const - 1.0)
    c = torch.zeros(len(combine), len(rows_b), dtype=dtype)
    for i, row in enumerate(combine):
        for k, value in row.items():
            c[i, k] = value
    return (
        torch.tensor(rows_w, dtype=dtype),
        torch.tensor(rows_b, dtype=dtype),
        c,
        torch.tensor(offset, dtype=dtype),
    )


def _sheared_waves(
    j: int,
    g: float,
    alpha: float,
    feature: Callable[..., int],
    combine: list[dict[int, float]],
    offset: list[float],
) -> None:
    """The two triangle waves f(sigma) = |2 frac(sigma - a) - 1| (a = 1/4, 1/8) of the sheared
    coordinate sigma = s - g (z_0 + 1), s = (z_j + 1) / 2, over its whole range [L, U] on the
    box: f = f(L) + f'(L) (sigma - L) + sum over the kinks kappa in (L, U) (peaks a + k: -4,
    troughs a + k + 1/2: +4) of the slope change times rho(sigma - kappa), with sigma - L =
    rho(sigma - L + 1) - 1 (the base feature, positive on the box).  For u_t + c u_x = 0
    with c constant, sigma is constant along the characteristics, so every function of the
    waves is exactly periodic in x and solves the equation (``characteristic_shear``)."""
    lower, upper = min(0.0, -2.0 * g), max(1.0, 1.0 - 2.0 * g)

    def sheared(bias: float) -> int:  # rho(sigma + bias): sigma = 0.5 z_j + 0.5 - g z_0 - g
        return feature(j, 0.5, 0.5 - g + bias, time_weight=-g)

    base = sheared(1.0 - lower)
    for phase, _ in zip((0.25, 0.125), WAVES, strict=True):
        position = (lower - phase) % 1.0
        row = {base: 0.0}
        value = abs(2.0 * position - 1.0)
        slope = -2.0 if position < 0.5 else 2.0
        row[base] += slope  # slope (sigma - L) = slope (g0 - 1)
        const = value - slope
        k = math.floor((lower - phase) * 2.0) + 1
        while phase + k / 2.0 < upper:
            kappa = phase + k / 2.0
            change = -4.0 if k % 2 == 0 else 4.0  # a peak at a + integer, a trough between
            kink = sheared(-kappa)
            # rho(v) = (leaky(v) - alpha v) / (1 - alpha), v = g0 - 1 + L - kappa
            row[kink] = row.get(kink, 0.0) + change / (1.0 - alpha)
            row[base] -= change * alpha / (1.0 - alpha)
            const += change * alpha * (1.0 - lower + kappa) / (1.0 - alpha)
            k += 1
        combine.append({key: 2.0 * weight for key, weight in row.items()})  # e = 2 f - 1
        offset.append(2.0 * const - 1.0)


def periodic_inputs(has_time: bool, axes: Sequence[int]) -> list[int]:
    """The network inputs of periodic space axes (t comes first when there is time)."""
    return [axis + (1 if has_time else 0) for axis in axes]


def periodic_network(
    inner: ReLUNetwork,
    n_inputs: int,
    periodic: Sequence[int],
    shear: Mapping[int, float] | None = None,
) -> EmbeddedNetwork:
    """``inner`` (on the embedded inputs) behind the fixed periodic feature layer (sheared
    along the characteristics where ``shear`` says, ``feature_map``)."""
    a_e, b_e, c, d = feature_map(n_inputs, periodic, inner.act.alpha, inner.dtype, shear)
    return EmbeddedNetwork(inner, a_e, b_e, c, d)


__all__ = ["WAVES", "embedded_inputs", "feature_map", "periodic_inputs", "periodic_network"]
