"""Feynman-Kac targets: exact simulation and Euler-Maruyama with pathwise gradients."""

from __future__ import annotations

import math
from typing import Any

import torch

from solver import JobSpec
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
    return PDEProblem(JobSpec.model_validate(data).problem)


def test_heat_targets_are_unbiased_with_exact_gradient() -> None:
    """phi = |x|^2, sigma = sqrt(2): u = |x|^2 + 2 d t, grad u = 2x (pathwise: 2 X_t, mean 2x)."""
    p = problem(volatility="sqrt(2)", initial="dot(x_vec, x_vec)")
    assert p.exact_simulation
    n = 20000
    x = torch.tensor([[0.5, -1.0]], dtype=F64).repeat(n, 1)
    t = torch.full((n,), 0.7, dtype=F64)
    value, grad = p.feynman_kac(t, x, seed=1)
    assert abs(float(value.mean()) - (1.25 + 4 * 0.7)) < 0.03
    torch.testing.assert_close(grad.mean(0), torch.tensor([1.0, -2.0], dtype=F64), atol=0.03, rtol=0)


def test_euler_maruyama_for_state_dependent_drift() -> None:
    """dX = -X dt + dW, phi = x0: u = x0 e^{-t}, d u / d x0 = e^{-t} (32 Euler steps: O(dt) bias)."""
    p = problem(drift=["-x0", "-x1"], volatility="1", initial="x0")
    assert not p.exact_simulation
    n = 4000
    x = torch.tensor([[1.5, 0.3]], dtype=F64).repeat(n, 1)
    t = torch.full((n,), 1.0, dtype=F64)
    value, grad = p.feynman_kac(t, x, seed=2)
    exact = 1.5 * math.exp(-1.0)
    assert abs(float(value.mean()) - exact) < 0.02
    # the pathwise derivative of the Euler map is (1 - dt)^32 exactly, noise or not
    torch.testing.assert_close(grad[:, 0], torch.full((n,), (1 - 1 / 32) ** 32, dtype=F64))
    torch.testing.assert_close(grad[:, 1], torch.zeros(n, dtype=F64))
