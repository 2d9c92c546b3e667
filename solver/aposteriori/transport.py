"""Error bounds of linear transport problems, along the characteristics.

Problem.  A ``first_order`` problem with time whose equation is affine with constant
coefficients in (u, u_t, grad u):

    F(t, x, u, u_t, p) = b u_t + a . p + c u + F0(t, x),     b != 0, a in R^d, c in R,

detected by autograd at PROBES random arguments (``structure``): the first derivatives in
(u, u_t, p) must agree between the probes to TOLERANCE (relative), the second derivatives
must vanish, and F - F0 must equal b u_t + a . p + c u at the probes.  Anything else is
left to ``hamilton_jacobi`` (indicator entries).

Characteristics.  Let v = a / b, kappa = -c / b, T = t1 - t0, e = u_h - u* and r = F(u_h)
the network's residual.  Along X(s) = x + v (s - t) (dX/ds = v) the error satisfies
de/ds = r / b + kappa e, hence for the entry time tau of the backward characteristic
(t0 on the initial slice, or the time it crosses the inflow boundary {v . n < 0}):

    e(t, x) = e(tau, X(tau)) e^(kappa (t - tau)) + int_tau^t (r / b)(s, X(s)) e^(kappa (t - s)) ds,

    |e(t, x)| <= G |e_start(t, x)| + (G / |b|) J(t, x),   J = int_tau^t |r(s, X(s))| ds,

with G = e^(max(kappa, 0) T) (Gronwall).  e_start = u_h - g on the initial slice and u_h - h
on the inflow boundary (g, h the initial and Dirichlet data): computable, so the bound
needs no ``exact``.  An inflow face without Dirichlet data leaves e_start unknown: then
only indicator entries are returned.

max_abs_error (certified, at most CERTIFY_MAX_INPUTS inputs, box or whole-space domain).
In characteristic coordinates z = (s, xi), (t, x) = (t0 + s, xi + v s), Q is covered by
cells [s_i] x [xi_j]; the cells with one xi_j form a strip that holds every characteristic
starting in xi_j.  With R_ij >= sup |r| on cell ij (interval arithmetic: the directional
derivative D Phi (1, v) = u_t + v . grad u is propagated forward through the network as one
tangent interval, so the cancellation b u_t + a . grad u ~ 0 is kept, and F0 is enclosed
by ``solver.intervals``) and S >= sup |e_start| (cells of the initial slice and of the
inflow faces, value enclosures of R Phi and of the data):

    sup_Q |e| <= G S + (G / |b|) max_j sum_i |s_i| R_ij.

Strips above REFINE_SHARE of the worst are halved along every axis (children lie inside
their parent, so sums only fall) until ``cell_budget(network)`` cells have been examined
(a fixed amount of work: fewer cells for a bigger network); start cells likewise within
START_BUDGET.  R Phi (for c u) is enclosed by symbolic intervals (``enclose_along``).
Rounding: the enclosures carry the float64 slack of ``models.bounds`` and
``solver.intervals``; v is taken in float64, exactly a / b when b is a power of two (else
the bound holds up to the rounding of a / b, stated in assumptions).  Whole space: the
asked-for box B = (-R, R)^d and its domain of dependence Xi = B - v [0, T] (the initial
slice over Xi, all s).  A certificate over LOOSE_FACTOR times the sampled figure, a ball
domain, or more inputs give an indicator.  Measured (one core): a (2, 32, 32, 1) network
with |e| <= 1.9e-2 gets 5.3e-2 in 2.8 s; transport-1d as given ((2, 64, 64, 64, 1), true
3.7e-2) only 2.7, since across the many kinks of a deep cell the slope hull of every
straddling neuron widens the tangent interval; its rms bound (4.0e-2) stays tight.

rms_error (statistical, CLT at level CONFIDENCE).  By Minkowski in L2(Q),
||e|| <= G ||e_start|| + (G / |b|) ||J||.  For fixed t and s, x -> x - v (t - s) is a
translation (it preserves Lebesgue measure), so

* ||J||^2 <= int_Q (T^2 - (s - t0)^2) / 2 r(s, y)^2 d(s, y): Cauchy-Schwarz gives
  J^2 <= (t - tau) int_tau^t r^2 ds <= (t - t0) int_tau^t r^2 ds, and swapping the order,
  int_s^t1 (t - t0) dt = (T^2 - (s - t0)^2) / 2;
* the initial part: int_{Q_0} e_0(start)^2 <= T int_Omega0 e_0^2 dx;
* the inflow part, parametrized by (tau, z) on [t0, t1] x Gamma_in and the time sigma
  in [0, t1 - tau] after entry, d(t, x) = |v . n(z)| dS(z) dtau dsigma (the flux through
  the face): int_{Q_b} e_b(start)^2 <= int_Gamma_in int_t0^t1 |v . n| (t1 - tau) e_b^2 dtau dS.

So rms <= G (sqrt(T I_0 + I_b) + sqrt(I_r) / |b|) / sqrt(|Q|), |Q| = T |Omega|, where I_0,
I_b, I_r are the three integrals; each is |domain| times a Monte Carlo mean over SAMPLES
i.i.d. uniform points, replaced by its upper confidence bound at level
1 - (1 - CONFIDENCE) / k (k: the number of integrals, union bound).  Whole space:
Omega0 = Xi (the images of B lie in it) and |Q| = T |B|.

Gradient entries (indicator).  D e . (b, a) = r - c e, so |D e| >= |r - c e| / |(b, a)|:
the residual gives the error's derivative along the characteristic direction only (a
lower estimate), nothing about the transverse part; the figures are the sampled sup and
rms of |r| / |(b, a)|.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import Tensor

from models import ReLUNetwork
from models.bounds import enclose_values
from solver.aposteriori.bound import CONFIDENCE, ErrorBound
from solver.aposteriori.confidence import mean_upper
from solver.domains import DTYPE, derived_seed
from solver.expressions import Expression, space_env
from solver.intervals import Interval, enclose_expression, space_intervals
from solver.kinds.first_order import FirstOrderProblem
from solver.problems import PointSet
from solver.spec import BoxDomain, Dirichlet, FirstOrder, Initial, WholeSpaceDomain

PROBES = 16  # random arguments at which the affine structure of F is checked
TOLERANCE = 1e-12  # relative agreement of the coefficients between probes
CERTIFY_MAX_INPUTS = 3  # (t, x) with d <= 2: the cells needed grow like h^-(inputs)
CELL_WORK = 2**16 * 1120  # residual cells examined x forward multiply-adds (``cell_budget``)
START_BUDGET = 2**14  # initial-slice and inflow-face cells examined at most
INITIAL_STRIPS = 64  # strips of the first grid (per xi axis: INITIAL_STRIPS^(1/d))
INITIAL_STEPS = 16  # s-cells per strip in the first grid
REFINE_SHARE = 0.7  # refine the strips (start cells) whose figure is >= this share of the worst
BATCH = 2**14  # cells per enclosure batch
SAMPLES = 2**14  # Monte Carlo points per integral
LOOSE_FACTOR = 100.0  # a certificate this many times the sampled figure is reported as an indicator
ROUND = 2.0**-48  # relative slack of a few float64 operations done outside the enclosures


@dataclass(frozen=True)
class Structure:
    """F = b u_t + a . grad u + c u + F0(t, x), with constant b != 0, a and c."""

    b: float
    a: tuple[float, ...]
    c: float

    @property
    def speed(self) -> Tensor:
        """v = a / b, the characteristic velocity dX/dt (float64)."""
        return torch.tensor(self.a, dtype=DTYPE) / self.b

    @property
    def growth(self) -> float:
        """kappa = -c / b: de/ds = r / b + kappa e along a characteristic."""
        return -self.c / self.b

    def gronwall(self, span: float) -> float:
        """G = e^(max(kappa, 0) T) >= e^(kappa (t - s)) for 0 <= t - s <= T."""
        return math.exp(max(self.growth, 0.0) * span)

    def speed_is_exact(self) -> bool:
        """b v = a exactly in the reals: b a power of two (v = a / b is then a float64)."""
        mantissa, _ = math.frexp(abs(self.b))
        return mantissa == 0.5


# ============================================================================ structure
def _equation_env(
    problem: FirstOrderProblem, t: Tensor, x: Tensor, u: Tensor, u_t: Tensor, p: Tensor
) -> dict[str, Tensor]:
    env = space_env(t, x)
    env.update({"u": u, "u_t": u_t, "grad_u": p})
    env.update({f"u_x{i}": p[:, i] for i in range(problem.d)})
    return env


def structure(problem: FirstOrderProblem) -> Structure | None:
    """The constant coefficients (b, a, c) of an affine first-order equation with time, or
    None when F is not exactly of that form (checked by autograd at PROBES random points)."""
    if not isinstance(problem.spec, FirstOrder) or problem.slab is None:
        return None
    try:
        return _probe(problem)
    except (ValueError, RuntimeError, ArithmeticError):
        return None


def _probe(problem: FirstOrderProblem) -> Structure | None:
    assert problem.slab is not None
    gen = torch.Generator().manual_seed(0)
    n, d = PROBES, problem.d
    cols = problem.region.interior_columns()
    x = problem.region.interior(torch.rand(n, cols, dtype=DTYPE, generator=gen))
    t = problem.slab.times(torch.rand(n, dtype=DTYPE, generator=gen))
    u = torch.randn(n, dtype=DTYPE, generator=gen).mul(2.0).requires_grad_(True)
    u_t = torch.randn(n, dtype=DTYPE, generator=gen).mul(2.0).requires_grad_(True)
    p = torch.randn(n, d, dtype=DTYPE, generator=gen).mul(2.0).requires_grad_(True)
    value = problem.equation.evaluate(_equation_env(problem, t, x, u, u_t, p), t)
    grads = torch.autograd.grad(value.sum(), [u, u_t, p], create_graph=True, allow_unused=True)
    first = torch.cat([(torch.zeros(n, 1, dtype=DTYPE) if g is None else g.reshape(n, -1)) for g in grads], 1)
    if not bool(torch.isfinite(first).all()):
        return None
    coefficients = first[0]
    if bool(((first - coefficients).abs() > TOLERANCE * (1.0 + coefficients.abs())).any()):
        return None  # a coefficient varies: not constant (or F is not affine)
    for column in range(first.shape[1]):
        if not first[:, column].requires_grad:
            continue
        seconds = torch.autograd.grad(
            first[:, column].sum(), [u, u_t, p], retain_graph=True, allow_unused=True
        )
        if any(s is not None and bool((s.abs() > TOLERANCE).any()) for s in seconds):
            return None
    c, b, a = float(coefficients[0]), float(coefficients[1]), coefficients[2:]
    if abs(b) <= TOLERANCE:
        return None  # no time derivative: not a transport problem in t
    zero = torch.zeros(n, dtype=DTYPE)
    base = problem.equation.evaluate(
        _equation_env(problem, t, x, zero, zero, torch.zeros(n, d, dtype=DTYPE)), t
    )
    with torch.no_grad():
        linear = b * u_t + p @ a + c * u
        gap = (value - base - linear).abs()
        scale = 1.0 + value.abs() + base.abs() + linear.abs()
    if not bool(torch.isfinite(gap).all()) or bool((gap > 1e3 * TOLERANCE * scale).any()):
        return None
    return Structure(b=b, a=tuple(float(ai) for ai in a), c=c)


def applies(problem: FirstOrderProblem) -> bool:
    """True for a time-dependent first-order problem with F = b u_t + a . grad u + c u - f,
    b != 0, a and c constant (verified exactly at random arguments)."""
    return structure(problem) is not None


# ============================================================================ geometry
@dataclass(frozen=True)
class Face:
    """An inflow face of a box: x_axis = lower (v_axis > 0) or upper (v_axis < 0)."""

    axis: int
    upper: bool
    data: tuple[Expression, ...]  # Dirichlet data given on it (at least one)

    @property
    def name(self) -> str:
        return f"x{self.axis}={'upper' if self.upper else 'lower'}"


@dataclass(frozen=True)
class Setting:
    """What the bounds need besides the network: coefficients, data, domain boxes."""

    structure: Structure
    initial: Expression
    faces: tuple[Face, ...]  # inflow faces of a box (empty for whole space and balls)
    ball_data: tuple[Expression, ...]  # Dirichlet data on a ball's boundary
    domain_lower: Tensor  # Omega (box), its bounding box (ball) or B (whole space)
    domain_upper: Tensor
    start_lower: Tensor  # Omega0: the initial slice (Xi for whole space)
    start_upper: Tensor
    volume: float  # |Omega| (|B| for whole space)
    start_volume: float  # |Omega0|


def _missing_data(problem: FirstOrderProblem, st: Structure) -> tuple[Setting | None, str]:
    """The setting, or None and a sentence saying which data the bound lacks."""
    assert problem.slab is not None
    initial = [expr for cond, expr in problem.conditions if isinstance(cond, Initial)]
    if not initial:
        return None, "the problem has no initial condition, so the error on the initial slice is unknown"
    dirichlet = [(cond.on, expr) for cond, expr in problem.conditions if isinstance(cond, Dirichlet)]
    v = st.speed
    region = problem.region
    span = problem.slab.end - problem.slab.start
    spec = problem.spec
    faces: list[Face] = []
    ball_data: tuple[Expression, ...] = ()
    if isinstance(spec.domain, WholeSpaceDomain):
        radius = float(spec.domain.whole_space.train_radius)
        lower = torch.full((problem.d,), -radius, dtype=DTYPE)
        upper = -lower
        start_lower = lower - v.clamp(min=0.0) * span
        start_upper = upper - v.clamp(max=0.0) * span
        volume = float((upper - lower).prod())
        start_volume = float((start_upper - start_lower).prod())
    elif isinstance(spec.domain, BoxDomain):
        lower, upper = region.lower, region.upper
        for axis in range(problem.d):
            if float(v[axis]) == 0.0:
                continue  # characteristic faces: nothing enters
            is_upper = float(v[axis]) < 0.0
            name = f"x{axis}={'upper' if is_upper else 'lower'}"
            data = tuple(expr for on, expr in dirichlet if on in ("boundary", name))
            if not data:
                return None, (
                    f"the characteristics (velocity a/b = {[round(float(s), 6) for s in v]}) enter "
                    f"through the face {name}, which has no Dirichlet data; add "
                    f'{{"type": "dirichlet", "on": "{name}", "value": ...}} to bound the error'
                )
            faces.append(Face(axis, is_upper, data))
        start_lower, start_upper = lower, upper
        volume = start_volume = float((upper - lower).prod())
    else:
        lower, upper = region.lower, region.upper
        if bool((v != 0).any()):
            ball_data = tuple(expr for on, expr in dirichlet if on == "boundary")
            if not ball_data:
                return None, (
                    "the characteristics enter the ball through the part of its boundary where "
                    "a . n < 0, which has no Dirichlet data; add "
                    '{"type": "dirichlet", "on": "boundary", "value": ...} to bound the error'
                )
        start_lower, start_upper = lower, upper
        d = problem.d
        volume = start_volume = math.pi ** (d / 2) * region.radius**d / math.gamma(d / 2 + 1)
    setting = Setting(
        st, initial[0], tuple(faces), ball_data, lower, upper, start_lower, start_upper, volume, start_volume
    )
    return setting, ""


# ============================================================================ enclosures
def _gamma(n: int) -> float:
    unit = 2.0**-53
    return (n + 2) * unit / (1.0 - (n + 2) * unit)


def _affine(a: Tensor, b: Tensor | None, mid: Tensor, rad: Tensor) -> tuple[Tensor, Tensor]:
    """Midpoint-radius enclosure of A h (+ b) for h in [mid - rad, mid + rad], with the
    rounding slack gamma_n (|A| |mid| + |A| rad + |b|) (as ``models.bounds``)."""
    center = mid @ a.t() if b is None else mid @ a.t() + b
    radius = rad @ a.abs().t()
    magnitude = mid.abs() @ a.abs().t() + radius + (0.0 if b is None else b.abs())
    return center, radius + _gamma(a.shape[1]) * magnitude


def _slope_hull(lo: Tensor, hi: Tensor, alpha: float, c: float) -> tuple[Tensor, Tensor]:
    """Interval hull of {rho'_c(s) : s in [lo, hi]}: 1 where s > 0 is possible, alpha where
    s < 0 is, c where 0 is (the slopes of every linear piece meeting the box)."""
    low, high = torch.full_like(lo, math.inf), torch.full_like(lo, -math.inf)
    for value, possible in ((1.0, hi > 0), (alpha, lo < 0), (c, (lo <= 0) & (hi >= 0))):
        low = torch.where(possible, torch.clamp(low, max=value), low)
        high = torch.where(possible, torch.clamp(high, min=value), high)
    return low, high


def _relaxation(lo: Tensor, hi: Tensor, alpha: float) -> tuple[Tensor, Tensor]:
    """(lambda, mu) with rho(z) in lambda z + [0, mu] for z in [lo, hi] (per neuron).

    rho(z) - lambda z is convex with its minimum 0 at z = 0 for lambda in [alpha, 1], so the
    bounds are exact for any such float lambda; mu = max((alpha - lambda) lo, (1 - lambda) hi)
    (the value at the ends) is rounded up.  Active neurons: (1, 0), inactive: (alpha, 0),
    others the chord slope (hi - alpha lo) / (hi - lo)."""
    straddles = (lo < 0) & (hi > 0)
    chord = ((hi - alpha * lo) / (hi - lo).clamp(min=1e-300)).clamp(alpha, 1.0)
    slope = torch.where(hi <= 0, torch.full_like(lo, alpha), torch.ones_like(lo))
    slope = torch.where(straddles, chord, slope)
    gap = torch.maximum((alpha - slope) * lo, (1.0 - slope) * hi).clamp(min=0.0)
    gap = torch.where(straddles, gap * (1.0 + 2.0**-50) + 2.0**-1000, torch.zeros_like(gap))
    return slope, gap


def enclose_along(
    network: ReLUNetwork, z_lower: Tensor, z_upper: Tensor, matrix: Tensor, offset: Tensor
) -> tuple[Interval, Interval]:
    """Enclosures of R Phi and of D Phi (matrix e_0) over the parallelotopes
    {matrix z + offset : z in [z_lower_k, z_upper_k]} (K boxes (K, n)).

    Values: symbolic intervals.  Every neuron is kept as c + G (z - z_c) + [-e, e] on the
    cell (z_c its center, |z - z_c| <= r): an affine layer maps it exactly (c' = A c + b,
    G' = A G, e' = |A| e), and rho by its linear relaxation rho(z) in lambda z + [0, mu]
    (``_relaxation``), so the dependence on the cell's coordinates is kept through the
    layers instead of being wrapped into a box at each one.  The first layer is
    (A_1 M) z + (A_1 y0 + b_1), the rounding of A_1 M and A_1 y0 + b_1 added to e.  Every
    float operation adds its error bound (gamma_n |A| (|c| + |G| r + e) per product) to e.

    Derivative: the tangent of the direction w = M e_0 starts as the column (A_1 M) e_0 and
    is propagated as an interval, D z_(l+1) w = A_(l+1) Delta_l D z_l w, Delta_l in the hull
    of the slopes rho' can take on the neuron's enclosure (forward mode in one direction, so
    no cancellation between input coordinates is lost).
    """
    weights = [w.detach().to(DTYPE) for w in network.weights]
    biases = [b.detach().to(DTYPE) for b in network.biases]
    alpha, c_zero = network.act.alpha, network.act.c
    unit = 2.0**-53
    n = matrix.shape[0]
    first = weights[0] @ matrix
    first_slack = _gamma(n) * (weights[0].abs() @ matrix.abs())
    bias = biases[0] + weights[0] @ offset
    bias_slack = _gamma(n + 1) * (weights[0].abs() @ offset.abs() + biases[0].abs())
    mid, rad = (z_lower + z_upper) / 2.0, (z_upper - z_lower) / 2.0
    count = z_lower.shape[0]
    center = mid @ first.t() + bias
    coeff = first.unsqueeze(0).expand(count, -1, -1)  # (K, N, n)
    error = (
        _gamma(n) * (mid.abs() @ first.abs().t() + bias.abs())
        + (mid.abs() + rad) @ first_slack.t()
        + bias_slack
    )
    t_mid = first[:, 0].expand(count, -1)
    t_rad = first_slack[:, 0].expand(count, -1)

    def bounds_of(center: Tensor, coeff: Tensor, error: Tensor) -> tuple[Tensor, Tensor]:
        radius = (torch.einsum("kjn,kn->kj", coeff.abs(), rad) + error) * (1.0 + _gamma(n))
        return center - radius, center + radius

    for a, b in zip(weights[1:], biases[1:], strict=True):
        z_lo, z_hi = bounds_of(center, coeff, error)
        s_lo, s_hi = _slope_hull(z_lo, z_hi, alpha, c_zero)
        j_lo, j_hi = t_mid - t_rad, t_mid + t_rad
        products = torch.stack([s_lo * j_lo, s_lo * j_hi, s_hi * j_lo, s_hi * j_hi])
        p_lo, p_hi = products.min(0).values, products.max(0).values
        t_mid, t_rad = _affine(a, None, (p_lo + p_hi) / 2.0, (p_hi - p_lo) / 2.0)
        slope, gap = _relaxation(z_lo, z_hi, alpha)
        h_center = slope * center + gap / 2.0
        h_coeff = slope.unsqueeze(-1) * coeff
        spread = torch.einsum("kjn,kn->kj", h_coeff.abs(), rad)
        h_error = slope * error + gap / 2.0 + 4.0 * unit * (h_center.abs() + gap + spread + slope * error)
        width = a.shape[1]
        center = h_center @ a.t() + b
        coeff = torch.einsum("oi,kin->kon", a, h_coeff)
        magnitude = (h_center.abs() + spread) @ a.abs().t() + b.abs()
        error = (h_error @ a.abs().t()) * (1.0 + _gamma(width)) + _gamma(width) * magnitude
    lo, hi = bounds_of(center, coeff, error)
    value = Interval(lo[:, 0], hi[:, 0])
    return value, Interval(t_mid[:, 0] - t_rad[:, 0], t_mid[:, 0] + t_rad[:, 0])


def _scale(iv: Interval, factor: float) -> Interval:
    lo, hi = iv.lo * factor, iv.hi * factor
    return Interval(torch.minimum(lo, hi), torch.maximum(lo, hi))


def _magnitude(iv: Interval) -> Tensor:
    """sup |y| over [lo, hi], widened by the float slack of the sums that made it."""
    top: Tensor = torch.maximum(iv.lo.abs(), iv.hi.abs())
    return top * (1.0 + ROUND)


def _zeros_env(problem: FirstOrderProblem, count: int) -> dict[str, Interval]:
    zero, zeros = torch.zeros(count, dtype=DTYPE), torch.zeros(count, problem.d, dtype=DTYPE)
    env = {"u": Interval(zero, zero), "u_t": Interval(zero, zero), "grad_u": Interval(zeros, zeros)}
    env.update({f"u_x{i}": Interval(zero, zero) for i in range(problem.d)})
    return env


def _residual_cells(
    network: ReLUNetwork, problem: FirstOrderProblem, setting: Setting, z_lower: Tensor, z_upper: Tensor
) -> Tensor:
    """R >= sup |r| on each characteristic cell: r = b D Phi (1, v) + c R Phi + F0(t, x)."""
    assert problem.slab is not None
    st = setting.structure
    v = st.speed
    d = problem.d
    matrix = torch.zeros(d + 1, d + 1, dtype=DTYPE)
    matrix[0, 0] = 1.0
    matrix[1:, 0] = v
    matrix[1:, 1:] = torch.eye(d, dtype=DTYPE)
    offset = torch.zeros(d + 1, dtype=DTYPE)
    offset[0] = problem.slab.start
    value, slope = enclose_along(network, z_lower, z_upper, matrix, offset)
    # The (t, x) bounding box of the parallelogram, widened by the rounding of t0 + s, xi + v s.
    s_lo, s_hi = z_lower[:, :1], z_upper[:, :1]
    moved = torch.stack([s_lo * v, s_hi * v])
    x_lo = z_lower[:, 1:] + moved.min(0).values
    x_hi = z_upper[:, 1:] + moved.max(0).values
    y_lo = torch.cat([s_lo + problem.slab.start, x_lo], 1)
    y_hi = torch.cat([s_hi + problem.slab.start, x_hi], 1)
    y_lo, y_hi = y_lo - ROUND * (1.0 + y_lo.abs()), y_hi + ROUND * (1.0 + y_hi.abs())
    count = z_lower.shape[0]
    env = {**space_intervals(y_lo, y_hi, d, True), **_zeros_env(problem, count)}
    free = enclose_expression(problem.equation, env, count)  # F0(t, x) = F(t, x, 0, 0, 0)
    part = _scale(slope, st.b)
    reaction = _scale(value, st.c)
    total = Interval(part.lo + reaction.lo + free.lo, part.hi + reaction.hi + free.hi)
    return _magnitude(total)


def _batched_residual(
    network: ReLUNetwork, problem: FirstOrderProblem, setting: Setting, lower: Tensor, upper: Tensor
) -> Tensor:
    parts = [
        _residual_cells(network, problem, setting, lo, hi)
        for lo, hi in zip(torch.split(lower, BATCH), torch.split(upper, BATCH), strict=True)
    ]
    return torch.cat(parts) if parts else torch.zeros(0, dtype=DTYPE)


def _grid(lower: Tensor, upper: Tensor, counts: list[int]) -> tuple[Tensor, Tensor]:
    """Cells of a uniform grid of the box [lower, upper], counts[i] along axis i."""
    axes = [torch.arange(k, dtype=DTYPE) for k in counts]
    index = torch.cartesian_prod(*axes).reshape(-1, len(counts))
    width = (upper - lower) / torch.tensor(counts, dtype=DTYPE)
    cell_lower = lower + index * width
    cell_upper = torch.where(
        index + 1 == torch.tensor(counts, dtype=DTYPE), upper, lower + (index + 1) * width
    )
    return cell_lower, cell_upper


def _split(lower: Tensor, upper: Tensor, axes: list[int]) -> tuple[Tensor, Tensor, Tensor]:
    """Halve every cell along ``axes``: children (lower, upper) and the parent index of each."""
    for axis in axes:
        middle = (lower[:, axis] + upper[:, axis]) / 2.0
        left_upper, right_lower = upper.clone(), lower.clone()
        left_upper[:, axis] = middle
        right_lower[:, axis] = middle
        lower = torch.stack([lower, right_lower], 1).reshape(-1, lower.shape[1])
        upper = torch.stack([left_upper, upper], 1).reshape(-1, upper.shape[1])
    parent = torch.arange(lower.shape[0]) // (2 ** len(axes))
    return lower, upper, parent


@dataclass(frozen=True)
class Certificate:
    """start >= sup |e_start|; integral >= max over strips of int |r| ds; cells examined."""

    start: float
    integral: float
    cells: int
    seconds: float


def _keep_in_domain(setting: Setting, problem: FirstOrderProblem, z_lower: Tensor, z_upper: Tensor) -> Tensor:
    """Cells whose (t, x) bounding box meets Omega (every cell for whole space)."""
    if isinstance(problem.spec.domain, WholeSpaceDomain):
        return torch.ones(z_lower.shape[0], dtype=torch.bool)
    v = setting.structure.speed
    moved = torch.stack([z_lower[:, :1] * v, z_upper[:, :1] * v])
    x_lo = z_lower[:, 1:] + moved.min(0).values
    x_hi = z_upper[:, 1:] + moved.max(0).values
    slack = 1e-12 * (1.0 + setting.domain_upper.abs() + setting.domain_lower.abs())
    meets = (x_hi >= setting.domain_lower - slack) & (x_lo <= setting.domain_upper + slack)
    return meets.all(1)


def certify_integral(
    network: ReLUNetwork, problem: FirstOrderProblem, setting: Setting, effort: float = 1.0
) -> tuple[float, int]:
    """max over strips of sum_i |s_i| R_ij >= sup over characteristics of int |r| ds (see the
    module docstring), halving the worst strips (every cell of a strip, along every axis)
    while the cells examined stay within ``cell_budget(network)``."""
    assert problem.slab is not None
    budget = max(2**10, int(cell_budget(network) * effort))
    d = problem.d
    span = problem.slab.end - problem.slab.start
    per_axis = max(1, round(INITIAL_STRIPS ** (1.0 / d)))
    z_lo = torch.cat([torch.zeros(1, dtype=DTYPE), setting.start_lower])
    z_hi = torch.cat([torch.full((1,), span, dtype=DTYPE), setting.start_upper])
    if isinstance(problem.spec.domain, BoxDomain):  # xi ranges over Omega - v [0, T]
        v = setting.structure.speed
        z_lo[1:] = setting.domain_lower - v.clamp(min=0.0) * span
        z_hi[1:] = setting.domain_upper - v.clamp(max=0.0) * span
    counts = [INITIAL_STEPS] + [per_axis] * d
    lower, upper = _grid(z_lo, z_hi, counts)
    index = torch.cartesian_prod(*[torch.arange(k) for k in counts]).reshape(-1, d + 1)[:, 1:]
    strip = (index * torch.tensor([per_axis**i for i in range(d)])).sum(1)
    keep = _keep_in_domain(setting, problem, lower, upper)
    lower, upper, strip = lower[keep], upper[keep], strip[keep]
    cells = _batched_residual(network, problem, setting, lower, upper)
    examined = lower.shape[0]
    while True:
        contribution = cells * (upper[:, 0] - lower[:, 0])
        ids, strip = torch.unique(strip, return_inverse=True)
        sums = torch.zeros(ids.shape[0], dtype=DTYPE).index_add_(0, strip, contribution)
        # rounding of the products and of the summation (at most n terms per strip)
        sums = sums * (1.0 + ROUND) * (1.0 + lower.shape[0] * 2.0**-52)
        worst = float(sums.max())
        if not math.isfinite(worst):
            return worst, examined
        order = torch.argsort(sums, descending=True)
        per_strip = torch.bincount(strip, minlength=ids.shape[0])[order] * 2 ** (d + 1)
        wanted = sums[order] >= REFINE_SHARE * worst
        fits = torch.cumsum(per_strip, 0) <= budget - examined
        chosen_strips = order[wanted & fits]
        if chosen_strips.numel() == 0:
            return worst, examined
        refine = torch.zeros(ids.shape[0], dtype=torch.bool)
        refine[chosen_strips] = True
        chosen = refine[strip]
        child_lower, child_upper, parent = _split(lower[chosen], upper[chosen], list(range(d + 1)))
        # _split orders the children by the halves taken, s first: the low d bits of the
        # child's index say which half it took along each xi axis, i.e. its sub-strip.
        side = torch.arange(child_lower.shape[0]) % 2**d
        child_strip = (ids.shape[0] + strip[chosen][parent] * 2**d) + side
        keep = _keep_in_domain(setting, problem, child_lower, child_upper)
        child_lower, child_upper, child_strip = child_lower[keep], child_upper[keep], child_strip[keep]
        child_cells = _batched_residual(network, problem, setting, child_lower, child_upper)
        examined += child_lower.shape[0]
        lower = torch.cat([lower[~chosen], child_lower])
        upper = torch.cat([upper[~chosen], child_upper])
        strip = torch.cat([strip[~chosen], child_strip])
        cells = torch.cat([cells[~chosen], child_cells])


@dataclass(frozen=True)
class StartFamily:
    """Cells where the error is known up to the network: the initial slice or an inflow face.

    ``lower``/``upper``: the family's (t, x) box (t or x_axis degenerate); ``free``: the axes
    gridded; ``data``: expressions whose value the network should take there; ``timed``:
    whether the data's names include t (boundary data) or not (initial data)."""

    name: str
    lower: Tensor
    upper: Tensor
    free: tuple[int, ...]
    data: tuple[Expression, ...]
    timed: bool


def _start_families(problem: FirstOrderProblem, setting: Setting) -> list[StartFamily]:
    assert problem.slab is not None
    t0, t1, d = problem.slab.start, problem.slab.end, problem.d
    start = torch.tensor([t0], dtype=DTYPE)
    families = [
        StartFamily(
            "initial slice",
            torch.cat([start, setting.start_lower]),
            torch.cat([start, setting.start_upper]),
            tuple(range(1, d + 1)),
            (setting.initial,),
            False,
        )
    ]
    for face in setting.faces:
        lower = torch.cat([start, setting.domain_lower])
        upper = torch.cat([torch.tensor([t1], dtype=DTYPE), setting.domain_upper])
        fixed = setting.domain_upper[face.axis] if face.upper else setting.domain_lower[face.axis]
        lower[1 + face.axis] = fixed
        upper[1 + face.axis] = fixed
        free = tuple(i for i in range(d + 1) if i != 1 + face.axis)
        families.append(StartFamily(f"face {face.name}", lower, upper, free, face.data, True))
    return families


def _start_cells(
    network: ReLUNetwork, problem: FirstOrderProblem, family: StartFamily, lower: Tensor, upper: Tensor
) -> Tensor:
    """sup |R Phi - data| on each cell: e in [v_lo - g_hi, v_hi - g_lo] (max over the data given)."""
    count = lower.shape[0]
    v_lo, v_hi = enclose_values(network, lower, upper)
    if family.timed:
        env = space_intervals(lower, upper, problem.d, True)
    else:
        env = space_intervals(lower[:, 1:], upper[:, 1:], problem.d, False)
    worst = torch.zeros(count, dtype=DTYPE)
    for expr in family.data:
        g = enclose_expression(expr, env, count)
        worst = torch.maximum(worst, _magnitude(Interval(v_lo[:, 0] - g.hi, v_hi[:, 0] - g.lo)))
    return worst


def certify_start(
    network: ReLUNetwork, problem: FirstOrderProblem, family: StartFamily, budget: int
) -> tuple[float, int]:
    """sup |e_start| over the family: the largest cell bound, after halving the worst cells
    (as ``solver.certify``) while the cells examined stay within ``budget``."""
    n_free = len(family.free)
    per_axis = max(1, round((budget // 16) ** (1.0 / n_free)))
    counts = [per_axis if i in family.free else 1 for i in range(problem.n_inputs)]
    lower, upper = _grid(family.lower, family.upper, counts)

    def evaluate(lower: Tensor, upper: Tensor) -> Tensor:
        parts = [
            _start_cells(network, problem, family, lo, hi)
            for lo, hi in zip(torch.split(lower, BATCH), torch.split(upper, BATCH), strict=True)
        ]
        return torch.cat(parts)

    bounds = evaluate(lower, upper)
    examined = lower.shape[0]
    while True:
        worst = float(bounds.max())
        refine = bounds >= REFINE_SHARE * worst
        children = int(refine.sum()) * 2**n_free
        if examined + children > budget or not math.isfinite(worst):
            return worst, examined
        child_lower, child_upper, _ = _split(lower[refine], upper[refine], list(family.free))
        child_bounds = evaluate(child_lower, child_upper)
        examined += child_lower.shape[0]
        lower = torch.cat([lower[~refine], child_lower])
        upper = torch.cat([upper[~refine], child_upper])
        bounds = torch.cat([bounds[~refine], child_bounds])


def cell_budget(network: ReLUNetwork) -> int:
    """CELL_WORK / (multiply-adds of one forward pass): the residual cells to examine, so that
    the certificate's time does not grow with the network's size (2^16 cells for (2, 32, 32, 1))."""
    work = sum(int(w.numel()) for w in network.weights)
    return max(2**10, CELL_WORK // work)


def certify(
    network: ReLUNetwork, problem: FirstOrderProblem, setting: Setting, effort: float = 1.0
) -> Certificate:
    """The certificate of the module docstring: sup |e_start| and the worst strip integral."""
    began = time.perf_counter()
    families = _start_families(problem, setting)
    start_budget = max(2**8, int(START_BUDGET * effort))
    starts = [certify_start(network, problem, f, start_budget // len(families)) for f in families]
    integral, cells = certify_integral(network, problem, setting, effort)
    return Certificate(
        start=max(s for s, _ in starts),
        integral=integral,
        cells=cells + sum(c for _, c in starts),
        seconds=time.perf_counter() - began,
    )


# ============================================================================ sampling
@dataclass(frozen=True)
class Samples:
    """Monte Carlo integrands (i.i.d. uniform points) and sampled figures."""

    residual: Tensor  # |r| at points uniform in [t0, t1] x Omega0
    weight: Tensor  # (T^2 - (s - t0)^2) / 2 at the same points
    initial: Tensor  # |e_0| at points uniform in Omega0
    inflow: Tensor | None  # |v . n|^- (t1 - tau) e_b^2 * (its normalizing mass), or None
    inflow_error: Tensor  # |e_b| at the inflow points (empty without inflow)


def _uniform(n: int, cols: int, seed: int, purpose: str) -> Tensor:
    gen = torch.Generator().manual_seed(derived_seed(seed, "aposteriori-transport", purpose))
    return torch.rand(n, cols, dtype=DTYPE, generator=gen)


def _start_points(problem: FirstOrderProblem, setting: Setting, u: Tensor) -> Tensor:
    """Points uniform in Omega0 from uniforms u (d + 1 columns)."""
    if problem.region.kind == "ball":
        return problem.region.interior(u)
    return setting.start_lower + u[:, : problem.d] * (setting.start_upper - setting.start_lower)


def _network_residual(network: ReLUNetwork, problem: FirstOrderProblem, t: Tensor, x: Tensor) -> Tensor:
    inputs = torch.cat([t.unsqueeze(1), x], 1)
    with torch.no_grad():
        u, jac = network.value_and_jacobian(inputs)
    return problem.equation_value(PointSet(t, x), u, jac).abs()


def _network_value(network: ReLUNetwork, t: Tensor, x: Tensor) -> Tensor:
    with torch.no_grad():
        value: Tensor = network(torch.cat([t.unsqueeze(1), x], 1))[:, 0]
    return value


def _box_inflow(
    network: ReLUNetwork, problem: FirstOrderProblem, setting: Setting, seed: int
) -> tuple[Tensor, Tensor]:
    """Y = W (t1 - tau) max_data e_b^2, face f drawn with probability |f| |v_f| / W,
    W = sum_f |f| |v_f|: E[Y] = sum_f |v_f| int_f int (t1 - tau) e_b^2 / T."""
    assert problem.slab is not None
    v = setting.structure.speed
    side = setting.domain_upper - setting.domain_lower
    masses = torch.tensor([float(side.prod() / side[f.axis]) * abs(float(v[f.axis])) for f in setting.faces])
    total = float(masses.sum())
    u = _uniform(SAMPLES, problem.d + 2, seed, "inflow")
    face_index = torch.searchsorted(
        torch.cumsum(masses / total, 0), u[:, -1].clamp(max=1 - 1e-15).contiguous()
    )
    face_index = face_index.clamp(max=len(setting.faces) - 1)
    x = setting.domain_lower + u[:, : problem.d] * side
    t = problem.slab.times(u[:, problem.d])
    squares = torch.zeros(SAMPLES, dtype=DTYPE)
    for k, face in enumerate(setting.faces):
        on = face_index == k
        xf = x[on].clone()
        xf[:, face.axis] = setting.domain_upper[face.axis] if face.upper else setting.domain_lower[face.axis]
        value = _network_value(network, t[on], xf)
        env = space_env(t[on], xf)
        worst = torch.zeros_like(value)
        for expr in face.data:
            worst = torch.maximum(worst, (value - expr.evaluate(env, value)) ** 2)
        squares[on] = worst
    return total * (problem.slab.end - t) * squares, squares.sqrt()


def _ball_inflow(
    network: ReLUNetwork, problem: FirstOrderProblem, setting: Setting, seed: int
) -> tuple[Tensor, Tensor]:
    """Y = |S| max(0, -v . n) (t1 - tau) max_data e_b^2 at points uniform on the sphere S."""
    assert problem.slab is not None
    d, region = problem.d, problem.region
    u = _uniform(SAMPLES, d + 2, seed, "inflow")
    x, normals = region.boundary(u[:, : d + 1], "boundary")
    t = problem.slab.times(u[:, d + 1])
    area = d * math.pi ** (d / 2) * region.radius ** (d - 1) / math.gamma(d / 2 + 1)
    flux = (-(normals @ setting.structure.speed)).clamp(min=0.0)
    value = _network_value(network, t, x)
    env = space_env(t, x)
    worst = torch.zeros_like(value)
    for expr in setting.ball_data:
        worst = torch.maximum(worst, (value - expr.evaluate(env, value)) ** 2)
    return area * flux * (problem.slab.end - t) * worst, worst[flux > 0].sqrt()


def sample(network: ReLUNetwork, problem: FirstOrderProblem, setting: Setting, seed: int) -> Samples:
    """The integrands of the rms bound at fresh i.i.d. uniform points (see the module)."""
    assert problem.slab is not None
    d, t0, span = problem.d, problem.slab.start, problem.slab.end - problem.slab.start
    u = _uniform(SAMPLES, d + 2, seed, "interior")
    t = problem.slab.times(u[:, d + 1])
    x = _start_points(problem, setting, u[:, : d + 1])
    residual = _network_residual(network, problem, t, x)
    weight = (span**2 - (t - t0) ** 2) / 2.0
    u0 = _uniform(SAMPLES, d + 1, seed, "initial")
    x0 = _start_points(problem, setting, u0)
    t_start = torch.full((SAMPLES,), t0, dtype=DTYPE)
    g = setting.initial.evaluate(space_env(None, x0), x0[:, 0])
    initial = (_network_value(network, t_start, x0) - g).abs()
    inflow: Tensor | None = None
    inflow_error = torch.zeros(0, dtype=DTYPE)
    if setting.faces:
        inflow, inflow_error = _box_inflow(network, problem, setting, seed)
    elif setting.ball_data:
        inflow, inflow_error = _ball_inflow(network, problem, setting, seed)
    return Samples(residual, weight, initial, inflow, inflow_error)


def rms_bound(problem: FirstOrderProblem, setting: Setting, samples: Samples) -> float:
    """G (sqrt(T I_0 + I_b) + sqrt(I_r) / |b|) / sqrt(T |Omega|), each integral at its upper
    confidence bound (union bound over the k integrals)."""
    assert problem.slab is not None
    span = problem.slab.end - problem.slab.start
    st = setting.structure
    k = 3 if samples.inflow is not None else 2
    delta = (1.0 - CONFIDENCE) / k
    initial = setting.start_volume * max(mean_upper(samples.initial**2, delta), 0.0)
    residual = span * setting.start_volume * max(mean_upper(samples.weight * samples.residual**2, delta), 0.0)
    inflow = 0.0 if samples.inflow is None else span * max(mean_upper(samples.inflow, delta), 0.0)
    norm = st.gronwall(span) * (math.sqrt(span * initial + inflow) + math.sqrt(residual) / abs(st.b))
    return norm / math.sqrt(span * setting.volume)


# ============================================================================ entries
ASSUMPTIONS = (
    "u* is the solution of the linear transport problem with the given initial data and, on "
    "the inflow boundary (a . n < 0), the given Dirichlet data (unique, Lipschitz along "
    "characteristics); the network is evaluated as its float64 parameters define it"
)


def _gradient_entries(residual: Tensor, st: Structure, note: str) -> list[ErrorBound]:
    scale = math.hypot(st.b, *st.a)
    how = (
        "indicator, not a bound: D e . (b, a) = r - c e, so |r - c e| / |(b, a)| is the error's "
        "derivative along the characteristic direction only, a lower estimate of |D e|; the "
        "residual says nothing about the transverse derivative.  Figure: the sampled "
        f"<which> of |r| / |(b, a)| over {residual.numel()} uniform points{note}"
    )
    top = float(residual.max()) / scale
    rms = float(residual.pow(2).mean().sqrt()) / scale
    return [
        ErrorBound("max_gradient_error", top, "indicator", None, ASSUMPTIONS, how.replace("<which>", "sup")),
        ErrorBound("rms_gradient_error", rms, "indicator", None, ASSUMPTIONS, how.replace("<which>", "rms")),
    ]


def _without_data(
    network: ReLUNetwork, problem: FirstOrderProblem, st: Structure, why: str, seed: int
) -> list[ErrorBound]:
    """Indicators only: the start error is unknown somewhere (``why``)."""
    assert problem.slab is not None
    span = problem.slab.end - problem.slab.start
    inputs = problem.validation_inputs(SAMPLES, derived_seed(seed, "aposteriori-transport", "indicator"))
    residual = _network_residual(network, problem, inputs[:, 0], inputs[:, 1:])
    initial = [expr for cond, expr in problem.conditions if isinstance(cond, Initial)]
    start = torch.zeros(1, dtype=DTYPE)
    if initial:
        x = inputs[:, 1:]
        t = torch.full((x.shape[0],), problem.slab.start, dtype=DTYPE)
        start = (_network_value(network, t, x) - initial[0].evaluate(space_env(None, x), x[:, 0])).abs()
    gain = st.gronwall(span)
    top = gain * float(start.max()) + gain * span * float(residual.max()) / abs(st.b)
    rms = gain * float(start.pow(2).mean().sqrt()) + gain * span * float(residual.pow(2).mean().sqrt()) / abs(
        st.b
    )
    how = (
        f"indicator, not a bound: {why}.  Figure: G sampled <which> |u - g| on the initial slice + "
        f"G T sampled <which> |r| / |b| (G = {gain:.3g}, T = {span:g}), as the characteristic "
        "bound would give if the missing start error were zero"
    )
    return [
        ErrorBound("max_abs_error", top, "indicator", None, ASSUMPTIONS, how.replace("<which>", "sup")),
        ErrorBound("rms_error", rms, "indicator", None, ASSUMPTIONS, how.replace("<which>", "rms")),
        *_gradient_entries(residual, st, f"; {why}"),
    ]


def _max_entry(
    network: ReLUNetwork, problem: FirstOrderProblem, setting: Setting, samples: Samples, effort: float = 1.0
) -> tuple[ErrorBound, Certificate | None]:
    assert problem.slab is not None
    st = setting.structure
    span = problem.slab.end - problem.slab.start
    gain = st.gronwall(span)
    start_sampled = float(samples.initial.max())
    if samples.inflow_error.numel():
        start_sampled = max(start_sampled, float(samples.inflow_error.max()))
    sampled = gain * start_sampled + gain * span * float(samples.residual.max()) / abs(st.b)
    indicator_how = (
        "indicator, not a bound: G sampled sup |e_start| + G T sampled sup |r| / |b| "
        f"(G = {gain:.3g}, T = {span:g}; {SAMPLES} uniform points each)"
    )
    assumptions = ASSUMPTIONS
    if not st.speed_is_exact():
        assumptions += f"; the speed a / b is rounded to float64 (b = {st.b:g} is not a power of two)"
    if problem.n_inputs > CERTIFY_MAX_INPUTS or problem.region.kind == "ball":
        why = (
            f": a sup has no statistical bound, and the cell certificate covers box and whole-space "
            f"domains with at most {CERTIFY_MAX_INPUTS} inputs (this problem: {problem.region.kind}, "
            f"{problem.n_inputs} inputs)"
        )
        return ErrorBound("max_abs_error", sampled, "indicator", None, assumptions, indicator_how + why), None
    try:
        cert = certify(network, problem, setting, effort)
    except ValueError as exc:  # data that interval arithmetic cannot enclose (sqrt of a negative, ...)
        why = f": the certificate failed ({exc})"
        return ErrorBound("max_abs_error", sampled, "indicator", None, assumptions, indicator_how + why), None
    value = gain * cert.start + gain * cert.integral / abs(st.b)
    value *= 1.0 + ROUND
    detail = (
        f"G sup|e_start| + (G/|b|) max over strips of int |r| ds = {gain:.3g} * {cert.start:.3g} + "
        f"{gain:.3g} * {cert.integral:.3g} / {abs(st.b):g}, by interval enclosures over "
        f"{cert.cells} cells (initial slice, inflow faces and characteristic strips; {cert.seconds:.2f} s)"
    )
    if not math.isfinite(value) or value > LOOSE_FACTOR * max(sampled, 1e-300):
        why = f"; the certificate reached only {value:.3g} ({detail}), over {LOOSE_FACTOR:g}x this figure"
        return ErrorBound("max_abs_error", sampled, "indicator", None, assumptions, indicator_how + why), cert
    how = f"certified along characteristics: {detail}"
    return ErrorBound("max_abs_error", value, "certified", None, assumptions, how), cert


def bounds(
    network: ReLUNetwork, problem: FirstOrderProblem, seed: int, effort: float = 1.0
) -> list[ErrorBound]:
    """The error bounds of a linear transport problem (module docstring); never reads ``exact``.

    ``network``: float64, physical inputs (t, x); ``seed`` fixes the Monte Carlo points."""
    st = structure(problem)
    if st is None:
        raise ValueError(
            "transport.bounds needs a time-dependent first_order equation b u_t + a . grad u + c u - f "
            "with constant b != 0, a and c; use hamilton_jacobi.bounds for other first-order problems"
        )
    if network.in_features != problem.n_inputs:
        raise ValueError(
            f"the network takes {network.in_features} inputs but the problem has {problem.n_inputs} "
            "(t, x0, ...); pass the physical-coordinate network of this problem"
        )
    network = network.to(DTYPE)
    setting, why = _missing_data(problem, st)
    if setting is None:
        return _without_data(network, problem, st, why, seed)
    samples = sample(network, problem, setting, seed)
    max_entry, _ = _max_entry(network, problem, setting, samples, effort)
    span = problem.slab.end - problem.slab.start if problem.slab is not None else 0.0
    rms = rms_bound(problem, setting, samples)
    rms_how = (
        "statistical (CLT, union bound over the integrals): rms <= G (sqrt(T I_0 + I_b) + "
        "sqrt(I_r) / |b|) / sqrt(|Q|), I_0 = int e_0^2 (initial slice), I_b = int |v . n| (t1 - tau) "
        "e_b^2 (inflow faces), I_r = int (T^2 - (s - t0)^2) / 2 r^2 (residual), each at its upper "
        f"confidence bound from {SAMPLES} i.i.d. uniform points (G = {st.gronwall(span):.3g})"
    )
    entries = [
        max_entry,
        ErrorBound("rms_error", rms, "statistical", CONFIDENCE, ASSUMPTIONS, rms_how),
    ]
    return entries + _gradient_entries(samples.residual, st, "")
