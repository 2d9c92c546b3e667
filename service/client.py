"""A typed Python client for the relupde REST service (docs/service.md).

``Client`` is synchronous and ``AsyncClient`` has the same methods as coroutines::

    with Client("http://127.0.0.1:8000", api_key="...") as c:
        job = c.wait(c.submit("examples/poisson-2d.json").id, progress=True).raise_for_status()
        out = c.model(job.model_id).evaluate(points)      # out.value (n,), out.gradient (n, inputs)

The two share everything but the I/O: each operation is a *flow*, a generator that yields
``_Request`` (an HTTP call) or ``_Sleep`` operations and is sent back the ``httpx.Response``;
building requests, checking and parsing responses, waiting and the progress bar live in the
flows, and ``Client`` and ``AsyncClient`` only drive them over ``httpx.Client`` or
``httpx.AsyncClient``.  Transport failures are thrown into the flow as ``TransportError`` so
that ``wait`` can ride out a restarting server.

Every failure raises a subclass of ``ServiceError`` carrying the server's ``code``,
``message`` and ``details``.  Responses are parsed without ever unpickling anything.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import io
import itertools
import json
import math
import os
import sys
import time
from collections.abc import AsyncIterator, Generator, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self, TypeAlias, TypeVar, cast
from urllib.parse import quote

import httpx
import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:  # the client imports httpx and numpy only; these load when used
    from matplotlib.figure import Figure
    from pydantic import BaseModel

__all__ = [
    "BULK_THRESHOLD",
    "AsyncClient",
    "AsyncRemoteModel",
    "AuthenticationError",
    "BadRequestError",
    "ChecksumError",
    "Client",
    "ConflictError",
    "EvaluateResult",
    "Event",
    "Job",
    "JobCanceledError",
    "JobFailedError",
    "JobPage",
    "NotFoundError",
    "Progress",
    "RemoteModel",
    "ServerError",
    "ServiceError",
    "TransportError",
    "WaitTimeoutError",
]

T = TypeVar("T")

TERMINAL: Final = frozenset({"succeeded", "failed", "canceled"})
OUTPUTS: Final = ("value", "gradient", "bound", "gradient_bound", "inside")
BULK_THRESHOLD: Final = 10_000
"""``evaluate`` sends points as .npy (the bulk form) when there are more than this many."""
NPY: Final = "application/x-npy"
NPZ: Final = "application/x-npz"
DEFAULT_TIMEOUT: Final = httpx.Timeout(60.0, connect=10.0)
MAX_TEXT: Final = 300
WAIT_RETRIES: Final = 5
"""Consecutive transient failures (connection errors, 502/503/504) that ``wait`` rides out."""
USER_AGENT: Final = "relupde-client/0.1.0"


# ---------------------------------------------------------------------------- errors
class ServiceError(Exception):
    """Any failure of a service call: ``status_code`` (None when no HTTP answer), ``code``, ``message``."""

    def __init__(
        self, message: str, *, code: str = "error", status_code: int | None = None, details: Any = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status_code = status_code
        self.details = details

    def __str__(self) -> str:
        where = f" (HTTP {self.status_code})" if self.status_code is not None else ""
        return f"{self.code}{where}: {self.message}"


class BadRequestError(ServiceError):
    """The request was refused as invalid (400, 413, 415, 422), or refused locally before sending."""


class AuthenticationError(ServiceError):
    """The API key is missing, wrong or not allowed (401, 403)."""


class NotFoundError(ServiceError):
    """No such job or model for this API key (404)."""


class ConflictError(ServiceError):
    """The request conflicts with the server's state, e.g. a reused Idempotency-Key (409)."""


class ServerError(ServiceError):
    """The server failed (5xx), or answered something this client does not understand."""


class ChecksumError(ServerError):
    """A downloaded file does not match the sha256 the server announced for it; nothing was
    written (the model's ``weights_sha256`` is the expected digest)."""


class TransportError(ServiceError):
    """No HTTP answer at all: connection refused, DNS failure, timeout (wraps ``httpx`` errors)."""


class WaitTimeoutError(ServiceError):
    """``wait`` ran out of time; ``job`` is the last state seen."""

    def __init__(self, message: str, *, job: Job) -> None:
        super().__init__(message, code="wait_timeout", details={"job_id": job.id, "status": job.status})
        self.job = job


class JobFailedError(ServiceError):
    """Raised by ``Job.raise_for_status`` for a failed job; ``job`` is the job."""

    def __init__(self, message: str, *, job: Job) -> None:
        super().__init__(message, code="job_failed", details={"job_id": job.id, "error": job.error})
        self.job = job


class JobCanceledError(ServiceError):
    """Raised by ``Job.raise_for_status`` for a canceled job; ``job`` is the job."""

    def __init__(self, message: str, *, job: Job) -> None:
        super().__init__(message, code="job_canceled", details={"job_id": job.id})
        self.job = job


_BY_STATUS: Final[dict[int, type[ServiceError]]] = {
    400: BadRequestError,
    413: BadRequestError,
    415: BadRequestError,
    422: BadRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: NotFoundError,
    409: ConflictError,
}
_HINTS: Final[dict[type[ServiceError], str]] = {
    BadRequestError: "fix the request and send it again",
    AuthenticationError: "check the api_key given to the client",
    NotFoundError: "check the id and the client's base_url",
    ConflictError: "use a fresh Idempotency-Key for a different spec",
    ServerError: "retry later, or look at the server's logs",
}


def _error_class(status: int) -> type[ServiceError]:
    return _BY_STATUS.get(status, ServerError)


def _error_from_response(response: httpx.Response) -> ServiceError:
    """The exception for a non-2xx answer; the body must already be read."""
    status = response.status_code
    cls = _error_class(status)
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    envelope = body.get("error") if isinstance(body, dict) else None
    if (
        isinstance(envelope, dict)
        and isinstance(envelope.get("code"), str)
        and isinstance(envelope.get("message"), str)
    ):
        return cls(
            envelope["message"], code=envelope["code"], status_code=status, details=envelope.get("details")
        )
    text = _truncate(response.text.strip())
    message = f"HTTP {status} {response.reason_phrase}" + (f": {text}" if text else "")
    return cls(f"{message} ({_HINTS[cls]})", code=f"http_{status}", status_code=status, details=body)


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."


def _transport_error(exc: httpx.RequestError) -> TransportError:
    url = exc.request.url if _has_request(exc) else "the server"
    message = (
        f"no answer from {url}: {exc or type(exc).__name__}; check that the server runs and base_url is right"
    )
    return TransportError(message, code="transport_error", details={"type": type(exc).__name__})


def _has_request(exc: httpx.RequestError) -> bool:
    try:
        exc.request  # noqa: B018 - raises RuntimeError when httpx did not attach a request
    except RuntimeError:
        return False
    return True


def _invalid_response(what: str) -> ServerError:
    return ServerError(
        f"unexpected answer from the server: {what}; is base_url a relupde server of a compatible version?",
        code="invalid_response",
    )


# ---------------------------------------------------------------------------- typed results
@dataclass(frozen=True)
class Progress:
    """Training progress: optimizer ``step`` of ``steps``, the latest ``loss`` (the sum of the
    residuals' sample sups) and ``elapsed_s``; ``residuals`` is the latest loss-curve record,
    ``{"step", "sup": {term: max |r|}, "mean": {term: mean |r|}, "objective"}``, or None."""

    step: int
    steps: int
    loss: float | None
    elapsed_s: float
    residuals: dict[str, Any] | None = None


@dataclass(frozen=True)
class Job:
    """A job as the server reports it; ``raw`` is the whole JSON (extra fields included)."""

    id: str
    name: str | None
    status: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress: Progress
    error: str | None
    model_id: str | None
    spec: dict[str, Any] = field(repr=False)
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def done(self) -> bool:
        """True once the job is terminal: succeeded, failed or canceled."""
        return self.status in TERMINAL

    def raise_for_status(self) -> Job:
        """Raise ``JobFailedError`` or ``JobCanceledError`` for such a job; else return the job."""
        if self.status == "failed":
            raise JobFailedError(f"job {self.id} failed: {self.error or 'no reason given'}", job=self)
        if self.status == "canceled":
            raise JobCanceledError(f"job {self.id} was canceled before it finished", job=self)
        return self

    def _progress_text(self) -> str:
        progress = self.progress
        loss = "" if progress.loss is None else f", loss {progress.loss:.3e}"
        return f"step {progress.step} of {progress.steps}{loss}"

    def __repr__(self) -> str:
        parts = [f"id={self.id!r}", f"name={self.name!r}", f"status={self.status!r}"]
        parts.append(f"progress={self._progress_text()!r}")
        if self.error is not None:
            parts.append(f"error={self.error!r}")
        if self.model_id is not None:
            parts.append(f"model_id={self.model_id!r}")
        return f"Job({', '.join(parts)})"

    def _repr_html_(self) -> str:
        """A small table for notebooks (every string escaped)."""
        rows = [
            ("id", self.id),
            ("name", self.name or ""),
            ("status", self.status),
            ("progress", self._progress_text()),
            ("error", self.error or ""),
            ("model", self.model_id or ""),
        ]
        return _html_table("Job", rows)


@dataclass(frozen=True)
class Event:
    """One server-sent event of ``Client.events``: ``kind`` ("status" on every change of status,
    "progress" while the job runs) and the job as it was then."""

    kind: str
    job: Job


@dataclass(frozen=True)
class JobPage:
    """One page of ``GET /v1/jobs``; pass ``next_page_token`` back for the next (None: last page)."""

    jobs: list[Job]
    next_page_token: str | None


@dataclass(frozen=True)
class EvaluateResult:
    """value (n,), gradient (n, inputs) (a system: value (n, m), gradient (n, m, inputs), the m
    unknowns in the model's ``unknowns`` order), bound and gradient_bound (n,), inside (n,)
    booleans (the point lies in the domain and time slab); None when absent or not asked."""

    value: NDArray[np.float64] | None
    gradient: NDArray[np.float64] | None
    bound: NDArray[np.float64] | None
    gradient_bound: NDArray[np.float64] | None
    inside: NDArray[np.bool_] | None = None


def _html_table(title: str, rows: Sequence[tuple[str, str]]) -> str:
    """A two-column HTML table; every string is escaped."""
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(key)}</th>"
        f"<td style='text-align:left'>{html.escape(value)}</td></tr>"
        for key, value in rows
    )
    return f"<table><caption>{html.escape(title)}</caption>{body}</table>"


# ---------------------------------------------------------------------------- parsing
def _get(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], optional: bool = False) -> Any:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):  # JSON true is no number
        raise _invalid_response(f"field {key!r} is {value!r}")
    return value


def _time(data: Mapping[str, Any], key: str) -> datetime:
    text = _get(data, key, str)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise _invalid_response(f"field {key!r} is not an ISO 8601 time: {text!r}") from None


def _optional_time(data: Mapping[str, Any], key: str) -> datetime | None:
    return None if data.get(key) is None else _time(data, key)


def _parse_progress(data: Any) -> Progress:
    if not isinstance(data, dict):
        raise _invalid_response(f"job progress is {data!r}")
    loss = _get(data, "loss", (int, float), optional=True)
    return Progress(
        step=_get(data, "step", int),
        steps=_get(data, "steps", int),
        loss=None if loss is None else float(loss),
        elapsed_s=float(_get(data, "elapsed_s", (int, float))),
        residuals=_get(data, "residuals", dict, optional=True),
    )


def _parse_job(data: Any) -> Job:
    if not isinstance(data, dict):
        raise _invalid_response(f"a job is {_truncate(repr(data))}")
    return Job(
        id=_get(data, "id", str),
        name=_get(data, "name", str, optional=True),
        status=_get(data, "status", str),
        created_at=_time(data, "created_at"),
        started_at=_optional_time(data, "started_at"),
        finished_at=_optional_time(data, "finished_at"),
        progress=_parse_progress(data.get("progress")),
        error=_get(data, "error", str, optional=True),
        model_id=_get(data, "model_id", str, optional=True),
        spec=_get(data, "spec", dict),
        raw=data,
    )


def _parse_page(data: Any) -> JobPage:
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), list):
        raise _invalid_response(f"a job list is {_truncate(repr(data))}")
    token = _get(data, "next_page_token", str, optional=True)
    return JobPage(jobs=[_parse_job(item) for item in data["jobs"]], next_page_token=token or None)


def _checked(response: httpx.Response) -> httpx.Response:
    if not response.is_success:
        raise _error_from_response(response)
    return response


def _json(response: httpx.Response) -> Any:
    try:
        return _checked(response).json()
    except ValueError:
        raise _invalid_response(f"a body that is not JSON: {_truncate(response.text)!r}") from None


def _json_object(response: httpx.Response) -> dict[str, Any]:
    data = _json(response)
    if not isinstance(data, dict):
        raise _invalid_response(f"a JSON {type(data).__name__} where an object was expected")
    return data


# ---------------------------------------------------------------------------- requests
@dataclass(frozen=True)
class _Request:
    """One HTTP call, relative to the client's base_url."""

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Sleep:
    seconds: float


Flow = Generator[_Request | _Sleep, httpx.Response | None, T]


def _fetch(request: _Request) -> Flow[httpx.Response]:
    response = yield request
    if response is None:
        raise RuntimeError("a client driver answered an HTTP request with nothing")
    return response


def _segment(value: object, what: str) -> str:
    if isinstance(value, Job):
        value = value.id
    if not isinstance(value, str) or not value:
        hint = (
            " (job.model_id is None until the job has succeeded: check job.status)" if what == "model" else ""
        )
        raise BadRequestError(f"{what} id must be a non-empty string, not {value!r}{hint}", code="invalid_id")
    return quote(value, safe="")


def _spec_body(spec: Mapping[str, Any] | str | os.PathLike[str] | BaseModel) -> dict[str, Any]:
    dump = getattr(spec, "model_dump", None)
    if callable(dump) and not isinstance(spec, Mapping):  # a pydantic model (a JobSpec)
        return dict(dump(mode="json", exclude_unset=True))
    if isinstance(spec, Mapping):
        return dict(spec)
    if isinstance(spec, str | os.PathLike):
        return _read_spec(Path(spec))
    raise BadRequestError(
        f"a job spec is a dict, a path to a JSON file or a JobSpec, not {type(spec).__name__}",
        code="invalid_spec",
    )


def _read_spec(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        hint = "; pass json.loads(text) to submit JSON text" if str(path).lstrip().startswith("{") else ""
        raise BadRequestError(
            f"cannot read the job spec {str(path)[:80]!r}: {exc}{hint}", code="invalid_spec"
        ) from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BadRequestError(f"{path} is not valid JSON: {exc}", code="invalid_spec") from exc
    if not isinstance(data, dict):
        raise BadRequestError(f"{path} must hold a JSON object (the job spec)", code="invalid_spec")
    return data


def _submit_request(
    spec: Mapping[str, Any] | str | os.PathLike[str] | BaseModel, key: str | None
) -> _Request:
    if key is not None and (not isinstance(key, str) or not key):
        raise BadRequestError(
            "idempotency_key must be a non-empty string or None", code="invalid_idempotency_key"
        )
    headers = {"Idempotency-Key": key} if key else {}
    return _Request("POST", "/v1/jobs", json=_spec_body(spec), headers=headers)


def _jobs_request(status: str | None, page_size: int | None, page_token: str | None) -> _Request:
    params = {
        "status": status,
        "page_size": None if page_size is None else str(page_size),
        "page_token": page_token,
    }
    return _Request("GET", "/v1/jobs", params={k: v for k, v in params.items() if v is not None})


# ---------------------------------------------------------------------------- flows
def _job_flow(request: _Request) -> Flow[Job]:
    return _parse_job(_json((yield from _fetch(request))))


def _jobs_flow(status: str | None, page_size: int | None, page_token: str | None) -> Flow[JobPage]:
    return _parse_page(_json((yield from _fetch(_jobs_request(status, page_size, page_token)))))


def _object_flow(request: _Request) -> Flow[dict[str, Any]]:
    return _json_object((yield from _fetch(request)))


def _is_transient(exc: ServiceError) -> bool:
    return isinstance(exc, TransportError) or exc.status_code in (502, 503, 504)


def _wait_flow(job_id: str, progress: bool, timeout: float | None, poll_interval: float) -> Flow[Job]:
    """Poll the job until it is terminal; ride out up to WAIT_RETRIES transient failures in a row."""
    if poll_interval <= 0 or (timeout is not None and timeout < 0):
        raise BadRequestError("poll_interval must be > 0, and timeout >= 0 or None", code="invalid_argument")
    deadline = None if timeout is None else time.monotonic() + timeout
    bar = _ProgressBar(job_id) if progress and _stderr_is_terminal() else None
    request = _Request("GET", f"/v1/jobs/{job_id}")
    job: Job | None = None
    error: ServiceError | None = None
    failures = 0
    try:
        while True:
            try:
                job, error, failures = (yield from _job_flow(request)), None, 0
            except ServiceError as exc:
                error, failures = exc, failures + 1
                if not _is_transient(exc) or failures > WAIT_RETRIES:
                    raise
            if job is not None and bar is not None:
                bar.show(job)
            if job is not None and job.done:
                return job
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise _wait_timeout(job, error, timeout)
            yield _Sleep(poll_interval if remaining is None else min(poll_interval, remaining))
    finally:
        if bar is not None:
            bar.close()


def _wait_timeout(job: Job | None, error: ServiceError | None, timeout: float | None) -> ServiceError:
    """The last state seen as a WaitTimeoutError, or the last failure when the job was never seen."""
    if job is None:
        return error or ServerError(f"no answer within {timeout} s", code="wait_timeout")
    return WaitTimeoutError(
        f"job {job.id} is still {job.status} after {timeout} s; call wait() again, or cancel() it", job=job
    )


def _stderr_is_terminal() -> bool:
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):
        return False


class _ProgressBar:
    """A tqdm bar on stderr showing step/steps and the loss of a job."""

    def __init__(self, job_id: str) -> None:
        from tqdm import tqdm

        self._bar: Any = tqdm(total=None, desc=f"job {job_id[:8]}", unit="step", file=sys.stderr, leave=True)

    def show(self, job: Job) -> None:
        progress = job.progress
        if progress.steps and self._bar.total != progress.steps:
            self._bar.total = progress.steps
        self._bar.n = progress.step
        loss = "" if progress.loss is None else f" loss={progress.loss:.3e}"
        self._bar.set_postfix_str(f"{job.status}{loss}", refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()


# ---------------------------------------------------------------------------- events
EVENT_STREAM: Final = "text/event-stream"


def _events_request(job_id: JobRef) -> _Request:
    return _Request("GET", f"/v1/jobs/{_segment(job_id, 'job')}/events", headers={"Accept": EVENT_STREAM})


def _check_event_stream(response: httpx.Response) -> None:
    """The body must be read when the answer is an error (``_error_from_response`` parses it)."""
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != EVENT_STREAM:
        raise _invalid_response(f"the events route answered {media or 'no content type'}, not {EVENT_STREAM}")


class _EventParser:
    """Server-sent events, line by line: ``event:`` names the kind, ``data:`` lines carry the
    job's JSON, a blank line ends the event, lines starting with ``:`` are comments (keep-alive)."""

    def __init__(self) -> None:
        self._kind = ""
        self._data: list[str] = []

    def feed(self, line: str) -> Event | None:
        """The event that ``line`` completes, if any (pass "" at the end of the stream)."""
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._kind = value
        elif name == "data":
            self._data.append(value)
        return None  # id, retry and unknown fields mean nothing here

    def _dispatch(self) -> Event | None:
        kind, data = self._kind or "message", self._data
        self._kind, self._data = "", []
        if not data:
            return None
        try:
            payload = json.loads("\n".join(data))
        except ValueError:
            raise _invalid_response(f"an event whose data is not JSON: {_truncate(data[0])!r}") from None
        return Event(kind, _parse_job(payload))


def _is_last(event: Event) -> bool:
    return event.kind == "status" and event.job.done


# ---------------------------------------------------------------------------- models
def _reshape_hint(n_inputs: int) -> str:
    """What to do with a 1-D array: n points of one coordinate, or one point of n_inputs."""
    if n_inputs == 1:
        return "; for n points of the one input use points.reshape(-1, 1)"
    if n_inputs == 0:
        return "; for one point use points.reshape(1, -1), for n points of one input points.reshape(-1, 1)"
    return "; for one point use points.reshape(1, -1)"


def _validate_points(points: ArrayLike, inputs: Sequence[str]) -> NDArray[np.float64]:
    expected = f"(n, {len(inputs)}) with columns ({', '.join(inputs)})" if inputs else "(n, inputs)"
    try:
        array = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise BadRequestError(
            f"points must be numbers of shape {expected}: {exc}", code="invalid_points"
        ) from None
    if array.ndim != 2:
        hint = _reshape_hint(len(inputs)) if array.ndim == 1 else ""
        raise BadRequestError(
            f"points must be 2-D of shape {expected}, not {array.shape}{hint}", code="invalid_points"
        )
    if inputs and array.shape[1] != len(inputs):
        raise BadRequestError(f"points must have shape {expected}, not {array.shape}", code="invalid_points")
    if not np.isfinite(array).all():
        raise BadRequestError("points must be finite (no NaN or infinity)", code="invalid_points")
    return np.ascontiguousarray(array)


def _validate_outputs(outputs: Sequence[str] | None) -> list[str] | None:
    if outputs is None:
        return None
    if isinstance(outputs, str):
        outputs = [outputs]
    wrong = [name for name in outputs if name not in OUTPUTS]
    if wrong or not outputs:
        raise BadRequestError(
            f"outputs must be a non-empty list of {', '.join(OUTPUTS)}; got {list(outputs)!r}",
            code="invalid_outputs",
        )
    return list(outputs)


def _evaluate_request(
    model_id: str, points: NDArray[np.float64], outputs: list[str] | None, bulk: bool
) -> _Request:
    path = f"/v1/models/{model_id}/evaluate"
    if not bulk:
        body: dict[str, Any] = {"points": points.tolist()}
        if outputs is not None:
            body["outputs"] = outputs
        return _Request("POST", path, json=body)
    buffer = io.BytesIO()
    np.save(buffer, points, allow_pickle=False)
    params = {} if outputs is None else {"outputs": ",".join(outputs)}
    headers = {"Content-Type": NPY, "Accept": NPZ}
    return _Request("POST", path, params=params, content=buffer.getvalue(), headers=headers)


def _parse_evaluation(
    response: httpx.Response, shape: tuple[int, int], unknowns: int | None = None
) -> EvaluateResult:
    """The answer's arrays, checked against the shapes asked for: n points of k inputs and,
    for a system, ``unknowns`` value columns."""
    _checked(response)
    if response.headers.get("content-type", "").split(";")[0].strip() == NPZ:
        arrays = _load_npz(response.content)
    else:
        arrays = _json_object(response)
    n, k = shape
    m = () if unknowns is None else (unknowns,)
    shapes = {"value": (n, *m), "gradient": (n, *m, k), "bound": (n,), "gradient_bound": (n,), "inside": (n,)}
    return EvaluateResult(**{name: _array(arrays.get(name), name, shapes[name]) for name in OUTPUTS})


def _load_npz(content: bytes) -> dict[str, Any]:
    try:
        with np.load(io.BytesIO(content), allow_pickle=False) as npz:
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise _invalid_response("an .npy where an .npz was expected")
            return {name: npz[name] for name in npz.files}
    except (ValueError, OSError, EOFError) as exc:
        raise _invalid_response(f"an unreadable .npz ({exc})") from None


def _array(data: Any, name: str, shape: tuple[int, ...]) -> NDArray[Any] | None:
    if data is None:
        return None
    if name == "inside":
        flags = np.asarray(data)
        if flags.dtype != np.bool_ or flags.size != int(np.prod(shape)):
            raise _invalid_response(f"'inside' is not {shape[0]} booleans")
        return flags.reshape(shape)
    if name in ("bound", "gradient_bound") and isinstance(data, list):
        # JSON null = no promise at that point (t outside the job's time interval): +inf,
        # as in process and in the bulk form.
        data = [math.inf if v is None else v for v in data]
    try:
        array = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise _invalid_response(f"{name!r} is not numeric") from None
    if array.size != int(np.prod(shape)):
        raise _invalid_response(f"{name!r} has shape {array.shape}, expected {shape}")
    return array.reshape(shape)


def _evaluate_flow(
    model_id: str,
    inputs: Sequence[str],
    points: ArrayLike,
    outputs: Sequence[str] | None,
    bulk: bool | None,
    unknowns: int | None = None,
) -> Flow[EvaluateResult]:
    array = _validate_points(points, inputs)
    wanted = _validate_outputs(outputs)
    use_bulk = array.shape[0] > BULK_THRESHOLD if bulk is None else bulk
    response = yield from _fetch(_evaluate_request(model_id, array, wanted, use_bulk))
    return _parse_evaluation(response, (array.shape[0], array.shape[1]), unknowns)


class _AtomicFile:
    """Write under a temporary name beside ``path``; rename into place only when all went well
    and, with ``sha256``, only when the bytes written have that digest (else ``ChecksumError``)."""

    def __init__(self, path: str | os.PathLike[str], sha256: str | None = None) -> None:
        self.path = Path(path)
        self._tmp = self.path.with_name(f".{self.path.name}.part")
        self._file: io.BufferedWriter | None = None
        self._expected = sha256
        self._digest = hashlib.sha256()

    def __enter__(self) -> Self:
        self._file = self._tmp.open("wb")
        return self

    def write(self, chunk: bytes) -> None:
        assert self._file is not None
        self._file.write(chunk)
        self._digest.update(chunk)

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._file is not None
        self._file.close()
        if kind is not None:
            self._tmp.unlink(missing_ok=True)
            return
        found = self._digest.hexdigest()
        if self._expected is not None and found != self._expected:
            self._tmp.unlink(missing_ok=True)
            raise ChecksumError(
                f"the download for {self.path.name} has sha256 {found}, but the server announced "
                f"{self._expected}; nothing was written. Download again; if it persists, the "
                "server's copy is damaged",
                code="checksum_mismatch",
                details={"expected": self._expected, "found": found},
            )
        os.replace(self._tmp, self.path)


ERROR_NAMES: Final = ("rel_l2", "linf", "grad_linf")
PNG: Final = "image/png"
PLOT_OPTIONS: Final = ("x", "y", "at", "times", "resolution", "direction", "reach", "unknown")


def _number_text(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.3e}"
    return str(value)


def _plot_value(name: str, value: Any) -> str:
    """A plot option as its query parameter: {"x2": 0.5} -> "x2:0.5", [0, 1] -> "0.0,1.0"."""
    if isinstance(value, Mapping):
        return ",".join(f"{key}:{float(item)!r}" for key, item in value.items())
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence | np.ndarray):
        return ",".join(repr(float(item)) for item in value)
    if name == "resolution":
        return str(int(value))
    return repr(float(value))


def _plot_request(model_id: str, kind: str, options: Mapping[str, Any]) -> _Request:
    unknown = sorted(set(options) - set(PLOT_OPTIONS))
    if unknown:
        raise BadRequestError(
            f"unknown plot option(s) {unknown}; the options are {', '.join(PLOT_OPTIONS)}",
            code="invalid_argument",
        )
    try:
        params = {name: _plot_value(name, value) for name, value in options.items() if value is not None}
    except (TypeError, ValueError) as exc:
        raise BadRequestError(f"a plot option is not a number: {exc}", code="invalid_argument") from None
    headers = {"Accept": f"{PNG}, application/json"}
    return _Request(
        "GET", f"/v1/models/{model_id}/plot.png", params={"kind": kind, **params}, headers=headers
    )


def _plot_flow(request: _Request) -> Flow[bytes]:
    response = _checked((yield from _fetch(request)))
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != PNG or not response.content.startswith(b"\x89PNG"):
        raise _invalid_response(f"the plot route answered {media or 'no content type'}, not a PNG")
    return response.content


def _png_figure(content: bytes) -> Figure:
    """A Figure showing the PNG pixel for pixel (axes off); matplotlib is imported only here."""
    from matplotlib.figure import Figure
    from matplotlib.image import imread

    try:
        pixels = imread(io.BytesIO(content), format="png")
    except (ValueError, OSError) as exc:
        raise _invalid_response(f"an unreadable PNG ({exc})") from None
    height, width = pixels.shape[:2]
    dpi = 100
    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    axes.imshow(pixels, interpolation="none")
    axes.set_axis_off()
    return figure


class _ModelView:
    """What ``RemoteModel`` and ``AsyncRemoteModel`` share: the id and the server's description."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.info = info
        self.id: str = _get(info, "id", str)

    @property
    def weights_sha256(self) -> str:
        """The sha256 of the weights file, as recorded when the model was made."""
        return str(_get(self.info, "weights_sha256", str))

    @property
    def inputs(self) -> list[str]:
        """Input names in column order: ["t", "x0", ...] with time, else ["x0", ...]."""
        return [str(name) for name in self.info.get("inputs") or []]

    @property
    def unknowns(self) -> list[str] | None:
        """A system's unknowns, the order of evaluate's value columns; None for a scalar problem."""
        found = self.info.get("unknowns")
        return None if found is None else [str(name) for name in found]

    @property
    def errors(self) -> dict[str, Any] | None:
        """Errors against the spec's ``exact`` ({"rel_l2", "linf", "grad_linf", "n_points"}; a
        system also has one such entry per unknown, under its name), or None."""
        return cast("dict[str, Any] | None", self.info.get("errors"))

    @property
    def estimate(self) -> dict[str, Any] | None:
        """The error estimate computed without ``exact``: ``bounds`` (a list of {quantity, value,
        kind, confidence, assumptions, how}), ``verdict`` and, on the whole space, the global
        estimate's fields (docs/error-estimates.md); None for models saved before bounds existed."""
        return cast("dict[str, Any] | None", self.info.get("estimate"))

    @property
    def bounds(self) -> list[dict[str, Any]]:
        """``estimate["bounds"]``: each {quantity, value, kind, confidence, assumptions, how}."""
        estimate = self.estimate or {}
        return [dict(item) for item in estimate.get("bounds", [])]

    @property
    def verdict(self) -> str | None:
        """The one-line summary of the bounds, e.g. ``rms |u - u*| <= 1.2e-02 (certified)``."""
        estimate = self.estimate or {}
        found = estimate.get("verdict")
        return None if found is None else str(found)

    def _evaluate(
        self, points: ArrayLike, outputs: Sequence[str] | None, bulk: bool | None
    ) -> Flow[EvaluateResult]:
        unknowns = self.unknowns
        count = None if unknowns is None else len(unknowns)
        return _evaluate_flow(_segment(self.id, "model"), self.inputs, points, outputs, bulk, count)

    def _artifact_request(self) -> _Request:
        return _Request("GET", f"/v1/models/{_segment(self.id, 'model')}/artifact")

    def _plot_request(self, kind: str, options: Mapping[str, Any]) -> _Request:
        return _plot_request(_segment(self.id, "model"), kind, options)

    def _errors_text(self) -> str:
        errors = self.errors or {}
        return ", ".join(f"{name} {_number_text(errors[name])}" for name in ERROR_NAMES if name in errors)

    def __repr__(self) -> str:
        parts = [f"id={self.id!r}", f"inputs={self.inputs!r}"]
        if self.errors:
            parts.append(f"errors={self._errors_text()!r}")
        if self.verdict is not None:
            parts.append(f"verdict={self.verdict!r}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def _repr_html_(self) -> str:
        """A small table for notebooks (every string escaped)."""
        rows = [
            ("id", self.id),
            ("inputs", ", ".join(self.inputs)),
            ("errors", self._errors_text() or "none (the spec has no exact solution)"),
            ("verdict", self.verdict or "no bounds"),
        ]
        return _html_table("Model", rows)


class RemoteModel(_ModelView):
    """A trained model on the server (from ``Client.model``): evaluate it remotely or download it."""

    def __init__(self, info: dict[str, Any], client: Client) -> None:
        super().__init__(info)
        self._client = client

    def evaluate(
        self, points: ArrayLike, outputs: Sequence[str] | None = None, *, bulk: bool | None = None
    ) -> EvaluateResult:
        """Evaluate at points (n, inputs); ``bulk`` (default: n > 10,000) sends binary .npy/.npz."""
        return self._client._drive(self._evaluate(points, outputs, bulk))

    def download(self, path: str | os.PathLike[str]) -> Path:
        """Write the weights (a safetensors file) to ``path``, checked against the model's
        ``weights_sha256`` (``ChecksumError`` and nothing written if they differ); returns the path."""
        return self._client._download(self._artifact_request(), path, self.weights_sha256)

    def plot(self, kind: str = "solution", **options: Any) -> Figure:
        """The server's picture (``GET /v1/models/{id}/plot.png``) as a matplotlib Figure of the
        PNG's size, axes off, for notebooks.  ``kind``: solution, error, gradient_error, bound or
        loss; ``options``: x, y ("none": a line plot), at ({"x2": 0.5}), times ([0, 1]),
        resolution, direction ([1, 0]), reach, unknown (a system's unknown to draw)
        (docs/service.md, Plot routes)."""
        request = self._plot_request(kind, options)
        return _png_figure(self._client._drive(_plot_flow(request)))


class AsyncRemoteModel(_ModelView):
    """A trained model on the server (from ``AsyncClient.model``); evaluate and download are coroutines."""

    def __init__(self, info: dict[str, Any], client: AsyncClient) -> None:
        super().__init__(info)
        self._client = client

    async def evaluate(
        self, points: ArrayLike, outputs: Sequence[str] | None = None, *, bulk: bool | None = None
    ) -> EvaluateResult:
        """Evaluate at points (n, inputs); ``bulk`` (default: n > 10,000) sends binary .npy/.npz."""
        return await self._client._drive(self._evaluate(points, outputs, bulk))

    async def download(self, path: str | os.PathLike[str]) -> Path:
        """Write the weights (a safetensors file) to ``path``, checked against the model's
        ``weights_sha256`` (``ChecksumError`` and nothing written if they differ); returns the path."""
        return await self._client._download(self._artifact_request(), path, self.weights_sha256)

    async def plot(self, kind: str = "solution", **options: Any) -> Figure:
        """The server's picture as a matplotlib Figure; see ``RemoteModel.plot``."""
        request = self._plot_request(kind, options)
        return _png_figure(await self._client._drive(_plot_flow(request)))


# ---------------------------------------------------------------------------- clients
Spec: TypeAlias = "Mapping[str, Any] | str | os.PathLike[str] | BaseModel"
JobRef = str | Job


def _http_options(
    base_url: str, api_key: str | None, timeout: float | httpx.Timeout | None, transport: Any
) -> dict[str, Any]:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if api_key is not None:
        headers["Authorization"] = f"Bearer {api_key}"
    options: dict[str, Any] = {"base_url": base_url, "headers": headers, "timeout": timeout}
    if transport is not None:
        options["transport"] = transport
    return options


def _send_kwargs(request: _Request) -> dict[str, Any]:
    return {
        "params": request.params or None,
        "json": request.json,
        "content": request.content,
        "headers": request.headers or None,
    }


class _Base:
    """Request builders shared by ``Client`` and ``AsyncClient``; each returns a flow to drive."""

    base_url: str

    @staticmethod
    def _submit(spec: Spec, idempotency_key: str | None) -> Flow[Job]:
        return _job_flow(_submit_request(spec, idempotency_key))

    @staticmethod
    def _job(job_id: JobRef) -> Flow[Job]:
        return _job_flow(_Request("GET", f"/v1/jobs/{_segment(job_id, 'job')}"))

    @staticmethod
    def _cancel(job_id: JobRef) -> Flow[Job]:
        return _job_flow(_Request("POST", f"/v1/jobs/{_segment(job_id, 'job')}/cancel"))

    @staticmethod
    def _wait(job_id: JobRef, progress: bool, timeout: float | None, poll_interval: float) -> Flow[Job]:
        return _wait_flow(_segment(job_id, "job"), progress, timeout, poll_interval)

    @staticmethod
    def _delete_job(job_id: JobRef) -> Flow[dict[str, Any]]:
        return _object_flow(_Request("DELETE", f"/v1/jobs/{_segment(job_id, 'job')}"))

    @staticmethod
    def _delete_model(model_id: str) -> Flow[dict[str, Any]]:
        return _object_flow(_Request("DELETE", f"/v1/models/{_segment(model_id, 'model')}"))

    @staticmethod
    def _validate(spec: Spec) -> Flow[dict[str, Any]]:
        return _object_flow(_Request("POST", "/v1/specs/validate", json=_spec_body(spec)))

    @staticmethod
    def _model(model_id: str) -> Flow[dict[str, Any]]:
        return _object_flow(_Request("GET", f"/v1/models/{_segment(model_id, 'model')}"))

    @staticmethod
    def _health() -> Flow[dict[str, Any]]:
        return _object_flow(_Request("GET", "/healthz"))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"


class Client(_Base):
    """Synchronous client; use as a context manager or call ``close()``."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self._http = httpx.Client(**_http_options(base_url, api_key, timeout, transport))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def submit(self, spec: Spec, *, idempotency_key: str | None = None) -> Job:
        """Submit a job spec (a dict, a path to a JSON file, or a ``JobSpec``); returns the queued job."""
        return self._drive(self._submit(spec, idempotency_key))

    def job(self, job_id: JobRef) -> Job:
        """The job's current state."""
        return self._drive(self._job(job_id))

    def jobs(
        self, status: str | None = None, page_size: int | None = None, page_token: str | None = None
    ) -> JobPage:
        """One page of this tenant's jobs, newest first."""
        return self._drive(_jobs_flow(status, page_size, page_token))

    def iter_jobs(self, status: str | None = None, page_size: int | None = None) -> Iterator[Job]:
        """All of this tenant's jobs, newest first, fetching pages as needed."""
        token: str | None = None
        while True:
            page = self.jobs(status, page_size, token)
            yield from page.jobs
            if (token := page.next_page_token) is None:
                return

    def cancel(self, job_id: JobRef) -> Job:
        """Ask a queued or running job to stop (idempotent); returns the job."""
        return self._drive(self._cancel(job_id))

    def wait(
        self,
        job_id: JobRef,
        *,
        progress: bool = True,
        timeout: float | None = None,
        poll_interval: float = 0.5,
    ) -> Job:
        """Poll until the job is terminal and return it (check ``job.status`` or ``job.raise_for_status()``).

        Shows a progress bar when ``progress`` and stderr is a terminal; raises ``WaitTimeoutError``
        after ``timeout`` seconds (None: no limit).
        """
        return self._drive(self._wait(job_id, progress, timeout, poll_interval))

    def delete_job(self, job_id: JobRef) -> dict[str, Any]:
        """Delete a job with its loss curve, checkpoint and models (a running job stops);
        returns ``{"id", "deleted", "model_ids"}``.  Not undoable."""
        return self._drive(self._delete_job(job_id))

    def delete_model(self, model_id: str) -> dict[str, Any]:
        """Delete a model and its files (its job stays); returns ``{"id", "deleted", "model_ids"}``."""
        return self._drive(self._delete_model(model_id))

    def validate(self, spec: Spec) -> dict[str, Any]:
        """Check a spec on the server without submitting it: ``{"valid": True, "steps",
        "spec"}`` (defaults filled in), or ``BadRequestError`` naming each mistake."""
        return self._drive(self._validate(spec))

    def events(self, job_id: JobRef) -> Iterator[Event]:
        """The job's server-sent events as they happen (``for event in client.events(job)``):
        ``Event(kind, job)`` with kind "status" on every change of status (the first event is the
        current state) and "progress" while it runs; ends after the terminal status."""
        return self._stream_events(_events_request(job_id))

    def _stream_events(self, request: _Request) -> Iterator[Event]:
        try:
            with self._http.stream(request.method, request.path, **_send_kwargs(request)) as response:
                if not response.is_success:
                    response.read()
                    raise _error_from_response(response)
                _check_event_stream(response)
                parser = _EventParser()
                for line in itertools.chain(response.iter_lines(), [""]):  # "": the end flushes
                    event = parser.feed(line)
                    if event is not None:
                        yield event
                        if _is_last(event):
                            return
        except httpx.RequestError as exc:
            raise _transport_error(exc) from exc

    def model(self, model_id: str) -> RemoteModel:
        """The trained model ``model_id`` (a succeeded job's ``model_id``)."""
        return RemoteModel(self._drive(self._model(model_id)), self)

    def health(self) -> dict[str, Any]:
        """The server's liveness answer, ``{"status": "ok", ...}``."""
        return self._drive(self._health())

    def _drive(self, flow: Flow[T]) -> T:
        with closing(flow):
            try:
                operation = next(flow)
                while True:
                    try:
                        reply = self._perform(operation)
                    except TransportError as exc:
                        operation = flow.throw(exc)
                    else:
                        operation = flow.send(reply)
            except StopIteration as stop:
                return cast("T", stop.value)

    def _perform(self, operation: _Request | _Sleep) -> httpx.Response | None:
        if isinstance(operation, _Sleep):
            time.sleep(operation.seconds)
            return None
        try:
            return self._http.request(operation.method, operation.path, **_send_kwargs(operation))
        except httpx.RequestError as exc:
            raise _transport_error(exc) from exc

    def _download(self, request: _Request, path: str | os.PathLike[str], sha256: str) -> Path:
        try:
            with self._http.stream(request.method, request.path, **_send_kwargs(request)) as response:
                if not response.is_success:
                    response.read()
                    raise _error_from_response(response)
                target = _AtomicFile(path, sha256)
                with target as file:
                    for chunk in response.iter_bytes():
                        file.write(chunk)
        except httpx.RequestError as exc:
            raise _transport_error(exc) from exc
        return target.path


class AsyncClient(_Base):
    """Asynchronous client with ``Client``'s methods as coroutines; use ``async with`` or ``aclose()``."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = base_url
        self._http = httpx.AsyncClient(**_http_options(base_url, api_key, timeout, transport))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def submit(self, spec: Spec, *, idempotency_key: str | None = None) -> Job:
        """Submit a job spec (a dict, a path to a JSON file, or a ``JobSpec``); returns the queued job."""
        return await self._drive(self._submit(spec, idempotency_key))

    async def job(self, job_id: JobRef) -> Job:
        """The job's current state."""
        return await self._drive(self._job(job_id))

    async def jobs(
        self, status: str | None = None, page_size: int | None = None, page_token: str | None = None
    ) -> JobPage:
        """One page of this tenant's jobs, newest first."""
        return await self._drive(_jobs_flow(status, page_size, page_token))

    async def iter_jobs(self, status: str | None = None, page_size: int | None = None) -> AsyncIterator[Job]:
        """All of this tenant's jobs, newest first (``async for``), fetching pages as needed."""
        token: str | None = None
        while True:
            page = await self.jobs(status, page_size, token)
            for job in page.jobs:
                yield job
            if (token := page.next_page_token) is None:
                return

    async def cancel(self, job_id: JobRef) -> Job:
        """Ask a queued or running job to stop (idempotent); returns the job."""
        return await self._drive(self._cancel(job_id))

    async def wait(
        self,
        job_id: JobRef,
        *,
        progress: bool = True,
        timeout: float | None = None,
        poll_interval: float = 0.5,
    ) -> Job:
        """Poll until the job is terminal and return it; see ``Client.wait``."""
        return await self._drive(self._wait(job_id, progress, timeout, poll_interval))

    async def delete_job(self, job_id: JobRef) -> dict[str, Any]:
        """Delete a job with its loss curve, checkpoint and models (a running job stops);
        returns ``{"id", "deleted", "model_ids"}``.  Not undoable."""
        return await self._drive(self._delete_job(job_id))

    async def delete_model(self, model_id: str) -> dict[str, Any]:
        """Delete a model and its files (its job stays); returns ``{"id", "deleted", "model_ids"}``."""
        return await self._drive(self._delete_model(model_id))

    async def validate(self, spec: Spec) -> dict[str, Any]:
        """Check a spec on the server without submitting it (see ``Client.validate``)."""
        return await self._drive(self._validate(spec))

    def events(self, job_id: JobRef) -> AsyncIterator[Event]:
        """The job's server-sent events as they happen (``async for event in client.events(job)``);
        see ``Client.events``."""
        return self._stream_events(_events_request(job_id))

    async def _stream_events(self, request: _Request) -> AsyncIterator[Event]:
        try:
            async with self._http.stream(request.method, request.path, **_send_kwargs(request)) as response:
                if not response.is_success:
                    await response.aread()
                    raise _error_from_response(response)
                _check_event_stream(response)
                parser = _EventParser()
                lines = response.aiter_lines()
                while True:
                    line = await anext(lines, None)
                    event = parser.feed("" if line is None else line)  # "": the end flushes
                    if event is not None:
                        yield event
                        if _is_last(event):
                            return
                    if line is None:
                        return
        except httpx.RequestError as exc:
            raise _transport_error(exc) from exc

    async def model(self, model_id: str) -> AsyncRemoteModel:
        """The trained model ``model_id`` (a succeeded job's ``model_id``)."""
        return AsyncRemoteModel(await self._drive(self._model(model_id)), self)

    async def health(self) -> dict[str, Any]:
        """The server's liveness answer, ``{"status": "ok", ...}``."""
        return await self._drive(self._health())

    async def _drive(self, flow: Flow[T]) -> T:
        with closing(flow):
            try:
                operation = next(flow)
                while True:
                    try:
                        reply = await self._perform(operation)
                    except TransportError as exc:
                        operation = flow.throw(exc)
                    else:
                        operation = flow.send(reply)
            except StopIteration as stop:
                return cast("T", stop.value)

    async def _perform(self, operation: _Request | _Sleep) -> httpx.Response | None:
        if isinstance(operation, _Sleep):
            await asyncio.sleep(operation.seconds)
            return None
        try:
            return await self._http.request(operation.method, operation.path, **_send_kwargs(operation))
        except httpx.RequestError as exc:
            raise _transport_error(exc) from exc

    async def _download(self, request: _Request, path: str | os.PathLike[str], sha256: str) -> Path:
        try:
            async with self._http.stream(request.method, request.path, **_send_kwargs(request)) as response:
                if not response.is_success:
                    await response.aread()
                    raise _error_from_response(response)
                target = _AtomicFile(path, sha256)
                with target as file:
                    async for chunk in response.aiter_bytes():
                        file.write(chunk)
        except httpx.RequestError as exc:
            raise _transport_error(exc) from exc
        return target.path
