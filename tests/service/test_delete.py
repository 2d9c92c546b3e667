"""DELETE /v1/jobs/{id}, DELETE /v1/models/{id} and POST /v1/specs/validate, in process,
over HTTP and through the Python client.

A deleted job takes its loss curve, checkpoint and models (folders included) with it; a
running job's worker finds its attempt gone and stops.  Nothing of another tenant's can be
deleted, and a second DELETE answers 404.  Validation runs the submit checks and queues
nothing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.api.evaluation import ModelCache
from service.client import BadRequestError, Client, NotFoundError
from service.jobs.runner import checkpoint_path
from service.jobs.store import JobStore
from solver.training import LossRecord
from tests.service.conftest import ALICE, BOB, in_process_client, register_model, tiny_spec


def _envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


def test_deleting_a_job_removes_its_record_curve_checkpoint_and_models(tmp_path: Path) -> None:
    with in_process_client(tmp_path) as client:
        model_id, _ = register_model(client, tmp_path, tiny_spec(8, hidden=4))
        store: JobStore = client.app.state.store  # type: ignore[attr-defined]
        job = client.get("/v1/jobs", headers=ALICE).json()["jobs"][0]
        assert job["model_id"] == model_id
        folder = tmp_path / "models" / "alice" / model_id
        checkpoint = checkpoint_path(tmp_path, job["id"])
        checkpoint.parent.mkdir(parents=True, exist_ok=True)
        checkpoint.write_bytes(b"state")
        assert folder.is_dir() and store.loss_curve(job["id"]) == []
        # another tenant can delete nothing of it
        _envelope(client.delete(f"/v1/jobs/{job['id']}", headers=BOB), 404, "not_found")
        _envelope(client.delete(f"/v1/models/{model_id}", headers=BOB), 404, "not_found")
        assert folder.is_dir() and client.get(f"/v1/models/{model_id}", headers=ALICE).status_code == 200
        answer = client.delete(f"/v1/jobs/{job['id']}", headers=ALICE)
        assert answer.status_code == 200
        assert answer.json() == {"id": job["id"], "deleted": True, "model_ids": [model_id]}
        assert not folder.exists() and not checkpoint.exists()
        assert store.get_job(job["id"]) is None and store.get_model(model_id) is None
        _envelope(client.get(f"/v1/jobs/{job['id']}", headers=ALICE), 404, "not_found")
        _envelope(client.get(f"/v1/models/{model_id}", headers=ALICE), 404, "not_found")
        _envelope(
            client.post(f"/v1/models/{model_id}/evaluate", json={"points": [[0, 1]]}, headers=ALICE),
            404,
            "not_found",
        )
        _envelope(client.delete(f"/v1/jobs/{job['id']}", headers=ALICE), 404, "not_found")


def test_deleting_a_running_job_supersedes_its_worker_and_drops_its_curve(tmp_path: Path) -> None:
    with in_process_client(tmp_path) as client:
        job = client.post("/v1/jobs", json=tiny_spec(50), headers=ALICE).json()
        store: JobStore = client.app.state.store  # type: ignore[attr-defined]
        started = store.begin(job["id"], "worker:1", 4)
        assert started is not None
        record = LossRecord(0, 0.0, {"interior": 1.0}, {"interior": 0.5})
        kwargs: dict[str, Any] = {"step": 1, "steps": 50, "loss": 1.0, "elapsed_s": 0.1}
        assert store.report(job["id"], started[1], records=[record], **kwargs) == "continue"
        assert len(store.loss_curve(job["id"])) == 1
        assert client.delete(f"/v1/jobs/{job['id']}", headers=ALICE).json()["model_ids"] == []
        assert store.loss_curve(job["id"]) == []
        # the worker's next report tells it to stop; it cannot record an outcome
        assert store.report(job["id"], started[1], **kwargs) == "superseded"
        assert not store.finish(job["id"], started[1], "succeeded")
        assert client.get("/v1/jobs", headers=ALICE).json()["jobs"] == []


def test_deleting_a_model_keeps_its_job_without_a_model(tmp_path: Path) -> None:
    with in_process_client(tmp_path) as client:
        model_id, _ = register_model(client, tmp_path, tiny_spec(8, hidden=4))
        job_id = client.get("/v1/jobs", headers=ALICE).json()["jobs"][0]["id"]
        points = {"points": [[0.5, 1.0]]}
        assert client.post(f"/v1/models/{model_id}/evaluate", json=points, headers=ALICE).status_code == 200
        answer = client.delete(f"/v1/models/{model_id}", headers=ALICE)
        assert answer.json() == {"id": model_id, "deleted": True, "model_ids": [model_id]}
        assert not (tmp_path / "models" / "alice" / model_id).exists()
        # the loaded copy is forgotten too: evaluate answers 404, not the cached model
        _envelope(
            client.post(f"/v1/models/{model_id}/evaluate", json=points, headers=ALICE), 404, "not_found"
        )
        job = client.get(f"/v1/jobs/{job_id}", headers=ALICE).json()
        assert job["status"] == "succeeded" and job["model_id"] is None
        _envelope(client.delete(f"/v1/models/{model_id}", headers=ALICE), 404, "not_found")


def test_a_delete_by_another_api_process_is_seen_within_the_record_ttl(tmp_path: Path) -> None:
    """Small evaluates of a loaded model skip the store for RECORD_TTL_S; a delete made through
    another API process (here: straight in the store) is seen once that has passed, and the
    shortcut never serves another tenant."""
    with in_process_client(tmp_path) as client:
        model_id, _ = register_model(client, tmp_path, tiny_spec(8, hidden=4))
        cache: ModelCache = client.app.state.models  # type: ignore[attr-defined]
        cache.record_ttl_s = 0.2
        points = {"points": [[0.5, 1.0]]}
        path = f"/v1/models/{model_id}/evaluate"
        assert client.post(path, json=points, headers=ALICE).status_code == 200
        assert cache.ready(model_id, "alice") is not None and cache.ready(model_id, "bob") is None
        _envelope(client.post(path, json=points, headers=BOB), 404, "not_found")
        store: JobStore = client.app.state.store  # type: ignore[attr-defined]
        assert store.delete_model(model_id, "alice") is not None
        time.sleep(0.3)
        _envelope(client.post(path, json=points, headers=ALICE), 404, "not_found")


def test_validate_checks_a_spec_and_queues_nothing(tmp_path: Path) -> None:
    with in_process_client(tmp_path) as client:
        spec = tiny_spec(70)
        answer = client.post("/v1/specs/validate", json=spec, headers=ALICE)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["valid"] is True and body["steps"] == 70
        assert body["spec"]["training"]["learning_rate"] == 1e-3  # defaults filled in
        bad = {**spec, "training": {**spec["training"], "steps": -1}}
        error = _envelope(client.post("/v1/specs/validate", json=bad, headers=ALICE), 422, "validation_error")
        assert "steps" in str(error["details"])
        _envelope(client.post("/v1/specs/validate", json=spec), 401, "unauthorized")
        assert client.get("/v1/jobs", headers=ALICE).json()["jobs"] == []


def test_the_client_deletes_and_validates(tmp_path: Path) -> None:
    with in_process_client(tmp_path) as app:
        model_id, _ = register_model(app, tmp_path, tiny_spec(8, hidden=4))
        transport = httpx.MockTransport(app.send)
        with Client("http://testserver", api_key="alice-key", transport=transport) as client:
            assert client.validate(tiny_spec(12))["steps"] == 12
            with pytest.raises(BadRequestError, match="steps"):
                client.validate({**tiny_spec(), "training": {"steps": "many"}})
            assert client.delete_model(model_id)["model_ids"] == [model_id]
            with pytest.raises(NotFoundError):
                client.model(model_id)
            job = client.submit(tiny_spec(5))
            assert client.delete_job(job)["id"] == job.id
            with pytest.raises(NotFoundError):
                client.job(job.id)
