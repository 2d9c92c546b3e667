"""The job store: the single source of truth for jobs, their progress and their models.

SQLAlchemy 2 over SQLite (WAL, the default, a file in the data dir) or PostgreSQL (psycopg 3).
The API process, the dispatcher and every worker process open their own ``JobStore`` on the
same URL.  A worker's writes are fenced by the attempt number it was given in ``begin``: a
write from a superseded attempt (a worker thought dead whose job was resumed elsewhere)
changes nothing, and that worker stops at its next progress report.

The schema is migrated by Alembic (``service.jobs.schema``): ``JobStore.open`` creates it on
an empty database, upgrades an older one (a database of relupde before Alembic included) and
refuses a newer one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import (
    Boolean,
    DateTime,
    Engine,
    Float,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    or_,
    select,
    update,
)
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from service.jobs import schema
from solver.training import LossRecord

SCHEMA_VERSION = schema.head()

STATUSES = ("queued", "running", "succeeded", "failed", "canceled")
TERMINAL = frozenset({"succeeded", "failed", "canceled"})
Status = Literal["queued", "running", "succeeded", "failed", "canceled"]
Report = Literal["continue", "cancel", "superseded"]


class StoreError(RuntimeError):
    """The job store cannot be used; the message says what to change."""


class IdempotencyConflictError(ValueError):
    """An Idempotency-Key was reused with a different job spec."""


class TooManyJobsError(RuntimeError):
    """The tenant already has ``limit`` jobs queued or running (``active`` of them)."""

    def __init__(self, active: int, limit: int) -> None:
        super().__init__(f"{active} jobs queued or running, at most {limit} allowed")
        self.active, self.limit = active, limit


#: One line per job transition, ``job=<id> tenant=<t> event=<e> key=value ...`` (no API key
#: ever reaches the store): submitted, started, resumed, checkpoint (service.jobs.runner),
#: cancel_requested, requeued, succeeded, failed, canceled, deleted.
job_log = logging.getLogger("relupde.jobs")
_BARE = re.compile(r"[A-Za-z0-9_.:/+-]+")


def log_job(event: str, job_id: str, tenant: str, **fields: object) -> None:
    """Log one job transition; a value that is not a plain token is written as a JSON string."""
    parts = [f"job={job_id}", f"tenant={tenant}", f"event={event}"]
    for key, value in fields.items():
        if value is None:
            continue
        shown = str(value)
        parts.append(f"{key}={shown if _BARE.fullmatch(shown) else json.dumps(shown)}")
    job_log.info(" ".join(parts))


def now() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return (
            value.astimezone(UTC) if dialect.name != "sqlite" else value.astimezone(UTC).replace(tzinfo=None)
        )

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("tenant", "idempotency_key", name="uq_jobs_tenant_idempotency"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), index=True)
    spec: Mapped[str] = mapped_column(Text)
    spec_sha256: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    step: Mapped[int] = mapped_column(Integer, default=0)
    steps: Mapped[int] = mapped_column(Integer)
    loss: Mapped[float | None] = mapped_column(Float)
    elapsed_s: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    model_id: Mapped[str | None] = mapped_column(String(32))
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200))
    # schema version 3: the latest loss-curve record, JSON {"step", "sup", "mean", "objective"}
    residuals: Mapped[str | None] = mapped_column(Text, nullable=True)


class ModelRow(Base):
    __tablename__ = "models"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant: Mapped[str] = mapped_column(String(64), index=True)
    job_id: Mapped[str] = mapped_column(String(32), index=True)
    path: Mapped[str] = mapped_column(Text)
    weights_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LossRow(Base):
    """One loss-curve record of a running job (schema version 2): sup and mean |r| per term."""

    __tablename__ = "job_losses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer)
    elapsed_s: Mapped[float] = mapped_column(Float)
    record: Mapped[str] = mapped_column(Text)  # {"sup": {term: float}, "mean": {term: float}}


@dataclass(frozen=True)
class Job:
    """One job as the API shows it (docs/service.md), plus the store's bookkeeping."""

    id: str
    tenant: str
    name: str | None
    status: Status
    spec: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    step: int
    steps: int
    loss: float | None
    elapsed_s: float
    error: str | None
    model_id: str | None
    cancel_requested: bool
    attempts: int
    worker: str | None = None
    residuals: dict[str, Any] | None = None  # the latest {"step", "sup", "mean", "objective"}

    @property
    def done(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class ModelRecord:
    id: str
    tenant: str
    job_id: str
    path: str
    weights_sha256: str
    created_at: datetime


def _job(row: JobRow) -> Job:
    return Job(
        id=row.id,
        tenant=row.tenant,
        name=row.name,
        status=row.status,  # type: ignore[arg-type]
        spec=json.loads(row.spec),
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        heartbeat_at=row.heartbeat_at,
        step=row.step,
        steps=row.steps,
        loss=row.loss,
        elapsed_s=row.elapsed_s,
        error=row.error,
        model_id=row.model_id,
        cancel_requested=row.cancel_requested,
        attempts=row.attempts,
        worker=row.worker,
        residuals=None if row.residuals is None else json.loads(row.residuals),
    )


_MODEL_BY_ID = select(ModelRow.__table__).where(ModelRow.__table__.c.id == bindparam("id"))


def _model(row: ModelRow) -> ModelRecord:
    return ModelRecord(row.id, row.tenant, row.job_id, row.path, row.weights_sha256, row.created_at)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL and a busy timeout (several processes write)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql") and not url.startswith("postgresql+psycopg"):
        raise StoreError(
            f"RELUPDE_DATABASE_URL {url.split('@')[-1]!r}: use the psycopg 3 driver, "
            "e.g. postgresql+psycopg://user@host:5432/db"
        )
    return create_engine(url, pool_pre_ping=True)


class JobStore:
    """Jobs and models of every tenant.  Every method is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> JobStore:
        """Connect, create the schema if the database is empty, migrate an older one."""
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                connection.execute(select(1))
        except Exception as exc:
            where = url.split("@")[-1]
            raise StoreError(
                f"cannot reach the job store at {where!r} "
                f"({type(exc).__name__}: {str(exc).splitlines()[0]}); "
                "check RELUPDE_DATABASE_URL or unset it to use SQLite in RELUPDE_DATA_DIR"
            ) from None
        store = cls(engine)
        store._prepare_schema()
        return store

    def _prepare_schema(self) -> None:
        try:
            schema.prepare(self.engine)
        except schema.SchemaError as exc:
            raise StoreError(str(exc)) from None

    def ping(self) -> None:
        """One round trip to the database (``SELECT 1``): the liveness check."""
        with self.engine.connect() as connection:
            connection.execute(sql_text("SELECT 1"))

    def schema_version(self) -> int:
        with self.engine.connect() as connection:
            return schema.current(connection)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()

    # ------------------------------------------------------------------ API side
    def create_job(
        self,
        tenant: str,
        spec: dict[str, Any],
        *,
        name: str | None,
        steps: int,
        idempotency_key: str | None = None,
        max_active: int | None = None,
        admit: Callable[[], None] | None = None,
    ) -> tuple[Job, bool]:
        """Insert a queued job; returns (job, created).  A repeated ``idempotency_key`` with the
        same spec returns the first job; with another spec raises ``IdempotencyConflictError``.
        A new job (never a replay) is first passed to ``admit`` (which raises to refuse it),
        then refused with ``TooManyJobsError`` when the tenant already has ``max_active``
        jobs queued or running: the count is taken after the insert, in its transaction and
        under a per-tenant lock (SQLite: the write lock; PostgreSQL: an advisory lock), so
        concurrent submits cannot overshoot."""
        text = canonical_json(spec)
        digest = hashlib.sha256(text.encode()).hexdigest()
        if idempotency_key is not None:
            existing = self._by_idempotency_key(tenant, idempotency_key)
            if existing is not None:
                return self._replay(existing, digest)
        if admit is not None:
            admit()
        row = JobRow(
            id=uuid.uuid4().hex,
            tenant=tenant,
            name=name,
            status="queued",
            spec=text,
            spec_sha256=digest,
            idempotency_key=idempotency_key,
            created_at=now(),
            step=0,
            steps=steps,
            elapsed_s=0.0,
            cancel_requested=False,
            attempts=0,
        )
        try:
            with self._session() as session:
                if max_active is not None and session.get_bind().dialect.name == "postgresql":
                    session.execute(sql_text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": tenant})
                session.add(row)
                session.flush()
                if max_active is not None:
                    active = self._active_count(session, tenant) - 1
                    if active >= max_active:
                        raise TooManyJobsError(active, max_active)
        except IntegrityError:
            if idempotency_key is None:
                raise
            existing = self._by_idempotency_key(tenant, idempotency_key)
            if existing is None:
                raise
            return self._replay(existing, digest)
        log_job("submitted", row.id, tenant, steps=steps)
        return _job(row), True

    @staticmethod
    def _active_count(session: Session, tenant: str) -> int:
        query = select(func.count()).where(JobRow.tenant == tenant, JobRow.status.in_(("queued", "running")))
        return int(session.scalar(query) or 0)

    def active_jobs(self, tenant: str) -> int:
        """How many of the tenant's jobs are queued or running."""
        with self._session() as session:
            return self._active_count(session, tenant)

    def _by_idempotency_key(self, tenant: str, key: str) -> JobRow | None:
        with self._session() as session:
            return session.scalar(
                select(JobRow).where(JobRow.tenant == tenant, JobRow.idempotency_key == key)
            )

    @staticmethod
    def _replay(row: JobRow, digest: str) -> tuple[Job, bool]:
        if row.spec_sha256 != digest:
            raise IdempotencyConflictError(
                f"Idempotency-Key was already used for job {row.id} with a different spec; "
                "use a new key for a new job"
            )
        return _job(row), False

    def get_job(self, job_id: str, tenant: str | None = None) -> Job | None:
        """The job, or None when it does not exist or belongs to another tenant."""
        with self._session() as session:
            row = session.get(JobRow, job_id)
            if row is None or (tenant is not None and row.tenant != tenant):
                return None
            return _job(row)

    def list_jobs(
        self,
        tenant: str,
        *,
        status: str | None = None,
        limit: int = 50,
        after: tuple[datetime, str] | None = None,
    ) -> list[Job]:
        """Newest first; ``after`` is the (created_at, id) of the last job of the previous page."""
        query = select(JobRow).where(JobRow.tenant == tenant)
        if status is not None:
            query = query.where(JobRow.status == status)
        if after is not None:
            created, last_id = after
            query = query.where(
                or_(JobRow.created_at < created, (JobRow.created_at == created) & (JobRow.id < last_id))
            )
        query = query.order_by(JobRow.created_at.desc(), JobRow.id.desc()).limit(limit)
        with self._session() as session:
            return [_job(row) for row in session.scalars(query)]

    def request_cancel(self, job_id: str, tenant: str) -> Job | None:
        """A queued job is canceled at once; a running one is asked to stop (the worker polls);
        a finished one is left as it is.  Idempotent."""
        event = None
        with self._session() as session:
            row = session.get(JobRow, job_id, with_for_update=True)
            if row is None or row.tenant != tenant:
                return None
            if row.status == "queued":
                row.status = "canceled"
                row.finished_at = now()
                row.cancel_requested = True
                event = "canceled"
            elif row.status == "running" and not row.cancel_requested:
                row.cancel_requested = True
                event = "cancel_requested"
            job = _job(row)
        if event is not None:
            log_job(event, job.id, job.tenant, attempt=job.attempts, step=job.step)
        return job

    def delete_job(self, job_id: str, tenant: str) -> tuple[Job, list[ModelRecord]] | None:
        """Delete the tenant's job with its loss-curve records and the models it made, in one
        transaction; returns the job and those models (whose folders the caller removes), or
        None if there is no such job.  A running job's worker finds its attempt gone at its
        next report and stops (it is superseded), so this also cancels."""
        with self._session() as session:
            row = session.get(JobRow, job_id, with_for_update=True)
            if row is None or row.tenant != tenant:
                return None
            job = _job(row)
            models = [_model(m) for m in session.scalars(select(ModelRow).where(ModelRow.job_id == job_id))]
            session.execute(delete(LossRow).where(LossRow.job_id == job_id))
            session.execute(delete(ModelRow).where(ModelRow.job_id == job_id))
            session.delete(row)
        log_job("deleted", job.id, job.tenant, status=job.status, models=len(models))
        return job, models

    def delete_model(self, model_id: str, tenant: str) -> ModelRecord | None:
        """Delete the tenant's model record (the job that made it keeps no model_id); returns
        it (the caller removes its folder), or None if there is no such model."""
        with self._session() as session:
            row = session.get(ModelRow, model_id, with_for_update=True)
            if row is None or row.tenant != tenant:
                return None
            record = _model(row)
            session.execute(update(JobRow).where(JobRow.model_id == model_id).values(model_id=None))
            session.delete(row)
            return record

    def count_by_status(self) -> dict[str, int]:
        with self._session() as session:
            rows = session.execute(select(JobRow.status, func.count()).group_by(JobRow.status)).all()
        counts = dict.fromkeys(STATUSES, 0)
        counts.update({status: int(count) for status, count in rows})
        return counts

    def get_model(self, model_id: str, tenant: str | None = None) -> ModelRecord | None:
        """The model's record (None if unknown or another tenant's).  This runs on every
        evaluate request, so it is one Core SELECT on a pooled connection, without an ORM
        session (a third of the cost)."""
        with self.engine.connect() as connection:
            row = connection.execute(_MODEL_BY_ID, {"id": model_id}).first()
        if row is None or (tenant is not None and row.tenant != tenant):
            return None
        return ModelRecord(row.id, row.tenant, row.job_id, row.path, row.weights_sha256, row.created_at)

    # ------------------------------------------------------------------ dispatcher side
    def jobs_with_status(self, status: Status) -> list[Job]:
        with self._session() as session:
            rows = session.scalars(select(JobRow).where(JobRow.status == status).order_by(JobRow.created_at))
            return [_job(row) for row in rows]

    def requeue(self, job_id: str, reason: str) -> bool:
        """A running job whose worker is gone goes back to the queue (it resumes from its
        checkpoint).  Returns False if the job is no longer running."""
        with self._session() as session:
            result = session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == "running")
                .values(status="queued", worker=None, error=reason)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return False
            tenant, step = session.execute(
                select(JobRow.tenant, JobRow.step).where(JobRow.id == job_id)
            ).one()
        log_job("requeued", job_id, tenant, step=step, reason=reason)
        return True

    def fail_unfinished(self, job_id: str, reason: str) -> bool:
        """Mark a job failed unless it already finished (infrastructure failures)."""
        with self._session() as session:
            result = session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status.in_(("queued", "running")))
                .values(status="failed", error=reason, finished_at=now())
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return False
            tenant, step = session.execute(
                select(JobRow.tenant, JobRow.step).where(JobRow.id == job_id)
            ).one()
        log_job("failed", job_id, tenant, step=step, error=reason)
        return True

    # ------------------------------------------------------------------ worker side
    def begin(self, job_id: str, worker: str, max_attempts: int) -> tuple[Job, int] | None:
        """Start (or resume) a job on ``worker``: status running, a new attempt number.
        Returns None when there is nothing to run (finished, canceled, unknown); fails the job
        when it has already been started ``max_attempts`` times."""
        with self._session() as session:
            row = session.get(JobRow, job_id, with_for_update=True)
            if row is None or row.status in TERMINAL:
                return None
            if row.cancel_requested:
                row.status, row.finished_at = "canceled", now()
            elif row.attempts >= max_attempts:
                row.status, row.finished_at = "failed", now()
                row.error = (
                    f"the job was started {row.attempts} times and its worker stopped each time "
                    f"(last at step {row.step}); last reason: {row.error or 'unknown'}"
                )
            else:
                row.attempts += 1
                row.status = "running"
                row.worker = worker
                row.error = None
                row.started_at = row.started_at or now()
                row.heartbeat_at = now()
            job = _job(row)
        if job.status != "running":
            log_job(job.status, job.id, job.tenant, attempt=job.attempts, step=job.step, error=job.error)
            return None
        event = "started" if job.attempts == 1 else "resumed"
        log_job(event, job.id, job.tenant, attempt=job.attempts, step=job.step, worker=worker)
        return job, job.attempts

    def report(
        self,
        job_id: str,
        attempt: int,
        *,
        step: int,
        steps: int,
        loss: float | None,
        elapsed_s: float,
        records: Sequence[LossRecord] = (),
    ) -> Report:
        """Record progress (and a heartbeat) and the loss-curve records made since the last
        report; tell the worker whether to go on."""
        with self._session() as session:
            result = session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.attempts == attempt, JobRow.status == "running")
                .values(step=step, steps=steps, loss=loss, elapsed_s=elapsed_s, heartbeat_at=now())
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return "superseded"
            session.add_all(
                LossRow(
                    job_id=job_id,
                    attempt=attempt,
                    step=r.step,
                    elapsed_s=r.elapsed_s,
                    record=json.dumps({"sup": r.sup, "mean": r.mean, "objective": r.to_json()["objective"]}),
                )
                for r in records
            )
            if records:
                latest = records[-1].to_json()
                latest.pop("elapsed_s")
                session.execute(
                    update(JobRow).where(JobRow.id == job_id).values(residuals=json.dumps(latest))
                )
            cancel = session.scalar(select(JobRow.cancel_requested).where(JobRow.id == job_id))
        return "cancel" if cancel else "continue"

    def finish(
        self,
        job_id: str,
        attempt: int,
        status: Literal["succeeded", "failed", "canceled"],
        *,
        error: str | None = None,
        model: ModelRecord | None = None,
    ) -> bool:
        """Close the attempt; with ``model`` the model row is written in the same transaction."""
        values: dict[str, Any] = {"status": status, "finished_at": now(), "error": error}
        if model is not None:
            values["model_id"] = model.id
        with self._session() as session:
            result = session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.attempts == attempt, JobRow.status == "running")
                .values(**values)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return False
            tenant, step = session.execute(
                select(JobRow.tenant, JobRow.step).where(JobRow.id == job_id)
            ).one()
            if model is not None:
                session.add(
                    ModelRow(
                        id=model.id,
                        tenant=model.tenant,
                        job_id=model.job_id,
                        path=model.path,
                        weights_sha256=model.weights_sha256,
                        created_at=model.created_at,
                    )
                )
        log_job(
            status, job_id, tenant, attempt=attempt, step=step, model=model.id if model else None, error=error
        )
        return True

    def loss_curve(self, job_id: str) -> list[LossRecord]:
        """The job's loss-curve records by step; where a resumed attempt recorded a step again,
        its record replaces the earlier one."""
        with self._session() as session:
            rows = session.execute(
                select(LossRow.step, LossRow.elapsed_s, LossRow.record)
                .where(LossRow.job_id == job_id)
                .order_by(LossRow.id)
            ).all()
        by_step: dict[int, LossRecord] = {}
        for step, elapsed_s, stored in rows:
            data = json.loads(stored)
            by_step[step] = LossRecord.from_json({"step": step, "elapsed_s": elapsed_s, **data})
        return [by_step[step] for step in sorted(by_step)]

    def stale_running(self, older_than: timedelta) -> list[Job]:
        """Running jobs whose worker has not reported for ``older_than``."""
        limit = now() - older_than
        with self._session() as session:
            rows = session.scalars(
                select(JobRow).where(JobRow.status == "running", JobRow.heartbeat_at < limit)
            )
            return [_job(row) for row in rows]
