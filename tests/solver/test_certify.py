"""solver.certify: the certified weighted value error dominates every sampled error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import solver.certify as certify
from models import ReLUNetwork
from solver import JobSpec
from solver.certify import cell_bounds, certify_value_error
from solver.domains import DTYPE
from solver.kinds import problem_of
from solver.problems import PDEProblem
from solver.solve import physical_network
from solver.training import Trainer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained() -> tuple[ReLUNetwork, PDEProblem]:
    """gbm-1d (inputs (t, x0)) on a small budget: a poor model, so the bound has work to do."""
    spec = json.loads((ROOT / "examples" / "extra" / "gbm-1d.json").read_text())
    spec["network"]["hidden"] = [16, 16]
    spec["training"].update({"steps": 150, "points": {"interior": 256, "boundary": 32}})
    job = JobSpec.model_validate(spec)
    problem = problem_of(job.problem)
    result = Trainer(problem, job.network, job.training).run()
    return physical_network(result, problem), problem


def _weighted_errors(network: ReLUNetwork, problem: PDEProblem, x: torch.Tensor) -> torch.Tensor:
    exact = problem.exact_values(x)
    assert exact is not None and problem.spec.growth is not None
    with torch.no_grad():
        u = network(x)[:, 0]
    omega = 1.0 + x[:, 1:].norm(dim=1) ** (problem.spec.growth.kappa + 1.0)
    errors: torch.Tensor = (u - exact[0]).abs() / omega
    return errors


def test_each_cell_bound_dominates_the_errors_sampled_in_the_cell(
    trained: tuple[ReLUNetwork, PDEProblem],
) -> None:
    network, problem = trained
    gen = torch.Generator().manual_seed(0)
    lo_q = problem.input_center - problem.input_half
    lower = lo_q + torch.rand(64, 2, dtype=DTYPE, generator=gen) * problem.input_half * 1.5
    upper = lower + torch.rand(64, 2, dtype=DTYPE, generator=gen) * 0.3
    bounds = cell_bounds(network, problem, lower, upper)
    for k in range(64):
        x = lower[k] + torch.rand(2000, 2, dtype=DTYPE, generator=gen) * (upper[k] - lower[k])
        assert float(_weighted_errors(network, problem, x).max()) <= float(bounds[k])


def test_the_certificate_dominates_the_sampled_sup_and_says_whether_it_reached_the_target(
    trained: tuple[ReLUNetwork, PDEProblem], monkeypatch: pytest.MonkeyPatch
) -> None:
    network, problem = trained
    gen = torch.Generator().manual_seed(1)
    x = (
        problem.input_center
        + (torch.rand(100_000, 2, dtype=DTYPE, generator=gen) * 2 - 1) * problem.input_half
    )
    sampled = float(_weighted_errors(network, problem, x).max())
    generous = certify_value_error(network, problem, target=50 * sampled)
    assert generous.reached and sampled <= generous.bound <= 50 * sampled
    monkeypatch.setattr(certify, "CERTIFY_BUDGET", 2**14)
    strict = certify_value_error(
        network, problem, target=sampled
    )  # cannot be certified: the sup is >= sampled
    assert not strict.reached and strict.bound >= sampled and strict.cells <= 2**14
    assert generous.cells > 0


def test_refinement_splits_every_axis() -> None:
    lower = torch.tensor([[0.0, 0.0]], dtype=DTYPE)
    upper = torch.tensor([[2.0, 4.0]], dtype=DTYPE)
    lo, hi = certify._split(lower, upper)
    boxes = sorted(zip(lo.tolist(), hi.tolist(), strict=True))
    assert boxes == [
        ([0.0, 0.0], [1.0, 2.0]),
        ([0.0, 2.0], [1.0, 4.0]),
        ([1.0, 0.0], [2.0, 2.0]),
        ([1.0, 2.0], [2.0, 4.0]),
    ]
