"""Approximation experiments: the claims of the three seed documents, tested (docs/approximation.md).

Three experiments, each a subcommand that prints its tables and writes its figures (PNG) and
raw results (JSON) into ``--out``:

* ``seed000``: "for networks with N nodes we should empirically observe L ~ 1/2^N", with
  L[F_theta] = int_X |F - F_theta|^2 dx.  ReLU networks of N hidden nodes (one hidden layer
  of width N, and width-8 networks of depth N/8) are trained by Adam on the mean square on a
  grid, for smooth and non-smooth targets on [0, 1] and [0, 1]^2, several seeds.  Measured on
  a finer grid: L (the mean square, the domain having volume 1), the sup error and the
  W^{1,inf} error (sup |u - f| + sup |grad u - grad f|), and in 1-D the number of linear
  pieces.  Fits of log2 L = a - b N (the claim: b = 1) and log L = c - p log N (a power law).
* ``seed001``: the hat-function network ``models.constructions.interpolant`` against the
  number of cells (its width is the number of grid nodes), measured value and gradient
  errors against ``interpolant_error`` (M2 h^2 / 8, M2 h / 2 in 1-D; sqrt(d) M2 |h| in 2-D).
* ``seed002``: the sawtooth square network f_m: errors against depth (the promise
  2^(-2m-2), 2^-m), the product network, trained networks of the same widths on x^2 for
  comparison; the polynomial construction's depth, width and size against the theorem's
  log^3(dn) [log ||c||_1 + log 1/eps] and d (||c||_0 + n).

    .venv/bin/python bench/approximation.py all --out docs/approximation    # every figure (~15 min, 2 cores)
    .venv/bin/python bench/approximation.py seed000 --steps 1000 --seeds 0  # a quicker look
    make approximation                                                       # the same as `all`
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import Tensor

from models import ReLUNetwork, constructions

DTYPE = torch.float64
TRAIN_DTYPE = torch.float32
LR_FLOOR = 0.05
SHALLOW_SIZES = (2, 4, 8, 16, 32, 64, 128)
DEEP_WIDTH = 8
DEEP_DEPTHS = (1, 2, 4, 8, 16)
Function = Callable[[Tensor], Tensor]


# ---------------------------------------------------------------------- targets
@dataclass(frozen=True)
class Target:
    """f on [0, 1]^dim with its gradient; ``smooth``: C^infinity on the closed domain."""

    name: str
    dim: int
    smooth: bool
    f: Function
    grad: Function


def _sin_1d(x: Tensor) -> Tensor:
    return torch.sin(2 * math.pi * x[:, 0])


def _sin_1d_grad(x: Tensor) -> Tensor:
    return (2 * math.pi * torch.cos(2 * math.pi * x[:, 0])).unsqueeze(1)


def _kink(x: Tensor) -> Tensor:
    return (x[:, 0] - 1 / 3).abs()


def _kink_grad(x: Tensor) -> Tensor:
    return torch.sign(x[:, 0] - 1 / 3).unsqueeze(1)


def _abs_sin(x: Tensor) -> Tensor:
    return torch.sin(3 * math.pi * x[:, 0]).abs()


def _abs_sin_grad(x: Tensor) -> Tensor:
    s = torch.sin(3 * math.pi * x[:, 0])
    return (torch.sign(s) * 3 * math.pi * torch.cos(3 * math.pi * x[:, 0])).unsqueeze(1)


def _sin_2d(x: Tensor) -> Tensor:
    return torch.sin(math.pi * x[:, 0]) * torch.sin(math.pi * x[:, 1])


def _sin_2d_grad(x: Tensor) -> Tensor:
    sx, sy = torch.sin(math.pi * x[:, 0]), torch.sin(math.pi * x[:, 1])
    cx, cy = torch.cos(math.pi * x[:, 0]), torch.cos(math.pi * x[:, 1])
    return math.pi * torch.stack([cx * sy, sx * cy], 1)


def _cone(x: Tensor) -> Tensor:
    distance: Tensor = (x - 0.5).norm(dim=1)
    return distance


def _cone_grad(x: Tensor) -> Tensor:
    centered = x - 0.5
    direction: Tensor = centered / centered.norm(dim=1, keepdim=True).clamp_min(1e-300)
    return direction


TARGETS = (
    Target("sin(2 pi x)", 1, True, _sin_1d, _sin_1d_grad),
    Target("|x - 1/3|", 1, False, _kink, _kink_grad),
    Target("|sin(3 pi x)|", 1, False, _abs_sin, _abs_sin_grad),
    Target("sin(pi x) sin(pi y)", 2, True, _sin_2d, _sin_2d_grad),
    Target("|(x, y) - (1/2, 1/2)|", 2, False, _cone, _cone_grad),
)


def value_and_gradient(net: ReLUNetwork, x: Tensor, chunk: int = 2048) -> tuple[Tensor, Tensor]:
    """u (n,) and grad u (n, d), in chunks: the Jacobians of wide networks are large."""
    values, gradients = [], []
    with torch.no_grad():
        for part in torch.split(x, chunk):
            u, jac = net.value_and_jacobian(part)
            values.append(u[:, 0])
            gradients.append(jac[:, 0, :])
    return torch.cat(values), torch.cat(gradients)


# Irrational offsets of the evaluation grid, one per axis: no evaluation point lies on a kink
# of a construction (dyadic nodes, Kuhn diagonals x_i - x_j = k h), where D Phi is the network
# derivative with rho'(0) = c and not the derivative of the function; W^{1,inf} errors are
# essential suprema, blind to that null set.
OFFSETS = (math.sqrt(2) - 1, (math.sqrt(5) - 1) / 2, math.sqrt(3) - 1)


def grid(dim: int, per_axis: int, *, off_kinks: bool = False) -> Tensor:
    """A tensor grid of [0, 1]^dim with per_axis points per axis: the nodes, or (off_kinks)
    one point per cell at an irrational offset."""
    axes = []
    for i in range(dim):
        if off_kinks:
            axes.append((torch.arange(per_axis, dtype=DTYPE) + OFFSETS[i % len(OFFSETS)]) / per_axis)
        else:
            axes.append(torch.linspace(0.0, 1.0, per_axis, dtype=DTYPE))
    mesh = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh], 1)


# ---------------------------------------------------------------------- training (the essay's claim)
@dataclass(frozen=True)
class Run:
    target: str
    family: str  # "shallow" (one hidden layer of width N) or "deep-w8" (width 8, depth N/8)
    nodes: int  # N: hidden nodes
    depth: int  # hidden layers
    seed: int
    l2_squared: float  # L = int |f - u|^2 (the domain has volume 1)
    linf: float
    grad_linf: float
    pieces: int | None  # linear pieces along [0, 1] (1-D only)
    seconds: float

    @property
    def w1inf(self) -> float:
        return self.linf + self.grad_linf


def initial_network(widths: Sequence[int], seed: int) -> ReLUNetwork:
    """He initialization with the first layer's kinks inside [0, 1]^d (b_1 = -A_1 p, p uniform)."""
    gen = torch.Generator().manual_seed(seed)
    net = ReLUNetwork.random(list(widths), dtype=TRAIN_DTYPE, generator=gen)
    with torch.no_grad():
        a1, b1 = net.layers[0]
        anchors = torch.rand(a1.shape, generator=gen, dtype=TRAIN_DTYPE)
        b1.copy_(-(a1 * anchors).sum(1))
    return net


def train(target: Target, widths: Sequence[int], seed: int, steps: int, lr: float = 3e-3) -> ReLUNetwork:
    """Adam on the mean square over a training grid (full batch), cosine learning rate."""
    net = initial_network(widths, seed)
    x = grid(target.dim, 513 if target.dim == 1 else 41)
    y = target.f(x).to(TRAIN_DTYPE)
    x = x.to(TRAIN_DTYPE)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    for step in range(steps):
        cosine = 0.5 * (1 + math.cos(math.pi * step / max(steps, 1)))
        for group in optimizer.param_groups:
            group["lr"] = lr * (LR_FLOOR + (1 - LR_FLOOR) * cosine)
        optimizer.zero_grad(set_to_none=True)
        loss = (net(x)[:, 0] - y).square().mean()
        loss.backward()
        optimizer.step()
    return net.to(DTYPE)


def measure(net: ReLUNetwork, target: Target) -> tuple[float, float, float, int | None]:
    """(L, sup |u - f|, sup |grad u - grad f|, linear pieces in 1-D) on a fine midpoint grid."""
    x = grid(target.dim, 20_000 if target.dim == 1 else 300, off_kinks=True)
    u, gradient = value_and_gradient(net, x)
    diff = u - target.f(x)
    grad_diff = (gradient - target.grad(x)).norm(dim=1)
    pieces = None
    if target.dim == 1:
        with torch.no_grad():
            pattern = torch.cat([(z > 0).to(torch.int8) for z in net.pre_activations(x)], 1)
        pieces = 1 + int((pattern[1:] != pattern[:-1]).any(1).sum())
    return float(diff.square().mean()), float(diff.abs().max()), float(grad_diff.max()), pieces


def architectures() -> list[tuple[str, int, list[int]]]:
    """(family, N, hidden widths)."""
    found = [("shallow", n, [n]) for n in SHALLOW_SIZES]
    found += [(f"deep-w{DEEP_WIDTH}", DEEP_WIDTH * k, [DEEP_WIDTH] * k) for k in DEEP_DEPTHS]
    return found


def run_seed000(
    steps: int,
    seeds: Sequence[int],
    targets: Sequence[Target] = TARGETS,
    families: Sequence[tuple[str, int, list[int]]] | None = None,
    log: bool = True,
) -> list[Run]:
    """Train every (target, architecture, seed) and measure it."""
    runs = []
    for target in targets:
        for family, nodes, hidden in families if families is not None else architectures():
            for seed in seeds:
                started = time.perf_counter()
                net = train(target, [target.dim, *hidden, 1], seed, steps)
                l2, linf, grad_linf, pieces = measure(net, target)
                run = Run(
                    target.name,
                    family,
                    nodes,
                    len(hidden),
                    seed,
                    l2,
                    linf,
                    grad_linf,
                    pieces,
                    time.perf_counter() - started,
                )
                runs.append(run)
                if log:
                    print(
                        f"  {target.name:24s} {family:8s} N={nodes:4d} seed {seed}: L {l2:.2e}, "
                        f"W1inf {run.w1inf:.2e}, pieces {pieces}, {run.seconds:.1f} s",
                        flush=True,
                    )
    return runs


@dataclass(frozen=True)
class Fit:
    """log2 L = a - b N (the claim: b = 1) and log L = c - p log N, least squares on medians."""

    target: str
    family: str
    quantity: str
    exponential_b: float
    exponential_r2: float
    power_p: float
    power_r2: float


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope and R^2 of the least-squares line y ~ a + s x."""
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (intercept + slope * x)
    total = float(((y - y.mean()) ** 2).sum())
    return float(slope), 1.0 - float((residual**2).sum()) / total if total > 0 else 1.0


def medians(runs: Sequence[Run], target: str, family: str, quantity: str) -> tuple[list[int], list[float]]:
    nodes = sorted({r.nodes for r in runs if r.target == target and r.family == family})
    values = []
    for n in nodes:
        chosen = [
            getattr(r, quantity) for r in runs if r.target == target and r.family == family and r.nodes == n
        ]
        values.append(float(statistics.median(chosen)))
    return nodes, values


def fit(runs: Sequence[Run], target: str, family: str, quantity: str) -> Fit:
    nodes, values = medians(runs, target, family, quantity)
    n = np.asarray(nodes, dtype=float)
    v = np.maximum(np.asarray(values), 1e-300)
    slope_exp, r2_exp = _line(n, np.log2(v))
    slope_pow, r2_pow = _line(np.log(n), np.log(v))
    return Fit(target, family, quantity, -slope_exp, r2_exp, -slope_pow, r2_pow)


# ---------------------------------------------------------------------- Redfern's notes: hat functions
@dataclass(frozen=True)
class InterpolantRow:
    dim: int
    cells: int
    width: int  # hidden width of the first layer (nodes of the network's widest layer)
    nodes: int
    value_error: float
    value_bound: float
    gradient_error: float
    gradient_bound: float


def run_seed001(cells_1d: Sequence[int], cells_2d: Sequence[int]) -> list[InterpolantRow]:
    rows = []
    for dim, cells_list, f, grad, hessian in (
        (1, cells_1d, _sin_1d, _sin_1d_grad, 4 * math.pi**2),
        (2, cells_2d, _sin_2d, _sin_2d_grad, 2 * math.pi**2),
    ):
        x = grid(dim, 20_000 if dim == 1 else 400, off_kinks=True)
        for cells in cells_list:
            net = constructions.interpolant(f, [0.0] * dim, [1.0] * dim, cells)
            bound = constructions.interpolant_error([1.0 / cells] * dim, hessian)
            u, gradient = value_and_gradient(net, x)
            rows.append(
                InterpolantRow(
                    dim,
                    cells,
                    max(net.widths[1:-1]),
                    sum(net.widths[1:-1]),
                    float((u - f(x)).abs().max()),
                    bound.value,
                    float((gradient - grad(x)).norm(dim=1).max()),
                    bound.derivative,
                )
            )
    return rows


# ------------------------------------------------- Berner et al. 2019: sawtooth, polynomials
@dataclass(frozen=True)
class DepthRow:
    construction: str  # "square", "product" or "trained x^2"
    m: int
    depth: int
    nodes: int
    value_error: float
    value_bound: float | None
    derivative_error: float
    derivative_bound: float | None


def _square_errors(net: ReLUNetwork) -> tuple[float, float]:
    x = grid(1, 2**16, off_kinks=True)
    u, gradient = value_and_gradient(net, x)
    return float((u - x[:, 0] ** 2).abs().max()), float((gradient[:, 0] - 2 * x[:, 0]).abs().max())


def run_square_depth(
    ms: Sequence[int], trained_ms: Sequence[int], steps: int, seeds: Sequence[int]
) -> list[DepthRow]:
    rows = []
    for m in ms:
        net = constructions.square(m)
        bound = constructions.square_error(m)
        value, derivative = _square_errors(net)
        rows.append(
            DepthRow(
                "square",
                m,
                net.depth,
                sum(net.widths[1:-1]),
                value,
                bound.value,
                derivative,
                bound.derivative,
            )
        )
        prod = constructions.product(1.0, m)
        pbound = constructions.product_error(1.0, m)
        xy = grid(2, 257, off_kinks=True) * 2 - 1
        u, gradient = value_and_gradient(prod, xy)
        exact_grad = torch.stack([xy[:, 1], xy[:, 0]], 1)
        rows.append(
            DepthRow(
                "product",
                m,
                prod.depth,
                sum(prod.widths[1:-1]),
                float((u - xy[:, 0] * xy[:, 1]).abs().max()),
                pbound.value,
                float((gradient - exact_grad).norm(dim=1).max()),
                pbound.derivative,
            )
        )
    square_target = Target("x^2", 1, True, lambda x: x[:, 0] ** 2, lambda x: 2 * x)
    for m in trained_ms:
        widths = list(constructions.square(m).widths)
        errors = []
        for seed in seeds:
            net = train(square_target, widths, seed, steps)
            errors.append(_square_errors(net))
        value = float(statistics.median(e[0] for e in errors))
        derivative = float(statistics.median(e[1] for e in errors))
        rows.append(
            DepthRow("trained x^2", m, len(widths) - 1, sum(widths[1:-1]), value, None, derivative, None)
        )
    return rows


@dataclass(frozen=True)
class PolynomialRow:
    degree: int
    eps: float
    m: int
    depth: int
    width: int
    nonzero_parameters: int
    error: float  # measured sup |p - R Phi| + sup |p' - (R Phi)'|
    promised: float  # polynomial_error value + derivative
    depth_scale: float  # log^3(d n) [log ||c||_1 + log 1/eps]  (the theorem, constants dropped)
    width_scale: float  # d (||c||_0 + n)


def taylor_exp(degree: int) -> list[float]:
    """c_k = 1/k!: the Taylor polynomial of exp, on [0, 1]."""
    return [1.0 / math.factorial(k) for k in range(degree + 1)]


def run_polynomials(degrees: Sequence[int], epsilons: Sequence[float]) -> list[PolynomialRow]:
    rows = []
    x = grid(1, 2**14, off_kinks=True)
    for degree in degrees:
        coefficients = taylor_exp(degree)
        powers = torch.stack([x[:, 0] ** k for k in range(degree + 1)], 1)
        exact = powers @ torch.tensor(coefficients, dtype=DTYPE)
        exact_derivative = sum(
            (k * coefficients[k] * x[:, 0] ** (k - 1) for k in range(1, degree + 1)),
            torch.zeros_like(x[:, 0]),
        )
        for eps in epsilons:
            m = next(
                m for m in range(0, 61) if sum(constructions.polynomial_error(coefficients, 1.0, m)) <= eps
            )
            net = constructions.polynomial(coefficients, 1.0, m)
            promised = sum(constructions.polynomial_error(coefficients, 1.0, m))
            with torch.no_grad():
                u, jac = net.value_and_jacobian(x)
            error = float((u[:, 0] - exact).abs().max()) + float(
                (jac[:, 0, 0] - exact_derivative).abs().max()
            )
            nonzero = sum(int((a != 0).sum()) + int((b != 0).sum()) for a, b in net.layers)
            log_dn = math.log(max(degree, 2))
            rows.append(
                PolynomialRow(
                    degree,
                    eps,
                    m,
                    net.depth,
                    max(net.widths[1:-1]) if net.depth > 1 else 0,
                    nonzero,
                    error,
                    promised,
                    log_dn**3 * (math.log(sum(abs(c) for c in coefficients)) + math.log(1 / eps)),
                    float(1 * (len(coefficients) + degree)),
                )
            )
    return rows


# ---------------------------------------------------------------------- figures
def _finish(axes: Any, xlabel: str, ylabel: str, title: str | None = None) -> None:
    """Labels, a light grid and a small legend: the common finish of every panel."""
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    if title is not None:
        axes.set_title(title, fontsize=10)
    axes.grid(True, which="both", alpha=0.25)
    axes.legend(fontsize=7)


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    print(f"wrote {path}")


def figure_seed000(runs: Sequence[Run], quantity: str, label: str, path: Path) -> None:
    targets = list(dict.fromkeys(r.target for r in runs))
    figure = Figure(figsize=(4.2 * len(targets), 3.8), layout="constrained")
    axes_row = figure.subplots(1, len(targets), squeeze=False)[0]
    for axes, target in zip(axes_row, targets, strict=True):
        for index, family in enumerate(dict.fromkeys(r.family for r in runs)):
            nodes, values = medians(runs, target, family, quantity)
            if not nodes:
                continue
            every = [
                (r.nodes, getattr(r, quantity)) for r in runs if r.target == target and r.family == family
            ]
            axes.scatter(*zip(*every, strict=True), s=8, alpha=0.35, color=f"C{index}")
            axes.plot(nodes, values, "o-", color=f"C{index}", label=f"{family} (median)")
        nodes_all = sorted({r.nodes for r in runs if r.target == target})
        first = statistics.median(
            getattr(r, quantity) for r in runs if r.target == target and r.nodes == nodes_all[0]
        )
        claim = [first * 2.0 ** (-(n - nodes_all[0])) for n in nodes_all]
        axes.plot(nodes_all, claim, "k:", label="claim: ~ 2^-N")
        axes.set_xscale("log", base=2)
        axes.set_yscale("log")
        floor = min(getattr(r, quantity) for r in runs if r.target == target)
        axes.set_ylim(bottom=max(floor / 10, 1e-18))
        _finish(axes, "N (hidden nodes)", label, target)
    _save(figure, path)


def figure_pieces(runs: Sequence[Run], path: Path) -> None:
    one_d = [r for r in runs if r.pieces is not None]
    targets = list(dict.fromkeys(r.target for r in one_d))
    figure = Figure(figsize=(4.2 * len(targets), 3.6), layout="constrained")
    axes_row = figure.subplots(1, len(targets), squeeze=False)[0]
    for axes, target in zip(axes_row, targets, strict=True):
        for index, family in enumerate(dict.fromkeys(r.family for r in one_d)):
            nodes, pieces = medians(one_d, target, family, "pieces")
            axes.plot(nodes, pieces, "o-", color=f"C{index}", label=f"{family}: linear pieces (median)")
        nodes_all = sorted({r.nodes for r in one_d})
        axes.plot(nodes_all, [n + 1 for n in nodes_all], "k--", label="N + 1 (most a shallow net can have)")
        axes.set_xscale("log", base=2)
        axes.set_yscale("log", base=2)
        _finish(axes, "N (hidden nodes)", "linear pieces on [0, 1]", target)
    _save(figure, path)


def figure_seed001(rows: Sequence[InterpolantRow], path: Path) -> None:
    figure = Figure(figsize=(9, 3.8), layout="constrained")
    for axes, dim in zip(figure.subplots(1, 2), (1, 2), strict=True):
        chosen = [r for r in rows if r.dim == dim]
        width = [r.nodes for r in chosen]
        axes.loglog(width, [r.value_error for r in chosen], "o-", color="C0", label="value error (measured)")
        axes.loglog(width, [r.value_bound for r in chosen], "--", color="C0", label="value bound")
        axes.loglog(
            width, [r.gradient_error for r in chosen], "s-", color="C1", label="gradient error (measured)"
        )
        axes.loglog(width, [r.gradient_bound for r in chosen], "--", color="C1", label="gradient bound")
        title = "sin(2 pi x) on [0, 1]" if dim == 1 else "sin(pi x) sin(pi y) on [0, 1]^2"
        _finish(axes, "hidden nodes of the hat network", "sup error", title)
    _save(figure, path)


def figure_square(rows: Sequence[DepthRow], path: Path) -> None:
    figure = Figure(figsize=(9, 3.8), layout="constrained")
    value_axes, derivative_axes = figure.subplots(1, 2)
    for index, construction in enumerate(("square", "product", "trained x^2")):
        chosen = [r for r in rows if r.construction == construction]
        if not chosen:
            continue
        ms = [r.m for r in chosen]
        value_axes.semilogy(ms, [r.value_error for r in chosen], "o-", color=f"C{index}", label=construction)
        derivative_axes.semilogy(
            ms, [r.derivative_error for r in chosen], "o-", color=f"C{index}", label=construction
        )
        if chosen[0].value_bound is not None:
            for axes, promised in (
                (value_axes, [r.value_bound for r in chosen]),
                (derivative_axes, [r.derivative_bound for r in chosen]),
            ):
                axes.semilogy(ms, promised, "--", color=f"C{index}", label=f"{construction}: promised")
    for axes, what in ((value_axes, "sup value error"), (derivative_axes, "sup derivative error")):
        _finish(axes, "m (sawtooth depth; network depth m + 1 or more)", what)
    _save(figure, path)


def figure_polynomials(rows: Sequence[PolynomialRow], path: Path) -> None:
    figure = Figure(figsize=(9, 3.8), layout="constrained")
    depth_axes, width_axes = figure.subplots(1, 2)
    for index, degree in enumerate(sorted({r.degree for r in rows})):
        chosen = [r for r in rows if r.degree == degree]
        inverse = [1 / r.eps for r in chosen]
        depth_axes.semilogx(
            inverse, [r.depth for r in chosen], "o-", color=f"C{index}", label=f"degree {degree}"
        )
        width_axes.plot(
            [r.width_scale for r in chosen],
            [r.width for r in chosen],
            "o",
            color=f"C{index}",
            label=f"degree {degree}",
        )
    _finish(depth_axes, "1 / eps", "depth of the construction", "depth grows like log(1/eps)")
    _finish(width_axes, "d (||c||_0 + n)", "widest layer", "width against the theorem's d (||c||_0 + n)")
    _save(figure, path)


# ---------------------------------------------------------------------- tables
def table_fits(fits: Sequence[Fit]) -> str:
    lines = [
        "| target | family | quantity | 2^-bN fit: b | R^2 | N^-p fit: p | R^2 |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for f in fits:
        lines.append(
            f"| {f.target} | {f.family} | {f.quantity} | {f.exponential_b:.3f} | {f.exponential_r2:.2f} | "
            f"{f.power_p:.2f} | {f.power_r2:.2f} |"
        )
    return "\n".join(lines)


def table_runs(runs: Sequence[Run]) -> str:
    lines = [
        "| target | family | N | L (median) | sup error | W^{1,inf} error | pieces |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for target in dict.fromkeys(r.target for r in runs):
        for family in dict.fromkeys(r.family for r in runs):
            for n in sorted({r.nodes for r in runs if r.family == family}):
                chosen = [r for r in runs if r.target == target and r.family == family and r.nodes == n]
                if not chosen:
                    continue
                pieces = [r.pieces for r in chosen if r.pieces is not None]
                lines.append(
                    f"| {target} | {family} | {n} | {statistics.median(r.l2_squared for r in chosen):.2e} | "
                    f"{statistics.median(r.linf for r in chosen):.2e} | "
                    f"{statistics.median(r.w1inf for r in chosen):.2e} | "
                    f"{int(statistics.median(pieces)) if pieces else ''} |"
                )
    return "\n".join(lines)


def _markdown(rows: Sequence[Any]) -> str:
    data = [asdict(r) for r in rows]
    keys = list(data[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + " --- |" * len(keys)]
    for row in data:
        cells = [f"{v:.3g}" if isinstance(v, float) else ("" if v is None else str(v)) for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1))
    print(f"wrote {path}")


# ---------------------------------------------------------------------- commands
def seed000(out: Path, steps: int, seeds: Sequence[int]) -> list[Fit]:
    print(f"## the essay's claim: trained networks, {steps} Adam steps, seeds {list(seeds)}")
    runs = run_seed000(steps, seeds)
    fits = [
        fit(runs, target, family, quantity)
        for target in dict.fromkeys(r.target for r in runs)
        for family in dict.fromkeys(r.family for r in runs)
        for quantity in ("l2_squared", "w1inf")
    ]
    print(table_runs(runs))
    print()
    print(table_fits(fits))
    _write_json(
        out / "seed000.json",
        {
            "steps": steps,
            "seeds": list(seeds),
            "runs": [asdict(r) for r in runs],
            "fits": [asdict(f) for f in fits],
        },
    )
    figure_seed000(runs, "l2_squared", "L = int |f - u|^2", out / "seed000-l2.png")
    figure_seed000(runs, "w1inf", "W^{1,inf} error", out / "seed000-w1inf.png")
    figure_pieces(runs, out / "seed000-pieces.png")
    return fits


def seed001(out: Path) -> None:
    print("## Redfern: the hat-function interpolant")
    rows = run_seed001((2, 4, 8, 16, 32, 64, 128, 256, 512), (2, 4, 8, 16))
    print(_markdown(rows))
    _write_json(out / "seed001.json", [asdict(r) for r in rows])
    figure_seed001(rows, out / "seed001-interpolant.png")


def seed002(out: Path, steps: int, seeds: Sequence[int]) -> None:
    print(
        f"## Berner et al. 2019: constructions against depth; trained nets: {steps} Adam steps, "
        f"seeds {list(seeds)}"
    )
    depth_rows = run_square_depth(range(1, 13), range(1, 9), steps, seeds)
    print(_markdown(depth_rows))
    poly_rows = run_polynomials((2, 4, 8, 16), (1e-2, 1e-4, 1e-6, 1e-8, 1e-10))
    print()
    print(_markdown(poly_rows))
    _write_json(
        out / "seed002.json",
        {"depth": [asdict(r) for r in depth_rows], "polynomials": [asdict(r) for r in poly_rows]},
    )
    figure_square(depth_rows, out / "seed002-square.png")
    figure_polynomials(poly_rows, out / "seed002-polynomials.png")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=("seed000", "seed001", "seed002", "all"))
    parser.add_argument(
        "--out", type=Path, default=Path("docs/approximation"), help="figures and JSON go here"
    )
    parser.add_argument("--steps", type=int, default=3000, help="Adam steps per trained network")
    parser.add_argument("--seeds", default="0,1,2", help="seeds of the trained networks")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    started = time.perf_counter()
    if args.experiment in ("seed001", "all"):
        seed001(args.out)
    if args.experiment in ("seed002", "all"):
        seed002(args.out, args.steps, seeds)
    if args.experiment in ("seed000", "all"):
        seed000(args.out, args.steps, seeds)
    print(f"done in {time.perf_counter() - started:.0f} s ({torch.get_num_threads()} torch threads)")


if __name__ == "__main__":
    main()
