"""Feynman-Kac targets: exact simulation and Euler-Maruyama with pathwise gradients."""

from __future__ import annotations

import math
from typing import Any

import torch

from solver import JobSpec
from solver.kinds import problem_of
from solver.problems import PDEProblem

F64 = torch.float64


def problem(**fields: Any) -> PDEProblem:
    data = {
        "problem": {
            "kind": "kolmogorov",
            "dimension": 2,
            "time": {"start": 0.0, "end": 1.0},
            "domain": {"whole_space": {"train_radius": 2.0}},
            "growth": {"kappa": 1, "constant": 10.0},
            **fields,
        }
    }
    return problem_of(JobSpec.model_validate(data).problem)


def standard_error(samples: torch.Tensor) -> float:
    """The standard error of the mean of i.i.d. samples."""
    return float(samples.std() / math.sqrt(samples.numel()))


def test_heat_targets_are_unbiased_with_exact_gradient() -> None:
    """phi = |x|^2, sigma = sqrt(2): u = |x|^2 + 2 d t, grad u = 2x (pathwise: 2 X_t, mean 2x)."""
    p = problem(volatility="sqrt(2)", initial="dot(x_vec, x_vec)")
    assert p.exact_simulation
    n = 20000
    x = torch.tensor([[0.5, -1.0]], dtype=F64).repeat(n, 1)
    t = torch.full((n,), 0.7, dtype=F64)
    value, grad = p.feynman_kac(t, x, seed=1)
    # Within 5 standard errors of the estimate (per-point averages are i.i.d.).
    assert abs(float(value.mean()) - (1.25 + 4 * 0.7)) < 5 * standard_error(value)
    for axis, want in enumerate((1.0, -2.0)):
        assert abs(float(grad[:, axis].mean()) - want) < 5 * standard_error(grad[:, axis])


def test_euler_maruyama_for_state_dependent_drift() -> None:
    """dX = -X dt + dW, phi = x0: u = x0 e^{-t}, d u / d x0 = e^{-t} (32 Euler steps: O(dt) bias)."""
    p = problem(drift=["-x0", "-x1"], volatility="1", initial="x0")
    assert not p.exact_simulation
    n = 4000
    x = torch.tensor([[1.5, 0.3]], dtype=F64).repeat(n, 1)
    t = torch.full((n,), 1.0, dtype=F64)
    value, grad = p.feynman_kac(t, x, seed=2)
    # Linear drift and phi: every antithetic pair averages to the Euler mean 1.5 (1 - dt)^32
    # exactly (the O(dt) bias against 1.5 e^-1 is the scheme's, and it is all there is).
    torch.testing.assert_close(
        value, torch.full((n,), 1.5 * (1 - 1 / 32) ** 32, dtype=F64), rtol=1e-12, atol=0
    )
    assert abs(float(value.mean()) - 1.5 * math.exp(-1.0)) < 0.01
    # the pathwise derivative of the Euler map is (1 - dt)^32 exactly, noise or not
    torch.testing.assert_close(grad[:, 0], torch.full((n,), (1 - 1 / 32) ** 32, dtype=F64))
    torch.testing.assert_close(grad[:, 1], torch.zeros(n, dtype=F64))


def test_euler_maruyama_evaluates_the_volatility_along_the_path() -> None:
    """dX0 = s X0 dW0, phi = x0^2: each Euler step multiplies E[X0^2] by 1 + s^2 dt, so
    E[phi(X_T)] = x0^2 (1 + s^2 T/32)^32 and the pathwise gradient has mean 2 x0 (1 + s^2 T/32)^32.
    A volatility frozen at the start point would give x0^2 (1 + s^2 T) instead."""
    s, x0, horizon = 0.8, 1.2, 1.0
    p = problem(volatility=f"{s}*x0", initial="x0*x0")
    assert not p.exact_simulation
    n = 3000
    x = torch.tensor([[x0, -0.4]], dtype=F64).repeat(n, 1)
    t = torch.full((n,), horizon, dtype=F64)
    value, grad = p.feynman_kac(t, x, seed=5)
    growth = (1 + s * s * horizon / 32) ** 32
    error = standard_error(value)
    assert abs(float(value.mean()) - x0 * x0 * growth) < 5 * error
    assert abs(float(grad[:, 0].mean()) - 2 * x0 * growth) < 5 * standard_error(grad[:, 0])
    torch.testing.assert_close(grad[:, 1], torch.zeros(n, dtype=F64))
    frozen = x0 * x0 * (1 + s * s * horizon)
    assert abs(frozen - x0 * x0 * growth) > 30 * error  # the test can tell the two apart


def test_time_dependent_coefficients_are_taken_at_t_minus_s() -> None:
    """u_t = (t + x0) u_x0, u(0) = x0: u(t, x) = E[X_t] with dX_s = (t - s + X_s) ds, so
    u(1, 0) = e (1 - 1) + 1 = 1 (Euler, 32 steps: 1 + O(dt)); coefficients taken at the forward
    time s would give e - 2 = 0.718 instead."""
    p = problem(drift=["t + x0", "0"], volatility="1e-9", initial="x0")
    n = 8
    x = torch.zeros(n, 2, dtype=F64)
    t = torch.ones(n, dtype=F64)
    value, _ = p.feynman_kac(t, x, seed=3)
    state, dt = 0.0, 1.0 / 32  # the Euler scheme's value, by its recurrence
    for k in range(32):
        state = state + (1.0 - k * dt + state) * dt
    euler = state
    torch.testing.assert_close(value, torch.full((n,), euler, dtype=F64), rtol=1e-6, atol=1e-6)
    assert abs(euler - 1.0) < 0.05 and abs(euler - (math.e - 2)) > 0.2
