"""Operations: liveness (/healthz) and Prometheus metrics (/metrics)."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.api.deps import (
    store_of,
)
from service.api.schemas import (
    HealthOut,
)
from service.jobs.dispatcher import Dispatcher
from solver.model import VERSION

router = APIRouter()


@router.get("/healthz", response_model=HealthOut, tags=["operations"])
async def healthz(request: Request) -> dict[str, Any]:
    """Liveness: the store answers; the dispatcher's state and live workers."""
    store = store_of(request)
    dispatcher: Dispatcher | None = request.app.state.dispatcher

    def check() -> dict[str, Any]:  # both reads in one worker-thread hop
        store.ping()
        return dispatcher.scheduler_info() if dispatcher else {"state": "disabled"}

    info = await anyio.to_thread.run_sync(check)
    return {"status": "ok", "version": VERSION, "store": store.engine.dialect.name, "dispatcher": info}


@router.get("/metrics", tags=["operations"], response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text format: relupde_jobs{status}, relupde_training_duration_seconds,
    relupde_evaluate_latency_seconds, relupde_evaluate_points_total."""
    registry = request.app.state.metrics.registry
    text = await anyio.to_thread.run_sync(generate_latest, registry)
    return Response(text, media_type=CONTENT_TYPE_LATEST)
