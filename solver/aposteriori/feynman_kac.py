"""Independent Monte Carlo references of a Kolmogorov solution and its derivative, with errors.

For the ``kolmogorov`` kind, u*(t, x) = E[phi(X_t^x)] with dX = mu dt + sigma dW, X_0 = x
(time runs from 0, as in ``KolmogorovProblem.feynman_kac``).  At each point (t, x) this module
simulates ``paths`` fresh paths in antithetic pairs (noise Z and -Z) and returns, per point,
the mean over the pairs and its standard error s / sqrt(pairs), s the sample standard
deviation of the pair averages (the pair averages are i.i.d., the paths of a pair are not):

* value: the control-variate estimator

      Y = phi(X_t) - sum_k grad_x u_h(t - s_k, X_(s_k)) . M_k,
      M_k = sum over the simulation steps j in [s_k, s_(k+1)) of sigma(X_j) dW_j,

  on a grid of CV_STEPS times s_k = k t / CV_STEPS.  Each term has conditional mean 0 given
  the path up to s_k (an adapted integrand times increments of the simulated martingale
  part), so E[Y] = E[phi(X_t)] exactly, whatever the network u_h: no discretization bias is
  added.  When u_h ~ u*, Ito's formula phi(X_t) = u*(t, x) + int_0^t grad_x u*(t - s, X_s)
  . sigma dW_s shows that Y is u*(t, x) up to the time discretization of that integral and
  the error of grad u_h, so its variance is far below that of phi(X_t).  The k = 0 term is
  skipped: it is odd in the noise and cancels exactly in every antithetic pair.  The
  network is evaluated in float32 (any adapted integrand keeps E[Y] exact).
* derivative over every input (t, x): the pathwise derivative of the simulated map
  (t, x) -> phi(X_t^x) with the noise held fixed, grad phi(X_t) dX_t/d(t, x) (autograd
  through the simulation; phi is Lipschitz with polynomial growth, so differentiation
  and expectation commute).  No control variate.

The simulation is exact for constant coefficients (Gaussian increments on the CV grid).
Otherwise it is Euler-Maruyama with REFERENCE_EULER_STEPS steps plus a coarse path with half
as many on the same Brownian increments, combined as 2 phi(X_fine) - phi(X_coarse)
(Richardson extrapolation: the weak O(dt) bias of the scheme cancels, Talay-Tubaro); the
remaining O(dt^2) bias is an assumption of every bound built on these references.
Seeds are ``derived_seed(seed, "reference", purpose, chunk)``, independent of the
training draws (``derived_seed(seed, "paths", draw)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from models import ReLUNetwork
from solver.aposteriori.confidence import normal_quantile
from solver.domains import DTYPE, derived_seed
from solver.expressions import space_env
from solver.kinds.kolmogorov import EULER_STEPS, KolmogorovProblem
from solver.problems import apply_matrix
from solver.spec import Kolmogorov

REFERENCE_PATHS = 128  # paths per point (64 antithetic pairs)
CV_STEPS = 8  # control-variate grid (and the exact simulation's steps)
# Euler-Maruyama (state-dependent coefficients): fine steps; the coarse path has half as many.
REFERENCE_EULER_STEPS = EULER_STEPS
CHUNK_ROWS = 2**15  # simulated paths per batch (memory of the autograd graph)
SMALLEST_TIME = 1e-12  # t is clamped to this: the pathwise t-derivative has a 1/sqrt(t)
# Added to every standard error, relative to 1 + |mean|: float64 rounding of the path sums
# (a zero-variance estimator, e.g. the heat equation's pathwise gradient, still rounds).
ROUNDING_SLACK = 1e-11


@dataclass(frozen=True)
class Reference:
    """Per-point Monte Carlo references: means and standard errors (float64).

    value, value_se: (n,); gradient, gradient_se: (n, 1 + d), the derivative over (t, x).
    """

    value: Tensor
    value_se: Tensor
    gradient: Tensor
    gradient_se: Tensor
    paths: int
    steps: int
    control_variate: bool
    exact_simulation: bool

    def describe(self) -> str:
        """One phrase: how the references were made."""
        simulation = (
            "exact simulation"
            if self.exact_simulation
            else f"Euler-Maruyama with {self.steps} and {self.steps // 2} steps, Richardson-extrapolated "
            "(the remaining O(dt^2) bias assumed negligible)"
        )
        value = (
            f"a martingale control variate from the trained network on {CV_STEPS} times"
            if self.control_variate
            else "no control variate"
        )
        return (
            f"{self.paths} fresh Feynman-Kac paths per point in antithetic pairs, {simulation}; "
            f"value with {value}, derivative pathwise; standard errors over the {self.paths // 2} pairs"
        )


def _float32_copy(network: ReLUNetwork) -> ReLUNetwork:
    layers = [
        (a.detach().to(torch.float32).clone(), b.detach().to(torch.float32).clone())
        for a, b in network.layers
    ]
    return ReLUNetwork(layers, network.act.name, network.negative_slope, network.act.c)


def _space_gradient(network: ReLUNetwork, time: Tensor, state: Tensor) -> Tensor:
    """grad_x u_h(time, state), computed in the network's dtype, returned in float64."""
    inputs = torch.cat([time.unsqueeze(1), state], 1).to(network.dtype)
    with torch.no_grad():
        _, jac = network.value_and_jacobian(inputs)
    return jac[:, 0, 1:].to(DTYPE)


def _euler_step(
    problem: KolmogorovProblem, time: Tensor, state: Tensor, dt: Tensor, dw: Tensor
) -> tuple[Tensor, Tensor]:
    """(mu dt + sigma dW, sigma dW) at (time, state): one step and its martingale part."""
    env = space_env(time, state)
    drift = (
        torch.zeros_like(state)
        if problem.k_drift is None
        else torch.stack([b.evaluate(env, state[:, 0]) for b in problem.k_drift], 1)
    )
    diffusion = apply_matrix(problem.k_vol, env, dw)
    return drift * dt.unsqueeze(1) + diffusion, diffusion


def _simulate(
    problem: KolmogorovProblem,
    t: Tensor,
    x: Tensor,
    half: int,
    gen: torch.Generator,
    control: ReLUNetwork | None,
) -> tuple[Tensor, Tensor]:
    """Pair-averaged samples (half, n) of the value estimator and (half, n, 1 + d) of the
    pathwise derivative at the n points (t, x)."""
    n, d = x.shape
    steps = CV_STEPS if problem.exact_simulation else REFERENCE_EULER_STEPS
    stride = max(steps // CV_STEPS, 1)
    ts = t.clamp_min(SMALLEST_TIME).repeat(2 * half).requires_grad_(True)
    xs = x.repeat(2 * half, 1).requires_grad_(True)
    noise = torch.randn(steps, half * n, d, dtype=DTYPE, generator=gen)
    noise = torch.cat([noise, -noise], 1)  # antithetic
    dt = ts / steps
    sqrt_dt = dt.sqrt().unsqueeze(1)
    state = xs
    correction = torch.zeros(2 * half * n, dtype=DTYPE)
    integrand: Tensor | None = None
    martingale = torch.zeros(2 * half * n, d, dtype=DTYPE)
    # Euler-Maruyama: a coarse path with steps / 2 steps on the same Brownian increments,
    # for Richardson extrapolation 2 phi(X_fine) - phi(X_coarse) of the weak O(dt) bias.
    richardson = not problem.exact_simulation
    coarse = xs
    for k in range(steps):
        if control is not None and k % stride == 0:
            if integrand is not None:
                correction = correction + (integrand * martingale).sum(1)
            martingale = torch.zeros_like(martingale)
            # k = 0: deterministic integrand, cancels in every antithetic pair
            integrand = None if k == 0 else _space_gradient(control, (ts - k * dt).detach(), state.detach())
        diffusion = _euler_step(problem, ts - k * dt, state, dt, noise[k] * sqrt_dt)
        state = state + diffusion[0]
        if integrand is not None:
            martingale = martingale + diffusion[1].detach()
        if richardson and k % 2 == 1:
            increment = (noise[k - 1] + noise[k]) * sqrt_dt
            coarse = coarse + _euler_step(problem, ts - (k - 1) * dt, coarse, 2 * dt, increment)[0]
    if integrand is not None:
        correction = correction + (integrand * martingale).sum(1)
    phi = problem.initial.evaluate(space_env(None, state), state[:, 0])
    if richardson:
        phi = 2.0 * phi - problem.initial.evaluate(space_env(None, coarse), coarse[:, 0])
    grad_t, grad_x = torch.autograd.grad(phi.sum(), [ts, xs], allow_unused=True)
    grad_t = torch.zeros_like(ts) if grad_t is None else grad_t
    grad_x = torch.zeros_like(xs) if grad_x is None else grad_x
    value = (phi.detach() - correction).view(2, half, n).mean(0)
    gradient = torch.cat([grad_t.detach().unsqueeze(1), grad_x.detach()], 1).view(2, half, n, d + 1).mean(0)
    return value, gradient


def references(
    problem: KolmogorovProblem,
    inputs: Tensor,
    seed: int,
    *,
    network: ReLUNetwork | None = None,
    paths: int = REFERENCE_PATHS,
    purpose: str = "points",
) -> Reference:
    """Monte Carlo references of u*(t, x) and D u*(t, x) = (u_t, grad_x u) at ``inputs``
    (n, 1 + d), t first; ``network`` (inputs (t, x)) is the control variate of the value.

    Per point: the mean over paths / 2 i.i.d. antithetic pair averages and the standard
    error s / sqrt(paths / 2) (plus ROUNDING_SLACK (1 + |mean|)).  Different
    ``purpose`` strings give independent draws."""
    if not isinstance(problem.spec, Kolmogorov):
        raise ValueError(f"Monte Carlo references need a kolmogorov problem, not {problem.spec.kind!r}")
    if paths < 4 or paths % 2:
        raise ValueError(f"paths must be even and at least 4 (two antithetic pairs), got {paths}")
    if inputs.dim() != 2 or inputs.shape[1] != problem.n_inputs:
        raise ValueError(
            f"inputs must have shape (n, {problem.n_inputs}) with t first, got {tuple(inputs.shape)}"
        )
    if network is not None and network.in_features != problem.n_inputs:
        raise ValueError(
            f"the control network takes {network.in_features} inputs, the problem {problem.n_inputs}"
        )
    inputs = inputs.detach().to(DTYPE)
    half = paths // 2
    control = _float32_copy(network) if network is not None else None
    chunk = max(1, CHUNK_ROWS // paths)
    values, value_se, grads, grad_se = [], [], [], []
    for index, start in enumerate(range(0, inputs.shape[0], chunk)):
        block = inputs[start : start + chunk]
        gen = torch.Generator().manual_seed(derived_seed(seed, "reference", purpose, index))
        value, gradient = _simulate(problem, block[:, 0], block[:, 1:], half, gen, control)
        value_mean, grad_mean = value.mean(0), gradient.mean(0)
        values.append(value_mean)
        value_se.append(value.std(0) / math.sqrt(half) + ROUNDING_SLACK * (1.0 + value_mean.abs()))
        grads.append(grad_mean)
        grad_se.append(gradient.std(0) / math.sqrt(half) + ROUNDING_SLACK * (1.0 + grad_mean.abs()))
    empty = torch.zeros(0, dtype=DTYPE)
    empty_grad = torch.zeros(0, problem.n_inputs, dtype=DTYPE)
    return Reference(
        value=torch.cat(values) if values else empty,
        value_se=torch.cat(value_se) if values else empty,
        gradient=torch.cat(grads) if values else empty_grad,
        gradient_se=torch.cat(grad_se) if values else empty_grad,
        paths=2 * half,
        steps=CV_STEPS if problem.exact_simulation else REFERENCE_EULER_STEPS,
        control_variate=network is not None,
        exact_simulation=problem.exact_simulation,
    )


def events_per_point(problem: KolmogorovProblem) -> int:
    """Confidence statements per point: the value and each derivative component."""
    return 1 + problem.n_inputs


def union_quantile(delta: float, events: int) -> float:
    """z with which ``events`` two-sided statements |mean - truth| <= z se hold jointly with
    probability >= 1 - delta: each fails with probability 2 (1 - Phi(z)) (CLT), so the union
    bound takes z = z_(1 - delta / (2 events))."""
    if events < 1:
        raise ValueError(f"events must be at least 1, got {events}")
    return normal_quantile(1.0 - delta / (2.0 * events))


def error_upper_bounds(
    network: ReLUNetwork, inputs: Tensor, reference: Reference, z: float
) -> tuple[Tensor, Tensor]:
    """Per-point upper bounds of |u_h - u*| and |D u_h - D u*| (Euclidean over (t, x)):

        |u_h - u*| <= |u_h - ubar| + z se,    |D u_h - D u*| <= |D u_h - gbar| + z |se|,

    valid wherever every component of the reference lies within z of its standard errors
    (|gbar - D u*| <= |z se| componentwise implies it in the Euclidean norm)."""
    with torch.no_grad():
        u, jac = network.value_and_jacobian(inputs.to(network.dtype))
    u0 = u[:, 0].to(DTYPE)
    du = jac[:, 0, :].to(DTYPE)
    value = (u0 - reference.value).abs() + z * reference.value_se
    gradient = (du - reference.gradient).norm(dim=1) + z * reference.gradient_se.norm(dim=1)
    return value, gradient


__all__ = [
    "CV_STEPS",
    "REFERENCE_PATHS",
    "Reference",
    "error_upper_bounds",
    "events_per_point",
    "references",
    "union_quantile",
]
