"""Hostile input found by a security review: each answers a clear 4xx with the error
envelope (never a 500, never a body parsed in full before it is refused), on SQLite and on
PostgreSQL where the store is involved; and a job whose training diverges keeps its best
finite model.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.api.errors import envelope, validation_details
from service.api.evaluation import MAX_JSON_POINTS
from service.api.limits import MAX_OTHER_BYTES
from service.app import create_app
from service.jobs import runner
from service.jobs.runner import run_job
from service.jobs.store import JobStore
from service.settings import Settings
from solver import Diverged, JobSpec, solve
from solver.model import Model
from tests.service.conftest import ALICE, in_process_client, register_model, tiny_spec

JSON = {**ALICE, "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile-data")


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    with in_process_client(data_dir) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def model_id(client: TestClient, data_dir: Path) -> str:
    """A model of alice's with two inputs (t, x0)."""
    return register_model(client, data_dir, tiny_spec(20))[0]


@contextmanager
def client_on(data_dir: Path, database_url: str) -> Iterator[TestClient]:
    """``in_process_client`` on any store (``in_process_client`` is SQLite only)."""
    config = Settings(
        data_dir=data_dir, database_url=database_url, api_keys={"alice-key": "alice", "bob-key": "bob"}
    )
    with TestClient(create_app(config, dispatch=False), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def backend_client(store_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The app on SQLite and on PostgreSQL (``store_url`` is parametrized over both)."""
    with client_on(tmp_path, store_url) as test_client:
        yield test_client


def _error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    error: dict[str, Any] = body["error"]
    return error


def _no_unexpected_errors(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.name == "relupde.api"], "an unexpected error was logged"


# ---------------------------------------------------------------------- 1. JSON evaluate is proportional
def test_json_points_over_the_count_are_refused_before_the_body_is_parsed(
    client: TestClient, model_id: str
) -> None:
    """Points over the limit, and the body breaks off after them: the count is refused (413,
    naming the limit) before the JSON is parsed, so the rest is never looked at."""
    body = b'{"points": [' + b"[0.5, 1.0], " * (MAX_JSON_POINTS + 5) + b'"not a point", oops'
    response = client.post(f"/v1/models/{model_id}/evaluate", content=body, headers=JSON)
    assert str(MAX_JSON_POINTS) in _error(response, 413, "too_many_points")["message"]


def test_one_very_wide_json_point_is_refused_before_the_body_is_parsed(
    client: TestClient, model_id: str
) -> None:
    """More numbers than MAX_JSON_POINTS points of the model's two inputs hold: refused by
    counting, before the (here unfinished) JSON is parsed."""
    body = b'{"points": [[' + b"0.5, " * (2 * MAX_JSON_POINTS + 100) + b"oops"
    response = client.post(f"/v1/models/{model_id}/evaluate", content=body, headers=JSON)
    assert str(MAX_JSON_POINTS) in _error(response, 413, "too_many_points")["message"]


def test_the_width_of_the_first_json_point_is_checked_before_the_others(
    client: TestClient, model_id: str
) -> None:
    """The first point has 3 numbers for a model of 2 inputs: 422 naming the width, not a
    complaint about the later points (which are never looked at)."""
    body = {"points": [[0.5, 1.0, 2.0], "junk", [1, "a"], {"b": None}]}
    response = client.post(f"/v1/models/{model_id}/evaluate", json=body, headers=ALICE)
    assert "(n, 2)" in _error(response, 422, "invalid_points")["message"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"points": [[True, 1.0]]}, 422, "validation_error"),
        ({"points": [[0.5, None]]}, 422, "validation_error"),
        ({"points": [[0.5, "1.0"]]}, 422, "validation_error"),
        ({"points": [[0.5, 1.0], [0.5, 1.0, 2.0]]}, 422, "invalid_points"),
        ({"points": [[0.5, 1.0], 0.5]}, 422, "validation_error"),
        ({"points": [[0.5, [1.0]]]}, 422, "validation_error"),
        ({"points": [[0.5, 10**30]]}, 200, None),
    ],
)
def test_json_points_are_still_checked_one_by_one(
    client: TestClient, model_id: str, body: Any, status: int, code: str | None
) -> None:
    response = client.post(f"/v1/models/{model_id}/evaluate", json=body, headers=ALICE)
    if code is None:
        assert response.status_code == status, response.text
    else:
        _error(response, status, code)


def test_deeply_nested_json_points_are_a_malformed_body(
    client: TestClient, model_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = '{"points": ' + "[" * 5000 + "]" * 5000 + "}"
    response = client.post(f"/v1/models/{model_id}/evaluate", content=body, headers=JSON)
    _error(response, 400, "malformed_json")
    _no_unexpected_errors(caplog)


# ---------------------------------------------------------------------- 2. no 500 from user input
def test_an_npz_sent_as_npy_is_refused_naming_the_format(client: TestClient, model_id: str) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, points=np.zeros((3, 2)))
    response = client.post(
        f"/v1/models/{model_id}/evaluate",
        content=buffer.getvalue(),
        headers={**ALICE, "Content-Type": "application/x-npy"},
    )
    assert ".npy" in _error(response, 400, "malformed_npy")["message"]


def test_a_lone_surrogate_in_the_name_is_refused_and_the_envelope_encodes(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    text = json.dumps({**tiny_spec(5), "name": "\ud800"})
    assert "\\ud800" in text
    for path in ("/v1/jobs", "/v1/specs/validate"):
        error = _error(client.post(path, content=text, headers=JSON), 422, "validation_error")
        assert error["details"][0]["field"] == "name"
    _no_unexpected_errors(caplog)


def test_the_envelope_replaces_what_utf8_cannot_encode() -> None:
    response = envelope(422, "validation_error", "bad \ud800", {"\udcff": ["\ud800", 1.5, float("nan")]})
    body = json.loads(response.body)
    assert body["error"]["message"] == "bad \\ud800"
    assert body["error"]["details"] == {"\\udcff": ["\\ud800", 1.5, "nan"]}


def _nested(depth: int) -> Any:
    value: Any = []
    for _ in range(depth):
        value = [value]
    return value


def test_validation_details_of_a_deeply_nested_input_are_shortened() -> None:
    """``given`` of a value nested deeper than Python's recursion limit: no RecursionError
    (a 500 and a traceback in the log on every such request), a short stand-in."""
    error = {"type": "extra_forbidden", "loc": ("body", "zz"), "msg": "Extra inputs are not permitted"}
    details = validation_details([{**error, "input": _nested(5000)}])
    assert details[0]["field"] == "zz" and len(json.dumps(details[0]["given"])) < 400
    response = envelope(422, "validation_error", "deep", {"given": _nested(5000)})
    assert len(response.body) < 1000


@pytest.mark.parametrize("depth", [480, 700, 900, 960, 990, 5000])
def test_deeply_nested_spec_bodies_answer_4xx_without_a_logged_traceback(
    client: TestClient, depth: int, caplog: pytest.LogCaptureFixture
) -> None:
    deep = "[" * depth + "]" * depth
    for text in (
        json.dumps(tiny_spec(5)).replace('"tiny-transport"', deep),
        json.dumps(tiny_spec(5))[:-1] + f', "zz": {deep}}}',
    ):
        for path in ("/v1/jobs", "/v1/specs/validate"):
            response = client.post(path, content=text, headers=JSON)
            assert response.status_code in (400, 422), response.text
            _error(response, response.status_code)
    _no_unexpected_errors(caplog)


def test_an_overflow_that_escapes_spec_validation_is_a_422(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """pydantic turns a validator's ValueError into a validation error but lets an
    OverflowError (float() of a 400-digit literal) through: still a 422, never a 500."""
    import solver.spec

    def overflowing(*args: Any, **kwargs: Any) -> Any:
        raise OverflowError("int too large to convert to float")

    monkeypatch.setattr(solver.spec, "parse", overflowing)
    for path in ("/v1/jobs", "/v1/specs/validate"):
        error = _error(client.post(path, json=tiny_spec(5), headers=ALICE), 422, "validation_error")
        assert "OverflowError" in error["message"]
    _no_unexpected_errors(caplog)


def test_a_400_digit_literal_in_an_expression_is_a_422(client: TestClient) -> None:
    spec = tiny_spec(5)
    spec["problem"]["equation"] = "u_t + " + "9" * 400 + " * u_x0"
    for path in ("/v1/jobs", "/v1/specs/validate"):
        _error(client.post(path, json=spec, headers=ALICE), 422, "validation_error")


@pytest.mark.parametrize("name", ["a\x00b", "bell\x07", "new\nline", "del\x7f", "c1\x85"])
def test_names_with_control_characters_are_refused(backend_client: TestClient, name: str) -> None:
    for path in ("/v1/jobs", "/v1/specs/validate"):
        error = _error(backend_client.post(path, json={**tiny_spec(5), "name": name}, headers=ALICE), 422)
        assert error["code"] == "validation_error" and error["details"][0]["field"] == "name"
    assert backend_client.get("/v1/jobs", headers=ALICE).json()["jobs"] == []


@pytest.mark.parametrize("bad", ["%00", "%01", "%0A", "%7F"])
def test_ids_with_control_characters_are_404(backend_client: TestClient, bad: str) -> None:
    ident = f"ab{bad}cd"
    for method, path in [
        ("GET", f"/v1/jobs/{ident}"),
        ("POST", f"/v1/jobs/{ident}/cancel"),
        ("DELETE", f"/v1/jobs/{ident}"),
        ("GET", f"/v1/jobs/{ident}/events"),
        ("GET", f"/v1/jobs/{ident}/loss"),
        ("GET", f"/v1/jobs/{ident}/loss.png"),
        ("GET", f"/v1/models/{ident}"),
        ("DELETE", f"/v1/models/{ident}"),
        ("GET", f"/v1/models/{ident}/artifact"),
        ("GET", f"/v1/models/{ident}/plot.png"),
        ("POST", f"/v1/models/{ident}/evaluate"),
    ]:
        response = backend_client.request(method, path, headers=ALICE, json={"points": [[0.5, 1.0]]})
        _error(response, 404, "not_found")


def _token(created: str, job_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created, job_id]).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        _token("2024-01-01T00:00:00+00:00", "ab\x00cd"),
        _token("2024-01-01T00:00:00+00:00", "ab\x07cd"),
        _token("2024-01-01T00:00:00\x00", "abcd"),
        "abc\x00def",
    ],
)
def test_page_tokens_with_control_characters_are_422(backend_client: TestClient, token: str) -> None:
    response = backend_client.get("/v1/jobs", params={"page_token": token}, headers=ALICE)
    _error(response, 422, "invalid_page_token")


# ---------------------------------------------------------------------- 3. chunked bodies
def test_an_oversized_chunked_job_body_is_413(client: TestClient, model_id: str) -> None:
    def chunks(total: int) -> Iterator[bytes]:
        for _ in range(total // 65536 + 2):
            yield b" " * 65536

    response = client.post("/v1/jobs", content=chunks(MAX_OTHER_BYTES), headers=JSON)
    assert "transfer-encoding" in response.request.headers
    error = _error(response, 413, "payload_too_large")
    assert error["details"] == {"limit_bytes": MAX_OTHER_BYTES}
    response = client.post("/v1/specs/validate", content=chunks(MAX_OTHER_BYTES), headers=JSON)
    _error(response, 413, "payload_too_large")


# ---------------------------------------------------------------------- 4. Idempotency-Key
@pytest.mark.parametrize("key", ["", " "])
def test_an_empty_idempotency_key_is_refused(backend_client: TestClient, key: str) -> None:
    response = backend_client.post("/v1/jobs", json=tiny_spec(5), headers={**ALICE, "Idempotency-Key": key})
    assert "Idempotency-Key must not be empty" in _error(response, 422, "validation_error")["message"]
    assert backend_client.get("/v1/jobs", headers=ALICE).json()["jobs"] == []


# ---------------------------------------------------------------------- 5. OpenAPI
def test_openapi_declares_the_400s_and_the_idempotent_replay(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    submit = paths["/v1/jobs"]["post"]["responses"]
    assert {"200", "202", "400", "409", "413", "415", "422"} <= set(submit)
    assert submit["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/JobOut"}
    assert {"400", "413", "415", "422"} <= set(paths["/v1/specs/validate"]["post"]["responses"])
    assert {"400", "413", "415", "422"} <= set(paths["/v1/models/{model_id}/evaluate"]["post"]["responses"])


# ---------------------------------------------------------------------- 6. diverged training
@pytest.fixture(scope="module")
def trained() -> Model:
    return solve(JobSpec.model_validate(tiny_spec(5)))


@pytest.fixture
def runner_store(store_url: str) -> Iterator[JobStore]:
    store = JobStore.open(store_url)
    yield store
    store.close()
    runner._store(store_url).close()
    runner._store.cache_clear()


def _diverging(model: Model | None) -> Any:
    def solve_that_diverges(*args: Any, **kwargs: Any) -> Model:
        exc = Diverged(7, "pde")
        exc.model = model
        raise exc

    return solve_that_diverges


def _queued(store: JobStore) -> str:
    job, _ = store.create_job("a", tiny_spec(5), name="diverges", steps=5)
    return job.id


def test_a_diverged_job_fails_with_the_step_and_term_and_keeps_its_best_finite_model(
    runner_store: JobStore, store_url: str, tmp_path: Path, trained: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "solve", _diverging(trained))
    job_id = _queued(runner_store)
    assert run_job(job_id, store_url, str(tmp_path)) == "failed"
    job = runner_store.get_job(job_id)
    assert job is not None and job.status == "failed" and job.model_id is not None
    assert job.error == "diverged at step 7: pde"
    record = runner_store.get_model(job.model_id, "a")
    assert record is not None and (tmp_path / record.path / "manifest.json").is_file()


def test_a_diverged_job_without_a_finite_model_fails_with_the_step_and_term(
    runner_store: JobStore, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "solve", _diverging(None))
    job_id = _queued(runner_store)
    assert run_job(job_id, store_url, str(tmp_path)) == "failed"
    job = runner_store.get_job(job_id)
    assert job is not None and job.status == "failed" and job.model_id is None
    assert job.error == "diverged at step 7: pde"


def test_a_diverged_model_that_cannot_be_saved_still_fails_the_job_with_the_reason(
    runner_store: JobStore, store_url: str, tmp_path: Path, trained: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saving the best finite model fails (a NaN in its metrics, a full disk): the job still
    ends failed, naming the divergence and why no model was kept; nothing is left running."""

    def nan_in_the_manifest(self: Model, folder: Any) -> Any:
        raise ValueError("Out of range float values are not JSON compliant: nan")

    monkeypatch.setattr(runner, "solve", _diverging(trained))
    monkeypatch.setattr(Model, "save", nan_in_the_manifest)
    job_id = _queued(runner_store)
    assert run_job(job_id, store_url, str(tmp_path)) == "failed"
    job = runner_store.get_job(job_id)
    assert job is not None and job.status == "failed" and job.model_id is None
    assert job.error == (
        "diverged at step 7: pde; the best finite model could not be saved "
        "(ValueError: Out of range float values are not JSON compliant: nan)"
    )
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").rglob("manifest.json"))
