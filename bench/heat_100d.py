"""The high-dimensional anchor: u_t = Laplacian u in d = 100, u(0, x) = |x|^2, T = 1.

Beck et al. (2018) report a relative L1 error of 1.4e-3 after 750k steps on a GPU (3300 s)
for u(T, x), x in [0, 1]^d.  This trains the same problem as a relupde kolmogorov job
(volatility sqrt(2), whole space with train radius 1, growth kappa = 1, C = 2 d) for a
fixed wall-clock budget on this machine and prints the relative L1 and L2 errors of
u(T, .) on fresh points of [0, 1]^d (exact: |x|^2 + 2 d T) against training time.  The
number of Adam steps is set from a short probe so that the cosine schedule ends with the
budget; snapshots pause the clock while they evaluate.

    .venv/bin/python bench/heat_100d.py                  # 10 minutes of training
    .venv/bin/python bench/heat_100d.py --minutes 1 --dimension 20
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from solver import JobSpec
from solver.kinds import problem_of
from solver.problems import PDEProblem
from solver.solve import physical_network
from solver.training import Trainer

TEST_POINTS = 20_000


def job(d: int, steps: int, hidden: list[int], interior: int) -> JobSpec:
    return JobSpec.model_validate(
        {
            "name": f"heat-{d}d",
            "problem": {
                "kind": "kolmogorov",
                "dimension": d,
                "time": {"start": 0.0, "end": 1.0},
                "domain": {"whole_space": {"train_radius": 1.0}},
                "volatility": "sqrt(2)",
                "initial": "dot(x_vec, x_vec)",
                "exact": f"dot(x_vec, x_vec) + {2 * d}*t",
                "growth": {"kappa": 1, "constant": float(2 * d)},
            },
            "network": {"hidden": hidden},
            "training": {"steps": steps, "seed": 0, "points": {"interior": interior, "boundary": 1}},
        }
    )


def errors(trainer: Trainer, problem: PDEProblem, x: torch.Tensor) -> tuple[float, float]:
    """Relative L1 and L2 errors of u(T, x) over the test points."""
    state = SimpleNamespace(network=trainer.net, output_scale=trainer.output_scale)
    network = physical_network(state, problem)  # type: ignore[arg-type]
    inputs = torch.cat([torch.ones(x.shape[0], 1, dtype=x.dtype), x], 1)
    with torch.no_grad():
        u = network(inputs)[:, 0]
    exact = (x**2).sum(1) + 2.0 * x.shape[1]
    diff = u - exact
    return float(diff.abs().sum() / exact.abs().sum()), float(diff.norm() / exact.norm())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--dimension", type=int, default=100)
    parser.add_argument("--hidden", type=int, nargs="*", default=[256, 256, 256])
    parser.add_argument("--interior", type=int, default=2048)
    parser.add_argument("--snapshots", type=int, default=10)
    args = parser.parse_args()
    d, budget = args.dimension, args.minutes * 60.0
    print(
        f"# heat equation d = {d}: {platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}; network {args.hidden}, {args.interior} points per batch, "
        f"budget {args.minutes:g} min; command: .venv/bin/python bench/heat_100d.py " + " ".join(sys.argv[1:])
    )
    probe_spec = job(d, 30, args.hidden, args.interior)
    probe = Trainer(problem_of(probe_spec.problem), probe_spec.network, probe_spec.training)
    started = time.perf_counter()
    probe.run(None, None, None)
    per_step = (time.perf_counter() - started) / 30
    steps = max(100, int(0.97 * budget / per_step))
    print(f"probe: {per_step * 1e3:.1f} ms per step -> {steps} steps\n")
    spec = job(d, steps, args.hidden, args.interior)
    problem = problem_of(spec.problem)
    trainer = Trainer(problem, spec.network, spec.training)
    x_test = torch.rand(TEST_POINTS, d, dtype=torch.float64, generator=torch.Generator().manual_seed(123))
    marks = [budget * (k + 1) / args.snapshots for k in range(args.snapshots)]
    rows: list[tuple[float, int, float, float]] = []
    paused = 0.0

    def progress(step: int, total: int, loss: float, elapsed: float) -> Any:
        nonlocal paused
        if marks and elapsed - paused >= marks[0]:
            marks.pop(0)
            t0 = time.perf_counter()
            l1, l2 = errors(trainer, problem, x_test)
            rows.append((elapsed - paused, step, l1, l2))
            print(
                f"  {elapsed - paused:7.1f} s  step {step:7d}  rel L1 {l1:.3e}  rel L2 {l2:.3e}", flush=True
            )
            paused += time.perf_counter() - t0

    trainer.run(progress, None, None)
    l1, l2 = errors(trainer, problem, x_test)
    print(f"\nfinal ({trainer.state.step} steps): rel L1 {l1:.3e}, rel L2 {l2:.3e}\n")
    print("| training s | step | rel L1 | rel L2 |\n| ---: | ---: | ---: | ---: |")
    for seconds, step, a, b in rows:
        print(f"| {seconds:.0f} | {step} | {a:.2e} | {b:.2e} |")


if __name__ == "__main__":
    main()
