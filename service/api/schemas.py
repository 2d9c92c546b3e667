"""The JSON shapes of docs/service.md as pydantic models (they also document the OpenAPI)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from service.jobs.store import Job

Output = Literal["value", "gradient", "bound", "gradient_bound", "inside"]
OUTPUTS: tuple[Output, ...] = ("value", "gradient", "bound", "gradient_bound", "inside")


class ErrorDetail(BaseModel):
    code: str = Field(examples=["validation_error"])
    message: str = Field(examples=["problem.dimension: Input should be greater than or equal to 1"])
    details: Any = None


class ErrorBody(BaseModel):
    """Every error answer: ``{"error": {"code", "message", "details"}}``."""

    error: ErrorDetail


class ResidualsOut(BaseModel):
    step: int = Field(description="the step the figures belong to")
    sup: dict[str, float] = Field(description="max |r| over the training points, per residual term")
    mean: dict[str, float] = Field(description="mean |r| over the training points, per residual term")
    objective: float | None = Field(
        description="the objective minimized at that step: the sum of the terms' L^p means with p "
        "rising from 2 to 64 over the run, so it may rise while the residuals fall; not an error"
    )


class ProgressOut(BaseModel):
    step: int = Field(description="training steps done (Adam, then L-BFGS)")
    steps: int = Field(description="steps planned")
    loss: float | None = Field(
        description="the last figure: the sum over residual terms of the sample sup max |r| (mean "
        "square for an l2 loss); comparable from step to step"
    )
    elapsed_s: float = Field(description="training seconds so far")
    residuals: ResidualsOut | None = Field(
        default=None,
        description="the latest loss-curve record (every 10 steps): sample sup and mean of |r| per "
        "residual term on the training points, and the training objective apart",
    )


class JobOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    id: str
    name: str | None
    status: Literal["queued", "running", "succeeded", "failed", "canceled"]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: ProgressOut
    error: str | None = Field(description="why the job failed (also the last reason when it was resumed)")
    model_id: str | None = Field(
        description="the model, once the job succeeded (a job that failed because its training "
        "diverged keeps the best finite model before it)"
    )
    spec: dict[str, Any]
    attempts: int = Field(description="how many times a worker started the job (resumes count)")
    cancel_requested: bool


class DeletedOut(BaseModel):
    """What a DELETE removed: the job or model id and the models whose files went with it."""

    id: str
    deleted: bool = True
    model_ids: list[str] = Field(default_factory=list)


class ValidatedOut(BaseModel):
    """A spec that passed every check: as it would run (defaults filled in) and its steps."""

    valid: bool = True
    steps: int
    spec: dict[str, Any]


class JobPageOut(BaseModel):
    jobs: list[JobOut]
    next_page_token: str | None = Field(description="pass as page_token for the next page; null on the last")


class ModelOut(BaseModel):
    id: str
    job_id: str
    created_at: datetime
    inputs: list[str] = Field(description="the order of the coordinates of a point: t first when timed")
    unknowns: list[str] | None = Field(
        default=None,
        description="a system's unknowns, the order of evaluate's value columns (value (n, m), gradient "
        "(n, m, inputs)); null for the scalar kinds (value (n,), gradient (n, inputs))",
    )
    architecture: dict[str, Any]
    problem: dict[str, Any]
    training: dict[str, Any] = Field(description="steps, seconds, final loss, residual terms, loss history")
    errors: dict[str, Any] | None = Field(
        description="rel_l2, linf, grad_linf, n_points against `exact`; a system has them over all its "
        "unknowns and, under each unknown's name, its own rel_l2, linf and grad_linf"
    )
    estimate: dict[str, Any] | None = Field(
        description="error bounds computed without `exact`: `bounds` (a list of {quantity, value, kind, "
        "confidence, assumptions, how}), `verdict`, and the global estimate's fields on the whole space "
        "(docs/error-estimates.md)"
    )
    weights_sha256: str


class EvaluateIn(BaseModel):
    """JSON form of an evaluate request (the bulk form sends an .npy body instead)."""

    model_config = ConfigDict(extra="forbid")

    points: list[list[float]] = Field(
        description="n points, each (t, x0, ..., x{d-1}) when the problem has time, else (x0, ...)",
        examples=[[[0.25, 0.5], [0.75, 0.1]]],
    )
    outputs: list[Output] | None = Field(
        default=None, description="what to compute; default: all that apply to the model"
    )


class EvaluateOut(BaseModel):
    value: list[float] | list[list[float]] | None = Field(
        default=None, description="u at each point (n,); a system: (n, m), the unknowns in order"
    )
    gradient: list[list[float]] | list[list[list[float]]] | None = Field(
        default=None,
        description="the gradient over every input, t first (n, inputs); a system: (n, m, inputs)",
    )
    bound: list[float | None] | None = Field(
        default=None,
        description="the pointwise bound of |u - u*|: whole-space models' global bound, or a certified or "
        "statistical max_abs_error inside the domain (null outside); null when the model has none",
    )
    gradient_bound: list[float | None] | None = Field(
        default=None, description="the same for |Du - Du*| (max_gradient_error); null when none"
    )
    inside: list[bool] | None = Field(
        default=None, description="each point lies in the domain and time slab (whole space: in the slab)"
    )


class HealthOut(BaseModel):
    status: Literal["ok"]
    version: str
    store: str
    dispatcher: dict[str, Any]


def iso(moment: datetime | None) -> str | None:
    """UTC timestamps as pydantic writes them (``...Z``), so every route agrees."""
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def job_out(job: Job) -> dict[str, Any]:
    """The public JSON of a job (docs/service.md)."""
    return {
        "id": job.id,
        "name": job.name,
        "status": job.status,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "progress": {
            "step": job.step,
            "steps": job.steps,
            "loss": job.loss,
            "elapsed_s": job.elapsed_s,
            "residuals": job.residuals,
        },
        "error": job.error,
        "model_id": job.model_id,
        "spec": job.spec,
        "attempts": job.attempts,
        "cancel_requested": job.cancel_requested,
    }


class LossRecordOut(BaseModel):
    step: int
    elapsed_s: float
    sup: dict[str, float] = Field(description="max |r| over the training points, per residual term")
    mean: dict[str, float] = Field(description="mean |r| over the training points, per residual term")
    objective: float | None = Field(default=None, description="the training objective at that step")


class LossCurveOut(BaseModel):
    job_id: str
    status: Literal["queued", "running", "succeeded", "failed", "canceled"]
    records: list[LossRecordOut] = Field(description="by step, every 10 steps (and each of the first 10)")


class ExampleOut(BaseModel):
    name: str = Field(examples=["transport-1d"])
    spec: dict[str, Any] = Field(description="a job spec (docs/spec.md)")


class ExamplesOut(BaseModel):
    examples: list[ExampleOut]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (401, "missing or wrong API key"),
        (404, "no such id for this tenant"),
        (422, "the request does not validate; details name each field"),
    )
}

#: The answers of routes that read a request body: it cannot be read, is too large, or is
#: not of the media type the route takes.
BODY_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorBody,
        "description": "the body cannot be read: malformed JSON (or .npy), nested too deeply, cut off",
    },
    413: {"model": ErrorBody, "description": "payload_too_large: the body is over the limit"},
    415: {"model": ErrorBody, "description": "unsupported_media_type: send the body as JSON"},
}

#: The answers of routes that read a model's files: the errors above and 409 model_corrupted.
MODEL_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    409: {
        "model": ErrorBody,
        "description": "model_corrupted: the model's files fail verification on the server",
    },
}
