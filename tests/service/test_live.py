"""Black-box tests of a running service: ``relupde serve`` with a real LocalCluster.

Each test drives the server over HTTP only, except where it must reach past the API to
break something (kill -9 a worker process, read which process runs a job) or to read which
attempt reported what.

No test depends on catching a job in the middle of its run by polling (progress is written
every 0.5 s, and a fast machine finishes a short job between two polls): a job that must be
caught running is far too long to end by itself and is canceled once the test has seen what
it needs; a short job proves it ran through ``running`` by the loss-curve records it
reported, which the store accepts only from a running attempt."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import torch
from safetensors.torch import load as load_safetensors
from sqlalchemy import select

from service.jobs.store import JobStore, LossRow
from solver import JobSpec, load_model, solve
from solver.training import CHECKPOINT_EVERY, CURVE_EVERY
from tests.service.conftest import tiny_spec
from tests.service.live import LiveServer, wait_for

pytestmark = pytest.mark.slow
# One torch thread per job: the suite runs two test processes on two cores.
KEYS = {"RELUPDE_API_KEYS": "alice:alice-key,bob:bob-key", "RELUPDE_TORCH_THREADS": "1"}
ALICE = {"Authorization": "Bearer alice-key"}
BOB = {"Authorization": "Bearer bob-key"}
# Far more steps than any test waits for: such a job is still running whenever it is looked at.
ENDLESS = 100_000
PAST_TWO_CHECKPOINTS = 2 * CHECKPOINT_EVERY + 50  # a reported step by which two were written
KILLED_STEPS = 3000  # long enough to be caught past two checkpoints on this machine's CPUs


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path, KEYS).start()
    yield live
    live.stop()


def _running_past(step: int):  # type: ignore[no-untyped-def]
    return lambda job: job["status"] == "running" and job["progress"]["step"] >= step


def _store(server: LiveServer) -> JobStore:
    return JobStore.open(f"sqlite:///{server.data_dir / 'jobs.sqlite3'}")


def _steps_reported(store: JobStore, job_id: str, attempt: int) -> list[int]:
    """The steps of the loss-curve records that attempt ``attempt`` of the job reported."""
    with store.engine.connect() as connection:
        query = select(LossRow.step).where(LossRow.job_id == job_id, LossRow.attempt == attempt)
        return sorted(connection.scalars(query))


def _resumed_from_a_checkpoint(server: LiveServer, job_id: str, http: httpx.Client) -> None:
    """Wait until attempt 2 of the job runs and has reported; check that it went on from a
    checkpoint of attempt 1 (its first record is at a checkpoint step, at least the one at
    step 2 * CHECKPOINT_EVERY that attempt 1 had passed), not from step 0."""
    store = _store(server)
    try:
        wait_for(
            http,
            job_id,
            lambda j: j["status"] == "running" and j["attempts"] == 2 and _steps_reported(store, job_id, 2),
            timeout=180,
            what="the job to resume on a second attempt",
        )
        steps = _steps_reported(store, job_id, 2)
        assert steps[0] >= 2 * CHECKPOINT_EVERY and steps[0] % CHECKPOINT_EVERY == 0, steps
    finally:
        store.close()


def test_submit_progress_succeed_evaluate(server: LiveServer) -> None:
    with server.client(ALICE) as http:
        job = http.post("/v1/jobs", json=tiny_spec(400)).json()
        assert job["progress"] == {"step": 0, "steps": 400, "loss": None, "elapsed_s": 0.0, "residuals": None}
        done = wait_for(http, job["id"], lambda j: j["status"] == "succeeded", what="success")
        assert done["progress"]["step"] == 400 and done["attempts"] == 1 and done["error"] is None
        assert done["started_at"] is not None and done["started_at"] <= done["finished_at"]
        # It went through running, reporting progress: the store keeps a report's records only
        # from a running attempt, and every record of the run is there.
        curve = http.get(f"/v1/jobs/{job['id']}/loss").json()
        assert [r["step"] for r in curve["records"]] == sorted({*range(10), *range(0, 400, CURVE_EVERY)})
        info = http.get(f"/v1/models/{done['model_id']}").json()
        assert info["errors"]["n_points"] == 10_000
        local = load_model(server.data_dir / "models" / "alice" / done["model_id"])
        points = np.random.default_rng(1).uniform([0, 0], [1, 6.28], size=(100, 2))
        body = http.post(f"/v1/models/{done['model_id']}/evaluate", json={"points": points.tolist()}).json()
        expected = local.evaluate(points)
        np.testing.assert_array_equal(body["value"], expected.value)
        np.testing.assert_array_equal(body["gradient"], expected.gradient)
        artifact = http.get(f"/v1/models/{done['model_id']}/artifact").content
        tensors = load_safetensors(artifact)
        np.testing.assert_array_equal(tensors["A1"].numpy(), local.network.layers[0][0].detach().numpy())
        # The other tenant sees nothing of it.
        with server.client(BOB) as other:
            assert other.get(f"/v1/jobs/{job['id']}").status_code == 404
            assert other.get(f"/v1/models/{done['model_id']}").status_code == 404
            assert other.get("/v1/jobs").json()["jobs"] == []
        # The dispatcher observes the duration when it collects the finished task (next tick).
        wanted = 'relupde_training_duration_seconds_count{status="succeeded"} 1.0'
        deadline = time.monotonic() + 10
        while wanted not in http.get("/metrics").text and time.monotonic() < deadline:
            time.sleep(0.1)
        assert wanted in http.get("/metrics").text


def test_events_stream_progress_then_the_final_state(server: LiveServer) -> None:
    """The stream sends ``status`` events on changes and ``progress`` events while the job
    runs, and ends after the final state.  The job would run far longer than the test: it is
    canceled once two progress events came, and the stream ends with ``canceled``."""
    with server.client(ALICE) as http:
        job = http.post("/v1/jobs", json=tiny_spec(ENDLESS)).json()
        kinds: list[str] = []
        steps: list[int] = []
        last: dict[str, Any] | None = None
        deadline = time.monotonic() + 120  # a guard (keep-alives come every 15 s), not a measurement
        with http.stream("GET", f"/v1/jobs/{job['id']}/events", timeout=120) as response:
            for line in response.iter_lines():
                assert time.monotonic() < deadline, f"the stream did not end; events so far: {kinds}"
                if line.startswith("event: "):
                    kinds.append(line.removeprefix("event: "))
                elif line.startswith("data: "):
                    last = json.loads(line.removeprefix("data: "))
                    steps.append(last["progress"]["step"])
                    if kinds.count("progress") == 2 and kinds[-1] == "progress":
                        assert http.post(f"/v1/jobs/{job['id']}/cancel").status_code == 200
        assert last is not None and last["status"] == "canceled" and last["finished_at"] is not None
        assert kinds[0] == kinds[-1] == "status" and kinds.count("progress") >= 2
        assert steps == sorted(steps) and 0 < steps[-1] < ENDLESS


def test_cancel_a_running_job(server: LiveServer) -> None:
    with server.client(ALICE) as http:
        job = http.post("/v1/jobs", json=tiny_spec(ENDLESS)).json()
        wait_for(http, job["id"], _running_past(20), what="training to start")
        asked = http.post(f"/v1/jobs/{job['id']}/cancel").json()
        assert asked["cancel_requested"] and asked["status"] in ("running", "canceled")
        done = wait_for(http, job["id"], lambda j: j["status"] == "canceled", timeout=30, what="cancel")
        assert done["model_id"] is None and done["finished_at"] is not None
        # The worker is free again: the next job runs.
        nxt = http.post("/v1/jobs", json=tiny_spec(50)).json()
        wait_for(http, nxt["id"], lambda j: j["status"] == "succeeded", what="the next job")


def test_a_killed_worker_does_not_lose_the_job(server: LiveServer) -> None:
    """kill -9 of the worker process mid-training: the job runs again on another worker
    process (attempt 2), going on from its checkpoint, and its artifact is exactly the model
    that the same spec gives when trained uninterrupted in this process."""
    spec = tiny_spec(KILLED_STEPS)
    with server.client(ALICE) as http:
        job = http.post("/v1/jobs", json=spec).json()
        wait_for(http, job["id"], _running_past(PAST_TWO_CHECKPOINTS), what="a checkpoint to be written")
        store = _store(server)
        record = store.get_job(job["id"])
        store.close()
        assert record is not None and record.worker is not None
        pid = int(record.worker.rsplit(":", 1)[1])
        assert pid != os.getpid() and server.process is not None and pid != server.process.popen.pid
        os.kill(pid, signal.SIGKILL)
        _resumed_from_a_checkpoint(server, job["id"], http)
        done = wait_for(http, job["id"], lambda j: j["status"] in ("succeeded", "failed"), timeout=180)
        assert done["status"] == "succeeded", done
        assert done["attempts"] == 2 and done["progress"]["step"] == KILLED_STEPS
        artifact = load_safetensors(http.get(f"/v1/models/{done['model_id']}/artifact").content)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the worker (RELUPDE_TORCH_THREADS=1): the same sums, the same bits
    try:
        uninterrupted = solve(JobSpec.model_validate(spec))
    finally:
        torch.set_num_threads(threads)
    for index, (weight, bias) in enumerate(uninterrupted.network.layers, start=1):
        assert torch.equal(artifact[f"A{index}"], weight.detach()), index
        assert torch.equal(artifact[f"b{index}"], bias.detach()), index


def test_a_server_restart_loses_nothing(tmp_path: Path) -> None:
    first = LiveServer(tmp_path, KEYS).start()
    with first.client(ALICE) as http:
        finished = http.post("/v1/jobs", json=tiny_spec(50)).json()
        finished = wait_for(http, finished["id"], lambda j: j["status"] == "succeeded")
        running = http.post("/v1/jobs", json=tiny_spec(ENDLESS)).json()
        wait_for(http, running["id"], _running_past(PAST_TWO_CHECKPOINTS), what="a checkpoint to be written")
        queued = http.post("/v1/jobs", json=tiny_spec(50)).json()
    first.stop(signal.SIGTERM)

    second = LiveServer(tmp_path, KEYS, port=first.port).start()
    try:
        with second.client(ALICE) as http:
            again = http.get(f"/v1/jobs/{finished['id']}").json()
            assert again["status"] == "succeeded" and again["model_id"] == finished["model_id"]
            _resumed_from_a_checkpoint(second, running["id"], http)
            http.post(f"/v1/jobs/{running['id']}/cancel")
            later = wait_for(http, queued["id"], lambda j: j["status"] == "succeeded", 120)
            assert later["attempts"] == 1
            buffer = io.BytesIO()
            np.save(buffer, np.array([[0.5, 1.0]]))
            response = http.post(
                f"/v1/models/{finished['model_id']}/evaluate",
                content=buffer.getvalue(),
                headers={"Content-Type": "application/x-npy"},
            )
            assert response.status_code == 200
    finally:
        second.stop()


def test_the_python_client_end_to_end(server: LiveServer, tmp_path: Path) -> None:
    from service.client import AsyncClient, Client, NotFoundError

    with Client(server.url, api_key="alice-key") as client:
        job = client.submit(tiny_spec(200), idempotency_key="client-e2e")
        assert client.submit(tiny_spec(200), idempotency_key="client-e2e").id == job.id
        done = client.wait(job.id, progress=False, timeout=120, poll_interval=0.1).raise_for_status()
        assert done.model_id is not None
        model = client.model(done.model_id)
        local = load_model(server.data_dir / "models" / "alice" / done.model_id)
        points = np.random.default_rng(2).uniform([0, 0], [1, 6.28], size=(20_000, 2))
        for bulk, batch in ((False, points[:5000]), (True, points)):
            out, expected = model.evaluate(batch, bulk=bulk), local.evaluate(batch)
            np.testing.assert_array_equal(out.value, expected.value)
            np.testing.assert_array_equal(out.gradient, expected.gradient)
            # the certified sup bound of the transport problem, the same constant in the domain
            assert expected.bound is not None and out.bound is not None
            np.testing.assert_array_equal(out.bound, expected.bound)
            assert out.inside is not None and out.inside.all()  # every point lies in the domain
        path = model.download(tmp_path / "weights.safetensors")
        assert (
            path.read_bytes()
            == (server.data_dir / "models" / "alice" / done.model_id / "weights.safetensors").read_bytes()
        )
    with Client(server.url, api_key="bob-key") as other, pytest.raises(NotFoundError):
        other.job(job.id)
    # The command line drives the same server.
    status = subprocess.run(
        [sys.executable, "-m", "service.cli", "status", job.id, "--server", server.url, "--key", "alice-key"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith(f"{job.id} succeeded step 200/200"), status.stdout

    async def listing() -> list[str]:
        async with AsyncClient(server.url, api_key="alice-key") as client:
            return [j.id async for j in client.iter_jobs()]

    import asyncio

    assert asyncio.run(listing()) == [job.id]
