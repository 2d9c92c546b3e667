"""Features laid along the characteristics of a linear transport problem: the test that says
which equations are linear transport, the directions it gives the features, and the solve
it makes possible (a 1-D transport to 1e-4 with a few hundred features)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from models import ReLUNetwork
from solver import JobSpec, solve
from solver.basis import ALIGNED_FRACTION, place_features
from solver.expressions import equation_names, parse
from solver.linearity import transport_velocity

F64 = torch.float64
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

TRANSPORT: dict[str, Any] = {
    "problem": {
        "kind": "first_order",
        "dimension": 1,
        "time": {"start": 0.0, "end": 1.0},
        "domain": {"box": {"lower": [0.0], "upper": [2.0]}},
        "equation": "u_t + 0.5*u_x0",
        "conditions": [
            {"type": "initial", "value": "sin(pi*x)"},
            {"type": "dirichlet", "on": "x0=lower", "value": "sin(-0.5*pi*t)"},
        ],
        "exact": "sin(pi*(x - 0.5*t))",
    },
}


def velocity(equation: str, d: int = 1) -> torch.Tensor | None:
    gen = torch.Generator().manual_seed(3)
    t = torch.rand(16, dtype=F64, generator=gen)
    x = torch.rand(16, d, dtype=F64, generator=gen)
    return transport_velocity(parse(equation, equation_names(d, True)), d, t, x)


def test_a_linear_transport_gives_its_characteristic_direction() -> None:
    v = velocity("u_t + (1 + x0)*u_x0 + 0.3*u - sin(t)")
    assert v is not None
    assert torch.allclose(v[:, 0], torch.ones(16, dtype=F64))
    assert not torch.allclose(v[:, 1], v[:1, 1].expand(16))  # the speed 1 + x varies


@pytest.mark.parametrize("equation", ["u_t + u*u_x0", "u_t + u_x0**2/2", "u_t + norm(grad_u)", "u - sin(x0)"])
def test_an_equation_whose_characteristics_depend_on_u_is_not_linear_transport(equation: str) -> None:
    assert velocity(equation) is None


def test_the_spec_knows_which_first_order_problems_get_the_solved_basis() -> None:
    transport = JobSpec.model_validate(TRANSPORT)
    assert transport.problem.transport and transport.solved_basis and transport.pipeline == "ls"
    burgers = JobSpec.model_validate({"problem": {**TRANSPORT["problem"], "equation": "u_t + u*u_x0"}})
    assert not burgers.problem.transport and not burgers.solved_basis
    eikonal = json.loads((EXAMPLES / "eikonal-2d.json").read_text())
    del eikonal["network"]
    assert not JobSpec.model_validate(eikonal).solved_basis  # stationary: no characteristics here


def test_in_two_dimensions_only_a_periodic_constant_speed_transport_gets_the_solved_basis() -> None:
    periodic = json.loads((EXAMPLES / "extra" / "periodic-transport-2d.json").read_text())
    del periodic["network"]
    spec = JobSpec.model_validate(periodic)
    assert spec.problem.periodic_transport and spec.solved_basis and spec.hidden == [3200]
    on_a_box = {
        **periodic,
        "problem": {
            **periodic["problem"],
            "conditions": [
                periodic["problem"]["conditions"][0],
                {"type": "dirichlet", "on": "boundary", "value": "sin(x - t)*cos(y - 0.5*t)"},
            ],
        },
    }
    assert not JobSpec.model_validate(on_a_box).solved_basis
    varying = {
        **periodic,
        "problem": {**periodic["problem"], "equation": "u_t + (2 + sin(y))*u_x0 + 0.5*u_x1"},
    }
    varying_spec = JobSpec.model_validate(varying)
    assert varying_spec.problem.transport and not varying_spec.problem.periodic_transport
    assert not varying_spec.solved_basis


def test_aligned_features_are_constant_along_the_characteristic() -> None:
    net = ReLUNetwork.random([3, 200, 1], dtype=F64)
    speed = torch.tensor([1.0, 0.5, -2.0], dtype=F64)
    place_features(net, seed=4, velocity=lambda z: speed.expand(z.shape[0], 3))
    a = net.layers[0][0].detach()
    aligned = round(ALIGNED_FRACTION * 200)
    assert float((a[:aligned] @ speed).abs().max()) < 1e-12
    assert float((a[aligned:] @ speed).abs().min()) > 0  # the rest keep random directions
    torch.testing.assert_close(a.norm(dim=1), torch.ones(200, dtype=F64))


def test_a_transport_solve_on_aligned_features_is_accurate() -> None:
    """300 features, 90 % of them along x - t/2: far below the 3 x 64 network's 1e-2."""
    spec = JobSpec.model_validate(
        {**TRANSPORT, "network": {"hidden": [300]}, "training": {"optimizer": "ls", "seed": 1}}
    )
    model = solve(spec)
    assert model.errors is not None
    assert model.errors["rel_l2"] < 5e-3, model.errors
    random = solve(
        JobSpec.model_validate(
            {
                "problem": {**TRANSPORT["problem"], "equation": "u_t + 0.5*u_x0 + 1e-9*u_x0**2"},
                "network": {"hidden": [300]},
                "training": {"optimizer": "ls", "seed": 1},
            }
        )
    )  # nearly the same problem, but not linear: random directions
    assert random.errors is not None
    assert model.errors["rel_l2"] < random.errors["rel_l2"] / 5, (model.errors, random.errors)


def test_a_periodic_transport_faster_than_its_domain_is_solved() -> None:
    """u_t + 20 u_x = 0, periodic in x: three periods pass in t.  The sheared embedding
    (solver.periodic) lets 300 features follow the characteristics; a 3 x 64 network could
    not resolve convection-periodic at all (rel L2 1.0)."""
    spec = JobSpec.model_validate(
        {
            "problem": {
                "kind": "first_order",
                "dimension": 1,
                "time": {"start": 0.0, "end": 1.0},
                "domain": {"box": {"lower": [0.0], "upper": [6.283185307179586]}},
                "equation": "u_t + 20*u_x0",
                "conditions": [{"type": "initial", "value": "sin(x)"}, {"type": "periodic", "axis": "x0"}],
                "exact": "sin(x - 20*t)",
            },
            "network": {"hidden": [300]},
            "training": {"optimizer": "ls", "seed": 0},
        }
    )
    model = solve(spec)
    assert model.errors is not None
    assert model.errors["rel_l2"] < 1e-2, model.errors
