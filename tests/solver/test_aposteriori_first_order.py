"""A-posteriori bounds of first-order problems (solver.aposteriori.transport, .hamilton_jacobi).

The bounds are computed with ``exact`` removed from the problem; the true errors are then
measured with it on fresh points: certified and statistical bounds must hold, a spoiled
network must exceed the unspoiled bound (so the checks could fail) and obey its own.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import torch

from models import ReLUNetwork
from solver.aposteriori import ErrorBound, error_bounds, hamilton_jacobi, transport
from solver.kinds import problem_of as kind_problem
from solver.problems import PDEProblem
from solver.solve import solve
from solver.spec import JobSpec
from tests.solver.examples import OURS

CHECK_POINTS = 20_000


def transport_spec(**problem: Any) -> dict[str, Any]:
    """A small transport problem that 400 steps fit to ~2e-2 (about 5 s on one core)."""
    base: dict[str, Any] = {
        "kind": "first_order",
        "dimension": 1,
        "time": {"start": 0.0, "end": 0.5},
        "domain": {"box": {"lower": [0.0], "upper": [2.0]}},
        "equation": "u_t + u_x0",
        "conditions": [
            {"type": "initial", "value": "sin(x0)"},
            {"type": "dirichlet", "on": "x0=lower", "value": "sin(-t)"},
        ],
        "exact": "sin(x0 - t)",
    }
    base.update(problem)
    return {
        "problem": base,
        "network": {"hidden": [32, 32]},
        "training": {
            "steps": 400,
            "learning_rate": 1e-2,
            "seed": 0,
            "points": {"interior": 512, "boundary": 128},
        },
    }


def problem_of(spec: dict[str, Any]) -> PDEProblem:
    return kind_problem(JobSpec.model_validate(spec).problem)


def example_problem(name: str) -> PDEProblem:
    return kind_problem(JobSpec.model_validate(json.loads((OURS / f"{name}.json").read_text())).problem)


def bounds_without_exact(network: ReLUNetwork, problem: PDEProblem, seed: int = 0) -> dict[str, ErrorBound]:
    """The bounds with ``exact`` taken away, so they cannot have read it."""
    saved, problem.exact = problem.exact, None
    try:
        found = error_bounds(network, problem, seed)
    finally:
        problem.exact = saved
    assert len({b.quantity for b in found}) == len(found) == 4
    return {b.quantity: b for b in found}


def true_errors(network: ReLUNetwork, problem: PDEProblem) -> tuple[float, float]:
    """(max, rms) of |u - u*| on fresh points (not the bounds' points)."""
    inputs = problem.validation_inputs(CHECK_POINTS, seed=987)
    exact = problem.exact_values(inputs)
    assert exact is not None
    with torch.no_grad():
        diff = (network(inputs)[:, 0] - exact[0]).abs()
    return float(diff.max()), float(diff.pow(2).mean().sqrt())


def spoiled(network: ReLUNetwork, shift: float) -> ReLUNetwork:
    """A copy whose last bias is raised by ``shift`` (its error grows by about that much)."""
    layers = [(a.detach().clone(), b.detach().clone()) for a, b in network.layers]
    layers[-1][1].add_(shift)
    return ReLUNetwork(layers, network.act.name, network.negative_slope, network.act.c)


def random_network(inputs: int, seed: int = 0) -> ReLUNetwork:
    gen = torch.Generator().manual_seed(seed)
    return ReLUNetwork.random([inputs, 16, 16, 1], dtype=torch.float64, generator=gen, bias_scale=0.3)


@pytest.fixture(scope="module")
def trained_transport() -> tuple[ReLUNetwork, PDEProblem]:
    spec = transport_spec()
    torch.manual_seed(0)
    model = solve(JobSpec.model_validate(spec))
    return model.network, problem_of(spec)


# --------------------------------------------------------------------------- structure
def test_applies_to_linear_transport_only() -> None:
    assert transport.applies(example_problem("transport-1d"))
    assert not transport.applies(example_problem("eikonal-2d"))  # stationary and nonlinear
    assert transport.applies(problem_of(transport_spec(equation="2*u_t + 3*u_x0 - u + sin(x0)")))
    found = transport.structure(problem_of(transport_spec(equation="2*u_t + 3*u_x0 - u + sin(x0)")))
    assert found == transport.Structure(b=2.0, a=(3.0,), c=-1.0)
    for equation in ("u_t + u_x0**2", "u_t + abs(u_x0)", "u_t + x0*u_x0", "u_t + u*u_x0", "u_x0 - 1"):
        assert not transport.applies(problem_of(transport_spec(equation=equation))), equation


# --------------------------------------------------------------------------- transport
def test_transport_bounds_hold_and_spoiling_breaks_them(
    trained_transport: tuple[ReLUNetwork, PDEProblem],
) -> None:
    network, problem = trained_transport
    found = bounds_without_exact(network, problem)
    top, rms = true_errors(network, problem)
    assert found["max_abs_error"].kind == "certified"
    assert found["rms_error"].kind == "statistical"
    assert found["max_gradient_error"].kind == found["rms_gradient_error"].kind == "indicator"
    assert top <= found["max_abs_error"].value <= 10.0 * top
    assert rms <= found["rms_error"].value <= 10.0 * rms

    worse = spoiled(network, 0.3)
    worse_top, worse_rms = true_errors(worse, problem)
    assert worse_top > found["max_abs_error"].value  # the bound is tight enough to be refuted
    assert worse_rms > found["rms_error"].value
    own = bounds_without_exact(worse, problem)
    assert worse_top <= own["max_abs_error"].value
    assert worse_rms <= own["rms_error"].value


def test_transport_bounds_hold_with_growth_and_a_random_network() -> None:
    """c = -1/2 (kappa = 1/2: the Gronwall factor), b = 1: u* = e^(t/2) sin(x0 - t)."""
    problem = problem_of(
        transport_spec(
            equation="u_t + u_x0 - 0.5*u",
            conditions=[
                {"type": "initial", "value": "sin(x0)"},
                {"type": "dirichlet", "on": "x0=lower", "value": "exp(0.5*t)*sin(-t)"},
            ],
            exact="exp(0.5*t)*sin(x0 - t)",
        )
    )
    network = random_network(2)
    found = bounds_without_exact(network, problem)
    top, rms = true_errors(network, problem)
    assert found["max_abs_error"].kind == "certified"
    assert top <= found["max_abs_error"].value
    assert rms <= found["rms_error"].value


def test_inflow_face_without_data_gives_indicators() -> None:
    # data only on the outflow face x0=upper: nothing is known where characteristics enter
    problem = problem_of(
        transport_spec(
            conditions=[
                {"type": "initial", "value": "sin(x0)"},
                {"type": "dirichlet", "on": "x0=upper", "value": "sin(2 - t)"},
            ]
        )
    )
    found = bounds_without_exact(random_network(2), problem)
    assert {b.kind for b in found.values()} == {"indicator"}
    assert "x0=lower" in found["max_abs_error"].how
    assert all(math.isfinite(b.value) for b in found.values())


def test_ball_domain_has_a_statistical_rms_and_an_indicator_sup() -> None:
    spec = transport_spec(
        dimension=2,
        domain={"ball": {"center": [0.0, 0.0], "radius": 1.0}},
        equation="2*u_t + u_x0 - u_x1 + 0.5*u",
        conditions=[{"type": "initial", "value": "x0"}, {"type": "dirichlet", "value": "0"}],
        exact=None,
    )
    found = bounds_without_exact(random_network(3), problem_of(spec))
    assert found["rms_error"].kind == "statistical"
    assert found["max_abs_error"].kind == "indicator"
    assert "ball" in found["max_abs_error"].how


def test_wrong_network_is_refused() -> None:
    with pytest.raises(ValueError, match="inputs"):
        transport.bounds(random_network(3), problem_of(transport_spec()), 0)
    with pytest.raises(ValueError, match="hamilton_jacobi"):
        transport.bounds(random_network(2), example_problem("eikonal-2d"), 0)


# --------------------------------------------------------------------------- eikonal
def test_eikonal_gets_indicators_that_track_the_error() -> None:
    spec = json.loads((OURS / "eikonal-2d.json").read_text())
    spec["network"]["hidden"] = [32, 32]
    spec["training"]["steps"] = 300
    torch.manual_seed(0)
    model = solve(JobSpec.model_validate(spec))
    problem = problem_of(spec)
    found = bounds_without_exact(model.network, problem)
    assert {b.kind for b in found.values()} == {"indicator"}
    assert found == {b.quantity: b for b in hamilton_jacobi.bounds(model.network, problem, 0)}
    top, rms = true_errors(model.network, problem)
    # an indicator promises nothing; it should still be of the error's size
    assert top / 10.0 <= found["max_abs_error"].value <= 10.0 * top
    assert rms / 10.0 <= found["rms_error"].value <= 10.0 * rms
    assert "one-sided" in found["max_abs_error"].how


def test_spoiled_eikonal_indicator_grows() -> None:
    problem = example_problem("eikonal-2d")
    network = random_network(2, seed=1)
    plain = bounds_without_exact(network, problem)["max_abs_error"].value
    worse = bounds_without_exact(spoiled(network, 1.0), problem)["max_abs_error"].value
    assert worse >= plain + 0.5  # the boundary error enters the figure
