"""Schemathesis over the whole OpenAPI document: no request, however odd, gets a 5xx, and
every error carries the envelope."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from service.app import create_app
from service.settings import Settings

HEADERS = {"Authorization": "Bearer fuzz-key"}
DATA = Path(tempfile.mkdtemp(prefix="relupde-fuzz-"))
APP = create_app(
    Settings(data_dir=DATA, database_url=f"sqlite:///{DATA / 'jobs.sqlite3'}", api_keys={"fuzz-key": "fuzz"}),
    dispatch=False,
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def running_app() -> Iterator[None]:
    """The lifespan (the store) is open while the fuzzer calls."""
    with TestClient(APP):
        yield
    shutil.rmtree(DATA, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_5xx(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
    response = case.call(headers=HEADERS)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])
