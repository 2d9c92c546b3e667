"""A-posteriori bounds of Kolmogorov (Feynman-Kac) problems from independent Monte Carlo references.

u*(t, x) = E[phi(X_t^x)].  At n i.i.d. uniform points (t_i, x_i) of the asked-for box
[t0, T] x (-R, R)^d (R = ``train_radius``, not the padded R' of the training box), fresh
references ubar_i, gbar_i with standard errors (``solver.aposteriori.feynman_kac``: the
trained network as a martingale control variate of the value, the pathwise derivative for
the gradient) give

* ``rms_error`` (statistical): Y_i = (u_h - ubar_i)^2 has mean
  E[(u_h - u*)^2] + E[Var(ubar_i | x_i)] >= E[(u_h - u*)^2], the mean square error over the
  box (ubar_i is unbiased and independent of u_h), so ``rms_upper`` of the Y_i (CLT upper
  bound of their mean at level delta / 2, then the square root) bounds the rms error;
* ``rms_gradient_error`` (statistical): the same with |grad_x u_h - gbar_x,i|^2, level
  delta / 2 (the two hold jointly with probability >= CONFIDENCE = 1 - delta);
* ``max_abs_error``, ``max_gradient_error`` (indicator): the largest per-point upper
  confidence figures |u_h - ubar| + z se and |D u_h - gbar| + z |se| (D over (t, x)),
  z from the union bound over the points.  A maximum over sampled points is no bound of the
  supremum over a continuum of 1 + d inputs: these track the error, they do not promise it.

``exact`` is never read.
"""

from __future__ import annotations

import torch

from models import ReLUNetwork
from solver.aposteriori.bound import CONFIDENCE, ErrorBound
from solver.aposteriori.confidence import rms_upper
from solver.aposteriori.feynman_kac import (
    Reference,
    error_upper_bounds,
    events_per_point,
    references,
    union_quantile,
)
from solver.domains import DTYPE, WHOLE_SPACE_MARGIN, derived_seed
from solver.kinds.kolmogorov import KolmogorovProblem
from solver.spec import Kolmogorov

BOUND_POINTS = 512  # i.i.d. uniform points of the box
BOUND_PATHS = 64  # Feynman-Kac paths per point (32 antithetic pairs)


def box_points(problem: KolmogorovProblem, n: int, seed: int) -> torch.Tensor:
    """n i.i.d. uniform points (t, x) of [t0, T] x (-R, R)^d, R = train_radius (t first)."""
    if problem.slab is None:
        raise ValueError("a kolmogorov problem has time")
    gen = torch.Generator().manual_seed(derived_seed(seed, "reference", "bound-points"))
    radius = problem.region.radius / (1.0 + WHOLE_SPACE_MARGIN)
    x = (2.0 * torch.rand(n, problem.d, dtype=DTYPE, generator=gen) - 1.0) * radius
    t = problem.slab.times(torch.rand(n, 1, dtype=DTYPE, generator=gen))
    return torch.cat([t.reshape(n, 1), x], 1)


def bounds_from_references(
    network: ReLUNetwork, problem: KolmogorovProblem, inputs: torch.Tensor, reference: Reference
) -> list[ErrorBound]:
    """The four entries (module docstring) from references at i.i.d. uniform ``inputs``."""
    n = inputs.shape[0]
    delta = 1.0 - CONFIDENCE
    z = union_quantile(delta, n * events_per_point(problem))
    with torch.no_grad():
        u, jac = network.value_and_jacobian(inputs.to(network.dtype))
    value_squares = (u[:, 0].to(DTYPE) - reference.value) ** 2
    gradient_squares = ((jac[:, 0, 1:].to(DTYPE) - reference.gradient[:, 1:]) ** 2).sum(1)
    value_upper, gradient_upper = error_upper_bounds(network, inputs, reference, z)
    radius = problem.region.radius / (1.0 + WHOLE_SPACE_MARGIN)
    where = f"{n} i.i.d. uniform points of [t0, T] x (-{radius:g}, {radius:g})^{problem.d}"
    paths = reference.describe()
    assumption = (
        "the references are unbiased (exact simulation, or Euler-Maruyama with a negligible "
        "Richardson-extrapolated bias) and the CLT applies to the mean of the squares"
    )
    rms_how = (
        f"rms_upper (CLT, level {delta / 2:g}) of the mean of (u_h - ubar)^2 over {where}, "
        f"each ubar from {paths}; E[(u_h - ubar)^2] = (u_h - u*)^2 + Var(ubar) makes it conservative"
    )
    max_how = (
        f"largest |u_h - ubar| + z se over {where}, z = {z:.3f} (union bound, delta {delta:g}); "
        "a sampled maximum, not a bound of the supremum over the continuum of inputs"
    )
    return [
        ErrorBound(
            "rms_error",
            rms_upper(value_squares, delta / 2),
            "statistical",
            CONFIDENCE,
            assumption,
            rms_how,
        ),
        ErrorBound(
            "rms_gradient_error",
            rms_upper(gradient_squares, delta / 2),
            "statistical",
            CONFIDENCE,
            assumption.replace("unbiased", "unbiased (pathwise derivative)"),
            rms_how.replace("(u_h - ubar)^2", "|grad_x u_h - gbar_x|^2").replace("ubar from", "gbar from"),
        ),
        ErrorBound(
            "max_abs_error",
            float(value_upper.max()),
            "indicator",
            None,
            "none: an indicator, no promise between the sampled points",
            max_how,
        ),
        ErrorBound(
            "max_gradient_error",
            float(gradient_upper.max()),
            "indicator",
            None,
            "none: an indicator, no promise between the sampled points",
            max_how.replace("|u_h - ubar| + z se", "|D u_h - gbar| + z |se| (D over (t, x))"),
        ),
    ]


def bounds(
    network: ReLUNetwork, problem: KolmogorovProblem, seed: int, effort: float = 1.0
) -> list[ErrorBound]:
    """The a-posteriori bounds of ``network`` (Phi in physical coordinates, inputs (t, x)) as
    the solution of the kolmogorov ``problem``, from BOUND_POINTS points with BOUND_PATHS fresh
    paths each (seeds ``derived_seed(seed, "reference", ...)``, independent of training)."""
    if not isinstance(problem.spec, Kolmogorov):
        raise ValueError(f"kolmogorov.bounds needs a kolmogorov problem, not {problem.spec.kind!r}")
    inputs = box_points(problem, max(64, int(BOUND_POINTS * effort)), seed)
    reference = references(problem, inputs, seed, network=network, paths=BOUND_PATHS, purpose="bounds")
    return bounds_from_references(network, problem, inputs, reference)


__all__ = ["BOUND_PATHS", "BOUND_POINTS", "bounds", "bounds_from_references", "box_points"]
