"""The routes' dependencies: the store, the caller's tenant, the caller's model.

``StoreDep``, ``TenantDep`` and ``ModelDep`` are ``Annotated`` dependencies for route
signatures (``store: StoreDep``); the functions below them look things up for a caller.

Unknown ids and other tenants' ids answer alike (404 ``not_found``), so an id reveals
nothing about other tenants.  Every route module goes through these helpers.

Every read of a model's files is verified: loading checks the weights against the sha256 in
the manifest (``solver.load_model``), and the artifact's bytes are checked against the sha256
recorded in the job store when the model was made, with no symlink followed.  A file that
fails answers 409 ``model_corrupted`` and is logged; nothing unverified leaves the server.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from service.api.auth import Tenant
from service.api.errors import ApiError
from service.api.evaluation import ModelCache
from service.jobs.store import Job, JobStore, ModelRecord
from service.settings import Settings
from solver.model import WEIGHTS, Model, ModelFileError

logger = logging.getLogger("relupde.service")


def store_of(request: Request) -> JobStore:
    store: JobStore = request.app.state.store
    return store


def not_found(kind: str, ident: str) -> ApiError:
    """Unknown ids and other tenants' ids answer alike."""
    return ApiError(404, "not_found", f"no {kind} {ident!r} for this API key", {f"{kind}_id": ident})


#: A control character (C0, DEL, C1) or a lone surrogate: in no id, job name, page token or
#: Idempotency-Key (PostgreSQL refuses NUL in text outright).
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


async def plain_ids(request: Request) -> None:
    """App-wide dependency: 404 for an id in the path that holds a control character (no such
    id can exist), before any route looks it up (async: no worker-thread hop)."""
    for name, value in request.path_params.items():
        if name.endswith("_id") and isinstance(value, str) and CONTROL.search(value):
            raise not_found(name.removesuffix("_id"), value)


def _details(field: str, message: str, given: object) -> list[dict[str, object]]:
    return [{"field": field, "message": message, "type": "value_error", "given": given}]


def _invalid(field: str, message: str, given: object) -> ApiError:
    return ApiError(422, "validation_error", f"{field}: {message}", _details(field, message, given))


def check_name(name: str | None) -> None:
    """422 for a job name that is not plain text."""
    if name is not None and CONTROL.search(name):
        raise _invalid("name", "must be text without control characters (NUL, tab, newline, ...)", name)


def check_idempotency_key(key: str | None) -> None:
    """422 for an empty Idempotency-Key (it would be stored as a key) or one with control
    characters; no header at all is fine."""
    if key is not None and not key.strip():
        message = "Idempotency-Key must not be empty: send a new unique key (a UUID) per job, or no header"
        raise ApiError(422, "validation_error", message, _details("Idempotency-Key", "empty", key))
    if key is not None and CONTROL.search(key):
        raise _invalid("Idempotency-Key", "must be text without control characters", key)


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


def corrupted(model_id: str, why: str) -> ApiError:
    """409 ``model_corrupted``: the model's files on the server fail verification (logged)."""
    logger.error("model %s failed verification: %s", model_id, why)
    return ApiError(
        409,
        "model_corrupted",
        f"model {model_id!r} failed verification on the server ({why}); its files were changed or "
        "damaged after training. Submit the job's spec again to train a fresh model, or ask the "
        "operator to restore the model folder from a backup.",
        {"model_id": model_id},
    )


def load_model_of(request: Request, model_id: str, tenant: str) -> tuple[Model, ModelRecord]:
    """The tenant's model, from the cache (loaded and hash-checked once), and its record."""
    record = model_record(request, model_id, tenant)
    cache: ModelCache = request.app.state.models
    folder = model_folder(request, record)
    try:
        model = cache.get(folder)
        cache.remember(model_id, tenant, folder)
        return model, record
    except ModelFileError as exc:  # the message names no server path
        raise corrupted(model_id, str(exc).replace(str(folder), "<model folder>")) from None


def verified_weights(request: Request, record: ModelRecord) -> bytes:
    """The model's weights file, read without following a symlink and checked against the
    sha256 recorded in the store when the model was made."""
    settings: Settings = request.app.state.settings
    root = settings.data_dir.resolve()
    path = model_folder(request, record) / WEIGHTS
    if path.is_symlink() or path.parent.is_symlink():
        raise corrupted(record.id, "the weights file is a symbolic link")
    try:
        if not path.resolve().is_relative_to(root):
            raise corrupted(record.id, "the weights file lies outside the data directory")
        blob = path.read_bytes()
    except OSError as exc:
        raise corrupted(record.id, f"the weights file cannot be read ({type(exc).__name__})") from None
    if hashlib.sha256(blob).hexdigest() != record.weights_sha256:
        raise corrupted(record.id, "the weights file does not match the sha256 recorded when it was made")
    return blob


def remove_model_files(request: Request, records: list[ModelRecord]) -> None:
    """Delete the models' folders under the data dir (never a path outside it) and drop them
    from the cache of loaded models."""
    settings: Settings = request.app.state.settings
    root = settings.data_dir.resolve()
    cache: ModelCache = request.app.state.models
    for record in records:
        folder = model_folder(request, record)
        cache.forget(folder)
        if folder.is_symlink():
            folder.unlink()
        elif folder.resolve().is_relative_to(root) and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)


def _model_dep(request: Request, model_id: str, tenant: Tenant) -> Model:
    """The caller's model ``model_id``, loaded (and verified) in a worker thread: 404 for an
    unknown id, 409 model_corrupted for damaged files, before the request body is read."""
    model, _ = load_model_of(request, model_id, tenant)
    return model


StoreDep = Annotated[JobStore, Depends(store_of)]
TenantDep = Tenant
ModelDep = Annotated[Model, Depends(_model_dep)]
