"""bench/exact_fit.py: the residuals are the errors against ``exact``, and a short fit reduces them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from bench.exact_fit import ExactFit, with_overrides
from solver import JobSpec
from solver.solve import measure_errors, physical_network
from solver.training import Trainer

TRANSPORT = Path(__file__).resolve().parents[2] / "examples" / "transport-1d.json"


def _spec(steps: int) -> JobSpec:
    data = json.loads(TRANSPORT.read_text())
    data["training"].update(
        {"steps": steps, "optimizer": "adam", "points": {"interior": 256, "boundary": 64}}
    )
    return JobSpec.model_validate(data)


def test_only_interior_points_with_the_exact_targets() -> None:
    problem = ExactFit(_spec(10).problem)
    points = problem.sample(64, 16, seed=0, draw=0)
    assert list(points) == ["interior"]
    interior = points["interior"]
    t, x = interior.t, interior.x
    assert t is not None
    torch.testing.assert_close(interior.targets["value"], torch.sin(x[:, 0] - t))
    cos = torch.cos(x[:, 0] - t)
    torch.testing.assert_close(interior.targets["grad"], torch.stack([-cos, cos], 1))


def test_residuals_vanish_at_the_exact_solution_and_measure_the_error_elsewhere() -> None:
    problem = ExactFit(_spec(10).problem)
    interior = problem.sample(64, 16, seed=0, draw=0)["interior"]
    u = interior.targets["value"].unsqueeze(1)
    jac = interior.targets["grad"].unsqueeze(1)
    exact = problem.residuals("interior", interior, u, jac)
    assert float(exact["value"].abs().max()) == 0.0 and float(exact["gradient"].abs().max()) == 0.0
    off = problem.residuals("interior", interior, u + 0.5, jac + torch.tensor([0.3, -0.4]))
    torch.testing.assert_close(off["value"], torch.full((64,), 0.5, dtype=u.dtype))
    torch.testing.assert_close(off["gradient"], torch.full((64,), 0.5, dtype=u.dtype))


def test_a_short_fit_lowers_the_error_of_the_initial_network() -> None:
    spec = _spec(200)
    problem = ExactFit(spec.problem)
    trainer = Trainer(problem, spec.network, spec.training)
    untrained = Trainer(problem, spec.network, spec.training.model_copy(update={"steps": 0})).run()
    trained = trainer.run()
    start = measure_errors(physical_network(untrained, problem), problem, 0)
    end = measure_errors(physical_network(trained, problem), problem, 0)
    assert start is not None and end is not None
    assert end["rel_l2"] < 0.5 * start["rel_l2"]


def test_command_line_settings_replace_the_specs_network_and_optimizer() -> None:
    data = json.loads(TRANSPORT.read_text())
    args = argparse.Namespace(
        steps=7, learning_rate=None, seed=2, optimizer="adam+lm", lm_steps=3, hidden=[16, 16]
    )
    spec = with_overrides(data, args)
    assert spec.network.hidden == [16, 16]
    assert (spec.training.steps, spec.training.seed, spec.training.lm_steps) == (7, 2, 3)
    assert spec.training.pipeline(spec.problem.kind) == "adam+lm"
    assert spec.training.learning_rate == JobSpec.model_validate(data).training.learning_rate
    assert data["network"]["hidden"] == [64, 64, 64]  # the example itself is left as it was
