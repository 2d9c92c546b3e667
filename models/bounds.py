"""Certified interval enclosures of R Phi and D Phi over a box (docs/models.md).

For a box X = [lower, upper] the pre-activations are enclosed layer by layer in midpoint-
radius form: if h in [c - r, c + r] then A h + b in [A c + b - |A| r, A c + b + |A| r]; rho is
monotone, so rho([lo, hi]) = [rho(lo), rho(hi)].  For the derivative, Delta_l(x) lies in the
interval hull of the values rho'_c can take on [lo, hi] (1 where lo > 0, alpha where
hi < 0, otherwise the hull of {alpha, c, 1} restricted to the signs present), and

    D z_{l+1} = A_{l+1} Delta_l D z_l

is enclosed by an interval row scaling followed by a midpoint-radius product.  Every bound
is widened by the floating-point error of a length-n dot product, gamma_n (|c| + r) with
gamma_n = n u / (1 - n u), so the enclosures hold for the exact real arithmetic of the
realization, not only for the float64 one.  Intervals are inclusion monotone: a smaller box
never gives a wider enclosure.  ``enclose_values`` (values only) and ``enclose_batch``
(values and Jacobians) run the same propagation over many boxes at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from models.network import ReLUNetwork


@dataclass(frozen=True)
class Enclosure:
    """value_lower <= R Phi(x) <= value_upper and jacobian_lower <= D Phi(x) <= jacobian_upper
    for every x in the box (entrywise; shapes (N_L,) and (N_L, N_0))."""

    value_lower: Tensor
    value_upper: Tensor
    jacobian_lower: Tensor
    jacobian_upper: Tensor

    def value_width(self) -> Tensor:
        return self.value_upper - self.value_lower

    def jacobian_width(self) -> Tensor:
        return self.jacobian_upper - self.jacobian_lower


def _gamma(n: int, dtype: torch.dtype) -> float:
    unit = torch.finfo(dtype).eps / 2.0
    return (n + 2) * unit / (1.0 - (n + 2) * unit)


def _affine(a: Tensor, b: Tensor | None, mid: Tensor, rad: Tensor) -> tuple[Tensor, Tensor]:
    """Enclosure of A h (+ b) for h in [mid - rad, mid + rad], with rounding slack."""
    center = mid @ a.t() if b is None else mid @ a.t() + b
    gamma = _gamma(a.shape[1], a.dtype)
    # |A| rad + gamma (|A| |mid| + |A| rad + |b|), with the two products merged into one.
    radius = ((1.0 + gamma) * rad + gamma * mid.abs()) @ a.abs().t()
    if b is not None:
        radius = radius + gamma * b.abs()
    return center, radius


def _slope_hull(lo: Tensor, hi: Tensor, alpha: float, c: float) -> tuple[Tensor, Tensor]:
    """Interval hull of {rho'_c(s) : s in [lo, hi]} per neuron."""
    inf = torch.full_like(lo, float("inf"))
    low, high = inf, -inf
    for value, possible in ((1.0, hi > 0), (alpha, lo < 0), (c, (lo <= 0) & (hi >= 0))):
        low = torch.where(possible, torch.clamp(low, max=value), low)
        high = torch.where(possible, torch.clamp(high, min=value), high)
    return low, high


def enclose(net: ReLUNetwork, lower: Sequence[float] | Tensor, upper: Sequence[float] | Tensor) -> Enclosure:
    """Certified enclosures of R Phi and D Phi over the box [lower, upper] (float64 arithmetic)."""
    weights = [a.detach().to(torch.float64) for a in net.weights]
    biases = [b.detach().to(torch.float64) for b in net.biases]
    lo_x = torch.as_tensor(lower, dtype=torch.float64).reshape(1, -1)
    hi_x = torch.as_tensor(upper, dtype=torch.float64).reshape(1, -1)
    if lo_x.shape[1] != net.in_features or hi_x.shape != lo_x.shape:
        raise ValueError(
            f"the box needs {net.in_features} lower and upper bounds, got {tuple(lo_x.shape)} "
            f"and {tuple(hi_x.shape)}"
        )
    if not bool((lo_x <= hi_x).all()) or not bool(torch.isfinite(lo_x).all() & torch.isfinite(hi_x).all()):
        raise ValueError("the box must be finite with lower <= upper in every coordinate")
    alpha, c = net.act.alpha, net.act.c
    mid, rad = (lo_x + hi_x) / 2.0, (hi_x - lo_x) / 2.0
    # Tangent enclosure of D z_l as midpoint/radius (N_l, N_0); D z_1 = A_1 exactly.
    jac_mid: Tensor = weights[0]
    jac_rad: Tensor = torch.zeros_like(weights[0])
    center, radius = _affine(weights[0], biases[0], mid, rad)
    for a, b in zip(weights[1:], biases[1:], strict=True):
        z_lo, z_hi = (center - radius)[0], (center + radius)[0]
        s_lo, s_hi = _slope_hull(z_lo, z_hi, alpha, c)
        h_lo = torch.where(z_lo > 0, z_lo, alpha * z_lo)
        h_hi = torch.where(z_hi > 0, z_hi, alpha * z_hi)
        mid, rad = ((h_lo + h_hi) / 2.0).unsqueeze(0), ((h_hi - h_lo) / 2.0).unsqueeze(0)
        # Row scaling of the tangent interval by [s_lo, s_hi]: the hull of the four products.
        j_lo, j_hi = jac_mid - jac_rad, jac_mid + jac_rad
        products = torch.stack(
            [s_lo[:, None] * j_lo, s_lo[:, None] * j_hi, s_hi[:, None] * j_lo, s_hi[:, None] * j_hi]
        )
        p_lo, p_hi = products.min(0).values, products.max(0).values
        p_mid, p_rad = (p_lo + p_hi) / 2.0, (p_hi - p_lo) / 2.0
        jac_mid_t, jac_rad_t = _affine(a, None, p_mid.t(), p_rad.t())
        jac_mid, jac_rad = jac_mid_t.t(), jac_rad_t.t()
        center, radius = _affine(a, b, mid, rad)
    return Enclosure(
        value_lower=(center - radius)[0],
        value_upper=(center + radius)[0],
        jacobian_lower=jac_mid - jac_rad,
        jacobian_upper=jac_mid + jac_rad,
    )


def _checked_boxes(net: ReLUNetwork, lower: Tensor, upper: Tensor) -> tuple[Tensor, Tensor]:
    """Boxes [lower_k, upper_k] as float64 (K, N_0) tensors, or a ValueError saying what is wrong."""
    lo_x = lower.to(torch.float64)
    hi_x = upper.to(torch.float64)
    if lo_x.ndim != 2 or lo_x.shape[1] != net.in_features or hi_x.shape != lo_x.shape:
        raise ValueError(
            f"boxes need lower and upper of shape (K, {net.in_features}), got {tuple(lo_x.shape)} "
            f"and {tuple(hi_x.shape)}"
        )
    if not bool((lo_x <= hi_x).all()) or not bool(torch.isfinite(lo_x).all() & torch.isfinite(hi_x).all()):
        raise ValueError("every box must be finite with lower <= upper in every coordinate")
    return lo_x, hi_x


def enclose_values(net: ReLUNetwork, lower: Tensor, upper: Tensor) -> tuple[Tensor, Tensor]:
    """Certified enclosures of R Phi over many boxes at once: boxes k = [lower_k, upper_k]
    (shapes (K, N_0)) -> (lo, hi) of shape (K, N_L) with lo_k <= R Phi(x) <= hi_k on box k.

    The value half of ``enclose`` (same midpoint-radius propagation and rounding slack),
    batched over boxes: the cost of one forward pass per box and no Jacobian enclosure.
    """
    lo_x, hi_x = _checked_boxes(net, lower, upper)
    weights = [a.detach().to(torch.float64) for a in net.weights]
    biases = [b.detach().to(torch.float64) for b in net.biases]
    alpha = net.act.alpha
    mid, rad = (lo_x + hi_x) / 2.0, (hi_x - lo_x) / 2.0
    center, radius = _affine(weights[0], biases[0], mid, rad)
    for a, b in zip(weights[1:], biases[1:], strict=True):
        z_lo, z_hi = center - radius, center + radius
        h_lo = torch.where(z_lo > 0, z_lo, alpha * z_lo)
        h_hi = torch.where(z_hi > 0, z_hi, alpha * z_hi)
        mid, rad = (h_lo + h_hi) / 2.0, (h_hi - h_lo) / 2.0
        center, radius = _affine(a, b, mid, rad)
    return center - radius, center + radius


ENCLOSE_CHUNK = 4096  # boxes per pass of ``enclose_batch`` (bounds its temporaries)


def _enclose_chunk(
    weights: list[Tensor], biases: list[Tensor], alpha: float, c: float, lo_x: Tensor, hi_x: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``enclose`` for k boxes at once: the same operations with a leading box axis."""
    mid, rad = (lo_x + hi_x) / 2.0, (hi_x - lo_x) / 2.0
    # Tangent enclosure of D z_l as midpoint/radius (k, N_l, N_0); D z_1 = A_1 exactly.
    jac_mid: Tensor = weights[0].expand(lo_x.shape[0], -1, -1)
    jac_rad: Tensor = torch.zeros_like(jac_mid)
    center, radius = _affine(weights[0], biases[0], mid, rad)
    for a, b in zip(weights[1:], biases[1:], strict=True):
        z_lo, z_hi = center - radius, center + radius
        s_lo, s_hi = _slope_hull(z_lo, z_hi, alpha, c)
        h_lo = torch.where(z_lo > 0, z_lo, alpha * z_lo)
        h_hi = torch.where(z_hi > 0, z_hi, alpha * z_hi)
        mid, rad = (h_lo + h_hi) / 2.0, (h_hi - h_lo) / 2.0
        # Row scaling of the tangent interval by [s_lo, s_hi]: the hull of the four products.
        j_lo, j_hi = jac_mid - jac_rad, jac_mid + jac_rad
        s_lo, s_hi = s_lo.unsqueeze(-1), s_hi.unsqueeze(-1)
        q1, q2, q3, q4 = s_lo * j_lo, s_lo * j_hi, s_hi * j_lo, s_hi * j_hi
        del j_lo, j_hi
        p_lo = torch.minimum(torch.minimum(q1, q2), torch.minimum(q3, q4))
        p_hi = torch.maximum(torch.maximum(q1, q2), torch.maximum(q3, q4))
        del q1, q2, q3, q4
        p_mid, p_rad = (p_lo + p_hi) / 2.0, (p_hi - p_lo) / 2.0
        del p_lo, p_hi
        jac_mid_t, jac_rad_t = _affine(a, None, p_mid.transpose(1, 2), p_rad.transpose(1, 2))
        jac_mid, jac_rad = jac_mid_t.transpose(1, 2), jac_rad_t.transpose(1, 2)
        center, radius = _affine(a, b, mid, rad)
    return center - radius, center + radius, jac_mid - jac_rad, jac_mid + jac_rad


def enclose_batch(
    net: ReLUNetwork, lower: Tensor, upper: Tensor, *, chunk: int = ENCLOSE_CHUNK
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Certified enclosures of R Phi and D Phi over many boxes at once.

    Boxes k = [lower_k, upper_k] (shapes (K, N_0)) -> (value_lo, value_hi, jacobian_lo,
    jacobian_hi) of shapes (K, N_L), (K, N_L), (K, N_L, N_0), (K, N_L, N_0) with

        value_lo_k <= R Phi(x) <= value_hi_k,   jacobian_lo_k <= D Phi(x) <= jacobian_hi_k

    entrywise for every x in box k.  This is ``enclose`` with a leading box axis (same
    midpoint-radius propagation, slope hull and gamma_n rounding slack), run ``chunk`` boxes
    at a time so that the tangent enclosures (chunk, N_l, N_0) stay small.
    """
    lo_x, hi_x = _checked_boxes(net, lower, upper)
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    weights = [a.detach().to(torch.float64) for a in net.weights]
    biases = [b.detach().to(torch.float64) for b in net.biases]
    parts = [
        _enclose_chunk(weights, biases, net.act.alpha, net.act.c, lo_x[i : i + chunk], hi_x[i : i + chunk])
        for i in range(0, lo_x.shape[0], chunk)
    ]
    if not parts:
        n_out, n_in = net.out_features, net.in_features
        empty = lo_x.new_zeros((0, n_out))
        empty_jac = lo_x.new_zeros((0, n_out, n_in))
        return empty, empty.clone(), empty_jac, empty_jac.clone()
    value_lo, value_hi, jac_lo, jac_hi = (torch.cat(list(group)) for group in zip(*parts, strict=True))
    return value_lo, value_hi, jac_lo, jac_hi
