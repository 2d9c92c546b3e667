"""How long a picture takes: solver.plots in process and GET .../plot.png over HTTP.

Trains three small models in process (examples/transport-1d, heat-2d and
heat-kolmogorov-5d with ``--steps`` steps; the weights do not matter for the timing), then
times every plot kind of each: ``plot_model`` in process, and the same picture through the
REST app (FastAPI's TestClient, in process, no network: the route's own overhead of
loading the model, checking parameters and encoding the response), in alternation,
median over ``--repeats``.  Also the loss-curve picture of a job with 1,000 records.

    .venv/bin/python bench/plots.py                 # about a minute on 2 idle cores
    .venv/bin/python bench/plots.py --repeats 3 --steps 50
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import torch
from fastapi.testclient import TestClient

from service.app import create_app
from service.jobs.runner import model_folder
from service.jobs.store import JobStore, ModelRecord, now
from service.settings import Settings
from solver import JobSpec, solve
from solver.model import Model
from solver.plots import plot_loss_curve, plot_model
from solver.training import LossRecord

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ("transport-1d", "heat-2d", "heat-kolmogorov-5d")


def train(name: str, steps: int) -> tuple[dict[str, Any], Model]:
    spec = json.loads((ROOT / "examples" / f"{name}.json").read_text())
    spec["training"].update({"steps": steps, "optimizer": "adam"})
    return spec, solve(JobSpec.model_validate(spec))


def register(store: JobStore, data_dir: Path, spec: dict[str, Any], model: Model) -> str:
    job, _ = store.create_job("default", spec, name=spec.get("name"), steps=spec["training"]["steps"])
    started = store.begin(job.id, "bench", 4)
    assert started is not None
    model_id = uuid.uuid4().hex
    folder = model.save(model_folder(data_dir, "default", model_id))
    digest = json.loads((folder / "manifest.json").read_text())["weights_sha256"]
    record = ModelRecord(model_id, "default", job.id, str(folder.relative_to(data_dir)), digest, now())
    assert store.finish(job.id, started[1], "succeeded", model=record)
    return model_id


def median_ms(samples: list[float]) -> float:
    return 1000 * statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    print(
        f"# plots: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, median of {args.repeats}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'jobs.sqlite3'}")
        with TestClient(create_app(settings, dispatch=False)) as client:
            store: JobStore = client.app.state.store  # type: ignore[attr-defined]
            print("| model | kind | in process (ms) | GET plot.png (ms) | PNG bytes |")
            print("| --- | --- | ---: | ---: | ---: |")
            for name in EXAMPLES:
                spec, model = train(name, args.steps)
                model_id = register(store, data_dir, spec, model)
                client.get(f"/v1/models/{model_id}")  # load into the server's model cache
                kinds = ["solution", "error", "gradient_error", "loss"] + (
                    ["bound"] if model.estimate else []
                )
                for kind in kinds:
                    local, remote = [], []
                    size = 0
                    for _ in range(args.repeats):
                        start = time.perf_counter()
                        plot_model(model, kind)
                        local.append(time.perf_counter() - start)
                        start = time.perf_counter()
                        response = client.get(f"/v1/models/{model_id}/plot.png", params={"kind": kind})
                        remote.append(time.perf_counter() - start)
                        assert response.status_code == 200, response.text
                        size = len(response.content)
                    print(
                        f"| {name} | {kind} | {median_ms(local):.0f} | {median_ms(remote):.0f} | {size:,} |"
                    )
            records = [
                LossRecord(
                    s,
                    s / 100,
                    {f"term{k}": 1 / (1 + s + k) for k in range(4)},
                    {f"term{k}": 0.5 / (1 + s + k) for k in range(4)},
                )
                for s in range(0, 10_000, 10)
            ]
            samples = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                plot_loss_curve(records, "1,000 records")
                samples.append(time.perf_counter() - start)
            print(f"\nloss curve, 1,000 records x 4 terms: {median_ms(samples):.0f} ms")


if __name__ == "__main__":
    main()
