"""One error envelope for every failure: ``{"error": {"code", "message", "details"}}``.

``ApiError`` is raised by the routes; the handlers installed by ``install_error_handlers``
turn it, FastAPI's request validation errors, Starlette's HTTP errors (unknown paths, wrong
methods) and anything unexpected into that envelope, so no client ever has to parse two
shapes.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from solver.spec_errors import friendly_errors

log = logging.getLogger("relupde.api")

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    503: "unavailable",
}


class ApiError(Exception):
    """An error answered to the client: HTTP status, a stable code, a message saying what to change."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = headers


#: How deep the envelope (and the ``given`` of a validation error) shows nested values; what
#: lies deeper is "..." (a JSON body may nest about a thousand levels before parsing fails).
MAX_DEPTH = 32


def envelope(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The error answer; whatever the texts hold, it encodes (see ``_jsonable``)."""
    error = {"code": _text(code), "message": _text(message), "details": _jsonable(details)}
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def _text(value: str) -> str:
    """``value`` as UTF-8 can carry it: a lone surrogate (JSON ``"\\ud800"``) is written
    ``\\ud800``."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _jsonable(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON can carry it: UTF-8 text, no NaN or infinity, nothing nested deeper
    than ``MAX_DEPTH`` (never a RecursionError)."""
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, int | bool) or value is None:
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, dict | list | tuple) and depth >= MAX_DEPTH:
        return "..."
    if isinstance(value, dict):
        return {_text(str(k)): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v, depth + 1) for v in value]
    return _text(str(value))


def _capped(value: Any, depth: int = 0) -> Any:
    """``value`` with what lies deeper than ``MAX_DEPTH`` replaced by "..." (and nothing else
    changed), so that no later step recurses without bound."""
    if not isinstance(value, dict | list | tuple):
        return value
    if depth >= MAX_DEPTH:
        return "..."
    if isinstance(value, dict):
        return {k: _capped(v, depth + 1) for k, v in value.items()}
    return [_capped(v, depth + 1) for v in value]


def validation_details(errors: Any) -> list[dict[str, Any]]:
    """Each mistake: where (the field path in the user's terms), what is wrong, what was
    given (``solver.spec_errors``: no union tags, no library links, close-match hints)."""
    capped = [{**e, "input": _capped(e.get("input"))} if isinstance(e, dict) else e for e in errors]
    return [{**d, "given": _jsonable(d["given"])} for d in friendly_errors(capped)]


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return envelope(exc.status, exc.code, exc.message, exc.details, exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = validation_details(exc.errors())
    first = details[0] if details else {"field": "body", "message": "invalid"}
    message = f"{first['field']}: {first['message']}"
    if len(details) > 1:
        message += f" (and {len(details) - 1} more problem{'s' if len(details) > 2 else ''})"
    return envelope(422, "validation_error", message, details)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if isinstance(exc.__cause__, RecursionError):  # FastAPI's 400 for a body it could not parse
        message = "the JSON body is nested too deeply"
    headers = dict(exc.headers) if exc.headers else None
    return envelope(exc.status_code, code, message, getattr(exc, "details", None), headers)


#: Exceptions a validator may let out of pydantic (it turns only ValueError and AssertionError
#: into validation errors): float() of a 400-digit literal, a value nested too deeply, ...
ESCAPING = (ArithmeticError, ValueError, TypeError, LookupError, RecursionError)
#: FastAPI's functions that validate a request against the route's parameters and body model
VALIDATING = frozenset({"request_body_to_args", "request_params_to_args"})


def _raised_validating_the_request(exc: BaseException) -> bool:
    """Whether ``exc`` came out of FastAPI's validation of the request, not out of a route."""
    frame = exc.__traceback__
    while frame is not None:
        code, module = frame.tb_frame.f_code, str(frame.tb_frame.f_globals.get("__name__", ""))
        if code.co_name in VALIDATING and module.startswith("fastapi."):
            return True
        frame = frame.tb_next
    return False


async def _escaped_validation(_request: Request, exc: Exception) -> JSONResponse:
    """An exception out of the request's validation is the request's fault: 422.  Anywhere
    else it is a bug, raised on to ``_unexpected`` (500, logged)."""
    if not _raised_validating_the_request(exc):
        raise exc
    why = f"{type(exc).__name__}: {str(exc)[:200]}"
    message = f"the request holds a value that cannot be checked ({why}); send smaller, flatter values"
    details = [{"field": "body", "message": message, "type": type(exc).__name__, "given": None}]
    return envelope(422, "validation_error", message, details)


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    return envelope(500, "internal_error", "the server failed unexpectedly; the error was logged")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    for escaping in ESCAPING:
        app.add_exception_handler(escaping, _escaped_validation)
    app.add_exception_handler(Exception, _unexpected)
