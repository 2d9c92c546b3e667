"""docs/spec.md is the job-spec reference: its field tables are exactly what the models say,
every field is described (in the models and in the OpenAPI document), and its examples validate."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from bench.spec_reference import DOC, ROOT, Row, documented, sections, tables
from service.app import create_app
from service.settings import Settings
from solver import JobSpec
from solver.spec import TrainingSpec

ROWS = [row for section in sections() for row in section.rows]


def _id(row: Row) -> str:
    return f"{row.model.__name__}.{row.name}"


def test_the_doc_holds_exactly_the_generated_tables() -> None:
    assert documented(DOC.read_text()) == tables(), (
        "docs/spec.md is out of date: run .venv/bin/python bench/spec_reference.py --write"
    )


def test_the_tables_reach_every_model_of_the_spec() -> None:
    names = {row.model.__name__ for row in ROWS}
    schema = JobSpec.model_json_schema()
    assert names >= set(schema["$defs"]) | {"JobSpec"}, "a model of the spec has no table"
    for kind in ("first_order", "divergence_form", "kolmogorov", "system"):
        assert f'kind = "{kind}"' in tables()


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_every_field_has_a_description(row: Row) -> None:
    description = (row.info.description or "").strip()
    assert description, f"{_id(row)} has no description"
    for word in ("API.md", "DESIGN.md", "issue"):
        assert word not in description, f"{_id(row)}: users have no {word}"


def test_every_property_of_the_json_schema_is_described() -> None:
    schema = JobSpec.model_json_schema()
    objects = {"JobSpec": schema, **schema["$defs"]}
    for name, definition in objects.items():
        for prop, body in definition.get("properties", {}).items():
            assert body.get("description", "").strip(), f"{name}.{prop} has no description in the schema"


@pytest.mark.parametrize("row", [row for row in ROWS if row.info.examples], ids=_id)
def test_the_field_examples_are_accepted(row: Row) -> None:
    metadata = row.info.metadata
    adapter: TypeAdapter[Any] = TypeAdapter(
        Annotated[row.info.annotation, *metadata] if metadata else row.info.annotation
    )
    for example in row.info.examples or []:
        adapter.validate_python(example)


def test_the_openapi_document_carries_the_descriptions(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'jobs.sqlite3'}",
        api_keys={"alice-key": "alice"},
    )
    with TestClient(create_app(settings, dispatch=False)) as client:
        response = client.get("/openapi.json")
    assert response.status_code == 200
    schemas = response.json()["components"]["schemas"]
    training = [body for name, body in schemas.items() if re.fullmatch(r"TrainingSpec(-Input)?", name)]
    assert training, f"no TrainingSpec among {sorted(schemas)}"
    steps = training[0]["properties"]["steps"]
    assert steps["description"] == TrainingSpec.model_fields["steps"].description
    assert steps["examples"] == [5000]
    job = next(body for name, body in schemas.items() if re.fullmatch(r"JobSpec(-Input)?", name))
    assert all(body.get("description") for body in job["properties"].values())


def _json_blocks(text: str) -> list[Any]:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", text, flags=re.S)]


def test_the_doc_examples_validate_and_match_the_example_files() -> None:
    kinds = {"first_order", "divergence_form", "kolmogorov", "system"}
    blocks = _json_blocks(DOC.read_text())
    specs = [block for block in blocks if block.get("problem", {}).get("kind") in kinds]
    assert {JobSpec.model_validate(spec).problem.kind for spec in specs} == kinds
    files = {path.stem: path for path in (ROOT / "examples").rglob("*.json")}
    copied = 0
    for spec in specs:
        if spec["name"] in files:
            assert spec == json.loads(files[spec["name"]].read_text()), f"{spec['name']}: not its file"
            copied += 1
    assert copied >= 3
