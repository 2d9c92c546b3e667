"""Levenberg-Marquardt on the residuals, in float64: the second-order training phase.

The training objective of this phase is the mean-square loss

    L(theta) = sum_terms mean_points r^2 = |w r(theta)|^2,   w = 1 / sqrt(points of the term),

over every residual term (interior equations, conditions), r the per-point residual
magnitudes of ``PDEProblem.residuals``.  Each residual depends on the parameters only
through (u, D Phi) at its point, so its Jacobian row is g^T d(u, D Phi)/d theta with
g = dr / d(u, D Phi) (autograd on the residual expressions, exact) and the per-sample
parameter Jacobian of ``models.parameter_jacobian`` (the layer rules of D Phi).  With the
weighted rows J (N x P) a step is

    delta = -(J^T J + lambda I)^{-1} J^T r = -J^T (J J^T + lambda I)^{-1} r,

the second form (an N x N Cholesky solve, N rows) being the cheap one when P > N: a
3 x 64 network has about 8,700 parameters, a step uses at most ``MAX_ROWS`` rows.  lambda
follows the usual rule: a step that lowers L is taken and lambda shrinks (/ ``SHRINK``),
one that does not is refused and lambda grows (x ``GROW``), at most ``RETRIES`` times
per iteration.  lambda is relative: lambda = mu * trace(J J^T) / N.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from models import ReLUNetwork
from models.embedding import EmbeddedNetwork
from models.parameter_jacobian import contracted_jacobian
from solver.problems import PDEProblem, PointSet

DTYPE = torch.float64
MAX_ROWS = 2048  # rows per step (a random subset of the points when there are more)
MU_START = 1e-3
MU_MIN = 1e-12
MU_MAX = 1e8
SHRINK = 3.0
GROW = 4.0
RETRIES = 6
#: a step may raise the loss on the held-out points by at most this factor
HELD_OUT_SLACK = 1.25


@dataclass
class Rows:
    """The weighted residuals r (N,) and, when asked for, their Jacobian J (N, P)."""

    residual: Tensor
    jacobian: Tensor | None

    @property
    def loss(self) -> float:
        return float(self.residual.square().sum())


def _trainable(net: ReLUNetwork) -> tuple[list[Tensor], list[Tensor]]:
    """The parameters' current A_l, b_l (an embedded network's own layers)."""
    pairs = net.trainable_layers if isinstance(net, EmbeddedNetwork) else net.layers
    return [a.detach() for a, _ in pairs], [b.detach() for _, b in pairs]


def _embedded_inputs(net: ReLUNetwork, z: Tensor) -> tuple[Tensor, Tensor | None]:
    """h_0 and F_0 = Dh_0 of the first trainable layer: z and None (the identity), or the
    fixed feature map e(z) = C rho(A_E z + b_E) + d of an embedded network and De(z)."""
    if not isinstance(net, EmbeddedNetwork):
        return z, None
    pre = torch.addmm(net.feature_bias, z, net.feature_weight.t())
    slope = net.act.slope(pre)
    features = (pre * slope) @ net.combine.t() + net.offset
    jac = torch.einsum("ij,nj,jc->nic", net.combine, slope, net.feature_weight)
    return features, jac


def residual_rows(
    problem: PDEProblem,
    points: dict[str, PointSet],
    net: ReLUNetwork,
    center: Tensor,
    half: Tensor,
    output_scale: float,
    *,
    with_jacobian: bool,
) -> Rows:
    """Weighted residual rows of every term on ``points`` (and their Jacobian)."""
    weights, biases = _trainable(net)
    residuals: list[Tensor] = []
    rows: list[Tensor] = []
    for name, pset in points.items():
        z = (pset.inputs().to(DTYPE) - center) / half
        with torch.no_grad():
            u_net, jac_net = net.value_and_jacobian(z)
        u = (u_net * output_scale).requires_grad_(with_jacobian)
        jac = (jac_net * (output_scale / half)).requires_grad_(with_jacobian)
        with torch.set_grad_enabled(with_jacobian):
            terms = problem.residuals(name, pset.to(DTYPE), u, jac)
        h0, f0 = _embedded_inputs(net, z) if with_jacobian else (z, None)
        for magnitude in terms.values():
            weight = 1.0 / math.sqrt(magnitude.shape[0])
            residuals.append(weight * magnitude.detach())
            if not with_jacobian:
                continue
            g_u, g_jac = torch.autograd.grad(magnitude.sum(), (u, jac), retain_graph=True, allow_unused=True)
            g_u = torch.zeros_like(u) if g_u is None else g_u
            g_jac = torch.zeros_like(jac) if g_jac is None else g_jac
            # to the network's own coordinates: u = s u_net, D u = (s / h) D u_net
            g = torch.cat([(g_u * output_scale).unsqueeze(2), g_jac * (output_scale / half)], 2)
            found = contracted_jacobian(weights, biases, net.act, h0, g, f0)
            if found.shape[0] == 2 * magnitude.shape[0]:  # a residual of paired points
                found = found[: magnitude.shape[0]] + found[magnitude.shape[0] :]
            rows.append(weight * found)
    return Rows(torch.cat(residuals), torch.cat(rows) if with_jacobian else None)


def flat_parameters(net: ReLUNetwork) -> Tensor:
    return torch.cat([p.detach().reshape(-1) for p in net.parameters()])


def set_parameters(net: ReLUNetwork, flat: Tensor) -> None:
    with torch.no_grad():
        start = 0
        for p in net.parameters():
            size = p.numel()
            p.copy_(flat[start : start + size].view_as(p))
            start += size


def subsample(
    points: dict[str, PointSet],
    limit: int,
    generator: torch.Generator,
    terms: dict[str, int] | None = None,
    paired: frozenset[str] = frozenset(),
) -> dict[str, PointSet]:
    """At most ``limit`` rows in all, a set of n points giving n x ``terms[name]`` rows (1 when
    not given); each set is cut in the same proportion, keeping at least 8 points."""
    per = {name: (terms or {}).get(name, 1) for name in points}
    total = sum(p.x.shape[0] * per[name] for name, p in points.items())
    if total <= limit:
        return points
    share = limit / total
    picked: dict[str, PointSet] = {}
    for name, pset in points.items():
        n = pset.x.shape[0]
        if name in paired:  # points i and n/2 + i belong together: keep whole pairs
            half = n // 2
            keep = min(half, max(4, int(half * share)))
            first = torch.randperm(half, generator=generator)[:keep]
            picked[name] = pset.select(torch.cat([first, first + half]))
            continue
        keep = min(n, max(8, int(n * share)))
        picked[name] = pset.select(torch.randperm(n, generator=generator)[:keep])
    return picked


def terms_per_set(problem: PDEProblem, points: dict[str, PointSet], net: ReLUNetwork) -> dict[str, int]:
    """How many residual terms (rows per point) each point set has."""
    found: dict[str, int] = {}
    for name, pset in points.items():
        few = pset.select(torch.arange(min(2, pset.x.shape[0])))
        inputs = few.inputs().to(net.dtype)
        with torch.no_grad():
            u, jac = net.value_and_jacobian(torch.zeros_like(inputs))
        found[name] = len(problem.residuals(name, few.to(net.dtype), u, jac))
    return found


@dataclass
class LevenbergMarquardt:
    """The damping state mu and one step at a time (module docstring)."""

    mu: float = MU_START

    def step(
        self, rows_of: Callable[[bool], Rows], net: ReLUNetwork, check_of: Callable[[], float] | None = None
    ) -> tuple[float, bool]:
        """One iteration on the rows ``rows_of(with_jacobian)`` gives (the same points each
        call): the loss after it and whether a step was taken.  With ``check_of`` (the loss
        on other points), a step must lower that loss too: with fewer rows than parameters
        a step can fit its own points and lose elsewhere, and such a step is refused."""
        current = rows_of(True)
        assert current.jacobian is not None
        jacobian, residual = current.jacobian, current.residual
        gram = jacobian @ jacobian.t()
        scale = float(torch.diagonal(gram).mean().clamp_min(1e-300))
        theta = flat_parameters(net)
        before = check_of() if check_of is not None else math.inf
        eye = torch.eye(gram.shape[0], dtype=DTYPE)
        for _ in range(RETRIES):
            factor, info = torch.linalg.cholesky_ex(gram + self.mu * scale * eye)
            if int(info) != 0:
                self.mu = min(self.mu * GROW, MU_MAX)
                continue
            alpha = torch.cholesky_solve(residual.unsqueeze(1), factor).squeeze(1)
            set_parameters(net, theta - jacobian.t() @ alpha)
            trial = rows_of(False).loss
            held = check_of() if check_of is not None else -math.inf
            if math.isfinite(trial) and trial < current.loss and held <= HELD_OUT_SLACK * before:
                self.mu = max(self.mu / SHRINK, MU_MIN)
                return trial, True
            self.mu = min(self.mu * GROW, MU_MAX)
        set_parameters(net, theta)
        return current.loss, False


__all__ = [
    "MAX_ROWS",
    "LevenbergMarquardt",
    "Rows",
    "flat_parameters",
    "residual_rows",
    "set_parameters",
    "subsample",
    "terms_per_set",
]
