"""The ``relupde`` commands that talk to a server, through ``service.client``.

    relupde submit SPEC [--set PATH=VALUE ...] [--wait]
    relupde status JOB          relupde wait JOB          relupde cancel JOB
    relupde evaluate MODEL --at 0.5,1.0 [--at ...] | --points FILE.npy
    relupde download MODEL --out FILE.safetensors
    relupde delete JOB | relupde delete --model MODEL

Every command takes ``--server URL`` (default ``$RELUPDE_SERVER``, else
http://127.0.0.1:8000) and ``--key K`` (default ``$RELUPDE_API_KEY``; none for a keyless
server).  A failure prints the server's error code and message on stderr and exits with
status 1; a usage error exits with 2.  Results go to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from service.client import Client, Job, ServiceError

DEFAULT_SERVER = "http://127.0.0.1:8000"
COMMANDS = ("submit", "status", "wait", "evaluate", "download", "cancel", "delete")
PROGRESS_EVERY_S = 2.0


def connect(server: str, key: str | None) -> Client:
    """The client the commands use (a seam for tests)."""
    return Client(server, api_key=key)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        default=os.environ.get("RELUPDE_SERVER", DEFAULT_SERVER),
        help=f"the service's base URL (default $RELUPDE_SERVER or {DEFAULT_SERVER})",
    )
    parser.add_argument(
        "--key",
        default=os.environ.get("RELUPDE_API_KEY"),
        help="API key (default $RELUPDE_API_KEY; omit for a keyless server)",
    )


def add_remote_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The server commands, each with an example in its --help."""

    def add(name: str, help_text: str, example: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=f"example: {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        _common(parser)
        return parser

    submit = add(
        "submit",
        "submit a job spec to a server; prints the job id",
        "relupde submit examples/poisson-2d.json --set training.steps=500 --wait",
    )
    submit.add_argument("spec", help="path to a job spec (JSON; docs/spec.md)")
    submit.add_argument(
        "--set", action="append", default=[], metavar="PATH=VALUE", help="override a field; repeatable"
    )
    submit.add_argument(
        "--idempotency-key", default=None, help="submitting again with it returns the same job"
    )
    submit.add_argument("--wait", action="store_true", help="wait for the job to finish; print its model id")
    status = add("status", "print a job's status and progress", "relupde status 3f2a... --json")
    status.add_argument("job", help="job id")
    status.add_argument("--json", action="store_true", help="print the job's JSON")
    wait = add("wait", "wait for a job to finish; prints its model id", "relupde wait 3f2a... --timeout 600")
    wait.add_argument("job", help="job id")
    wait.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    evaluate = add(
        "evaluate",
        "evaluate a model at points; prints JSON (value, gradient, bound, gradient_bound, inside)",
        "relupde evaluate 9c1d... --at 0.5,1.0 --at 0.25,2.0",
    )
    evaluate.add_argument("model", help="model id (a succeeded job's model_id)")
    evaluate.add_argument(
        "--at", action="append", default=[], metavar="X,Y,...", help="one point; repeatable"
    )
    evaluate.add_argument("--points", default=None, help="a .npy file of points (n, inputs)")
    evaluate.add_argument(
        "--out", default=None, help="write the arrays to this .npz instead of printing JSON"
    )
    download = add(
        "download",
        "download a model's weights, checked against its sha256",
        "relupde download 9c1d... --out m.safetensors",
    )
    download.add_argument("model", help="model id")
    download.add_argument("--out", required=True, help="file to write (safetensors)")
    cancel = add("cancel", "ask a queued or running job to stop", "relupde cancel 3f2a...")
    cancel.add_argument("job", help="job id")
    delete = add(
        "delete",
        "delete a job with its models, or a model alone (not undoable)",
        "relupde delete 3f2a...   or   relupde delete --model 9c1d...",
    )
    delete.add_argument("job", nargs="?", default=None, help="job id")
    delete.add_argument("--model", default=None, help="delete this model instead of a job")


def _describe(job: Job) -> str:
    progress = job.progress
    line = f"{job.id} {job.status} step {progress.step}/{progress.steps}"
    if job.name:
        line += f" ({job.name})"
    if job.model_id:
        line += f" model {job.model_id}"
    if job.error:
        line += f": {job.error}"
    return line


def _wait(client: Client, job_id: str, timeout: float | None) -> Job:
    """Wait for the job; a progress bar on a terminal, a plain line every few seconds else."""
    if sys.stderr.isatty():
        return client.wait(job_id, progress=True, timeout=timeout)
    deadline = None if timeout is None else time.monotonic() + timeout
    last = -1.0
    while True:
        job = client.job(job_id)
        if job.done:
            return job
        if time.monotonic() - last >= PROGRESS_EVERY_S:
            print(_describe(job), file=sys.stderr, flush=True)
            last = time.monotonic()
        if deadline is not None and time.monotonic() > deadline:
            return client.wait(job_id, progress=False, timeout=0.0)  # raises WaitTimeoutError
        time.sleep(0.5)


def _finished(job: Job) -> int:
    """Print the outcome: the model id on stdout for a success, the reason on stderr else."""
    if job.status == "succeeded":
        print(job.model_id)
        return 0
    print(f"relupde: job {job.id} {job.status}: {job.error or 'no reason given'}", file=sys.stderr)
    return 1


def _points(args: argparse.Namespace) -> NDArray[np.float64]:
    if args.points is not None and args.at:
        raise ValueError("give points either with --at or with --points, not both")
    if args.points is not None:
        loaded = np.load(Path(args.points), allow_pickle=False)
        return np.asarray(loaded, dtype=np.float64)
    if not args.at:
        raise ValueError("give at least one point: --at X,Y,... (repeatable) or --points FILE.npy")
    try:
        rows = [[float(v) for v in point.split(",")] for point in args.at]
    except ValueError:
        raise ValueError(f"--at takes comma-separated numbers, e.g. --at 0.5,1.0; got {args.at}") from None
    if len({len(row) for row in rows}) != 1:
        raise ValueError("every --at point must have the same number of coordinates")
    return np.asarray(rows, dtype=np.float64)


def _evaluate(client: Client, args: argparse.Namespace) -> int:
    points = _points(args)
    result = client.model(args.model).evaluate(points)
    arrays = {f.name: getattr(result, f.name) for f in fields(result) if getattr(result, f.name) is not None}
    if args.out is not None:
        np.savez(Path(args.out), points=points, **arrays)
        print(f"wrote {args.out} ({len(points)} points)")
        return 0
    print(json.dumps({k: np.asarray(v).tolist() for k, v in arrays.items()}))
    return 0


def _delete(client: Client, args: argparse.Namespace) -> int:
    if (args.job is None) == (args.model is None):
        raise ValueError("name a job (relupde delete JOB) or a model (relupde delete --model MODEL)")
    answer: dict[str, Any] = (
        client.delete_job(args.job) if args.model is None else client.delete_model(args.model)
    )
    models = ", ".join(answer.get("model_ids") or []) or "none"
    print(f"deleted {answer['id']} (models: {models})")
    return 0


def _submit(client: Client, args: argparse.Namespace) -> int:
    from service.spec_file import load_spec

    spec = load_spec(args.spec, args.set)
    job = client.submit(spec, idempotency_key=args.idempotency_key)
    if not args.wait:
        print(job.id)
        return 0
    print(f"submitted {job.id}", file=sys.stderr)
    return _finished(_wait(client, job.id, None))


def run_remote(args: argparse.Namespace) -> int:
    """Run one server command; service errors print code and message, exit status 1."""
    from service.spec_file import SpecFileError

    actions: dict[str, Callable[[Client, argparse.Namespace], int]] = {
        "submit": _submit,
        "status": _status,
        "wait": lambda c, a: _finished(_wait(c, a.job, a.timeout)),
        "evaluate": _evaluate,
        "download": _download,
        "cancel": lambda c, a: _print(_describe(c.cancel(a.job))),
        "delete": _delete,
    }
    try:
        with connect(args.server, args.key) as client:
            return actions[args.command](client, args)
    except ServiceError as exc:
        print(f"relupde {args.command}: {exc}", file=sys.stderr)
        return 1
    except (SpecFileError, ValueError, OSError) as exc:
        print(f"relupde {args.command}: {exc}", file=sys.stderr)
        return 2


def _print(line: str) -> int:
    print(line)
    return 0


def _status(client: Client, args: argparse.Namespace) -> int:
    job = client.job(args.job)
    print(json.dumps(job.raw) if args.json else _describe(job))
    return 0


def _download(client: Client, args: argparse.Namespace) -> int:
    path = client.model(args.model).download(args.out)
    print(f"wrote {path} ({path.stat().st_size} bytes, sha256 checked)")
    return 0
