"""Failure paths of the dispatcher and the runner (docs/service.md, "Job lifecycle"), in process.

A fake Dask client stands in for the scheduler: it records what the dispatcher submits and
leaves each task pending (to be failed by the test, as Dask fails a task whose workers kept
dying) or, with ``run=True``, runs it at once in this thread as a worker would.  Workers are
simulated by calling the store (``begin``, ``requeue``) or ``run_job`` directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from distributed import KilledWorker
from sqlalchemy import update

from service.jobs import runner
from service.jobs.dispatcher import STALE_AFTER_S, Dispatcher
from service.jobs.runner import MAX_ATTEMPTS, run_job
from service.jobs.store import JobRow, JobStore, now
from service.settings import Settings
from solver import solve as real_solve
from solver.model import Model
from tests.service.conftest import ALICE, in_process_client, tiny_spec

EXTERNAL_SCHEDULER = "tcp://scheduler.test:8786"


class FakeFuture:
    """What the dispatcher reads of a Dask future: ``done()``, ``status``, ``exception()``."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.status = "pending"
        self.outcome: object = None
        self._exception: BaseException | None = None

    def done(self) -> bool:
        return self.status != "pending"

    def exception(self) -> BaseException | None:
        return self._exception

    def fail(self, exc: BaseException) -> None:
        self.status, self._exception = "error", exc


class FakeDask:
    """A Dask client that records submissions (job id, future) and runs them only if asked."""

    def __init__(self, *, run: bool = False) -> None:
        self.run = run
        self.submitted: list[tuple[str, FakeFuture]] = []

    def submit(self, fn: Callable[..., object], *args: Any, key: str, pure: bool) -> FakeFuture:
        future = FakeFuture(key)
        self.submitted.append((str(args[0]), future))
        if self.run:
            try:
                future.outcome = fn(*args)
                future.status = "finished"
            except Exception as exc:  # Dask keeps a task's exception on its future
                future.fail(exc)
        return future

    def job_ids(self) -> list[str]:
        return [job_id for job_id, _ in self.submitted]


def _dispatcher(store: JobStore, settings: Settings, fake: FakeDask) -> tuple[Dispatcher, list[str]]:
    """A dispatcher on ``fake`` (no thread, no cluster) and the list its ``on_finished`` fills."""
    finished: list[str] = []
    dispatcher = Dispatcher(store, settings, on_finished=finished.append)
    dispatcher._client = fake
    return dispatcher, finished


def _settings(data_dir: Path, url: str, dask_address: str | None = None) -> Settings:
    return Settings(data_dir=data_dir, database_url=url, dask_address=dask_address)


def _submit(store: JobStore, spec: dict[str, Any] | None = None) -> str:
    spec = spec or tiny_spec(10)
    job, _ = store.create_job("a", spec, name=spec["name"], steps=spec["training"]["steps"])
    return job.id


def _set_heartbeat(store: JobStore, job_id: str, age_s: float) -> None:
    """Pretend the job's worker last reported ``age_s`` seconds ago."""
    with store.engine.begin() as connection:
        connection.execute(
            update(JobRow).where(JobRow.id == job_id).values(heartbeat_at=now() - timedelta(seconds=age_s))
        )


def _folders(data_dir: Path, tenant: str = "a") -> list[str]:
    """Every entry of the tenant's models folder, temporary ones included."""
    root = data_dir / "models" / tenant
    return sorted(path.name for path in root.iterdir()) if root.exists() else []


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    """A SQLite store for ``run_job``; the runner's cached store is closed afterwards."""
    url = f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    yield url
    runner._store(url).close()
    runner._store.cache_clear()


# ---------------------------------------------------------------------- a task that keeps failing
def test_a_task_dask_gave_up_on_fails_its_job_with_the_reason(
    store: JobStore, store_url: str, tmp_path: Path
) -> None:
    """Each start of the task ran ``begin`` and its worker died; after ``MAX_ATTEMPTS`` starts
    Dask fails the future with ``KilledWorker``.  The next tick fails the job with that reason,
    lets go of the future and does not submit the job again."""
    dispatcher, finished = _dispatcher(store, _settings(tmp_path, store_url), fake := FakeDask())
    job_id = _submit(store)
    dispatcher.tick()
    assert fake.job_ids() == [job_id]
    for _ in range(MAX_ATTEMPTS):  # the scheduler ran the task on a new worker each time
        assert store.begin(job_id, "worker-that-dies", MAX_ATTEMPTS) is not None
    future = fake.submitted[0][1]
    last_worker: Any = SimpleNamespace(address="tcp://10.0.0.7:40123")  # a WorkerState's address
    future.fail(KilledWorker(future.key, last_worker, allowed_failures=MAX_ATTEMPTS - 1))

    dispatcher.tick()
    job = store.get_job(job_id)
    assert job is not None and job.status == "failed" and job.finished_at is not None
    assert job.error is not None
    assert job.error.startswith("the job's worker failed: KilledWorker: "), job.error
    assert "tcp://10.0.0.7:40123" in job.error
    assert finished == [job_id] and dispatcher.futures == {}
    dispatcher.tick()
    assert fake.job_ids() == [job_id]  # never submitted again


def test_a_job_started_max_attempts_times_fails_instead_of_running_again(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A task that starts a job whose workers stopped ``MAX_ATTEMPTS`` (4) times does not train
    it a fifth time: the job ends ``failed``, naming the attempts and the last reason."""
    assert MAX_ATTEMPTS == 4  # docs/service.md
    store = JobStore.open(sqlite_url)
    job_id = _submit(store)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        started = store.begin(job_id, f"worker-{attempt}", MAX_ATTEMPTS)
        assert started is not None and started[1] == attempt
        assert store.requeue(job_id, "its worker stopped reporting for more than 60 s")

    assert run_job(job_id, sqlite_url, str(tmp_path)) == "skipped"
    job = store.get_job(job_id)
    assert job is not None and job.status == "failed" and job.attempts == MAX_ATTEMPTS
    assert job.error is not None and job.error.startswith(f"the job was started {MAX_ATTEMPTS} times")
    assert job.error.endswith("last reason: its worker stopped reporting for more than 60 s")
    assert job.model_id is None and _folders(tmp_path) == []
    store.close()


# ---------------------------------------------------------------------- a silent external worker
def test_a_silent_external_worker_s_job_is_requeued_after_stale_after_s(
    store: JobStore, store_url: str, tmp_path: Path
) -> None:
    """With an external scheduler, a running job that this dispatcher does not hold and whose
    heartbeat is older than ``STALE_AFTER_S`` (60 s) goes back to the queue with the reason and
    is submitted again; a job heard from within 60 s, and one this dispatcher holds, stay."""
    assert STALE_AFTER_S == 60.0  # docs/service.md
    settings = _settings(tmp_path, store_url, dask_address=EXTERNAL_SCHEDULER)
    dispatcher, _ = _dispatcher(store, settings, fake := FakeDask())
    held = _submit(store)
    dispatcher.tick()  # held: submitted by this dispatcher, its future pending
    silent, recent = _submit(store), _submit(store)
    for job_id in (held, silent, recent):  # started by workers (silent, recent: via another API)
        assert store.begin(job_id, f"worker-{job_id[:6]}", MAX_ATTEMPTS) is not None
    _set_heartbeat(store, held, STALE_AFTER_S + 5)
    _set_heartbeat(store, silent, STALE_AFTER_S + 5)
    _set_heartbeat(store, recent, STALE_AFTER_S - 15)

    dispatcher.tick()
    requeued = store.get_job(silent)
    assert requeued is not None
    assert (requeued.status, requeued.worker) == ("queued", None)
    assert requeued.error == "its worker stopped reporting for more than 60 s"
    assert fake.job_ids() == [held, silent]
    for job_id in (held, recent):
        job = store.get_job(job_id)
        assert job is not None and job.status == "running" and job.error is None
    resumed = store.begin(silent, "another-worker", MAX_ATTEMPTS)  # the new task resumes it
    assert resumed is not None and resumed[1] == 2


# ---------------------------------------------------------------------- the job's own failure
def _diverging(steps: int = 40) -> dict[str, Any]:
    """tiny_spec whose training blows up at once: Adam's first step (learning rate 10) makes
    |u| so large that exp(u*u) overflows."""
    spec = tiny_spec(steps)
    spec["problem"]["equation"] = "u_t + u_x0 + exp(u*u)"
    spec["problem"].pop("exact", None)
    spec["training"]["learning_rate"] = 10.0
    return spec


def test_a_job_whose_training_diverges_fails_saying_where_and_keeps_the_best_model(
    tmp_path: Path, sqlite_url: str
) -> None:
    """Submitted over the API and run by the dispatcher's task: training stops at the first
    non-finite loss; the job fails with ``diverged at step N: <term>``, keeps the model of the
    best finite parameters as its model_id, and the event stream ends with that state."""
    with in_process_client(tmp_path) as client:
        response = client.post("/v1/jobs", json=_diverging(), headers=ALICE)
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
        assert settings.database_url == sqlite_url
        store: JobStore = client.app.state.store  # type: ignore[attr-defined]
        dispatcher, finished = _dispatcher(store, settings, fake := FakeDask(run=True))
        dispatcher.tick()
        assert fake.job_ids() == [job_id]
        assert (fake.submitted[0][1].status, fake.submitted[0][1].outcome) == ("finished", "failed")
        dispatcher.tick()
        assert finished == [job_id]

        job = client.get(f"/v1/jobs/{job_id}", headers=ALICE).json()
        assert job["status"] == "failed" and job["attempts"] == 1 and job["finished_at"] is not None
        assert job["error"] == "diverged at step 1: pde"
        kept = client.get(f"/v1/models/{job['model_id']}", headers=ALICE).json()
        assert kept["training"]["diverged"] == {"step": 1, "term": "pde"}
        listed = client.get("/v1/jobs", params={"status": "failed"}, headers=ALICE).json()["jobs"]
        assert [item["id"] for item in listed] == [job_id]
        with client.stream("GET", f"/v1/jobs/{job_id}/events", headers=ALICE) as events:
            text = "".join(events.iter_text())
        assert json.loads(text.split("data: ", 1)[1])["error"] == job["error"]
    assert _folders(tmp_path, "alice") == [job["model_id"]]


def test_a_model_that_cannot_be_written_fails_its_job_with_the_reason(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saving the model fails (a full disk): the job's own failure, recorded by the runner
    (``failed`` with the exception's type and message, no model), not a crash of the task
    that leaves it running."""

    def full_disk(self: Model, folder: Any) -> Any:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Model, "save", full_disk)
    store = JobStore.open(sqlite_url)
    job_id = _submit(store, tiny_spec(10))
    assert run_job(job_id, sqlite_url, str(tmp_path)) == "failed"
    job = store.get_job(job_id)
    assert job is not None and job.status == "failed" and job.model_id is None
    assert job.error == "OSError: [Errno 28] No space left on device"
    assert _folders(tmp_path) == []
    store.close()


# ---------------------------------------------------------------------- a superseded attempt
def test_a_superseded_attempt_removes_the_model_folder_it_wrote(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attempt 1 is presumed dead while it trains (requeued); attempt 2 runs elsewhere and
    succeeds.  When attempt 1 then finishes, its write is refused (fencing) and the model folder
    it had written is removed: only the model of the attempt that counts is kept."""
    store = JobStore.open(sqlite_url)
    job_id = _submit(store)
    calls: list[int] = []

    def solve_then_lose_the_job(*args: Any, **kwargs: Any) -> Model:
        calls.append(len(calls) + 1)
        model = real_solve(*args, **kwargs)
        if len(calls) == 1:  # attempt 1, done training: meanwhile the job was resumed and finished
            assert store.requeue(job_id, "its worker stopped reporting for more than 60 s")
            assert run_job(job_id, sqlite_url, str(tmp_path)) == "succeeded"
        return model

    monkeypatch.setattr(runner, "solve", solve_then_lose_the_job)
    assert run_job(job_id, sqlite_url, str(tmp_path)) == "superseded"
    assert calls == [1, 2]
    job = store.get_job(job_id)
    assert job is not None and job.status == "succeeded" and job.attempts == 2
    assert job.model_id is not None and store.get_model(job.model_id) is not None
    assert _folders(tmp_path) == [job.model_id]
    store.close()


def test_a_worker_s_own_thread_setting_wins_over_the_dispatcher_s(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker container sets RELUPDE_TORCH_THREADS from its CPU share; it takes precedence
    over the value the API passed with the task."""
    monkeypatch.delenv("RELUPDE_TORCH_THREADS", raising=False)
    assert runner.worker_threads(3) == 3 and runner.worker_threads(None) is None
    monkeypatch.setenv("RELUPDE_TORCH_THREADS", "2")
    assert runner.worker_threads(3) == 2 and runner.worker_threads(None) == 2
    monkeypatch.setenv("RELUPDE_TORCH_THREADS", "zero")
    assert runner.worker_threads(3) == 3
