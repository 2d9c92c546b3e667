"""Large JSON evaluates in the evaluate process pool (service.api.offload).

The pool answers exactly what the API process would (values and errors alike), verifies
the model on its own read, and a pool process that dies costs one request a 503, not the
service.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from service.api.offload import OFFLOAD_BYTES, EvaluatePool
from service.settings import Settings, SettingsError
from solver.model import WEIGHTS
from tests.service.conftest import ALICE, BOB, in_process_client, register_model, tiny_spec

N = 12_000  # about 480 KB of JSON: over OFFLOAD_BYTES


def _points(n: int = N, width: int = 2) -> list[list[float]]:
    rng = np.random.default_rng(0)
    points: list[list[float]] = rng.uniform([0, -3], [1, 3], size=(n, 2))[:, :width].tolist()
    return points


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


def test_a_large_json_evaluate_in_the_pool_equals_the_model(tmp_path: Path) -> None:
    with in_process_client(tmp_path, evaluate_processes=1) as client:
        model_id, model = register_model(client, tmp_path, tiny_spec(8, hidden=8))
        points = _points()
        assert len(httpx.Request("POST", "http://x", json={"points": points}).read()) > OFFLOAD_BYTES
        answer = client.post(f"/v1/models/{model_id}/evaluate", json={"points": points}, headers=ALICE)
        assert answer.status_code == 200, answer.text
        expected = model.evaluate(np.asarray(points))
        np.testing.assert_array_equal(np.asarray(answer.json()["value"]), expected.value)
        np.testing.assert_array_equal(np.asarray(answer.json()["gradient"]), expected.gradient)
        # errors found in the pool process come back as the same envelope
        wide = {"points": [[*p, 0.0] for p in points]}
        error = _error(
            client.post(f"/v1/models/{model_id}/evaluate", json=wide, headers=ALICE), 422, "invalid_points"
        )
        assert "shape (n, 2)" in error["message"]
        _error(
            client.post(f"/v1/models/{model_id}/evaluate", json={"points": points}, headers=BOB),
            404,
            "not_found",
        )


def test_a_model_damaged_after_loading_answers_409_from_the_pool(tmp_path: Path) -> None:
    with in_process_client(tmp_path, evaluate_processes=1) as client:
        model_id, _ = register_model(client, tmp_path, tiny_spec(8, hidden=8))
        path = f"/v1/models/{model_id}/evaluate"
        assert (
            client.post(path, json={"points": [[0.5, 0.0]]}, headers=ALICE).status_code == 200
        )  # loaded here
        weights = tmp_path / "models" / "alice" / model_id / WEIGHTS
        blob = bytearray(weights.read_bytes())
        blob[-1] ^= 0xFF
        weights.write_bytes(bytes(blob))
        error = _error(client.post(path, json={"points": _points()}, headers=ALICE), 409, "model_corrupted")
        assert str(tmp_path) not in error["message"]


def test_a_dead_pool_process_costs_one_request_a_503(tmp_path: Path) -> None:
    with in_process_client(tmp_path, evaluate_processes=1) as client:
        model_id, _ = register_model(client, tmp_path, tiny_spec(8, hidden=8))
        path = f"/v1/models/{model_id}/evaluate"
        body = {"points": _points()}
        assert client.post(path, json=body, headers=ALICE).status_code == 200
        pool: EvaluatePool = client.app.state.evaluate_pool  # type: ignore[attr-defined]
        executor = pool._executor
        assert executor is not None
        for pid in list(executor._processes):
            os.kill(pid, signal.SIGKILL)
        error = _error(client.post(path, json=body, headers=ALICE), 503, "evaluate_unavailable")
        assert "again" in error["message"]
        assert client.post(path, json=body, headers=ALICE).status_code == 200  # a fresh pool


def test_evaluate_processes_is_a_count_from_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELUPDE_EVALUATE_PROCESSES", "0")
    assert Settings.from_env().evaluate_processes == 0
    for bad in ("-1", "two", "1.5"):
        monkeypatch.setenv("RELUPDE_EVALUATE_PROCESSES", bad)
        with pytest.raises(SettingsError, match="RELUPDE_EVALUATE_PROCESSES"):
            Settings.from_env()
