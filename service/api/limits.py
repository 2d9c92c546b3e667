"""Request body caps, enforced before the body is read into memory (413 with the envelope)."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_EVALUATE_BYTES = 64 * 1024 * 1024
MAX_OTHER_BYTES = 1024 * 1024


def body_limit(path: str) -> int:
    return MAX_EVALUATE_BYTES if path.endswith("/evaluate") else MAX_OTHER_BYTES


class BodyLimit:
    """ASGI middleware: refuse bodies over the path's cap, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"])
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await _too_large(send, limit)
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLargeError(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLargeError:
            if not started:
                await _too_large(send, limit)


class _BodyTooLargeError(HTTPException):
    """Raised while the body streams in (chunked, or longer than declared).  An HTTPException,
    so that FastAPI passes it on while it reads a body for a route (any other error there
    becomes a 400) and the error handlers answer 413 ``payload_too_large``."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _message(limit))
        self.details = {"limit_bytes": limit}


def _message(limit: int) -> str:
    return f"the request body is over {limit} bytes; send fewer points per request"


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "error": {
                "code": "payload_too_large",
                "message": _message(limit),
                "details": {"limit_bytes": limit},
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
