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
    """Every example of the contract has an identical copy in examples/ (which also holds the
    examples added since: lshape-poisson, ...)."""
    shared = sorted(p.name for p in SHARED.glob("*.json"))
    assert set(shared) <= {p.name for p in OURS.glob("*.json")}
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


def _on_square(**problem: Any) -> dict[str, Any]:
    """poisson-2d on [-1, 1]^2 with some fields replaced."""
    data = example("poisson-2d")
    data["problem"]["domain"] = {"box": {"lower": [-1.0, -1.0], "upper": [1.0, 1.0]}}
    data["problem"].update(problem)
    return data


def _kolmogorov(**problem: Any) -> dict[str, Any]:
    data = example("heat-kolmogorov-5d")
    data["problem"].update(problem)
    return data


def _volatility(entry: str) -> list[list[str]]:
    rows = [["1" if i == j else "0" for j in range(5)] for i in range(5)]
    rows[2][3] = entry
    return rows


def _heat(initial: str) -> dict[str, Any]:
    data = example("heat-2d")
    data["problem"]["conditions"] = [
        {**c, "value": initial} if c["type"] == "initial" else c for c in data["problem"]["conditions"]
    ]
    return data


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        (_on_square(source="log(x)"), "problem.source", "log(x) is not finite at x = (-1, -1) (value nan)"),
        (_on_square(exact="1/(x*y)"), "problem.exact", "1/(x*y) is not finite at x = (0, 0) (value inf)"),
        (
            _on_square(reaction="exp(1000*y)"),
            "problem.reaction",
            "exp(1000*y) is not finite at x = (1, 1) (value inf)",
        ),
        (
            _on_square(drift=["1", "log(y + 1)"]),
            "problem.drift.1",
            "log(y + 1) is not finite at x = (-1, -1) (value -inf)",
        ),
        (_on_square(diffusion="1/x"), "problem.diffusion", "1/x is not finite at x = (0, 0) (value inf)"),
        (
            _on_square(diffusion=[["1", "0"], ["0", "sqrt(x)"]]),
            "problem.diffusion.1.1",
            "sqrt(x) is not finite at x = (-1, -1) (value nan)",
        ),
        (
            _on_square(conditions=[{"type": "dirichlet", "value": "log(1 - x)"}]),
            "problem.conditions.0.value",
            "log(1 - x) is not finite at x = (1, 1) (value -inf)",
        ),
        (
            _heat("log(x)"),
            "problem.conditions.0.value",
            "log(x) is not finite at x = (0, 0), t = 0 (value -inf)",
        ),
        (
            _kolmogorov(initial="log(x0)"),
            "problem.initial",
            "log(x0) is not finite at x = (-3, -3, -3, -3, -3), t = 0",
        ),
        (
            _kolmogorov(drift=["0", "0", "0", "0", "1/x4"]),
            "problem.drift.4",
            "1/x4 is not finite at x = (0, 0, 0, 0, 0)",
        ),
        (
            _kolmogorov(volatility=_volatility("1/x1")),
            "problem.volatility.2.3",
            "1/x1 is not finite at x = (0, 0, 0, 0, 0)",
        ),
        (
            _first_order("u_t + u_x0", [INITIAL, {**INFLOW, "value": "1/(t - 1)"}]),
            "problem.conditions.1.value",
            "1/(t - 1) is not finite at x = (0), t = 1 (value inf)",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_an_expression_that_is_not_finite_at_a_sample_point_is_refused(
    data: dict[str, Any], field: str, says: str
) -> None:
    ((found, message),) = _mistakes(data)
    assert found == field and message.startswith(says)


def test_boundary_data_need_be_finite_only_on_their_part_of_the_boundary() -> None:
    ball = {"ball": {"center": [0.0, 0.0], "radius": 1.0}}
    normal = {"type": "neumann", "value": "x/norm(x_vec)"}  # NaN at the centre, not on the sphere
    JobSpec.model_validate(_on_square(domain=ball, conditions=[normal]))
    away = {"type": "dirichlet", "value": "1/(x*x + y*y)"}  # infinite at the origin only
    JobSpec.model_validate(_on_square(conditions=[away]))
    face = {"type": "dirichlet", "on": "x0=upper", "value": "1/(x + 1)"}  # infinite on x0 = -1
    JobSpec.model_validate(
        _on_square(conditions=[face, {"type": "dirichlet", "on": "x0=lower", "value": "0"}])
    )
    ((field, message),) = _mistakes(_on_square(conditions=[{**face, "value": "1/(x - 1)"}]))
    assert field == "problem.conditions.0.value" and message.startswith("1/(x - 1) is not finite at x = (1, ")
    ((field, message),) = _mistakes(
        _on_square(domain=ball, conditions=[{**normal, "value": "1/(norm(x_vec) - 1)"}])
    )
    assert field == "problem.conditions.0.value" and "is not finite at x = (1, 0)" in message


@pytest.mark.parametrize(
    ("domain", "field", "says"),
    [
        (
            {"box": {"lower": [-1e308, 0.0], "upper": [1e308, 1.0]}},
            "problem.domain.box",
            "box.upper - box.lower must be finite; got inf in coordinate 0",
        ),
        (
            {"box": {"lower": [0.0, 1e308], "upper": [1.0, 1.7e308]}},
            "problem.domain.box",
            "box.upper + box.lower (twice the centre) must be finite; got inf in coordinate 1",
        ),
        (
            {"ball": {"center": [0.0, 0.0], "radius": 1e308}},
            "problem.domain.ball",
            "ball.radius is too large: 2 * radius must be finite; got inf",
        ),
        (
            {"ball": {"center": [0.0, 1.7e308], "radius": 1e307}},
            "problem.domain.ball",
            "ball.center +- ball.radius must be finite; got 1.6e+308, inf in coordinate 1",
        ),
    ],
    ids=["box-span", "box-centre", "ball-radius", "ball-centre"],
)
def test_a_domain_whose_extent_overflows_is_refused(domain: dict[str, Any], field: str, says: str) -> None:
    data = example("poisson-2d")
    data["problem"]["domain"] = domain
    assert _mistakes(data) == [(field, says)]


def test_a_time_interval_or_training_radius_that_overflows_is_refused() -> None:
    data = example("heat-2d")
    data["problem"]["time"] = {"start": -1e308, "end": 1e308}
    assert _mistakes(data) == [("problem.time", "time.end - time.start must be finite; got inf")]
    data = example("heat-kolmogorov-5d")
    data["problem"]["domain"] = {"whole_space": {"train_radius": 1e308}}
    ((field, message),) = _mistakes(data)
    assert field == "problem.domain.whole_space" and message.startswith(
        "whole_space.train_radius is too large"
    )


@pytest.mark.parametrize(
    ("where", "value", "field", "says"),
    [
        (("training", "steps"), True, "training.steps", "must be an integer, not true"),
        (
            ("training", "steps"),
            "100",
            "training.steps",
            'must be an integer, not the string "100"; write it without quotes',
        ),
        (
            ("training", "steps"),
            100.0,
            "training.steps",
            "must be an integer, not the number 100.0; write it without a decimal point",
        ),
        (("training", "learning_rate"), False, "training.learning_rate", "must be a number, not false"),
        (("training", "seed"), "zero", "training.seed", 'must be an integer, not the string "zero"'),
        (
            ("problem", "source"),
            1,
            "problem.source",
            'must be a string, not the number 1; put it in quotes: "1"',
        ),
        (("network", "hidden"), "64", "network.hidden", 'must be a list (a JSON array), not the string "64"'),
    ],
    ids=lambda v: repr(v) if not isinstance(v, tuple) else ".".join(v),
)
def test_types_are_strict_and_a_wrong_type_says_what_to_write(
    where: tuple[str, str], value: Any, field: str, says: str
) -> None:
    data = example("poisson-2d")
    data[where[0]][where[1]] = value
    assert _mistakes(data) == [(field, says)]
    with pytest.raises(ValidationError):  # the same through JSON, as the API receives it
        JobSpec.model_validate_json(json.dumps(data))


def test_a_string_radius_is_refused_and_an_integer_is_a_valid_number() -> None:
    data = example("poisson-2d")
    data["problem"]["domain"] = {"ball": {"center": [0, 0], "radius": "1"}}
    assert _mistakes(data) == [
        ("problem.domain.ball.radius", 'must be a number, not the string "1"; write it without quotes')
    ]
    data["problem"]["domain"] = {"ball": {"center": [0, 0], "radius": 1}}
    data["training"]["learning_rate"] = 1
    spec = JobSpec.model_validate(data)
    assert spec.training.learning_rate == 1.0 and isinstance(spec.training.learning_rate, float)


def test_a_value_that_fits_no_member_of_a_union_is_reported_at_its_field() -> None:
    data = example("poisson-2d")
    data["problem"]["diffusion"] = 1
    assert _mistakes(data) == [
        ("problem.diffusion", 'must be a string, not the number 1; put it in quotes: "1"'),
        ("problem.diffusion", "must be a list (a JSON array), not the number 1"),
    ]


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("1" * 400, "constant is not a finite number of moderate size"),
        ("ｘ + 1", "only ASCII characters are allowed"),
        ("0x10*x", "number literal is not a plain decimal"),
        ("x # comment", "comments are not allowed"),
    ],
    ids=["400-digits", "full-width", "hex", "comment"],
)
def test_every_parse_error_is_a_validation_error_of_its_field(source: str, says: str) -> None:
    data = example("poisson-2d")
    data["problem"]["source"] = source
    ((field, message),) = _mistakes(data)
    assert field == "problem.source" and message.startswith(says)
