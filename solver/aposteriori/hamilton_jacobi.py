"""Error indicators of nonlinear first-order problems (eikonal, Hamilton-Jacobi): no bound.

Why no bound. For |grad u| = f on a convex domain with u = 0 on the boundary, comparison
gives one side: if |grad u_h| <= f (1 + delta) a.e. and u_h <= beta on the boundary, then
u_h(x) <= (1 + delta) u*(x) + beta: integrate |grad u_h| <= (1 + delta) f along a path from
x to the boundary that minimizes int f, whose cost is u*(x) (for f = 1 the segment to the
nearest boundary point, of length u*(x) = dist(x, boundary)). The other side, u_h >= u* -
..., does not follow from an a.e. residual: a function with |grad u_h| = f a.e. and the
right boundary values can still lie far below the viscosity solution (e.g. a sawtooth under
the distance function), so a small residual does not certify a small error. Nor does a
sampled residual verify delta, which is a sup. Every entry here is therefore an
``indicator``: a figure that tracks the error, with no guarantee.

Figures.  With sampled points (SAMPLES i.i.d. uniform, interior and each boundary /
initial condition), the residual r = F(t, x, u_h, u_h_t, grad u_h), the start error e_b
(|u_h - data| on Dirichlet faces and on the initial slice), a length scale L (the inradius
of the domain for a stationary problem: the half side of a box, the radius of a ball, R
for the whole-space box (-R, R)^d; T = t1 - t0 with time) and the sensitivity
s = median |dF/dp| (stationary: |grad u - grad u*| ~ |r| / s) or median |dF/du_t| (timed):

* max_abs_error      ~ sup |e_b| + L sup |r| / s   (error = boundary error + slope error x distance);
* rms_error          ~ rms |e_b| + L rms |r| / s;
* max_gradient_error ~ sup |r| / s;  rms_gradient_error ~ rms |r| / s.

For the eikonal equation s = 1 and r = |grad u_h| - f, so the gradient figures are the
sampled sup / rms of the gradient's length defect: a lower estimate of |grad e| wherever
grad u_h points along grad u* (|grad e| >= ||grad u_h| - |grad u*||), blind to errors in
its direction.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from models import ReLUNetwork
from solver.aposteriori.bound import ErrorBound
from solver.domains import DTYPE, derived_seed
from solver.expressions import space_env
from solver.kinds.first_order import FirstOrderProblem
from solver.problems import PointSet
from solver.spec import Dirichlet, FirstOrder, Initial, WholeSpaceDomain

SAMPLES = 2**14  # interior points, and points per boundary or initial condition

ASSUMPTIONS = (
    "none: indicators carry no guarantee (comparison bounds only one side of the error of a "
    "nonlinear first-order problem, and a sampled residual is not its sup)"
)


def _uniform(n: int, cols: int, seed: int, purpose: str) -> Tensor:
    gen = torch.Generator().manual_seed(derived_seed(seed, "aposteriori-hamilton-jacobi", purpose))
    return torch.rand(n, cols, dtype=DTYPE, generator=gen)


def length_scale(problem: FirstOrderProblem) -> float:
    """T with time; else the inradius (box: the smallest half side, ball: the radius, whole
    space: the half side R of the asked-for box)."""
    if problem.slab is not None:
        return problem.slab.end - problem.slab.start
    spec = problem.spec
    if isinstance(spec.domain, WholeSpaceDomain):
        return float(spec.domain.whole_space.train_radius)
    if problem.region.kind == "ball":
        return problem.region.radius
    return float((problem.region.upper - problem.region.lower).min()) / 2.0


def residual_and_sensitivity(
    network: ReLUNetwork, problem: FirstOrderProblem, inputs: Tensor
) -> tuple[Tensor, Tensor]:
    """|F(u_h)| and the sensitivity |dF/dp| (stationary) or |dF/du_t| (timed) at the inputs."""
    with torch.no_grad():
        u, jac = network.value_and_jacobian(inputs)
    jac = jac.detach().clone().requires_grad_(True)
    t = inputs[:, 0] if problem.has_time else None
    x = inputs[:, 1:] if problem.has_time else inputs
    value = problem.equation_value(PointSet(t, x), u, jac)
    (grad,) = torch.autograd.grad(value.sum(), jac, allow_unused=True)
    if grad is None:
        sensitivity = torch.zeros(inputs.shape[0], dtype=DTYPE)
    elif problem.has_time:
        sensitivity = grad[:, 0, 0].abs()
    else:
        sensitivity = grad[:, 0, :].norm(dim=1)
    return value.detach().abs(), sensitivity


def start_errors(network: ReLUNetwork, problem: FirstOrderProblem, seed: int) -> Tensor:
    """|u_h - data| at sampled points of every Dirichlet and initial condition (empty if none)."""
    found: list[Tensor] = []
    region = problem.region
    for index, (cond, expr) in enumerate(problem.conditions):
        if isinstance(cond, Initial):
            assert problem.slab is not None
            u = _uniform(SAMPLES, region.interior_columns(), seed, f"condition{index}")
            x = region.interior(u)
            t = torch.full((SAMPLES,), problem.slab.start, dtype=DTYPE)
            data = expr.evaluate(space_env(None, x), x[:, 0])
        elif isinstance(cond, Dirichlet):
            cols = region.boundary_columns() + (1 if problem.has_time else 0)
            u = _uniform(SAMPLES, cols, seed, f"condition{index}")
            x, _ = region.boundary(u[:, : region.boundary_columns()], cond.on)
            t = problem.slab.times(u[:, -1]) if problem.slab is not None else torch.zeros(0, dtype=DTYPE)
            data = expr.evaluate(space_env(t if problem.has_time else None, x), x[:, 0])
        else:
            continue  # Neumann data constrain a derivative, not the value
        inputs = torch.cat([t.unsqueeze(1), x], 1) if problem.has_time else x
        with torch.no_grad():
            found.append((network(inputs)[:, 0] - data).abs())
    return torch.cat(found) if found else torch.zeros(0, dtype=DTYPE)


def bounds(network: ReLUNetwork, problem: FirstOrderProblem, seed: int) -> list[ErrorBound]:
    """Indicator entries for a nonlinear first-order problem (module docstring); never reads
    ``exact``.  ``network``: float64, physical inputs ((t, x) or x); ``seed`` fixes the points."""
    if not isinstance(problem.spec, FirstOrder):
        raise ValueError(f"hamilton_jacobi.bounds is for first_order problems, not {problem.spec.kind}")
    if network.in_features != problem.n_inputs:
        raise ValueError(
            f"the network takes {network.in_features} inputs but the problem has {problem.n_inputs}; "
            "pass the physical-coordinate network of this problem"
        )
    network = network.to(DTYPE)
    inputs = problem.validation_inputs(SAMPLES, derived_seed(seed, "aposteriori-hamilton-jacobi", "interior"))
    residual, sensitivity = residual_and_sensitivity(network, problem, inputs)
    scale = float(sensitivity.median())
    starts = start_errors(network, problem, seed)
    length = length_scale(problem)
    inverse = 1.0 / scale if scale > 0.0 else math.inf
    r_max, r_rms = float(residual.max()), float(residual.pow(2).mean().sqrt())
    b_max = float(starts.max()) if starts.numel() else 0.0
    b_rms = float(starts.pow(2).mean().sqrt()) if starts.numel() else 0.0
    what = "|dF/du_t|" if problem.has_time else "|dF/dp|"
    scale_text = (
        f"s = median {what} = {scale:.3g}, L = {length:.3g} ({'T' if problem.has_time else 'inradius'})"
    )
    common = (
        "indicator, not a bound: a nonlinear first-order problem has only a one-sided comparison "
        "principle, and an a.e. residual does not bound the other side (a sawtooth with "
        "|grad u| = f a.e. lies far below the viscosity solution); figure from "
        f"{SAMPLES} uniform points: "
    )
    no_start = "" if starts.numel() else " (no Dirichlet or initial data: start error taken as 0)"

    def value(figure: float, _: float) -> float:
        """The figure, +inf where it is not a number (0 x inf when s = 0)."""
        return figure if not math.isnan(figure) else math.inf

    entries = [
        ErrorBound(
            "max_abs_error",
            value(b_max + length * r_max * inverse, 0.0),
            "indicator",
            None,
            ASSUMPTIONS,
            common + f"sampled sup |u - data| + L sampled sup |r| / s, {scale_text}{no_start}",
        ),
        ErrorBound(
            "rms_error",
            value(b_rms + length * r_rms * inverse, 0.0),
            "indicator",
            None,
            ASSUMPTIONS,
            common + f"sampled rms |u - data| + L sampled rms |r| / s, {scale_text}{no_start}",
        ),
        ErrorBound(
            "max_gradient_error",
            value(r_max * inverse, 0.0),
            "indicator",
            None,
            ASSUMPTIONS,
            common + f"sampled sup |r| / s ({scale_text}): the defect of the gradient's length, "
            "blind to errors in its direction",
        ),
        ErrorBound(
            "rms_gradient_error",
            value(r_rms * inverse, 0.0),
            "indicator",
            None,
            ASSUMPTIONS,
            common + f"sampled rms |r| / s ({scale_text}): the defect of the gradient's length, "
            "blind to errors in its direction",
        ),
    ]
    return entries
