"""The Levenberg-Marquardt phase: its rows are the residuals' Jacobian, it lowers the loss
where Adam stalls, and a resumed run equals the uninterrupted one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from solver import Canceled, JobSpec, solve
from solver.kinds import problem_of
from solver.second_order import Rows, flat_parameters, residual_rows, set_parameters
from solver.training import Trainer
from tests.solver.test_training import spec, weights

F64 = torch.float64


def _trainer(hidden: list[int] | None = None, interior: int | None = None, **training: object) -> Trainer:
    job = spec(**training)
    data = job.model_dump(mode="json")
    if hidden is not None:
        data["network"]["hidden"] = hidden
    if interior is not None:
        data["training"]["points"] = {"interior": interior, "boundary": interior // 4}
    job = JobSpec.model_validate(data)
    trainer = Trainer(problem_of(job.problem), job.network, job.training)
    trainer.net.double()
    return trainer


def test_the_rows_are_the_jacobian_of_the_residuals() -> None:
    """J theta-direction equals the finite difference of the weighted residuals."""
    trainer = _trainer(seed=1)
    points = {k: v.to(F64) for k, v in trainer._draw(5).items()}
    center, half = trainer.center.to(F64), trainer.half.to(F64)

    def rows(with_jacobian: bool) -> Rows:
        return residual_rows(
            trainer.problem, points, trainer.net, center, half, 1.0, with_jacobian=with_jacobian
        )

    start = rows(True)
    assert start.jacobian is not None
    theta = flat_parameters(trainer.net)
    direction = torch.randn(theta.shape, dtype=F64, generator=torch.Generator().manual_seed(0))
    h = 1e-7
    set_parameters(trainer.net, theta + h * direction)
    moved = rows(False)
    set_parameters(trainer.net, theta)
    jacobian = start.jacobian
    measured = (moved.residual - start.residual) / h
    predicted = jacobian @ direction
    # almost every row is smooth at theta (no kink crosses a point within h)
    close = (predicted - measured).abs() <= 1e-4 * (1 + predicted.abs())
    assert close.float().mean() > 0.99


def _mean_square(trainer: Trainer) -> float:
    points = {k: v.to(F64) for k, v in trainer._draw(99).items()}
    center, half = trainer.center.to(F64), trainer.half.to(F64)
    net = trainer.net.double()
    return residual_rows(
        trainer.problem, points, net, center, half, trainer.output_scale, with_jacobian=False
    ).loss


def test_levenberg_marquardt_lowers_the_loss_where_adam_stalls() -> None:
    """A small network (105 parameters, more rows than parameters): after 200 Adam steps, 8
    iterations of LM lower the mean-square residual on fresh points far more than 400 more
    Adam steps do (measured: 0.043 against 0.164)."""
    options = {"hidden": [8, 8], "interior": 512, "learning_rate": 1e-2, "seed": 2}
    adam = _trainer(steps=600, optimizer="adam", **options)  # type: ignore[arg-type]
    adam.net.float()
    adam.run()
    lm = _trainer(steps=200, optimizer="adam+lm", lm_steps=8, **options)  # type: ignore[arg-type]
    lm.net.float()
    lm.run()
    assert _mean_square(lm) < 0.5 * _mean_square(adam)


def test_a_resumed_second_order_phase_equals_the_uninterrupted_one(tmp_path: Path) -> None:
    options = {"steps": 40, "optimizer": "adam+lm", "lm_steps": 6}
    full = solve(spec(**options))
    job = spec(**options)
    trainer = Trainer(problem_of(job.problem), job.network, job.training)
    with pytest.raises(Canceled):
        trainer.run(None, lambda: trainer.state.step >= 40 + 3, tmp_path / "part.ckpt")
    seen: list[int] = []
    resumed = solve(spec(**options), lambda step, *_: seen.append(step), checkpoint=tmp_path / "part.ckpt")
    for p, q in zip(weights(full), weights(resumed), strict=True):
        assert torch.equal(p, q)
    assert seen == [43, 44, 45, 46]  # resumed after the checkpoint of iteration 2, not restarted
    assert resumed.metrics["steps"] == 46


def test_auto_is_adam_then_levenberg_marquardt_for_first_order_problems_only() -> None:
    job = spec(optimizer="auto", steps=40, lm_steps=5)
    assert job.training.pipeline("first_order") == "adam+lm"
    assert job.training.pipeline("divergence_form") == "adam"
    assert job.total_steps == 45
    model = solve(job)
    assert model.metrics["steps"] == 45
    assert [r["step"] for r in model.metrics["loss_curve"]][-5:] == [41, 42, 43, 44, 45]
