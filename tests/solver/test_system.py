"""The ``system`` kind: residuals vanish on exact solutions, one clear message per bad spec,
evaluate's shapes, errors per unknown, conditions on the unknown they name."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest
import torch

from models import ReLUNetwork
from solver import JobSpec, solve
from solver.kinds import problem_of
from tests.solver.examples import OURS
from tests.solver.spec_messages import one_message

F64 = torch.float64


def _example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((OURS / f"{name}.json").read_text())
    return data


def _exact_residuals(spec: dict[str, Any], n: int = 256) -> dict[str, float]:
    """The sup of every residual term when the unknowns are replaced by the exact solution."""
    problem = problem_of(JobSpec.model_validate(spec).problem)
    sets = problem.sample(n, n // 2, seed=3, draw=0)
    found: dict[str, float] = {}
    for name, points in sets.items():
        exact = problem.exact_outputs(points.inputs())
        assert exact is not None
        value, gradient = exact
        for term, magnitude in problem.residuals(name, points, value, gradient).items():
            found[term] = float(magnitude.max())
    return found


@pytest.mark.parametrize("name", ["burgers-1d", "kovasznay-2d"])
def test_every_residual_vanishes_on_the_exact_solution(name: str) -> None:
    found = _exact_residuals(_example(name))
    assert any(term.startswith("equation") for term in found)
    assert max(found.values()) < 1e-10, found


def test_a_wrong_solution_leaves_a_residual() -> None:
    """The check above could fail: a solution off by a factor leaves every equation unmet."""
    spec = _example("burgers-1d")
    spec["problem"]["exact"]["q"] = "-0.1/cosh(5*(x - 0.5*t))**2"  # q != nu u_x
    found = _exact_residuals(spec)
    assert found["equation0"] > 1e-2
    assert found["equation1"] > 1e-2


def test_conditions_constrain_the_unknown_they_name() -> None:
    """A Dirichlet condition on q reads output 1, not output 0."""
    spec = _example("burgers-1d")
    spec["problem"]["conditions"].append(
        {"type": "dirichlet", "unknown": "q", "on": "x0=lower", "value": "7"}
    )
    problem = problem_of(JobSpec.model_validate(spec).problem)
    sets = problem.sample(16, 8, seed=0, draw=0)
    points = sets["condition2"]
    n = points.x.shape[0]
    u = torch.stack([torch.full((n,), 7.0, dtype=F64), torch.zeros(n, dtype=F64)], 1)
    jac = torch.zeros(n, 2, 2, dtype=F64)
    assert float(problem.residuals("condition2", points, u, jac)["condition2:dirichlet"].max()) == 7.0
    assert float(problem.residuals("condition2", points, u.flip(1), jac)["condition2:dirichlet"].max()) == 0.0


def _system(**changes: Any) -> dict[str, Any]:
    spec = copy.deepcopy(_example("burgers-1d"))
    spec["problem"].update(changes)
    return spec


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"equations": ["q - 0.05*u_xx", "u_t + u*u_x0 - q_x0"]}, "'u_xx' is a second derivative"),
        ({"equations": ["q - 0.05*u_x0x0", "u_t + u*u_x0 - q_x0"]}, "'u_x0x0' is a second derivative"),
        (
            {"equations": ["q - 0.05*u_x0", "u_t + u*u_x0 - q_x0 + w"]},
            "if 'w' is an unknown, list it in 'unknowns'",
        ),
        ({"unknowns": ["u", "q", "r"]}, "unknowns.2: 'r' appears in no equation"),
        ({"unknowns": ["u", "x"]}, "unknowns.1: 'x' is a built-in name"),
        ({"unknowns": ["u", "sin"]}, "unknowns.1: 'sin' is a built-in name"),
        ({"unknowns": ["u", "u"]}, "unknowns.1: 'u' is given twice"),
        ({"unknowns": ["u", "u_t"]}, "clashes with 'u'"),
        ({"unknowns": ["u", "2q"]}, "unknowns.1: '2q' is not a name"),
        ({"unknowns": []}, "unknowns"),
        (
            {
                "conditions": [
                    {"type": "initial", "value": "0"},
                    {"type": "dirichlet", "unknown": "u", "value": "0"},
                ]
            },
            "conditions.0.unknown: a condition of a system names the unknown it constrains",
        ),
        (
            {"conditions": [{"type": "initial", "unknown": "v", "value": "0"}]},
            "conditions.0.unknown: 'v' is not an unknown",
        ),
        ({"exact": {"u": "0"}}, "exact: no expression for 'q'"),
        ({"exact": {"u": "0", "q": "0", "w": "1"}}, "exact: 'w' is not an unknown"),
        (
            {"domain": {"whole_space": {"train_radius": 1.0}}, "growth": {"kappa": 1, "constant": 1}},
            "bounded domain",
        ),
        ({"conditions": [{"type": "dirichlet", "unknown": "u", "value": "0"}]}, "needs initial data"),
    ],
)
def test_each_bad_system_spec_gets_one_clear_message(changes: dict[str, Any], expected: str) -> None:
    assert expected in one_message(_system(**changes))


def test_a_scalar_problem_names_no_unknown() -> None:
    spec = _example("poisson-2d")
    spec["problem"]["conditions"][0]["unknown"] = "u"
    assert "only a 'system' problem has named unknowns" in one_message(spec)


def test_evaluate_gives_one_column_per_unknown_and_errors_per_unknown() -> None:
    spec = _system()
    spec["training"] = {"steps": 30, "seed": 0, "points": {"interior": 64, "boundary": 32}}
    spec["network"] = {"hidden": [8, 8]}
    model = solve(JobSpec.model_validate(spec))
    points = np.array([[0.0, -0.5], [0.5, 0.25], [1.0, 0.9]])
    out = model.evaluate(points)
    assert out.value.shape == (3, 2)
    assert out.gradient.shape == (3, 2, 2)
    u, jac = model.network.value_and_jacobian(torch.from_numpy(points))
    np.testing.assert_allclose(out.value, u[:, :2].detach().numpy())
    np.testing.assert_allclose(out.gradient, jac.detach().numpy())
    assert model.unknowns == ["u", "q"]
    errors = model.errors
    assert errors is not None
    assert set(errors["u"]) == {"rel_l2", "linf", "grad_linf"}
    assert errors["linf"] == max(errors["u"]["linf"], errors["q"]["linf"])
    assert set(model.metrics["terms"]) >= {
        "equation0",
        "equation1",
        "condition0:value",
        "condition1:dirichlet",
    }


def test_a_scalar_model_keeps_its_shapes() -> None:
    spec = _example("poisson-2d")
    spec["training"] = {"steps": 5, "seed": 0, "points": {"interior": 32, "boundary": 16}}
    spec["network"] = {"hidden": [8]}
    model = solve(JobSpec.model_validate(spec))
    out = model.evaluate(np.array([[0.5, 0.5], [0.1, 0.2]]))
    assert out.value.shape == (2,)
    assert out.gradient.shape == (2, 2)
    assert model.unknowns is None


def test_first_order_as_a_system_gives_the_same_residual() -> None:
    """The transport equation written as a system of one unknown has first_order's residual."""
    scalar = _example("transport-1d")
    system = copy.deepcopy(scalar)
    problem = system["problem"]
    problem["kind"] = "system"
    problem["unknowns"] = ["u"]
    problem["equations"] = [problem.pop("equation")]
    problem["exact"] = {"u": problem["exact"]}
    for cond in problem["conditions"]:
        cond["unknown"] = "u"
    a = problem_of(JobSpec.model_validate(scalar).problem)
    b = problem_of(JobSpec.model_validate(system).problem)
    net = ReLUNetwork.random([2, 16, 1], dtype=F64, generator=torch.Generator().manual_seed(1))
    sa, sb = a.sample(64, 32, seed=0, draw=0), b.sample(64, 32, seed=0, draw=0)
    assert sorted(sa) == sorted(sb)
    for name in sa:
        u, jac = net.value_and_jacobian(sa[name].inputs())
        ra, rb = a.residuals(name, sa[name], u, jac), b.residuals(name, sb[name], u, jac)
        ra = {("equation0" if k == "pde" else k): v for k, v in ra.items()}
        assert ra.keys() == rb.keys()
        for key in ra:
            torch.testing.assert_close(ra[key], rb[key])


def test_a_periodic_condition_on_one_unknown_is_a_penalty_on_paired_face_points() -> None:
    """u periodic in x (u and grad u equal on x = 0 and x = 2 pi), q not: a penalty term on
    points of the lower face and their images on the upper face; the exact construction is
    kept for a periodic condition of every unknown."""
    spec = {
        "problem": {
            "kind": "system",
            "dimension": 1,
            "time": {"start": 0.0, "end": 1.0},
            "domain": {"box": {"lower": [0.0], "upper": [6.283185307179586]}},
            "unknowns": ["u", "q"],
            "equations": ["q - u_x0", "u_t + u_x0"],
            "conditions": [
                {"type": "initial", "unknown": "u", "value": "sin(x)"},
                {"type": "periodic", "unknown": "u", "axis": "x0"},
            ],
            "exact": {"u": "sin(x - t)", "q": "cos(x - t)"},
        }
    }
    problem = problem_of(JobSpec.model_validate(spec).problem)
    assert problem.periodic_axes == [] and problem.periodic_penalties == [("condition1", 0, 0)]
    points = problem.sample(32, 16, seed=0, draw=0)["condition1"]
    assert points.x.shape == (32, 1)
    assert torch.all(points.x[:16, 0] == 0.0) and torch.allclose(
        points.x[16:, 0], torch.full((16,), 2 * torch.pi, dtype=F64)
    )
    exact = problem.exact_outputs(points.inputs())
    assert exact is not None
    found = problem.residuals("condition1", points, *exact)
    assert set(found) == {"condition1:periodic", "condition1:periodic_gradient"}
    assert max(float(v.max()) for v in found.values()) < 1e-12
    u, jac = exact
    u = u.clone()
    u[:, 0] = points.x[:, 0]  # u = x is not periodic
    assert float(problem.residuals("condition1", points, u, jac)["condition1:periodic"].min()) > 6.0
    model = solve(
        JobSpec.model_validate(
            {
                **spec,
                "network": {"hidden": [8]},
                "training": {"steps": 5, "points": {"interior": 32, "boundary": 8}},
            }
        )
    )
    assert "condition1:periodic" in model.metrics["terms"]
    everyone = copy.deepcopy(spec)
    del everyone["problem"]["conditions"][1]["unknown"]
    assert problem_of(JobSpec.model_validate(everyone).problem).periodic_axes == [0]
