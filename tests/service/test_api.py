"""The REST API in process (no workers): contract shapes, errors, tenants, evaluate.

Jobs are only queued here (``dispatch=False``); a model is trained in this process and
registered in the store the way a worker would, so evaluate can be checked against the
in-process ``Model.evaluate`` of the same folder.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.api.evaluation import MAX_JSON_POINTS
from service.api.limits import MAX_OTHER_BYTES
from service.app import create_app
from service.jobs.store import STATUSES, JobStore
from service.settings import Settings
from solver import JobSpec, load_model
from tests.service.conftest import ALICE, BOB, in_process_client, register_model, tiny_spec
from tests.solver.examples import EXAMPLES


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("service-data")


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    with in_process_client(data_dir) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def model_id(client: TestClient, data_dir: Path) -> str:
    """A model of alice's, trained here and recorded as a worker records one."""
    return register_model(client, data_dir, tiny_spec(30))[0]


def _error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code
    error: dict[str, Any] = body["error"]
    return error


# ---------------------------------------------------------------------- jobs
@pytest.mark.parametrize("name", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_spec_is_accepted(client: TestClient, name: Path) -> None:
    spec = json.loads(name.read_text())
    response = client.post("/v1/jobs", json=spec, headers=ALICE)
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["status"] == "queued" and job["spec"] == JobSpec.model_validate(spec).model_dump(mode="json")
    steps = job["progress"]["steps"]
    assert job["progress"] == {"step": 0, "steps": steps, "loss": None, "elapsed_s": 0.0, "residuals": None}
    assert client.get(f"/v1/jobs/{job['id']}", headers=ALICE).json() == job


def test_idempotency_key(client: TestClient) -> None:
    headers = {**ALICE, "Idempotency-Key": uuid.uuid4().hex}
    first = client.post("/v1/jobs", json=tiny_spec(5), headers=headers)
    again = client.post("/v1/jobs", json=tiny_spec(5), headers=headers)
    assert first.status_code == 202 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    _error(client.post("/v1/jobs", json=tiny_spec(6), headers=headers), 409, "idempotency_conflict")


def test_pagination_and_status_filter(client: TestClient) -> None:
    ids = [client.post("/v1/jobs", json=tiny_spec(5), headers=BOB).json()["id"] for _ in range(5)]
    seen: list[str] = []
    token = None
    while True:
        params: dict[str, Any] = {"page_size": 2, **({"page_token": token} if token else {})}
        page = client.get("/v1/jobs", params=params, headers=BOB).json()
        seen += [job["id"] for job in page["jobs"]]
        token = page["next_page_token"]
        if token is None:
            break
    assert seen[:5] == list(reversed(ids))
    assert client.get("/v1/jobs", params={"status": "succeeded"}, headers=BOB).json()["jobs"] == []


def test_cancel_a_queued_job(client: TestClient) -> None:
    job = client.post("/v1/jobs", json=tiny_spec(5), headers=ALICE).json()
    first = client.post(f"/v1/jobs/{job['id']}/cancel", headers=ALICE)
    second = client.post(f"/v1/jobs/{job['id']}/cancel", headers=ALICE)
    assert first.status_code == second.status_code == 200
    assert first.json()["status"] == second.json()["status"] == "canceled"


def test_events_of_a_finished_job_end_with_its_state(client: TestClient, model_id: str) -> None:
    job_id = client.get(f"/v1/models/{model_id}", headers=ALICE).json()["job_id"]
    with client.stream("GET", f"/v1/jobs/{job_id}/events", headers=ALICE) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    events = [block for block in text.split("\n\n") if block.strip()]
    assert len(events) == 1 and events[0].startswith("event: status\ndata: ")
    assert json.loads(events[0].split("data: ", 1)[1])["status"] == "succeeded"


# ---------------------------------------------------------------------- tenants and auth
def test_another_tenants_ids_answer_404(client: TestClient, model_id: str) -> None:
    job_id = client.post("/v1/jobs", json=tiny_spec(5), headers=ALICE).json()["id"]
    for method, path in (
        ("GET", f"/v1/jobs/{job_id}"),
        ("POST", f"/v1/jobs/{job_id}/cancel"),
        ("GET", f"/v1/jobs/{job_id}/events"),
        ("GET", f"/v1/models/{model_id}"),
        ("GET", f"/v1/models/{model_id}/artifact"),
    ):
        _error(client.request(method, path, headers=BOB), 404, "not_found")
    _error(client.post(f"/v1/models/{model_id}/evaluate", json={"points": [[0, 0]]}, headers=BOB), 404)
    assert job_id not in [job["id"] for job in client.get("/v1/jobs", headers=BOB).json()["jobs"]]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic alice-key"},
        {"Authorization": "Bearer "},
    ],
)
def test_missing_or_wrong_key_is_401(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/v1/jobs", headers=headers)
    _error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


# ---------------------------------------------------------------------- bad input
def _with(path: str, value: Any) -> dict[str, Any]:
    spec = tiny_spec(5)
    target = spec
    *parents, leaf = path.split(".")
    for part in parents:
        target = target[part]
    target[leaf] = value
    return spec


BAD_SPECS = [
    ("unknown top-level field", {**tiny_spec(5), "extra": 1}, "extra", "unknown field 'extra'"),
    ("unknown nested field", _with("training.momentum", 0.9), "training.momentum", "unknown field"),
    ("typo", _with("training.learning_rat", 0.1), "training.learning_rat", "did you mean 'learning_rate'?"),
    ("bad expression", _with("problem.equation", "u_t + __import__('os')"), "problem.equation", "token"),
    ("unknown function", _with("problem.exact", "gamma(x0)"), "problem.exact", "unknown function"),
    ("unknown name", _with("problem.exact", "sin(x00)"), "problem.exact", "did you mean 'x0'?"),
    ("negative steps", _with("training.steps", -1), "training.steps", "greater than or equal to 0"),
    ("wrong kind", _with("problem.kind", "first-order"), "problem", "did you mean 'first_order'?"),
    (
        "box upside down",
        _with("problem.domain", {"box": {"lower": [0.0, 0.0], "upper": [-1.0, 6.0]}}),
        "problem.domain.box",
        "upper must exceed",
    ),
    ("domain typo", _with("problem.domain", {"bx": {}}), "problem.domain", "did you mean 'box'?"),
    (
        "condition type typo",
        _with("problem.conditions", [{"type": "dirichet", "on": "x0=lower", "value": "0"}]),
        "problem.conditions.0",
        "did you mean 'dirichlet'?",
    ),
]


@pytest.mark.parametrize(("label", "spec", "field", "says"), BAD_SPECS, ids=[b[0] for b in BAD_SPECS])
def test_bad_specs_are_422_with_one_message_per_mistake(
    client: TestClient, label: str, spec: Any, field: str, says: str
) -> None:
    """One detail per mistake, its path in the spec's own terms (no union tags, no
    ``body``), the message saying what to change; no library links or internals."""
    error = _error(client.post("/v1/jobs", json=spec, headers=ALICE), 422, "validation_error")
    assert len(error["details"]) == 1, (label, error["details"])
    (detail,) = error["details"]
    assert detail["field"] == field, label
    assert says in detail["message"] and error["message"] == f"{field}: {detail['message']}", label
    text = json.dumps(error)
    for leak in ("https://", "pydantic", "divergence_form.", "first_order.", "BoxDomain", "Value error"):
        assert leak not in text, (label, leak)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 422),
        (b'{"name": "x", "problem": NaN}', 422),
        (b"[]", 422),
        (b"", 422),
    ],
)
def test_malformed_submit_bodies(client: TestClient, body: bytes, status: int) -> None:
    response = client.post("/v1/jobs", content=body, headers={**ALICE, "Content-Type": "application/json"})
    _error(response, status)


def test_nan_in_a_spec_number_is_refused(client: TestClient) -> None:
    text = json.dumps(_with("training.learning_rate", 12345.5)).replace("12345.5", "NaN")
    assert "NaN" in text
    response = client.post("/v1/jobs", content=text, headers={**ALICE, "Content-Type": "application/json"})
    _error(response, 422)


def test_oversized_bodies_are_413(client: TestClient, model_id: str) -> None:
    big = b"{" + b" " * (MAX_OTHER_BYTES + 1) + b"}"
    response = client.post("/v1/jobs", content=big, headers={**ALICE, "Content-Type": "application/json"})
    _error(response, 413, "payload_too_large")
    points = np.zeros((MAX_JSON_POINTS + 1, 2)).tolist()
    response = client.post(f"/v1/models/{model_id}/evaluate", json={"points": points}, headers=ALICE)
    _error(response, 413, "too_many_points")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"points": [[0.5]]}, "invalid_points"),
        ({"points": [[0.5, 1.0, 2.0]]}, "invalid_points"),
        ({"points": [[0.5, 1.0], [0.5]]}, "invalid_points"),
        ({"points": []}, "invalid_points"),
        ({"points": [[0.5, "a"]]}, "validation_error"),
        ({"points": [0.5, 1.0]}, "validation_error"),
        ({"points": [[0.5, 1.0]], "outputs": ["hessian"]}, "validation_error"),
        ({"points": [[0.5, 1.0]], "extra": 1}, "validation_error"),
        ({"pts": [[0.5, 1.0]]}, "validation_error"),
    ],
)
def test_bad_evaluate_bodies(client: TestClient, model_id: str, body: Any, code: str) -> None:
    _error(client.post(f"/v1/models/{model_id}/evaluate", json=body, headers=ALICE), 422, code)


def test_non_finite_points_are_refused(client: TestClient, model_id: str) -> None:
    for text in ('{"points": [[0.5, NaN]]}', '{"points": [[0.5, Infinity]]}'):
        response = client.post(
            f"/v1/models/{model_id}/evaluate",
            content=text,
            headers={**ALICE, "Content-Type": "application/json"},
        )
        _error(response, 400, "malformed_json")
    buffer = io.BytesIO()
    np.save(buffer, np.array([[0.5, np.nan]]))
    response = client.post(
        f"/v1/models/{model_id}/evaluate",
        content=buffer.getvalue(),
        headers={**ALICE, "Content-Type": "application/x-npy"},
    )
    assert _error(response, 422, "invalid_points")["details"]["rows"] == [0]


def test_pickled_npy_is_refused(client: TestClient, model_id: str) -> None:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    response = client.post(
        f"/v1/models/{model_id}/evaluate",
        content=buffer.getvalue(),
        headers={**ALICE, "Content-Type": "application/x-npy"},
    )
    _error(response, 400, "malformed_npy")


def test_unknown_ids_paths_and_methods(client: TestClient) -> None:
    _error(client.get("/v1/jobs/nope", headers=ALICE), 404, "not_found")
    _error(client.get("/v1/models/nope", headers=ALICE), 404, "not_found")
    _error(client.get("/v2/whatever", headers=ALICE), 404, "not_found")
    _error(client.delete("/v1/jobs", headers=ALICE), 405, "method_not_allowed")
    _error(
        client.get("/v1/jobs", params={"page_token": "garbage!"}, headers=ALICE), 422, "invalid_page_token"
    )
    _error(client.get("/v1/jobs", params={"status": "done"}, headers=ALICE), 422)
    _error(client.get("/v1/jobs", params={"page_size": 0}, headers=ALICE), 422)


def test_wrong_media_type_is_415(client: TestClient, model_id: str) -> None:
    response = client.post(
        f"/v1/models/{model_id}/evaluate", content=b"points", headers={**ALICE, "Content-Type": "text/plain"}
    )
    _error(response, 415, "unsupported_media_type")


# ---------------------------------------------------------------------- models
def test_model_document(client: TestClient, model_id: str, data_dir: Path) -> None:
    info = client.get(f"/v1/models/{model_id}", headers=ALICE).json()
    local = load_model(data_dir / "models" / "alice" / model_id)
    assert info["inputs"] == ["t", "x0"]
    assert info["errors"] == local.errors and info["estimate"] == local.estimate
    kinds = {(b["quantity"], b["kind"]) for b in info["estimate"]["bounds"]}
    assert ("rms_error", "statistical") in kinds and info["estimate"]["verdict"]
    assert info["problem"] == local.spec.problem.model_dump(mode="json")
    assert info["training"]["steps"] == 30


def test_evaluate_equals_the_in_process_model(client: TestClient, model_id: str, data_dir: Path) -> None:
    local = load_model(data_dir / "models" / "alice" / model_id)
    points = np.random.default_rng(0).uniform([0, 0], [1, 6.28], size=(257, 2))
    expected = local.evaluate(points)
    body = client.post(
        f"/v1/models/{model_id}/evaluate", json={"points": points.tolist()}, headers=ALICE
    ).json()
    assert set(body) == {"value", "gradient", "bound", "inside"}  # bound: a certified sup bound
    assert body["inside"] == expected.inside.tolist() and all(body["inside"])
    np.testing.assert_array_equal(np.array(body["value"]), expected.value)
    np.testing.assert_array_equal(np.array(body["bound"]), expected.bound)
    np.testing.assert_array_equal(np.array(body["gradient"]), expected.gradient)

    buffer = io.BytesIO()
    np.save(buffer, points)
    response = client.post(
        f"/v1/models/{model_id}/evaluate",
        params={"outputs": "value,gradient,bound"},
        content=buffer.getvalue(),
        headers={**ALICE, "Content-Type": "application/x-npy"},
    )
    assert response.headers["content-type"] == "application/x-npz"
    arrays = np.load(io.BytesIO(response.content), allow_pickle=False)
    # the certified sup bound of linear transport, at every point of the domain
    assert sorted(arrays.files) == ["bound", "gradient", "value"] and expected.bound is not None
    np.testing.assert_array_equal(arrays["bound"], expected.bound)
    np.testing.assert_array_equal(arrays["value"], expected.value)
    np.testing.assert_array_equal(arrays["gradient"], expected.gradient)


def test_outputs_select_and_a_box_bound_holds_inside_only(client: TestClient, model_id: str) -> None:
    info = client.get(f"/v1/models/{model_id}", headers=ALICE).json()
    (certified,) = [
        b["value"]
        for b in info["estimate"]["bounds"]
        if b["quantity"] == "max_abs_error" and b["kind"] == "certified"
    ]
    body = client.post(
        f"/v1/models/{model_id}/evaluate",
        json={"points": [[0.5, 1.0], [2.0, 1.0]], "outputs": ["value", "bound", "gradient_bound"]},
        headers=ALICE,
    ).json()
    # inside the slab the certified sup bound; at t = 2 (outside [0, 1]) no promise (null);
    # the gradient has no certified bound for transport, so gradient_bound is null
    assert body == {"value": body["value"], "bound": [certified, None], "gradient_bound": None}
    flags = client.post(
        f"/v1/models/{model_id}/evaluate",
        json={"points": [[0.5, 1.0], [2.0, 1.0], [0.5, 7.0], [1.0, 0.0]], "outputs": ["inside"]},
        headers=ALICE,
    ).json()
    assert flags == {"inside": [True, False, False, True]}  # t = 2 and x = 7 lie outside; edges count


def test_artifact_is_the_verified_weights(client: TestClient, model_id: str) -> None:
    from safetensors import safe_open

    info = client.get(f"/v1/models/{model_id}", headers=ALICE).json()
    response = client.get(f"/v1/models/{model_id}/artifact", headers=ALICE)
    assert response.status_code == 200
    import hashlib

    assert hashlib.sha256(response.content).hexdigest() == info["weights_sha256"]
    path = Path(client.app.state.settings.data_dir) / "artifact.safetensors"  # type: ignore[attr-defined]
    path.write_bytes(response.content)
    with safe_open(str(path), framework="pt") as handle:
        assert handle.metadata()["format"] == "relupde"
        assert sorted(handle.keys()) == ["A1", "A2", "A3", "b1", "b2", "b3"]


def test_a_damaged_model_answers_model_corrupted_on_every_read_path(
    client: TestClient, data_dir: Path
) -> None:
    """A byte flipped in the weights: the model document, evaluate, plots and the artifact all
    answer 409 model_corrupted (never 200 with the damaged bytes, never a bare 500); a symlink
    in place of the weights is refused even when it points at identical bytes."""
    model_id, _ = register_model(client, data_dir, tiny_spec(10, hidden=8, name="to-damage"))
    weights = data_dir / "models" / "alice" / model_id / "weights.safetensors"
    original = weights.read_bytes()
    flipped = bytearray(original)
    flipped[-3] ^= 0x10
    weights.write_bytes(bytes(flipped))
    reads = [
        client.get(f"/v1/models/{model_id}", headers=ALICE),
        client.post(f"/v1/models/{model_id}/evaluate", json={"points": [[0.5, 1.0]]}, headers=ALICE),
        client.get(f"/v1/models/{model_id}/plot.png", headers=ALICE),
        client.get(f"/v1/models/{model_id}/artifact", headers=ALICE),
    ]
    for response in reads:
        error = _error(response, 409, "model_corrupted")
        assert error["details"] == {"model_id": model_id}
        assert "train a fresh model" in error["message"] and str(data_dir) not in error["message"]
    copy = data_dir / "elsewhere.safetensors"
    copy.write_bytes(original)
    weights.unlink()
    weights.symlink_to(copy)
    _error(client.get(f"/v1/models/{model_id}/artifact", headers=ALICE), 409, "model_corrupted")
    weights.unlink()
    weights.write_bytes(original)
    restored = client.get(f"/v1/models/{model_id}/artifact", headers=ALICE)
    assert restored.status_code == 200 and restored.content == original


def test_whole_space_models_return_bounds(client: TestClient, data_dir: Path) -> None:
    """A whole-space model answers value, gradient and both bounds; a point outside the time
    interval has no promise: its bounds are null over JSON and inf in the .npz."""
    spec = json.loads(next(p for p in EXAMPLES if p.stem == "heat-kolmogorov-5d").read_text())
    spec["network"]["hidden"], spec["training"]["steps"] = [16, 16], 30
    new_id, model = register_model(client, data_dir, spec)
    points = [[0.5, 0.1, 0.2, 0.3, 0.4, 0.5], [2.0, 0.1, 0.2, 0.3, 0.4, 0.5]]
    body = client.post(f"/v1/models/{new_id}/evaluate", json={"points": points}, headers=ALICE).json()
    expected = model.evaluate(np.array(points))
    assert set(body) == {"value", "gradient", "bound", "gradient_bound", "inside"}
    assert body["inside"] == [True, False]  # whole space: every x, but t = 2 is outside [0, 1]
    assert expected.bound is not None and expected.gradient_bound is not None
    assert body["bound"] == [float(expected.bound[0]), None]
    assert body["gradient_bound"] == [float(expected.gradient_bound[0]), None]
    info = client.get(f"/v1/models/{new_id}", headers=ALICE).json()
    assert info["estimate"]["eps"] == max(info["estimate"]["eps_value"], info["estimate"]["eps_gradient"])
    buffer = io.BytesIO()
    np.save(buffer, np.array(points))
    response = client.post(
        f"/v1/models/{new_id}/evaluate",
        content=buffer.getvalue(),
        headers={**ALICE, "Content-Type": "application/x-npy"},
    )
    arrays = np.load(io.BytesIO(response.content), allow_pickle=False)
    assert np.isinf(arrays["bound"][1]) and arrays["bound"][0] == expected.bound[0]


# ---------------------------------------------------------------------- operations
def test_health_metrics_and_openapi(client: TestClient, model_id: str) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["store"] == "sqlite"
    client.post(f"/v1/models/{model_id}/evaluate", json={"points": [[0.5, 1.0]]}, headers=ALICE)
    text = client.get("/metrics").text
    assert 'relupde_jobs{status="succeeded"}' in text
    assert 'relupde_evaluate_latency_seconds_count{form="json"}' in text
    schema = client.get("/openapi.json").json()
    for path in (
        "/v1/jobs",
        "/v1/jobs/{job_id}",
        "/v1/jobs/{job_id}/cancel",
        "/v1/jobs/{job_id}/events",
        "/v1/models/{model_id}",
        "/v1/models/{model_id}/evaluate",
        "/v1/models/{model_id}/artifact",
        "/healthz",
        "/metrics",
    ):
        assert path in schema["paths"], path
    submit = schema["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]
    assert "transport-1d" in submit["examples"]


def test_keyless_mode_serves_every_caller_as_the_default_tenant(tmp_path: Path) -> None:
    """``make run`` sets no ``RELUPDE_API_KEYS``: every caller is the tenant ``default``
    (docs/service.md), so the README's curl calls, which send no header, submit, list and
    read a job and evaluate a model of that tenant; a stray key changes nothing."""
    settings = Settings.from_env({"RELUPDE_DATA_DIR": str(tmp_path)})
    assert settings.api_keys == {}
    with TestClient(create_app(settings, dispatch=False), raise_server_exceptions=False) as client:
        response = client.post("/v1/jobs", json=tiny_spec(5))
        assert response.status_code == 202, response.text
        job = response.json()
        assert client.get("/v1/jobs").json() == {"jobs": [job], "next_page_token": None}
        assert client.get(f"/v1/jobs/{job['id']}").json() == job
        assert client.get(f"/v1/jobs/{job['id']}", headers={"Authorization": "Bearer stray"}).json() == job
        store: JobStore = client.app.state.store  # type: ignore[attr-defined]
        stored = store.get_job(job["id"], "default")
        assert stored is not None and stored.tenant == "default"

        model_id, _ = register_model(client, tmp_path, tiny_spec(30), tenant="default")
        points = [[0.0, 0.0], [0.5, 1.0], [1.0, 6.0]]
        response = client.post(f"/v1/models/{model_id}/evaluate", json={"points": points})
        assert response.status_code == 200, response.text
        local = load_model(tmp_path / "models" / "default" / model_id).evaluate(np.array(points))
        np.testing.assert_array_equal(response.json()["value"], local.value)
        np.testing.assert_array_equal(response.json()["gradient"], local.gradient)
        assert client.get(f"/v1/models/{model_id}").json()["id"] == model_id


def _jobs_metric(client: TestClient) -> dict[str, float]:
    """``relupde_jobs{status}`` of one scrape of ``GET /metrics``."""
    response = client.get("/metrics")
    assert response.status_code == 200
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    return {sample.labels["status"]: sample.value for sample in families["relupde_jobs"].samples}


def test_the_jobs_metric_counts_the_store_s_jobs_by_status(tmp_path: Path) -> None:
    """``relupde_jobs{status}`` is the number of jobs of every tenant in each status, read at
    scrape time: it equals what the API lists per status, and follows a change at once."""
    with in_process_client(tmp_path) as client:
        store: JobStore = client.app.state.store  # type: ignore[attr-defined]
        assert _jobs_metric(client) == dict.fromkeys(STATUSES, 0)
        alice = [client.post("/v1/jobs", json=tiny_spec(5), headers=ALICE).json()["id"] for _ in range(5)]
        bob = [client.post("/v1/jobs", json=tiny_spec(5), headers=BOB).json()["id"] for _ in range(3)]
        client.post(f"/v1/jobs/{alice[0]}/cancel", headers=ALICE)
        for job_id, outcome in ((alice[1], None), (alice[2], "succeeded"), (bob[0], "failed")):
            started = store.begin(job_id, "w", 4)
            assert started is not None
            if outcome == "succeeded":
                assert store.finish(job_id, started[1], "succeeded")
            elif outcome == "failed":
                assert store.finish(job_id, started[1], "failed", error="ValueError: bad data")
        expected = {"queued": 4, "running": 1, "succeeded": 1, "failed": 1, "canceled": 1}
        assert _jobs_metric(client) == expected
        for status in STATUSES:
            listed = sum(
                len(client.get("/v1/jobs", params={"status": status}, headers=who).json()["jobs"])
                for who in (ALICE, BOB)
            )
            assert listed == expected[status], status
        client.post(f"/v1/jobs/{bob[1]}/cancel", headers=BOB)
        assert _jobs_metric(client) == {**expected, "queued": 3, "canceled": 2}


# ---------------------------------------------------------------------- media types and reshape hints
@pytest.mark.parametrize(
    ("content", "media"),
    [
        ({"data": {"points": "0.5,1.0"}}, "application/x-www-form-urlencoded"),
        ({"content": b"points", "headers": {"Content-Type": "text/plain"}}, "text/plain"),
        ({"content": b"<points/>", "headers": {"Content-Type": "application/xml"}}, "application/xml"),
    ],
)
def test_evaluate_refuses_other_media_types_with_415(
    client: TestClient, model_id: str, content: dict[str, Any], media: str
) -> None:
    headers = {**ALICE, **content.pop("headers", {})}
    response = client.post(f"/v1/models/{model_id}/evaluate", headers=headers, **content)
    error = _error(response, 415, "unsupported_media_type")
    assert "application/json" in error["message"] and "application/x-npy" in error["message"]
    assert media in error["message"]


def test_check_media_type_accepts_json_and_names_what_it_accepts() -> None:
    from service.api.errors import ApiError
    from service.api.evaluation import NPY_TYPE, check_media_type

    assert check_media_type(None, ("application/json",)) == "application/json"
    assert check_media_type("Application/JSON; charset=utf-8", ("application/json",)) == "application/json"
    assert check_media_type("application/merge-patch+json", ("application/json",)) == "application/json"
    assert check_media_type(f"{NPY_TYPE}", ("application/json", NPY_TYPE)) == NPY_TYPE
    with pytest.raises(ApiError) as info:
        check_media_type("application/x-www-form-urlencoded", ("application/json", NPY_TYPE))
    error = info.value
    assert (error.status, error.code) == (415, "unsupported_media_type")
    assert f"application/json or {NPY_TYPE}" in error.message
    assert "application/x-www-form-urlencoded" in error.message
    assert error.details == {
        "accepted": ["application/json", NPY_TYPE],
        "given": "application/x-www-form-urlencoded",
    }


def test_the_json_body_dependency_answers_415_before_the_body_is_validated() -> None:
    """``json_body`` on a route with a pydantic body: a form body is 415 (not FastAPI's 422),
    JSON is validated as before."""
    from fastapi import Depends, FastAPI
    from pydantic import BaseModel

    from service.api.errors import install_error_handlers
    from service.api.evaluation import json_body

    class Body(BaseModel):
        name: str

    app = FastAPI()
    install_error_handlers(app)

    async def things(body: Body) -> dict[str, str]:
        return {"name": body.name}

    things.__annotations__["body"] = Body  # a local class: no string annotation for FastAPI to resolve
    app.post("/things", dependencies=[Depends(json_body)])(things)

    with TestClient(app) as test_client:
        form = _error(test_client.post("/things", data={"name": "x"}), 415, "unsupported_media_type")
        assert "application/json" in form["message"] and "form-urlencoded" in form["message"]
        assert test_client.post("/things", json={"name": "x"}).json() == {"name": "x"}
        _error(test_client.post("/things", json={"nom": "x"}), 422, "validation_error")


def test_a_form_body_on_submit_or_validate_is_415(client: TestClient) -> None:
    for path in ("/v1/jobs", "/v1/specs/validate"):
        response = client.post(path, data={"problem": "poisson"}, headers=ALICE)
        error = _error(response, 415, "unsupported_media_type")
        assert "application/json" in error["message"]


def test_a_1d_points_array_gets_the_reshape_hint_that_fits_the_model(
    client: TestClient, model_id: str
) -> None:
    from service.api.errors import ApiError
    from service.api.evaluation import check_points
    from solver import Model
    from tests.solver.test_plots import POISSON_1D, _model

    buffer = io.BytesIO()
    np.save(buffer, np.array([0.5, 1.0]))
    response = client.post(
        f"/v1/models/{model_id}/evaluate",
        content=buffer.getvalue(),
        headers={**ALICE, "Content-Type": "application/x-npy"},
    )
    message = _error(response, 422, "invalid_points")["message"]
    assert "(1, 2) array: points.reshape(1, -1)" in message and "reshape(-1, 1)" not in message
    one_input: Model = _model(POISSON_1D, 1)
    with pytest.raises(ApiError) as info:
        check_points(np.linspace(0.0, 1.0, 5), one_input)
    assert "(n, 1) array: points.reshape(-1, 1)" in info.value.message
    assert "reshape(1, -1)" not in info.value.message
    flat = client.post(f"/v1/models/{model_id}/evaluate", json={"points": [0.5, 1.0]}, headers=ALICE)
    assert "[[0.1], [0.2]]" in _error(flat, 422, "validation_error")["message"]


def test_progress_carries_residual_sup_and_mean_and_the_objective_apart(tmp_path: Path) -> None:
    """The job's progress shows the latest loss-curve record: sample sup and mean of every
    residual term, and the training objective kept separate; the client parses it."""
    from service.client import Client
    from solver.training import LossRecord

    with in_process_client(tmp_path) as client:
        job = client.post("/v1/jobs", json=tiny_spec(50), headers=ALICE).json()
        assert job["progress"]["residuals"] is None
        store = client.app.state.store  # type: ignore[attr-defined]
        started = store.begin(job["id"], "worker:1", 4)
        assert started is not None
        records = [
            LossRecord(0, 0.1, {"interior": 2.0}, {"interior": 1.0}, 2.5),
            LossRecord(10, 0.2, {"interior": 0.5}, {"interior": 0.1}, 0.9),
        ]
        store.report(job["id"], started[1], step=12, steps=50, loss=0.5, elapsed_s=0.3, records=records)
        progress = client.get(f"/v1/jobs/{job['id']}", headers=ALICE).json()["progress"]
        want = {"step": 10, "sup": {"interior": 0.5}, "mean": {"interior": 0.1}, "objective": 0.9}
        assert progress["residuals"] == want and progress["loss"] == 0.5
        curve = client.get(f"/v1/jobs/{job['id']}/loss", headers=ALICE).json()["records"]
        assert [r["objective"] for r in curve] == [2.5, 0.9]
        import httpx

        with Client(
            "http://testserver", api_key="alice-key", transport=httpx.MockTransport(client.send)
        ) as api:
            assert api.job(job["id"]).progress.residuals == want


def test_an_unknown_model_answers_404_whatever_the_body(client: TestClient) -> None:
    """The model is looked up before the body is parsed: a bad body for an unknown id is a
    404, not a 400 about the body."""
    for content, media in ((b"{not json", "application/json"), (b"\x93NUMPY junk", "application/x-npy")):
        response = client.post(
            "/v1/models/0123456789abcdef/evaluate", content=content, headers={**ALICE, "Content-Type": media}
        )
        _error(response, 404, "not_found")
