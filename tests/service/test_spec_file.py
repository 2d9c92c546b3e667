"""``--set`` overrides and spec files for the command line (service/spec_file.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.cli import main
from service.spec_file import SpecFileError, apply_override, load_spec, parse_value
from solver.spec import TrainingSpec

ROOT = Path(__file__).resolve().parents[2]
POISSON = ROOT / "examples" / "poisson-2d.json"


def test_values_are_json_when_they_parse_else_text() -> None:
    assert parse_value("500") == 500
    assert parse_value("[32, 32]") == [32, 32]
    assert parse_value("true") is True
    assert parse_value("sin(pi*x)") == "sin(pi*x)"
    assert parse_value('"1"') == "1"


def test_overrides_reach_keys_and_list_positions() -> None:
    data: dict[str, Any] = {"network": {"hidden": [64, 64]}, "training": {}}
    apply_override(data, "training.steps=500")
    apply_override(data, "network.hidden.1=8")
    apply_override(data, "training.loss.norm=l2")
    assert data == {"network": {"hidden": [64, 8]}, "training": {"steps": 500, "loss": {"norm": "l2"}}}


@pytest.mark.parametrize(
    ("assignment", "says"),
    [
        ("training.steps", "write PATH=VALUE"),
        ("=3", "write PATH=VALUE"),
        ("network..hidden=3", "write PATH=VALUE"),
        ("network.hidden.5=3", "not a position of a list of 2"),
        ("network.hidden.0.x=3", "is a value, not an object"),
    ],
)
def test_bad_overrides_say_what_to_write(assignment: str, says: str) -> None:
    with pytest.raises(SpecFileError, match=says):
        apply_override({"network": {"hidden": [64, 64]}}, assignment)


def test_load_spec_applies_then_validates(tmp_path: Path) -> None:
    spec = load_spec(POISSON, ["training.steps=7", "network.hidden=[8, 8]"])
    assert spec.training.steps == 7 and spec.network.hidden == [8, 8]
    with pytest.raises(SpecFileError, match="not a valid job spec"):
        load_spec(POISSON, ["problem.dimension=0"])
    broken = tmp_path / "broken.json"
    broken.write_text('{"problem": ')
    with pytest.raises(SpecFileError, match="is not JSON"):
        load_spec(broken)
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(SpecFileError, match="JSON object"):
        load_spec(listed)
    with pytest.raises(SpecFileError, match="cannot read"):
        load_spec(tmp_path / "missing.json")


def test_validate_command(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["validate", str(POISSON), "--set", "training.steps=9"]) == 0
    out = capsys.readouterr().out
    assert "a valid job spec" in out and "divergence_form, dimension 2, box" in out and "9 steps" in out
    bad = tmp_path / "bad.json"
    data = json.loads(POISSON.read_text())
    data["problem"]["sourse"] = "1"
    bad.write_text(json.dumps(data))
    assert main(["validate", str(bad)]) == 2
    assert "sourse" in capsys.readouterr().err


def test_validate_prints_one_line_per_mistake_in_the_specs_terms(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    spec = json.loads(POISSON.read_text())
    spec["problem"]["domain"] = {"box": {"lower": [0.0, 0.0], "upper": [-1.0, 1.0]}}
    spec["training"] = {"stesp": 10}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(spec))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "(2 mistakes)" in lines[0]
    assert lines[1:] == [
        "  problem.domain.box: box.upper must exceed box.lower in every coordinate",
        "  training.stesp: unknown field 'stesp' (did you mean 'steps'?); allowed here: "
        + ", ".join(TrainingSpec.model_fields),
    ]
    for leak in ("https://", "input_value", "BallDomain", "divergence_form."):
        assert leak not in err
