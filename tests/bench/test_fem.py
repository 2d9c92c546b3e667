"""bench/fem.py: the unknowns it matches and the expressions it evaluates (scikit-fem itself
is an extra, never a test dependency, so the solve is not run here)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench import fem
from solver import JobSpec


def test_the_unknowns_are_those_of_the_solved_output_layer() -> None:
    data = json.loads(fem.find("poisson-2d").read_text())
    del data["network"]
    spec = JobSpec.model_validate(data)
    assert fem.relupde_unknowns(spec) == 3 * (spec.hidden[0] + 1)


def test_an_expression_is_evaluated_in_the_layout_of_quadrature_points() -> None:
    x = np.random.default_rng(0).random((2, 5, 3))
    value = fem.at(fem.evaluator("sin(pi*x)*y + 2", 2), x)
    assert value.shape == (5, 3)
    np.testing.assert_allclose(value, np.sin(np.pi * x[0]) * x[1] + 2)
    constant = fem.at(fem.evaluator("4", 2), x)
    np.testing.assert_allclose(constant, np.full((5, 3), 4.0))
    with_u = fem.at(fem.evaluator("1 + u**2", 2, with_u=True), x, np.full((5, 3), 2.0))
    np.testing.assert_allclose(with_u, np.full((5, 3), 5.0))


def test_an_unknown_example_is_refused_by_name() -> None:
    with pytest.raises(SystemExit, match="no example named nothing"):
        fem.find("nothing")
