"""Large JSON evaluate requests run in a worker process, so they cannot stall the event loop.

Parsing a JSON body of 100,000 points (``json.loads``, then numpy's conversion) and encoding
its answer are long calls that hold the GIL: in a thread of the API process they pause every
other request, ``/healthz`` included, for hundreds of milliseconds.  A body over
``OFFLOAD_BYTES`` therefore goes, as bytes, to a small process pool
(``RELUPDE_EVALUATE_PROCESSES`` processes, default 1; 0 keeps the work in threads): the
process loads the model from its folder (verifying the sha256 like every read, and keeping
the few it used last), parses, checks, evaluates and encodes, and sends back the answer's
bytes or the error to answer.  The API process only moves bytes.

The pool's processes are started with ``spawn`` (a fresh interpreter, no state of the API
process is copied).  ``relupde serve`` starts and warms them up in the background before it
listens, so the first large request does not wait for torch to import; an app made
otherwise (tests, an embedding) starts its pool at its first large request.  A process
that dies is replaced (``BrokenProcessPool``: the request answers 503
``evaluate_unavailable`` and the next request gets a fresh pool).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from service.api.errors import ApiError
from solver.model import ModelFileError

#: JSON evaluate bodies over this many bytes (about 6,000 points) are evaluated in the pool.
OFFLOAD_BYTES = 256 * 1024

#: (ok, answer bytes, point count), (error, status, code, message, details) or (corrupted, why).
Outcome = tuple[Any, ...]

_MODELS: dict[Path, Any] = {}  # in the pool's processes: the models they loaded last
_MODELS_KEPT = 4


def _evaluate_json(folder: str, body: bytes) -> Outcome:
    """In a pool process: the whole JSON evaluate of ``body`` on the model in ``folder``."""
    from service.api.evaluation import check_points, encode_json, evaluate, parse_json_request
    from solver import load_model

    path = Path(folder)
    try:
        model = _MODELS.get(path)
        if model is None:
            model = load_model(path)
            if len(_MODELS) >= _MODELS_KEPT:
                _MODELS.pop(next(iter(_MODELS)))
            _MODELS[path] = model
        points, wanted = parse_json_request(body, model.input_names)
        check_points(points, model)
        return ("ok", encode_json(evaluate(model, points, wanted)), len(points))
    except ApiError as exc:
        return ("error", exc.status, exc.code, exc.message, exc.details)
    except ModelFileError as exc:  # changed on disk since the API process verified it
        return ("corrupted", str(exc).replace(folder, "<model folder>"))


def _warm_up() -> bool:
    """Import what a request needs, so the first one does not pay for it."""
    import service.api.evaluation  # noqa: F401
    import solver  # noqa: F401

    return True


class EvaluatePool:
    """A process pool for large JSON evaluates; ``processes`` 0 means none (``enabled`` False)."""

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.processes > 0

    def start(self) -> None:
        """Create the pool and warm its processes up in the background (returns at once)."""
        if self.enabled:
            executor = self._pool()
            for _ in range(self.processes):
                executor.submit(_warm_up)

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                context = multiprocessing.get_context("spawn")
                self._executor = ProcessPoolExecutor(self.processes, mp_context=context)
            return self._executor

    async def evaluate(self, folder: Path, body: bytes) -> tuple[bytes, int]:
        """The answer's bytes and point count of the JSON evaluate ``body`` on the model in
        ``folder``; the error the process found is raised here (``ApiError``, or
        ``ModelFileError`` for a damaged model)."""
        executor = self._pool()
        try:
            future = executor.submit(_evaluate_json, str(folder), body)
            outcome = await asyncio.wrap_future(future)
        except (BrokenProcessPool, RuntimeError, CancelledError):  # died, or shut down meanwhile
            self._replace(executor)
            raise ApiError(
                503,
                "evaluate_unavailable",
                "the process evaluating large requests stopped (out of memory?); send the request "
                "again, or in smaller parts",
            ) from None
        if outcome[0] == "error":
            _, status, code, message, details = outcome
            raise ApiError(status, code, message, details)
        if outcome[0] == "corrupted":
            raise ModelFileError(outcome[1])
        return outcome[1], outcome[2]

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """Drop the broken pool (only that one: another request may have replaced it
        already); the next request starts a fresh one."""
        with self._lock:
            if self._executor is not broken:
                return
            self._executor = None
        broken.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
