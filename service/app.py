"""The REST API (docs/service.md): FastAPI over the job store, the dispatcher and the models.

``create_app(settings)`` builds the application; its lifespan opens the store (creating or
migrating the schema), and starts the dispatcher (a LocalCluster, or the scheduler at
``RELUPDE_DASK_ADDRESS``).  Routes are thin: they authenticate the caller, check the input,
and read or write the store; training happens on Dask workers (``service.jobs.runner``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import Depends, FastAPI

from service.api.auth import Authenticator
from service.api.deps import plain_ids
from service.api.errors import install_error_handlers
from service.api.evaluation import (
    ModelCache,
)
from service.api.limits import BodyLimit
from service.api.metrics import Metrics
from service.api.offload import EvaluatePool
from service.api.routes import dashboard, jobs, models, ops, plots
from service.api.timeouts import ReadTimeout
from service.jobs.dispatcher import Dispatcher
from service.jobs.store import JobStore
from service.settings import Settings
from solver.model import VERSION


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
            await anyio.to_thread.run_sync(app.state.evaluate_pool.shutdown)
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
        dependencies=[Depends(plain_ids)],  # 404 for an id with a control character, before any lookup
    )
    app.state.settings = settings
    app.state.auth = Authenticator(settings.api_keys)
    app.state.models = ModelCache()
    app.state.evaluate_pool = EvaluatePool(settings.evaluate_processes)
    app.add_middleware(BodyLimit)
    app.add_middleware(ReadTimeout, seconds=settings.read_timeout_s)
    install_error_handlers(app)
    for router in (jobs.router, models.router, plots.router, ops.router, dashboard.router):
        app.include_router(router)
    return app


def _observe_training(app: FastAPI, job_id: str) -> None:
    job = app.state.store.get_job(job_id)
    if job is not None and job.done and job.started_at and job.finished_at:
        seconds = (job.finished_at - job.started_at).total_seconds()
        app.state.metrics.training_seconds.labels(job.status).observe(seconds)
