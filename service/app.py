"""The REST API (API.md section 2): FastAPI over the job store, the dispatcher and the models.

``create_app(settings)`` builds the application; its lifespan opens the store (creating or
migrating the schema), and starts the dispatcher (a LocalCluster, or the scheduler at
``RELUPDE_DASK_ADDRESS``).  Routes are thin: they authenticate the caller, check the input,
and read or write the store; training happens on Dask workers (``service.runner``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Body, Depends, FastAPI, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.access import (
    job_or_404,
    load_model_of,
    model_record,
    not_found,
    remove_model_files,
    store_of,
    verified_weights,
)
from service.auth import Authenticator, Tenant
from service.dashboard import add_dashboard_routes
from service.dispatcher import Dispatcher
from service.errors import ApiError, install_error_handlers
from service.evaluation import (
    NPY_TYPE,
    NPZ_TYPE,
    ModelCache,
    check_points,
    encode_json,
    encode_npz,
    evaluate,
    json_body,
    parse_json_request,
    parse_npy_request,
    parse_outputs,
)
from service.limits import BodyLimit
from service.metrics import Metrics
from service.plots import add_plot_routes
from service.runner import checkpoint_path
from service.schemas import (
    ERROR_RESPONSES,
    MODEL_RESPONSES,
    DeletedOut,
    EvaluateIn,
    EvaluateOut,
    HealthOut,
    JobOut,
    JobPageOut,
    ModelOut,
    ValidatedOut,
    iso,
    job_out,
)
from service.settings import Settings
from service.store import STATUSES, Job, JobStore
from solver import JobSpec
from solver.model import VERSION

EVENT_POLL_S = 0.25
EVENT_KEEPALIVE_S = 15.0
EXAMPLE_SPEC = Path(__file__).resolve().parent.parent / "examples" / "transport-1d.json"


def _example_spec() -> dict[str, Any]:
    try:
        return dict(json.loads(EXAMPLE_SPEC.read_text()))
    except OSError:  # installed without the examples folder
        return {}


SPEC_EXAMPLES = {"transport-1d": {"summary": "examples/transport-1d.json", "value": _example_spec()}}


def create_app(settings: Settings, *, dispatch: bool = True) -> FastAPI:
    """The application.  ``dispatch=False`` runs the API without executing jobs (tests)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.models_dir.mkdir(parents=True, exist_ok=True)
        store = await anyio.to_thread.run_sync(JobStore.open, settings.database_url)
        app.state.store = store
        app.state.metrics = Metrics(store)
        app.state.dispatcher = None
        if dispatch:
            dispatcher = Dispatcher(
                store, settings, on_finished=lambda job_id: _observe_training(app, job_id)
            )
            dispatcher.start()
            app.state.dispatcher = dispatcher
        try:
            yield
        finally:
            if app.state.dispatcher is not None:
                await anyio.to_thread.run_sync(app.state.dispatcher.stop)
            store.close()

    app = FastAPI(
        title="relupde",
        version=VERSION,
        summary="PDE solving with ReLU networks: exact network derivatives, a W^{1,inf} loss, error bounds",
        description=(
            "Submit a job spec (docs/spec.md), follow its progress, then evaluate the solution and its "
            "gradient.  Every /v1 call carries `Authorization: Bearer <key>`; every error is "
            '`{"error": {"code", "message", "details"}}`.'
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.auth = Authenticator(settings.api_keys)
    app.state.models = ModelCache()
    app.add_middleware(BodyLimit)
    install_error_handlers(app)
    _add_job_routes(app)
    _add_model_routes(app)
    _add_ops_routes(app)
    add_plot_routes(app)
    add_dashboard_routes(app)
    return app


def _observe_training(app: FastAPI, job_id: str) -> None:
    job = app.state.store.get_job(job_id)
    if job is not None and job.done and job.started_at and job.finished_at:
        seconds = (job.finished_at - job.started_at).total_seconds()
        app.state.metrics.training_seconds.labels(job.status).observe(seconds)


# ---------------------------------------------------------------------- pagination tokens
def _page_token(job: Job) -> str:
    raw = json.dumps([job.created_at.isoformat(), job.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_page_token(token: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        created, job_id = json.loads(raw)
        return datetime.fromisoformat(created), str(job_id)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            422,
            "invalid_page_token",
            "page_token is not one this server gave; pass next_page_token as it came",
        ) from None


# ---------------------------------------------------------------------- jobs
def _add_job_routes(app: FastAPI) -> None:
    @app.post(
        "/v1/jobs",
        status_code=202,
        dependencies=[Depends(json_body)],
        response_model=JobOut,
        responses={
            **ERROR_RESPONSES,
            409: {
                "model": ERROR_RESPONSES[404]["model"],
                "description": "Idempotency-Key reused with another spec",
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
        from service.store import IdempotencyConflictError

        steps = spec.training.steps + (
            spec.training.lbfgs_steps if spec.training.optimizer == "adam+lbfgs" else 0
        )
        try:
            job, created = await anyio.to_thread.run_sync(
                lambda: store_of(request).create_job(
                    tenant,
                    spec.model_dump(mode="json"),
                    name=spec.name,
                    steps=steps,
                    idempotency_key=idempotency_key,
                )
            )
        except IdempotencyConflictError as exc:
            raise ApiError(409, "idempotency_conflict", str(exc)) from None
        if created and request.app.state.dispatcher is not None:
            request.app.state.dispatcher.wake()
        return JSONResponse(
            job_out(job), status_code=202 if created else 200, headers={"Location": f"/v1/jobs/{job.id}"}
        )

    @app.post(
        "/v1/specs/validate",
        dependencies=[Depends(json_body)],
        response_model=ValidatedOut,
        responses=ERROR_RESPONSES,
        tags=["jobs"],
        summary="Check a job spec without submitting it",
    )
    async def validate_spec(
        tenant: Tenant, spec: Annotated[JobSpec, Body(openapi_examples=SPEC_EXAMPLES)]
    ) -> dict[str, Any]:
        """The same checks as `POST /v1/jobs`, and nothing queued: 200 with the spec as it
        would run (every default filled in) and its total steps, or 422 naming each mistake."""
        steps = spec.training.steps + (
            spec.training.lbfgs_steps if spec.training.optimizer == "adam+lbfgs" else 0
        )
        return {"valid": True, "steps": steps, "spec": spec.model_dump(mode="json")}

    @app.get("/v1/jobs/{job_id}", response_model=JobOut, responses=ERROR_RESPONSES, tags=["jobs"])
    async def get_job(request: Request, job_id: str, tenant: Tenant) -> dict[str, Any]:
        """The job: status, progress, error, model_id and the spec."""
        job = await anyio.to_thread.run_sync(job_or_404, store_of(request), job_id, tenant)
        return job_out(job)

    @app.get("/v1/jobs", response_model=JobPageOut, responses=ERROR_RESPONSES, tags=["jobs"])
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

    @app.post("/v1/jobs/{job_id}/cancel", response_model=JobOut, responses=ERROR_RESPONSES, tags=["jobs"])
    async def cancel(request: Request, job_id: str, tenant: Tenant) -> dict[str, Any]:
        """Ask a queued or running job to stop (a running job stops at its next progress report).
        Idempotent; a finished job is returned as it is."""
        job = await anyio.to_thread.run_sync(lambda: store_of(request).request_cancel(job_id, tenant))
        if job is None:
            raise not_found("job", job_id)
        return job_out(job)

    @app.delete("/v1/jobs/{job_id}", response_model=DeletedOut, responses=ERROR_RESPONSES, tags=["jobs"])
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

    @app.get(
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


# ---------------------------------------------------------------------- models
def _add_model_routes(app: FastAPI) -> None:
    @app.get("/v1/models/{model_id}", response_model=ModelOut, responses=MODEL_RESPONSES, tags=["models"])
    async def get_model(request: Request, model_id: str, tenant: Tenant) -> dict[str, Any]:
        """The model: architecture, problem, training summary, errors against `exact`, estimate."""
        model, record = await anyio.to_thread.run_sync(load_model_of, request, model_id, tenant)
        return {
            "id": record.id,
            "job_id": record.job_id,
            "created_at": iso(record.created_at),
            "inputs": model.input_names,
            "architecture": model.architecture,
            "problem": model.spec.problem.model_dump(mode="json"),
            "training": model.metrics,
            "errors": model.errors,
            "estimate": model.estimate,
            "weights_sha256": record.weights_sha256,
        }

    @app.post(
        "/v1/models/{model_id}/evaluate",
        response_model=EvaluateOut,
        responses={
            **MODEL_RESPONSES,
            200: {"content": {NPZ_TYPE: {}}, "description": "JSON, or an .npz for an .npy request"},
            413: {"model": ERROR_RESPONSES[404]["model"], "description": "too many points or bytes"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": EvaluateIn.model_json_schema()},
                    NPY_TYPE: {"schema": {"type": "string", "format": "binary"}},
                },
            }
        },
        tags=["models"],
    )
    async def evaluate_route(
        request: Request,
        model_id: str,
        tenant: Tenant,
        outputs: Annotated[str | None, Query(description="bulk form: comma-separated outputs")] = None,
    ) -> Response:
        """u, grad u (t first when timed) and, for whole-space models, the pointwise error bounds.
        JSON: `{"points": [[...]], "outputs": [...]}`.  Bulk: an .npy body
        (`Content-Type: application/x-npy`), answered with an .npz of the same names."""
        started = time.perf_counter()
        content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
        body = await request.body()
        if content_type == NPY_TYPE:
            form = "npy"
            points, wanted = parse_npy_request(body), parse_outputs(outputs)
        elif content_type in ("application/json", ""):
            form = "json"
            points, wanted = parse_json_request(body)
        else:
            raise ApiError(
                415, "unsupported_media_type", f"send application/json or {NPY_TYPE}, not {content_type!r}"
            )
        model, _ = await anyio.to_thread.run_sync(load_model_of, request, model_id, tenant)
        check_points(points, model)
        chosen = await anyio.to_thread.run_sync(evaluate, model, points, wanted)
        if form == "npy":
            content, media = await anyio.to_thread.run_sync(encode_npz, chosen), NPZ_TYPE
        else:
            content, media = await anyio.to_thread.run_sync(encode_json, chosen), "application/json"
        metrics: Metrics = request.app.state.metrics
        metrics.evaluate_seconds.labels(form).observe(time.perf_counter() - started)
        metrics.evaluate_points.labels(form).inc(len(points))
        return Response(content, media_type=media)

    @app.delete(
        "/v1/models/{model_id}", response_model=DeletedOut, responses=ERROR_RESPONSES, tags=["models"]
    )
    async def delete_model(request: Request, model_id: str, tenant: Tenant) -> dict[str, Any]:
        """Delete the model and its files; the job that made it stays, without a model_id.
        Not undoable; a second DELETE answers 404."""
        record = await anyio.to_thread.run_sync(lambda: store_of(request).delete_model(model_id, tenant))
        if record is None:
            raise not_found("model", model_id)
        await anyio.to_thread.run_sync(remove_model_files, request, [record])
        return {"id": model_id, "deleted": True, "model_ids": [model_id]}

    @app.get(
        "/v1/models/{model_id}/artifact",
        responses={**MODEL_RESPONSES, 200: {"content": {"application/octet-stream": {}}}},
        tags=["models"],
    )
    async def artifact(request: Request, model_id: str, tenant: Tenant) -> Response:
        """The weights (safetensors; A1, b1, ..., AL, bL in float64, physical coordinates).
        Its header metadata names the format; the manifest is in `GET /v1/models/{id}`, and
        the file's sha256 is `weights_sha256` there.  The bytes are checked against that
        sha256 before they are sent: a damaged file answers 409 `model_corrupted`."""
        record = await anyio.to_thread.run_sync(model_record, request, model_id, tenant)
        blob = await anyio.to_thread.run_sync(verified_weights, request, record)
        return Response(
            blob,
            media_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="relupde-{model_id}.safetensors"'},
        )


# ---------------------------------------------------------------------- operations
def _add_ops_routes(app: FastAPI) -> None:
    @app.get("/healthz", response_model=HealthOut, tags=["operations"])
    async def healthz(request: Request) -> dict[str, Any]:
        """Liveness: the store answers; the dispatcher's state and live workers."""
        store = store_of(request)
        await anyio.to_thread.run_sync(store.schema_version)
        dispatcher: Dispatcher | None = request.app.state.dispatcher
        info = (
            await anyio.to_thread.run_sync(dispatcher.scheduler_info) if dispatcher else {"state": "disabled"}
        )
        return {"status": "ok", "version": VERSION, "store": store.engine.dialect.name, "dispatcher": info}

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def metrics(request: Request) -> Response:
        """Prometheus text format: relupde_jobs{status}, relupde_training_duration_seconds,
        relupde_evaluate_latency_seconds, relupde_evaluate_points_total."""
        registry = request.app.state.metrics.registry
        text = await anyio.to_thread.run_sync(generate_latest, registry)
        return Response(text, media_type=CONTENT_TYPE_LATEST)
