"""The model routes: the model document, evaluate, the artifact and delete."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response

from service.api.auth import Tenant
from service.api.deps import (
    corrupted,
    load_model_of,
    model_folder,
    model_record,
    not_found,
    remove_model_files,
    store_of,
    verified_weights,
)
from service.api.disconnect import CLIENT_CLOSED, run_unless_disconnected
from service.api.errors import ApiError
from service.api.evaluation import (
    INLINE_BYTES,
    NPY_TYPE,
    NPZ_TYPE,
    ModelCache,
    check_json_size,
    check_points,
    encode_json,
    encode_npz,
    evaluate,
    parse_json_request,
    parse_npy_request,
    parse_outputs,
)
from service.api.metrics import Metrics
from service.api.offload import OFFLOAD_BYTES, EvaluatePool
from service.api.schemas import (
    BODY_RESPONSES,
    ERROR_RESPONSES,
    MODEL_RESPONSES,
    DeletedOut,
    EvaluateIn,
    EvaluateOut,
    ModelOut,
    iso,
)
from solver.model import Model, ModelFileError

router = APIRouter()


@router.get("/v1/models/{model_id}", response_model=ModelOut, responses=MODEL_RESPONSES, tags=["models"])
async def get_model(request: Request, model_id: str, tenant: Tenant) -> dict[str, Any]:
    """The model: architecture, problem, training summary, errors against `exact`, estimate."""
    model, record = await anyio.to_thread.run_sync(load_model_of, request, model_id, tenant)
    return {
        "id": record.id,
        "job_id": record.job_id,
        "created_at": iso(record.created_at),
        "inputs": model.input_names,
        "unknowns": model.unknowns,
        "architecture": model.architecture,
        "problem": model.spec.problem.model_dump(mode="json"),
        "training": model.metrics,
        "errors": model.errors,
        "estimate": model.estimate,
        "weights_sha256": record.weights_sha256,
    }


@router.post(
    "/v1/models/{model_id}/evaluate",
    response_model=EvaluateOut,
    responses={
        **MODEL_RESPONSES,
        **BODY_RESPONSES,
        200: {"content": {NPZ_TYPE: {}}, "description": "JSON, or an .npz for an .npy request"},
        415: {"model": ERROR_RESPONSES[404]["model"], "description": f"send JSON or {NPY_TYPE}"},
        413: {"model": ERROR_RESPONSES[404]["model"], "description": "too many points or bytes"},
        503: {
            "model": ERROR_RESPONSES[404]["model"],
            "description": "evaluate_unavailable: the process of large evaluates died; send again",
        },
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
    (`Content-Type: application/x-npy`), answered with an .npz of the same names.  The model
    is looked up before the body is parsed (an unknown id answers 404, whatever the body),
    and all the work (lookup, parsing, evaluation, encoding) runs in one worker thread: the
    event loop only moves bytes, and a request costs one thread hop.  The exception is a
    JSON body of at most `INLINE_BYTES` for a model this process looked up within the last
    second and has loaded: no I/O is left, so it is answered on the event loop (well under
    a millisecond of work, less than the hop itself)."""
    started = time.perf_counter()
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type not in (NPY_TYPE, "application/json", ""):
        raise ApiError(
            415, "unsupported_media_type", f"send application/json or {NPY_TYPE}, not {content_type!r}"
        )
    form = "npy" if content_type == NPY_TYPE else "json"
    body = await request.body()

    def answer(model: Model | None = None) -> tuple[bytes, str, int]:
        if model is None:
            model, _ = load_model_of(request, model_id, tenant)
        if form == "npy":
            points, wanted = parse_npy_request(body), parse_outputs(outputs)
        else:
            points, wanted = parse_json_request(body, model.input_names)
        check_points(points, model)
        chosen = evaluate(model, points, wanted)
        if form == "npy":
            return encode_npz(chosen), NPZ_TYPE, len(points)
        return encode_json(chosen), "application/json", len(points)

    cache: ModelCache = request.app.state.models
    pool: EvaluatePool = request.app.state.evaluate_pool
    loaded = cache.ready(model_id, tenant) if form == "json" and len(body) <= INLINE_BYTES else None
    if loaded is not None:  # small, and no I/O left to do: cheaper here than a thread hop
        done: tuple[bytes, str, int] | None = None if await request.is_disconnected() else answer(loaded)
    elif form == "json" and len(body) > OFFLOAD_BYTES and pool.enabled:
        done = await _in_pool(request, pool, model_id, tenant, body)
    else:
        done = await run_unless_disconnected(request, lambda _stopped: answer())
    if done is None:  # the client went away before the work began: nothing computed
        return Response(status_code=CLIENT_CLOSED)
    content, media, count = done
    metrics: Metrics = request.app.state.metrics
    metrics.evaluate_seconds.labels(form).observe(time.perf_counter() - started)
    metrics.evaluate_points.labels(form).inc(count)
    return Response(content, media_type=media)


async def _in_pool(
    request: Request, pool: EvaluatePool, model_id: str, tenant: str, body: bytes
) -> tuple[bytes, str, int] | None:
    """A large JSON evaluate in the evaluate process pool (service.api.offload): the model is
    looked up and verified here (404, 409 as for any request), then parsing, evaluation and
    encoding happen in the pool process while the event loop waits on a future."""

    def verified_folder() -> Path:
        model, record = load_model_of(request, model_id, tenant)
        check_json_size(body, model.input_names)  # 413 before the bytes travel
        return model_folder(request, record)

    folder = await anyio.to_thread.run_sync(verified_folder)
    if await request.is_disconnected():
        return None
    try:
        content, count = await pool.evaluate(folder, body)
    except ModelFileError as exc:
        raise corrupted(model_id, str(exc)) from None
    return content, "application/json", count


@router.delete("/v1/models/{model_id}", response_model=DeletedOut, responses=ERROR_RESPONSES, tags=["models"])
async def delete_model(request: Request, model_id: str, tenant: Tenant) -> dict[str, Any]:
    """Delete the model and its files; the job that made it stays, without a model_id.
    Not undoable; a second DELETE answers 404."""
    record = await anyio.to_thread.run_sync(lambda: store_of(request).delete_model(model_id, tenant))
    if record is None:
        raise not_found("model", model_id)
    await anyio.to_thread.run_sync(remove_model_files, request, [record])
    return {"id": model_id, "deleted": True, "model_ids": [model_id]}


@router.get(
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
