"""Model persistence: round trip, atomic replace, tamper and truncation detection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from solver import JobSpec, ModelFileError, load_model, solve

SPEC = {
    "problem": {
        "kind": "first_order",
        "dimension": 1,
        "domain": {"box": {"lower": [0.0], "upper": [1.0]}},
        "equation": "u_x0 - cos(x0)",
        "conditions": [{"type": "dirichlet", "on": "x0=lower", "value": "0"}],
        "exact": "sin(x0)",
    },
    "network": {"hidden": [16, 16]},
    "training": {"steps": 20, "points": {"interior": 64, "boundary": 16}},
}


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    return solve(JobSpec.model_validate(SPEC))


def test_round_trip_gives_the_same_answers(model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = model.save(tmp_path / "m")
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "weights.safetensors"]
    again = load_model(folder)
    points = np.linspace(0, 1, 11).reshape(-1, 1)
    a, b = model.evaluate(points), again.evaluate(points)
    np.testing.assert_array_equal(a.value, b.value)
    np.testing.assert_array_equal(a.gradient, b.gradient)
    assert again.errors == model.errors and again.spec == model.spec
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["architecture"]["widths"] == [1, 16, 16, 1]
    assert set(manifest["versions"]) >= {"relupde", "torch", "python"}


def test_saving_again_replaces_atomically(model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model.save(tmp_path / "m")
    model.save(tmp_path / "m")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_tampered_weights_are_refused(model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = model.save(tmp_path / "m")
    blob = bytearray((folder / "weights.safetensors").read_bytes())
    blob[-3] ^= 0x01
    (folder / "weights.safetensors").write_bytes(bytes(blob))
    with pytest.raises(ModelFileError, match="sha256"):
        load_model(folder)


def test_truncated_and_missing_files_are_refused(model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = model.save(tmp_path / "m")
    blob = (folder / "weights.safetensors").read_bytes()
    (folder / "weights.safetensors").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ModelFileError, match="changed or truncated"):
        load_model(folder)
    (folder / "manifest.json").unlink()
    with pytest.raises(ModelFileError, match=r"manifest.json is missing"):
        load_model(folder)
    (folder / "manifest.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load_model(folder)


def test_evaluate_checks_its_input(model) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=r"shape \(n, 1\)"):
        model.evaluate(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="finite"):
        model.evaluate(np.array([[np.nan]]))


def test_evaluate_marks_the_points_inside_the_domain_and_slab() -> None:
    """inside: the closed ball and time slab; the whole space: every x of the slab."""
    import numpy as np
    import torch

    from models.calculus import affine
    from solver import JobSpec
    from solver.model import Model

    ball = JobSpec.model_validate(
        {
            "problem": {
                "kind": "first_order",
                "dimension": 2,
                "time": {"start": 0.0, "end": 1.0},
                "domain": {"ball": {"center": [1.0, 0.0], "radius": 2.0}},
                "equation": "u_t + u_x0",
                "conditions": [
                    {"type": "initial", "value": "0"},
                    {"type": "dirichlet", "on": "boundary", "value": "0"},
                ],
            }
        }
    )
    network = affine(torch.ones(1, 3, dtype=torch.float64), torch.zeros(1, dtype=torch.float64))
    points = np.array([[0.5, 1.0, 0.0], [0.5, 3.0, 0.0], [0.5, 3.5, 0.0], [1.5, 1.0, 0.0], [0.0, 1.0, 2.0]])
    inside = Model(network, ball, {}, None).evaluate(points).inside
    assert inside.tolist() == [True, True, False, False, True]
    whole = JobSpec.model_validate(
        {
            "problem": {
                "kind": "kolmogorov",
                "dimension": 2,
                "time": {"start": 0.0, "end": 1.0},
                "domain": {"whole_space": {"train_radius": 1.0}},
                "initial": "x0",
                "growth": {"kappa": 0, "constant": 1.0},
            }
        }
    )
    far = np.array([[0.5, 100.0, -50.0], [1.5, 0.0, 0.0]])
    assert Model(network, whole, {}, None).evaluate(far).inside.tolist() == [True, False]
