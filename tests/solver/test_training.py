"""Training: determinism, checkpoint/resume, cancellation, time limit, progress, divergence."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from solver import Canceled, Diverged, JobSpec, solve
from solver.kinds import problem_of
from solver.problems import PDEProblem, PointSet
from solver.solve import thin_curve
from solver.training import CHECKPOINT_EVERY, CURVE_EVERY, LossRecord, Trainer, non_finite

BASE: dict[str, Any] = {
    "problem": {
        "kind": "first_order",
        "dimension": 1,
        "time": {"start": 0.0, "end": 1.0},
        "domain": {"box": {"lower": [0.0], "upper": [6.283185307179586]}},
        "equation": "u_t + u_x0",
        "conditions": [
            {"type": "initial", "value": "sin(x0)"},
            {"type": "dirichlet", "on": "x0=lower", "value": "sin(-t)"},
        ],
        "exact": "sin(x0 - t)",
    },
    "network": {"hidden": [16, 16]},
    "training": {
        "steps": 2 * CHECKPOINT_EVERY + 30,
        "optimizer": "adam",  # the Adam loop itself; test_second_order.py tests the rest
        "resample_every": 40,
        "points": {"interior": 128, "boundary": 32},
    },
}


def spec(**training: Any) -> JobSpec:
    data = copy.deepcopy(BASE)
    data["training"].update(training)
    return JobSpec.model_validate(data)


def weights(model: Any) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.network.parameters()]


def test_same_spec_and_seed_give_the_same_model() -> None:
    a, b = solve(spec(seed=3)), solve(spec(seed=3))
    for p, q in zip(weights(a), weights(b), strict=True):
        assert torch.equal(p, q)
    c = solve(spec(seed=4))
    assert not all(torch.equal(p, q) for p, q in zip(weights(a), weights(c), strict=True))


def test_resume_from_a_checkpoint_equals_the_uninterrupted_run(tmp_path: Path) -> None:
    full = solve(spec(), checkpoint=tmp_path / "full.ckpt")
    # interrupt a second run after the first checkpoint, then resume it in a fresh process state
    problem = problem_of(spec().problem)
    trainer = Trainer(problem, spec().network, spec().training)
    stop_at = CHECKPOINT_EVERY + 7

    def cancel_after() -> bool:
        return trainer.state.step >= stop_at

    with pytest.raises(Canceled):
        trainer.run(None, cancel_after, tmp_path / "part.ckpt")
    assert (tmp_path / "part.ckpt").exists()
    seen: list[int] = []
    resumed = solve(spec(), lambda step, *_: seen.append(step), checkpoint=tmp_path / "part.ckpt")
    for p, q in zip(weights(full), weights(resumed), strict=True):
        assert torch.equal(p, q)
    # It resumed, not restarted: only the steps after the checkpoint ran.  (A restart from
    # step 0 ends with the same weights, training being deterministic.)
    steps = spec().training.steps
    assert seen == list(range(CHECKPOINT_EVERY + 1, steps + 1))
    assert resumed.metrics["steps"] == steps


def test_cancellation_stops_between_steps() -> None:
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return calls["n"] > 5

    with pytest.raises(Canceled, match="step 5"):
        solve(spec(), should_cancel=cancel)


def test_progress_callback_and_time_limit() -> None:
    seen: list[tuple[int, int, float, float]] = []
    model = solve(spec(time_limit_s=0.3, steps=100_000), lambda *a: seen.append(a))
    assert model.metrics["stopped_by_time_limit"] is True
    assert 0 < model.metrics["steps"] < 100_000
    assert seen and seen[-1][0] == model.metrics["steps"] and seen[-1][1] == 100_000
    assert all(v[2] >= 0 and v[3] >= 0 for v in seen)


def test_a_time_limit_keeps_the_best_parameters_seen() -> None:
    """Stopped by the limit after one step, the run returns the parameters of the best figure:
    those before that step (the figure is measured before the step moves them)."""
    training = spec(time_limit_s=1e-9, steps=100_000).training
    problem = problem_of(spec().problem)
    initial = [p.detach().clone() for p in Trainer(problem, spec().network, training).net.parameters()]
    trainer = Trainer(problem, spec().network, training)
    figures: list[float] = []
    result = trainer.run(lambda step, steps, figure, elapsed: figures.append(figure))
    assert result.stopped_by_time_limit and result.steps_done == 1 and len(figures) == 1
    for p, q in zip(initial, result.network.parameters(), strict=True):
        assert torch.equal(p, q.detach())
    assert result.final_loss == pytest.approx(figures[0], rel=1e-6)


@pytest.mark.parametrize("norm", ["l2", "sup"])
def test_lbfgs_after_adam_lowers_the_loss(norm: str) -> None:
    adam = solve(spec(steps=100, loss={"norm": norm}))
    both = solve(spec(optimizer="adam+lbfgs", steps=100, lbfgs_steps=40, loss={"norm": norm}))
    assert both.metrics["steps"] == 140
    assert both.metrics["final_loss"] < adam.metrics["final_loss"]


def test_uniform_sampling_is_an_option_and_changes_the_points() -> None:
    sobol_model = solve(spec(steps=30, sampling="sobol"))
    uniform_model = solve(spec(steps=30, sampling="uniform"))
    assert not all(
        torch.equal(p, q) for p, q in zip(weights(sobol_model), weights(uniform_model), strict=True)
    )
    again = solve(spec(steps=30, sampling="uniform"))
    assert all(torch.equal(p, q) for p, q in zip(weights(uniform_model), weights(again), strict=True))


def test_segment_jacobian_is_the_mean_derivative_and_moves_the_kinks() -> None:
    poisson = JobSpec.model_validate(
        {
            "problem": {
                "kind": "divergence_form",
                "dimension": 2,
                "domain": {"box": {"lower": [0.0, 0.0], "upper": [1.0, 1.0]}},
                "source": "1",
                "conditions": [{"type": "dirichlet", "on": "boundary", "value": "0"}],
            },
            "network": {"hidden": [12, 12]},
        }
    )
    problem = problem_of(poisson.problem)
    assert problem.uses_segments()
    trainer = Trainer(problem, poisson.network, poisson.training)
    net = trainer.net.double()
    z = torch.rand(50, 2, dtype=torch.float64) * 2 - 1
    # mean of D Phi e_0 over the segment, by quadrature of the exact derivative
    h = 0.1
    s = torch.linspace(-h, h, 4001, dtype=torch.float64)
    along = z.unsqueeze(1) + torch.stack([s, torch.zeros_like(s)], 1).unsqueeze(0)
    with torch.no_grad():
        jac_along = net.jacobian(along.reshape(-1, 2)).view(50, 4001, 3, 2)[..., 0]
    mean = torch.trapezoid(jac_along, s, dim=1) / (2 * h)
    seg = trainer._segment_jacobian(z, h)
    torch.testing.assert_close(seg[:, :, 0], mean, atol=5e-3, rtol=0)
    # unlike D Phi, the averaged derivative depends on the biases (the kink positions)
    (g_seg,) = torch.autograd.grad(seg.sum(), [net.biases[0]])
    (g_exact,) = torch.autograd.grad(net.value_and_jacobian(z)[1].sum(), [net.biases[0]])
    assert torch.count_nonzero(g_seg) > 0 and torch.count_nonzero(g_exact) == 0


def test_a_run_stopped_early_reports_residuals_of_the_exact_derivative() -> None:
    """Stopped by the time limit while segment averaging is still on, the reported residuals
    must still be those of D Phi itself."""
    data = {
        "problem": {
            "kind": "divergence_form",
            "dimension": 1,
            "domain": {"box": {"lower": [0.0], "upper": [1.0]}},
            "source": "pi**2*sin(pi*x)",
            "conditions": [{"type": "dirichlet", "on": "boundary", "value": "0"}],
        },
        "network": {"hidden": [16, 16]},
        "training": {"steps": 100_000, "time_limit_s": 0.3, "points": {"interior": 64, "boundary": 8}},
    }
    job = JobSpec.model_validate(data)
    trainer = Trainer(problem_of(job.problem), job.network, job.training)
    result = trainer.run()
    assert result.stopped_by_time_limit
    trainer.segment = 0.0
    with torch.no_grad():
        _, exact_terms, _ = trainer._loss(trainer.points, job.training.steps, job.training.steps)
    assert result.terms == exact_terms


def test_loss_curve_records_sup_and_mean_of_every_term_and_survives_a_resume(tmp_path: Path) -> None:
    seen: list[LossRecord] = []
    full = solve(spec(), checkpoint=tmp_path / "full.ckpt", on_record=seen.append)
    curve = [LossRecord.from_json(r) for r in full.metrics["loss_curve"]]
    assert [r.step for r in curve] == [r.step for r in seen]
    steps = spec().training.steps
    assert [r.step for r in seen] == [*range(10), *range(10, steps, CURVE_EVERY)]
    terms = set(full.metrics["terms"])
    for record in curve:
        assert set(record.sup) == set(record.mean) == terms
        assert all(0 <= record.mean[k] <= record.sup[k] for k in terms)  # mean |r| <= max |r|
    # the curve comes back from a checkpoint: a resumed run reports the same curve
    problem = problem_of(spec().problem)
    trainer = Trainer(problem, spec().network, spec().training)
    with pytest.raises(Canceled):
        trainer.run(None, lambda: trainer.state.step >= CHECKPOINT_EVERY + 3, tmp_path / "part.ckpt")
    resumed = solve(spec(), checkpoint=tmp_path / "part.ckpt")
    assert [r["step"] for r in resumed.metrics["loss_curve"]] == [r.step for r in curve]
    assert [r["sup"] for r in resumed.metrics["loss_curve"]] == [r.sup for r in curve]


def test_lbfgs_chunks_are_on_the_curve() -> None:
    model = solve(spec(optimizer="adam+lbfgs", steps=30, lbfgs_steps=40))
    assert [r["step"] for r in model.metrics["loss_curve"]][-2:] == [50, 70]


def test_thin_curve_keeps_the_last_record() -> None:
    curve = [LossRecord(i, 0.0, {"a": 1.0}, {"a": 0.5}) for i in range(1001)]
    thinned = thin_curve(curve, keep=400)
    assert len(thinned) <= 401 and thinned[0].step == 0 and thinned[-1].step == 1000
    assert thin_curve(curve[:5], keep=400) == curve[:5]


EIKONAL: dict[str, Any] = {
    "problem": {
        "kind": "first_order",
        "dimension": 2,
        "domain": {"box": {"lower": [-1.0, -1.0], "upper": [1.0, 1.0]}},
        "equation": "norm(grad_u) - 1",
        "conditions": [{"type": "dirichlet", "on": "boundary", "value": "0"}],
        "exact": "1 - max(abs(x), abs(y))",
    },
    "network": {"hidden": [16, 16]},
    "training": {"steps": 100, "points": {"interior": 256, "boundary": 64}},
}


def test_selection_penalizes_the_subsolution_violation_while_it_pushes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import solver.training as training

    job = JobSpec.model_validate(EIKONAL)
    trainer = Trainer(problem_of(job.problem), job.network, job.training)
    assert trainer.problem.selection == 1.0  # |p| - 1 is convex in p: push u up
    outputs = trainer._forward(trainer.points)
    u, jac = outputs["interior"]
    signed = trainer.problem.equation_value(trainer.points["interior"], u, jac)
    torch.testing.assert_close(signed, jac[:, 0, :].norm(dim=1) - 1)  # F, with its sign
    violation = torch.relu(signed)
    assert float(violation.max()) > 0  # the random network violates |grad u| <= 1 somewhere

    def loss_at(step: int, weight: float) -> float:
        monkeypatch.setattr(training, "SUBSOLUTION_WEIGHT", weight)
        with torch.no_grad():
            return float(trainer._loss(trainer.points, step, job.training.steps)[0])

    pushing, after = 0, job.training.steps  # the push (and the penalty) end at half the run
    assert loss_at(pushing, 1.0) > loss_at(pushing, 0.0)
    assert loss_at(after, 1.0) == loss_at(after, 0.0)


def test_progress_in_a_log_shows_residual_figures_and_the_objective_apart(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """On a non-terminal stderr, solve(progress=True) prints plain lines with the largest
    sample sup and mean of |r| over the terms and, apart, the objective; each record of the
    curve carries the objective minimized at its step."""
    model = solve(spec(steps=60), progress=True)
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) >= 10 and lines[-1].startswith("step 60/60 sup |r| ")
    assert all(" mean |r| " in line and " objective " in line for line in lines[1:])
    curve = [LossRecord.from_json(r) for r in model.metrics["loss_curve"]]
    assert all(r.objective is not None and r.objective > 0 for r in curve)
    last = curve[-1]
    sup, mean = max(last.sup.values()), max(last.mean.values())
    assert f"sup |r| {sup:.3e}  mean |r| {mean:.3e}" in "\n".join(lines)


# ---------------------------------------------------------------- divergence

Residuals = Callable[[str, PointSet, torch.Tensor, torch.Tensor], dict[str, torch.Tensor]]


def nan_once(original: Residuals, term: str, when: Callable[[], bool]) -> Residuals:
    """``original`` with ``term`` NaN at one point on the first call where ``when()`` holds."""
    fired = [False]

    def residuals(name: str, points: PointSet, u: torch.Tensor, jac: torch.Tensor) -> dict[str, torch.Tensor]:
        found = original(name, points, u, jac)
        if term in found and not fired[0] and when():
            fired[0] = True
            found[term] = found[term].clone()
            found[term][0] = math.nan
        return found

    return residuals


def test_the_first_non_finite_term_names_the_divergence() -> None:
    ok, inf, nan = torch.ones(3), torch.tensor([1.0, math.inf]), torch.tensor([math.nan])
    assert non_finite(
        torch.tensor(2.0), {"pde": ok, "condition0:value": inf, "condition1:dirichlet": nan}
    ) == ("condition0:value")
    assert non_finite(torch.tensor(math.inf), {"pde": ok}) == "objective"
    assert non_finite(math.nan, {"pde": ok}) == "objective"
    assert non_finite(torch.tensor(2.0), {"pde": ok}) is None
    assert str(Diverged(7, "pde")) == "diverged at step 7: pde"


def test_adam_stops_at_the_first_non_finite_residual_with_the_best_parameters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = spec(steps=50)
    trainer = Trainer(problem_of(job.problem), job.network, job.training)
    problem = trainer.problem
    monkeypatch.setattr(
        problem, "residuals", nan_once(problem.residuals, "condition0:value", lambda: trainer.state.step == 7)
    )
    seen: list[int] = []
    with pytest.raises(Diverged) as info:
        trainer.run(lambda step, *_: seen.append(step))
    assert str(info.value) == "diverged at step 7: condition0:value"
    assert seen == list(range(1, 8))  # steps 0..6 ran; step 7 did not move the parameters
    result = info.value.result
    assert result is not None and result.steps_done == 7 and not result.stopped_by_time_limit
    for p, q in zip(trainer.state.best, result.network.parameters(), strict=True):
        assert torch.equal(p, q.detach())
    assert math.isfinite(result.final_loss) and result.final_loss == pytest.approx(trainer.state.best_loss)


def test_a_last_adam_step_that_ends_non_finite_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    job = spec(steps=20)
    trainer = Trainer(problem_of(job.problem), job.network, job.training)
    problem = trainer.problem
    monkeypatch.setattr(
        problem, "residuals", nan_once(problem.residuals, "pde", lambda: trainer.state.step == 20)
    )
    with pytest.raises(Diverged, match=r"^diverged at step 20: pde$") as info:
        trainer.run()
    assert info.value.result is not None and info.value.result.steps_done == 20


def test_lbfgs_stops_at_the_first_non_finite_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    job = spec(steps=20, optimizer="adam+lbfgs", lbfgs_steps=40)
    trainer = Trainer(problem_of(job.problem), job.network, job.training)
    problem = trainer.problem
    calls = [0]

    def lbfgs_call() -> bool:  # the first evaluation of L-BFGS: the parameters Adam left
        calls[0] += trainer.state.step >= 20
        return calls[0] == 1

    monkeypatch.setattr(problem, "residuals", nan_once(problem.residuals, "pde", lbfgs_call))
    with pytest.raises(Diverged, match=r"^diverged at step 20: pde$") as info:
        trainer.run()
    assert info.value.result is not None and info.value.result.steps_done == 20


DIVERGING: dict[str, Any] = copy.deepcopy(BASE)
DIVERGING["problem"]["equation"] = "u_t + u_x0 + exp(u*u)"  # finite for the initial network only
DIVERGING["training"].update({"steps": 60, "learning_rate": 10.0})


def test_solve_raises_diverged_with_the_model_of_the_best_finite_parameters(tmp_path: Path) -> None:
    """Adam's first step (every parameter moves by about the learning rate, 10) makes |u| so
    large that exp(u*u) overflows (on every seed tried, 0 to 5): the run stops at step 1 and
    keeps step 0's parameters."""
    with pytest.raises(Diverged) as info:
        solve(JobSpec.model_validate(DIVERGING))
    assert str(info.value) == "diverged at step 1: pde"
    model = info.value.model
    assert model is not None
    assert model.metrics["diverged"] == {"step": 1, "term": "pde"} and model.metrics["steps"] == 1
    assert math.isfinite(model.metrics["final_loss"])
    assert all(bool(torch.isfinite(p).all()) for p in weights(model))
    model.save(tmp_path / "model")  # JSON-compliant: before, the NaN run failed here


def test_solve_raises_diverged_without_a_model_when_no_step_was_finite(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = PDEProblem.residuals

    def residuals(self: PDEProblem, *args: Any) -> dict[str, torch.Tensor]:
        return {k: v * math.inf for k, v in original(self, *args).items()}

    monkeypatch.setattr(PDEProblem, "residuals", residuals)
    with pytest.raises(Diverged, match=r"^diverged at step 0: pde$") as info:
        solve(spec(steps=20))
    assert info.value.model is None and info.value.result is None
