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
