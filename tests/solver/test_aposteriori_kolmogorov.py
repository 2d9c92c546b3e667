"""Monte Carlo references and the kolmogorov bounds: computed without `exact`, checked with it.

Small budgets (hidden [32, 32], 150 steps) on heat-kolmogorov-5d (exact simulation) and
gbm-1d (Euler-Maruyama, Richardson-extrapolated references)."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from models import ReLUNetwork
from solver import JobSpec
from solver.aposteriori.bound import CONFIDENCE
from solver.aposteriori.feynman_kac import error_upper_bounds, events_per_point, references, union_quantile
from solver.aposteriori.kolmogorov import bounds, box_points
from solver.estimate import (
    SAFETY,
    GlobalEstimate,
    build_global_model,
    points_at_every_scale,
    pointwise_bounds,
)
from solver.kinds import problem_of
from solver.problems import PDEProblem
from solver.solve import physical_network
from solver.training import Trainer

from .examples import EXAMPLES

ROOT = Path(__file__).resolve().parents[2]
PATHS = {
    "heat-kolmogorov-5d": next(p for p in EXAMPLES if p.stem == "heat-kolmogorov-5d"),
    "gbm-1d": ROOT / "examples" / "extra" / "gbm-1d.json",
}


def _problem(name: str, drop_exact: bool = False) -> tuple[JobSpec, PDEProblem]:
    spec: dict[str, Any] = json.loads(PATHS[name].read_text())
    spec["network"]["hidden"] = [32, 32]
    spec["training"]["steps"] = 150
    if drop_exact:
        spec["problem"].pop("exact")
    job = JobSpec.model_validate(spec)
    return job, problem_of(job.problem)


@pytest.fixture(scope="module", params=list(PATHS))
def trained(request: pytest.FixtureRequest) -> tuple[str, ReLUNetwork]:
    job, problem = _problem(request.param, drop_exact=True)
    result = Trainer(problem, job.network, job.training).run(None, None, None, None)
    return request.param, physical_network(result, problem)


def _exact(name: str, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    found = _problem(name)[1].exact_values(inputs)
    assert found is not None
    return found


def _true_rms(name: str, network: ReLUNetwork, n: int = 20_000) -> tuple[float, float]:
    """rms |u_h - u*| and rms |grad_x u_h - grad_x u*| over fresh uniform points of the box."""
    problem = _problem(name)[1]
    inputs = box_points(problem, n, seed=12345)
    u_star, g_star = _exact(name, inputs)
    with torch.no_grad():
        u, jac = network.value_and_jacobian(inputs)
    value = float(((u[:, 0] - u_star) ** 2).mean().sqrt())
    gradient = float(((jac[:, 0, 1:] - g_star[:, 1:]) ** 2).sum(1).mean().sqrt())
    return value, gradient


def _spoiled(network: ReLUNetwork) -> ReLUNetwork:
    bad = copy.deepcopy(network)
    with torch.no_grad():
        bad.weights[-1].mul_(1.3)
        bad.biases[-1].add_(0.5)
    return bad


def test_reference_intervals_cover_the_exact_solution(trained: tuple[str, ReLUNetwork]) -> None:
    """200 points, z from the union bound over every statement: ubar within z se of u*, each
    derivative component within z se of D u* (gbm-1d's pathwise derivatives: SAFETY z, the
    margin the estimate keeps; their pair averages are heavy-tailed, so 64 pairs estimate
    se loosely)."""
    name, network = trained
    problem = _problem(name, drop_exact=True)[1]
    inputs = box_points(problem, 200, seed=7)
    ref = references(problem, inputs, seed=7, network=network)
    u_star, g_star = _exact(name, inputs)
    z = union_quantile(1.0 - CONFIDENCE, 200 * events_per_point(problem))
    assert ((ref.value - u_star).abs() <= z * ref.value_se).all()
    factor = SAFETY if not problem.exact_simulation else 1.0
    assert ((ref.gradient - g_star).abs() <= factor * z * ref.gradient_se).all()
    value_bound, gradient_bound = error_upper_bounds(network, inputs, ref, z)
    with torch.no_grad():
        u, jac = network.value_and_jacobian(inputs)
    assert ((u[:, 0] - u_star).abs() <= value_bound).all()
    assert ((jac[:, 0] - g_star).norm(dim=1) <= factor * gradient_bound).all()


def test_control_variate_keeps_the_mean(trained: tuple[str, ReLUNetwork]) -> None:
    name, network = trained
    problem = _problem(name, drop_exact=True)[1]
    inputs = box_points(problem, 100, seed=8)
    plain = references(problem, inputs, seed=8)
    controlled = references(problem, inputs, seed=8, network=network)
    torch.testing.assert_close(plain.gradient, controlled.gradient)  # same paths
    both = (plain.value_se**2 + controlled.value_se**2).sqrt()
    assert ((plain.value - controlled.value).abs() <= 6 * both).all()


def test_rms_bounds_hold_and_are_not_vacuous(trained: tuple[str, ReLUNetwork]) -> None:
    name, network = trained
    problem = _problem(name, drop_exact=True)[1]
    found = {b.quantity: b for b in bounds(network, problem, seed=3)}
    assert found["rms_error"].kind == "statistical" and found["max_abs_error"].kind == "indicator"
    true_value, true_gradient = _true_rms(name, network)
    assert true_value <= found["rms_error"].value
    assert true_gradient <= found["rms_gradient_error"].value
    # a spoiled network is worse than the good one's bound, and its own bound holds
    bad = _spoiled(network)
    bad_value, bad_gradient = _true_rms(name, bad)
    assert bad_value > found["rms_error"].value
    bad_found = {b.quantity: b for b in bounds(bad, problem, seed=3)}
    assert bad_value <= bad_found["rms_error"].value
    assert bad_gradient <= bad_found["rms_gradient_error"].value
    assert all(math.isfinite(b.value) for b in bad_found.values())


def test_global_estimate_without_exact_holds(trained: tuple[str, ReLUNetwork]) -> None:
    name, network = trained
    problem = _problem(name, drop_exact=True)[1]
    psi, estimate = build_global_model(network, problem, seed=0)
    assert estimate.reference == "monte_carlo" and not estimate.value_certified
    assert "z = " in estimate.how_measured and "paths per point" in estimate.how_measured
    restored = GlobalEstimate.from_json(estimate.to_json())
    assert restored == estimate
    points = points_at_every_scale(estimate, 10_000, seed=5)
    b0, b1 = pointwise_bounds(estimate, points)
    inputs = torch.from_numpy(points)
    u_star, g_star = _exact(name, inputs)
    with torch.no_grad():
        u, jac = psi.value_and_jacobian(inputs)
    value_error = (u[:, 0] - u_star).abs().numpy()
    gradient_error = (jac[:, 0] - g_star).norm(dim=1).numpy()
    assert (value_error <= b0).all(), float(np.max(value_error / b0))
    assert (gradient_error <= b1).all(), float(np.max(gradient_error / b1))
