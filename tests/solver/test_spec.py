"""The job spec: the examples validate as they are; bad specs are refused with useful errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from solver import JobSpec
from solver.spec import DivergenceForm, NetworkSpec
from solver.spec_errors import format_errors, friendly_errors

from .examples import EXAMPLES, OURS, SHARED


def example(name: str) -> dict[str, Any]:
    path = next(p for p in EXAMPLES if p.stem == name)
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_validates_as_it_is(path: Path) -> None:
    spec = JobSpec.model_validate_json(path.read_text())
    assert spec.problem.dimension >= 1
    assert JobSpec.model_validate(spec.model_dump(mode="json")) == spec


def refused(data: dict[str, Any]) -> str:
    """The refusal as the user reads it: one ``field: message`` line per mistake."""
    with pytest.raises(ValidationError) as info:
        JobSpec.model_validate(data)
    return format_errors(info.value.errors())


def test_unknown_fields_are_refused_with_their_path() -> None:
    data = example("poisson-2d")
    data["training"]["learning_rat"] = 0.1
    assert "training.learning_rat" in refused(data)
    data = example("poisson-2d")
    data["problem"]["sourse"] = "1"
    assert "sourse" in refused(data)


def test_nan_infinity_and_caps() -> None:
    text = json.dumps(example("poisson-2d")).replace('"lower": [0.0, 0.0]', '"lower": [NaN, 0.0]')
    with pytest.raises(ValidationError, match="finite"):
        JobSpec.model_validate_json(text)
    data = example("poisson-2d")
    data["network"]["hidden"] = [5000]
    assert "less than or equal to 4096" in refused(data)
    data = example("poisson-2d")
    data["problem"]["dimension"] = 1001
    assert "1000" in refused(data)


def test_kind_specific_rules_name_what_to_change() -> None:
    data = example("heat-kolmogorov-5d")
    data["problem"]["domain"] = {"box": {"lower": [0.0] * 5, "upper": [1.0] * 5}}
    assert "whole_space" in refused(data)
    data = example("heat-kolmogorov-5d")
    del data["problem"]["growth"]
    assert "growth" in refused(data)
    data = example("poisson-2d")
    data["problem"]["dimension"] = 3
    assert "dimension is 3" in refused(data)
    data = example("transport-1d")
    data["problem"]["conditions"][1]["on"] = "x4=lower"
    assert "dimension is 1" in refused(data)
    data = example("poisson-2d")
    data["problem"]["conditions"].append({"type": "initial", "value": "0"})
    assert "needs problem.time" in refused(data)


def test_bad_expressions_name_the_field_token_and_position() -> None:
    data = example("poisson-2d")
    data["problem"]["source"] = "2*pi**2*sin(pi*q)"
    message = refused(data)
    assert "source" in message and "'q'" in message and "position 15" in message
    data = copy.deepcopy(example("eikonal-2d"))
    data["problem"]["equation"] = "norm(grad_u) - __import__('os')"
    assert "equation" in refused(data)


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/examples is not beside this checkout")
def test_the_repository_copies_of_the_examples_are_identical() -> None:
    shared = sorted(p.name for p in SHARED.glob("*.json"))
    assert shared == sorted(p.name for p in OURS.glob("*.json"))
    for name in shared:
        assert (OURS / name).read_text() == (SHARED / name).read_text()


def test_every_spec_in_the_repository_validates() -> None:
    """examples/ and its subfolders (extra/, peers/): the specs the benches and tests use."""
    paths = sorted(OURS.rglob("*.json"))
    assert len(paths) >= 10
    for path in paths:
        spec = JobSpec.model_validate(json.loads(path.read_text()))
        assert spec.problem.exact is not None, f"{path.name} has no exact solution"


def test_a_spec_that_would_not_train_is_refused() -> None:
    problem = {
        "kind": "first_order",
        "dimension": 1,
        "domain": {"box": {"lower": [0.0], "upper": [1.0]}},
        "equation": "u_x0 - 1",
        "conditions": [{"type": "dirichlet", "on": "x0=lower", "value": "0"}],
    }
    with pytest.raises(ValidationError, match=r"training.steps is 0 and no L-BFGS steps follow"):
        JobSpec.model_validate({"problem": problem, "training": {"steps": 0}})
    lbfgs_only = {"steps": 0, "optimizer": "adam+lbfgs", "lbfgs_steps": 20}
    assert JobSpec.model_validate({"problem": problem, "training": lbfgs_only}).training.steps == 0


def _mistakes(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as info:
        JobSpec.model_validate(data)
    return [(d["field"], d["message"]) for d in friendly_errors(info.value.errors())]


def test_each_mistake_is_one_error_at_its_path_in_the_spec() -> None:
    data = example("poisson-2d")
    data["problem"]["domain"] = {"ball": {"center": [0.0, 0.0], "radius": -1.0}}
    ((field, message),) = _mistakes(data)
    assert field == "problem.domain.ball.radius" and "greater than 0" in message
    data = example("poisson-2d")
    data["problem"]["conditions"][0]["value"] = "sin(pi*xx)"
    ((field, message),) = _mistakes(data)
    assert field == "problem.conditions.0.value" and message.startswith("unknown name (did you mean 'x'?)")
    data = example("poisson-2d")
    data["problem"]["domain"] = {"box": data["problem"]["domain"]["box"], "ball": {}}
    ((field, message),) = _mistakes(data)
    assert field == "problem.domain" and "exactly one key" in message
    data = example("poisson-2d")
    data["problem"]["sourse"] = "1"
    data["network"]["hiden"] = [8]
    assert _mistakes(data) == [
        ("problem.sourse", _unknown("sourse", "source", DivergenceForm)),
        ("network.hiden", _unknown("hiden", "hidden", NetworkSpec)),
    ]


def _unknown(key: str, close: str, model: type[BaseModel]) -> str:
    return f"unknown field {key!r} (did you mean {close!r}?); allowed here: {', '.join(model.model_fields)}"


def _first_order(equation: str, conditions: list[dict[str, Any]], time: bool = True) -> dict[str, Any]:
    problem: dict[str, Any] = {
        "kind": "first_order",
        "dimension": 1,
        "domain": {"box": {"lower": [0.0], "upper": [1.0]}},
        "equation": equation,
        "conditions": conditions,
    }
    if time:
        problem["time"] = {"start": 0.0, "end": 1.0}
    return {"problem": problem}


INITIAL = {"type": "initial", "value": "sin(x0)"}
INFLOW = {"type": "dirichlet", "on": "x0=lower", "value": "0"}


def test_a_problem_without_the_data_its_equation_needs_is_refused() -> None:
    ((field, message),) = _mistakes(_first_order("u_t + u_x0", [INFLOW]))
    assert field == "problem.conditions" and "needs initial data" in message
    ((field, message),) = _mistakes(_first_order("u_t + u_x0", [INITIAL]))
    assert field == "problem.conditions" and "needs boundary data" in message
    ((field, message),) = _mistakes(_first_order("abs(u_x0) - 1", [], time=False))
    assert "needs boundary data" in message
    # an equation without space derivatives needs no boundary data; without u_t no initial data
    JobSpec.model_validate(_first_order("u_t - x0", [INITIAL]))
    JobSpec.model_validate(_first_order("u - sin(x0) - t", []))
    data = example("poisson-2d")
    data["problem"]["conditions"] = []
    ((field, message),) = _mistakes(data)
    assert field == "problem.conditions" and "needs boundary data" in message
    data = example("heat-2d")
    data["problem"]["conditions"] = [c for c in data["problem"]["conditions"] if c["type"] != "initial"]
    ((field, message),) = _mistakes(data)
    assert field == "problem.conditions" and "needs initial data" in message


@pytest.mark.parametrize(
    ("diffusion", "says"),
    [
        ("-1", "must be positive on the domain, but it is -1 at x = ("),
        ("x", "must be positive on the domain, but it is 0 at x = (0, 0)"),
        ([["1", "2"], ["2", "1"]], "smallest eigenvalue is -1 at x = ("),
        ([["1", "0"], ["0", "y - 0.5"]], "smallest eigenvalue is -0.5 at x = (0, 0)"),
    ],
)
def test_a_diffusion_that_is_not_positive_is_refused_at_a_point(diffusion: Any, says: str) -> None:
    data = example("poisson-2d")
    data["problem"]["diffusion"] = diffusion
    ((field, message),) = _mistakes(data)
    assert field == "problem.diffusion" and says in message


def test_a_positive_definite_diffusion_is_accepted() -> None:
    data = example("poisson-2d")
    for diffusion in ("1 + x*x", [["2", "1"], ["-1", "2"]], [["1 + y", "0"], ["0", "1"]]):
        data["problem"]["diffusion"] = diffusion  # the second is not symmetric; its symmetric part is 2 I
        JobSpec.model_validate(data)


def test_an_empty_time_interval_and_faces_the_domain_lacks_are_refused() -> None:
    data = example("heat-2d")
    data["problem"]["time"] = {"start": 0.5, "end": 0.5}
    ((field, message),) = _mistakes(data)
    assert field == "problem.time" and "time.end (0.5) must be greater than time.start (0.5)" in message
    data = example("poisson-2d")
    data["problem"]["domain"] = {"ball": {"center": [0.0, 0.0], "radius": 1.0}}
    data["problem"]["conditions"] = [{"type": "dirichlet", "on": "x0=lower", "value": "0"}]
    ((field, message),) = _mistakes(data)
    assert field == "problem.conditions.0.on" and "'x0=lower' is not a boundary part" in message
    data = example("transport-1d")
    data["problem"]["conditions"][1]["on"] = "x3=upper"
    ((field, message),) = _mistakes(data)
    assert field == "problem.conditions.1.on" and "names coordinate 3 but dimension is 1" in message
