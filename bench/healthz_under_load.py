"""Does one heavy request stall the others?  /healthz latency while evaluate is hammered.

Starts ``relupde serve`` on loopback (as bench/service_throughput.py does), trains a small
model through the API, then runs, for ``--seconds`` each, in this order:

1. **idle**: /healthz every ``--interval`` seconds, nothing else;
2. **maximal JSON evaluate**: the same, while another client sends, back to back, the
   largest JSON evaluate the server accepts (``MAX_JSON_POINTS`` points) to the model;
3. **oversized JSON evaluate**: the same, while the other client sends a ~60 MB JSON body
   (far more points than the limit; the server must refuse it without parsing it all).

It prints p50, p99 and max of the /healthz latency in each phase and how many heavy
requests were answered with which status.  Target (service hardening): p99 at most
100 ms while a maximal JSON evaluate runs.

    .venv/bin/python bench/healthz_under_load.py
    .venv/bin/python bench/healthz_under_load.py --seconds 10 --interval 0.01
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from service_throughput import Server, cpu_model, job_spec, percentile, submit, wait_done

from service.api.evaluation import MAX_JSON_POINTS

ROOT = Path(__file__).resolve().parents[1]


def json_points_body(n: int, inputs: int, rng: np.random.Generator) -> bytes:
    """``{"points": [[...], ...]}`` with n points of ``inputs`` coordinates in [0, 1)."""
    rows = ",".join("[" + ",".join(f"{v:.17g}" for v in row) + "]" for row in rng.random((n, inputs)))
    return f'{{"points": [{rows}]}}'.encode()


def probe(url: str, seconds: float, interval: float) -> list[float]:
    """/healthz latencies (s) over ``seconds``, one request every ``interval``."""
    latencies: list[float] = []
    with httpx.Client(base_url=url, timeout=30) as client:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            latencies.append(time.perf_counter() - t0)
            time.sleep(max(0.0, interval - (time.perf_counter() - t0)))
    return latencies


def hammer(url: str, path: str, body: bytes, stop: threading.Event, statuses: Counter[int]) -> None:
    with httpx.Client(base_url=url, timeout=120) as client:
        while not stop.is_set():
            answer = client.post(path, content=body, headers={"Content-Type": "application/json"})
            statuses[answer.status_code] += 1


def phase(
    url: str, args: argparse.Namespace, path: str | None, body: bytes | None
) -> tuple[list[float], Counter[int]]:
    statuses: Counter[int] = Counter()
    stop = threading.Event()
    thread = None
    if path is not None and body is not None:
        thread = threading.Thread(target=hammer, args=(url, path, body, stop, statuses), daemon=True)
        thread.start()
        time.sleep(0.5)  # the first heavy request is in flight
    try:
        return probe(url, args.seconds, args.interval), statuses
    finally:
        stop.set()
        if thread is not None:
            thread.join(timeout=300)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each phase")
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between /healthz probes")
    parser.add_argument("--oversized-mb", type=float, default=60.0, help="size of the oversized body")
    args = parser.parse_args()
    print("# /healthz under a heavy evaluate")
    print()
    print(f"Command: `{shlex.join([os.path.relpath(sys.executable, ROOT), *sys.argv])}`")
    print()
    machine = f"{os.cpu_count()} CPUs ({cpu_model()}), {platform.system()}"
    print(f"Machine: {machine}, Python {platform.python_version()}")
    print()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="relupde-healthz-") as tmp:
        server = Server(Path(tmp))
        try:
            server.start()
            with httpx.Client(base_url=server.url, timeout=300) as client:
                spec = job_spec([64, 64, 64], 50, 128, 32, 0)
                model_id = wait_done(client, submit(client, spec))["model_id"]
            path = f"/v1/models/{model_id}/evaluate"
            maximal = json_points_body(MAX_JSON_POINTS, 2, rng)
            per_point = len(maximal) / MAX_JSON_POINTS
            oversized = json_points_body(int(args.oversized_mb * 1e6 / per_point), 2, rng)
            print(
                f"Bodies: maximal {len(maximal) / 1e6:.1f} MB ({MAX_JSON_POINTS:,} points), "
                f"oversized {len(oversized) / 1e6:.1f} MB; /healthz every {args.interval * 1000:.0f} ms "
                f"for {args.seconds:.0f} s per phase."
            )
            print()
            print("| phase | probes | p50 ms | p99 ms | max ms | heavy requests answered |")
            print("| --- | ---: | ---: | ---: | ---: | --- |")
            for name, body in (
                ("idle", None),
                ("maximal JSON evaluate", maximal),
                ("oversized JSON", oversized),
            ):
                latencies, statuses = phase(server.url, args, path if body else None, body)
                ms = [v * 1000 for v in latencies]
                answered = ", ".join(f"{n} x {code}" for code, n in sorted(statuses.items())) or "-"
                print(
                    f"| {name} | {len(ms)} | {statistics.median(ms):.1f} | {percentile(ms, 0.99):.1f} "
                    f"| {max(ms):.1f} | {answered} |"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
