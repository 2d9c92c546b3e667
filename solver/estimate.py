"""The global polynomial-growth estimate of whole-space problems (docs/global-estimate.md).

Notation (docs/global-estimate.md derives every line): the trained network Phi (inputs
(t, x) or x) is accurate on the box Q = [t0, T] x [-R, R]^d with local errors

    e0 >= sup_Q |u - R Phi| / omega,    e1 >= sup_Q |Du - D Phi| / omega,
    omega(x) = 1 + |x|^(kappa+1)          (D: Euclidean over all inputs).

The global model is ONE parametrization  Psi = P o (chi o S, Phi) o F,  where F fans the
input out, S drops t, chi is ``constructions.cutoff(d, B, w)`` (1 on [-B, B]^d, 0 outside
(-R, R)^d, B = R - w, |D chi| <= 1/w) and P = ``constructions.product(M, m)`` with M >=
max(1, sup_Q |R Phi|), so |P(a, b) - ab| <= delta0 and each partial of P is within
delta1 of (b, a) on [-M, M]^2; P(0, b) = 0 and D_b P(0, b) = 0 in exact arithmetic, and
delta0, delta1 include a float64 rounding allowance rho = ROUNDING M^2.  With the growth
data U(x) = C (1 + |x|^(kappa+1)) >= |u|, |u_t| and G(x) >= |Du| (G = C (1 + |x|^kappa)
without time, sqrt(C^2 (1 + |x|^kappa)^2 + U^2) with time), for a.e. (t, x), t in [t0, T]:

    |u - R Psi|  <= b0 = (1 - chi) U + chi e0 omega + delta0
    |Du - D Psi| <= b1 = (1 - chi) G + chi e1 omega + delta1 (G + e1 omega)
                         + |D chi| (U + e0 omega + delta1)

and b0, b1 <= eps0 (1 + |x|^(kappa+2)), eps1 (1 + |x|^(kappa+2)) with eps computed by
``epsilon`` (a rigorous sup over |x| on a geometric grid, using that the envelopes are
nondecreasing in |x|).  The local errors are sampled maxima (statistical, not certified):
see ``measure_local_errors``, against independent Monte Carlo references with confidence
intervals for kolmogorov problems (no ``exact`` needed) or against ``exact``; with the
latter and at most 4 inputs ``solver.certify`` tries to certify e0 by interval enclosures
on cells and replaces it when it succeeds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

from models import ReLUNetwork, compose, constructions, fan_out, parallel
from models.bounds import enclose
from models.calculus import affine
from solver.aposteriori.bound import CONFIDENCE
from solver.aposteriori.feynman_kac import error_upper_bounds, events_per_point, references, union_quantile
from solver.certify import CERTIFY_MAX_INPUTS, ValueCertificate, certify_value_error
from solver.domains import DTYPE, WHOLE_SPACE_MARGIN, derived_seed
from solver.growth import gradient_growth, value_growth
from solver.kinds.kolmogorov import KolmogorovProblem
from solver.problems import PDEProblem
from solver.spec import Kolmogorov

LOCAL_POINTS = 20_000  # uniform validation points in Q (reference "exact")
RADIAL_POINTS = 10_000  # points with log-uniform radius in [1e-3 R, R]: every scale of |x|
# Reference "monte_carlo" (kolmogorov): each point costs ESTIMATE_PATHS simulated paths and
# (CV_STEPS - 1) network derivatives per path, so far fewer points.
MC_LOCAL_POINTS = 512
MC_RADIAL_POINTS = 256
ESTIMATE_PATHS = 64
REFINE_ROUNDS = 3  # local search around the worst 1 % at shrinking scales
SAFETY = 2.0  # statistical margin on the sampled maxima (they are not certified sups)
PRODUCT_TOLERANCE = 1e-9  # delta1 target; m follows
MAX_M = 48
# Float64 rounding of Psi, relative to M^2 (measured at most 5e-15 M^2 outside the box,
# where Psi is 0 in exact arithmetic): 128 machine epsilons.
ROUNDING = 128 * float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class GlobalEstimate:
    """Everything the bound needs, stored in the manifest as ``estimate``."""

    kappa: float
    constant: float
    train_radius: float  # R (the spec's): the plateau
    train_box_radius: float  # R' = R + w: Phi's box Q
    plateau: float
    ramp_width: float
    dimension: int
    time: tuple[float, float] | None
    local_value_error: float  # e0
    local_gradient_error: float  # e1
    sampled_value_error: float  # max over the points, before SAFETY
    sampled_gradient_error: float
    product_bound: float  # M
    product_depth_m: int  # m
    product_value_error: float  # delta0
    product_gradient_error: float  # delta1
    eps_value: float  # eps0
    eps_gradient: float  # eps1
    local_points: int
    how_measured: str
    formula: str
    # what the local errors were measured against: "monte_carlo" (independent Feynman-Kac
    # references with confidence intervals, kolmogorov) or "exact" (the spec's solution)
    reference: str = "exact"
    # solver.certify: a certified bound of sup_Q |u - R Phi| / omega (given the growth data),
    # for at most CERTIFY_MAX_INPUTS inputs; value_certified: it reached SAFETY x the sampled
    # maximum within the cell budget, and e0 is that certified bound.
    certified_value_error: float | None = None
    certified_cells: int = 0
    value_certified: bool = False

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["time"] = list(self.time) if self.time is not None else None
        data["eps"] = max(self.eps_value, self.eps_gradient)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GlobalEstimate:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["time"] = tuple(data["time"]) if data.get("time") is not None else None
        return cls(**fields)


# ---------------------------------------------------------------------- the local errors
ReferenceKind = Literal["monte_carlo", "exact"]


@dataclass(frozen=True)
class LocalErrors:
    """Sampled maxima of the weighted local errors (before SAFETY) and how they were made."""

    value: float  # max |u - R Phi| / omega (an upper confidence figure for "monte_carlo")
    gradient: float  # max |Du - D Phi| / omega
    points: int
    reference: ReferenceKind
    how: str


def _validation_box_points(problem: PDEProblem, seed: int, n_uniform: int, n_radial: int) -> Tensor:
    gen = torch.Generator().manual_seed(derived_seed(seed, "global-estimate"))
    d, radius = problem.d, problem.region.radius
    uniform = problem.region.lower + torch.rand(n_uniform, d, dtype=DTYPE, generator=gen) * 2 * radius
    direction = torch.randn(n_radial, d, dtype=DTYPE, generator=gen)
    direction = direction / direction.norm(dim=1, keepdim=True).clamp_min(1e-300)
    log_r = torch.rand(n_radial, 1, dtype=DTYPE, generator=gen) * math.log(1e3)
    radial = direction * radius * torch.exp(log_r - math.log(1e3))
    x = torch.cat([uniform, radial])
    if problem.slab is None:
        return x
    t = problem.slab.times(torch.rand(x.shape[0], 1, dtype=DTYPE, generator=gen))
    return torch.cat([t, x], 1)


def error_weight(kappa: float, r: Tensor) -> Tensor:
    """omega(x) = 1 + |x|^(kappa+1): the local errors are measured relative to the growth of u."""
    return 1.0 + r ** (kappa + 1.0)


def _weight(problem: PDEProblem, inputs: Tensor) -> Tensor:
    growth = problem.spec.growth
    kappa = growth.kappa if growth is not None else 0.0
    space = inputs[:, 1:] if problem.slab is not None else inputs
    return error_weight(kappa, space.norm(dim=1))


def _errors(network: ReLUNetwork, problem: PDEProblem, inputs: Tensor) -> tuple[Tensor, Tensor]:
    """|u - R Phi| / omega and |Du - D Phi| / omega at the inputs, against ``exact``."""
    exact = problem.exact_values(inputs)
    if exact is None:
        raise ValueError("measuring the local errors against `exact` needs `exact` in the spec")
    u_star, g_star = exact
    with torch.no_grad():
        u, jac = network.value_and_jacobian(inputs)
    omega = _weight(problem, inputs)
    return (u[:, 0] - u_star).abs() / omega, (jac[:, 0, :] - g_star).norm(dim=1) / omega


def _clamp_to_box(problem: PDEProblem, inputs: Tensor) -> Tensor:
    lo, hi = problem.input_center - problem.input_half, problem.input_center + problem.input_half
    return torch.maximum(torch.minimum(inputs, hi), lo)


def default_reference(problem: PDEProblem) -> ReferenceKind:
    """Always "monte_carlo": the estimate never reads `exact` unless a test or benchmark asks
    for ``reference="exact"`` explicitly (Monte Carlo references exist for kolmogorov only)."""
    if not isinstance(problem.spec, Kolmogorov):
        raise ValueError(
            "the global estimate measures its local errors against Monte Carlo references, which "
            "exist for kolmogorov problems only; reference='exact' (tests, benchmarks) reads `exact`"
        )
    return "monte_carlo"


def measure_local_errors(
    network: ReLUNetwork, problem: PDEProblem, seed: int, reference: ReferenceKind | None = None
) -> LocalErrors:
    """Sampled sup_Q |u - R Phi| / omega and sup_Q |Du - D Phi| / omega: uniform points of Q,
    points at every radius scale and three rounds of local search around the worst 1 %.

    ``reference`` (default ``default_reference``): "exact" measures against the spec's
    solution (tests and benchmarks).  "monte_carlo" (kolmogorov only; ``exact`` is never read)
    replaces u, Du at each of the n points by independent Feynman-Kac references ubar, gbar
    with standard errors (``solver.aposteriori.feynman_kac``, control variate Phi) and takes
    the per-point upper confidence figures

        |u - R Phi| <= |R Phi - ubar| + z se,    |Du - D Phi| <= |D Phi - gbar| + z |se_g|,

    z = z_(1 - delta / (2 n (2 + d))) (a union bound over the n points and the 2 + d
    two-sided statements per point; delta = 1 - CONFIDENCE).  The points are fixed in
    advance (the probes of every round counted), so the union bound covers them all."""
    kind = reference if reference is not None else default_reference(problem)
    if kind not in ("monte_carlo", "exact"):
        raise ValueError(f"reference must be 'monte_carlo' or 'exact', got {kind!r}")
    monte_carlo = kind == "monte_carlo"
    sampled = problem if isinstance(problem, KolmogorovProblem) else None
    if monte_carlo and sampled is None:
        raise ValueError("Monte Carlo references exist for kolmogorov problems only")
    n_uniform, n_radial = (
        (MC_LOCAL_POINTS, MC_RADIAL_POINTS) if monte_carlo else (LOCAL_POINTS, RADIAL_POINTS)
    )
    inputs = _validation_box_points(problem, seed, n_uniform, n_radial)
    keep = max(1, inputs.shape[0] // 100)
    total = inputs.shape[0] + REFINE_ROUNDS * 2 * keep
    delta = 1.0 - CONFIDENCE
    z = union_quantile(delta, total * events_per_point(sampled)) if sampled is not None else 0.0
    described: list[str] = []

    def errors(points: Tensor, purpose: str) -> tuple[Tensor, Tensor]:
        if sampled is None:
            return _errors(network, problem, points)
        ref = references(sampled, points, seed, network=network, paths=ESTIMATE_PATHS, purpose=purpose)
        if not described:
            described.append(ref.describe())
        value, gradient = error_upper_bounds(network, points, ref, z)
        omega = _weight(problem, points)
        return value / omega, gradient / omega

    e0, e1 = errors(inputs, "global-estimate")
    worst_value, worst_grad = float(e0.max()), float(e1.max())
    gen = torch.Generator().manual_seed(derived_seed(seed, "global-estimate-refine"))
    count = inputs.shape[0]
    for round_index in range(REFINE_ROUNDS):
        scale = problem.input_half * 0.05 / 4**round_index
        for which, errs in enumerate((e0, e1)):
            centers = inputs[errs.topk(keep).indices]
            probes = _clamp_to_box(
                problem, centers + torch.randn(centers.shape, dtype=DTYPE, generator=gen) * scale
            )
            v, g = errors(probes, f"global-estimate-refine-{round_index}-{which}")
            worst_value, worst_grad = max(worst_value, float(v.max())), max(worst_grad, float(g.max()))
            count += probes.shape[0]
    where = (
        f"over {count} points of the padded box Q = [t0, T] x [-R', R']^d ({n_uniform} uniform, "
        f"{n_radial} with log-uniform radius in [1e-3 R', R'], the rest a local search around the worst 1 %)"
    )
    if sampled is not None:
        how = (
            "the largest upper confidence figure (|R Phi - ubar| + z se) / omega and "
            f"(|D Phi - gbar| + z |se|) / omega, omega = 1 + |x|^(kappa+1), {where}, against "
            f"independent Monte Carlo references ubar, gbar ({described[0]}), z = {z:.3f} "
            f"(delta = {delta:g} over {count} points x {events_per_point(sampled)} statements, union "
            "bound; the normal approximation of each mean is assumed), times "
            f"{SAFETY}; `exact` not used"
        )
    else:
        how = (
            f"the largest |u - R Phi| / omega and |Du - D Phi| / omega against `exact`, {where}, "
            f"times {SAFETY}"
        )
    return LocalErrors(worst_value, worst_grad, count, kind, how)


# ---------------------------------------------------------------------- the global network
def product_size(network: ReLUNetwork, problem: PDEProblem) -> float:
    """M >= max(1, sup_Q |R Phi|): a certified interval enclosure over Q (models.bounds)."""
    lo = problem.input_center - problem.input_half
    hi = problem.input_center + problem.input_half
    box = enclose(network.to(torch.float64), lo, hi)
    return max(1.0, float(box.value_upper.abs().max()), float(box.value_lower.abs().max()))


def product_depth(bound: float) -> int:
    """Smallest m with delta1 = 2 sqrt(2) M 2^-m <= PRODUCT_TOLERANCE."""
    m = math.ceil(math.log2(2.0 * math.sqrt(2.0) * bound / PRODUCT_TOLERANCE))
    return max(1, min(MAX_M, m))


def global_network(
    phi: ReLUNetwork, problem: PDEProblem, bound: float, m: int, plateau: float, width: float
) -> ReLUNetwork:
    """Psi = P o (chi o S, Phi) o F as one parametrization (float64)."""
    phi = phi.to(torch.float64)
    c = phi.act.c
    d, n_in = problem.d, problem.n_inputs
    offset = n_in - d  # 1 when the first input is t
    select = torch.zeros(d, n_in, dtype=torch.float64)
    select[:, offset:] = torch.eye(d, dtype=torch.float64)
    space_only = affine(select, relu_prime_at_zero=c)
    chi = compose(constructions.cutoff(d, plateau, width, relu_prime_at_zero=c), space_only)
    both = compose(parallel(chi.to(torch.float64), phi), fan_out(n_in, 2, like=phi))
    return compose(constructions.product(bound, m, relu_prime_at_zero=c), both)


# ---------------------------------------------------------------------- bounds
def cutoff_values(
    estimate: GlobalEstimate, x: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """chi(x) = min_i clip((B + w - |x_i|) / w, 0, 1) and |D chi| (1/w on the ramp, else 0)."""
    b, w = estimate.plateau, estimate.ramp_width
    trap = np.clip((b + w - np.abs(x)) / w, 0.0, 1.0)
    chi = trap.min(axis=1)
    slope = np.where((chi > 0.0) & (chi < 1.0), 1.0 / w, 0.0)
    return chi, slope


def points_at_every_scale(estimate: GlobalEstimate, n: int, seed: int) -> NDArray[np.float64]:
    """n points to check the promise with: radii log-uniform in [1e-3, 100 R], directions
    uniform, t uniform in [t0, T] (the inputs' order: t first when timed)."""
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=(n, estimate.dimension))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    log_r = rng.uniform(math.log(1e-3), math.log(100 * estimate.train_radius), size=(n, 1))
    x: NDArray[np.float64] = direction * np.exp(log_r)
    if estimate.time is None:
        return x
    t0, t1 = estimate.time
    return np.concatenate([rng.uniform(t0, t1, size=(n, 1)), x], 1)


def pointwise_bounds(
    estimate: GlobalEstimate, inputs: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(b0, b1) at each point; +inf where t lies outside [t0, T] (no promise there), and +inf
    where |x| is so large that the growth bounds overflow float64 (a term whose factor chi or
    |D chi| is 0 counts 0 there, never 0 * inf = NaN)."""
    timed = estimate.time is not None
    x = inputs[:, 1:] if timed else inputs
    with np.errstate(over="ignore", invalid="ignore"):  # 0 * inf is taken care of below
        r = np.linalg.norm(x, axis=1)
        chi, slope = cutoff_values(estimate, x)
        big_u = value_growth(estimate.kappa, estimate.constant, r)
        big_g = gradient_growth(estimate.kappa, estimate.constant, r, timed)
        omega = 1.0 + r ** (estimate.kappa + 1.0)
        e0 = estimate.local_value_error * omega
        e1 = estimate.local_gradient_error * omega
        d0, d1 = estimate.product_value_error, estimate.product_gradient_error
        inner0 = np.where(chi > 0, chi * e0, 0.0)
        inner1 = np.where(chi > 0, chi * e1, 0.0)
        ramp = np.where(slope > 0, slope * (big_u + e0 + d1), 0.0)
        b0 = np.where(chi < 1, (1.0 - chi) * big_u, 0.0) + inner0 + d0
        b1 = np.where(chi < 1, (1.0 - chi) * big_g, 0.0) + inner1 + d1 * (big_g + e1) + ramp
    if timed:
        assert estimate.time is not None
        t0, t1 = estimate.time
        outside = (inputs[:, 0] < t0) | (inputs[:, 0] > t1)
        b0 = np.where(outside, np.inf, b0)
        b1 = np.where(outside, np.inf, b1)
    return b0, b1


def epsilon(
    kappa: float,
    constant: float,
    radius: float,
    plateau: float,
    width: float,
    d: int,
    timed: bool,
    e0: float,
    e1: float,
    d0: float,
    d1: float,
) -> tuple[float, float]:
    """eps0, eps1 with b0, b1 <= eps (1 + |x|^(kappa+2)) for every x.

    Envelopes in r = |x| (e0, e1 below stand for e0 omega(r), e1 omega(r)): on the plateau
    (|x|_inf <= B, so r <= sqrt(d) B) b0 <= e0 + d0 and b1 <= e1 + d1 (G + e1); beyond it
    (r > B) b0 <= max(U, e0) + d0 and b1 <= max(G, e1) + d1 (G + e1) + (U + e0 + d1) / w.
    Each envelope is nondecreasing in r, so on [r_i, r_(i+1)] its ratio to 1 + r^(kappa+2) is at most
    env(r_(i+1)) / (1 + r_i^(kappa+2)); the grid is geometric up to 10^8 R, beyond which the
    ratio of the polynomial envelopes (degree <= kappa + 1) is below its value there.
    """
    grid = np.concatenate([[0.0], np.geomspace(1e-6 * radius, 1e8 * radius, 4000)])
    lo, hi = grid[:-1], grid[1:]
    weight = 1.0 + lo ** (kappa + 2.0)
    big_u = value_growth(kappa, constant, hi)
    big_g = gradient_growth(kappa, constant, hi, timed)
    omega = 1.0 + hi ** (kappa + 1.0)
    w0, w1 = e0 * omega, e1 * omega  # the weighted local errors times omega(r)
    on_plateau = lo <= math.sqrt(d) * plateau
    beyond = hi > plateau
    env0 = np.maximum(
        np.where(on_plateau, w0 + d0, 0.0),
        np.where(beyond, np.maximum(big_u, w0) + d0, 0.0),
    )
    env1 = np.maximum(
        np.where(on_plateau, w1 + d1 * (big_g + w1), 0.0),
        np.where(beyond, np.maximum(big_g, w1) + d1 * (big_g + w1) + (big_u + w0 + d1) / width, 0.0),
    )
    return float((env0 / weight).max()), float((env1 / weight).max())


FORMULA = (
    "with U = C (1 + |x|^(kappa+1)), omega = 1 + |x|^(kappa+1): "
    "|u - R Psi| <= (1 - chi) U + chi e0 omega + delta0; "
    "|Du - D Psi| <= (1 - chi) G + chi e1 omega + delta1 (G + e1 omega) "
    "+ |D chi| (U + e0 omega + delta1); "
    "both <= eps (1 + |x|^(kappa+2)); chi = 1 on [-B, B]^d, 0 outside (-R, R)^d, |D chi| <= 1/w "
    "(docs/global-estimate.md)"
)


def _how_measured(local: LocalErrors, certificate: ValueCertificate | None) -> str:
    if local.reference != "exact":
        value = "e0 not certified (the cell certificate needs u at the cell centres from `exact`)"
    elif certificate is None:
        value = f"not certified (more than {CERTIFY_MAX_INPUTS} inputs)"
    elif certificate.reached:
        value = (
            f"e0 certified given the growth data: interval enclosures of R Phi on {certificate.cells} "
            f"cells of Q and |Du| <= G (solver.certify), {certificate.bound:.4g} <= {certificate.target:.4g}"
        )
    else:
        value = (
            f"e0 statistical: the certificate on {certificate.cells} cells (the budget) reached "
            f"{certificate.bound:.4g}, above the statistical {certificate.target:.4g}"
        )
    return (
        f"statistical: {local.how}; {value}; e1 statistical; "
        "M from a certified interval enclosure of R Phi over Q"
    )


def build_global_model(
    phi: ReLUNetwork, problem: PDEProblem, seed: int, reference: ReferenceKind | None = None
) -> tuple[ReLUNetwork, GlobalEstimate]:
    """Psi and its estimate for a whole-space problem with growth data.

    The local errors are measured against ``reference`` (``measure_local_errors``; default:
    Monte Carlo references for kolmogorov problems, which need no ``exact``, and ``exact``
    for first-order problems, which have no other).  e0 is certified by cells
    (``solver.certify``) only against ``exact``: a Monte Carlo u(c) certifies nothing."""
    growth = problem.spec.growth
    if growth is None:
        raise ValueError("a whole_space problem needs growth data")
    if phi.act.name != "relu":
        raise ValueError(
            "the global estimate composes Phi with exact ReLU constructions (cutoff, product): "
            "use the network activation 'relu' for whole_space problems"
        )
    train_box = problem.region.radius  # R' = (1 + margin) R: Phi's box
    plateau = train_box / (1.0 + WHOLE_SPACE_MARGIN)  # B = R: Psi ~ Phi on (-R, R)^d
    width = train_box - plateau  # w = margin R
    radius = plateau
    local = measure_local_errors(phi, problem, seed, reference)
    sampled0, sampled1, count = local.value, local.gradient, local.points
    e0, e1 = SAFETY * sampled0, SAFETY * sampled1
    certifiable = local.reference == "exact" and problem.n_inputs <= CERTIFY_MAX_INPUTS
    certificate = certify_value_error(phi, problem, e0) if certifiable else None
    if certificate is not None and certificate.reached:
        e0 = certificate.bound  # certified, and no larger than the statistical figure
    bound = product_size(phi, problem)
    m = product_depth(bound)
    err = constructions.product_error(bound, m)
    # product_error's gradient figure is Euclidean (2 sqrt 2 M 2^-m), which also bounds each
    # partial (2 M 2^-m): a conservative delta1.  Both get the float64 rounding allowance rho:
    # Psi's merged layers round differently in the two squares that cancel in exact arithmetic.
    rho = ROUNDING * bound**2
    d0, d1 = err.value + rho, err.derivative + rho
    timed = problem.slab is not None
    eps0, eps1 = epsilon(
        growth.kappa, growth.constant, radius, plateau, width, problem.d, timed, e0, e1, d0, d1
    )
    psi = global_network(phi, problem, bound, m, plateau, width)
    estimate = GlobalEstimate(
        kappa=growth.kappa,
        constant=growth.constant,
        train_radius=radius,
        train_box_radius=train_box,
        plateau=plateau,
        ramp_width=width,
        dimension=problem.d,
        time=(problem.slab.start, problem.slab.end) if problem.slab is not None else None,
        local_value_error=e0,
        local_gradient_error=e1,
        sampled_value_error=sampled0,
        sampled_gradient_error=sampled1,
        product_bound=bound,
        product_depth_m=m,
        product_value_error=d0,
        product_gradient_error=d1,
        eps_value=eps0,
        eps_gradient=eps1,
        local_points=count,
        how_measured=_how_measured(local, certificate),
        formula=FORMULA,
        reference=local.reference,
        certified_value_error=certificate.bound if certificate is not None else None,
        certified_cells=certificate.cells if certificate is not None else 0,
        value_certified=certificate is not None and certificate.reached,
    )
    return psi, estimate
