"""The job routes: submit, validate, list, read, cancel, delete, and the event stream."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from service.api.auth import Tenant
from service.api.deps import (
    CONTROL,
    check_idempotency_key,
    check_name,
    job_or_404,
    not_found,
    remove_model_files,
    store_of,
)
from service.api.errors import ApiError
from service.api.evaluation import (
    json_body,
)
from service.api.quotas import check_spec_caps, storage_check, too_many_jobs
from service.api.schemas import (
    BODY_RESPONSES,
    ERROR_RESPONSES,
    DeletedOut,
    JobOut,
    JobPageOut,
    ValidatedOut,
    job_out,
)
from service.jobs.runner import checkpoint_path
from service.jobs.store import STATUSES, Job, JobStore
from service.settings import Settings
from solver import JobSpec

EVENT_POLL_S = 0.25
EVENT_KEEPALIVE_S = 15.0
EXAMPLE_SPEC = Path(__file__).resolve().parents[3] / "examples" / "transport-1d.json"


def _example_spec() -> dict[str, Any]:
    try:
        return dict(json.loads(EXAMPLE_SPEC.read_text()))
    except OSError:  # installed without the examples folder
        return {}


SPEC_EXAMPLES = {"transport-1d": {"summary": "examples/transport-1d.json", "value": _example_spec()}}

router = APIRouter()


# ---------------------------------------------------------------------- pagination tokens
def _page_token(job: Job) -> str:
    raw = json.dumps([job.created_at.isoformat(), job.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_page_token(token: str) -> tuple[datetime, str]:
    try:
        if CONTROL.search(token):
            raise ValueError(token)
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        created, job_id = json.loads(raw)
        if CONTROL.search(f"{created}{job_id}"):  # never in a token this server gave
            raise ValueError(job_id)
        return datetime.fromisoformat(created), str(job_id)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            422,
            "invalid_page_token",
            "page_token is not one this server gave; pass next_page_token as it came",
        ) from None


@router.post(
    "/v1/jobs",
    status_code=202,
    dependencies=[Depends(json_body)],
    response_model=JobOut,
    responses={
        **ERROR_RESPONSES,
        **BODY_RESPONSES,
        200: {
            "model": JobOut,
            "description": "a replay: the job first made with this Idempotency-Key and spec",
        },
        409: {
            "model": ERROR_RESPONSES[404]["model"],
            "description": "Idempotency-Key reused with another spec",
        },
        429: {
            "model": ERROR_RESPONSES[404]["model"],
            "description": "too_many_jobs (with Retry-After) or storage_quota_exceeded",
        },
    },
    tags=["jobs"],
    summary="Submit a job spec",
)
async def submit(
    request: Request,
    response: Response,
    tenant: Tenant,
    spec: Annotated[JobSpec, Body(openapi_examples=SPEC_EXAMPLES)],
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JSONResponse:
    """Queue a job.  Answers 202 with the job and `Location: /v1/jobs/{id}`.  Repeating a
    request with the same `Idempotency-Key` and spec returns the first job (200)."""
    from service.jobs.store import IdempotencyConflictError, TooManyJobsError

    check_name(spec.name)
    check_idempotency_key(idempotency_key)
    settings: Settings = request.app.state.settings
    check_spec_caps(spec, settings)
    steps = spec.total_steps
    try:
        job, created = await anyio.to_thread.run_sync(
            lambda: store_of(request).create_job(
                tenant,
                spec.model_dump(mode="json"),
                name=spec.name,
                steps=steps,
                idempotency_key=idempotency_key,
                max_active=settings.max_active_jobs,
                admit=storage_check(settings, tenant),
            )
        )
    except IdempotencyConflictError as exc:
        raise ApiError(409, "idempotency_conflict", str(exc)) from None
    except TooManyJobsError as exc:
        raise too_many_jobs(exc) from None
    if created and request.app.state.dispatcher is not None:
        request.app.state.dispatcher.wake()
    return JSONResponse(
        job_out(job), status_code=202 if created else 200, headers={"Location": f"/v1/jobs/{job.id}"}
    )


@router.post(
    "/v1/specs/validate",
    dependencies=[Depends(json_body)],
    response_model=ValidatedOut,
    responses={**ERROR_RESPONSES, **BODY_RESPONSES},
    tags=["jobs"],
    summary="Check a job spec without submitting it",
)
async def validate_spec(
    request: Request, tenant: Tenant, spec: Annotated[JobSpec, Body(openapi_examples=SPEC_EXAMPLES)]
) -> dict[str, Any]:
    """The same checks as `POST /v1/jobs`, and nothing queued: 200 with the spec as it
    would run (every default filled in) and its total steps, or 422 naming each mistake."""
    check_name(spec.name)
    check_spec_caps(spec, request.app.state.settings)
    steps = spec.total_steps
    return {"valid": True, "steps": steps, "spec": spec.model_dump(mode="json")}


@router.get("/v1/jobs/{job_id}", response_model=JobOut, responses=ERROR_RESPONSES, tags=["jobs"])
async def get_job(request: Request, job_id: str, tenant: Tenant) -> dict[str, Any]:
    """The job: status, progress, error, model_id and the spec."""
    job = await anyio.to_thread.run_sync(job_or_404, store_of(request), job_id, tenant)
    return job_out(job)


@router.get("/v1/jobs", response_model=JobPageOut, responses=ERROR_RESPONSES, tags=["jobs"])
async def list_jobs(
    request: Request,
    tenant: Tenant,
    status: Annotated[str | None, Query(description=f"one of {', '.join(STATUSES)}")] = None,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    page_token: Annotated[str | None, Query(max_length=400)] = None,
) -> dict[str, Any]:
    """The caller's jobs, newest first, a page at a time."""
    if status is not None and status not in STATUSES:
        raise ApiError(422, "validation_error", f"status must be one of {list(STATUSES)}, got {status!r}")
    after = _read_page_token(page_token) if page_token else None
    jobs = await anyio.to_thread.run_sync(
        lambda: store_of(request).list_jobs(tenant, status=status, limit=page_size + 1, after=after)
    )
    token = _page_token(jobs[page_size - 1]) if len(jobs) > page_size else None
    return {"jobs": [job_out(job) for job in jobs[:page_size]], "next_page_token": token}


@router.post("/v1/jobs/{job_id}/cancel", response_model=JobOut, responses=ERROR_RESPONSES, tags=["jobs"])
async def cancel(request: Request, job_id: str, tenant: Tenant) -> dict[str, Any]:
    """Ask a queued or running job to stop (a running job stops at its next progress report).
    Idempotent; a finished job is returned as it is."""
    job = await anyio.to_thread.run_sync(lambda: store_of(request).request_cancel(job_id, tenant))
    if job is None:
        raise not_found("job", job_id)
    return job_out(job)


@router.delete("/v1/jobs/{job_id}", response_model=DeletedOut, responses=ERROR_RESPONSES, tags=["jobs"])
async def delete_job(request: Request, job_id: str, tenant: Tenant) -> dict[str, Any]:
    """Delete the job: its record, loss curve, checkpoint and the models it made (their
    files too).  A queued job never runs; a running one stops at its next progress report.
    Not undoable; a second DELETE answers 404."""
    deleted = await anyio.to_thread.run_sync(lambda: store_of(request).delete_job(job_id, tenant))
    if deleted is None:
        raise not_found("job", job_id)
    _, models = deleted
    settings: Settings = request.app.state.settings

    def remove_files() -> None:
        remove_model_files(request, models)
        checkpoint_path(settings.data_dir, job_id).unlink(missing_ok=True)

    await anyio.to_thread.run_sync(remove_files)
    return {"id": job_id, "deleted": True, "model_ids": [m.id for m in models]}


@router.get(
    "/v1/jobs/{job_id}/events",
    responses={
        **ERROR_RESPONSES,
        200: {"content": {"text/event-stream": {}}, "description": "event stream"},
    },
    tags=["jobs"],
)
async def events(request: Request, job_id: str, tenant: Tenant) -> StreamingResponse:
    """Server-sent events: `progress` while the job runs, `status` on every change of
    status; each `data` is the job's JSON; the stream ends once the job has finished."""
    store = store_of(request)
    await anyio.to_thread.run_sync(job_or_404, store, job_id, tenant)
    return StreamingResponse(
        _event_stream(request, store, job_id, tenant),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _event_stream(request: Request, store: JobStore, job_id: str, tenant: str) -> AsyncIterator[bytes]:
    last_status: str | None = None
    last_progress: tuple[int, float | None] | None = None
    last_sent = time.monotonic()
    while True:
        job = await anyio.to_thread.run_sync(store.get_job, job_id, tenant)
        if job is None:
            return
        payload = json.dumps(job_out(job))
        if job.status != last_status:
            yield f"event: status\ndata: {payload}\n\n".encode()
            last_status, last_sent = job.status, time.monotonic()
        elif (job.step, job.loss) != last_progress:
            yield f"event: progress\ndata: {payload}\n\n".encode()
            last_sent = time.monotonic()
        last_progress = (job.step, job.loss)
        if job.done:
            return
        if time.monotonic() - last_sent > EVENT_KEEPALIVE_S:
            yield b": keep-alive\n\n"
            last_sent = time.monotonic()
        if await request.is_disconnected():
            return
        await asyncio.sleep(EVENT_POLL_S)
