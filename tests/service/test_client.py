"""service.client against a fake server (httpx.MockTransport) that speaks the wire format of docs/service.md,
and its paging against the real API in process."""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sqlalchemy import update

from service.client import (
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    ChecksumError,
    Client,
    ConflictError,
    Job,
    JobCanceledError,
    JobFailedError,
    NotFoundError,
    RemoteModel,
    ServerError,
    ServiceError,
    TransportError,
    WaitTimeoutError,
)
from service.jobs.store import JobRow, JobStore
from tests.service.conftest import in_process_client, tiny_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
KEY = "secret-key"
BASE = "http://relupde.test/"
WEIGHTS = b"\x08\x00\x00\x00\x00\x00\x00\x00{}      " + bytes(range(256)) * 40
JobDict = dict[str, Any]
Handler = Callable[[httpx.Request], httpx.Response]


def _error(status: int, code: str, message: str, details: Any = None) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message, "details": details}})


class FakeServer:
    """Jobs advance one state per GET (queued -> running -> succeeded); one model "m1" over (t, x0, x1)."""

    def __init__(self, api_key: str | None = KEY, page_size: int = 2) -> None:
        self.api_key = api_key
        self.page_size = page_size
        self.jobs: dict[str, JobDict] = {}
        self.idempotency: dict[str, str] = {}
        self.requests: list[httpx.Request] = []
        self.failures: list[httpx.Response] = []  # answered first, one per request, before routing
        self.final_status = "succeeded"
        self.model: JobDict = {
            "id": "m1",
            "job_id": None,
            "created_at": "2025-01-01T00:00:00+00:00",
            "inputs": ["t", "x0", "x1"],
            "architecture": {"hidden": [8]},
            "problem": {"kind": "kolmogorov"},
            "training": {"steps": 3},
            "errors": {"rel_l2": 0.01, "linf": 0.02, "grad_linf": 0.03, "n_points": 100},
            "estimate": {"constant": 1.5},
            "weights_sha256": hashlib.sha256(WEIGHTS).hexdigest(),
            "future_field": True,
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.failures:
            return self.failures.pop(0)
        path = request.url.path
        if path == "/healthz":
            return httpx.Response(200, json={"status": "ok", "version": "test"})
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "unauthorized", "missing or wrong API key")
        for pattern, route in self._routes():
            match = re.fullmatch(pattern, f"{request.method} {path}")
            if match:
                return route(request, *match.groups())
        return _error(404, "not_found", f"no route {request.method} {path}")

    def _routes(self) -> list[tuple[str, Callable[..., httpx.Response]]]:
        return [
            (r"POST /v1/jobs", self._submit),
            (r"GET /v1/jobs", self._list),
            (r"GET /v1/jobs/([^/]+)", self._get),
            (r"POST /v1/jobs/([^/]+)/cancel", self._cancel),
            (r"GET /v1/models/([^/]+)", self._model),
            (r"POST /v1/models/([^/]+)/evaluate", self._evaluate),
            (r"GET /v1/models/([^/]+)/artifact", self._artifact),
        ]

    def _submit(self, request: httpx.Request) -> httpx.Response:
        spec = json.loads(request.content)
        if "problem" not in spec:
            return _error(422, "invalid_spec", "problem: field required", [{"loc": ["problem"]}])
        key = request.headers.get("idempotency-key")
        if key in self.idempotency:
            job = self.jobs[self.idempotency[key]]
            if job["spec"] != spec:
                return _error(409, "idempotency_conflict", "key reused with a different spec")
            return httpx.Response(200, json=job)
        job_id = f"{len(self.jobs) + 1:032x}"
        self.jobs[job_id] = {
            "id": job_id,
            "name": spec.get("name"),
            "status": "queued",
            "created_at": datetime(2025, 1, 1, tzinfo=UTC).isoformat().replace("+00:00", "Z"),
            "started_at": None,
            "finished_at": None,
            "progress": {"step": 0, "steps": 3, "loss": None, "elapsed_s": 0.0},
            "error": None,
            "model_id": None,
            "spec": spec,
            "attempts": 0,
            "unknown_future_field": {"x": 1},
        }
        if key:
            self.idempotency[key] = job_id
        return httpx.Response(202, json=self.jobs[job_id], headers={"Location": f"/v1/jobs/{job_id}"})

    def _list(self, request: httpx.Request) -> httpx.Response:
        status = request.url.params.get("status")
        size = int(request.url.params.get("page_size", self.page_size))
        start = int(request.url.params.get("page_token", "0"))
        jobs = [job for job in reversed(self.jobs.values()) if status in (None, job["status"])]
        token = str(start + size) if start + size < len(jobs) else None
        return httpx.Response(200, json={"jobs": jobs[start : start + size], "next_page_token": token})

    def _job(self, job_id: str) -> JobDict | None:
        return self.jobs.get(job_id)

    def _get(self, request: httpx.Request, job_id: str) -> httpx.Response:
        job = self._job(job_id)
        if job is None:
            return _error(404, "not_found", f"no job {job_id}")
        if job["status"] == "queued":
            job.update(status="running", started_at="2025-01-01T00:00:01+00:00", attempts=1)
            job["progress"] = {"step": 1, "steps": 3, "loss": 0.5, "elapsed_s": 1.0}
        elif job["status"] == "running":
            job.update(status=self.final_status, finished_at="2025-01-01T00:00:02+00:00")
            job["progress"] = {"step": 3, "steps": 3, "loss": 0.25, "elapsed_s": 2.0}
            if self.final_status == "succeeded":
                job["model_id"] = "m1"
            elif self.final_status == "failed":
                job["error"] = "loss became NaN"
        return httpx.Response(200, json=job)

    def _cancel(self, request: httpx.Request, job_id: str) -> httpx.Response:
        job = self._job(job_id)
        if job is None:
            return _error(404, "not_found", f"no job {job_id}")
        if job["status"] in ("queued", "running"):
            job["status"] = "canceled"
        return httpx.Response(200, json=job)

    def _model(self, request: httpx.Request, model_id: str) -> httpx.Response:
        if model_id != "m1":
            return _error(404, "not_found", f"no model {model_id}")
        return httpx.Response(200, json=self.model)

    def _evaluate(self, request: httpx.Request, model_id: str) -> httpx.Response:
        bulk = request.headers.get("content-type") == "application/x-npy"
        if bulk:
            points = np.load(io.BytesIO(request.content), allow_pickle=False)
            query = request.url.params.get("outputs")
            outputs = query.split(",") if query else None
        else:
            body = json.loads(request.content)
            points, outputs = np.asarray(body["points"], dtype=np.float64), body.get("outputs")
        if points.ndim != 2 or points.shape[1] != 3:
            return _error(422, "invalid_points", f"points must be (n, 3), got {points.shape}")
        n = points.shape[0]
        result = {
            "value": points.sum(axis=1),
            "gradient": np.ones_like(points),
            "bound": np.full(n, 0.1),
            "gradient_bound": np.full(n, 0.2),
        }
        chosen = {name: result[name] for name in outputs or result}
        if not bulk:
            return httpx.Response(200, json={name: array.tolist() for name, array in chosen.items()})
        buffer = io.BytesIO()
        np.savez(buffer, **chosen)
        return httpx.Response(200, content=buffer.getvalue(), headers={"Content-Type": "application/x-npz"})

    def _artifact(self, request: httpx.Request, model_id: str) -> httpx.Response:
        if model_id != "m1":
            return _error(404, "not_found", f"no model {model_id}")
        return httpx.Response(200, content=WEIGHTS, headers={"Content-Type": "application/octet-stream"})


SPEC: JobDict = json.loads((EXAMPLES / "poisson-2d.json").read_text())


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def client(server: FakeServer) -> Iterator[Client]:
    with Client(BASE, api_key=KEY, transport=httpx.MockTransport(server)) as client:
        yield client


def _answer(status: int, **kwargs: Any) -> Handler:
    """A handler that answers every request the same."""
    return lambda request: httpx.Response(status, **kwargs)


def _client(handler: Handler, api_key: str | None = KEY) -> Client:
    return Client(BASE, api_key=api_key, transport=httpx.MockTransport(handler))


# ---------------------------------------------------------------------------- submit and jobs
def test_submit_a_dict_parses_the_job_and_sends_the_spec_and_the_key(
    client: Client, server: FakeServer
) -> None:
    job = client.submit(SPEC)
    request = server.requests[-1]
    assert (request.method, request.url.path) == ("POST", "/v1/jobs")
    assert json.loads(request.content) == SPEC
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert "idempotency-key" not in request.headers
    assert isinstance(job, Job)
    assert re.fullmatch(r"[0-9a-f]{32}", job.id)
    assert (job.status, job.name, job.done, job.model_id, job.error) == (
        "queued",
        SPEC.get("name"),
        False,
        None,
        None,
    )
    assert job.created_at == datetime(2025, 1, 1, tzinfo=UTC)
    assert job.started_at is None
    assert job.progress.steps == 3
    assert job.progress.loss is None
    assert job.spec == SPEC
    assert job.raw["unknown_future_field"] == {"x": 1}


@pytest.mark.parametrize("as_path", [str, Path])
def test_submit_a_file_path_sends_its_json(
    client: Client, server: FakeServer, as_path: Callable[[Path], str | Path]
) -> None:
    path = EXAMPLES / "heat-2d.json"
    job = client.submit(as_path(path))
    assert json.loads(server.requests[-1].content) == json.loads(path.read_text())
    assert job.name == "heat-2d"


def test_submit_a_jobspec_sends_what_the_file_says(client: Client, server: FakeServer) -> None:
    from solver import JobSpec

    path = EXAMPLES / "transport-1d.json"
    spec = JobSpec.model_validate_json(path.read_text())
    client.submit(spec)
    sent = json.loads(server.requests[-1].content)
    assert sent == json.loads(path.read_text())
    assert JobSpec.model_validate(sent) == spec


def test_submit_refuses_unreadable_specs_locally(client: Client, server: FakeServer, tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "bad.json").write_text("{not json")
    for spec, words in [
        (tmp_path / "missing.json", "cannot read"),
        ('{"problem": {}}', "json.loads"),
        (tmp_path / "list.json", "JSON object"),
        (tmp_path / "bad.json", "not valid JSON"),
        (42, "not int"),
    ]:
        with pytest.raises(BadRequestError, match=words) as info:
            client.submit(spec)  # type: ignore[arg-type]
        assert (info.value.status_code, info.value.code) == (None, "invalid_spec")
    assert server.requests == []


def test_idempotency_key_returns_the_same_job_and_conflicts_on_another_spec(
    client: Client, server: FakeServer
) -> None:
    first = client.submit(SPEC, idempotency_key="k-1")
    assert server.requests[-1].headers["idempotency-key"] == "k-1"
    assert client.submit(SPEC, idempotency_key="k-1").id == first.id
    assert len(server.jobs) == 1
    with pytest.raises(ConflictError) as info:
        client.submit({**SPEC, "name": "other"}, idempotency_key="k-1")
    assert (info.value.status_code, info.value.code) == (409, "idempotency_conflict")
    assert client.submit(SPEC).id != first.id


def test_no_api_key_means_no_authorization_header() -> None:
    server = FakeServer(api_key=None)
    with _client(server, api_key=None) as client:
        client.submit(SPEC)
        assert client.health()["status"] == "ok"
    assert all("authorization" not in request.headers for request in server.requests)


def test_a_wrong_key_is_an_authentication_error() -> None:
    with _client(FakeServer(), api_key="wrong") as client, pytest.raises(AuthenticationError) as info:
        client.submit(SPEC)
    assert (info.value.status_code, info.value.code) == (401, "unauthorized")
    assert str(info.value) == "unauthorized (HTTP 401): missing or wrong API key"


@pytest.mark.parametrize("base", ["http://relupde.test", "http://relupde.test/", "http://relupde.test/api/"])
def test_base_url_with_or_without_slash(base: str) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"status": "ok"})

    with Client(base, transport=httpx.MockTransport(handler)) as client:
        client.health()
    assert seen == [base.rstrip("/") + "/healthz"]


def test_job_cancel_and_a_missing_job(client: Client, server: FakeServer) -> None:
    job = client.submit(SPEC)
    assert client.job(job.id).status == "running"
    canceled = client.cancel(job)
    assert server.requests[-1].url.path == f"/v1/jobs/{job.id}/cancel"
    assert canceled.status == "canceled"
    assert canceled.done
    with pytest.raises(JobCanceledError) as info:
        canceled.raise_for_status()
    assert info.value.job is canceled
    with pytest.raises(NotFoundError, match="no job nope"):
        client.job("nope")
    with pytest.raises(BadRequestError, match="non-empty"):
        client.job("")


def test_jobs_pages_and_iter_jobs_walks_them_all(client: Client, server: FakeServer) -> None:
    ids = [client.submit({**SPEC, "name": f"job {i}"}).id for i in range(5)]
    page = client.jobs(page_size=2)
    assert [job.id for job in page.jobs] == ids[::-1][:2]
    assert page.next_page_token == "2"
    last = client.jobs(page_size=2, page_token="4")
    assert last.next_page_token is None
    assert [job.id for job in client.iter_jobs()] == ids[::-1]
    assert server.requests[-1].url.params["page_token"] == "4"
    client.job(ids[0])  # now running
    assert [job.id for job in client.iter_jobs(status="running")] == [ids[0]]
    assert server.requests[-1].url.params["status"] == "running"


# ---------------------------------------------------------------------------- wait
def test_wait_follows_the_job_to_success(client: Client, server: FakeServer) -> None:
    job = client.wait(client.submit(SPEC).id, poll_interval=0.001)
    assert (job.status, job.model_id, job.progress.step, job.progress.loss) == ("succeeded", "m1", 3, 0.25)
    assert job.raise_for_status() is job
    assert job.finished_at is not None
    assert [r.url.path for r in server.requests].count(f"/v1/jobs/{job.id}") == 2


def test_wait_returns_a_failed_job_and_raise_for_status_raises(client: Client, server: FakeServer) -> None:
    server.final_status = "failed"
    job = client.wait(client.submit(SPEC), poll_interval=0.001)
    assert job.status == "failed"
    with pytest.raises(JobFailedError, match="loss became NaN") as info:
        job.raise_for_status()
    assert info.value.job is job


def test_wait_times_out_with_the_last_state(client: Client, server: FakeServer) -> None:
    server.final_status = "running"  # never finishes
    job = client.submit(SPEC)
    with pytest.raises(WaitTimeoutError, match="still running") as info:
        client.wait(job.id, timeout=0.02, poll_interval=0.005)
    assert info.value.job.status == "running"
    assert info.value.code == "wait_timeout"
    with pytest.raises(WaitTimeoutError):
        client.wait(job.id, timeout=0)


def test_wait_rides_out_transient_failures_but_not_others(client: Client, server: FakeServer) -> None:
    job = client.submit(SPEC)
    server.failures = [
        _error(503, "unavailable", "restarting"),
        httpx.Response(502, text="<html>bad gateway"),
    ]
    assert client.wait(job.id, poll_interval=0.001).status == "succeeded"
    server.failures = [_error(503, "unavailable", "restarting")] * 10
    with pytest.raises(ServerError, match="restarting"):
        client.wait(job.id, poll_interval=0.001)
    with pytest.raises(NotFoundError):
        client.wait("nope", poll_interval=0.001)
    server.failures = [_error(503, "unavailable", "restarting")]
    with pytest.raises(ServerError, match="restarting") as info:
        client.wait(job.id, timeout=0)
    assert not isinstance(info.value, WaitTimeoutError)


def test_wait_survives_a_dropped_connection() -> None:
    server = FakeServer()
    calls = 0

    def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise httpx.ConnectError("connection refused", request=request)
        return server(request)

    with _client(flaky) as client:
        assert client.wait(client.submit(SPEC).id, poll_interval=0.001).status == "succeeded"
    assert calls == 4


def test_wait_draws_a_progress_bar_only_on_a_terminal(
    client: Client, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    client.wait(client.submit(SPEC).id, poll_interval=0.001)
    shown = terminal.getvalue()
    assert "3/3" in shown
    assert "loss=2.500e-01" in shown
    monkeypatch.setattr("sys.stderr", io.StringIO())
    client.wait(client.submit(SPEC).id, poll_interval=0.001)
    client.wait(client.submit(SPEC).id, poll_interval=0.001, progress=False)
    assert terminal.getvalue() == shown


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequestError),
        (413, BadRequestError),
        (415, BadRequestError),
        (422, BadRequestError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, NotFoundError),
        (409, ConflictError),
        (429, ServerError),
        (500, ServerError),
        (503, ServerError),
        (302, ServerError),
    ],
)
def test_every_status_maps_to_its_error(status: int, kind: type[ServiceError]) -> None:
    details = {"field": "x"}
    envelope = {"error": {"code": "some_code", "message": "what went wrong", "details": details}}
    with _client(_answer(status, json=envelope)) as client:
        with pytest.raises(kind) as info:
            client.job("a")
        assert (info.value.status_code, info.value.code, info.value.message) == (
            status,
            "some_code",
            "what went wrong",
        )
        assert info.value.details == details
        assert str(info.value) == f"some_code (HTTP {status}): what went wrong"
    html = "<html>" + "x" * 1000 + "</html>"
    with _client(_answer(status, text=html)) as client, pytest.raises(kind) as info:
        client.submit(SPEC)
    assert info.value.code == f"http_{status}"
    assert info.value.message.startswith(f"HTTP {status} ")
    assert "<html>xxx" in info.value.message
    assert len(info.value.message) < 500


def test_other_json_bodies_are_not_taken_for_envelopes() -> None:
    with _client(_answer(404, json={"detail": "Not Found"})) as client, pytest.raises(NotFoundError) as info:
        client.job("a")
    assert info.value.code == "http_404"
    assert "Not Found" in info.value.message
    assert info.value.details == {"detail": "Not Found"}


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("connection refused"),
        httpx.ReadTimeout("timed out"),
        httpx.RemoteProtocolError("x"),
    ],
)
def test_transport_errors_are_wrapped(exc: httpx.TransportError) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    with _client(handler) as client, pytest.raises(TransportError) as info:
        client.health()
    assert (info.value.status_code, info.value.code) == (None, "transport_error")
    assert "relupde.test" in info.value.message
    assert isinstance(info.value.__cause__, httpx.TransportError)


def test_a_success_that_is_not_a_job_is_a_server_error() -> None:
    for body in [b"<html>ok</html>", b"[1]", json.dumps({"id": "x", "status": "queued"}).encode()]:
        with _client(_answer(200, content=body)) as client, pytest.raises(ServerError) as info:
            client.job("x")
        assert info.value.code == "invalid_response"


# ---------------------------------------------------------------------------- models
def _model(client: Client) -> RemoteModel:
    return client.model(client.wait(client.submit(SPEC).id, poll_interval=0.001).model_id or "")


def test_model_info_and_json_evaluate(client: Client, server: FakeServer) -> None:
    model = _model(client)
    assert model.id == "m1"
    assert model.inputs == ["t", "x0", "x1"]
    assert model.errors is not None
    assert model.errors["linf"] == 0.02
    assert model.estimate == {"constant": 1.5}
    assert model.info["future_field"] is True
    points = np.array([[0.0, 1.0, 2.0], [0.5, -1.0, 0.25]])
    out = model.evaluate(points)
    request = server.requests[-1]
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {"points": points.tolist()}
    assert out.value is not None and out.gradient is not None and out.bound is not None
    np.testing.assert_array_equal(out.value, [3.0, -0.25])
    np.testing.assert_array_equal(out.gradient, np.ones((2, 3)))
    np.testing.assert_array_equal(out.bound, [0.1, 0.1])
    assert out.value.dtype == np.float64
    assert out.gradient_bound is not None


def test_evaluate_an_outputs_subset(client: Client, server: FakeServer) -> None:
    model = _model(client)
    out = model.evaluate([[1.0, 2.0, 3.0]], outputs=["value"])
    assert json.loads(server.requests[-1].content)["outputs"] == ["value"]
    assert out.value is not None
    np.testing.assert_array_equal(out.value, [6.0])
    assert (out.gradient, out.bound, out.gradient_bound) == (None, None, None)
    out = model.evaluate(np.zeros((2, 3)), outputs=["gradient", "bound"], bulk=True)
    assert server.requests[-1].url.params["outputs"] == "gradient,bound"
    assert out.gradient is not None and out.gradient.shape == (2, 3)
    assert out.value is None
    assert out.gradient_bound is None


def test_bulk_evaluate_sends_npy_and_reads_npz(client: Client, server: FakeServer) -> None:
    model = _model(client)
    points = np.arange(12, dtype=np.float64).reshape(4, 3)
    out = model.evaluate(points, bulk=True)
    request = server.requests[-1]
    assert request.headers["content-type"] == "application/x-npy"
    np.testing.assert_array_equal(np.load(io.BytesIO(request.content), allow_pickle=False), points)
    assert out.value is not None and out.gradient is not None and out.gradient_bound is not None
    np.testing.assert_array_equal(out.value, points.sum(axis=1))
    np.testing.assert_array_equal(out.gradient, np.ones((4, 3)))
    np.testing.assert_array_equal(out.gradient_bound, np.full(4, 0.2))


def test_bulk_is_the_default_above_ten_thousand_points(client: Client, server: FakeServer) -> None:
    model = _model(client)
    model.evaluate(np.zeros((10_000, 3)), outputs=["value"])
    assert server.requests[-1].headers["content-type"] == "application/json"
    out = model.evaluate(np.ones((10_001, 3)), outputs=["value"])
    assert server.requests[-1].headers["content-type"] == "application/x-npy"
    assert out.value is not None and out.value.shape == (10_001,)
    np.testing.assert_array_equal(out.value, 3.0)


@settings(max_examples=25, deadline=None)
@given(points=arrays(np.float64, st.tuples(st.integers(1, 6), st.just(3)), elements=st.floats(-1e6, 1e6)))
def test_json_and_bulk_agree_exactly(points: np.ndarray[Any, np.dtype[np.float64]]) -> None:
    with _client(FakeServer()) as client:
        model = RemoteModel(FakeServer().model, client)
        by_json, by_npy = model.evaluate(points, bulk=False), model.evaluate(points, bulk=True)
    assert by_json.value is not None and by_npy.value is not None
    np.testing.assert_array_equal(by_json.value, by_npy.value)
    np.testing.assert_array_equal(by_npy.value, points.sum(axis=1))


@pytest.mark.parametrize(
    ("points", "words"),
    [
        ([1.0, 2.0, 3.0], r"2-D of shape \(n, 3\) with columns \(t, x0, x1\).*reshape\(1, -1\)"),
        ([[1.0, 2.0]], r"shape \(n, 3\) with columns \(t, x0, x1\), not \(1, 2\)"),
        ([[1.0, np.nan, 0.0]], "finite"),
        ([[1.0, np.inf, 0.0]], "finite"),
        ([[1.0, 2.0, 3.0], [1.0]], "numbers"),
        ([["a", "b", "c"]], "numbers"),
    ],
)
def test_points_are_checked_before_sending(
    client: Client, server: FakeServer, points: Any, words: str
) -> None:
    model = _model(client)
    sent = len(server.requests)
    with pytest.raises(BadRequestError, match=words) as info:
        model.evaluate(points)
    assert (info.value.status_code, info.value.code) == (None, "invalid_points")
    with pytest.raises(BadRequestError, match="outputs"):
        model.evaluate([[1.0, 2.0, 3.0]], outputs=["values"])
    assert len(server.requests) == sent


def test_a_bad_evaluate_answer_is_a_server_error(client: Client, server: FakeServer) -> None:
    model = _model(client)
    server.failures = [httpx.Response(200, json={"value": [1.0, 2.0]})]
    with pytest.raises(ServerError, match="'value' has shape"):
        model.evaluate([[1.0, 2.0, 3.0]])
    server.failures = [
        httpx.Response(200, content=b"PK garbage", headers={"Content-Type": "application/x-npz"})
    ]
    with pytest.raises(ServerError, match="npz"):
        model.evaluate([[1.0, 2.0, 3.0]], bulk=True)


def test_download_writes_the_artifact(client: Client, server: FakeServer, tmp_path: Path) -> None:
    model = _model(client)
    target = tmp_path / "weights.safetensors"
    assert model.download(target) == target
    assert target.read_bytes() == WEIGHTS
    assert server.requests[-1].url.path == "/v1/models/m1/artifact"
    assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    server.failures = [_error(404, "not_found", "model deleted")]
    with pytest.raises(NotFoundError, match="model deleted"):
        model.download(tmp_path / "gone.safetensors")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weights.safetensors"]


def test_a_download_that_fails_its_sha256_is_refused(
    client: Client, server: FakeServer, tmp_path: Path
) -> None:
    model = _model(client)
    flipped = bytearray(WEIGHTS)
    flipped[-1] ^= 1
    server.failures = [httpx.Response(200, content=bytes(flipped))]
    with pytest.raises(ChecksumError, match="nothing was written") as info:
        model.download(tmp_path / "w.safetensors")
    assert info.value.details["expected"] == hashlib.sha256(WEIGHTS).hexdigest()
    assert list(tmp_path.iterdir()) == []


class BrokenStream(httpx.SyncByteStream):
    """A body that breaks off after its first chunk."""

    def __iter__(self) -> Iterator[bytes]:
        yield WEIGHTS[:100]
        raise httpx.ReadError("connection reset by peer")


def test_a_download_cut_short_leaves_no_file(client: Client, server: FakeServer, tmp_path: Path) -> None:
    model = _model(client)
    server.failures = [httpx.Response(200, stream=BrokenStream())]
    with pytest.raises(TransportError, match="connection reset"):
        model.download(tmp_path / "w.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_model_of_an_unfinished_job_says_what_to_do(client: Client) -> None:
    job = client.submit(SPEC)
    with pytest.raises(BadRequestError, match="until the job has succeeded"):
        client.model(job.model_id)  # type: ignore[arg-type]
    with pytest.raises(NotFoundError):
        client.model("m2")


# ---------------------------------------------------------------------------- async
def test_async_client_does_the_same(tmp_path: Path) -> None:
    server = FakeServer()

    async def scenario() -> None:
        async with AsyncClient(
            BASE.rstrip("/"), api_key=KEY, transport=httpx.MockTransport(server)
        ) as client:
            assert (await client.health())["status"] == "ok"
            job = await client.submit(EXAMPLES / "poisson-2d.json", idempotency_key="a-1")
            assert server.requests[-1].headers["idempotency-key"] == "a-1"
            other = await client.submit(SPEC)
            assert (await client.job(job.id)).status == "running"
            assert (await client.cancel(other)).status == "canceled"
            assert [j.id async for j in client.iter_jobs()] == [other.id, job.id]
            page = await client.jobs(page_size=1)
            assert page.next_page_token == "1"
            done = await client.wait(job.id, poll_interval=0.001)
            assert done.raise_for_status().model_id == "m1"
            model = await client.model("m1")
            out = await model.evaluate([[1.0, 2.0, 3.0]], outputs=["value", "gradient"])
            assert out.value is not None and out.gradient is not None and out.bound is None
            np.testing.assert_array_equal(out.value, [6.0])
            bulk = await model.evaluate(np.ones((3, 3)), bulk=True)
            assert bulk.bound is not None
            np.testing.assert_array_equal(bulk.bound, 0.1)
            assert await model.download(tmp_path / "w.safetensors") == tmp_path / "w.safetensors"
            server.failures = [httpx.Response(200, content=WEIGHTS[:-1])]
            with pytest.raises(ChecksumError):
                await model.download(tmp_path / "short.safetensors")
            server.final_status = "running"
            stuck = await client.submit({**SPEC, "name": "stuck"})
            with pytest.raises(WaitTimeoutError):
                await client.wait(stuck.id, timeout=0.01, poll_interval=0.002)
            with pytest.raises(NotFoundError):
                await client.job("nope")

    asyncio.run(scenario())
    assert (tmp_path / "w.safetensors").read_bytes() == WEIGHTS


def test_async_transport_errors_are_wrapped() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async def scenario() -> None:
        async with AsyncClient(BASE, transport=httpx.MockTransport(refuse)) as client:
            with pytest.raises(TransportError, match="no answer from"):
                await client.submit(SPEC)

    asyncio.run(scenario())


# ---------------------------------------------------------------------------- against the real API
def test_iter_jobs_against_the_api_yields_every_job_once_newest_first(tmp_path: Path) -> None:
    """``iter_jobs`` against the real API (in process): more jobs than a page, four of them
    created in the same instant (the page token breaks ties by id), and another tenant's job.
    For every page size it yields each of the tenant's jobs exactly once, newest first (created,
    then id, descending), one request per page; the status filter pages too, and so does the
    async client."""
    with in_process_client(tmp_path) as app:
        requests: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            requests.append(request)
            response: httpx.Response = app.send(request)
            return response

        with (
            Client(
                "http://testserver", api_key="alice-key", transport=httpx.MockTransport(handler)
            ) as client,
            Client("http://testserver", api_key="bob-key", transport=httpx.MockTransport(app.send)) as bob,
        ):
            ids = [client.submit(tiny_spec(5, name=f"job {i}")).id for i in range(7)]
            bob.submit(tiny_spec(5))
            store: JobStore = app.app.state.store  # type: ignore[attr-defined]
            tie = store.get_job(ids[2])
            assert tie is not None
            with store.engine.begin() as connection:
                connection.execute(
                    update(JobRow).where(JobRow.id.in_(ids[2:6])).values(created_at=tie.created_at)
                )
            newest_first = [ids[6], *sorted(ids[2:6], reverse=True), ids[1], ids[0]]
            for page_size, pages in ((1, 7), (2, 4), (3, 3), (7, 1), (None, 1)):
                requests.clear()
                walked = [job.id for job in itertools.islice(client.iter_jobs(page_size=page_size), 20)]
                assert walked == newest_first, page_size
                assert len(requests) == pages, page_size
            for job_id in (ids[0], ids[3], ids[6]):
                client.cancel(job_id)
            canceled = [job.id for job in itertools.islice(client.iter_jobs("canceled", page_size=1), 20)]
            assert canceled == [ids[6], ids[3], ids[0]]

        async def walk() -> list[str]:
            transport = httpx.ASGITransport(app=app.app)
            walked: list[str] = []
            async with AsyncClient("http://testserver", api_key="alice-key", transport=transport) as client:
                async for job in client.iter_jobs(page_size=2):
                    walked.append(job.id)
                    if len(walked) == 20:  # a paging bug must not loop forever
                        break
            return walked

        assert asyncio.run(walk()) == newest_first


# ---------------------------------------------------------------------------- events
def _sse_event(kind: str, job: JobDict) -> str:
    return f"event: {kind}\ndata: {json.dumps(job)}\n\n"


def _job_states(server: FakeServer, client: Client) -> list[JobDict]:
    """The FakeServer job's three states: queued, running, succeeded (copies)."""
    job = client.submit(SPEC)
    states = [json.loads(json.dumps(server.jobs[job.id]))]
    for _ in range(2):
        client.job(job.id)
        states.append(json.loads(json.dumps(server.jobs[job.id])))
    return states


def _sse_handler(server: FakeServer, body: str | httpx.SyncByteStream, status: int = 200) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events"):
            server.requests.append(request)
            headers = {"Content-Type": "text/event-stream; charset=utf-8"}
            if isinstance(body, str):
                return httpx.Response(status, content=body.encode(), headers=headers)
            return httpx.Response(status, stream=body, headers=headers)
        return server(request)

    return handler


def test_events_yields_each_event_skips_keep_alives_and_ends_after_the_final_status() -> None:
    from service.client import Event

    server = FakeServer()
    with _client(server) as setup:
        queued, running, done = _job_states(server, setup)
    split = json.dumps(running).replace(', "status"', ',\ndata: "status"', 1)  # data over two lines
    assert "\ndata: " in split
    body = (
        ": keep-alive\n\n"
        + _sse_event("status", queued)
        + f"event: progress\r\ndata: {split}\r\n\r\n"
        + ": keep-alive\n\n"
        + _sse_event("status", running)
        + _sse_event("status", done)
        + "event: status\ndata: {never read\n\n"
    )
    with _client(_sse_handler(server, body)) as client:
        events = list(client.events(queued["id"]))
    request = server.requests[-1]
    assert (request.method, request.url.path) == ("GET", f"/v1/jobs/{queued['id']}/events")
    assert request.headers["accept"] == "text/event-stream"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert all(isinstance(event, Event) and isinstance(event.job, Job) for event in events)
    assert [(e.kind, e.job.status) for e in events] == [
        ("status", "queued"),
        ("progress", "running"),
        ("status", "running"),
        ("status", "succeeded"),
    ]
    assert events[1].job.progress.step == 1 and events[-1].job.model_id == "m1"
    assert events[-1].job.raw == done


def test_events_end_with_the_stream_and_flush_a_last_event_without_a_blank_line() -> None:
    server = FakeServer()
    with _client(server) as setup:
        queued, running, _ = _job_states(server, setup)
    body = _sse_event("status", queued) + f"event: progress\ndata: {json.dumps(running)}"
    with _client(_sse_handler(server, body)) as client:
        assert [e.kind for e in client.events(queued["id"])] == ["status", "progress"]
    with _client(_sse_handler(server, "")) as client:
        assert list(client.events(queued["id"])) == []


class _CutStream(httpx.SyncByteStream):
    def __init__(self, first: str) -> None:
        self.first = first

    def __iter__(self) -> Iterator[bytes]:
        yield self.first.encode()
        raise httpx.ReadError("connection reset by peer")


def test_events_errors_are_service_errors() -> None:
    server = FakeServer()
    with _client(server) as setup:
        queued, _, _ = _job_states(server, setup)
    with _client(server) as client, pytest.raises(NotFoundError, match="no route"):
        next(iter(client.events(queued["id"])))  # FakeServer has no events route: 404 envelope
    with _client(_answer(200, json={"status": "ok"})) as client, pytest.raises(ServerError) as info:
        list(client.events(queued["id"]))
    assert info.value.code == "invalid_response" and "text/event-stream" in info.value.message
    bad = _sse_handler(server, "event: status\ndata: {oops\n\n")
    with _client(bad) as client, pytest.raises(ServerError, match="not JSON"):
        list(client.events(queued["id"]))
    cut = _CutStream(_sse_event("status", queued))
    with _client(_sse_handler(server, cut)) as client:
        events = client.events(queued["id"])
        assert next(events).job.status == "queued"
        with pytest.raises(TransportError, match="connection reset"):
            next(events)
    with _client(server) as client, pytest.raises(BadRequestError, match="non-empty"):
        client.events("")


def test_async_events_are_the_same() -> None:
    server = FakeServer()
    with _client(server) as setup:
        queued, running, done = _job_states(server, setup)
    body = _sse_event("status", queued) + ": keep-alive\n\n" + _sse_event("progress", running)
    body += _sse_event("status", done) + _sse_event("status", done)

    async def scenario() -> list[tuple[str, str]]:
        transport = httpx.MockTransport(_sse_handler(server, body))
        async with AsyncClient(BASE, api_key=KEY, transport=transport) as client:
            return [(e.kind, e.job.status) async for e in client.events(queued["id"])]

    assert asyncio.run(scenario()) == [("status", "queued"), ("progress", "running"), ("status", "succeeded")]


def test_events_of_a_finished_job_against_the_api(tmp_path: Path) -> None:
    """The real stream of a job that has finished (canceled): its final status, then the end."""
    with (
        in_process_client(tmp_path) as app,
        Client("http://testserver", api_key="alice-key", transport=httpx.MockTransport(app.send)) as client,
    ):
        job = client.cancel(client.submit(tiny_spec(5, name="watched")))
        events = list(client.events(job))
        assert [(e.kind, e.job.id, e.job.status, e.job.name) for e in events] == [
            ("status", job.id, "canceled", "watched")
        ]
        with pytest.raises(NotFoundError):
            list(client.events("0" * 32))

        async def watch() -> list[str]:
            transport = httpx.ASGITransport(app=app.app)
            async with AsyncClient("http://testserver", api_key="alice-key", transport=transport) as aclient:
                return [e.job.status async for e in aclient.events(job.id)]

        assert asyncio.run(watch()) == ["canceled"]


# ---------------------------------------------------------------------------- reshape hints
@pytest.mark.parametrize(
    ("inputs", "right", "wrong"),
    [(["x0"], "reshape(-1, 1)", "reshape(1, -1)"), (["t", "x0", "x1"], "reshape(1, -1)", "reshape(-1, 1)")],
)
def test_a_1d_array_of_points_gets_the_reshape_that_fits_the_model(
    inputs: list[str], right: str, wrong: str
) -> None:
    server = FakeServer()
    with _client(server) as client:
        model = RemoteModel({**server.model, "inputs": inputs}, client)
        with pytest.raises(BadRequestError) as info:
            model.evaluate(np.linspace(0.0, 1.0, 5))
    assert right in info.value.message and wrong not in info.value.message
    assert server.requests == []


# ---------------------------------------------------------------------------- plots
def _png_bytes(height: int, width: int) -> bytes:
    from matplotlib.image import imsave

    buffer = io.BytesIO()
    imsave(buffer, np.linspace(0.0, 1.0, height * width).reshape(height, width), format="png")
    return buffer.getvalue()


def _plot_handler(server: FakeServer, content: bytes, media: str = "image/png") -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/plot.png"):
            server.requests.append(request)
            return httpx.Response(200, content=content, headers={"Content-Type": media})
        return server(request)

    return handler


def test_plot_is_a_figure_of_the_servers_png() -> None:
    from matplotlib.figure import Figure

    server = FakeServer()
    png = _png_bytes(30, 50)
    with _client(_plot_handler(server, png)) as client:
        model = RemoteModel(server.model, client)
        figure = model.plot("error", x="x0", y="none", at={"x1": 0.5}, times=[0, 1], resolution=50)
        default = model.plot()
    assert isinstance(figure, Figure) and isinstance(default, Figure)
    (axes,) = figure.axes
    (image,) = axes.get_images()
    assert image.get_array().shape[:2] == (30, 50)
    assert not axes.axison
    assert tuple(figure.get_size_inches() * figure.dpi) == pytest.approx((50, 30))
    first, second = server.requests[-2:]
    assert first.url.path == "/v1/models/m1/plot.png"
    assert dict(first.url.params) == {
        "kind": "error",
        "x": "x0",
        "y": "none",
        "at": "x1:0.5",
        "times": "0.0,1.0",
        "resolution": "50",
    }
    assert dict(second.url.params) == {"kind": "solution"}
    assert first.headers["authorization"] == f"Bearer {KEY}"


def test_plot_errors() -> None:
    server = FakeServer()
    with _client(_plot_handler(server, b"<html>")) as client:
        model = RemoteModel(server.model, client)
        with pytest.raises(BadRequestError, match="unknown plot option"):
            model.plot(colour="red")
        assert server.requests == []
        with pytest.raises(ServerError, match="not a PNG"):
            model.plot()
    invalid = _error(422, "invalid_plot", "kind=error compares with `exact`")
    with (
        _client(_answer(422, json=invalid.json())) as client,
        pytest.raises(BadRequestError, match="compares with"),
    ):
        RemoteModel(server.model, client).plot("error")


def test_async_plot() -> None:
    from matplotlib.figure import Figure

    server = FakeServer()

    async def scenario() -> Figure:
        transport = httpx.MockTransport(_plot_handler(server, _png_bytes(20, 10)))
        async with AsyncClient(BASE, api_key=KEY, transport=transport) as client:
            return await (await client.model("m1")).plot("solution", reach=10)

    figure = asyncio.run(scenario())
    assert figure.axes[0].get_images()[0].get_array().shape[:2] == (20, 10)
    assert server.requests[-1].url.params["reach"] == "10.0"


# ---------------------------------------------------------------------------- notebook reprs
def test_job_reprs_show_the_state_and_escape_strings(client: Client, server: FakeServer) -> None:
    job = client.submit({**SPEC, "name": "<script>alert(1)</script>"})
    server.final_status = "failed"
    client.job(job.id)
    failed = client.job(job.id)
    text = repr(failed)
    assert text.startswith("Job(") and failed.id in text and "'failed'" in text
    assert "step 3 of 3, loss 2.500e-01" in text and "loss became NaN" in text
    assert "spec" not in text and "datetime" not in text
    page = failed._repr_html_()
    assert page.startswith("<table>") and "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    for value in (failed.id, "failed", "step 3 of 3, loss 2.500e-01", "loss became NaN"):
        assert f"<td style='text-align:left'>{value}</td>" in page
    assert "&lt;script&gt;" in job._repr_html_() and "queued" in job._repr_html_()


def test_model_reprs_show_inputs_errors_and_verdict(client: Client, server: FakeServer) -> None:
    info = {**server.model, "estimate": {"verdict": "rms |u - u*| <= 1.2e-02 <certified>", "bounds": []}}
    model = RemoteModel(info, client)
    text = repr(model)
    assert text.startswith("RemoteModel(id='m1', inputs=['t', 'x0', 'x1']")
    assert "rel_l2 1.000e-02, linf 2.000e-02, grad_linf 3.000e-02" in text and "1.2e-02" in text
    page = model._repr_html_()
    assert "<certified>" not in page and "&lt;certified&gt;" in page
    for value in ("m1", "t, x0, x1", "rel_l2 1.000e-02, linf 2.000e-02, grad_linf 3.000e-02"):
        assert f"<td style='text-align:left'>{value}</td>" in page
    bare = RemoteModel({"id": "<m>", "inputs": ["x0"]}, client)
    assert "&lt;m&gt;" in bare._repr_html_() and "no bounds" in bare._repr_html_()
    assert repr(bare) == "RemoteModel(id='<m>', inputs=['x0'])"


def test_the_client_imports_with_httpx_and_numpy_alone() -> None:
    """A user's notebook needs httpx and numpy only: importing service.client loads no torch,
    Dask, SQLAlchemy, pydantic, tqdm, FastAPI, matplotlib, nor the solver (checked in a fresh
    interpreter where importing any of them fails)."""
    import subprocess
    import sys

    blocked = ("torch", "distributed", "dask", "sqlalchemy", "pydantic", "tqdm", "fastapi", "matplotlib")
    program = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {(*blocked, 'solver', 'models')!r}:\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import service.client\n"
        "service.client.Client('http://127.0.0.1:9', api_key='k').close()\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
