"""The server's limits (docs/service.md, "Limits"): per-tenant quotas, caps on a job spec, the
read timeout for slow clients, the cap on a plot's work, no work for a client that has gone
away, and one structured log line per job transition (never an API key)."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import uvicorn
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

import service.api.routes.models as model_routes
import service.api.routes.plots as plot_routes
import solver.plots
from service.api.disconnect import CLIENT_CLOSED, run_unless_disconnected
from service.api.quotas import RETRY_AFTER_S
from service.api.timeouts import ReadTimeout
from service.app import create_app
from service.jobs.runner import run_job
from service.jobs.store import JobStore, ModelRecord, TooManyJobsError, now
from service.settings import (
    DEFAULT_MAX_PLOT_WORK,
    Settings,
    SettingsError,
)
from solver import JobSpec, solve
from solver.model import Model
from solver.plots import PlotStopped, plot_model, plot_work
from tests.service.conftest import ALICE, BOB, ROOT, in_process_client, register_model, tiny_spec
from tests.service.live import free_port

JOB_LOG = "relupde.jobs"


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    return error


# ---------------------------------------------------------------------- settings
def test_limit_settings_defaults_and_environment() -> None:
    settings = Settings.from_env({})
    assert settings.max_active_jobs == 20
    assert settings.max_model_bytes_per_tenant == 2 * 1024**3
    assert settings.max_time_limit_s == 86400
    assert settings.max_steps == 11_000_000
    assert settings.read_timeout_s == 30
    assert settings.max_plot_work == DEFAULT_MAX_PLOT_WORK
    given = Settings.from_env(
        {
            "RELUPDE_MAX_ACTIVE_JOBS": "3",
            "RELUPDE_MAX_MODEL_BYTES_PER_TENANT": "1000",
            "RELUPDE_MAX_TIME_LIMIT_S": "60.5",
            "RELUPDE_MAX_STEPS": "50",
            "RELUPDE_READ_TIMEOUT_S": "2",
            "RELUPDE_MAX_PLOT_WORK": "1000",
        }
    )
    assert (given.max_active_jobs, given.max_model_bytes_per_tenant, given.max_steps) == (3, 1000, 50)
    assert (given.max_time_limit_s, given.read_timeout_s, given.max_plot_work) == (60.5, 2.0, 1000)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RELUPDE_MAX_ACTIVE_JOBS", "0"),
        ("RELUPDE_MAX_STEPS", "many"),
        ("RELUPDE_MAX_TIME_LIMIT_S", "-1"),
        ("RELUPDE_READ_TIMEOUT_S", "soon"),
        ("RELUPDE_READ_TIMEOUT_S", "inf"),
        ("RELUPDE_MAX_PLOT_WORK", "0"),
    ],
)
def test_bad_limit_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


# ---------------------------------------------------------------------- active jobs per tenant
def test_store_counts_active_jobs_per_tenant(store: JobStore) -> None:
    first, _ = store.create_job("alice", {"n": 1}, name=None, steps=1, idempotency_key="k1", max_active=2)
    second, _ = store.create_job("alice", {"n": 2}, name=None, steps=1, max_active=2)
    with pytest.raises(TooManyJobsError) as refused:
        store.create_job("alice", {"n": 3}, name=None, steps=1, max_active=2)
    assert (refused.value.active, refused.value.limit) == (2, 2)
    assert store.active_jobs("alice") == 2 and len(store.list_jobs("alice")) == 2  # nothing inserted
    # a replay creates nothing, so it is not refused (nor passed to admit)
    called: list[bool] = []
    replay, created = store.create_job(
        "alice",
        {"n": 1},
        name=None,
        steps=1,
        idempotency_key="k1",
        max_active=2,
        admit=lambda: called.append(True),
    )
    assert (replay.id, created, called) == (first.id, False, [])
    # other tenants have their own count
    assert store.create_job("bob", {"n": 1}, name=None, steps=1, max_active=2)[1]
    # running jobs count, finished ones do not
    assert store.begin(second.id, "w", 4) is not None
    with pytest.raises(TooManyJobsError):
        store.create_job("alice", {"n": 3}, name=None, steps=1, max_active=2)
    store.request_cancel(first.id, "alice")
    _third, created = store.create_job("alice", {"n": 3}, name=None, steps=1, max_active=2)
    assert created and store.active_jobs("alice") == 2


def test_store_admit_can_refuse_a_new_job(store: JobStore) -> None:
    def refuse() -> None:
        raise RuntimeError("full")

    with pytest.raises(RuntimeError, match="full"):
        store.create_job("alice", {"n": 1}, name=None, steps=1, admit=refuse)
    assert store.list_jobs("alice") == []


def test_submit_past_max_active_jobs_answers_429_with_retry_after(tmp_path: Path) -> None:
    with in_process_client(tmp_path, max_active_jobs=2) as client:
        first = client.post("/v1/jobs", json=tiny_spec(), headers={**ALICE, "Idempotency-Key": "a"})
        assert first.status_code == 202, first.text
        assert client.post("/v1/jobs", json=tiny_spec(name="b"), headers=ALICE).status_code == 202
        refused = client.post("/v1/jobs", json=tiny_spec(name="c"), headers=ALICE)
        error = _error(refused, 429, "too_many_jobs")
        assert refused.headers["Retry-After"] == str(RETRY_AFTER_S) == "30"
        assert "2 jobs queued or running" in error["message"] and "cancel" in error["message"]
        assert error["details"] == {"active": 2, "limit": 2}
        # an idempotent replay is not a new job
        replay = client.post("/v1/jobs", json=tiny_spec(), headers={**ALICE, "Idempotency-Key": "a"})
        assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]
        assert client.post("/v1/jobs", json=tiny_spec(), headers=BOB).status_code == 202
        client.post(f"/v1/jobs/{first.json()['id']}/cancel", headers=ALICE)
        assert client.post("/v1/jobs", json=tiny_spec(name="c"), headers=ALICE).status_code == 202


def test_submit_past_the_model_storage_budget_answers_429(tmp_path: Path) -> None:
    with in_process_client(tmp_path, max_model_bytes_per_tenant=1000) as client:
        folder = tmp_path / "models" / "alice" / "some-model"
        folder.mkdir(parents=True)
        (folder / "weights.safetensors").write_bytes(b"\0" * 1000)
        assert client.post("/v1/jobs", json=tiny_spec(), headers=ALICE).status_code == 202  # not over
        (folder / "manifest.json").write_bytes(b"{}")
        refused = client.post("/v1/jobs", json=tiny_spec(name="more"), headers=ALICE)
        error = _error(refused, 429, "storage_quota_exceeded")
        assert "DELETE /v1/models/{id}" in error["message"] and "1000 bytes" in error["message"]
        assert "Retry-After" not in refused.headers
        assert client.post("/v1/jobs", json=tiny_spec(), headers=BOB).status_code == 202


# ---------------------------------------------------------------------- caps on a spec
@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/specs/validate"])
def test_time_limit_and_steps_above_the_caps_are_refused(tmp_path: Path, path: str) -> None:
    def spec(steps: int, time_limit_s: float = 60, **training: Any) -> dict[str, Any]:
        given = tiny_spec(steps)
        given["training"].update(time_limit_s=time_limit_s, **training)
        return given

    with in_process_client(tmp_path, max_time_limit_s=60, max_steps=50) as client:
        error = _error(client.post(path, json=spec(50, 60.5), headers=ALICE), 422, "validation_error")
        assert [d["field"] for d in error["details"]] == ["training.time_limit_s"]
        assert "cap of 60 s" in error["message"] and "60 s or less" in error["message"]
        error = _error(client.post(path, json=spec(51), headers=ALICE), 422, "validation_error")
        assert [d["field"] for d in error["details"]] == ["training.steps"]
        assert "cap of 50" in error["message"]
        lbfgs = spec(40, optimizer="adam+lbfgs", lbfgs_steps=20)  # 40 + 20 > 50
        _error(client.post(path, json=lbfgs, headers=ALICE), 422, "validation_error")
        error = _error(client.post(path, json=spec(51, 61), headers=ALICE), 422, "validation_error")
        assert len(error["details"]) == 2 and "(and 1 more problem)" in error["message"]
        answer = client.post(path, json=spec(50), headers=ALICE)  # at the caps: accepted, not clamped
        assert answer.status_code in (200, 202), answer.text
        assert answer.json()["spec"]["training"]["time_limit_s"] == 60


@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/specs/validate"])
def test_networks_and_draws_above_the_caps_are_refused(tmp_path: Path, path: str) -> None:
    """tiny_spec: 2 inputs (t, x0), one condition; hidden [8, 8] has 8*3 + 8*9 + 1*9 = 105
    weights and biases; 64 interior + 16 boundary points on each of 2 conditions = 96 per draw."""
    with in_process_client(tmp_path, max_parameters=105, max_points=96) as client:
        spec = tiny_spec(10, hidden=8)
        spec["training"]["points"] = {"interior": 64, "boundary": 16}
        answer = client.post(path, json=spec, headers=ALICE)  # exactly at both caps
        assert answer.status_code in (200, 202), answer.text
        wider = {**spec, "network": {**spec["network"], "hidden": [8, 9]}}
        error = _error(client.post(path, json=wider, headers=ALICE), 422, "validation_error")
        assert [(d["field"], d["type"]) for d in error["details"]] == [("network.hidden", "server_cap")]
        assert "115 weights and biases" in error["message"] and "RELUPDE_MAX_PARAMETERS" in error["message"]
        more = {**spec, "training": {**spec["training"], "points": {"interior": 65, "boundary": 16}}}
        error = _error(client.post(path, json=more, headers=ALICE), 422, "validation_error")
        assert [d["field"] for d in error["details"]] == ["training.points"]
        assert "97 points" in error["message"]
        both = {**wider, "training": more["training"]}
        error = _error(client.post(path, json=both, headers=ALICE), 422, "validation_error")
        assert len(error["details"]) == 2 and "(and 1 more problem)" in error["message"]


# ---------------------------------------------------------------------- read timeout
def _head(length: int, extra: str = "") -> bytes:
    return (
        "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n{extra}\r\n"
    ).encode()


def _read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


@pytest.fixture
def live_app(tmp_path: Path) -> Iterator[int]:
    """The app under uvicorn in a thread (no workers), a read timeout of 0.5 s; its port."""
    settings = Settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'jobs.sqlite3'}", read_timeout_s=0.5
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, dispatch=False), port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield port
    server.should_exit = True
    thread.join(10)


def test_a_stalled_body_answers_408_and_closes_the_connection(live_app: int) -> None:
    body = json.dumps(tiny_spec()).encode()
    with socket.create_connection(("127.0.0.1", live_app), timeout=10) as sock:
        sock.sendall(_head(len(body)) + body[:10])  # ... and nothing more
        answer = _read_until_closed(sock)  # returns: the server closed the connection
    status, _, rest = answer.partition(b"\r\n")
    assert status.startswith(b"HTTP/1.1 408"), answer[:300]
    headers, _, payload = rest.partition(b"\r\n\r\n")
    assert b"connection: close" in headers.lower()
    assert json.loads(payload)["error"]["code"] == "request_timeout"


def test_a_body_trickling_within_the_timeout_is_read(live_app: int) -> None:
    body = json.dumps(tiny_spec()).encode()
    with socket.create_connection(("127.0.0.1", live_app), timeout=10) as sock:
        sock.sendall(_head(len(body), "Connection: close\r\n"))
        for start in range(0, len(body), len(body) // 3 + 1):
            time.sleep(0.2)
            sock.sendall(body[start : start + len(body) // 3 + 1])
        answer = _read_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 202"), answer[:300]


def test_read_timeout_leaves_a_complete_request_alone() -> None:
    """After the body, receive only waits for a disconnect (event streams): no timeout then."""
    seen: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(await receive())  # the whole body
        seen.append(await receive())  # waits for the disconnect, longer than the timeout
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def main() -> list[Message]:
        messages = iter([{"type": "http.request", "body": b"{}", "more_body": False}])
        sent: list[Message] = []

        async def receive() -> Message:
            message = next(messages, None)
            if message is None:
                await anyio.sleep(0.3)
                return {"type": "http.disconnect"}
            return message

        async def send(message: Message) -> None:
            sent.append(message)

        await ReadTimeout(app, seconds=0.1)({"type": "http", "path": "/"}, receive, send)
        return sent

    sent = anyio.run(main)
    assert sent[0]["status"] == 200 and [m["type"] for m in seen] == ["http.request", "http.disconnect"]


# ---------------------------------------------------------------------- plots
def _heat_spec() -> dict[str, Any]:
    """heat-2d (t, x0, x1; 3 time slices by default) on a network of 4 layers, barely trained."""
    spec: dict[str, Any] = json.loads((ROOT / "examples" / "heat-2d.json").read_text())
    spec["network"]["hidden"] = [8, 8, 8]
    spec["training"].update({"steps": 3, "points": {"interior": 64, "boundary": 16}})
    return spec


@pytest.fixture(scope="module")
def heat_model() -> Model:
    return solve(JobSpec.model_validate(_heat_spec()))


SIX_TIMES = [0.0, 0.02, 0.04, 0.06, 0.08, 0.1]


def test_plot_work_default_cap(heat_model: Model) -> None:
    default = plot_work(heat_model)
    assert (default.points, default.layers, default.panels) == (120 * 120, 4, 3)
    deepest = dataclasses.replace(default, layers=65)  # 64 hidden layers, the spec's most
    assert deepest.total <= DEFAULT_MAX_PLOT_WORK  # today's default plots pass
    line = plot_work(heat_model, y="none")
    assert dataclasses.replace(line, layers=65).total <= DEFAULT_MAX_PLOT_WORK
    big = plot_work(heat_model, times=SIX_TIMES, resolution=400)
    assert big.total == 6 * 400 * 400 * 4 > DEFAULT_MAX_PLOT_WORK
    assert plot_work(heat_model, kind="loss").total == 0


def test_a_plot_over_the_cap_is_refused_naming_a_smaller_resolution(tmp_path: Path) -> None:
    with in_process_client(tmp_path, max_plot_work=100_000) as client:
        model_id, _ = register_model(client, tmp_path, _heat_spec())
        url = f"/v1/models/{model_id}/plot.png"
        error = _error(client.get(url, headers=ALICE), 422, "plot_too_large")  # 3 x 120^2 x 4 = 172,800
        # 100,000 // (3 panels x 4 layers) = 8,333 points a panel: 91 x 91
        assert "resolution=91 or less" in error["message"] and "172,800" in error["message"]
        assert error["details"] == {"work": 172_800, "limit": 100_000, "max_resolution": 91}
        answer = client.get(url, params={"resolution": 91}, headers=ALICE)
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    with in_process_client(tmp_path) as client:  # the default cap: 6 panels of 400 x 400 refused
        params = {"times": ",".join(map(str, SIX_TIMES)), "resolution": 400}
        error = _error(client.get(url, params=params, headers=ALICE), 422, "plot_too_large")
        assert "resolution=353 or less" in error["message"]
        assert client.get(url, headers=ALICE).status_code == 200  # the default plot passes


class _FakeRequest:
    """is_disconnected answers from a list (the last answer repeats)."""

    def __init__(self, *answers: bool) -> None:
        self.answers, self.asked = list(answers), 0

    async def is_disconnected(self) -> bool:
        self.asked += 1
        return self.answers[min(self.asked, len(self.answers)) - 1]


def test_no_work_for_a_client_already_gone() -> None:
    calls: list[bool] = []

    def heavy(stopped: Callable[[], bool]) -> str:
        calls.append(True)
        return "done"

    assert anyio.run(run_unless_disconnected, _FakeRequest(True), heavy) is None
    assert calls == []
    assert anyio.run(run_unless_disconnected, _FakeRequest(False), heavy) == "done"
    assert calls == [True]


def test_a_plot_stops_between_panels_once_the_client_is_gone(
    heat_model: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    panels: list[object] = []
    real = solver.plots._slice_values

    def counted(*args: Any) -> Any:
        panels.append(args[-1])
        return real(*args)

    monkeypatch.setattr(solver.plots, "_slice_values", counted)
    request = _FakeRequest(False, False, True)  # before the work, before panel 1, then gone

    def draw(stopped: Callable[[], bool]) -> bytes:
        return plot_model(heat_model, times=[0.0, 0.05, 0.1], should_stop=stopped)

    with pytest.raises(PlotStopped):
        anyio.run(run_unless_disconnected, request, draw)
    assert len(panels) == 1  # of 3


async def _gone(_self: Request) -> bool:
    return True


def test_routes_do_no_heavy_work_for_a_disconnected_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with in_process_client(tmp_path) as client:
        model_id, _ = register_model(client, tmp_path, tiny_spec(5))
        ran: list[str] = []
        monkeypatch.setattr(plot_routes, "plot_model", lambda *a, **k: ran.append("plot"))
        monkeypatch.setattr(model_routes, "evaluate", lambda *a, **k: ran.append("evaluate"))
        monkeypatch.setattr(Request, "is_disconnected", _gone)
        answer = client.get(f"/v1/models/{model_id}/plot.png", headers=ALICE)
        assert answer.status_code == CLIENT_CLOSED
        points = {"points": [[0.5, 0.5]]}
        answer = client.post(f"/v1/models/{model_id}/evaluate", json=points, headers=ALICE)
        assert answer.status_code == CLIENT_CLOSED
        assert ran == []


# ---------------------------------------------------------------------- job transition logs
def _job_lines(caplog: pytest.LogCaptureFixture, ids: dict[str, str]) -> list[str]:
    """The relupde.jobs lines, each job id replaced by its name in ``ids``."""
    lines = []
    for record in caplog.records:
        if record.name == JOB_LOG:
            line = record.getMessage()
            for name, job_id in ids.items():
                line = line.replace(job_id, name)
            lines.append(re.sub(r"worker=\S+", "worker=W", line))
    return lines


def test_every_job_transition_logs_one_line(store: JobStore, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=JOB_LOG)
    done, _ = store.create_job("alice", {"n": 1}, name="x", steps=300)
    dropped, _ = store.create_job("alice", {"n": 2}, name=None, steps=10)
    stopped, _ = store.create_job("bob", {"n": 3}, name=None, steps=10)
    assert store.begin(done.id, "w1", 4) is not None
    store.report(done.id, 1, step=200, steps=300, loss=1.0, elapsed_s=1.0)
    assert store.requeue(done.id, "worker w1 lost")
    assert store.begin(done.id, "w2", 4) is not None
    record = ModelRecord("m1", "alice", done.id, "models/alice/m1", "0" * 64, now())
    assert store.finish(done.id, 2, "succeeded", model=record)
    store.request_cancel(dropped.id, "alice")
    store.request_cancel(dropped.id, "alice")  # idempotent: no second line
    assert store.begin(stopped.id, "w1", 4) is not None
    store.request_cancel(stopped.id, "bob")
    store.request_cancel(stopped.id, "bob")
    assert store.finish(stopped.id, 1, "canceled")
    store.delete_job(done.id, "alice")
    failed, _ = store.create_job("alice", {"n": 4}, name=None, steps=10)
    assert store.begin(failed.id, "w1", 4) is not None
    assert store.finish(failed.id, 1, "failed", error="Diverged: diverged at step 3: pde")
    ids = {"DONE": done.id, "DROPPED": dropped.id, "STOPPED": stopped.id, "FAILED": failed.id}
    assert _job_lines(caplog, ids) == [
        "job=DONE tenant=alice event=submitted steps=300",
        "job=DROPPED tenant=alice event=submitted steps=10",
        "job=STOPPED tenant=bob event=submitted steps=10",
        "job=DONE tenant=alice event=started attempt=1 step=0 worker=W",
        'job=DONE tenant=alice event=requeued step=200 reason="worker w1 lost"',
        "job=DONE tenant=alice event=resumed attempt=2 step=200 worker=W",
        "job=DONE tenant=alice event=succeeded attempt=2 step=200 model=m1",
        "job=DROPPED tenant=alice event=canceled attempt=0 step=0",
        "job=STOPPED tenant=bob event=started attempt=1 step=0 worker=W",
        "job=STOPPED tenant=bob event=cancel_requested attempt=1 step=0",
        "job=STOPPED tenant=bob event=canceled attempt=1 step=0",
        "job=DONE tenant=alice event=deleted status=succeeded models=1",
        "job=FAILED tenant=alice event=submitted steps=10",
        "job=FAILED tenant=alice event=started attempt=1 step=0 worker=W",
        'job=FAILED tenant=alice event=failed attempt=1 step=0 error="Diverged: diverged at step 3: pde"',
    ]


def test_a_run_logs_its_checkpoints(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """solver.training writes a checkpoint every 100 Adam steps; the runner logs each."""
    caplog.set_level(logging.INFO, logger=JOB_LOG)
    url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    store = JobStore.open(url)
    job, _ = store.create_job("alice", tiny_spec(200, hidden=8), name=None, steps=200)
    assert run_job(job.id, url, str(tmp_path)) == "succeeded"
    store.close()
    assert _job_lines(caplog, {"J": job.id})[:-1] == [
        "job=J tenant=alice event=submitted steps=200",
        "job=J tenant=alice event=started attempt=1 step=0 worker=W",
        "job=J tenant=alice event=checkpoint attempt=1 step=100",
        "job=J tenant=alice event=checkpoint attempt=1 step=200",
    ]
    assert re.fullmatch(
        r"job=J tenant=alice event=succeeded attempt=1 step=200 model=\w+",
        _job_lines(caplog, {"J": job.id})[-1],
    )


def test_api_logs_transitions_and_never_the_api_key(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with in_process_client(tmp_path) as client:
        first = client.post("/v1/jobs", json=tiny_spec(), headers=ALICE).json()["id"]
        client.post(f"/v1/jobs/{first}/cancel", headers=ALICE)
        second = client.post("/v1/jobs", json=tiny_spec(), headers=ALICE).json()["id"]
        client.delete(f"/v1/jobs/{second}", headers=ALICE)
        client.get("/v1/jobs", headers={"Authorization": "Bearer wrong-key"})
    assert _job_lines(caplog, {"A": first, "B": second}) == [
        f"job=A tenant=alice event=submitted steps={tiny_spec()['training']['steps']}",
        "job=A tenant=alice event=canceled attempt=0 step=0",
        f"job=B tenant=alice event=submitted steps={tiny_spec()['training']['steps']}",
        "job=B tenant=alice event=deleted status=queued models=0",
    ]
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records)
    assert "alice-key" not in logged and "wrong-key" not in logged
