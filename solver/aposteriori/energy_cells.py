"""Certified integrals of the energy majorant (solver/aposteriori/energy.py) by cell enclosures.

Each integral of the majorant is int phi over a box (the domain x slab, a face x slab, or the
domain at t0) with phi >= 0.  Split the box into cells C; then

    int phi <= sum_C |C| sup_C phi,

and sup_C phi is bounded by interval arithmetic: ``models.bounds.enclose_batch`` encloses
R Phi and D Phi on each cell (certified, with rounding slack), ``solver.intervals`` encloses
the data (source f, initial data u0), and the integrand is a sum of squares of interval
combinations, whose sup is at most the sum of max(lo^2, hi^2).  Cells with the largest
contribution are halved along every axis until the cell budget is spent.  The float64
summation of the cell contributions is widened by the relative slack ``SUM_SLACK``.

This makes the majorant ``certified`` (given its stated assumptions), for box domains with
at most ``MAX_INPUTS`` inputs (t included) and Dirichlet data that are constants (the lift
then needs only D Phi on the faces; data with a gradient would need enclosures of their
derivatives, which ``solver.intervals`` does not give).  Refinement converges like the cell
width: slower than Monte Carlo, so the certified figure is looser than the statistical one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from models import ReLUNetwork
from models.bounds import enclose_batch
from solver.aposteriori.bound import NoGuaranteeError
from solver.domains import DTYPE
from solver.expressions import Expression
from solver.intervals import Interval, enclose_expression, space_intervals
from solver.kinds.divergence_form import DivergenceFormProblem
from solver.problems import apply_matrix
from solver.spec import Initial

MAX_INPUTS = 3
VOLUME_CELLS = 2**15  # cells examined at most per volume integral
FACE_CELLS = 2**10  # uniform cells per face
INITIAL_CELLS = 2**12
REFINE_SHARE = 0.25  # each round halves the quarter of the cells that contribute most
MIN_REFINE = 256  # ... or all of them when there are fewer (rounds then double the cells)
SUM_SLACK = 1e-10

Integrand = Callable[[Tensor, Tensor], Tensor]  # (lower, upper) (K, n) -> sup of each phi_j, (K, J)


def _square_sup(lo: Tensor, hi: Tensor) -> Tensor:
    """sup of v^2 over v in [lo, hi]."""
    return torch.maximum(lo.abs(), hi.abs()) ** 2


def grid(lower: Tensor, upper: Tensor, cells: int) -> tuple[Tensor, Tensor]:
    """About ``cells`` uniform cells of the box [lower, upper] (1-D tensors); an axis of zero
    width (a face, a time slice) keeps one cell."""
    positive = [i for i in range(lower.numel()) if float(upper[i] - lower[i]) > 0]
    per = max(1, round(cells ** (1.0 / max(len(positive), 1))))
    per_axis = [per if i in positive else 1 for i in range(lower.numel())]
    index = torch.cartesian_prod(*[torch.arange(n, dtype=DTYPE) for n in per_axis]).reshape(-1, lower.numel())
    counts = torch.tensor(per_axis, dtype=DTYPE)
    width = (upper - lower) / counts
    low = lower + index * width
    high = torch.where(index + 1 == counts, upper, lower + (index + 1) * width)
    return low, high


def _split(lower: Tensor, upper: Tensor, positive: list[int]) -> tuple[Tensor, Tensor]:
    """Halve each cell along the axes ``positive`` (2^len(positive) children)."""
    n = lower.shape[1]
    middle = (lower + upper) / 2
    corners = torch.zeros(2 ** len(positive), n, dtype=DTYPE)
    if positive:
        bits = torch.cartesian_prod(*[torch.tensor([0.0, 1.0], dtype=DTYPE)] * len(positive))
        corners[:, positive] = bits.reshape(-1, len(positive))
    upper_half = corners.unsqueeze(0) > 0
    low = torch.where(upper_half, middle.unsqueeze(1), lower.unsqueeze(1)).reshape(-1, n)
    high = torch.where(upper_half, upper.unsqueeze(1), middle.unsqueeze(1))  # zero-width axes: all equal
    return low, high.reshape(-1, n)


def _measure(lower: Tensor, upper: Tensor) -> Tensor:
    """|C| over the axes of positive width (a face or a time slice is a lower-dimensional cell)."""
    width = upper - lower
    return torch.where(width > 0, width, torch.ones_like(width)).prod(1)


def integrate(integrand: Integrand, lower: Tensor, upper: Tensor, budget: int) -> list[float]:
    """Certified upper bounds of int phi_j over the box [lower, upper] (1-D tensors): sum of
    |C| sup_C phi_j over cells, refining the cells whose summed relative contribution is
    largest until about ``budget`` cells have been examined."""
    positive = [i for i in range(lower.numel()) if float(upper[i] - lower[i]) > 0]
    low, high = grid(lower, upper, max(1, budget // 8))
    done: Tensor | None = None
    examined = 0
    while True:
        parts = _measure(low, high).unsqueeze(1) * integrand(low, high)
        examined += low.shape[0]
        cut = max(min(low.shape[0], MIN_REFINE), int(low.shape[0] * REFINE_SHARE))
        if examined + cut * 2 ** len(positive) > budget or not positive:
            total = parts.sum(0) if done is None else done + parts.sum(0)
            return [float(v) * (1 + SUM_SLACK) for v in total]
        totals = parts.sum(0) if done is None else done + parts.sum(0)
        weight = (parts / totals.clamp_min(1e-300)).sum(1)
        order = torch.argsort(weight, descending=True)
        kept = parts[order[cut:]].sum(0)
        done = kept if done is None else done + kept
        low, high = _split(low[order[:cut]], high[order[:cut]], positive)


class _Cells:
    """Interval enclosures of the network and the data on cells of the input space."""

    def __init__(self, network: ReLUNetwork, problem: DivergenceFormProblem) -> None:
        self.network = network
        self.problem = problem
        self.space = slice(1, None) if problem.has_time else slice(0, None)

    def enclose(self, lower: Tensor, upper: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return enclose_batch(self.network, lower, upper)

    def data(self, expr: Expression, lower: Tensor, upper: Tensor, timed: bool) -> Interval:
        env = space_intervals(lower, upper, self.problem.d, timed)
        return enclose_expression(expr, env, lower.shape[0])


def _interval_matvec(matrix: Tensor, lo: Tensor, hi: Tensor) -> tuple[Tensor, Tensor]:
    """Enclosure of M v for v in [lo, hi] (rows of (K, d)), M a constant matrix (rounding widened)."""
    mid, rad = (lo + hi) / 2, (hi - lo) / 2
    center = mid @ matrix.T
    radius = rad @ matrix.abs().T + 1e-14 * (mid.abs() @ matrix.abs().T + rad @ matrix.abs().T)
    return center - radius, center + radius


def _diffusion_matrix(problem: DivergenceFormProblem) -> Tensor:
    eye = torch.eye(problem.d, dtype=DTYPE)
    env = {"x_vec": torch.zeros(problem.d, problem.d, dtype=DTYPE)}
    return apply_matrix(problem.diffusion, env, eye).T


def volume_integrals(
    network: ReLUNetwork,
    problem: DivergenceFormProblem,
    k_min: float,
    drift: Tensor,
    reaction: float,
    effort: float = 1.0,
) -> tuple[float, float]:
    """Certified ||tau||^2 (via |sigma - K grad u|^2 / k_min) and ||r||^2 over the domain x slab."""
    cells = _Cells(network, problem)
    matrix = _diffusion_matrix(problem)
    xs = cells.space

    def both(lower: Tensor, upper: Tensor) -> tuple[Tensor, Tensor]:
        v_lo, v_hi, j_lo, j_hi = cells.enclose(lower, upper)
        k_lo, k_hi = _interval_matvec(matrix, j_lo[:, 0, xs], j_hi[:, 0, xs])
        flux = _square_sup(v_lo[:, 1:] - k_hi, v_hi[:, 1:] - k_lo).sum(1) / k_min
        d = problem.d
        div_lo = sum(j_lo[:, 1 + i, xs][:, i] for i in range(d))
        div_hi = sum(j_hi[:, 1 + i, xs][:, i] for i in range(d))
        f = cells.data(problem.source, lower, upper, problem.has_time)
        r_lo, r_hi = f.lo + div_lo, f.hi + div_hi
        if problem.has_time:
            r_lo, r_hi = r_lo - j_hi[:, 0, 0], r_hi - j_lo[:, 0, 0]
        b_lo, b_hi = _interval_matvec(drift.reshape(1, -1), j_lo[:, 0, xs], j_hi[:, 0, xs])
        r_lo, r_hi = r_lo - b_hi[:, 0], r_hi - b_lo[:, 0]
        r_lo = r_lo - torch.maximum(reaction * v_hi[:, 0], reaction * v_lo[:, 0])
        r_hi = r_hi - torch.minimum(reaction * v_hi[:, 0], reaction * v_lo[:, 0])
        slack = 1e-12 * (r_lo.abs() + r_hi.abs())
        return flux * (1 + 1e-12), _square_sup(r_lo - slack, r_hi + slack)

    lo = problem.input_center - problem.input_half
    hi = problem.input_center + problem.input_half
    budget = max(2**10, int(VOLUME_CELLS * effort))
    flux, residual = integrate(lambda a, b: torch.stack(both(a, b), 1), lo, hi, budget)
    return flux, residual


def _face_boxes(
    problem: DivergenceFormProblem, t_fixed: float | None
) -> list[tuple[Tensor, Tensor, int, float]]:
    """Each face as a degenerate input box (lower, upper), its axis and its half-width h."""
    region = problem.region
    faces = []
    for axis in range(problem.d):
        for end in (region.lower, region.upper):
            lo, hi = region.lower.clone(), region.upper.clone()
            lo[axis] = hi[axis] = end[axis]
            if problem.slab is not None:
                t_lo = problem.slab.start if t_fixed is None else t_fixed
                t_hi = problem.slab.end if t_fixed is None else t_fixed
                lo = torch.cat([torch.tensor([t_lo], dtype=DTYPE), lo])
                hi = torch.cat([torch.tensor([t_hi], dtype=DTYPE), hi])
            half = float(region.upper[axis] - region.lower[axis]) / 2
            faces.append((lo, hi, axis, half))
    return faces


def lift_integrals(network: ReLUNetwork, problem: DivergenceFormProblem, data: float) -> tuple[float, ...]:
    """Certified I1..I5 and I6 of the lift (energy.py) for constant Dirichlet data g = ``data``:
    m = g - u_h, its tangential gradient w = -grad_T u_h and m_t = -u_h,t on face cells."""
    cells = _Cells(network, problem)
    offset = 1 if problem.has_time else 0
    center = problem.region.center
    totals = [0.0] * 6
    for lo, hi, axis, half in _face_boxes(problem, None):
        low, high = grid(lo, hi, FACE_CELLS)
        v_lo, v_hi, j_lo, j_hi = cells.enclose(low, high)
        measure = _measure(low, high)
        m_sq = _square_sup(data - v_hi[:, 0], data - v_lo[:, 0])
        w_sq = torch.zeros_like(m_sq)
        q_lo, q_hi = torch.zeros_like(m_sq), torch.zeros_like(m_sq)
        for j in range(problem.d):
            if j == axis:
                continue
            w_lo, w_hi = -j_hi[:, 0, offset + j], -j_lo[:, 0, offset + j]
            w_sq = w_sq + _square_sup(w_lo, w_hi)
            y_lo, y_hi = low[:, offset + j] - center[j], high[:, offset + j] - center[j]
            products = torch.stack([y_lo * w_lo, y_lo * w_hi, y_hi * w_lo, y_hi * w_hi])
            q_lo, q_hi = q_lo + products.min(0).values, q_hi + products.max(0).values
        q_sq = _square_sup(q_lo, q_hi)
        totals[0] += float((measure * (half * w_sq + q_sq / half)).sum())
        totals[1] += float((measure * m_sq / half).sum())
        totals[2] += float((measure * m_sq.sqrt() * q_sq.sqrt() / half).sum())
        totals[3] += float((measure * half * m_sq).sum())
        if problem.has_time:
            totals[4] += float((measure * half * _square_sup(j_lo[:, 0, 0], j_hi[:, 0, 0])).sum())
    if problem.slab is not None:
        for lo, hi, _, half in _face_boxes(problem, problem.slab.start):
            low, high = grid(lo, hi, FACE_CELLS)
            v_lo, v_hi = cells.enclose(low, high)[:2]
            m_sq = _square_sup(data - v_hi[:, 0], data - v_lo[:, 0])
            totals[5] += float((_measure(low, high) * half * m_sq).sum())
    return tuple(v * (1 + SUM_SLACK) for v in totals)


def initial_integral(network: ReLUNetwork, problem: DivergenceFormProblem) -> float:
    """Certified ||u0 - u_h(t0)||^2 over the domain."""
    assert problem.slab is not None
    initial = [expr for cond, expr in problem.conditions if isinstance(cond, Initial)]
    if not initial:
        raise NoGuaranteeError("a time-dependent problem needs an initial condition")
    cells = _Cells(network, problem)
    t0 = problem.slab.start

    def phi(lower: Tensor, upper: Tensor) -> Tensor:
        v_lo, v_hi, _, _ = cells.enclose(lower, upper)
        u0 = cells.data(initial[0], lower[:, 1:], upper[:, 1:], False)
        return _square_sup(u0.lo - v_hi[:, 0], u0.hi - v_lo[:, 0])

    lo = (problem.input_center - problem.input_half).clone()
    hi = (problem.input_center + problem.input_half).clone()
    lo[0] = hi[0] = t0
    (value,) = integrate(lambda a, b: phi(a, b).unsqueeze(1), lo, hi, INITIAL_CELLS)
    return value


def constant_data(problem: DivergenceFormProblem) -> float:
    """The one constant of the Dirichlet data, or ``NoGuaranteeError``."""
    values = set()
    for cond, expr in problem.conditions:
        if isinstance(cond, Initial):
            continue
        if expr.names():
            raise NoGuaranteeError("certified lift integrals need constant Dirichlet data")
        values.add(float(expr.evaluate({}, torch.zeros(1, dtype=DTYPE))[0]))
    if len(values) != 1:
        raise NoGuaranteeError("certified lift integrals need one constant for all Dirichlet data")
    return values.pop()


def applies(problem: DivergenceFormProblem) -> str | None:
    """None when the certified integrals apply, else the reason they do not."""
    if problem.region.kind != "box":
        return "certified cells need a box domain"
    if problem.n_inputs > MAX_INPUTS:
        return f"certified cells need at most {MAX_INPUTS} inputs (t included)"
    try:
        constant_data(problem)
    except NoGuaranteeError as exc:
        return str(exc)
    diffusion = problem.diffusion
    entries = [diffusion] if isinstance(diffusion, Expression) else [e for row in diffusion for e in row]
    if any(e.names() for e in entries):
        return "certified cells need a constant diffusion"
    if not math.isfinite(float(problem.input_half.sum())):
        return "the domain must be bounded"
    return None
