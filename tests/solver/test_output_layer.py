"""The solved output layer: its rows are the residuals' Jacobian in (A_L, b_L), one solve is
the least-squares solution, a wider basis never fits worse, and the trainer's phase is
deterministic, resumable, cancelable and leaves a network every bound still holds for."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from solver import Canceled, JobSpec, solve
from solver.kinds import problem_of
from solver.output_layer import (
    NormalEquations,
    gauss_newton_step,
    hidden_features,
    minimax_fit,
    output_parameters,
    output_rows,
    solve_normal,
)
from solver.training import Trainer

F64 = torch.float64

POISSON_1D: dict[str, Any] = {
    "problem": {
        "kind": "divergence_form",
        "dimension": 1,
        "domain": {"box": {"lower": [0.0], "upper": [1.0]}},
        "diffusion": "1",
        "source": "pi**2*sin(pi*x0)",
        "conditions": [{"type": "dirichlet", "on": "boundary", "value": "0"}],
        "exact": "sin(pi*x0)",
    },
}
# K(u) = 1 + u^2: the residual is nonlinear in the output layer
NONLINEAR_1D: dict[str, Any] = {
    "problem": {
        **POISSON_1D["problem"],
        "diffusion": "1 + u**2",
        "source": "0",
        "conditions": [{"type": "dirichlet", "on": "boundary", "value": "x0"}],
        "exact": None,
    },
}


def job(base: dict[str, Any], hidden: list[int] | None = None, **training: Any) -> JobSpec:
    data: dict[str, Any] = {**base, "training": {"points": {"interior": 64, "boundary": 8}, **training}}
    if hidden is not None:
        data["network"] = {"hidden": hidden}
    return JobSpec.model_validate(data)


def trainer_of(spec: JobSpec) -> Trainer:
    trainer = Trainer(problem_of(spec.problem), spec.network, spec.training)
    trainer.net.double()
    return trainer


def rows_at(trainer: Trainer, theta: torch.Tensor, draw: int = 0, *, with_jacobian: bool = True) -> Any:
    return trainer._output_rows(trainer._draw(draw), theta, with_jacobian=with_jacobian)


def test_the_rows_are_the_jacobian_of_the_residuals_in_the_output_layer() -> None:
    """J delta equals the finite difference of the weighted residual rows, nonlinear K(u)."""
    trainer = trainer_of(job(NONLINEAR_1D, [12]))
    theta = output_parameters(trainer.net)
    direction = torch.randn(theta.shape, dtype=F64, generator=torch.Generator().manual_seed(0))
    start = rows_at(trainer, theta)
    h = 1e-6
    plus = rows_at(trainer, theta + h * direction, with_jacobian=False).residual
    minus = rows_at(trainer, theta - h * direction, with_jacobian=False).residual
    measured = (plus - minus) / (2 * h)
    predicted = start.dense() @ direction
    torch.testing.assert_close(predicted, measured, rtol=1e-6, atol=1e-7)


def test_one_step_is_the_normal_equation_solution_on_a_linear_problem() -> None:
    """theta + delta = argmin |r(theta)|^2, which numpy's lstsq of the same dense rows finds;
    the step is marked affine, and a second step changes nothing."""
    trainer = trainer_of(job(POISSON_1D, [10]))
    theta = output_parameters(trainer.net)
    rows = rows_at(trainer, theta)
    jacobian, residual = rows.dense().numpy(), rows.residual.numpy()
    expected = theta.numpy() + np.linalg.lstsq(jacobian, -residual, rcond=None)[0]

    def rows_of(theta: torch.Tensor, with_jacobian: bool) -> Any:
        yield rows_at(trainer, theta, with_jacobian=with_jacobian)

    result = gauss_newton_step(rows_of, theta, ridge=0.0)
    assert result.taken and result.affine
    np.testing.assert_allclose(result.theta.numpy(), expected, rtol=1e-6, atol=1e-8)
    again = gauss_newton_step(rows_of, result.theta, ridge=0.0)
    assert again.loss_after == pytest.approx(result.loss_after, rel=1e-9)


def test_normal_equations_sum_over_draws_as_one_stack_of_rows() -> None:
    """Two draws' normal equations are the mean of each: the same as stacking their rows with
    weight 1 / sqrt(2)."""
    trainer = trainer_of(job(POISSON_1D, [6]))
    theta = output_parameters(trainer.net)
    a, b = rows_at(trainer, theta, 0), rows_at(trainer, theta, 1)
    joint = NormalEquations.of([a, b])
    stacked = torch.cat([a.dense(), b.dense()]) / 2**0.5
    right = torch.cat([a.residual, b.residual]) / 2**0.5
    torch.testing.assert_close(joint.gram, stacked.t() @ stacked)
    torch.testing.assert_close(joint.rhs, stacked.t() @ right)
    assert joint.loss == pytest.approx(float(right.square().sum()))


@settings(max_examples=15, deadline=None)
@given(width=st.integers(2, 12), seed=st.integers(0, 10_000))
def test_adding_a_neuron_never_raises_the_least_squares_residual(width: int, seed: int) -> None:
    """The features of width W + 1 contain those of width W (one neuron added), so the
    least-squares residual over them is never larger."""
    trainer = trainer_of(job(POISSON_1D, [width + 1], seed=seed))
    points = {k: v.to(F64) for k, v in trainer._draw(0).items()}
    center, half = trainer.center.to(F64), trainer.half.to(F64)
    full = {k: hidden_features(trainer.net, (p.inputs() - center) / half) for k, p in points.items()}
    fewer = {
        k: type(f)(f.value[:, :width].contiguous(), f.jacobian[:, :width].contiguous())
        for k, f in full.items()
    }

    def best(features: dict[str, Any], w: int) -> float:
        theta = torch.zeros(trainer.problem.n_outputs * (w + 1), dtype=F64)
        rows = output_rows(trainer.problem, points, features, theta, half, 1.0)
        step = solve_normal(NormalEquations.of([rows]), 0.0)
        return output_rows(trainer.problem, points, features, theta + step, half, 1.0).loss

    narrow, wide = best(fewer, width), best(full, width + 1)
    assert wide <= narrow * (1 + 1e-7) + 1e-12


def test_the_ls_pipeline_solves_poisson_to_a_small_error() -> None:
    """One hidden layer of 60 features, output layer solved: far below what 200 Adam steps
    on the same network reach."""
    solved = solve(job(POISSON_1D, [60], optimizer="ls"))
    trained = solve(job(POISSON_1D, [60], optimizer="adam", steps=200))
    assert solved.errors is not None and trained.errors is not None
    assert solved.errors["rel_l2"] < 1e-2
    assert solved.errors["rel_l2"] < trained.errors["rel_l2"] / 5


def test_a_spec_without_network_gets_the_solved_basis() -> None:
    spec = JobSpec.model_validate({**POISSON_1D, "network": "auto"})
    assert spec.network.hidden is None and spec.solved_basis
    assert spec.hidden == [400] and spec.pipeline == "ls"
    named = JobSpec.model_validate({**POISSON_1D, "network": {"hidden": [64, 64, 64]}})
    assert not named.solved_basis and named.pipeline == "adam"
    assert named.total_steps == 5000
    assert spec.total_steps == spec.training.ls_steps  # no Adam step


def test_gauss_newton_lowers_a_nonlinear_residual_and_stops_when_it_stalls() -> None:
    spec = job(NONLINEAR_1D, [40], optimizer="ls", ls_steps=12)
    records: list[Any] = []
    model = solve(spec, on_record=records.append)
    losses = [r.objective for r in records]
    assert len(losses) >= 2 and all(b <= a for a, b in itertools.pairwise(losses))
    assert model.metrics["steps"] == 12  # the phase ends at its last step, converged or not


def test_resume_of_the_solve_equals_the_uninterrupted_run(tmp_path: Path) -> None:
    spec = job(NONLINEAR_1D, [30], optimizer="adam+ls", steps=40, ls_steps=6)
    full = solve(spec, checkpoint=tmp_path / "full.ckpt")
    calls = [0]

    def cancel_in_the_solve() -> bool:
        calls[0] += 1
        return calls[0] > 42  # 40 Adam steps, then one Gauss-Newton iteration

    with pytest.raises(Canceled):
        solve(spec, should_cancel=cancel_in_the_solve, checkpoint=tmp_path / "part.ckpt")
    resumed = solve(spec, checkpoint=tmp_path / "part.ckpt")
    for a, b in zip(full.network.parameters(), resumed.network.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_the_time_limit_stops_the_solve() -> None:
    spec = job(NONLINEAR_1D, [30], optimizer="ls", ls_steps=50, time_limit_s=1e-6)
    model = solve(spec)
    assert model.metrics["stopped_by_time_limit"] is True
    assert model.metrics["steps"] == 1


def test_every_bound_holds_for_a_solved_model() -> None:
    """The solved basis is an ordinary ReLU network: its certified and statistical bounds
    hold against the exact solution."""
    model = solve(job(POISSON_1D, [80], optimizer="ls"))
    problem = problem_of(model.spec.problem)
    x = torch.linspace(0, 1, 4001, dtype=F64).unsqueeze(1)
    u, grad = model.network.value_and_jacobian(x)
    exact = problem.exact_values(x)
    assert exact is not None
    error = (u[:, 0] - exact[0]).detach()
    grad_error = (grad[:, 0, 0] - exact[1][:, 0]).detach()
    truth = {
        "rms_error": float(error.square().mean().sqrt()),
        "rms_gradient_error": float(grad_error.square().mean().sqrt()),
        "max_abs_error": float(error.abs().max()),
        "max_gradient_error": float(grad_error.abs().max()),
    }
    checked = 0
    for bound in model.estimate["bounds"]:
        if bound["kind"] in ("certified", "statistical") and bound["value"] is not None:
            assert bound["value"] >= truth[bound["quantity"]], bound
            checked += 1
    assert checked >= 2


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_minimax_fit_is_the_linear_programs_optimum(seed: int) -> None:
    """min_delta max_i |r_i + (J delta)_i| as a linear program (min t subject to
    -t <= r + J delta <= t, scipy's HiGHS) and by Lawson's iterations agree to 1 %."""
    from scipy.optimize import linprog

    generator = torch.Generator().manual_seed(seed)
    n, p = 60, 6
    jacobian = torch.randn(n, p, dtype=F64, generator=generator)
    residual = torch.randn(n, dtype=F64, generator=generator)
    j, r = jacobian.numpy(), residual.numpy()
    cost = np.r_[np.zeros(p), 1.0]
    bounds = np.block([[j, -np.ones((n, 1))], [-j, -np.ones((n, 1))]])
    program = linprog(cost, A_ub=bounds, b_ub=np.r_[-r, r], bounds=[(None, None)] * p + [(0, None)])
    assert program.status == 0
    found = float((residual + jacobian @ minimax_fit(jacobian, residual, iterations=40)).abs().max())
    least_squares = float((residual + jacobian @ minimax_fit(jacobian, residual, iterations=0)).abs().max())
    assert program.fun <= found * (1 + 1e-9)
    assert found <= 1.01 * program.fun < least_squares


def test_the_sup_norm_solve_lowers_the_sampled_sup_below_least_squares() -> None:
    spec_l2 = job(POISSON_1D, [40], optimizer="ls", loss={"norm": "l2"})
    spec_sup = job(POISSON_1D, [40], optimizer="ls", loss={"norm": "sup"})
    assert spec_sup.total_steps == spec_l2.total_steps + 16  # Lawson's iterations
    sups = []
    for spec in (spec_l2, spec_sup):
        trainer = trainer_of(spec)
        trainer.run()
        rows = rows_at(trainer, output_parameters(trainer.net), 5, with_jacobian=False)
        sups.append(
            max(float(block.residual.abs().max() * block.residual.numel() ** 0.5) for block in rows.blocks)
        )
    assert sups[1] < 0.8 * sups[0]


def test_the_default_norm_is_least_squares_on_the_solved_basis_only() -> None:
    solved = JobSpec.model_validate(POISSON_1D)
    assert solved.pipeline == "ls" and solved.training.norm(solved.pipeline) == "l2"
    trained = JobSpec.model_validate({**POISSON_1D, "network": {"hidden": [8]}})
    assert trained.training.norm(trained.pipeline) == "sup"


# -- solving to a tolerance ------------------------------------------------------------------


def tolerance_job(tolerance: Any, **training: Any) -> JobSpec:
    return JobSpec.model_validate(
        {
            **POISSON_1D,
            "training": {"points": {"interior": 64, "boundary": 8}, "tolerance": tolerance, **training},
        }
    )


def rms_error(model: Any) -> float:
    problem = problem_of(model.spec.problem)
    x = torch.linspace(0, 1, 4001, dtype=F64).unsqueeze(1)
    exact = problem.exact_values(x)
    assert exact is not None
    return float((model.network(x)[:, 0].detach() - exact[0]).square().mean().sqrt())


def test_a_tolerance_stops_on_the_bound_and_the_model_meets_it() -> None:
    model = solve(tolerance_job(0.05))
    found = model.metrics["tolerance"]
    assert found["met"] is True and found["stopped_by"] == "bound"
    assert found["bound"] <= 0.05 and found["width"] == found["history"][-1]["width"]
    assert rms_error(model) <= found["bound"]  # a promise that holds, not only a claim


def test_a_tolerance_grows_the_width_until_a_bound_meets_it() -> None:
    loose = solve(tolerance_job(0.05)).metrics["tolerance"]
    tight = solve(tolerance_job(loose["history"][0]["bound"] / 4)).metrics["tolerance"]
    widths = [entry["width"] for entry in tight["history"]]
    assert len(widths) >= 2 and widths == sorted(widths) and widths[1] == 2 * widths[0]
    assert tight["met"] is (tight["stopped_by"] == "bound")


def test_a_tolerance_stops_on_the_time_limit() -> None:
    found = solve(tolerance_job(1e-12, time_limit_s=1e-3)).metrics["tolerance"]
    assert found["met"] is False and found["stopped_by"] == "time_limit"
    assert len(found["history"]) == 1


def test_a_quantity_without_a_promise_says_so() -> None:
    found = solve(tolerance_job({"quantity": "max_abs_error", "value": 1e-3})).metrics["tolerance"]
    assert found["stopped_by"] == "no_bound" and found["met"] is False and found["bound"] is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"training": {"tolerance": 0}}, "greater than 0"),
        ({"training": {"tolerance": {"quantity": "rms_error", "value": -1.0}}}, "greater than 0"),
        ({"training": {"tolerance": 1e-3}, "network": {"hidden": [32]}}, "remove network.hidden"),
        ({"training": {"tolerance": 1e-3, "optimizer": "adam"}}, "set optimizer to 'auto' or 'ls'"),
    ],
)
def test_a_bad_tolerance_is_refused_with_what_to_change(change: dict[str, Any], message: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        JobSpec.model_validate({**POISSON_1D, **change})
