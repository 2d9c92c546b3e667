"""Slow clients: a request body that stops arriving is answered 408 and its connection closed.

``ReadTimeout`` wraps the ASGI ``receive`` of every HTTP request: while the body is still
coming (``more_body``), each message must arrive within ``seconds``
(``RELUPDE_READ_TIMEOUT_S``), else the request is answered 408 ``request_timeout`` with
``Connection: close`` (uvicorn then closes the connection) and whatever the application
does with the failed read is dropped.  Once the body is complete, ``receive`` is passed
through untouched (it then only waits for a disconnect: event streams, ``is_disconnected``).
"""

from __future__ import annotations

import json

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class RequestTimeoutError(Exception):
    """No part of the request body arrived within the read timeout."""


class ReadTimeout:
    """ASGI middleware: 408 ``request_timeout`` when the body stalls for ``seconds``."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = False
        timed_out = False
        started = False

        async def timed_receive() -> Message:
            nonlocal body_done, timed_out
            if body_done:
                return await receive()
            try:
                with anyio.fail_after(self.seconds):
                    message = await receive()
            except TimeoutError:
                timed_out = True
                raise RequestTimeoutError from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if timed_out:  # the application's answer to the failed read (a 400, ...) is replaced
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await _request_timeout(send, self.seconds)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except Exception:
            if not timed_out:
                raise
        if timed_out and not started:
            await _request_timeout(send, self.seconds)


async def _request_timeout(send: Send, seconds: float) -> None:
    body = json.dumps(
        {
            "error": {
                "code": "request_timeout",
                "message": f"no part of the request body arrived for {seconds:g} s; send the whole "
                "body promptly, on a new connection",
                "details": {"read_timeout_s": seconds},
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 408,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
