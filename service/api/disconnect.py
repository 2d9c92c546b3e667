"""Heavy work (a plot, an evaluation) is not done for a client that has gone away.

``run_unless_disconnected`` asks the request whether its client disconnected before the
work starts (then the work is not run at all), and runs the work in a worker thread with a
``stopped`` check it may call between chunks (plots call it between panels and before
rendering the PNG): the check asks the event loop whether the client is still there.
A route answers ``CLIENT_CLOSED`` (499, nginx's "client closed request"; nobody reads it)
when the work was skipped or stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

import anyio.from_thread
import anyio.to_thread

T = TypeVar("T")
CLIENT_CLOSED = 499


class Disconnectable(Protocol):
    async def is_disconnected(self) -> bool: ...


async def run_unless_disconnected(
    request: Disconnectable, work: Callable[[Callable[[], bool]], T]
) -> T | None:
    """``work(stopped)`` in a worker thread, or None (``work`` not called) when the client
    has already disconnected."""
    if await request.is_disconnected():
        return None

    def stopped() -> bool:
        return bool(anyio.from_thread.run(request.is_disconnected))

    return await anyio.to_thread.run_sync(work, stopped)
