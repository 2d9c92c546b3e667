"""The REST service against the library: job latency, evaluate throughput, latency under load.

Starts ``relupde serve`` on a free loopback port with a temporary data dir (no API keys, so
every caller is the tenant ``default``), waits for ``/healthz``, and then measures:

1. **Jobs.** One model-producing job (examples/transport-1d.json, network ``--hidden``,
   training shrunk to ``--train-steps`` steps on few points: the weights do not matter
   here, only the architecture), then ``--latency-jobs`` short jobs one after another:
   the time from the ``POST /v1/jobs`` response to the first ``GET /v1/jobs/{id}`` that
   shows ``running`` (polled every 10 ms), and to ``succeeded``.
2. **Evaluate throughput** at n points, (u, grad u) of that model: in process
   (``load_model(folder).evaluate(points)`` on the model folder the server wrote), the HTTP
   JSON form and the HTTP bulk form (.npy in, .npz out), in alternation within each
   repetition (round robin); both HTTP forms share one keep-alive ``httpx.Client``.  HTTP times are
   end to end as a user sees them: encoding the points, the request, decoding the answer
   into numpy arrays.  Medians over ``--repeats``; "vs in-process" is HTTP points/s over
   in-process points/s.
3. **Request overhead**: ``--overhead-requests`` requests of one point each, one after
   another: in process, JSON evaluate over HTTP, /healthz and a bare FastAPI route served
   the same way in another process (the floor), in alternation; p50 and p99.  The service
   hardening target is checked: JSON evaluate p50 at most 1.5 ms.
4. **Latency under concurrency**: ``--clients`` threads, each with its own keep-alive
   ``httpx.Client``, each sending ``--requests`` JSON evaluate requests back to back, once
   with 1 point and once with 1,000 points per request; p50 and p99 latency and the total
   requests/s.

The client (this process) and the server share the machine's cores, so on a small machine
the HTTP figures include the client's own encoding and decoding competing with the server.
The service's target is checked at the end: bulk evaluate at 100k points reaches
at least 50% of the in-process throughput.  The server is stopped with SIGTERM at the end,
also when something fails.

    .venv/bin/python bench/service_throughput.py             # everything (under a minute on 2 idle cores)
    .venv/bin/python bench/service_throughput.py --repeats 3 --latency-jobs 3 --requests 20
    .venv/bin/python bench/service_throughput.py --threads 1 # torch on one thread, here and in the server
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import torch
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from solver import load_model
from solver.model import Model

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "transport-1d.json"
NPY = "application/x-npy"
TARGET_BULK_RATIO = 0.5
TARGET_OVERHEAD_S = 0.0015
POLL_S = 0.01
Points = NDArray[np.float64]
Method = Callable[[Points], None]


# ---------------------------------------------------------------------------- the server
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def relupde_argv() -> list[str]:
    script = Path(sys.executable).with_name("relupde")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from service.cli import main; sys.exit(main())"]


class Server:
    """``relupde serve`` on a free loopback port; its output goes to a log file in the data dir."""

    def __init__(self, data_dir: Path, threads: int | None = None) -> None:
        self.data_dir = data_dir
        self.threads = threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / "serve.log"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> dict[str, Any]:
        """Start and wait until the dispatcher runs with a worker; returns the health answer."""
        env = {k: v for k, v in os.environ.items() if k != "RELUPDE_API_KEYS"}
        env["RELUPDE_DATA_DIR"] = str(self.data_dir)
        if self.threads is not None:  # torch in the API process (evaluate); jobs set their own
            env["OMP_NUM_THREADS"] = str(self.threads)
        argv = [*relupde_argv(), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with self.log.open("ab") as log:
            self.popen = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"relupde serve exited with {self.popen.returncode}:\n{self.tail()}")
            try:
                health: dict[str, Any] = httpx.get(f"{self.url}/healthz", timeout=2).json()
                if health["dispatcher"]["state"] == "running" and health["dispatcher"]["workers"]:
                    return health
            except (httpx.HTTPError, KeyError, TypeError, ValueError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"relupde serve did not become healthy in {timeout:.0f} s:\n{self.tail()}")

    def stop(self, timeout: float = 60.0) -> int | None:
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        return self.popen.returncode

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


# ---------------------------------------------------------------------------- jobs
def job_spec(hidden: Sequence[int], steps: int, interior: int, boundary: int, seed: int) -> dict[str, Any]:
    """The transport example with its network set to ``hidden`` and its training shrunk."""
    spec: dict[str, Any] = json.loads(EXAMPLE.read_text())
    spec["name"] = f"bench-service-{steps}-steps"
    spec["network"]["hidden"] = list(hidden)
    spec["training"].update(
        {"steps": steps, "points": {"interior": interior, "boundary": boundary}, "seed": seed}
    )
    return spec


def submit(client: httpx.Client, spec: dict[str, Any]) -> str:
    response = client.post("/v1/jobs", json=spec)
    if response.status_code != 202:
        raise RuntimeError(f"POST /v1/jobs answered {response.status_code}: {response.text}")
    job_id: str = response.json()["id"]
    return job_id


def get_job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/jobs/{job_id}")
    response.raise_for_status()
    job: dict[str, Any] = response.json()
    return job


def wait_done(client: httpx.Client, job_id: str, timeout: float = 600.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = get_job(client, job_id)
        if job["status"] in ("succeeded", "failed", "canceled"):
            if job["status"] != "succeeded":
                raise RuntimeError(f"job {job_id} ended {job['status']}: {job.get('error')}")
            return job
        time.sleep(0.1)
    raise RuntimeError(f"job {job_id} did not finish in {timeout:.0f} s")


def server_seconds(job: dict[str, Any], start: str, end: str) -> float:
    return (datetime.fromisoformat(job[end]) - datetime.fromisoformat(job[start])).total_seconds()


def job_latency(client: httpx.Client, spec: dict[str, Any]) -> tuple[float | None, float, float]:
    """(POST response -> first GET showing running, or None when never seen running;
    POST response -> succeeded seen; server-side started_at - created_at)."""
    response = client.post("/v1/jobs", json=spec)
    posted = time.perf_counter()
    if response.status_code != 202:
        raise RuntimeError(f"POST /v1/jobs answered {response.status_code}: {response.text}")
    job_id: str = response.json()["id"]
    to_running: float | None = None
    deadline = time.monotonic() + 300.0
    while time.monotonic() < deadline:
        job = get_job(client, job_id)
        seen = time.perf_counter()
        if job["status"] == "running" and to_running is None:
            to_running = seen - posted
        if job["status"] in ("succeeded", "failed", "canceled"):
            if job["status"] != "succeeded":
                raise RuntimeError(f"job {job_id} ended {job['status']}: {job.get('error')}")
            return to_running, seen - posted, server_seconds(job, "created_at", "started_at")
        time.sleep(POLL_S)
    raise RuntimeError(f"job {job_id} did not finish in 300 s")


# ---------------------------------------------------------------------------- evaluate
def sample_points(spec: dict[str, Any], n: int, rng: np.random.Generator) -> Points:
    """n points (t, x0, ...) uniform in the spec's time interval and box."""
    problem = spec["problem"]
    box = problem["domain"]["box"]
    lower = list(box["lower"])
    upper = list(box["upper"])
    if problem.get("time"):
        lower.insert(0, problem["time"]["start"])
        upper.insert(0, problem["time"]["end"])
    points: Points = rng.uniform(np.array(lower), np.array(upper), size=(n, len(lower)))
    return points


def json_body(points: Points) -> bytes:
    return json.dumps({"points": points.tolist()}).encode()


def npy_body(points: Points) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, points)
    return buffer.getvalue()


def post_json(client: httpx.Client, path: str, points: Points) -> tuple[Points, Points]:
    response = client.post(path, content=json_body(points), headers={"Content-Type": "application/json"})
    if response.status_code != 200:
        raise RuntimeError(f"evaluate (JSON) answered {response.status_code}: {response.text[:300]}")
    data = response.json()
    return np.asarray(data["value"], dtype=np.float64), np.asarray(data["gradient"], dtype=np.float64)


def post_npy(client: httpx.Client, path: str, points: Points) -> tuple[Points, Points]:
    response = client.post(path, content=npy_body(points), headers={"Content-Type": NPY})
    if response.status_code != 200:
        raise RuntimeError(f"evaluate (.npy) answered {response.status_code}: {response.text[:300]}")
    with np.load(io.BytesIO(response.content), allow_pickle=False) as npz:
        value: Points = npz["value"]
        gradient: Points = npz["gradient"]
    return value, gradient


def make_methods(model: Model, client: httpx.Client, path: str) -> dict[str, Method]:
    def in_process(points: Points) -> None:
        model.evaluate(points)

    def http_json(points: Points) -> None:
        post_json(client, path, points)

    def http_npy(points: Points) -> None:
        post_npy(client, path, points)

    return {"in-process": in_process, "HTTP JSON": http_json, "HTTP bulk .npy/.npz": http_npy}


def check_agreement(model: Model, client: httpx.Client, path: str, points: Points) -> float:
    """Largest |difference| between the server's answers (both forms) and in-process evaluate."""
    local = model.evaluate(points)
    worst = 0.0
    for value, gradient in (post_json(client, path, points), post_npy(client, path, points)):
        worst = max(
            worst,
            float(np.abs(value - local.value).max()),
            float(np.abs(gradient - local.gradient).max()),
        )
    return worst


def throughput(
    methods: dict[str, Method], sizes: Sequence[int], repeats: int, spec: dict[str, Any], seed: int
) -> dict[tuple[int, str], float]:
    """Median seconds per call, by (n, method); methods alternate within each repetition."""
    rng = np.random.default_rng(seed)
    medians: dict[tuple[int, str], float] = {}
    for n in sizes:
        points = sample_points(spec, n, rng)
        for method in methods.values():  # warm-up: caches, connections, allocator
            method(points)
        times: dict[str, list[float]] = {name: [] for name in methods}
        for _ in range(repeats):
            for name, method in methods.items():
                start = time.perf_counter()
                method(points)
                times[name].append(time.perf_counter() - start)
        for name, samples in times.items():
            medians[(n, name)] = statistics.median(samples)
    return medians


#: The floor: a FastAPI app with one route that returns a constant, served like relupde
#: (uvicorn, httptools, uvloop) in its own process.
BARE_APP = """
import sys, uvicorn
from fastapi import FastAPI
app = FastAPI()
@app.post("/echo", response_model=None)
async def echo():
    return {"value": [0.0], "gradient": [[0.0, 0.0]]}
port = int(sys.argv[1])
uvicorn.run(app, host="127.0.0.1", port=port, http="httptools", loop="uvloop", log_level="warning")
"""


def request_overhead(
    client: httpx.Client, path: str, point: Points, model: Model, requests: int
) -> dict[str, list[float]]:
    """Seconds per request: in process, JSON evaluate over HTTP, /healthz, and a bare FastAPI
    route in another process (the floor of any FastAPI request on this machine); alternating."""
    body = {"points": point.tolist()}
    port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE_APP, str(port)])
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as floor:
            for _ in range(100):
                try:
                    floor.post("/echo", json=body)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            kinds: dict[str, Callable[[], object]] = {
                "in-process model.evaluate": lambda: model.evaluate(point),
                "JSON evaluate over HTTP": lambda: client.post(path, json=body).raise_for_status().json(),
                "GET /healthz": lambda: client.get("/healthz").raise_for_status(),
                "bare FastAPI route (floor)": lambda: floor.post("/echo", json=body).raise_for_status(),
            }
            return _alternate(kinds, requests)
    finally:
        bare.terminate()
        bare.wait()


def _alternate(kinds: dict[str, Callable[[], object]], requests: int) -> dict[str, list[float]]:
    for call in kinds.values():  # warm-up: the model cache, the record cache, the connection
        for _ in range(20):
            call()
    samples: dict[str, list[float]] = {name: [] for name in kinds}
    for _ in range(requests):
        for name, call in kinds.items():
            start = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - start)
    return samples


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) with linear interpolation between order statistics."""
    ordered = sorted(samples)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def concurrent_load(
    url: str, path: str, points: Points, clients: int, requests: int
) -> tuple[list[float], float, list[str]]:
    """``clients`` threads, each its own keep-alive client, ``requests`` JSON evaluates each.
    Returns (every latency, wall seconds from the common start, errors)."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def worker() -> None:
        mine: list[float] = []
        with httpx.Client(base_url=url, timeout=120) as client:
            post_json(client, path, points)  # open the connection before the clock starts
            barrier.wait()
            for _ in range(requests):
                start = time.perf_counter()
                try:
                    post_json(client, path, points)
                except (httpx.HTTPError, RuntimeError) as exc:
                    with lock:
                        errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker, name=f"bench-client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - start, errors


# ---------------------------------------------------------------------------- output
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fmt_rate(points_per_s: float) -> str:
    return f"{points_per_s:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 64, 64], help="hidden widths")
    parser.add_argument("--train-steps", type=int, default=200, help="steps of the model-producing job")
    parser.add_argument("--latency-jobs", type=int, default=5, help="short jobs for submit-to-running")
    parser.add_argument("--latency-steps", type=int, default=50, help="steps of each short job")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 1_000, 100_000], help="points per call")
    parser.add_argument("--repeats", type=int, default=7, help="repetitions per size and method")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--requests", type=int, default=50, help="requests per concurrent client")
    parser.add_argument("--load-sizes", type=int, nargs="+", default=[1, 1_000], help="points per request")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads in process and in the server's API process (OMP_NUM_THREADS); default: torch's",
    )
    parser.add_argument("--overhead-requests", type=int, default=500, help="1-point requests per kind")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    print("# relupde service benchmark")
    print()
    print(f"Command: `{shlex.join([os.path.relpath(sys.executable, ROOT), *sys.argv])}`")
    print()
    print(
        f"Machine: {os.cpu_count()} CPUs ({cpu_model()}), {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
        f"httpx {httpx.__version__}; in-process torch threads: {torch.get_num_threads()}"
    )
    print()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="relupde-bench-") as tmp:
        server = Server(Path(tmp), args.threads)
        try:
            run(server, args)
        except BaseException:
            print(f"\nserver log (last lines):\n{server.tail()}", file=sys.stderr)
            raise
        finally:
            code = server.stop()
            total = time.perf_counter() - started
            graceful = "logged" if "Application shutdown complete" in server.tail(200) else "NOT logged"
            print(
                f"\nServer stopped with SIGTERM: exit status {code} (uvicorn re-raises the signal after "
                f"shutting down), graceful shutdown {graceful}; total {total:.0f} s."
            )


def run(server: Server, args: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    health = server.start()
    print(
        f"Server: `relupde serve --host 127.0.0.1 --port {server.port}` (no API keys, LocalCluster of "
        f"{health['dispatcher']['workers']} worker), healthy after {time.perf_counter() - t0:.1f} s."
    )
    print()
    with httpx.Client(base_url=server.url, timeout=300) as client:
        # ---- 1. the model-producing job, then submit-to-running latency
        spec = job_spec(args.hidden, args.train_steps, 256, 64, args.seed)
        t0 = time.perf_counter()
        job = wait_done(client, submit(client, spec))
        model_id: str = job["model_id"]
        print(
            f"Model job: transport-1d, hidden {args.hidden}, {args.train_steps} steps on 256 + 64 points: "
            f"succeeded {time.perf_counter() - t0:.1f} s after submission "
            f"(training {server_seconds(job, 'started_at', 'finished_at'):.1f} s on the worker)."
        )
        print()
        short = job_spec(args.hidden, args.latency_steps, 64, 16, args.seed)
        rows = [job_latency(client, short) for _ in range(args.latency_jobs)]
        seen = [r[0] for r in rows if r[0] is not None]
        print(
            f"## Submit-to-running latency ({args.latency_jobs} jobs of {args.latency_steps} steps, "
            f"one after another, GET every {POLL_S * 1000:.0f} ms)"
        )
        print()
        print("| measure | median ms | max ms |")
        print("|---|---|---|")
        if seen:
            print(
                f"| POST response -> first GET showing running | {statistics.median(seen) * 1000:.0f} "
                f"| {max(seen) * 1000:.0f} |"
            )
        server_side = [r[2] for r in rows]
        done = [r[1] for r in rows]
        print(
            f"| server: started_at - created_at | {statistics.median(server_side) * 1000:.0f} "
            f"| {max(server_side) * 1000:.0f} |"
        )
        print(
            f"| POST response -> GET showing succeeded | {statistics.median(done) * 1000:.0f} "
            f"| {max(done) * 1000:.0f} |"
        )
        if len(seen) < len(rows):
            print(f"\n{len(rows) - len(seen)} job(s) finished between two polls and were never seen running.")
        print()

        # ---- 2. evaluate throughput
        server_threads = (
            f"{args.threads} (OMP_NUM_THREADS)" if args.threads is not None else "torch's default (the same)"
        )
        folder = server.data_dir / "models" / "default" / model_id
        model = load_model(folder)
        path = f"/v1/models/{model_id}/evaluate"
        rng = np.random.default_rng(args.seed + 1)
        worst = check_agreement(model, client, path, sample_points(spec, 1000, rng))
        methods = make_methods(model, client, path)
        medians = throughput(methods, args.sizes, args.repeats, spec, args.seed + 2)
        print(
            f"## Evaluate throughput: u and grad u, {model.n_inputs} inputs (t, x0), network "
            f"{model.network.widths}, float64"
        )
        print()
        print(
            f"Median of {args.repeats} repetitions, methods in alternation; HTTP end to end (encode, "
            f"request, decode to numpy) over one keep-alive connection.  Server and in-process "
            f"answers agree to {worst:.1e}.  Torch threads: {torch.get_num_threads()} in process, "
            f"{server_threads} in the server's API process, which runs evaluate."
        )
        print()
        print("| n | method | median ms | points/s | vs in-process |")
        print("|---|---|---|---|---|")
        for n in args.sizes:
            base = medians[(n, "in-process")]
            for name in methods:
                seconds = medians[(n, name)]
                ratio = "1" if name == "in-process" else f"{base / seconds:.1%}"
                print(f"| {n:,} | {name} | {seconds * 1000:.2f} | {fmt_rate(n / seconds)} | {ratio} |")
        print()

        # ---- 3. request overhead: one point, many requests, one connection
        overhead = request_overhead(client, path, sample_points(spec, 1, rng), model, args.overhead_requests)
        print(
            f"## Request overhead: {args.overhead_requests} requests of 1 point, one after another on one "
            "keep-alive connection, the kinds in alternation"
        )
        print()
        print("| request | p50 ms | p99 ms |")
        print("|---|---|---|")
        for name, samples in overhead.items():
            print(
                f"| {name} | {percentile(samples, 0.5) * 1000:.2f} | {percentile(samples, 0.99) * 1000:.2f} |"
            )
        p50 = percentile(overhead["JSON evaluate over HTTP"], 0.5)
        verdict = "met" if p50 <= TARGET_OVERHEAD_S else "NOT met"
        print()
        print(
            f"Target (service hardening): one JSON evaluate of a single point at p50 <= "
            f"{TARGET_OVERHEAD_S * 1000:.1f} ms: {p50 * 1000:.2f} ms, {verdict}.  /healthz makes two "
            "reads in worker threads (store, scheduler); the bare route is FastAPI's own floor."
        )
        print()

        # ---- 4. latency under concurrency
        print(
            f"## Latency under concurrency: {args.clients} clients (threads, one keep-alive httpx.Client "
            f"each), {args.requests} JSON evaluate requests each, back to back"
        )
        print()
        print("| points/request | requests | errors | p50 ms | p99 ms | max ms | requests/s | points/s |")
        print("|---|---|---|---|---|---|---|---|")
        for n in args.load_sizes:
            points = sample_points(spec, n, rng)
            latencies, wall, errors = concurrent_load(server.url, path, points, args.clients, args.requests)
            total = args.clients * args.requests
            if not latencies:
                print(f"| {n:,} | {total} | {len(errors)} | - | - | - | - | - |")
            else:
                print(
                    f"| {n:,} | {total} | {len(errors)} | {percentile(latencies, 0.5) * 1000:.1f} "
                    f"| {percentile(latencies, 0.99) * 1000:.1f} | {max(latencies) * 1000:.1f} "
                    f"| {len(latencies) / wall:.0f} | {fmt_rate(len(latencies) * n / wall)} |"
                )
            for error in errors[:3]:
                print(f"\nerror: {error}")
        print()

        # ---- 5. the target
        big = max(args.sizes)
        bulk_ratio = medians[(big, "in-process")] / medians[(big, "HTTP bulk .npy/.npz")]
        verdict = "met" if bulk_ratio >= TARGET_BULK_RATIO else "NOT met"
        print(
            f"Target (service): bulk evaluate at 100k points reaches at least "
            f"{TARGET_BULK_RATIO:.0%} of the in-process throughput.  At {big:,} points: "
            f"{bulk_ratio:.1%}, target {verdict}."
        )


if __name__ == "__main__":
    main()
