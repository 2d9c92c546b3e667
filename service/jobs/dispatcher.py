"""The dispatcher: the one place that hands queued jobs to Dask.

It runs in a thread of the API process and owns the Dask client (and, without
``RELUPDE_DASK_ADDRESS``, the LocalCluster of worker processes).  Each tick it

1. collects finished futures: a task that raised (for example Dask's ``KilledWorker`` after
   its worker died too often) fails its job with the reason, unless the job already ended;
2. resumes orphaned running jobs: on the first tick with a LocalCluster every running job
   is an orphan (the previous server's workers died with it); otherwise a running job that
   this dispatcher does not hold and whose heartbeat is older than ``stale_after`` is one;
   orphans go back to the queue and resume from their checkpoints;
3. submits every queued job it does not hold (``fire_and_forget``, so an external
   scheduler keeps the task even if this process goes away).

A worker that dies mid-task is handled by Dask itself: the scheduler runs the task again on
another worker (``distributed.scheduler.allowed-failures`` times), and the task resumes
from the checkpoint.  The store stays the source of truth throughout.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from service.jobs.runner import MAX_ATTEMPTS, run_job
from service.jobs.store import JobStore
from service.settings import Settings

log = logging.getLogger("relupde.dispatcher")

TICK_S = 0.25
STALE_AFTER_S = 60.0


def torch_threads(settings: Settings) -> int:
    """``RELUPDE_TORCH_THREADS``, else the cores split evenly between the local worker
    processes (each runs one job at a time)."""
    if settings.torch_threads is not None:
        return settings.torch_threads
    return max(1, (os.cpu_count() or 1) // settings.workers)


class Dispatcher:
    """Submits queued jobs to Dask and keeps the store consistent with what runs."""

    def __init__(
        self,
        store: JobStore,
        settings: Settings,
        *,
        stale_after_s: float = STALE_AFTER_S,
        on_finished: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.stale_after = timedelta(seconds=stale_after_s)
        self.on_finished = on_finished
        self.state = "starting"
        self.futures: dict[str, Any] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="relupde-dispatcher", daemon=True)
        self._client: Any = None
        self._cluster: Any = None
        self._first_tick = True

    @property
    def local(self) -> bool:
        return self.settings.dask_address is None

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Tick now (a job was submitted or canceled) instead of at the next TICK_S."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def scheduler_info(self) -> dict[str, Any]:
        """What /healthz shows: the state and the number of live workers."""
        workers = None
        if self._client is not None and self.state == "running":
            try:
                workers = len(self._client.scheduler_info(n_workers=-1).get("workers", {}))
            except Exception:
                workers = None
        return {"state": self.state, "workers": workers, "local_cluster": self.local}

    # ------------------------------------------------------------------ thread body
    def _run(self) -> None:
        try:
            self._connect()
        except Exception as exc:
            self.state = f"error: cannot start Dask ({type(exc).__name__}: {exc})"
            log.error("dispatcher: %s", self.state)
            return
        self.state = "running"
        try:
            while not self._stop.is_set():
                try:
                    self.tick()
                except Exception:
                    log.exception("dispatcher tick failed; retrying")
                self._wake.wait(TICK_S)
                self._wake.clear()
        finally:
            self._close()

    def _connect(self) -> None:
        import dask
        from distributed import Client, LocalCluster

        dask.config.set({"distributed.scheduler.allowed-failures": MAX_ATTEMPTS - 1})
        if self.local:
            self._cluster = LocalCluster(
                n_workers=self.settings.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.WARNING,
            )
            self._client = Client(self._cluster)
        else:
            self._client = Client(self.settings.dask_address, timeout="30s")

    def _close(self) -> None:
        if self._cluster is not None:
            self._kill_local_workers()
        for closable in (self._client, self._cluster):
            if closable is not None:
                try:
                    closable.close()
                except Exception:
                    log.exception("dispatcher: closing Dask failed")
        self.state = "stopped"

    def _kill_local_workers(self) -> None:
        """Stop local training at once on shutdown: the jobs stay ``running`` in the store and
        the next start resumes them from their checkpoints (otherwise Dask would let a task
        train on for its close timeout and the job would end during shutdown)."""
        for nanny in list(self._cluster.workers.values()):
            pid = getattr(nanny, "pid", None)
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    # ------------------------------------------------------------------ one tick
    def tick(self) -> None:
        self._collect()
        self._resume_orphans()
        self._submit_queued()
        self._first_tick = False

    def _collect(self) -> None:
        for job_id, future in list(self.futures.items()):
            if not future.done():
                continue
            del self.futures[job_id]
            if future.status == "error":
                exc = future.exception()
                reason = f"the job's worker failed: {type(exc).__name__}: {exc}"
                if self.store.fail_unfinished(job_id, reason):
                    log.warning("job %s failed: %s", job_id, reason)
            if self.on_finished is not None:
                self.on_finished(job_id)

    def _resume_orphans(self) -> None:
        if self.local and self._first_tick:
            orphans = self.store.jobs_with_status("running")
            reason = "the server restarted while the job was running"
        else:
            orphans = self.store.stale_running(self.stale_after)
            reason = f"its worker stopped reporting for more than {self.stale_after.total_seconds():.0f} s"
        for job in orphans:
            if job.id not in self.futures and self.store.requeue(job.id, reason):
                log.warning("job %s resumes from its checkpoint: %s", job.id, reason)

    def _submit_queued(self) -> None:
        from distributed import fire_and_forget

        threads = torch_threads(self.settings) if self.local else self.settings.torch_threads
        for job in self.store.jobs_with_status("queued"):
            if job.id in self.futures:
                continue
            future = self._client.submit(
                run_job,
                job.id,
                self.settings.database_url,
                str(self.settings.data_dir),
                threads,
                key=f"relupde-job-{job.id}-{uuid.uuid4().hex[:8]}",
                pure=False,
            )
            fire_and_forget(future)
            self.futures[job.id] = future
            log.info("job %s submitted", job.id)

    def wait_idle(self, timeout: float) -> bool:
        """Test helper: True once no future is pending (or False after ``timeout`` s)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.futures:
                return True
            time.sleep(0.05)
        return False
