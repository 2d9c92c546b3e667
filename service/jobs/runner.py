"""The task a Dask worker runs for one job: begin an attempt, train, save, record.

Everything the task needs comes from the job store (the spec) and two settings passed by
the dispatcher (the store's URL and the data dir), so a worker needs no configuration of
its own.  Progress is written at most every ``REPORT_EVERY_S`` seconds and doubles as the
heartbeat; each report also tells the task whether a cancel was requested, or whether its
attempt was superseded (the job was resumed elsewhere), and the training loop stops then.
Training resumes from the job's checkpoint file when one exists, so a job whose worker
died goes on from its last checkpoint with exactly the model an uninterrupted run gives.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import uuid
from functools import cache
from pathlib import Path
from typing import Literal

import torch

from service.jobs.store import JobStore, ModelRecord, Report, log_job, now
from solver import Canceled, Diverged, JobSpec, solve
from solver.model import MANIFEST
from solver.training import CHECKPOINT_EVERY, LossRecord

REPORT_EVERY_S = 0.5
MAX_ATTEMPTS = 4
Outcome = Literal["succeeded", "failed", "canceled", "superseded", "skipped"]


@cache
def _store(url: str) -> JobStore:
    """One store (engine and pool) per worker process and URL."""
    return JobStore.open(url)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def checkpoint_path(data_dir: Path, job_id: str) -> Path:
    return data_dir / "checkpoints" / f"{job_id}.pt"


def model_folder(data_dir: Path, tenant: str, model_id: str) -> Path:
    return data_dir / "models" / tenant / model_id


class _Reporter:
    """Progress callback and cancel poll for ``solver.solve``, throttled to the store."""

    def __init__(
        self, store: JobStore, job_id: str, attempt: int, tenant: str = "", adam_steps: int = 0
    ) -> None:
        self.store, self.job_id, self.attempt = store, job_id, attempt
        self.tenant, self.adam_steps = tenant, adam_steps
        self._checkpoint: int | None = None  # a step whose checkpoint is written after its report
        self.verdict: Report = "continue"
        self._last = 0.0
        self._pending: tuple[int, int, float, float] | None = None
        self._records: list[LossRecord] = []

    def record(self, record: LossRecord) -> None:
        """A loss-curve record: sent with the next progress report."""
        self._records.append(record)

    def progress(self, step: int, steps: int, loss: float, elapsed: float) -> None:
        # solver.training saves a checkpoint right after the report of every CHECKPOINT_EVERY-th
        # Adam step: the next report (or the end of the run) shows it was written
        if self._checkpoint is not None and step > self._checkpoint:
            self.log_checkpoint()
        if step % CHECKPOINT_EVERY == 0 and 0 < step <= self.adam_steps:
            self._checkpoint = step
        self._pending = (step, steps, loss, elapsed)
        if time.monotonic() - self._last >= REPORT_EVERY_S:
            self.flush()

    def log_checkpoint(self) -> None:
        if self._checkpoint is not None:
            log_job("checkpoint", self.job_id, self.tenant, attempt=self.attempt, step=self._checkpoint)
            self._checkpoint = None

    def flush(self) -> None:
        if self._pending is None:
            return
        step, steps, loss, elapsed = self._pending
        finite_loss = loss if loss == loss and abs(loss) != float("inf") else None
        records, self._records = self._records, []
        self.verdict = self.store.report(
            self.job_id,
            self.attempt,
            step=step,
            steps=steps,
            loss=finite_loss,
            elapsed_s=elapsed,
            records=[r for r in records if r.is_finite()],
        )
        self._last = time.monotonic()
        self._pending = None

    def should_cancel(self) -> bool:
        return self.verdict != "continue"


def worker_threads(passed: int | None) -> int | None:
    """Torch threads for a job: the worker process's own ``RELUPDE_TORCH_THREADS`` (a worker
    container sets it from its CPU share) over the value the dispatcher passed."""
    own = os.environ.get("RELUPDE_TORCH_THREADS", "").strip()
    if own.isdigit() and int(own) > 0:
        return int(own)
    return passed


def _keep_best(exc: Diverged, root: Path, tenant: str, job_id: str) -> ModelRecord | None:
    """The model of the best finite parameters before a divergence, saved as the job's model
    (None when no step was finite); raises what saving it raises."""
    if exc.model is None:
        return None
    model_id = uuid.uuid4().hex
    folder = exc.model.save(model_folder(root, tenant, model_id))
    digest = json.loads((folder / MANIFEST).read_text())["weights_sha256"]
    return ModelRecord(model_id, tenant, job_id, str(folder.relative_to(root)), digest, now())


def _forget_if_deleted(store: JobStore, job_id: str, checkpoint: Path) -> None:
    """A job deleted while it ran (DELETE /v1/jobs/{id}) leaves no checkpoint behind."""
    if store.get_job(job_id) is None:
        checkpoint.unlink(missing_ok=True)


def run_job(job_id: str, database_url: str, data_dir: str, threads: int | None = None) -> Outcome:
    """Run (or resume) one job to its end; the outcome is also written to the store."""
    store = _store(database_url)
    started = store.begin(job_id, worker_name(), MAX_ATTEMPTS)
    if started is None:
        return "skipped"
    job, attempt = started
    threads = worker_threads(threads)
    if threads is not None:
        torch.set_num_threads(threads)
    root = Path(data_dir)
    checkpoint = checkpoint_path(root, job_id)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    adam_steps = job.spec.get("training", {}).get("steps", 0)
    reporter = _Reporter(store, job_id, attempt, job.tenant, adam_steps if isinstance(adam_steps, int) else 0)
    try:
        spec = JobSpec.model_validate(job.spec)
        model = solve(
            spec,
            reporter.progress,
            should_cancel=reporter.should_cancel,
            checkpoint=checkpoint,
            on_record=reporter.record,
        )
        reporter.log_checkpoint()
        reporter.flush()
        model_id = uuid.uuid4().hex
        # Writing can fail for the job's own reasons too (a NaN error measured against `exact`).
        folder = model.save(model_folder(root, job.tenant, model_id))
    except Canceled:
        if reporter.verdict == "superseded":
            _forget_if_deleted(store, job_id, checkpoint)
            return "superseded"
        store.finish(job_id, attempt, "canceled")
        checkpoint.unlink(missing_ok=True)
        return "canceled"
    except Diverged as exc:  # failed as "diverged at step N: <term>", the best finite model kept
        error = str(exc)
        try:
            kept = _keep_best(exc, root, job.tenant, job_id)
        except Exception as failure:  # a NaN in its manifest, a full disk: said, never hidden
            kept = None
            error += f"; the best finite model could not be saved ({type(failure).__name__}: {failure})"
        if not store.finish(job_id, attempt, "failed", error=error, model=kept) and kept is not None:
            shutil.rmtree(root / kept.path, ignore_errors=True)
        checkpoint.unlink(missing_ok=True)
        return "failed"
    except Exception as exc:  # the job's own failure (bad data, a failed save): recorded, not raised
        store.finish(job_id, attempt, "failed", error=f"{type(exc).__name__}: {exc}")
        return "failed"
    digest = json.loads((folder / MANIFEST).read_text())["weights_sha256"]
    record = ModelRecord(model_id, job.tenant, job_id, str(folder.relative_to(root)), digest, now())
    if not store.finish(job_id, attempt, "succeeded", model=record):
        shutil.rmtree(folder)  # superseded or canceled meanwhile: the store keeps the other outcome
        _forget_if_deleted(store, job_id, checkpoint)
        return "superseded"
    checkpoint.unlink(missing_ok=True)
    return "succeeded"
