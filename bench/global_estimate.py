"""The global estimate on full budgets: a bound is a promise, and how tight it is.

For every whole-space example with an exact solution (examples/heat-kolmogorov-5d.json,
examples/extra/gbm-1d.json and examples/extra/transport-kink-2d.json)
the spec is solved as given, then 10^5 points with radii log-uniform in [1e-3, 100 R]
(directions uniform, t uniform in [t0, T]) are evaluated against the exact solution: the
table shows the errors on the box, eps, the largest error/bound ratio (< 1 means the bound
held everywhere) and the number of violations.  Then heat-kolmogorov-5d is solved with
train_radius R = 2, 4, 8, 16: eps against the measured worst weighted error
max |u - R Psi| / (1 + |x|^(kappa+2)) over the same kind of points (eps / measured shows
how tight the bound is).

    .venv/bin/python bench/global_estimate.py                  # everything (about 8 minutes)
    .venv/bin/python bench/global_estimate.py --skip-radii     # the promise table only
    .venv/bin/python bench/global_estimate.py --skip-radii --heat-budget 25000 2e-3
                                  # also heat-kolmogorov-5d on the 180 s budget of BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from solver import JobSpec, solve
from solver.estimate import GlobalEstimate, points_at_every_scale
from solver.kinds import problem_of
from solver.model import Model

ROOT = Path(__file__).resolve().parents[1]
HEAT = ROOT / "examples" / "heat-kolmogorov-5d.json"
EXAMPLES = [
    HEAT,
    ROOT / "examples" / "extra" / "gbm-1d.json",
    ROOT / "examples" / "extra" / "transport-kink-2d.json",
]


def check(model: Model, n: int, seed: int) -> dict[str, Any]:
    """Errors against the exact solution, the bounds, and the weighted errors at n points."""
    assert model.estimate is not None
    points = points_at_every_scale(GlobalEstimate.from_json(model.estimate), n, seed)
    out = model.evaluate(points)
    assert out.bound is not None and out.gradient_bound is not None and model.estimate is not None
    exact = problem_of(model.spec.problem).exact_values(torch.from_numpy(points))
    assert exact is not None
    u, grad = exact[0].numpy(), exact[1].numpy()
    value_error = np.abs(out.value - u)
    gradient_error = np.linalg.norm(out.gradient - grad, axis=1)
    x = points[:, 1:] if model.estimate["time"] is not None else points
    weight = 1.0 + np.linalg.norm(x, axis=1) ** (model.estimate["kappa"] + 2)
    return {
        "value_ratio": float((value_error / out.bound).max()),
        "gradient_ratio": float((gradient_error / out.gradient_bound).max()),
        "violations": int((value_error > out.bound).sum() + (gradient_error > out.gradient_bound).sum()),
        "weighted_value": float((value_error / weight).max()),
        "weighted_gradient": float((gradient_error / weight).max()),
    }


def solve_timed(spec: dict[str, Any]) -> tuple[Model, float]:
    started = time.perf_counter()
    model = solve(JobSpec.model_validate(spec))
    return model, time.perf_counter() - started


def promise_table(n: int, heat_budget: tuple[int, float] | None) -> None:
    print(f"\n## A bound is a promise: {n:,} points, radii log-uniform in [1e-3, 100 R]\n")
    print(
        "| example | solve s | rel L2 | L-inf | grad L-inf | eps value | eps gradient "
        "| max err/bound value | max err/bound gradient | violations |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    runs: list[tuple[str, dict[str, Any]]] = [(path.stem, json.loads(path.read_text())) for path in EXAMPLES]
    if heat_budget is not None:
        steps, rate = heat_budget
        longer = json.loads(HEAT.read_text())
        longer["training"].update({"steps": steps, "learning_rate": rate})
        runs.append((f"{HEAT.stem} ({steps} steps, lr {rate:g})", longer))
    for label, spec in runs:
        model, seconds = solve_timed(spec)
        assert model.errors is not None and model.estimate is not None
        found = check(model, n, seed=7)
        e, est = model.errors, model.estimate
        print(
            f"| {label} | {seconds:.0f} | {e['rel_l2']:.2e} | {e['linf']:.2e} | {e['grad_linf']:.2e} "
            f"| {est['eps_value']:.3g} | {est['eps_gradient']:.3g} | {found['value_ratio']:.3f} "
            f"| {found['gradient_ratio']:.3f} | {found['violations']} |",
            flush=True,
        )


def radius_table(n: int, radii: list[float]) -> None:
    print(f"\n## heat-kolmogorov-5d: eps against R ({n:,} points per R)\n")
    print(
        "| R | solve s | rel L2 on (-R, R)^5 | e0 (weighted, x2) | eps value "
        "| measured worst weighted value | eps / measured | eps gradient "
        "| measured worst weighted gradient | eps / measured |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for radius in radii:
        spec = json.loads(HEAT.read_text())
        spec["problem"]["domain"]["whole_space"]["train_radius"] = radius
        model, seconds = solve_timed(spec)
        assert model.errors is not None and model.estimate is not None
        found = check(model, n, seed=11)
        est = model.estimate
        print(
            f"| {radius:g} | {seconds:.0f} | {model.errors['rel_l2']:.2e} | {est['local_value_error']:.3g} "
            f"| {est['eps_value']:.3g} | {found['weighted_value']:.3g} "
            f"| {est['eps_value'] / found['weighted_value']:.1f} | {est['eps_gradient']:.3g} "
            f"| {found['weighted_gradient']:.3g} | {est['eps_gradient'] / found['weighted_gradient']:.1f} |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--radii", type=float, nargs="*", default=[2.0, 4.0, 8.0, 16.0])
    parser.add_argument("--skip-radii", action="store_true")
    parser.add_argument("--skip-promise", action="store_true")
    parser.add_argument(
        "--heat-budget",
        nargs=2,
        metavar=("STEPS", "LR"),
        help="also solve heat-kolmogorov-5d with this many steps and learning rate (a promise row)",
    )
    args = parser.parse_args()
    print(
        f"# global estimate: {platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}; command: .venv/bin/python bench/global_estimate.py"
    )
    if not args.skip_promise:
        budget = (int(args.heat_budget[0]), float(args.heat_budget[1])) if args.heat_budget else None
        promise_table(args.points, budget)
    if not args.skip_radii:
        radius_table(args.points, args.radii)


if __name__ == "__main__":
    main()
