"""Periodic conditions (solver.periodic, models.EmbeddedNetwork): exact by construction.

For any weights, u and grad u agree on the two faces of a periodic axis; the embedded
inputs are the two triangle waves; the delivered model is a plain ReLU network with the
same values; and each misuse gets one clear message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from models import ReLUNetwork
from solver import JobSpec, solve
from solver.kinds import problem_of
from solver.periodic import feature_map, periodic_network
from tests.solver.spec_messages import one_message

F64 = torch.float64
ROOT = Path(__file__).resolve().parents[2]


def _triangle(s: torch.Tensor, shift: float) -> torch.Tensor:
    return (2 * torch.remainder(s - shift, 1.0) - 1).abs()


@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_the_embedded_inputs_are_the_two_triangle_waves(alpha: float) -> None:
    a, b, c, d = feature_map(2, [1], alpha, F64)
    z = torch.stack([torch.linspace(-1, 1, 101, dtype=F64), torch.linspace(-1, 1, 101, dtype=F64)], 1)
    features = torch.nn.functional.leaky_relu(z @ a.T + b, alpha)
    embedded = features @ c.T + d
    s = (z[:, 1] + 1) / 2
    torch.testing.assert_close(embedded[:, 0], z[:, 0])  # the other input passes unchanged
    torch.testing.assert_close(embedded[:, 1], 2 * _triangle(s, 0.25) - 1)
    torch.testing.assert_close(embedded[:, 2], 2 * _triangle(s, 0.125) - 1)


@settings(max_examples=30, deadline=None)
@given(st.floats(-9.0, 9.0).filter(lambda g: abs(g) > 1e-3), st.sampled_from([0.0, 0.1]))
def test_sheared_waves_read_the_characteristic_coordinate(g: float, alpha: float) -> None:
    """sigma = s - g (z_0 + 1) over its whole range: periodic in s for every t, constant
    along the characteristics, and equal to the unsheared waves at the first time."""
    a, b, c, d = feature_map(2, [1], alpha, F64, {1: g})
    gen = torch.Generator().manual_seed(0)
    z = torch.rand(400, 2, dtype=F64, generator=gen) * 2 - 1
    embedded = torch.nn.functional.leaky_relu(z @ a.T + b, alpha) @ c.T + d
    sigma = (z[:, 1] + 1) / 2 - g * (z[:, 0] + 1)
    torch.testing.assert_close(embedded[:, 0], z[:, 0])
    torch.testing.assert_close(embedded[:, 1], 2 * _triangle(sigma, 0.25) - 1, rtol=0, atol=1e-11)
    torch.testing.assert_close(embedded[:, 2], 2 * _triangle(sigma, 0.125) - 1, rtol=0, atol=1e-11)


def test_convection_gets_a_shear_that_makes_the_waves_solve_it() -> None:
    """u_t + 50 u_x = 0 on [0, 2 pi] x [0, 1]: g = 50 h_t / P, and any network behind the
    sheared waves has u_t + 50 u_x = 0 where it does not use the time input."""
    data = json.loads((ROOT / "examples" / "convection-periodic.json").read_text())
    problem = problem_of(JobSpec.model_validate(data).problem)
    shear = problem.characteristic_shear()
    assert shear.keys() == {1} and shear[1] == pytest.approx(50 * 0.5 / (2 * torch.pi))
    gen = torch.Generator().manual_seed(1)
    inner = ReLUNetwork.random([3, 16, 1], dtype=F64, generator=gen, bias_scale=0.5)
    with torch.no_grad():
        inner.layers[0][0][:, 0] = 0.0  # no time dependence besides the waves'
    net = periodic_network(inner, 2, [1], shear)
    z = torch.rand(200, 2, dtype=F64, generator=gen) * 2 - 1
    _, jac = net.value_and_jacobian(z)
    half = problem.input_half
    u_t, u_x = jac[:, 0, 0] / half[0], jac[:, 0, 1] / half[1]
    torch.testing.assert_close(u_t + 50 * u_x, torch.zeros(200, dtype=F64), rtol=0, atol=1e-9)
    assert (
        problem_of(
            JobSpec.model_validate(
                {**data, "problem": {**data["problem"], "equation": "u_t + u*u_x0"}}
            ).problem
        ).characteristic_shear()
        == {}
    )


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31), st.sampled_from(["relu", "leaky_relu"]), st.sampled_from([[0], [1], [0, 1]]))
def test_u_and_its_derivative_match_on_opposite_faces(seed: int, activation: str, axes: list[int]) -> None:
    gen = torch.Generator().manual_seed(seed)
    inner = ReLUNetwork.random(
        [3 + len(axes), 12, 12, 2], activation=activation, dtype=F64, generator=gen, bias_scale=0.5
    )
    net = periodic_network(inner, 3, axes)
    z = torch.rand(64, 3, dtype=F64, generator=gen) * 2 - 1
    for axis in axes:
        low, high = z.clone(), z.clone()
        low[:, axis], high[:, axis] = -1.0, 1.0
        u_low, jac_low = net.value_and_jacobian(low)
        u_high, jac_high = net.value_and_jacobian(high)
        torch.testing.assert_close(u_low, u_high, rtol=0, atol=1e-12)
        torch.testing.assert_close(jac_low, jac_high, rtol=0, atol=1e-12)
    plain = net.plain()
    assert type(plain) is ReLUNetwork and plain.widths == net.widths
    torch.testing.assert_close(plain(z), net(z), rtol=0, atol=1e-13)
    assert sum(p.numel() for p in net.parameters()) == sum(p.numel() for p in inner.parameters())


def test_a_solved_periodic_model_is_periodic_in_physical_coordinates() -> None:
    spec: dict[str, Any] = json.loads((ROOT / "examples" / "convection-periodic.json").read_text())
    spec["network"]["hidden"] = [16, 16]
    spec["training"].update(steps=40, points={"interior": 128, "boundary": 32})
    model = solve(JobSpec.model_validate(spec))
    t = torch.linspace(0, 1, 17, dtype=F64)
    low = torch.stack([t, torch.zeros_like(t)], 1).numpy()
    high = torch.stack([t, torch.full_like(t, 6.283185307179586)], 1).numpy()
    at_low, at_high = model.evaluate(low), model.evaluate(high)
    assert abs(at_low.value - at_high.value).max() < 1e-10
    assert abs(at_low.gradient - at_high.gradient).max() < 1e-9
    assert "periodic" in json.dumps(model.estimate)  # no guaranteed bound, and why
    assert len(model.architecture["widths"]) == 5  # inputs, the feature layer, 2 hidden, output


def _with(conditions: list[dict[str, Any]], **problem: Any) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((ROOT / "examples" / "convection-periodic.json").read_text())
    spec["problem"]["conditions"] = [{"type": "initial", "value": "sin(x)"}, *conditions]
    spec["problem"].update(problem)
    return spec


@pytest.mark.parametrize(
    ("conditions", "problem", "expected"),
    [
        ([{"type": "periodic", "axis": "x1"}], {}, "names coordinate 1 but dimension is 1"),
        ([{"type": "periodic", "axis": "t"}], {}, "not a coordinate"),
        ([{"type": "periodic", "axis": "x0"}, {"type": "periodic", "axis": "x0"}], {}, "periodic twice"),
        (
            [{"type": "periodic", "axis": "x0"}, {"type": "dirichlet", "on": "x0=lower", "value": "0"}],
            {},
            "face of the periodic axis x0",
        ),
        (
            [{"type": "periodic", "axis": "x0"}, {"type": "dirichlet", "on": "boundary", "value": "0"}],
            {},
            "'boundary' includes the faces of the periodic axis x0",
        ),
        (
            [{"type": "periodic", "axis": "x0"}],
            {"domain": {"ball": {"center": [0.0], "radius": 1.0}}},
            "needs a box domain",
        ),
    ],
)
def test_misused_periodic_conditions_get_one_clearone_message(
    conditions: list[dict[str, Any]], problem: dict[str, Any], expected: str
) -> None:
    assert expected in one_message(_with(conditions, **problem))


def test_condition_terms_keep_their_place_in_the_spec() -> None:
    """A periodic condition has no term; the others keep the name of their place in the spec."""
    spec = json.loads((ROOT / "examples" / "convection-periodic.json").read_text())
    spec["problem"]["conditions"] = [
        {"type": "periodic", "axis": "x0"},
        {"type": "initial", "value": "sin(x)"},
    ]
    problem = problem_of(JobSpec.model_validate(spec).problem)
    sets = problem.sample(32, 16, seed=0, draw=0)
    assert sorted(sets) == ["condition1", "interior"]
    net = ReLUNetwork.random([2, 8, 1], dtype=F64, generator=torch.Generator().manual_seed(0))
    u, jac = net.value_and_jacobian(sets["condition1"].inputs())
    assert set(problem.residuals("condition1", sets["condition1"], u, jac)) == {
        "condition1:value",
        "condition1:gradient",
    }
