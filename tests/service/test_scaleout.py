"""The docker-compose deployment without Docker: the very commands of docker-compose.yml
(a Dask scheduler, two ``relupde worker``, the API on PostgreSQL) started on loopback, and
jobs run through them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from service.jobs.store import JobStore
from tests.service.compose import compose_commands
from tests.service.conftest import tiny_spec
from tests.service.live import LiveServer, Process, free_port, wait_for

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
HEADERS = {"Authorization": "Bearer ops-key"}


def _finished(job: dict[str, object]) -> bool:
    return job["status"] in ("succeeded", "failed")


def _local(argv: list[str], replace: dict[str, str]) -> list[str]:
    """The compose command with its program from this venv and its options moved to loopback."""
    out = [str(BIN / argv[0]), *argv[1:]]
    for index in range(1, len(out)):
        if out[index - 1] in replace:
            out[index] = replace[out[index - 1]]
    return out


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    commands = compose_commands()
    port = free_port()
    scheduler = Process(
        [
            *_local(commands["scheduler"], {"--port": str(port), "--dashboard-address": ":0"}),
            "--host",
            "127.0.0.1",
        ],
        {},
        tmp_path / "scheduler.log",
    )
    address = f"tcp://127.0.0.1:{port}"
    workers = [
        Process(
            _local(commands["worker"], {}), {"RELUPDE_DASK_ADDRESS": address}, tmp_path / f"worker{i}.log"
        )
        for i in range(2)
    ]
    try:
        yield address
    finally:
        for process in [*workers, scheduler]:
            process.stop()


def test_compose_commands_run_jobs_on_two_workers_with_postgres(
    cluster: str, postgres_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "shared-volume"
    env = {
        "RELUPDE_DATABASE_URL": postgres_url,
        "RELUPDE_DASK_ADDRESS": cluster,
        "RELUPDE_API_KEYS": "ops:ops-key",
        "RELUPDE_TORCH_THREADS": "1",
    }
    api = LiveServer(data_dir, env)
    argv = _local(compose_commands()["api"], {"--host": "127.0.0.1", "--port": str(api.port)})
    api.start(argv=argv, workers=2, timeout=120)
    try:
        with api.client(HEADERS) as http:
            assert http.get("/healthz").json()["store"] == "postgresql"
            ids = [http.post("/v1/jobs", json=tiny_spec(1500, name=f"job{i}")).json()["id"] for i in range(2)]
            done = [
                wait_for(http, job_id, lambda j: j["status"] in ("succeeded", "failed"), 180)
                for job_id in ids
            ]
            assert [job["status"] for job in done] == ["succeeded", "succeeded"], done
            body = http.post(
                f"/v1/models/{done[0]['model_id']}/evaluate", json={"points": [[0.5, 1.0]]}
            ).json()
            assert np.isfinite(body["value"][0])
        store = JobStore.open(postgres_url)
        workers = {store.get_job(job_id).worker for job_id in ids}  # type: ignore[union-attr]
        store.close()
        assert len(workers) == 2, f"both jobs ran on one worker: {workers}"
    finally:
        api.stop()
