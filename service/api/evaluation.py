"""Evaluate requests: the model cache, the two wire forms and the checks made before compute.

A model folder is loaded (and its sha256 verified, ``solver.load_model``) once and kept in a
bounded LRU cache.  Points arrive as JSON ``{"points": [[...]], "outputs": [...]}`` or, for
large arrays, as an ``.npy`` body (``Content-Type: application/x-npy``, answered with an
``.npz``); both are loaded without pickle and checked for shape, size and finiteness before
anything is computed.  Outputs are checked finite before they are sent.
"""

from __future__ import annotations

import io
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import Request
from numpy.typing import NDArray

from service.api.errors import ApiError
from service.api.schemas import OUTPUTS, Output
from solver import load_model
from solver.model import Model

MAX_POINTS = 1_000_000
MAX_JSON_POINTS = 100_000
NPY_TYPE = "application/x-npy"
NPZ_TYPE = "application/x-npz"
JSON_TYPE = "application/json"
CACHE_SIZE = 16
#: How long a (model id, tenant) -> folder lookup is trusted without asking the store again.
RECORD_TTL_S = 1.0
#: JSON evaluate bodies up to this size are answered on the event loop when the model is
#: loaded: parsing and evaluating some hundred points costs less than a thread hop.
INLINE_BYTES = 8192


def check_media_type(content_type: str | None, accepted: Sequence[str]) -> str:
    """The body's media type when it is one of ``accepted``, else 415 ``unsupported_media_type``
    naming the accepted ones.  No Content-Type counts as JSON; ``application/*+json`` is JSON."""
    media = (content_type or "").split(";")[0].strip().lower() or JSON_TYPE
    if media.startswith("application/") and media.endswith("+json"):
        media = JSON_TYPE
    if media not in accepted:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send the body as {' or '.join(accepted)} (Content-Type), not {media}",
            {"accepted": list(accepted), "given": media},
        )
    return media


async def json_body(request: Request) -> None:
    """A route dependency: 415 unless the body is JSON (a form body, text, ...), raised before
    the body is validated against the route's model (which would answer 422)."""
    check_media_type(request.headers.get("content-type"), (JSON_TYPE,))


class ModelCache:
    """Loaded models by folder, least recently used evicted first; safe across threads.

    Beside the models it remembers, for ``RECORD_TTL_S`` seconds, which folder a (model id,
    tenant) pair was last found at in the store, so that a small evaluate of a model that is
    already loaded needs no store lookup and no worker thread (``ready``).  A delete through
    this process forgets both at once; a delete through another API process of the same
    deployment is seen here at most ``RECORD_TTL_S`` seconds later.
    """

    def __init__(self, size: int = CACHE_SIZE, record_ttl_s: float = RECORD_TTL_S) -> None:
        self.size = size
        self.record_ttl_s = record_ttl_s
        self._models: OrderedDict[Path, Model] = OrderedDict()
        self._records: dict[tuple[str, str], tuple[Path, float]] = {}
        self._lock = threading.Lock()

    def forget(self, folder: Path) -> None:
        """Drop the model loaded from ``folder`` (its files were deleted) and every record
        that points at it."""
        with self._lock:
            self._models.pop(folder, None)
            for key in [key for key, (path, _) in self._records.items() if path == folder]:
                del self._records[key]

    def remember(self, model_id: str, tenant: str, folder: Path) -> None:
        """The store just said that the tenant's ``model_id`` lives in ``folder``."""
        with self._lock:
            if len(self._records) >= 64 * self.size:  # bounded: drop the expired, else all
                now = time.monotonic()
                self._records = {k: v for k, v in self._records.items() if v[1] > now}
                if len(self._records) >= 64 * self.size:
                    self._records.clear()
            self._records[(model_id, tenant)] = (folder, time.monotonic() + self.record_ttl_s)

    def ready(self, model_id: str, tenant: str) -> Model | None:
        """The tenant's model when it was looked up within the TTL and is loaded; else None
        (then look it up in the store, in a worker thread)."""
        with self._lock:
            found = self._records.get((model_id, tenant))
            if found is None or found[1] <= time.monotonic():
                return None
            model = self._models.get(found[0])
            if model is not None:
                self._models.move_to_end(found[0])
            return model

    def get(self, folder: Path) -> Model:
        with self._lock:
            model = self._models.get(folder)
            if model is not None:
                self._models.move_to_end(folder)
                return model
        model = load_model(folder)  # outside the lock: loading verifies the hash
        with self._lock:
            self._models[folder] = model
            self._models.move_to_end(folder)
            while len(self._models) > self.size:
                self._models.popitem(last=False)
        return model


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows; send finite numbers")


POINTS_SHAPE = (
    "points must be a list of points, each a list of numbers: [[0.5, 1.0]] is one point "
    "of 2 inputs, [[0.1], [0.2]] two points of 1 input"
)
#: commas a valid body may hold besides those between numbers and points (the outputs)
COMMA_SLACK = 64


def _too_many_points(count: str, inputs: Sequence[str] | None = None) -> ApiError:
    width = f" of {len(inputs)} inputs ({', '.join(inputs)})" if inputs is not None else ""
    return ApiError(
        413,
        "too_many_points",
        f"{count} in one JSON request; at most {MAX_JSON_POINTS} points{width} "
        f"(send an .npy body with Content-Type: {NPY_TYPE} for up to {MAX_POINTS})",
        {"limit": MAX_JSON_POINTS},
    )


def _count(body: bytes, byte: bytes, piece: int = 1 << 20) -> int:
    """``body.count(byte)`` a megabyte at a time: between the pieces other threads (the event
    loop) get the GIL, which one call over 60 MB would hold for tens of milliseconds."""
    view = memoryview(body)
    return sum(view[start : start + piece].tobytes().count(byte) for start in range(0, len(body), piece))


def check_json_size(body: bytes, inputs: Sequence[str] | None = None) -> None:
    """413 for a body that cannot be within the limits, found by counting bytes before it is
    parsed (so no body is parsed beyond what could be accepted): every point opens a list
    ``[``, and n points of d numbers hold n*d - 1 commas."""
    if _count(body, b"[") > MAX_JSON_POINTS + 2:  # the points, the list of them, the outputs
        raise _too_many_points(f"more than {MAX_JSON_POINTS} points")
    if inputs is not None and _count(body, b",") > MAX_JSON_POINTS * max(len(inputs), 1) + COMMA_SLACK:
        raise _too_many_points(f"more numbers than {MAX_JSON_POINTS} points of {len(inputs)} hold", inputs)


def parse_json_request(
    body: bytes, inputs: Sequence[str] | None = None
) -> tuple[NDArray[np.float64], list[Output] | None]:
    """The JSON form -> (points, outputs or None); ``inputs``: the model's input names.

    The work is proportional to what may be accepted: the sizes are checked by counting bytes
    before parsing (``check_json_size``), the count of points and the width of the first
    point before the others are looked at, and the points are converted by numpy in one
    call.  Run it in a worker thread, not on the event loop."""
    check_json_size(body, inputs)
    try:
        data = json.loads(body, parse_constant=_reject_constant, parse_int=float)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(
            400, "malformed_json", 'the body is nested too deeply; send {"points": [[...]], "outputs": [...]}'
        ) from None
    if not isinstance(data, dict):
        raise ApiError(
            422, "validation_error", 'the body must be an object {"points": [[...]], "outputs": [...]}'
        )
    unknown = sorted(set(data) - {"points", "outputs"})
    if unknown:
        raise ApiError(
            422,
            "validation_error",
            f"unknown field(s) {unknown}; allowed: points, outputs",
            {"fields": unknown},
        )
    if "points" not in data:
        raise ApiError(
            422, "validation_error", "points: field required (a list of points, each a list of numbers)"
        )
    points = data["points"]
    if not isinstance(points, list) or (points and not isinstance(points[0], list)):
        raise ApiError(422, "validation_error", POINTS_SHAPE)
    if len(points) > MAX_JSON_POINTS:
        raise _too_many_points(f"{len(points)} points")
    if inputs is not None and points and len(points[0]) != len(inputs):
        raise ApiError(
            422,
            "invalid_points",
            f"points must have shape (n, {len(inputs)}), each point ({', '.join(inputs)}); "
            f"the first point has {len(points[0])} numbers",
            {"expected_inputs": list(inputs), "first_point_length": len(points[0])},
        )
    outputs = parse_outputs(data.get("outputs"))
    return _points_array(points, body), outputs


def _points_array(points: list[Any], body: bytes) -> NDArray[np.float64]:
    """The points as an (n, d) float array, converted by numpy in one call; the reasons it
    cannot be are looked for only when it cannot."""
    try:
        array = np.array(points)
    except ValueError:  # points of different lengths, or lists within points
        if not all(isinstance(p, list) for p in points):
            raise ApiError(422, "validation_error", POINTS_SHAPE) from None
        lengths = sorted({len(p) for p in points})
        if len(lengths) > 1:
            raise ApiError(
                422, "invalid_points", f"every point must have the same length; got lengths {lengths}"
            ) from None
        raise ApiError(422, "validation_error", "points must contain numbers only") from None
    if array.ndim == 1 and array.size == 0:
        array = array.reshape(0, 0)
    # true/false can be nowhere else in a body whose fields and outputs passed: a boolean point
    if array.ndim != 2 or array.dtype.kind not in "fi" or b"true" in body or b"false" in body:
        raise ApiError(422, "validation_error", "points must contain numbers only")
    return array.astype(np.float64, copy=False)


def parse_outputs(raw: Any) -> list[Output] | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = [part.strip() for part in raw.split(",") if part.strip()]
    if not isinstance(raw, list) or not raw or any(item not in OUTPUTS for item in raw):
        raise ApiError(
            422,
            "validation_error",
            f"outputs must be a non-empty list drawn from {list(OUTPUTS)}; got {raw!r}",
        )
    return list(dict.fromkeys(raw))


def parse_npy_request(body: bytes) -> NDArray[np.float64]:
    try:
        array = np.load(io.BytesIO(body), allow_pickle=False)
    except Exception as exc:
        raise ApiError(
            400,
            "malformed_npy",
            f"the body is not an .npy array ({type(exc).__name__}: {exc}); use numpy.save",
        ) from None
    if not isinstance(array, np.ndarray):  # an .npz archive (np.load opens it lazily)
        array.close()
        raise ApiError(
            400,
            "malformed_npy",
            f"the body is an .npz archive; send one array as an .npy (numpy.save, not numpy.savez) "
            f"with Content-Type: {NPY_TYPE}",
            {"expected": NPY_TYPE},
        )
    if array.dtype.kind not in "fiu":
        raise ApiError(
            422, "invalid_points", f"the .npy array must hold real numbers, got dtype {array.dtype}"
        )
    return array.astype(np.float64, copy=False)


def reshape_hint(inputs: int) -> str:
    """What to do with a 1-D array: n points of the one input, or one point of ``inputs``."""
    if inputs == 1:
        return "; for n points of the one input send an (n, 1) array: points.reshape(-1, 1)"
    return f"; for one point send a (1, {inputs}) array: points.reshape(1, -1)"


def check_points(array: NDArray[np.float64], model: Model) -> None:
    """Shape, size and finiteness, before any compute."""
    inputs = model.n_inputs
    names = model.input_names
    if array.ndim != 2 or array.shape[1] != inputs:
        raise ApiError(
            422,
            "invalid_points",
            f"points must have shape (n, {inputs}), each point ({', '.join(names)}); "
            f"got shape {list(array.shape)}{reshape_hint(inputs) if array.ndim == 1 else ''}",
            {"expected_inputs": names, "shape": list(array.shape)},
        )
    if array.shape[0] == 0:
        raise ApiError(422, "invalid_points", "send at least one point")
    if array.shape[0] > MAX_POINTS:
        raise ApiError(413, "too_many_points", f"{array.shape[0]} points; at most {MAX_POINTS} per request")
    bad = ~np.isfinite(array).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)[:10].tolist()
        raise ApiError(
            422, "invalid_points", f"points must be finite; rows {rows} hold NaN or infinity", {"rows": rows}
        )


def evaluate(model: Model, array: NDArray[np.float64], outputs: list[Output] | None) -> dict[str, Any]:
    """The requested outputs as arrays (bounds None where the model has none)."""
    result = model.evaluate(array)
    available: dict[str, NDArray[Any] | None] = {
        "value": result.value,
        "gradient": result.gradient,
        "bound": result.bound,
        "gradient_bound": result.gradient_bound,
        "inside": result.inside,
    }
    wanted = outputs if outputs is not None else [k for k in OUTPUTS if available[k] is not None]
    chosen: dict[str, Any] = {name: available[name] for name in wanted}
    for name, values in chosen.items():
        if name in ("bound", "gradient_bound", "inside"):
            continue  # bounds: +inf means "no promise here"; inside: booleans
        if values is not None and not np.isfinite(values).all():
            rows = np.flatnonzero(~np.isfinite(values.reshape(len(array), -1)).all(axis=1))[:10].tolist()
            raise ApiError(
                422,
                "non_finite_output",
                f"{name} overflowed at rows {rows}: the points are too far out for float64; "
                "send smaller inputs",
                {"rows": rows},
            )
    return chosen


def _jsonable(values: NDArray[Any] | None) -> Any:
    """A list for JSON; a bound of +inf (no promise) becomes null, since JSON has no infinity."""
    if values is None:
        return None
    if values.dtype == np.bool_:
        return values.tolist()
    if np.isfinite(values).all():
        return values.tolist()
    return [None if not math.isfinite(v) else v for v in values.tolist()]


#: Rows per ``json.dumps`` call when encoding an answer: each call holds the GIL until it
#: returns, so a 100,000-point answer (0.2 s in one call) is encoded in short pieces and the
#: event loop thread gets the GIL between them (other requests are not stalled).
ENCODE_ROWS = 4096


def _encode_array(values: NDArray[Any] | None) -> str:
    if values is None or values.ndim == 0 or len(values) <= ENCODE_ROWS:
        return json.dumps(_jsonable(values), allow_nan=False)
    pieces = (
        json.dumps(_jsonable(values[start : start + ENCODE_ROWS]), allow_nan=False)[1:-1]
        for start in range(0, len(values), ENCODE_ROWS)
    )
    return "[" + ",".join(pieces) + "]"


def encode_json(chosen: dict[str, Any]) -> bytes:
    """The JSON answer, encoded a few thousand rows at a time (see ``ENCODE_ROWS``)."""
    fields = (f"{json.dumps(name)}: {_encode_array(values)}" for name, values in chosen.items())
    return ("{" + ", ".join(fields) + "}").encode()


def encode_npz(chosen: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **{k: v for k, v in chosen.items() if v is not None})
    return buffer.getvalue()
