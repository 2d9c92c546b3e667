"""The output layer solved, not trained: least squares and Gauss-Newton over (A_L, b_L).

A network Phi = ((A_1, b_1), ..., (A_L, b_L)) is a hidden part h(z) = rho(A_{L-1} ... ) with
features h (n, W) and their exact derivatives Dh (n, W, N_0), and an output layer:

    u = s (A_L h + b_L),        D u = s A_L Dh diag(1 / half),

(s the output scale, half the input half-widths of the normalization z = (x - c) / half).
Every residual of ``PDEProblem.residual_vectors`` depends on the parameters only through
(u, D u) at its points.  For a *linear* residual (transport, divergence form, Kolmogorov
regression, a linear system) the residual is affine in theta_L = (A_L, b_L), so the best
output layer for the mean-square objective

    L(theta_L) = sum_terms (1 / n_term) sum_i |r_i(theta_L)|^2

is one least-squares solve.  For a nonlinear residual (eikonal, Hamilton-Jacobi, Burgers,
K(u), Navier-Stokes) the same solve on the linearization is a Gauss-Newton step; a
backtracking line search keeps each step a descent step.  Systems are one block solve
over all outputs.

The rows: with g = d r_c / d(u, D u) (autograd on the residual expressions, exact), the
row of component c at point i is

    J[i, (k, j)] = s (g_u[i, k] h_j(z_i) + sum_q g_Du[i, k, q] Dh_j(z_i)_q / half_q),
    J[i, (k, bias)] = s g_u[i, k],

weighted by 1 / sqrt(n_term).  The solve scales the columns to unit norm, adds a Tikhonov
term lambda |theta|^2 (``RIDGE`` times the mean diagonal, which fixes nothing of a well-posed
problem and keeps a rank-deficient one finite) and factors the normal matrix by Cholesky in
float64.

``loss.norm: "sup"`` keeps its meaning here: the objective is each term's sampled sup
max_i |r_i|, reached by Lawson's iteratively reweighted least squares (Lawson 1961): after
each weighted solve every row's weight is multiplied by its residual |r_i| and the term's
weights renormalized, so the weight concentrates on the rows that attain the sup and the
weighted least-squares solutions tend to the discrete minimax fit.  For a linear residual
that fit is a linear program's optimum; tests/solver/test_output_layer.py checks
``minimax_fit`` against scipy's HiGHS.  An LP solver was not used in the solve itself: the
dense LP of 38,000 rows by 4,800 unknowns (poisson-2d at 1,600 features) is far beyond what
a least-squares solve of the same rows costs, and Lawson's iterations reuse that solve.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import Tensor

from models import ReLUNetwork
from solver.problems import PDEProblem, PointSet
from solver.spec import LAWSON_ITERATIONS

DTYPE = torch.float64
RIDGE = 1e-10  # Tikhonov weight, relative to the mean diagonal of the scaled normal matrix
LINE_SEARCH = 8  # halvings of a Gauss-Newton step before it is refused


@dataclass(frozen=True)
class Features:
    """The hidden part at points z: h (n, W) and Dh (n, W, N_0), in normalized coordinates."""

    value: Tensor
    jacobian: Tensor


def hidden_features(net: ReLUNetwork, z: Tensor) -> Features:
    """h = rho(z_{L-1}) and Dh = diag(rho'_c(z_{L-1})) D z_{L-1}, the last hidden layer's
    activations and their network derivative (the rule of D Phi, ending one layer early)."""
    layers = [(a.detach(), b.detach()) for a, b in net.layers]
    if len(layers) < 2:
        raise ValueError("a network with no hidden layer has no features to solve over")
    hidden = ReLUNetwork(layers[:-1], net.act.name, net.negative_slope, net.act.c)
    with torch.no_grad():
        pre, dpre = hidden.value_and_jacobian(z.to(hidden.dtype))
        slope = net.act.slope(pre)
    return Features(pre * slope, slope.unsqueeze(2) * dpre)


@dataclass(frozen=True)
class RowBlock:
    """The rows of one residual component: r (n,) and their Jacobian (n, len(columns)) over
    only the columns of theta_L they depend on (an output a residual does not touch gives
    zero columns, which are left out: a flux row sigma_q - K grad u has none in the other
    sigma blocks, a Dirichlet row none outside u's)."""

    residual: Tensor
    jacobian: Tensor
    columns: Tensor  # (k,) int64 indices into theta_L
    term: str = ""  # the residual term it is a component of


@dataclass
class OutputRows:
    """The weighted residual rows of every term at theta_L, in ``blocks``; theta_L has P =
    m (W + 1) entries: k W .. (k + 1) W - 1 the weights of output k, the last m the biases."""

    blocks: list[RowBlock]
    unknowns: int
    terms: list[tuple[str, int, int]]  # (term, first row, rows): where each term's rows lie

    @property
    def residual(self) -> Tensor:
        return torch.cat([block.residual for block in self.blocks])

    @property
    def loss(self) -> float:
        return float(sum(float(block.residual.square().sum()) for block in self.blocks))

    def dense(self) -> Tensor:
        """J (N, P) with its zero columns (for tests and small problems)."""
        parts = []
        for block in self.blocks:
            full = block.jacobian.new_zeros(block.jacobian.shape[0], self.unknowns)
            full[:, block.columns] = block.jacobian
            parts.append(full)
        return torch.cat(parts)


def output_columns(active: list[int], m: int, w: int) -> Tensor:
    """theta_L's indices of the weights and biases of the outputs ``active``."""
    weights = [torch.arange(k * w, (k + 1) * w) for k in active]
    return torch.cat([*weights, torch.tensor([m * w + k for k in active], dtype=torch.long)])


def output_parameters(net: ReLUNetwork) -> Tensor:
    """theta_L = (vec A_L row by row, b_L), float64."""
    a, b = net.layers[-1]
    return torch.cat([a.detach().reshape(-1), b.detach()]).to(DTYPE)


def set_output_parameters(net: ReLUNetwork, theta: Tensor) -> None:
    a, b = net.layers[-1]
    m, w = a.shape
    with torch.no_grad():
        a.copy_(theta[: m * w].view(m, w).to(a.dtype))
        b.copy_(theta[m * w :].to(b.dtype))


def output_rows(
    problem: PDEProblem,
    points: dict[str, PointSet],
    features: dict[str, Features],
    theta: Tensor,
    half: Tensor,
    output_scale: float,
    *,
    set_weights: dict[str, float] | None = None,
    row_weights: dict[str, Tensor] | None = None,
    with_jacobian: bool = True,
) -> OutputRows:
    """The weighted residual rows of every term at theta_L and, ``with_jacobian``, their
    Jacobian (module docstring; without it each block's Jacobian is empty).  ``features``
    holds each point set's h and Dh; ``set_weights`` a weight per point set (1 where not
    given), ``row_weights`` optional extra weights per term (Lawson's), one per row."""
    blocks: list[RowBlock] = []
    where: list[tuple[str, int, int]] = []
    start = 0
    unknowns = theta.shape[0]
    for name, pset in points.items():
        feats = features[name]
        h, dh = feats.value.to(DTYPE), feats.jacobian.to(DTYPE)
        n, w = h.shape
        m = unknowns // (w + 1)
        a, b = theta[: m * w].view(m, w), theta[m * w :]
        u = (output_scale * (h @ a.t() + b)).requires_grad_(with_jacobian)
        jac = (output_scale * torch.einsum("kj,njq->nkq", a, dh) / half).requires_grad_(with_jacobian)
        set_weight = 1.0 if set_weights is None else set_weights.get(name, 1.0)
        with torch.set_grad_enabled(with_jacobian):
            vectors = problem.residual_vectors(name, pset.to(DTYPE), u, jac)
        scaled_dh = dh / half  # Dh in physical coordinates
        for term, vector in vectors.items():
            components = vector.unsqueeze(1) if vector.dim() == 1 else vector
            n_rows = components.shape[0]
            weight = set_weight / math.sqrt(n_rows)
            extra = None if row_weights is None else row_weights.get(term)
            scale = weight if extra is None else weight * extra.sqrt()
            for c in range(components.shape[1]):
                residual = scale * components[:, c].detach()
                if not with_jacobian:
                    blocks.append(
                        RowBlock(
                            residual, residual.new_zeros(n_rows, 0), torch.zeros(0, dtype=torch.long), term
                        )
                    )
                    continue
                g_u, g_jac = torch.autograd.grad(
                    components[:, c].sum(), (u, jac), retain_graph=True, allow_unused=True
                )
                g_u = torch.zeros_like(u) if g_u is None else g_u
                g_jac = torch.zeros_like(jac) if g_jac is None else g_jac
                active = [k for k in range(m) if bool(g_u[:, k].any()) or bool(g_jac[:, k].any())]
                g_u, g_jac = g_u[:, active], g_jac[:, active]
                block = torch.einsum("nk,nj->nkj", g_u, h) + torch.einsum("nkq,njq->nkj", g_jac, scaled_dh)
                row = output_scale * torch.cat([block.reshape(n, len(active) * w), g_u], 1)
                if n_rows != n:  # a residual of paired points: rows i and n/2 + i belong together
                    row = row[:n_rows] + row[n_rows:]
                scale_col = scale if isinstance(scale, float) else scale.unsqueeze(1)
                blocks.append(RowBlock(residual, scale_col * row, output_columns(active, m, w), term))
            where.append((term, start, n_rows * components.shape[1]))
            start += n_rows * components.shape[1]
    return OutputRows(blocks, unknowns, where)


def term_magnitudes(rows: OutputRows) -> dict[str, Tensor]:
    """|r_i| per row of each term, the Euclidean norm over the term's components."""
    squares: dict[str, Tensor] = {}
    for block in rows.blocks:
        part = block.residual.square()
        squares[block.term] = part if block.term not in squares else squares[block.term] + part
    return {term: square.sqrt() for term, square in squares.items()}


def lawson_update(weights: dict[str, Tensor] | None, rows: OutputRows) -> dict[str, Tensor]:
    """Lawson's rule, per term: w_i <- w_i |r_i| / sum_j w_j |r_j| (w = 1 / n to start), with
    |r_i| the magnitudes at the current solve; the weights of the rows that attain the term's
    sup grow, the others fade."""
    updated: dict[str, Tensor] = {}
    for term, magnitude in term_magnitudes(rows).items():
        previous = torch.full_like(magnitude, 1.0) if weights is None else weights[term]
        grown = previous * magnitude
        updated[term] = grown / grown.sum().clamp_min(1e-300) * grown.shape[0]
    return updated


def minimax_fit(jacobian: Tensor, residual: Tensor, iterations: int = LAWSON_ITERATIONS) -> Tensor:
    """delta that makes max_i |r_i + (J delta)_i| small: Lawson's iteratively reweighted least
    squares from the least-squares solution (module docstring), the iterate of the smallest
    max kept."""
    columns = torch.arange(jacobian.shape[1])
    weights = torch.ones_like(residual)
    best, best_max = None, math.inf
    for _ in range(iterations + 1):
        root = weights.sqrt()
        block = RowBlock(residual * root, jacobian * root.unsqueeze(1), columns, "fit")
        delta = solve_normal(NormalEquations.of([OutputRows([block], jacobian.shape[1], [])]), 0.0)
        current = (residual + jacobian @ delta).abs()
        if float(current.max()) < best_max:
            best, best_max = delta, float(current.max())
        weights = weights * current
        weights = weights / weights.sum().clamp_min(1e-300) * weights.shape[0]
    assert best is not None
    return best


@dataclass(frozen=True)
class NormalEquations:
    """G = J^T J, c = J^T r and |r|^2 of the rows of one or more draws of points, each draw's
    rows weighted 1 / sqrt(draws) (so the objective is the mean over the draws)."""

    gram: Tensor
    rhs: Tensor
    loss: float

    @classmethod
    def of(cls, draws: Iterable[OutputRows]) -> NormalEquations:
        """Summed draw by draw (one draw's rows in memory at a time), each block into the
        rows and columns of theta_L it touches."""
        gram: Tensor | None = None
        rhs: Tensor | None = None
        loss, count = 0.0, 0
        for rows in draws:
            if gram is None or rhs is None:
                gram = torch.zeros(rows.unknowns, rows.unknowns, dtype=DTYPE)
                rhs = torch.zeros(rows.unknowns, dtype=DTYPE)
            for block in rows.blocks:
                if block.columns.numel() == 0:
                    continue
                index = block.columns
                gram[index.unsqueeze(1), index.unsqueeze(0)] += block.jacobian.t() @ block.jacobian
                rhs[index] += block.jacobian.t() @ block.residual
            loss += rows.loss
            count += 1
        if gram is None or rhs is None:
            raise ValueError("the output-layer solve needs at least one draw of points")
        return cls(gram / count, rhs / count, loss / count)

    def model(self, step: Tensor) -> float:
        """The quadratic model |r + J delta|^2 at ``step``: what the loss would be if the
        residuals were affine in theta_L."""
        return self.loss + float(2 * (self.rhs @ step) + step @ (self.gram @ step))


def solve_normal(normal: NormalEquations, ridge: float = RIDGE) -> Tensor:
    """delta = -(D G D + lambda I)^-1 D c, scaled back by D = diag(G)^-1/2 (unit columns);
    lambda = ``ridge`` (times the mean diagonal, 1 after scaling), raised 100x at a time while
    the Cholesky factorization fails."""
    diag = torch.diagonal(normal.gram)
    scale = torch.where(diag > 0, diag.clamp_min(1e-300).rsqrt(), torch.ones_like(diag))
    gram = normal.gram * scale.unsqueeze(1) * scale.unsqueeze(0)
    rhs = -(normal.rhs * scale)
    eye = torch.eye(gram.shape[0], dtype=DTYPE)
    lam = ridge * float(torch.diagonal(gram).mean().clamp_min(1e-300))
    for _ in range(8):
        factor, info = torch.linalg.cholesky_ex(gram + lam * eye)
        if int(info) == 0:
            step = torch.cholesky_solve(rhs.unsqueeze(1), factor).squeeze(1)
            return step * scale
        lam = max(lam * 100.0, 1e-14)
    raise ArithmeticError("the output layer's normal matrix is not positive definite at any ridge tried")


@dataclass(frozen=True)
class StepResult:
    """One Gauss-Newton iteration on theta_L: the new parameters (the old ones when no step
    lowered the loss), the loss before and after, and whether the quadratic model was exact
    at the full step (an affine residual: the least-squares solution is reached, stop)."""

    theta: Tensor
    loss_before: float
    loss_after: float
    taken: bool
    affine: bool


AFFINE_TOLERANCE = 1e-6  # |loss(theta + delta) - model(delta)| <= this x loss(theta): affine


def gauss_newton_step(
    rows_of: Callable[[Tensor, bool], Iterable[OutputRows]], theta: Tensor, ridge: float = RIDGE
) -> StepResult:
    """delta from the normal equations of ``rows_of(theta, True)`` (the rows of every draw),
    then the step theta + alpha delta with alpha = 1, 1/2, ... (``LINE_SEARCH`` halvings) that
    first lowers the loss of ``rows_of(., False)``.  For a linear problem alpha = 1 is the
    least-squares solution and ``affine`` is set."""
    normal = NormalEquations.of(rows_of(theta, True))
    step = solve_normal(normal, ridge)
    predicted = normal.model(step)
    alpha = 1.0
    for _ in range(LINE_SEARCH + 1):
        trial = theta + alpha * step
        loss = draws_loss(rows_of, trial)
        if math.isfinite(loss) and loss <= normal.loss:
            affine = alpha == 1.0 and abs(loss - predicted) <= AFFINE_TOLERANCE * max(normal.loss, 1e-300)
            return StepResult(trial, normal.loss, loss, True, affine)
        alpha /= 2
    return StepResult(theta, normal.loss, normal.loss, False, False)


def draws_loss(rows_of: Callable[[Tensor, bool], Iterable[OutputRows]], theta: Tensor) -> float:
    """The objective at theta: the mean over the draws of |r|^2."""
    losses = [rows.loss for rows in rows_of(theta, False)]
    return sum(losses) / len(losses)


__all__ = [
    "Features",
    "NormalEquations",
    "OutputRows",
    "RowBlock",
    "StepResult",
    "draws_loss",
    "gauss_newton_step",
    "hidden_features",
    "lawson_update",
    "minimax_fit",
    "output_parameters",
    "output_rows",
    "set_output_parameters",
    "solve_normal",
    "term_magnitudes",
]
