"""Residual values pinned before the problem/region classes were refactored: every example
spec (examples/, examples/extra, examples/peers), one fixed draw of points, one fixed random
network; each residual term's values at its first points and its sum must stay as they were
(``data/pinned_residuals.json``).  A refactor that changes a sample point, a normal, a target
or a residual formula changes a number here.

    .venv/bin/python -m tests.solver.test_pinned_residuals   # rewrite the file (only on purpose)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from models.network import ReLUNetwork
from solver.kinds import problem_of
from solver.spec import JobSpec

ROOT = Path(__file__).resolve().parents[2]
PINNED = Path(__file__).with_name("data") / "pinned_residuals.json"
SPECS = sorted([*ROOT.glob("examples/*.json"), *ROOT.glob("examples/*/*.json")])
SHOWN = 4  # values kept per term


def residual_table(path: Path) -> dict[str, Any]:
    """{term: {"first": [...], "sum": s, "n": n}} at draw 3 of seed 11, on 48 + 16 points, and
    the same of the validation points (the first point's coordinates)."""
    spec = JobSpec.model_validate(json.loads(path.read_text()))
    problem = problem_of(spec.problem)
    sets = problem.sample(48, 16, seed=11, draw=3)
    gen = torch.Generator().manual_seed(5)
    network = ReLUNetwork.random(
        [problem.n_inputs, 12, 12, problem.n_outputs], dtype=torch.float64, generator=gen, bias_scale=0.5
    )
    table: dict[str, Any] = {}
    for name, points in sets.items():
        u, jac = network.value_and_jacobian(points.inputs())
        for term, values in problem.residuals(name, points, u, jac).items():
            values = values.detach()
            table[term] = {"first": values[:SHOWN].tolist(), "sum": float(values.sum()), "n": values.numel()}
    validation = problem.validation_inputs(32, seed=11)
    table["validation points"] = {
        "first": validation[0].tolist(),
        "sum": float(validation.sum()),
        "n": validation.numel(),
    }
    return table


def test_every_example_is_pinned() -> None:
    pinned = json.loads(PINNED.read_text())
    assert sorted(pinned) == sorted(str(p.relative_to(ROOT)) for p in SPECS)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_residuals_are_what_they_were(path: Path) -> None:
    expected = json.loads(PINNED.read_text())[str(path.relative_to(ROOT))]
    found = residual_table(path)
    assert sorted(found) == sorted(expected)
    for term, values in expected.items():
        assert found[term]["n"] == values["n"], term
        assert found[term]["first"] == pytest.approx(values["first"], rel=1e-12, abs=1e-12), term
        assert found[term]["sum"] == pytest.approx(values["sum"], rel=1e-12, abs=1e-12), term


if __name__ == "__main__":
    tables = {str(p.relative_to(ROOT)): residual_table(p) for p in SPECS}
    PINNED.write_text(json.dumps(tables, indent=1, sort_keys=True) + "\n")
    print(f"wrote {PINNED} ({len(tables)} specs)", file=sys.stderr)
