"""relupde against DeepXDE, side by side, in one run.

For every problem -- the example specs of examples/ except the Kolmogorov one (each with
a DeepXDE translation in ``DDE_RESIDUALS``) and the kinked problems of examples/peers/
(transport-hat-1d, hj-rarefaction-1d, eikonal-disk-2d, eikonal-rect-2d) --
four methods train in this process, one after the other, with 2 torch threads each:

* ``dde-tanh``: DeepXDE 1.15 (PyTorch backend) as documented: tanh FNN (Glorot normal),
  Adam for the spec's ``training.steps`` at its learning rate, then L-BFGS (``--lbfgs``
  iterations at most; DeepXDE's torch.optim.LBFGS with strong Wolfe line search);
* ``dde-relu``: the same with a ReLU FNN (He normal);
* ``relupde-sup`` / ``relupde-l2``: ``solver.solve`` on the spec with
  ``"loss": {"norm": "sup"}`` / ``{"norm": "l2"}``;
* ``relupde-auto``: ``solver.solve`` on the spec with its ``network`` and ``training``
  removed but for the seed: the basis and pipeline relupde chooses (docs/solver.md).

All but ``relupde-auto`` use the spec's hidden widths, Adam steps, learning rate, seed and collocation budget:
DeepXDE gets ``num_domain = training.points.interior``, ``num_initial = boundary`` per
initial condition and enough ``num_boundary`` that each boundary condition sees about
``boundary`` points; its PDE points are redrawn (pseudo-random) every ``resample_every``
Adam steps (``PDEPointResampler``), as relupde redraws its points.  The PDE of each problem
is written out by hand for DeepXDE (``DDE_RESIDUALS``); boundary and initial data and the
exact solution are the spec's own expressions.

The ``system`` examples of examples/ (burgers-1d, kovasznay-2d; ``--examples examples``) are
given to DeepXDE in the form a DeepXDE user would write, with second derivatives by autograd:
Burgers in its one unknown u, Kovasznay in (u, v, p) (``DDE_OUTPUTS``); each condition
constrains the DeepXDE output of the unknown it names.

Every model is judged on the same 10,000 fresh uniform points of the domain (seed
``EVAL_SEED``) against the spec's ``exact``: rel L2 of u, max |u - u*|, max |grad u - grad u*|
(Euclidean over every input, t included; the gradient from each library's own derivative:
the explicit network Jacobian for relupde, torch autograd on ``model.net`` for DeepXDE).
A system is judged on its velocity unknowns (``Problem.judged``: burgers-1d u, kovasznay-2d
(u, v) together: rel L2 = |U - U*|_F / |U*|_F, the maxima over both components).
Before training, each problem's translation is checked: the hand-written residual and
relupde's residual vanish on ``exact`` and the condition data agree with it.

    make bench-peers                                   # installs deepxde==1.15.0, runs all
    .venv/bin/python bench/peers.py --out bench/out/peers.md
    .venv/bin/python bench/peers.py --only transport-1d hj-rarefaction-1d \\
        --methods relupde-sup dde-tanh --steps-scale 0.2
    .venv/bin/python bench/peers.py --check            # only the translation checks
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from solver import JobSpec, solve
from solver.basis import TRAINED_HIDDEN
from solver.expressions import Expression, parse, space_env, space_names
from solver.kinds import problem_of
from solver.problems import PDEProblem, PointSet
from solver.spec import (
    BallDomain,
    BoxDomain,
    DifferenceDomain,
    Dirichlet,
    FirstOrder,
    Initial,
    IntersectionDomain,
    Neumann,
    Periodic,
    PolygonDomain,
    System,
    UnionDomain,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EXAMPLES = [ROOT / "examples", ROOT / "examples" / "peers"]
METHODS = ("dde-tanh", "dde-relu", "relupde-sup", "relupde-l2", "relupde-auto")
EVAL_POINTS = 10_000
EVAL_SEED = 20_261_124  # not a training seed: the points are fresh for every method
CHECK_POINTS = 2_000
THREADS = 2

# ---------------------------------------------------------------- DeepXDE translations
# DeepXDE's inputs are (x0, ..., x{d-1}, t): time is the LAST column (relupde: the first).
# Each residual takes DeepXDE's (inputs, outputs) and returns the PDE residual (n, 1), or one
# per equation (a list) for a net of several outputs (DDE_OUTPUTS).

Residual = Callable[[Any, Tensor, Tensor], Tensor | list[Tensor]]


def _grad_norm(dde: Any, x: Tensor, u: Tensor, d: int) -> Tensor:
    parts = [dde.grad.jacobian(u, x, i=0, j=j) for j in range(d)]
    norm: Tensor = torch.linalg.vector_norm(torch.cat(parts, 1), dim=1, keepdim=True)
    return norm


def _laplacian(dde: Any, x: Tensor, u: Tensor, d: int, component: int = 0) -> Tensor:
    total: Tensor = dde.grad.hessian(u, x, component=component, i=0, j=0)
    for j in range(1, d):
        total = total + dde.grad.hessian(u, x, component=component, i=j, j=j)
    return total


def _transport_1d(dde: Any, x: Tensor, u: Tensor) -> Tensor:  # u_t + u_x = 0
    return dde.grad.jacobian(u, x, i=0, j=1) + dde.grad.jacobian(u, x, i=0, j=0)  # type: ignore[no-any-return]


def _poisson_2d(dde: Any, x: Tensor, u: Tensor) -> Tensor:  # -Laplace u = 2 pi^2 sin(pi x) sin(pi y)
    f = 2 * math.pi**2 * torch.sin(math.pi * x[:, 0:1]) * torch.sin(math.pi * x[:, 1:2])
    return -_laplacian(dde, x, u, 2) - f


def _heat_2d(dde: Any, x: Tensor, u: Tensor) -> Tensor:  # u_t - Laplace u = 0
    return dde.grad.jacobian(u, x, i=0, j=2) - _laplacian(dde, x, u, 2)  # type: ignore[no-any-return]


def _eikonal_2d(dde: Any, x: Tensor, u: Tensor) -> Tensor:  # |grad u| - 1 = 0
    return _grad_norm(dde, x, u, 2) - 1.0


def _hj_burgers_1d(dde: Any, x: Tensor, u: Tensor) -> Tensor:  # u_t + u_x^2 / 2 = 0
    return dde.grad.jacobian(u, x, i=0, j=1) + dde.grad.jacobian(u, x, i=0, j=0) ** 2 / 2  # type: ignore[no-any-return]


def _laplace_2d(dde: Any, x: Tensor, u: Tensor) -> Tensor:  # -Laplace u = 0 (lshape-poisson)
    return -_laplacian(dde, x, u, 2)


def _nonlinear_diffusion_2d(dde: Any, x: Tensor, u: Tensor) -> Tensor:  # -div((1 + u^2) grad u) = f
    s, c = torch.sin(math.pi * x), torch.cos(math.pi * x)
    exact = s[:, 0:1] * s[:, 1:2]
    gradient_sq = (c[:, 0:1] * s[:, 1:2]) ** 2 + (s[:, 0:1] * c[:, 1:2]) ** 2
    f = 2 * math.pi**2 * exact * (1 + exact**2) - 2 * math.pi**2 * exact * gradient_sq
    k = 1 + u**2
    flux = [k * dde.grad.jacobian(u, x, i=0, j=j) for j in range(2)]
    divergence = dde.grad.jacobian(flux[0], x, i=0, j=0) + dde.grad.jacobian(flux[1], x, i=0, j=1)
    return -divergence - f  # type: ignore[no-any-return]


def _convection_periodic(dde: Any, x: Tensor, u: Tensor) -> Tensor:  # u_t + 50 u_x = 0
    return dde.grad.jacobian(u, x, i=0, j=1) + 50 * dde.grad.jacobian(u, x, i=0, j=0)  # type: ignore[no-any-return]


# The system examples are given to DeepXDE as a DeepXDE user would write them, not as the
# spec's first-order system (relupde's flux unknown q and vorticity w exist only because its
# equations may use first derivatives alone; DeepXDE differentiates twice by autograd):
# burgers-1d as one output u with u_xx from dde.grad.hessian, kovasznay-2d as outputs (u, v, p)
# with the momentum equations' Laplacian and continuity, as in DeepXDE's own Kovasznay example.
BURGERS_NU = 0.05
KOVASZNAY_NU = 1 / 20  # Re = 20


def _burgers_1d(dde: Any, x: Tensor, u: Tensor) -> Tensor:  # u_t + u u_x - 0.05 u_xx = 0
    u_x = dde.grad.jacobian(u, x, i=0, j=0)
    u_t = dde.grad.jacobian(u, x, i=0, j=1)
    u_xx = dde.grad.hessian(u, x, i=0, j=0)
    return u_t + u * u_x - BURGERS_NU * u_xx  # type: ignore[no-any-return]


def _kovasznay_2d(dde: Any, x: Tensor, out: Tensor) -> list[Tensor]:
    """Steady Navier-Stokes in (u, v, p): (u.grad) u + grad p - nu Laplace u = 0, div u = 0."""
    u, v = out[:, 0:1], out[:, 1:2]
    u_x, u_y = (dde.grad.jacobian(out, x, i=0, j=j) for j in range(2))
    v_x, v_y = (dde.grad.jacobian(out, x, i=1, j=j) for j in range(2))
    p_x, p_y = (dde.grad.jacobian(out, x, i=2, j=j) for j in range(2))
    momentum_x = u * u_x + v * u_y + p_x - KOVASZNAY_NU * _laplacian(dde, x, out, 2, component=0)
    momentum_y = u * v_x + v * v_y + p_y - KOVASZNAY_NU * _laplacian(dde, x, out, 2, component=1)
    return [momentum_x, momentum_y, u_x + v_y]


DDE_RESIDUALS: dict[str, Residual] = {
    "burgers-1d": _burgers_1d,
    "kovasznay-2d": _kovasznay_2d,
    "lshape-poisson": _laplace_2d,
    "nonlinear-diffusion-2d": _nonlinear_diffusion_2d,
    "convection-periodic": _convection_periodic,
    "transport-1d": _transport_1d,
    "poisson-2d": _poisson_2d,
    "eikonal-2d": _eikonal_2d,
    "heat-2d": _heat_2d,
    "transport-hat-1d": _transport_1d,
    "hj-rarefaction-1d": _hj_burgers_1d,
    "eikonal-disk-2d": _eikonal_2d,
    "eikonal-rect-2d": _eikonal_2d,
}

#: The outputs of the DeepXDE net of each system example, by the spec's unknown names, in
#: output order (a scalar example: u alone).  A condition may constrain only these.
DDE_OUTPUTS: dict[str, tuple[str, ...]] = {"burgers-1d": ("u",), "kovasznay-2d": ("u", "v", "p")}

#: The unknowns of a system whose errors are reported: the velocity (burgers-1d: u;
#: kovasznay-2d: (u, v) together), not the pressure nor relupde's auxiliary unknowns (q, w).
VELOCITY = ("u", "v")


def import_deepxde() -> Any:
    """deepxde with the PyTorch backend; an optional dependency (the ``peers`` extra)."""
    os.environ["DDE_BACKEND"] = "pytorch"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return importlib.import_module("deepxde")


# ---------------------------------------------------------------- problems
@dataclass
class Problem:
    name: str
    data: dict[str, Any]  # the spec as JSON, before any change by the bench
    spec: JobSpec
    pde: PDEProblem

    @property
    def d(self) -> int:
        return self.spec.problem.dimension

    @property
    def has_time(self) -> bool:
        return self.spec.problem.time is not None

    @property
    def is_system(self) -> bool:
        return isinstance(self.spec.problem, System)

    @property
    def dde_outputs(self) -> tuple[str, ...]:
        """The unknowns the DeepXDE net outputs, in its output order."""
        return DDE_OUTPUTS.get(self.name, ("u",)) if self.is_system else ("u",)

    @property
    def judged(self) -> list[str]:
        """The unknowns whose errors are reported, in the spec's order: u for a scalar problem,
        the velocity unknowns (those named u or v) of a system."""
        if not self.is_system:
            return ["u"]
        judged = [k for k in self.pde.unknowns if k in VELOCITY]
        if not judged:
            raise ValueError(f"{self.name}: no velocity unknown ({' or '.join(VELOCITY)}) to judge")
        return judged


def load_problems(folders: Sequence[Path], only: Sequence[str] | None, seed: int | None) -> list[Problem]:
    found: list[Problem] = []
    for folder in folders:
        for path in sorted(folder.glob("*.json")):
            data = json.loads(path.read_text())
            if data["problem"]["kind"] == "kolmogorov" or (only and path.stem not in only):
                continue
            if path.stem not in DDE_RESIDUALS:
                print(f"# skipping {path}: no DeepXDE translation in DDE_RESIDUALS", flush=True)
                continue
            if seed is not None:
                data.setdefault("training", {})["seed"] = seed
            spec = JobSpec.model_validate(data)
            found.append(Problem(path.stem, data, spec, problem_of(spec.problem)))
    missing = set(only or ()) - {p.name for p in found}
    if missing:
        raise SystemExit(f"unknown problem(s): {', '.join(sorted(missing))}")
    if only:  # in the order asked for
        found.sort(key=lambda p: list(only).index(p.name))
    return found


def to_dde(inputs: Tensor, has_time: bool) -> Tensor:
    """relupde's (t, x...) -> DeepXDE's (x..., t)."""
    return torch.cat([inputs[:, 1:], inputs[:, :1]], 1) if has_time else inputs


def from_dde(inputs: Tensor, has_time: bool) -> Tensor:
    """DeepXDE's (x..., t) -> relupde's (t, x...)."""
    return torch.cat([inputs[:, -1:], inputs[:, :-1]], 1) if has_time else inputs


def expression_values(expr: Expression, x: Tensor, t: Tensor | None) -> Tensor:
    return expr.evaluate(space_env(t, x), x[:, 0])


def exact_of_dde_inputs(problem: Problem, xd: Tensor) -> Tensor:
    """The exact solution of each DeepXDE output (u for a scalar problem) as a differentiable
    function of DeepXDE-ordered inputs (n, outputs)."""
    pde = problem.pde
    assert pde.exacts is not None
    x = xd[:, : problem.d]
    t = xd[:, -1] if problem.has_time else None
    columns = [expression_values(pde.exacts[pde.unknowns.index(k)], x, t) for k in problem.dde_outputs]
    return torch.stack(columns, 1)


# ---------------------------------------------------------------- translation checks
def check_problem(problem: Problem, dde: Any | None) -> dict[str, float]:
    """Max |residual| of ``exact`` (hand-written DeepXDE residual and relupde's) and max
    |condition data - exact| on random points; all should be rounding-sized."""
    pde = problem.pde
    inputs = pde.validation_inputs(CHECK_POINTS, seed=1)
    out: dict[str, float] = {}
    if dde is not None:
        xd = to_dde(inputs, problem.has_time).clone().requires_grad_(True)
        u = exact_of_dde_inputs(problem, xd)
        dde.grad.clear()
        residual = DDE_RESIDUALS[problem.name](dde, xd, u)
        dde.grad.clear()
        parts = residual if isinstance(residual, list) else [residual]
        out["dde_residual"] = max(float(part.detach().abs().max()) for part in parts)
    if isinstance(problem.spec.problem, FirstOrder | System):
        exact = pde.exact_outputs(inputs)
        assert exact is not None
        u_star, g_star = exact
        t = inputs[:, 0] if problem.has_time else None
        x = inputs[:, 1:] if problem.has_time else inputs
        terms = pde.residuals("interior", PointSet(t, x), u_star, g_star)
        out["relupde_residual"] = max(float(term.max()) for term in terms.values())
    worst = 0.0
    sets = pde.sample(256, 256, seed=1, draw=0, method="uniform")
    assert pde.exacts is not None
    for index, (cond, _expr) in enumerate(pde.conditions):
        points = sets[pde.condition_names[index]]
        if isinstance(cond, Neumann):
            continue
        star = expression_values(pde.exacts[pde.condition_outputs[index]], points.x, points.t)
        worst = max(worst, float((points.targets["value"] - star).abs().max()))
    out["conditions"] = worst
    return out


# ---------------------------------------------------------------- measuring
@dataclass
class Result:
    problem: str
    method: str
    adam_steps: int
    lbfgs_iters: int | None
    wall_s: float
    adam_s: float  # training time of the Adam phase
    rel_l2: float
    linf: float
    grad_linf: float
    note: str = ""

    @property
    def ms_per_step(self) -> float:
        return 1000 * self.adam_s / self.adam_steps if self.adam_steps else math.nan


def judge(problem: Problem, value: Tensor, gradient: Tensor, points: Tensor) -> tuple[float, float, float]:
    """rel L2, L-inf and grad L-inf of the judged unknowns (``problem.judged``), together:
    value (n, k) and gradient (n, k, inputs) hold them in that order.  rel L2 = |U - U*|_F /
    |U*|_F, L-inf the largest |U - U*|, grad L-inf the largest Euclidean gradient error over
    points and unknowns (a scalar problem: k = 1, u alone)."""
    exact = problem.pde.exact_outputs(points)
    assert exact is not None, f"{problem.name} has no exact solution"
    columns = [problem.pde.unknowns.index(k) for k in problem.judged]
    u_star, g_star = exact[0][:, columns], exact[1][:, columns]
    diff = value.to(torch.float64) - u_star
    scale = float(u_star.norm())
    rel = float(diff.norm()) / scale if scale > 0 else float(diff.norm())
    grad = float((gradient.to(torch.float64) - g_star).norm(dim=2).max())
    return rel, float(diff.abs().max()), grad


def scaled_steps(steps: int, scale: float) -> int:
    return max(1, round(steps * scale)) if steps else 0


# ---------------------------------------------------------------- relupde
def run_relupde(problem: Problem, norm: str, scale: float, points: Tensor) -> Result:
    """``norm`` "sup" / "l2": the spec as given with that loss; "auto": the spec with its
    network and training removed but for the seed (the solver's own choice of basis and
    pipeline)."""
    data = json.loads(json.dumps(problem.data))
    training = data.setdefault("training", {})
    if norm == "auto":
        data.pop("network", None)
        data["training"] = training = {"seed": problem.spec.training.seed}
    else:
        training["loss"] = {"norm": norm}
        training["steps"] = scaled_steps(problem.spec.training.steps, scale)
    spec = JobSpec.model_validate(data)
    steps = max(1, spec.total_steps)
    every = max(1, steps // 5)

    def progress(step: int, total: int, loss: float, elapsed: float) -> None:
        if step % every == 0 and step:
            print(f"#   relupde-{norm} step {step}/{total} loss {loss:.3e} {elapsed:.0f} s", flush=True)

    torch.set_num_threads(THREADS)
    start = time.perf_counter()
    model = solve(spec, progress=progress)
    wall = time.perf_counter() - start
    evaluation = model.evaluate(points.numpy())
    value = torch.from_numpy(evaluation.value)
    gradient = torch.from_numpy(evaluation.gradient)
    if model.unknowns is None:  # a scalar problem: value (n,), gradient (n, inputs)
        value, gradient = value.unsqueeze(1), gradient.unsqueeze(1)
    else:  # a system: value (n, m), gradient (n, m, inputs), the unknowns in the spec's order
        columns = [model.unknowns.index(k) for k in problem.judged]
        value, gradient = value[:, columns], gradient[:, columns]
    rel, linf, grad = judge(problem, value, gradient, points)
    return Result(
        problem.name,
        f"relupde-{norm}",
        int(model.metrics["steps"]),
        None,
        wall,
        float(model.metrics["seconds"]),
        rel,
        linf,
        grad,
        "stopped by time limit" if model.metrics.get("stopped_by_time_limit") else "",
    )


# ---------------------------------------------------------------- DeepXDE
def dde_geometry(dde: Any, problem: Problem) -> Any:
    geom = _dde_region(dde, problem.spec.problem.domain, problem.d, problem.name)
    time_spec = problem.spec.problem.time
    if time_spec is None:
        return geom
    return dde.geometry.GeometryXTime(geom, dde.geometry.TimeDomain(time_spec.start, time_spec.end))


def _dde_region(dde: Any, domain: Any, d: int, name: str) -> Any:
    """DeepXDE's geometry of a space domain: box, ball, polygon, or their constructive solid
    geometry (union, intersection, difference)."""
    if isinstance(domain, BoxDomain):
        lo, hi = domain.box.lower, domain.box.upper
        if d == 1:
            return dde.geometry.Interval(lo[0], hi[0])
        return dde.geometry.Rectangle(lo, hi) if d == 2 else dde.geometry.Hypercube(lo, hi)
    if isinstance(domain, BallDomain):
        c, r = domain.ball.center, domain.ball.radius
        if d == 1:
            return dde.geometry.Interval(c[0] - r, c[0] + r)
        return dde.geometry.Disk(c, r) if d == 2 else dde.geometry.Hypersphere(c, r)
    if isinstance(domain, PolygonDomain):
        return dde.geometry.Polygon([list(v) for v in domain.polygon.vertices])
    operations: dict[type[Any], tuple[str, str]] = {
        UnionDomain: ("union", "CSGUnion"),
        IntersectionDomain: ("intersection", "CSGIntersection"),
        DifferenceDomain: ("difference", "CSGDifference"),
    }
    for kind, (field, combine) in operations.items():
        if isinstance(domain, kind):
            parts = [_dde_region(dde, member, d, name) for member in getattr(domain, field)]
            combined = parts[0]
            for part in parts[1:]:
                combined = getattr(dde.geometry, combine)(combined, part)
            return combined
    raise ValueError(f"{name}: DeepXDE needs a bounded domain")


def face_share(problem: Problem, on: str) -> float:
    """The share of the space boundary that ``on`` covers (1 for 'boundary')."""
    domain = problem.spec.problem.domain
    if on == "boundary" or not isinstance(domain, BoxDomain):
        return 1.0
    sides = [hi - lo for lo, hi in zip(domain.box.lower, domain.box.upper, strict=True)]
    faces = [math.prod(sides[:i] + sides[i + 1 :]) for i in range(len(sides))]
    axis = int(on.split("=")[0].removeprefix("x"))
    return faces[axis] / (2 * sum(faces))


def dde_component(problem: Problem, index: int, unknown: str | None) -> int:
    """The DeepXDE output a condition constrains (``component=``): its unknown's place among
    ``problem.dde_outputs`` (0, u, for a scalar problem, whose conditions name no unknown)."""
    if unknown is None:
        return 0
    if unknown not in problem.dde_outputs:
        raise ValueError(
            f"{problem.name}: conditions[{index}] constrains {unknown!r}, but the DeepXDE formulation "
            f"has no output for it (its outputs: {', '.join(problem.dde_outputs)}); translate the "
            "condition by hand or extend DDE_OUTPUTS and the residual"
        )
    return problem.dde_outputs.index(unknown)


def dde_conditions(dde: Any, problem: Problem, geom: Any) -> tuple[list[Any], int, int]:
    """DeepXDE ICs/BCs from the spec's conditions, num_boundary and num_initial.

    A scalar problem gets ``boundary`` points (over the share of the boundary a condition
    covers) per boundary condition, summed.  A system's conditions of different unknowns on
    the same part of the boundary share DeepXDE's boundary points (relupde draws ``boundary``
    per condition), so there the largest such count is taken: each condition still sees about
    ``boundary`` points."""
    d, has_time = problem.d, problem.has_time
    n_boundary = problem.spec.training.points.boundary
    conditions: list[Any] = []
    counts: list[int] = []  # boundary points each boundary condition asks for
    num_initial = 0
    names = space_names(d, has_time)
    no_t = space_names(d, has_time=False)
    for index, cond in enumerate(problem.spec.problem.conditions):
        if isinstance(cond, Periodic):  # DeepXDE's penalty form: u and u_x equal on both faces
            axis = int(cond.axis.removeprefix("x"))
            for component in range(len(problem.dde_outputs)):  # a system's periodic: every unknown
                for order in (0, 1):
                    conditions.append(
                        dde.icbc.PeriodicBC(
                            geom, axis, lambda _, on: bool(on), derivative_order=order, component=component
                        )
                    )
            counts.append(n_boundary)
            continue
        component = dde_component(problem, index, cond.unknown)
        if isinstance(cond, Initial):
            expr = parse(cond.value, no_t)
            conditions.append(
                dde.icbc.IC(geom, _numpy_function(expr, d, None), lambda _, on: on, component=component)
            )
            num_initial += n_boundary
            continue
        expr = parse(cond.value, names)
        where = _on_boundary(problem, cond.on)
        func = _numpy_function(expr, d, has_time)
        if isinstance(cond, Dirichlet):
            conditions.append(dde.icbc.DirichletBC(geom, func, where, component=component))
        else:
            conditions.append(dde.icbc.NeumannBC(geom, func, where, component=component))
        counts.append(math.ceil(n_boundary / face_share(problem, cond.on)))
    num_boundary = max(counts, default=0) if problem.is_system else sum(counts)
    return conditions, num_boundary, num_initial


def _numpy_function(
    expr: Expression, d: int, has_time: bool | None
) -> Callable[[NDArray[Any]], NDArray[np.float64]]:
    """A spec expression as a DeepXDE condition function of (n, d[+1]) arrays; has_time None:
    initial data, a function of x only."""

    def func(points: NDArray[Any]) -> NDArray[np.float64]:
        array = torch.from_numpy(np.asarray(points, dtype=np.float64))
        x = array[:, :d]
        t = array[:, -1] if has_time else None
        value = expression_values(expr, x, t)
        out: NDArray[np.float64] = value.numpy()[:, None]
        return out

    return func


def _on_boundary(problem: Problem, on: str) -> Callable[[NDArray[Any], bool], bool]:
    if on == "boundary":
        return lambda _, on_boundary: bool(on_boundary)
    domain = problem.spec.problem.domain
    assert isinstance(domain, BoxDomain)
    axis_text, side = on.split("=")
    axis = int(axis_text.removeprefix("x"))
    level = (domain.box.lower if side == "lower" else domain.box.upper)[axis]
    return lambda x, on_boundary: bool(on_boundary) and bool(np.isclose(x[axis], level))


def run_dde(dde: Any, problem: Problem, activation: str, scale: float, lbfgs: int, points: Tensor) -> Result:
    train = problem.spec.training
    seed = train.seed
    steps = scaled_steps(train.steps, scale)
    lbfgs_iters = scaled_steps(lbfgs, scale) if lbfgs else 0
    torch.set_num_threads(THREADS)
    quiet = contextlib.redirect_stdout(io.StringIO())
    start = time.perf_counter()
    with quiet:
        dde.config.set_random_seed(seed)
        geom = dde_geometry(dde, problem)
        conditions, num_boundary, num_initial = dde_conditions(dde, problem, geom)
        residual = DDE_RESIDUALS[problem.name]

        def pde(x: Tensor, u: Tensor) -> Tensor | list[Tensor]:
            return residual(dde, x, u)

        common = {"num_domain": train.points.interior, "num_boundary": num_boundary}
        if problem.has_time:
            data = dde.data.TimePDE(
                geom, pde, conditions, num_initial=num_initial, train_distribution="pseudo", **common
            )
        else:
            data = dde.data.PDE(geom, pde, conditions, train_distribution="pseudo", **common)
        n_inputs = problem.d + (1 if problem.has_time else 0)
        initializer = "Glorot normal" if activation == "tanh" else "He normal"
        n_outputs = len(problem.dde_outputs)
        hidden = problem.spec.network.hidden or list(TRAINED_HIDDEN)  # DeepXDE trains its network
        net = dde.nn.FNN([n_inputs, *hidden, n_outputs], activation, initializer)
        model = dde.Model(data, net)
        model.compile("adam", lr=train.learning_rate, verbose=0)
        callbacks = (
            [dde.callbacks.PDEPointResampler(period=train.resample_every)] if train.resample_every else []
        )
    adam_start = time.perf_counter()
    note = ""
    every = max(1, steps // 5)
    done = 0
    try:
        while done < steps:  # in chunks, to print progress lines
            chunk = min(every, steps - done)
            with quiet:
                model.train(iterations=chunk, display_every=max(chunk, 1), callbacks=callbacks, verbose=0)
            done += chunk
            loss = float(np.sum(model.train_state.loss_train))
            elapsed = time.perf_counter() - adam_start
            print(f"#   dde-{activation} adam {done}/{steps} loss {loss:.3e} {elapsed:.0f} s", flush=True)
        adam_s = time.perf_counter() - adam_start
        before = int(model.train_state.step)
        if lbfgs_iters:
            with quiet:
                set_lbfgs_iterations(dde, lbfgs_iters)
                model.compile("L-BFGS", verbose=0)
                model.train(verbose=0)
            loss = float(np.sum(model.train_state.loss_train))
            print(
                f"#   dde-{activation} L-BFGS {int(model.train_state.step) - before} its "
                f"loss {loss:.3e} {time.perf_counter() - adam_start - adam_s:.0f} s",
                flush=True,
            )
        lbfgs_done = int(model.train_state.step) - before
    except RuntimeError as exc:  # e.g. a second derivative of a ReLU net
        adam_s = time.perf_counter() - adam_start
        lbfgs_done = 0
        note = f"failed: {str(exc).splitlines()[0][:80]}"
        print(f"#   dde-{activation} {note}", flush=True)
    wall = time.perf_counter() - start
    columns = [problem.dde_outputs.index(k) for k in problem.judged]
    value, gradient = dde_value_and_gradient(model.net, points, problem.has_time, columns)
    rel, linf, grad = judge(problem, value, gradient, points)
    return Result(problem.name, f"dde-{activation}", done, lbfgs_done, wall, adam_s, rel, linf, grad, note)


def set_lbfgs_iterations(dde: Any, iterations: int) -> None:
    """DeepXDE's L-BFGS defaults with ``maxiter`` = iterations.  DeepXDE (torch backend) splits
    the run into torch.optim.LBFGS calls of ``iter_per_step`` iterations, computed from maxiter
    only when deepxde is imported (min(1000, 15000)); set it again for this maxiter."""
    dde.optimizers.set_LBFGS_options(maxiter=iterations)
    options = dde.optimizers.LBFGS_options
    options["iter_per_step"] = min(1000, iterations)
    options["fun_per_step"] = options["maxfun"] * options["iter_per_step"] // iterations


def dde_value_and_gradient(
    net: Any, points: Tensor, has_time: bool, columns: Sequence[int] = (0,)
) -> tuple[Tensor, Tensor]:
    """The outputs ``columns`` of a DeepXDE torch net (n, k) and their gradients (n, k, inputs;
    relupde's input order) by autograd, in its dtype."""
    dtype = next(net.parameters()).dtype
    values, gradients = [], []
    for chunk in torch.split(points, 4096):
        x = to_dde(chunk, has_time).to(dtype).requires_grad_(True)
        out = net(x)
        grads = [
            from_dde(torch.autograd.grad(out[:, c].sum(), x, retain_graph=True)[0], has_time) for c in columns
        ]
        values.append(out[:, list(columns)].detach())
        gradients.append(torch.stack(grads, 1))
    return torch.cat(values), torch.cat(gradients)


# ---------------------------------------------------------------- tables
def fmt(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.2e}"


HEADER = (
    "| problem | method | Adam steps | L-BFGS its | wall s | ms/Adam step "
    "| rel L2 | L-inf | grad L-inf | note |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
)


def row(r: Result) -> str:
    lbfgs = "-" if r.lbfgs_iters is None else str(r.lbfgs_iters)
    return (
        f"| {r.problem} | {r.method} | {r.adam_steps} | {lbfgs} | {r.wall_s:.1f} | {r.ms_per_step:.2f} "
        f"| {fmt(r.rel_l2)} | {fmt(r.linf)} | {fmt(r.grad_linf)} | {r.note} |"
    )


def winners(results: Sequence[Result]) -> str:
    """Per problem, the method with the smallest value of each error."""
    lines = [
        "| problem | best rel L2 | best L-inf | best grad L-inf | fastest wall |",
        "|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(r.problem for r in results):
        mine = [r for r in results if r.problem == name]
        cells = []
        for key in ("rel_l2", "linf", "grad_linf", "wall_s"):
            finite = [r for r in mine if not math.isnan(getattr(r, key))]
            if not finite:
                cells.append("-")
                continue
            best = min(finite, key=attrgetter(key))
            cells.append(f"{best.method} ({fmt(getattr(best, key))})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, torch {torch.__version__}, "
        f"{THREADS} torch threads"
    )


# ---------------------------------------------------------------- main
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=Path, nargs="*", default=DEFAULT_EXAMPLES, help="spec folders")
    parser.add_argument("--only", nargs="*", help="problem names (file stems), run in this order")
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=METHODS)
    parser.add_argument("--steps-scale", type=float, default=1.0, help="multiplies Adam and L-BFGS steps")
    parser.add_argument("--lbfgs", type=int, default=2000, help="DeepXDE L-BFGS iterations at most")
    parser.add_argument(
        "--seed", type=int, default=None, help="training seed of every method (default: each spec's)"
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the tables here (markdown)")
    parser.add_argument("--check", action="store_true", help="only check the translations, train nothing")
    args = parser.parse_args()

    torch.set_num_threads(THREADS)
    needs_dde = args.check or any(m.startswith("dde") for m in args.methods)
    dde = import_deepxde() if needs_dde else None
    problems = load_problems(args.examples, args.only, args.seed)
    command = "python bench/peers.py " + " ".join(sys.argv[1:])
    head = [
        f"# {machine()}",
        f"# deepxde {dde.__version__ if dde is not None else '-'} (backend pytorch)",
        f"# command: {command.strip()}",
        f"# steps scale {args.steps_scale}, DeepXDE L-BFGS <= {scaled_steps(args.lbfgs, args.steps_scale)}"
        f" iterations, training seed {'as in each spec' if args.seed is None else args.seed},"
        f" {EVAL_POINTS} evaluation points (seed {EVAL_SEED})",
    ]
    head += [
        f"# {p.name}: judged on {', '.join(p.judged)}; DeepXDE outputs {', '.join(p.dde_outputs)}"
        for p in problems
        if p.is_system
    ]
    print("\n".join(head), flush=True)

    for problem in problems:
        found = check_problem(problem, dde)
        flag = "" if max(found.values()) < 1e-6 else "  <-- CHECK FAILED"
        print(f"# check {problem.name}: " + ", ".join(f"{k} {v:.1e}" for k, v in found.items()) + flag)
    if args.check:
        return

    results: list[Result] = []
    print(HEADER, flush=True)
    for problem in problems:
        points = problem.pde.validation_inputs(EVAL_POINTS, EVAL_SEED)
        for method in args.methods:
            print(f"# {problem.name} / {method} ...", flush=True)
            if method.startswith("dde"):
                act = method.removeprefix("dde-")
                result = run_dde(dde, problem, act, args.steps_scale, args.lbfgs, points)
            else:
                result = run_relupde(problem, method.removeprefix("relupde-"), args.steps_scale, points)
            results.append(result)
            print(row(result), flush=True)

    table = "\n".join([HEADER, *map(row, results)])
    text = "\n".join([*head, "", table, "", winners(results), ""])
    print("\n" + text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"# written to {args.out}")


if __name__ == "__main__":
    main()
