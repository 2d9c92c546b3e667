"""Divergence-form bounds (solver/aposteriori/energy.py): Repin's majorant without `exact`.

The bounds are computed from the network and the data alone, then checked against the true
errors measured with `exact` on fresh points; a deliberately spoiled network shows that the
bound is no blanket figure (its true error exceeds the good network's bound), and the bound
recomputed for the spoiled network holds again.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import torch

from models.calculus import affine
from solver import JobSpec, solve
from solver.aposteriori import ErrorBound, error_bounds
from solver.aposteriori.energy import enclosed_range, friedrichs_constant
from solver.expressions import Expression
from solver.kinds import problem_of
from solver.kinds.divergence_form import DivergenceFormProblem
from solver.model import Model
from solver.problems import PDEProblem
from solver.spec import DivergenceForm

from .examples import EXAMPLES


def _spec(name: str, steps: int) -> JobSpec:
    spec: dict[str, Any] = json.loads(next(p for p in EXAMPLES if p.stem == name).read_text())
    spec["network"]["hidden"] = [24, 24]
    spec["training"]["steps"] = steps
    return JobSpec.model_validate(spec)


def _true_rms(network: Any, problem: PDEProblem) -> tuple[float, float]:
    """rms |u - u*| and rms |grad_x u - grad_x u*| on 50,000 fresh points (with `exact`)."""
    x = problem.validation_inputs(50_000, seed=11)
    exact = problem.exact_values(x)
    assert exact is not None
    with torch.no_grad():
        u, jac = network.value_and_jacobian(x)
    space = slice(1, None) if problem.has_time else slice(0, None)
    value = float(((u[:, 0] - exact[0]) ** 2).mean().sqrt())
    gradient = float(((jac[:, 0, space] - exact[1][:, space]) ** 2).sum(1).mean().sqrt())
    return value, gradient


def _by_quantity(bounds: list[ErrorBound]) -> dict[str, ErrorBound]:
    return {b.quantity: b for b in bounds}


@pytest.fixture(scope="module", params=["poisson-2d", "heat-2d"])
def model(request: pytest.FixtureRequest) -> Model:
    return solve(_spec(request.param, 250))


def test_the_rms_bounds_hold_without_exact(model: Model) -> None:
    problem = problem_of(model.spec.problem)
    problem.exact = None  # the bounds must not need it
    bounds = _by_quantity(error_bounds(model.network, problem, seed=0))
    truth = problem_of(model.spec.problem)
    value, gradient = _true_rms(model.network, truth)
    assert bounds["rms_error"].kind == "statistical"
    assert bounds["rms_error"].value >= value
    assert bounds["rms_gradient_error"].value >= gradient
    assert bounds["max_abs_error"].kind == "indicator"


def test_a_spoiled_network_breaks_the_good_bound(model: Model) -> None:
    problem = problem_of(model.spec.problem)
    good = _by_quantity(error_bounds(model.network, problem, seed=0))
    spoiled = model.network.to(torch.float64)
    layers = [(a.clone(), b.clone()) for a, b in spoiled.layers]
    layers[-1][1][0] += 2.0  # u + 2 everywhere: no longer the data on the boundary
    bad = type(spoiled)(layers, spoiled.act.name, spoiled.negative_slope, spoiled.act.c)
    value, _ = _true_rms(bad, problem)
    assert value > good["rms_error"].value
    again = _by_quantity(error_bounds(bad, problem, seed=0))
    assert again["rms_error"].value >= value


def test_an_exact_pair_has_a_zero_bound() -> None:
    """u = 1 + x + 2y with flux (1, 2) solves -div grad u = 0, u = data: every integrand is 0."""
    spec = JobSpec.model_validate(
        {
            "problem": {
                "kind": "divergence_form",
                "dimension": 2,
                "domain": {"box": {"lower": [0.0, 0.0], "upper": [1.0, 2.0]}},
                "conditions": [{"type": "dirichlet", "on": "boundary", "value": "1 + x + 2*y"}],
            }
        }
    )
    a = torch.tensor([[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    b = torch.tensor([1.0, 1.0, 2.0], dtype=torch.float64)
    network = affine(a, b)
    problem = problem_of(spec.problem)
    assert isinstance(problem.spec, DivergenceForm)
    bounds = _by_quantity(error_bounds(network, problem, seed=0))
    assert bounds["rms_error"].value < 1e-10
    assert bounds["rms_gradient_error"].value < 1e-10


def test_friedrichs_constants() -> None:
    square = JobSpec.model_validate(
        {
            "problem": {
                "kind": "divergence_form",
                "dimension": 2,
                "domain": {"box": {"lower": [0, 0], "upper": [1, 1]}},
                "conditions": [{"type": "dirichlet", "on": "boundary", "value": "0"}],
            }
        }
    )
    assert friedrichs_constant(problem_of(square.problem)) == pytest.approx(1 / (math.pi * math.sqrt(2)))
    disk = JobSpec.model_validate(
        {
            "problem": {
                "kind": "divergence_form",
                "dimension": 2,
                "domain": {"ball": {"center": [0, 0], "radius": 2}},
                "conditions": [{"type": "dirichlet", "on": "boundary", "value": "0"}],
            }
        }
    )
    assert friedrichs_constant(problem_of(disk.problem)) == pytest.approx(2 / 2.404825557695773)


def test_a_neumann_part_gives_indicators_only() -> None:
    spec = JobSpec.model_validate(
        {
            "problem": {
                "kind": "divergence_form",
                "dimension": 1,
                "domain": {"box": {"lower": [0.0], "upper": [1.0]}},
                "source": "1",
                "conditions": [
                    {"type": "dirichlet", "on": "x0=lower", "value": "0"},
                    {"type": "neumann", "on": "x0=upper", "value": "0"},
                ],
            }
        }
    )
    network = affine(torch.zeros(2, 1, dtype=torch.float64), torch.zeros(2, dtype=torch.float64))
    bounds = error_bounds(network, problem_of(spec.problem), seed=0)
    assert {b.kind for b in bounds} == {"indicator"}
    assert all("Neumann" in b.how for b in bounds)


def test_the_lift_has_the_trace_m_and_the_gradient_of_its_formula() -> None:
    """e_b = m(pi(x)) psi(s(x)): equal to m = g - u_h on the boundary, 0 in the core, and its
    gradient formula (energy_shell.lift_at) agrees with central differences of e_b."""
    from solver.aposteriori import energy_shell
    from solver.aposteriori.energy import dirichlet_everywhere

    spec = JobSpec.model_validate(
        {
            "problem": {
                "kind": "divergence_form",
                "dimension": 2,
                "domain": {"box": {"lower": [0.0, -1.0], "upper": [2.0, 1.0]}},
                "conditions": [{"type": "dirichlet", "on": "boundary", "value": "sin(x)*y + x"}],
            }
        }
    )
    problem = problem_of(spec.problem)
    parts = dirichlet_everywhere(problem)
    a = torch.tensor([[0.3, -0.7], [0.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    network = affine(a, torch.tensor([0.1, 0.0, 0.0], dtype=torch.float64))
    width = 0.3
    gen = torch.Generator().manual_seed(5)
    x = energy_shell._shell_points(problem, 400, width, gen)
    s, _, _ = energy_shell._gauge(problem, x)
    ratios = (
        ((x - problem.region.center).abs() / ((problem.region.upper - problem.region.lower) / 2))
        .sort(1)
        .values
    )
    x = x[(ratios[:, -1] - ratios[:, -2] > 1e-2) & (s > 1 - width + 1e-2)]  # off the corner diagonals
    _, grad, _ = energy_shell.lift_at(network, problem, parts, None, x, width)
    step = 1e-6
    for i in range(2):
        shift = torch.zeros_like(x)
        shift[:, i] = step
        up = energy_shell.lift_at(network, problem, parts, None, x + shift, width)[0]
        down = energy_shell.lift_at(network, problem, parts, None, x - shift, width)[0]
        torch.testing.assert_close(grad[:, i], (up - down) / (2 * step), rtol=1e-5, atol=1e-6)
    # on the boundary e_b = g - u_h; in the core e_b = 0
    edge = torch.tensor([[2.0, 0.3], [0.5, -1.0]], dtype=torch.float64)
    on_edge = energy_shell.lift_at(network, problem, parts, None, edge, width)[0]
    g = torch.sin(edge[:, 0]) * edge[:, 1] + edge[:, 0]
    u = edge @ a[0] + 0.1
    torch.testing.assert_close(on_edge, g - u)
    core = torch.tensor([[1.0, 0.0], [1.5, 0.5]], dtype=torch.float64)
    assert energy_shell.lift_at(network, problem, parts, None, core, width)[0].abs().max() == 0


def test_a_variable_diffusion_gets_statistical_bounds_that_hold() -> None:
    """K = 1 + x (certified in [1, 2] by interval enclosures): the majorant applies, and its
    rms bounds of the value and the gradient hold against u* = sin(pi x)."""
    spec = JobSpec.model_validate(
        {
            "problem": {
                "kind": "divergence_form",
                "dimension": 1,
                "domain": {"box": {"lower": [0.0], "upper": [1.0]}},
                "diffusion": "1 + x",
                "source": "-pi*cos(pi*x) + pi**2*(1 + x)*sin(pi*x)",
                "conditions": [{"type": "dirichlet", "on": "boundary", "value": "0"}],
                "exact": "sin(pi*x)",
            },
            "network": {"hidden": [80]},
            "training": {"optimizer": "ls", "points": {"interior": 256, "boundary": 8}},
        }
    )
    problem = problem_of(spec.problem)
    assert isinstance(problem, DivergenceFormProblem) and isinstance(problem.diffusion, Expression)
    low, high = enclosed_range(problem.diffusion, problem)
    assert 0.99 <= low <= 1.0 and 2.0 <= high <= 2.01
    model = solve(spec)
    x = torch.linspace(0, 1, 20001, dtype=torch.float64).unsqueeze(1)
    u, jac = model.network.value_and_jacobian(x)
    exact = problem.exact_values(x)
    assert exact is not None
    truth = {
        "rms_error": float((u[:, 0] - exact[0]).square().mean().sqrt()),
        "rms_gradient_error": float((jac[:, 0, 0] - exact[1][:, 0]).square().mean().sqrt()),
    }
    promised = {b.quantity: b for b in model.bounds if b.promise}
    assert promised.keys() >= {"rms_error", "rms_gradient_error"}
    for quantity, value in truth.items():
        assert promised[quantity].kind == "statistical"
        assert promised[quantity].value >= value, (quantity, promised[quantity].value, value)
