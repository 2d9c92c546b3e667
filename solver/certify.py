"""A certified bound of the weighted local value error, sup_Q |u - R Phi| / omega, by cells.

On a cell C of the box Q (inputs (t, x) or x) with center c and half-diagonal r (Euclidean,
over every input), for every y in C:

    |u(y) - R Phi(y)| <= max(u(c) + G_C r - lo_C,  hi_C - u(c) + G_C r)

where [lo_C, hi_C] encloses R Phi on C (``models.bounds.enclose_values``: interval
arithmetic with rounding slack, certified) and G_C = G(max_{y in C} |y_x|) >= |Du| on C is
the growth bound of the spec (``solver.growth.gradient_growth``), so |u(y) - u(c)| <=
G_C |y - c| <= G_C r by the mean value theorem on the convex cell.  Dividing by min_C
omega, omega = 1 + |x|^(kappa+1), bounds the weighted error on C.  Cells whose bound
exceeds the target are halved along every axis, until every cell is under it or
``CERTIFY_BUDGET`` cells have been examined; the result is the largest bound over the
final cells, a certified upper bound of sup_Q |u - R Phi| / omega *given the growth data*
(which the spec asserts and nothing here checks).

The bound shrinks like (G + |D Phi|) r, so the cells needed grow like r^-(inputs): on this
machine's budget it reaches the sampled error's size with two inputs ((t, x) in d = 1) and
usually not beyond.  The gradient error e1 has no such certificate: it would need a
modulus of continuity of Du (second derivatives), which the growth data do not give.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from models import ReLUNetwork
from models.bounds import enclose_values
from solver.domains import DTYPE
from solver.growth import gradient_growth
from solver.problems import PDEProblem

CERTIFY_MAX_INPUTS = 4  # t and up to 3 space coordinates
CERTIFY_BUDGET = 2**20  # cells examined at most
CERTIFY_INITIAL = 2**10  # cells of the first uniform grid
CERTIFY_BATCH = 2**14  # cells per enclosure batch
# u(c) is computed in float64: a relative slack for its rounding.
EXACT_SLACK = 1e-12


@dataclass(frozen=True)
class ValueCertificate:
    """bound >= sup_Q |u - R Phi| / omega (given the growth data); reached: bound <= target."""

    bound: float
    target: float
    cells: int
    reached: bool


def cell_bounds(network: ReLUNetwork, problem: PDEProblem, lower: Tensor, upper: Tensor) -> Tensor:
    """The certified bound of |u - R Phi| / omega on each cell [lower_k, upper_k] (see the module)."""
    growth = problem.spec.growth
    assert growth is not None and problem.exact is not None
    timed = problem.slab is not None
    space = slice(1, None) if timed else slice(0, None)
    center, half = (lower + upper) / 2, (upper - lower) / 2
    radius = half.norm(dim=1)
    lo_x, hi_x = lower[:, space], upper[:, space]
    farthest = torch.maximum(lo_x.abs(), hi_x.abs()).norm(dim=1)
    nearest = torch.where(
        (lo_x <= 0) & (hi_x >= 0), torch.zeros_like(lo_x), torch.minimum(lo_x.abs(), hi_x.abs())
    )
    omega = 1.0 + nearest.norm(dim=1) ** (growth.kappa + 1.0)
    found = problem.exact_values(center)
    assert found is not None
    u_center = found[0]
    u_center_slack = EXACT_SLACK * (1.0 + u_center.abs())
    lo, hi = enclose_values(network, lower, upper)
    bound_du = torch.from_numpy(gradient_growth(growth.kappa, growth.constant, farthest.numpy(), timed))
    spread = bound_du * radius + u_center_slack
    error = torch.maximum(u_center + spread - lo[:, 0], hi[:, 0] - u_center + spread)
    bounds: Tensor = error / omega
    return bounds


def _initial_cells(problem: PDEProblem) -> tuple[Tensor, Tensor]:
    n_inputs = problem.n_inputs
    per_axis = max(1, math.ceil(CERTIFY_INITIAL ** (1.0 / n_inputs)))
    lo_q = problem.input_center - problem.input_half
    width = 2 * problem.input_half / per_axis
    index = torch.cartesian_prod(*[torch.arange(per_axis, dtype=DTYPE)] * n_inputs).reshape(-1, n_inputs)
    lower = lo_q + index * width
    return lower, lower + width


def _split(lower: Tensor, upper: Tensor) -> tuple[Tensor, Tensor]:
    """Halve every cell along every axis: 2^n children per cell."""
    n = lower.shape[1]
    middle = (lower + upper) / 2
    corners = torch.cartesian_prod(*[torch.tensor([0.0, 1.0], dtype=DTYPE)] * n).reshape(-1, n)
    half = middle - lower
    child_lower = (lower.unsqueeze(1) + corners.unsqueeze(0) * half.unsqueeze(1)).reshape(-1, n)
    child_upper = torch.where(corners.unsqueeze(0) > 0, upper.unsqueeze(1), middle.unsqueeze(1)).reshape(
        -1, n
    )
    return child_lower, child_upper


def certify_value_error(network: ReLUNetwork, problem: PDEProblem, target: float) -> ValueCertificate:
    """Refine cells of Q until every cell's certified bound is <= ``target`` or the budget is
    spent; the certificate's bound is the largest bound over the final cells."""
    lower, upper = _initial_cells(problem)
    children = 2**problem.n_inputs
    examined, worst = 0, 0.0
    reached = True
    while lower.shape[0]:
        bounds = torch.cat(
            [
                cell_bounds(network, problem, lo, hi)
                for lo, hi in zip(
                    torch.split(lower, CERTIFY_BATCH), torch.split(upper, CERTIFY_BATCH), strict=True
                )
            ]
        )
        examined += lower.shape[0]
        over = bounds > target
        if (~over).any():
            worst = max(worst, float(bounds[~over].max()))
        if not over.any():
            break
        if examined + children * int(over.sum()) > CERTIFY_BUDGET:
            worst = max(worst, float(bounds[over].max()))
            reached = False
            break
        lower, upper = _split(lower[over], upper[over])
    return ValueCertificate(worst, target, examined, reached)
