"""Divergence-form problems: the functional majorant of Repin (2008) with an explicit boundary lift.

The problem  [u_t] - div(K grad u) + b . grad u + c u = f  in Omega (x (t0, T)), u = g on the
boundary (Dirichlet everywhere), [u(t0) = u0].  The network gives u_h and a flux sigma_h;
nothing ties sigma_h to u_h, which is what makes a guaranteed bound possible (Prager-Synge).
Assumptions: K symmetric with k_min > 0 (the smallest eigenvalue over Omega; for a scalar
K(t, x) certified bounds k_min <= K <= k_max from interval enclosures on cells), b constant,
c >= 0 constant (then int (b . grad v + c v) v >= 0 for v = 0 on the boundary).

Per point (docs/error-estimates.md derives every line):

    tau = K^(-1/2) sigma_h - K^(1/2) grad u_h,   |tau|^2 <= |sigma_h - K grad u_h|^2 / k_min(x)
    r   = f - [u_h,t] + div sigma_h - b . grad u_h - c u_h      (the balance residual)

**Boundary lift.**  u* - u_h has the trace m = g - u_h on the boundary.  With s(x) the
gauge of Omega about its centre c (box: max_i |x_i - c_i| / h_i; ball: |x - c| / rho), the
projection pi(x) = c + (x - c) / s onto the boundary, and psi(s) = max(0, (s - 1 + delta) / delta),
e_b(x) = m(pi(x)) psi(s(x)) is Lipschitz with trace m and lives in the shell s > 1 - delta.
In the cone coordinates x = c + s (y - c), y on the boundary, dx = s^(d-1) h(y) ds dsigma(y)
(h: the half-width normal to y's face; rho for a ball), and with w the tangential gradient
of m at y and q = (y - c) . w (0 on a ball):

    |grad e_b|^2 = psi^2 |w|^2 / s^2 + (m / (delta h) - psi q / (s h))^2,
    ||grad e_b||^2 <= delta / (3 (1 - delta)^2) I1 + I2 / delta + I3 / (1 - delta),
    ||e_b||^2 <= delta / 3 I4,        ||d_t e_b||^2 <= delta / 3 I5,
    I1 = int h |w|^2 + q^2 / h,  I2 = int m^2 / h,  I3 = int |m| |q| / h,  I4 = int h m^2,
    I5 = int h m_t^2  (boundary integrals, over (t0, T) too when timed).

Every delta in (0, 1) gives a valid lift; the bound takes the best delta of a grid.

**Stationary.**  v = u* - (u_h + e_b) vanishes on the boundary, so with C = C_F k_min^(-1/2)
(C_F the Friedrichs constant: ||v|| <= C_F ||grad v||):

    E = ||K^(1/2) grad v|| <= ||tau_w|| + C ||r_w||,
    ||tau_w|| <= ||tau|| + k_max^(1/2) ||grad e_b||,
    ||r_w|| <= ||r|| + |b| ||grad e_b|| + c ||e_b||,
    ||grad(u* - u_h)|| <= k_min^(-1/2) E + ||grad e_b||,   ||u* - u_h|| <= C E + ||e_b||.

**Time-dependent.**  Testing the equation of v with v and Young's inequality,
||v(t)||^2 + int_t0^t ||K^(1/2) grad v||^2 <= ||v(t0)||^2 + (C ||r_w||_Q + ||tau_w||_Q)^2 =: M^2
for every t (r_w also carries - d_t e_b), so ||grad v||_Q <= k_min^(-1/2) M.  With
||v|| <= C ||K^(1/2) grad v|| the same identity gives a' <= F^2 - a / C^2 for a = ||v(t)||^2,
F = C ||r_w|| + ||tau_w||, hence ||v||_Q <= C (1 - exp(-(T - t0) / C^2))^(1/2) M (which
tends to (T - t0)^(1/2) M for short slabs), with ||v(t0)|| <= ||u0 - u_h(t0)|| + ||e_b(t0)||.

The rms figures divide by |Omega|^(1/2) (times (T - t0)^(1/2)).  The integrals are Monte
Carlo means over i.i.d. uniform points with CLT upper confidence bounds, split by a union
bound: the bounds are ``statistical`` at ``CONFIDENCE``.  The maxima have no bound from an
energy argument in d >= 2: they are ``indicator`` entries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from models import ReLUNetwork
from solver.aposteriori.bound import CONFIDENCE, ErrorBound, NoGuaranteeError, no_guarantee
from solver.aposteriori.confidence import mean_upper
from solver.domains import DTYPE, derived_seed
from solver.expressions import Expression, space_env
from solver.kinds.divergence_form import DivergenceFormProblem
from solver.problems import PointSet
from solver.spec import Dirichlet, DivergenceForm, Initial

INTERIOR_POINTS = 2**16
BOUNDARY_POINTS = 2**15
DELTAS = torch.logspace(-5, math.log10(0.5), 200, dtype=DTYPE)


@dataclass(frozen=True)
class Coefficients:
    """Constants of the majorant: k_min, k_max, |b|, c and the Friedrichs constant C_F."""

    k_min: float
    k_max: float
    drift: float
    reaction: float
    friedrichs: float


def _constant(expr: Expression) -> float | None:
    if expr.names():
        return None
    one = torch.zeros(1, dtype=DTYPE)
    return float(expr.evaluate({}, one)[0])


#: cells of the enclosure of a variable diffusion, about this many in all
DIFFUSION_CELLS = 2**16


def enclosed_range(expr: Expression, problem: DivergenceFormProblem) -> tuple[float, float]:
    """Certified [lo, hi] of a scalar K(t, x) over the domain's bounding box (x the time slab):
    the interval enclosure (solver.intervals) on a grid of about DIFFUSION_CELLS cells, the
    least lower and the greatest upper end.  lo <= K <= hi everywhere, so k_min >= lo and
    k_max <= hi hold for the majorant; a loose enclosure only loosens the bound."""
    from solver.aposteriori.energy_cells import grid
    from solver.intervals import enclose_expression, space_intervals

    center, half = problem.input_center.to(DTYPE), problem.input_half.to(DTYPE)  # t first
    cell_lo, cell_hi = grid(center - half, center + half, DIFFUSION_CELLS)
    env = space_intervals(cell_lo, cell_hi, problem.d, problem.has_time)
    try:
        enclosure = enclose_expression(expr, env, cell_lo.shape[0])
    except ValueError as exc:
        raise NoGuaranteeError(f"the diffusion has no interval enclosure on the domain: {exc}") from None
    return float(enclosure.lo.min()), float(enclosure.hi.max())


def _diffusion_range(problem: DivergenceFormProblem) -> tuple[float, float]:
    """(k_min, k_max): exact for a constant diffusion (scalar or symmetric matrix), certified
    bounds from interval enclosures for a scalar K(t, x) (``enclosed_range``)."""
    diffusion = problem.diffusion
    if isinstance(diffusion, Expression):
        k = _constant(diffusion)
        if k is None:
            if "u" in diffusion.names():
                raise NoGuaranteeError(
                    "a diffusion K(u) makes the problem nonlinear: the majorant needs K(t, x)"
                )
            low, high = enclosed_range(diffusion, problem)
            if not (math.isfinite(low) and math.isfinite(high)) or low <= 0:
                raise NoGuaranteeError(
                    f"the diffusion is not certified positive on the domain (its enclosure reaches {low:.3g})"
                )
            return low, high
        if k <= 0:
            raise NoGuaranteeError(f"the diffusion {k} is not positive")
        return k, k
    entries = [[_constant(e) for e in row] for row in diffusion]
    if any(v is None for row in entries for v in row):
        raise NoGuaranteeError(
            "a variable diffusion matrix needs certified eigenvalue bounds, not implemented yet"
        )
    matrix = torch.tensor(entries, dtype=DTYPE)
    if not torch.allclose(matrix, matrix.T, rtol=0.0, atol=1e-14):
        raise NoGuaranteeError("the diffusion matrix is not symmetric")
    eig = torch.linalg.eigvalsh(matrix)
    if float(eig[0]) <= 0:
        raise NoGuaranteeError("the diffusion matrix is not positive definite")
    return float(eig[0]), float(eig[-1])


def friedrichs_constant(problem: DivergenceFormProblem) -> float:
    """C_F with ||v|| <= C_F ||grad v|| for v = 0 on the boundary: a box with sides L_i has
    1 / (pi (sum L_i^-2)^(1/2)); a ball of radius rho has rho / j (j the first zero of the
    Bessel function J_(d/2-1): pi/2, 2.404825557695773, pi for d = 1, 2, 3) and, beyond
    d = 3, the cube [-rho, rho]^d's constant (the ball lies in it: domain monotonicity)."""
    region = problem.region
    if region.kind == "box":
        sides = region.upper - region.lower
        return 1.0 / (math.pi * float((sides**-2).sum().sqrt()))
    rho, d = region.radius, region.dimension
    zeros = {1: math.pi / 2, 2: 2.404825557695773, 3: math.pi}
    if d in zeros:
        return rho / zeros[d]
    return 2 * rho / (math.pi * math.sqrt(d))


def coefficients(problem: DivergenceFormProblem) -> Coefficients:
    """The constants, or ``NoGuaranteeError`` when an assumption of the majorant fails."""
    spec = problem.spec
    assert isinstance(spec, DivergenceForm)
    if problem.region.kind not in ("box", "ball"):
        raise NoGuaranteeError("the majorant needs a bounded domain")
    k_min, k_max = _diffusion_range(problem)
    drift = 0.0
    if problem.drift is not None:
        values = [_constant(b) for b in problem.drift]
        if any(v is None for v in values):
            raise NoGuaranteeError("a variable drift b needs div b, not implemented: use a constant drift")
        drift = math.sqrt(sum(float(v) ** 2 for v in values if v is not None))
    reaction = _constant(problem.reaction)
    if reaction is None or reaction < 0:
        raise NoGuaranteeError("the majorant needs a constant reaction c >= 0")
    return Coefficients(k_min, k_max, drift, reaction, friedrichs_constant(problem))


def dirichlet_everywhere(problem: DivergenceFormProblem) -> list[tuple[str, Expression]]:
    """The Dirichlet data by boundary part, or ``NoGuaranteeError`` if some part has other data."""
    parts: list[tuple[str, Expression]] = []
    for cond, expr in problem.conditions:
        if isinstance(cond, Initial):
            continue
        if not isinstance(cond, Dirichlet):
            raise NoGuaranteeError(
                "a Neumann part needs a trace estimate, not implemented: only Dirichlet data"
            )
        parts.append((cond.on, expr))
    on = {name for name, _ in parts}
    if "boundary" in on:
        return parts
    faces = {f"x{i}={end}" for i in range(problem.d) for end in ("lower", "upper")}
    if problem.region.kind != "box" or not faces <= on:
        raise NoGuaranteeError("some part of the boundary carries no Dirichlet data")
    return parts


# ---------------------------------------------------------------------- sampling
def _times(problem: DivergenceFormProblem, n: int, gen: torch.Generator) -> Tensor | None:
    if problem.slab is None:
        return None
    return problem.slab.times(torch.rand(n, dtype=DTYPE, generator=gen))


def _interior_points(problem: DivergenceFormProblem, n: int, gen: torch.Generator) -> PointSet:
    cols = problem.region.interior_columns()
    x = problem.region.interior(torch.rand(n, cols, dtype=DTYPE, generator=gen))
    return PointSet(_times(problem, n, gen), x)


def _boundary_points(problem: DivergenceFormProblem, n: int, gen: torch.Generator) -> tuple[PointSet, Tensor]:
    """Uniform points on the boundary (area-weighted faces) and h(y), the half-width normal to
    y's face (a ball: its radius)."""
    region = problem.region
    x, normals = region.boundary(
        torch.rand(n, region.boundary_columns(), dtype=DTYPE, generator=gen), "boundary"
    )
    if region.kind == "ball":
        half = torch.full((n,), region.radius, dtype=DTYPE)
    else:
        half_widths = (region.upper - region.lower) / 2
        half = (normals.abs() * half_widths).sum(1)
    return PointSet(_times(problem, n, gen), x, normals), half


def boundary_area(problem: DivergenceFormProblem) -> float:
    """|boundary|: a box's faces, or the sphere 2 pi^(d/2) rho^(d-1) / Gamma(d/2)."""
    region = problem.region
    d = region.dimension
    if region.kind == "ball":
        return float(2 * math.pi ** (d / 2) / math.gamma(d / 2) * region.radius ** (d - 1))
    sides = region.upper - region.lower
    return float(sum(2 * sides.prod() / sides[i] for i in range(d)))


def volume(problem: DivergenceFormProblem) -> float:
    """|Omega|: a box's product of sides, or the ball pi^(d/2) rho^d / Gamma(d/2 + 1)."""
    region = problem.region
    d = region.dimension
    if region.kind == "ball":
        return float(math.pi ** (d / 2) / math.gamma(d / 2 + 1) * region.radius**d)
    return float((region.upper - region.lower).prod())


# ---------------------------------------------------------------------- integrands
def _inputs(points: PointSet) -> Tensor:
    return points.inputs()


def _data_and_gradient(
    problem: DivergenceFormProblem, parts: list[tuple[str, Expression]], points: PointSet
) -> tuple[Tensor, Tensor, Tensor]:
    """g, its space gradient and g_t at boundary points (by autograd through the evaluator)."""
    n = points.x.shape[0]
    inputs = points.inputs().detach().clone().requires_grad_(True)
    t = inputs[:, 0] if problem.has_time else None
    x = inputs[:, 1:] if problem.has_time else inputs
    assert points.normals is not None
    value = torch.zeros(n, dtype=DTYPE)
    assigned = torch.zeros(n, dtype=torch.bool)
    # A face's own data wins over "boundary" (conditions are checked for overlap by the spec).
    for on, expr in sorted(parts, key=lambda item: item[0] == "boundary"):
        mask = _on_part(problem, on, x.detach(), points.normals) & ~assigned
        if mask.any():
            value = torch.where(mask, expr.evaluate(space_env(t, x), x[:, 0]), value)
            assigned |= mask
    grad = None
    if value.requires_grad:
        (grad,) = torch.autograd.grad(value.sum(), inputs, allow_unused=True)
    grad = torch.zeros_like(inputs) if grad is None else grad
    space = grad[:, 1:] if problem.has_time else grad
    g_t = grad[:, 0] if problem.has_time else torch.zeros(n, dtype=DTYPE)
    return value.detach(), space.detach(), g_t.detach()


def _on_part(problem: DivergenceFormProblem, on: str, x: Tensor, normals: Tensor) -> Tensor:
    if on == "boundary":
        return torch.ones(x.shape[0], dtype=torch.bool)
    axis, end = on[1:].split("=")
    sign = 1.0 if end == "upper" else -1.0
    return normals[:, int(axis)] == sign


@dataclass(frozen=True)
class Integrals:
    """Upper confidence bounds of the integrals of the majorant (see the module)."""

    flux: float  # ||tau||^2 over Omega (x slab)
    residual: float  # ||r||^2
    initial: float  # ||u0 - u_h(t0)||^2 over Omega (0 when stationary)
    lift: tuple[float, float, float, float, float, float]  # I1..I5 and I6 = int h m(t0)^2


def integrals(
    network: ReLUNetwork, problem: DivergenceFormProblem, coeffs: Coefficients, seed: int, delta: float
) -> Integrals:
    """Each integral's CLT upper bound at level 1 - delta / (number of integrals)."""
    parts = dirichlet_everywhere(problem)
    timed = problem.slab is not None
    count = 3 + 5 + (2 if timed else 0)  # flux, residual, I1..I4 (+ I5, initial, I6)
    share = delta / count
    gen = torch.Generator().manual_seed(derived_seed(seed, "a-posteriori", "energy"))
    span = problem.slab.end - problem.slab.start if problem.slab is not None else 1.0
    vol = volume(problem) * span
    # interior: ||tau||^2 and ||r||^2
    inner = _interior_points(problem, INTERIOR_POINTS, gen)
    with torch.no_grad():
        u, jac = network.value_and_jacobian(_inputs(inner))
    found = problem.residuals("interior", inner, u, jac)
    flux = vol * mean_upper(found["flux"] ** 2 / coeffs.k_min, share)
    residual = vol * mean_upper(found["balance"] ** 2, share)
    # boundary: the lift integrals
    area = boundary_area(problem) * span
    edge, half = _boundary_points(problem, BOUNDARY_POINTS, gen)
    lift = _lift_integrals(network, problem, parts, edge, half, area, share)
    initial, i6 = 0.0, 0.0
    if timed:
        initial, i6 = _initial_integrals(network, problem, parts, gen, share)
    return Integrals(flux, residual, initial, (*lift, i6))


def boundary_mismatch(
    network: ReLUNetwork, problem: DivergenceFormProblem, parts: list[tuple[str, Expression]], edge: PointSet
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """At boundary points y with normals n: m = g - u_h, its tangential gradient w,
    q = (y - c) . w (0 on a ball) and m_t = g_t - u_h,t (0 without time)."""
    assert edge.normals is not None
    with torch.no_grad():
        u, jac = network.value_and_jacobian(edge.inputs())
    g, grad_g, g_t = _data_and_gradient(problem, parts, edge)
    xs = slice(1, None) if problem.has_time else slice(0, None)
    m = g - u[:, 0]
    w = grad_g - jac[:, 0, xs]
    n = edge.normals
    w = w - (w * n).sum(1, keepdim=True) * n  # tangential
    if problem.region.kind == "ball":
        q = torch.zeros_like(m)
    else:
        q = ((edge.x - problem.region.center) * w).sum(1)
    m_t = g_t - jac[:, 0, 0] if problem.has_time else torch.zeros_like(m)
    return m, w, q, m_t


def _lift_integrals(
    network: ReLUNetwork,
    problem: DivergenceFormProblem,
    parts: list[tuple[str, Expression]],
    edge: PointSet,
    half: Tensor,
    area: float,
    share: float,
) -> tuple[float, float, float, float, float]:
    m, w, q, m_t = boundary_mismatch(network, problem, parts, edge)
    i1 = area * mean_upper(half * (w**2).sum(1) + q**2 / half, share)
    i2 = area * mean_upper(m**2 / half, share)
    i3 = area * mean_upper(m.abs() * q.abs() / half, share)
    i4 = area * mean_upper(half * m**2, share)
    i5 = area * mean_upper(half * m_t**2, share) if problem.has_time else 0.0
    return i1, i2, i3, i4, i5


def _initial_integrals(
    network: ReLUNetwork,
    problem: DivergenceFormProblem,
    parts: list[tuple[str, Expression]],
    gen: torch.Generator,
    share: float,
) -> tuple[float, float]:
    """||u0 - u_h(t0)||^2 over Omega and I6 = int_boundary h m(t0)^2."""
    assert problem.slab is not None
    initial = [expr for cond, expr in problem.conditions if isinstance(cond, Initial)]
    if not initial:
        raise NoGuaranteeError("a time-dependent problem needs an initial condition")
    t0 = problem.slab.start
    inner = _interior_points(problem, INTERIOR_POINTS, gen)
    inner.t = torch.full_like(inner.x[:, 0], t0)
    with torch.no_grad():
        u, _ = network.value_and_jacobian(inner.inputs())
    u0 = initial[0].evaluate(space_env(None, inner.x), inner.x[:, 0])
    first = volume(problem) * mean_upper((u0 - u[:, 0]) ** 2, share)
    edge, half = _boundary_points(problem, BOUNDARY_POINTS, gen)
    edge.t = torch.full_like(edge.x[:, 0], t0)
    with torch.no_grad():
        ub, _ = network.value_and_jacobian(edge.inputs())
    g, _, _ = _data_and_gradient(problem, parts, edge)
    second = boundary_area(problem) * mean_upper(half * (g - ub[:, 0]) ** 2, share)
    return first, second


# ---------------------------------------------------------------------- the bound
@dataclass(frozen=True)
class Majorant:
    """||u* - u_h|| and ||grad(u* - u_h)|| over Omega (x slab), and the lift widths delta
    that give them (each figure minimizes over its own width)."""

    value: float
    gradient: float
    energy: float
    delta: float
    gradient_delta: float


def majorant(found: Integrals, coeffs: Coefficients, span: float | None) -> Majorant:
    """The bound of the module docstring for the best lift width delta on a grid."""
    i1, i2, i3, i4, i5, i6 = found.lift
    d = DELTAS
    grad_lift = (d / (3 * (1 - d) ** 2) * i1 + i2 / d + i3 / (1 - d)).sqrt()
    lift = (d / 3 * i4).sqrt()
    lift_t = (d / 3 * i5).sqrt()
    c_f = coeffs.friedrichs / math.sqrt(coeffs.k_min)
    tau = math.sqrt(found.flux) + math.sqrt(coeffs.k_max) * grad_lift
    res = math.sqrt(found.residual) + coeffs.drift * grad_lift + coeffs.reaction * lift + lift_t
    energy = tau + c_f * res
    if span is None:
        value = c_f * energy + lift
    else:
        start = math.sqrt(found.initial) + (d / 3 * i6).sqrt()
        energy = (start**2 + energy**2).sqrt()
        value = c_f * math.sqrt(-math.expm1(-span / c_f**2)) * energy + lift
    gradient = energy / math.sqrt(coeffs.k_min) + grad_lift
    # every width gives a valid lift, so each figure takes its own best one
    best_value, best_gradient = int(torch.argmin(value)), int(torch.argmin(gradient))
    return Majorant(
        float(value[best_value]),
        float(gradient[best_gradient]),
        float(energy[best_gradient]),
        float(d[best_value]),
        float(d[best_gradient]),
    )


def _drift_vector(problem: DivergenceFormProblem) -> Tensor:
    """The constant drift b (zeros without drift; ``coefficients`` checked it is constant)."""
    if problem.drift is None:
        return torch.zeros(problem.d, dtype=DTYPE)
    return torch.tensor([_constant(b) for b in problem.drift], dtype=DTYPE)


def bounds(
    network: ReLUNetwork, problem: DivergenceFormProblem, seed: int, effort: float = 1.0
) -> list[ErrorBound]:
    """The majorant's rms bounds (statistical) and sampled indicators of the maxima."""
    from solver.aposteriori import energy_shell

    timed = problem.slab is not None
    boundary_count = 10 if timed else 8
    shell_count = energy_shell.COUNT_TIMED if timed else energy_shell.COUNT_STATIONARY
    delta = 1.0 - CONFIDENCE  # split over both sets of integrals: both figures hold together
    try:
        coeffs = coefficients(problem)
        parts = dirichlet_everywhere(problem)
        boundary_delta = delta * boundary_count / (boundary_count + shell_count)
        found = integrals(network, problem, coeffs, seed, boundary_delta)
    except NoGuaranteeError as exc:
        return no_guarantee(str(exc))
    span = problem.slab.end - problem.slab.start if problem.slab is not None else None
    bound = majorant(found, coeffs, span)
    direct = energy_shell.integrals(
        network,
        problem,
        parts,
        coeffs.k_min,
        _drift_vector(problem),
        coeffs.reaction,
        bound.delta,
        seed,
        delta / (boundary_count + shell_count),
    )
    value, gradient = energy_shell.majorant(direct, coeffs.k_min, coeffs.friedrichs, span)
    value, gradient = min(bound.value, value), min(bound.gradient, gradient)
    bound = Majorant(value, gradient, bound.energy, bound.delta, bound.gradient_delta)
    measure = math.sqrt(volume(problem) * (span if span is not None else 1.0))
    diffusion = (
        "K constant symmetric positive definite"
        if coeffs.k_min == coeffs.k_max
        else (f"K(t, x) scalar, certified in [{coeffs.k_min:.4g}, {coeffs.k_max:.4g}] by interval enclosures")
    )
    premises = f"{diffusion}, constant drift, constant reaction c >= 0, Dirichlet data on the whole boundary"
    assumptions = f"{premises}, CLT normal approximation of each Monte Carlo mean"
    how = (
        f"Repin's functional majorant with the trained flux sigma (C_F = {coeffs.friedrichs:.4g}, "
        f"k_min = {coeffs.k_min:.4g}) and a boundary lift of width {bound.delta:.3g} (value), "
        f"{bound.gradient_delta:.3g} (gradient), the smaller of its boundary-integral form ("
        f"{INTERIOR_POINTS} interior, {BOUNDARY_POINTS} boundary uniform points) and the lift evaluated "
        f"inside the residuals ({energy_shell.CORE_POINTS} core, {energy_shell.SHELL_POINTS} shell points); "
        "each integral a CLT upper bound, all union-bounded"
    )
    return [
        *_certified(network, problem, coeffs, span, measure, premises, effort),
        ErrorBound("rms_error", bound.value / measure, "statistical", CONFIDENCE, assumptions, how),
        ErrorBound(
            "rms_gradient_error", bound.gradient / measure, "statistical", CONFIDENCE, assumptions, how
        ),
        *_sampled_maxima(network, problem, seed),
    ]


def _certified(
    network: ReLUNetwork,
    problem: DivergenceFormProblem,
    coeffs: Coefficients,
    span: float | None,
    measure: float,
    premises: str,
    effort: float,
) -> list[ErrorBound]:
    """The same majorant with every integral enclosed on cells (solver.aposteriori.energy_cells):
    certified, for boxes with at most 3 inputs and constant Dirichlet data; else nothing."""
    from solver.aposteriori import energy_cells

    if energy_cells.applies(problem) is not None:
        return []
    drift = _drift_vector(problem)
    flux, residual = energy_cells.volume_integrals(
        network, problem, coeffs.k_min, drift, coeffs.reaction, effort
    )
    lift = energy_cells.lift_integrals(network, problem, energy_cells.constant_data(problem))
    initial = energy_cells.initial_integral(network, problem) if problem.slab is not None else 0.0
    i1, i2, i3, i4, i5, i6 = lift
    bound = majorant(Integrals(flux, residual, initial, (i1, i2, i3, i4, i5, i6)), coeffs, span)
    how = (
        f"Repin's functional majorant as the statistical entry, every integral bounded by the sum over "
        f"cells of |C| times an interval enclosure of the integrand's sup (R Phi, D Phi and the data), "
        f"up to {energy_cells.VOLUME_CELLS} cells; lift widths {bound.delta:.3g}, {bound.gradient_delta:.3g}"
    )
    return [
        ErrorBound("rms_error", bound.value / measure, "certified", None, premises, how),
        ErrorBound("rms_gradient_error", bound.gradient / measure, "certified", None, premises, how),
    ]


def _sampled_maxima(network: ReLUNetwork, problem: DivergenceFormProblem, seed: int) -> list[ErrorBound]:
    """Indicators of the maxima: C_F-scaled sampled sup of the residuals (no guarantee in d >= 2)."""
    gen = torch.Generator().manual_seed(derived_seed(seed, "a-posteriori", "energy-max"))
    inner = _interior_points(problem, 2**14, gen)
    with torch.no_grad():
        u, jac = network.value_and_jacobian(inner.inputs())
    found = problem.residuals("interior", inner, u, jac)
    c_f = friedrichs_constant(problem)
    flux_max = float(found["flux"].max())
    balance_max = float(found["balance"].max())
    how = (
        "sampled sup over 16384 uniform points of |sigma - K grad u| + C_F |balance residual| "
        "(times C_F for the value); a sup norm has no energy bound in d >= 2"
    )
    return [
        ErrorBound("max_abs_error", c_f * (flux_max + c_f * balance_max), "indicator", None, "none", how),
        ErrorBound("max_gradient_error", flux_max + c_f * balance_max, "indicator", None, "none", how),
    ]
