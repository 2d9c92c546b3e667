"""Residuals vanish on exact solutions: matrix diffusion, drift, reaction, Neumann, Dirichlet."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from solver import JobSpec
from solver.kinds import problem_of
from solver.problems import PDEProblem

ROOT = Path(__file__).resolve().parents[2]

F64 = torch.float64


def test_divergence_form_residuals_vanish_on_the_exact_solution() -> None:
    """u = x^2 + xy, K = diag(2, 1), b = (1, x), c = 1:
    -div(K grad u) + b . grad u + c u = -4 + (2x + y) + x^2 + (x^2 + xy)."""
    spec = JobSpec.model_validate(
        {
            "problem": {
                "kind": "divergence_form",
                "dimension": 2,
                "domain": {"box": {"lower": [0.0, 0.0], "upper": [1.0, 1.0]}},
                "diffusion": [["2", "0"], ["0", "1"]],
                "drift": ["1", "x"],
                "reaction": "1",
                "source": "-4 + 2*x + y + x*x + x*x + x*y",
                "conditions": [
                    {"type": "neumann", "on": "x0=upper", "value": "2 + y"},
                    {"type": "dirichlet", "on": "boundary", "value": "x*x + x*y"},
                ],
            }
        }
    )
    problem = problem_of(spec.problem)
    sets = problem.sample(256, 64, seed=0, draw=0)

    def exact(points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = points[:, 0], points[:, 1]
        u = torch.stack([x * x + x * y, 4 * x + 2 * y, x], 1)
        jac = torch.zeros(points.shape[0], 3, 2, dtype=F64)
        jac[:, 0, 0], jac[:, 0, 1] = 2 * x + y, x
        jac[:, 1, 0], jac[:, 1, 1] = 4.0, 2.0
        jac[:, 2, 0] = 1.0
        return u, jac

    for name, points in sets.items():
        u, jac = exact(points.x)
        for term, magnitude in problem.residuals(name, points, u, jac).items():
            assert float(magnitude.max()) < 1e-12, term
    # and a wrong solution is noticed by every interior term
    u, jac = exact(sets["interior"].x)
    u = u + 0.1
    jac[:, 1, 0] += 0.5
    found = problem.residuals("interior", sets["interior"], u, jac)
    assert float(found["flux"].min()) > 0 and float(found["balance"].min()) > 0


def _transport(initial: str) -> PDEProblem:
    spec = JobSpec.model_validate(
        {
            "problem": {
                "kind": "first_order",
                "dimension": 1,
                "time": {"start": 0.0, "end": 1.0},
                "domain": {"box": {"lower": [-2.0], "upper": [2.0]}},
                "equation": "u_t + u_x0",
                "conditions": [
                    {"type": "initial", "value": initial},
                    {"type": "dirichlet", "on": "x0=lower", "value": "0"},
                ],
            }
        }
    )
    return problem_of(spec.problem)


def test_the_sobolev_initial_term_is_kept_for_smooth_data_only() -> None:
    """A kink in u0 makes its gradient jump: the |grad u - grad u0| term would be at least
    half the jump there, so it is dropped for non-smooth initial data."""
    for initial, has_gradient_term in (("sin(x0)", True), ("max(0, 1 - abs(2*x0))", False)):
        problem = _transport(initial)
        points = problem.sample(64, 16, seed=0, draw=0)["condition0"]
        n = points.x.shape[0]
        terms = problem.residuals(
            "condition0",
            points,
            torch.zeros(n, 1, dtype=torch.float64),
            torch.zeros(n, 1, 2, dtype=torch.float64),
        )
        assert ("condition0:gradient" in terms) is has_gradient_term


def test_the_initial_flux_term_of_a_divergence_form_problem() -> None:
    """u_t - div(K grad u) = f with u(0) = g: at t = 0 the flux output must equal K grad g.
    u = e^(-t) (x^2 + x y), K = diag(2, 1): the term vanishes on (u, sigma = K grad u) and
    measures |sigma - K grad g| exactly when sigma is off."""
    spec = JobSpec.model_validate(
        {
            "problem": {
                "kind": "divergence_form",
                "dimension": 2,
                "time": {"start": 0.0, "end": 1.0},
                "domain": {"box": {"lower": [0.0, 0.0], "upper": [1.0, 1.0]}},
                "diffusion": [["2", "0"], ["0", "1"]],
                "source": "-exp(-t)*(x*x + x*y) - exp(-t)*4",
                "conditions": [
                    {"type": "initial", "value": "x*x + x*y"},
                    {"type": "dirichlet", "on": "boundary", "value": "exp(-t)*(x*x + x*y)"},
                ],
            }
        }
    )
    problem = problem_of(spec.problem)
    points = problem.sample(64, 128, seed=0, draw=0)["condition0"]
    x, y = points.x[:, 0], points.x[:, 1]
    n = x.shape[0]
    u = torch.stack([x * x + x * y, 2 * (2 * x + y), x], 1)
    jac = torch.zeros(n, 3, 3, dtype=F64)
    jac[:, 0, 1], jac[:, 0, 2] = 2 * x + y, x
    terms = problem.residuals("condition0", points, u, jac)
    assert set(terms) == {"condition0:value", "condition0:gradient", "condition0:flux"}
    assert all(float(m.max()) < 1e-12 for m in terms.values())
    u[:, 1] += 0.3
    u[:, 2] -= 0.4
    off = problem.residuals("condition0", points, u, jac)["condition0:flux"]
    assert torch.allclose(off, torch.full_like(off, 0.5), atol=1e-12)


def test_a_diffusion_that_depends_on_u_vanishes_on_the_exact_solution() -> None:
    """examples/nonlinear-diffusion-2d.json: -div((1 + u^2) grad u) = f, u = sin(pi x) sin(pi y);
    the flux residual |sigma - K(u) grad u| reads K at the network's u."""
    spec = JobSpec.model_validate(json.loads((ROOT / "examples" / "nonlinear-diffusion-2d.json").read_text()))
    problem = problem_of(spec.problem)
    points = problem.sample(256, 64, seed=0, draw=0)["interior"]
    x = points.x.clone().requires_grad_(True)
    u = torch.sin(math.pi * x[:, 0]) * torch.sin(math.pi * x[:, 1])
    (grad,) = torch.autograd.grad(u.sum(), x, create_graph=True)
    sigma = (1 + u**2).unsqueeze(1) * grad
    rows = [torch.autograd.grad(sigma[:, i].sum(), x, retain_graph=True)[0] for i in range(2)]
    out = torch.stack([u, sigma[:, 0], sigma[:, 1]], 1).detach()
    jac = torch.stack([grad.detach(), *rows], 1)
    found = problem.residuals("interior", points, out, jac)
    assert float(found["flux"].max()) < 1e-12 and float(found["balance"].max()) < 1e-10
    # the linear diffusion K = 1 is not the same equation: the flux term notices
    wrong = out.clone()
    wrong[:, 1:] = grad.detach()
    assert float(problem.residuals("interior", points, wrong, jac)["flux"].max()) > 0.1


def test_a_diffusion_in_u_is_checked_positive_at_sample_values_of_u() -> None:
    spec = json.loads((ROOT / "examples" / "nonlinear-diffusion-2d.json").read_text())
    spec["problem"]["diffusion"] = "u"
    with pytest.raises(ValueError, match=r"diffusion: it must be positive.*u = -1"):
        JobSpec.model_validate(spec)
