"""The energy majorant with the boundary lift evaluated inside the residuals (energy.py, tighter).

energy.py bounds the lift's norms by boundary integrals and adds them by the triangle
inequality: ||tau_w|| <= ||tau|| + k_max^(1/2) ||grad e_b|| and so on.  Here the lift
e_b(x) = m(pi(x)) psi(s(x)) of energy.py is evaluated at each sample point instead, so the
residuals of w = u_h + e_b are integrated as they are:

    tau_w = K^(-1/2) sigma_h - K^(1/2) grad w,   |tau_w|^2 <= |sigma_h - K grad w|^2 / k_min,
    r_w   = r - [d_t e_b] - b . grad e_b - c e_b,

with, at x in the shell s > 1 - delta (face normal n and half-width h of the face of pi(x),
w the tangential gradient of m = g - u_h at pi(x), q = (pi(x) - c) . w; a ball: h = rho, q = 0):

    grad e_b = psi (w - n q / h) / s + m n / (delta h),     d_t e_b = psi m_t.

e_b vanishes in the core s <= 1 - delta, where the residuals are those of u_h.  Each
integral is split into core and shell, sampled uniformly in each (the core is Omega scaled
by 1 - delta about c; the shell by the cone coordinates x = c + s (y - c): face k with
probability proportional to |face_k| h_k, y uniform on it, s with density proportional to
s^(d-1) on (1 - delta, 1)), and bounded by its CLT upper bound.  Then, as in energy.py,

    E = ||tau_w|| + C ||r_w||,  ||grad(u* - u_h)|| <= k_min^(-1/2) E + ||grad e_b||,
    ||u* - u_h|| <= C E + ||e_b||        (stationary),

and with time M^2 = ||u0 - w(t0)||^2 + E^2 (Q-norms) in place of E, the value through
C (1 - exp(-(T - t0) / C^2))^(1/2) M.  The width delta is the one energy.py found best;
any width gives a valid bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from models import ReLUNetwork
from solver.aposteriori.confidence import mean_upper
from solver.domains import DTYPE, derived_seed
from solver.expressions import Expression, space_env
from solver.kinds.divergence_form import DivergenceFormProblem
from solver.problems import PointSet
from solver.spec import Initial

CORE_POINTS = 2**15
SHELL_POINTS = 2**15
COUNT_STATIONARY = 6  # core: tau, r; shell: tau, r, grad e_b, e_b
COUNT_TIMED = 8  # and the start: core, shell


@dataclass(frozen=True)
class Direct:
    """Upper bounds of the squared norms of tau_w, r_w, grad e_b, e_b and u0 - w(t0)."""

    flux: float
    residual: float
    grad_lift: float
    lift: float
    start: float


def _times(problem: DivergenceFormProblem, n: int, gen: torch.Generator, at_start: bool) -> Tensor | None:
    if problem.slab is None:
        return None
    if at_start:
        return torch.full((n,), problem.slab.start, dtype=DTYPE)
    return problem.slab.times(torch.rand(n, dtype=DTYPE, generator=gen))


def _core_points(problem: DivergenceFormProblem, n: int, delta: float, gen: torch.Generator) -> Tensor:
    region = problem.region
    y = region.interior(torch.rand(n, region.interior_columns(), dtype=DTYPE, generator=gen))
    return region.center + (1.0 - delta) * (y - region.center)


def _shell_points(problem: DivergenceFormProblem, n: int, delta: float, gen: torch.Generator) -> Tensor:
    """Uniform points of the shell 1 - delta < s <= 1 (cone coordinates, see the module)."""
    region = problem.region
    d = region.dimension
    if region.kind == "ball":
        direction = torch.randn(n, d, dtype=DTYPE, generator=gen)
        y = region.center + region.radius * direction / direction.norm(dim=1, keepdim=True)
    else:
        # the pyramid over face k has volume |face_k| h_k / d = |Omega| / (2 d): all faces alike
        face = torch.randint(0, 2 * d, (n,), generator=gen)
        y = region.lower + torch.rand(n, d, dtype=DTYPE, generator=gen) * (region.upper - region.lower)
        axis, upper = face // 2, (face % 2).bool()
        rows = torch.arange(n)
        y[rows, axis] = torch.where(upper, region.upper[axis], region.lower[axis])
    low = (1.0 - delta) ** d
    s = (low + torch.rand(n, 1, dtype=DTYPE, generator=gen) * (1.0 - low)) ** (1.0 / d)
    points: Tensor = region.center + s * (y - region.center)
    return points


def _gauge(problem: DivergenceFormProblem, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """s(x), the outward normal n of pi(x)'s face and its half-width h."""
    region = problem.region
    offset = x - region.center
    if region.kind == "ball":
        r = offset.norm(dim=1).clamp_min(1e-300)
        return r / region.radius, offset / r.unsqueeze(1), torch.full_like(r, region.radius)
    half = (region.upper - region.lower) / 2
    ratio = offset.abs() / half
    s, axis = ratio.max(dim=1)
    normal = torch.zeros_like(x)
    rows = torch.arange(x.shape[0])
    normal[rows, axis] = torch.sign(offset[rows, axis])
    return s, normal, half[axis]


def lift_at(
    network: ReLUNetwork,
    problem: DivergenceFormProblem,
    parts: list[tuple[str, Expression]],
    t: Tensor | None,
    x: Tensor,
    delta: float,
) -> tuple[Tensor, Tensor, Tensor]:
    """e_b, grad_x e_b and d_t e_b at the points (the lift of energy.py, width delta)."""
    from solver.aposteriori.energy import boundary_mismatch

    s, normal, half = _gauge(problem, x)
    region = problem.region
    pi = region.center + (x - region.center) / s.clamp_min(1e-300).unsqueeze(1)
    m, w, q, m_t = boundary_mismatch(network, problem, parts, PointSet(t, pi, normal))
    psi = ((s - 1.0 + delta) / delta).clamp(0.0, 1.0)
    active = (s > 1.0 - delta).to(DTYPE)
    grad = (psi / s).unsqueeze(1) * (w - normal * (q / half).unsqueeze(1)) + (
        active * m / (delta * half)
    ).unsqueeze(1) * normal
    return m * psi, grad, m_t * psi


def integrals(
    network: ReLUNetwork,
    problem: DivergenceFormProblem,
    parts: list[tuple[str, Expression]],
    k_min: float,
    drift: Tensor,
    reaction: float,
    delta: float,
    seed: int,
    share: float,
) -> Direct:
    """The squared norms of the module docstring, each a CLT upper bound at level share."""
    gen = torch.Generator().manual_seed(derived_seed(seed, "a-posteriori", "energy-shell"))
    from solver.aposteriori.energy import volume

    span = problem.slab.end - problem.slab.start if problem.slab is not None else 1.0
    whole = volume(problem) * span
    core_measure = whole * (1.0 - delta) ** problem.d
    shell_measure = whole - core_measure
    xs = slice(1, None) if problem.has_time else slice(0, None)

    def residuals(points: PointSet, e_b: Tensor, grad_e_b: Tensor, dt_e_b: Tensor) -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            u, jac = network.value_and_jacobian(points.inputs())
        env = space_env(points.t, points.x)
        flux = problem.flux_gap(env, u[:, 1:], jac[:, 0, xs] + grad_e_b) ** 2 / k_min
        signed = problem.signed_balance(points, u, jac)
        shifted = signed + dt_e_b + grad_e_b @ drift + reaction * e_b
        return flux, shifted**2

    core = PointSet(_times(problem, CORE_POINTS, gen, False), _core_points(problem, CORE_POINTS, delta, gen))
    zero = torch.zeros(CORE_POINTS, dtype=DTYPE)
    core_flux, core_res = residuals(core, zero, torch.zeros_like(core.x), zero)
    shell = PointSet(
        _times(problem, SHELL_POINTS, gen, False), _shell_points(problem, SHELL_POINTS, delta, gen)
    )
    e_b, grad_e_b, dt_e_b = lift_at(network, problem, parts, shell.t, shell.x, delta)
    shell_flux, shell_res = residuals(shell, e_b, grad_e_b, dt_e_b)
    flux = core_measure * mean_upper(core_flux, share) + shell_measure * mean_upper(shell_flux, share)
    residual = core_measure * mean_upper(core_res, share) + shell_measure * mean_upper(shell_res, share)
    grad_lift = shell_measure * mean_upper((grad_e_b**2).sum(1), share)
    lift = shell_measure * mean_upper(e_b**2, share)
    start = 0.0
    if problem.slab is not None:
        start = _start(network, problem, parts, delta, gen, share, whole / span, (1.0 - delta) ** problem.d)
    return Direct(flux, residual, grad_lift, lift, start)


def _start(
    network: ReLUNetwork,
    problem: DivergenceFormProblem,
    parts: list[tuple[str, Expression]],
    delta: float,
    gen: torch.Generator,
    share: float,
    space_volume: float,
    delta_d: float,
) -> float:
    """||u0 - (u_h + e_b)(t0)||^2 over Omega: core and shell at t = t0."""
    initial = [expr for cond, expr in problem.conditions if isinstance(cond, Initial)]
    total = 0.0
    for where, measure in (("core", space_volume * delta_d), ("shell", space_volume * (1.0 - delta_d))):
        n = CORE_POINTS if where == "core" else SHELL_POINTS
        x = (_core_points if where == "core" else _shell_points)(problem, n, delta, gen)
        t = _times(problem, n, gen, True)
        points = PointSet(t, x)
        with torch.no_grad():
            u, _ = network.value_and_jacobian(points.inputs())
        e_b = torch.zeros(n, dtype=DTYPE)
        if where == "shell":
            e_b = lift_at(network, problem, parts, t, x, delta)[0]
        u0 = initial[0].evaluate(space_env(None, x), x[:, 0])
        total += measure * mean_upper((u0 - u[:, 0] - e_b) ** 2, share)
    return total


def majorant(found: Direct, k_min: float, c_f: float, span: float | None) -> tuple[float, float]:
    """(||u* - u_h||, ||grad(u* - u_h)||) over Omega (x slab): see the module docstring."""
    c = c_f / math.sqrt(k_min)
    energy = math.sqrt(found.flux) + c * math.sqrt(found.residual)
    if span is None:
        value = c * energy
    else:
        energy = math.sqrt(found.start + energy**2)
        value = c * math.sqrt(-math.expm1(-span / c**2)) * energy
    return value + math.sqrt(found.lift), energy / math.sqrt(k_min) + math.sqrt(found.grad_lift)
