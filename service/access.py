"""Looking things up for a caller: the store, and the caller's own jobs and models.

Unknown ids and other tenants' ids answer alike (404 ``not_found``), so an id reveals
nothing about other tenants.  Every route module goes through these helpers.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import Request

from service.errors import ApiError
from service.evaluation import ModelCache
from service.settings import Settings
from service.store import Job, JobStore, ModelRecord
from solver.model import Model


def store_of(request: Request) -> JobStore:
    store: JobStore = request.app.state.store
    return store


def not_found(kind: str, ident: str) -> ApiError:
    """Unknown ids and other tenants' ids answer alike."""
    return ApiError(404, "not_found", f"no {kind} {ident!r} for this API key", {f"{kind}_id": ident})


def job_or_404(store: JobStore, job_id: str, tenant: str) -> Job:
    job = store.get_job(job_id, tenant)
    if job is None:
        raise not_found("job", job_id)
    return job


def model_record(request: Request, model_id: str, tenant: str) -> ModelRecord:
    record = store_of(request).get_model(model_id, tenant)
    if record is None:
        raise not_found("model", model_id)
    return record


def model_folder(request: Request, record: ModelRecord) -> Path:
    settings: Settings = request.app.state.settings
    return settings.data_dir / record.path


def load_model_of(request: Request, model_id: str, tenant: str) -> tuple[Model, ModelRecord]:
    """The tenant's model, from the cache (loaded and hash-checked once), and its record."""
    record = model_record(request, model_id, tenant)
    cache: ModelCache = request.app.state.models
    return cache.get(model_folder(request, record)), record
