"""The job store on SQLite and PostgreSQL: lifecycle, fencing, pagination, idempotency."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from service.jobs.store import (
    SCHEMA_VERSION,
    IdempotencyConflictError,
    JobStore,
    ModelRecord,
    StoreError,
    now,
)
from solver.training import LossRecord
from tests.service.conftest import tiny_spec


def _submit(store: JobStore, tenant: str = "a", key: str | None = None, steps: int = 10) -> str:
    job, created = store.create_job(tenant, tiny_spec(steps), name="t", steps=steps, idempotency_key=key)
    assert created
    return job.id


def test_schema_is_created_and_versioned(store: JobStore) -> None:
    assert store.schema_version() == SCHEMA_VERSION


def test_a_newer_schema_is_refused(store_url: str) -> None:
    store = JobStore.open(store_url)
    with store.engine.begin() as connection:
        connection.execute(
            text("UPDATE alembic_version SET version_num = :v"), {"v": f"{SCHEMA_VERSION + 1:04d}"}
        )
    store.close()
    with pytest.raises(StoreError, match="upgrade relupde"):
        JobStore.open(store_url)


def _legacy_store(url: str, version: int) -> str:
    """A database as relupde wrote it before Alembic, at schema ``version`` (its number in
    the table ``relupde_schema``), holding one job: the id of that job."""
    store = JobStore.open(url)
    job_id = _submit(store)
    with store.engine.begin() as connection:
        if version < 2:
            connection.execute(text("DROP TABLE job_losses"))
        if version < 3:
            connection.execute(text("ALTER TABLE jobs DROP COLUMN residuals"))
        connection.execute(text("DROP TABLE alembic_version"))
        connection.execute(text("CREATE TABLE relupde_schema (version INTEGER PRIMARY KEY)"))
        connection.execute(text("INSERT INTO relupde_schema (version) VALUES (:v)"), {"v": version})
    store.close()
    return job_id


@pytest.mark.parametrize("version", [1, 2, 3])
def test_a_store_written_before_alembic_is_upgraded_and_keeps_its_jobs(store_url: str, version: int) -> None:
    """relupde before Alembic kept its schema version in ``relupde_schema`` (3 is the version
    the last such relupde wrote): opening it stamps that revision, upgrades to the newest,
    drops the old table and keeps every job; a loss curve and residuals then work."""
    job_id = _legacy_store(store_url, version)
    store = JobStore.open(store_url)
    assert store.schema_version() == SCHEMA_VERSION == 3
    with store.engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        assert (
            "relupde_schema" not in tables and {"alembic_version", "jobs", "models", "job_losses"} <= tables
        )
    job = store.get_job(job_id, "a")
    assert job is not None and job.residuals is None and job.status == "queued"
    started = store.begin(job_id, "w", 4)
    assert started is not None
    record = LossRecord(10, 0.5, {"pde": 1.0}, {"pde": 0.25}, 3.5)
    assert store.report(job_id, started[1], step=10, steps=10, loss=1.0, elapsed_s=0.5, records=[record])
    assert store.loss_curve(job_id) == [record]
    job = store.get_job(job_id, "a")
    assert job is not None
    assert job.residuals == {"step": 10, "sup": {"pde": 1.0}, "mean": {"pde": 0.25}, "objective": 3.5}
    store.close()
    assert JobStore.open(store_url).schema_version() == SCHEMA_VERSION  # opening again changes nothing


def test_the_migrations_make_the_schema_the_models_declare(store_url: str) -> None:
    """The Alembic revisions and the ORM models agree: every table and column the models
    declare exists after the migrations, and no other."""
    from service.jobs.store import Base

    store = JobStore.open(store_url)
    with store.engine.connect() as connection:
        inspector = inspect(connection)
        for table in Base.metadata.sorted_tables:
            found = {c["name"] for c in inspector.get_columns(table.name)}
            assert found == {c.name for c in table.columns}, table.name
    store.close()


def test_reopening_keeps_jobs(store_url: str) -> None:
    first = JobStore.open(store_url)
    job_id = _submit(first)
    first.close()
    second = JobStore.open(store_url)
    job = second.get_job(job_id, "a")
    assert job is not None and job.status == "queued" and job.spec == tiny_spec(10)
    second.close()


def test_unreachable_database_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="RELUPDE_DATABASE_URL"):
        JobStore.open("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(StoreError, match="psycopg"):
        JobStore.open("postgresql://nobody@127.0.0.1:1/none")


def test_tenants_do_not_see_each_other(store: JobStore) -> None:
    job_id = _submit(store, "a")
    assert store.get_job(job_id, "b") is None
    assert store.request_cancel(job_id, "b") is None
    assert store.list_jobs("b") == []
    assert [job.id for job in store.list_jobs("a")] == [job_id]


def test_idempotency_key_replays_and_conflicts(store: JobStore) -> None:
    spec = tiny_spec(10)
    first, created = store.create_job("a", spec, name="t", steps=10, idempotency_key="k1")
    again, created_again = store.create_job("a", dict(spec), name="t", steps=10, idempotency_key="k1")
    assert created and not created_again and again.id == first.id
    other, created_other = store.create_job("b", spec, name="t", steps=10, idempotency_key="k1")
    assert created_other and other.id != first.id  # keys are per tenant
    with pytest.raises(IdempotencyConflictError, match="different spec"):
        store.create_job("a", tiny_spec(11), name="t", steps=11, idempotency_key="k1")


def test_pagination_is_newest_first_and_complete(store: JobStore) -> None:
    ids = [_submit(store) for _ in range(7)]
    seen: list[str] = []
    after = None
    while True:
        page = store.list_jobs("a", limit=3, after=after)
        seen += [job.id for job in page]
        if len(page) < 3:
            break
        after = (page[-1].created_at, page[-1].id)
    assert seen == list(reversed(ids))
    assert store.list_jobs("a", status="running") == []


def test_cancel_queued_is_immediate_running_is_requested(store: JobStore) -> None:
    queued = _submit(store)
    job = store.request_cancel(queued, "a")
    assert job is not None and job.status == "canceled" and job.finished_at is not None
    assert store.begin(queued, "w", 4) is None  # a canceled job never starts

    running = _submit(store)
    started = store.begin(running, "w", 4)
    assert started is not None
    job = store.request_cancel(running, "a")
    assert job is not None and job.status == "running" and job.cancel_requested
    assert store.report(running, started[1], step=3, steps=10, loss=1.0, elapsed_s=0.1) == "cancel"
    assert store.finish(running, started[1], "canceled")
    again = store.request_cancel(running, "a")  # idempotent on a finished job
    assert again is not None and again.status == "canceled"


def test_a_superseded_attempt_cannot_write(store: JobStore) -> None:
    job_id = _submit(store)
    first = store.begin(job_id, "w1", 4)
    assert first is not None and first[1] == 1
    assert store.requeue(job_id, "worker gone")
    second = store.begin(job_id, "w2", 4)
    assert second is not None and second[1] == 2
    stale = [LossRecord(5, 1.0, {"pde": 9.0}, {"pde": 9.0})]
    assert store.report(job_id, 1, step=5, steps=10, loss=0.5, elapsed_s=1.0, records=stale) == "superseded"
    assert store.loss_curve(job_id) == []  # the superseded attempt's records were not kept
    model = ModelRecord("m" * 32, "a", job_id, "models/a/m", "0" * 64, now())
    assert not store.finish(job_id, 1, "succeeded", model=model)
    assert store.get_model(model.id) is None
    assert store.report(job_id, 2, step=7, steps=10, loss=0.25, elapsed_s=2.0) == "continue"
    assert store.finish(job_id, 2, "succeeded", model=model)
    job = store.get_job(job_id, "a")
    assert job is not None
    assert (job.status, job.step, job.loss, job.model_id, job.attempts) == ("succeeded", 7, 0.25, model.id, 2)
    record = store.get_model(model.id, "a")
    assert record is not None and record.job_id == job_id
    assert store.get_model(model.id, "b") is None


def test_loss_curve_is_by_step_and_a_resumed_attempt_replaces_repeated_steps(store: JobStore) -> None:
    job_id = _submit(store)
    first = store.begin(job_id, "w1", 4)
    assert first is not None

    def records(steps: range, value: float) -> list[LossRecord]:
        return [
            LossRecord(s, s / 10, {"pde": value, "bc": value / 2}, {"pde": value / 4, "bc": 0.0})
            for s in steps
        ]

    store.report(
        job_id, 1, step=30, steps=60, loss=1.0, elapsed_s=3.0, records=records(range(0, 40, 10), 1.0)
    )
    assert [r.step for r in store.loss_curve(job_id)] == [0, 10, 20, 30]
    assert store.requeue(job_id, "worker gone")
    second = store.begin(job_id, "w2", 4)
    assert second is not None
    # resumed from a checkpoint at step 20: steps 20 and 30 are recorded again
    store.report(
        job_id, 2, step=50, steps=60, loss=0.5, elapsed_s=5.0, records=records(range(20, 60, 10), 0.5)
    )
    curve = store.loss_curve(job_id)
    assert [r.step for r in curve] == [0, 10, 20, 30, 40, 50]
    assert [r.sup["pde"] for r in curve] == [1.0, 1.0, 0.5, 0.5, 0.5, 0.5]
    assert curve[-1] == LossRecord(50, 5.0, {"pde": 0.5, "bc": 0.25}, {"pde": 0.125, "bc": 0.0})
    assert store.loss_curve("0" * 32) == []


def test_attempts_are_bounded(store: JobStore) -> None:
    job_id = _submit(store)
    for attempt in (1, 2):
        started = store.begin(job_id, "w", 2)
        assert started is not None and started[1] == attempt
        assert store.requeue(job_id, "killed")
    assert store.begin(job_id, "w", 2) is None
    job = store.get_job(job_id, "a")
    assert job is not None and job.status == "failed"
    assert job.error is not None and "started 2 times" in job.error and "killed" in job.error


def test_stale_running_jobs_are_found(store: JobStore) -> None:
    job_id = _submit(store)
    assert store.begin(job_id, "w", 4) is not None
    assert store.stale_running(timedelta(seconds=60)) == []
    assert [job.id for job in store.stale_running(timedelta(seconds=-1))] == [job_id]


def test_counts_by_status(store: JobStore) -> None:
    _submit(store)
    done = _submit(store)
    store.request_cancel(done, "a")
    counts = store.count_by_status()
    assert counts["queued"] == 1 and counts["canceled"] == 1 and counts["succeeded"] == 0


def test_fail_unfinished_keeps_finished_jobs(store: JobStore) -> None:
    job_id = _submit(store)
    started = store.begin(job_id, "w", 4)
    assert started is not None
    assert store.finish(job_id, started[1], "succeeded")
    assert not store.fail_unfinished(job_id, "late infrastructure error")
    job = store.get_job(job_id)
    assert job is not None and job.status == "succeeded" and job.error is None


def test_fail_unfinished_fails_queued_and_running_jobs_only(store: JobStore) -> None:
    """Infrastructure failures: a queued or running job becomes ``failed`` with the given
    reason and a finish time (and a worker still running it is told to stop); succeeded and
    canceled jobs keep their outcome."""
    queued = _submit(store)
    running = _submit(store)
    started = store.begin(running, "w", 4)
    assert started is not None
    succeeded = _submit(store)
    first = store.begin(succeeded, "w", 4)
    assert first is not None and store.finish(succeeded, first[1], "succeeded")
    canceled = _submit(store)
    store.request_cancel(canceled, "a")

    reason = "the job's worker failed: KilledWorker: too many deaths"
    assert store.fail_unfinished(queued, reason)
    assert store.fail_unfinished(running, reason)
    assert not store.fail_unfinished(succeeded, reason)
    assert not store.fail_unfinished(canceled, reason)

    for job_id in (queued, running):
        job = store.get_job(job_id, "a")
        assert job is not None
        assert (job.status, job.error, job.model_id) == ("failed", reason, None)
        assert job.finished_at is not None
    assert store.report(running, started[1], step=3, steps=10, loss=1.0, elapsed_s=0.1) == "superseded"
    assert not store.finish(running, started[1], "succeeded")  # the failure stands
    assert store.begin(queued, "w", 4) is None  # a failed job never starts
    outcomes = {job_id: store.get_job(job_id) for job_id in (running, succeeded, canceled)}
    assert {job_id: (job.status, job.error) for job_id, job in outcomes.items() if job} == {
        running: ("failed", reason),
        succeeded: ("succeeded", None),
        canceled: ("canceled", None),
    }
    assert store.count_by_status() == {"queued": 0, "running": 0, "succeeded": 1, "failed": 2, "canceled": 1}
