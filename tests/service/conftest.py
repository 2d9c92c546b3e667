"""Fixtures for the service tests: job stores on both backends, tiny job specs, a live server.

PostgreSQL: the tests use ``RELUPDE_TEST_POSTGRES_URL`` (default: the machine's server at
127.0.0.1:5432, database ``test``), each test in a schema of its own that is dropped after.
When the server cannot be reached the PostgreSQL cases are skipped with a message, unless
``RELUPDE_REQUIRE_POSTGRES=1`` (set by ``.ci/run``), which turns the skip into a failure.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from service.app import create_app
from service.jobs.runner import model_folder
from service.jobs.store import JobStore, ModelRecord, now
from service.settings import Settings
from solver import JobSpec, solve
from solver.model import Model

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_URL = os.environ.get(
    "RELUPDE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_or_skip() -> str:
    try:
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        message = (
            f"PostgreSQL not reachable at {POSTGRES_URL.split('@')[-1]} ({type(exc).__name__}); "
            "set RELUPDE_TEST_POSTGRES_URL to test the PostgreSQL store"
        )
        if os.environ.get("RELUPDE_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{message} (RELUPDE_REQUIRE_POSTGRES=1 makes this mandatory)")
        pytest.skip(message)
    return POSTGRES_URL


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema (dropped afterwards)."""
    base = _postgres_or_skip()
    schema = f"relupde_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(base)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[JobStore]:
    opened = JobStore.open(store_url)
    yield opened
    opened.close()


def tiny_spec(steps: int = 60, *, hidden: int = 16, name: str = "tiny-transport") -> dict[str, Any]:
    """transport-1d shrunk to seconds of training (same problem, exact solution given)."""
    spec: dict[str, Any] = json.loads((ROOT / "examples" / "transport-1d.json").read_text())
    spec["name"] = name
    spec["network"]["hidden"] = [hidden, hidden]
    spec["training"].update(
        {"steps": steps, "points": {"interior": 128, "boundary": 32}, "optimizer": "adam", "seed": 3}
    )
    return spec


def register_model(
    client: TestClient, data_dir: Path, spec: dict[str, Any], tenant: str = "alice"
) -> tuple[str, Model]:
    """Train ``spec`` here and record it for ``tenant`` as a worker would: (model id, model)."""
    store: JobStore = client.app.state.store  # type: ignore[attr-defined]
    steps = spec["training"]["steps"]
    job, _ = store.create_job(tenant, spec, name=spec.get("name"), steps=steps)
    started = store.begin(job.id, "test", 4)
    assert started is not None
    model = solve(JobSpec.model_validate(spec))
    new_id = uuid.uuid4().hex
    folder = model.save(model_folder(data_dir, tenant, new_id))
    digest = json.loads((folder / "manifest.json").read_text())["weights_sha256"]
    record = ModelRecord(new_id, tenant, job.id, str(folder.relative_to(data_dir)), digest, now())
    assert store.finish(job.id, started[1], "succeeded", model=record)
    return new_id, model


ALICE = {"Authorization": "Bearer alice-key"}
BOB = {"Authorization": "Bearer bob-key"}


@contextmanager
def in_process_client(data_dir: Path, **settings: Any) -> Iterator[TestClient]:
    """The app in this process, without workers (jobs stay queued), tenants alice and bob;
    large evaluates in threads unless ``evaluate_processes`` is given."""
    config = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'jobs.sqlite3'}",
        api_keys={"alice-key": "alice", "bob-key": "bob"},
        **{"evaluate_processes": 0, **settings},
    )
    with TestClient(create_app(config, dispatch=False), raise_server_exceptions=False) as client:
        yield client
