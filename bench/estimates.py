"""Error bounds without the exact solution, checked against it afterwards.

Every example spec is solved with its ``exact`` removed, so the estimate cannot read it;
then the true errors are measured with ``exact`` on 100,000 fresh uniform points of the
domain x slab (whole space: the asked-for box (-R, R)^d) and set against every bound of
``estimate["bounds"]``:

* max |u - u*|, max |Du - Du*|: the largest error found at those points (a lower estimate
  of the true sup, so "efficiency" = bound / found is, if anything, flattering to no one);
* rms |u - u*|, rms |grad_x u - grad_x u*|: the sample rms at those points.

Columns: the bound, its kind, the true figure, efficiency (bound / true; below 1 a
certified or statistical bound would be broken), and the seconds the estimate adds
beside the training's.  Whole space (heat-kolmogorov-5d): eps of the global estimate from
Monte Carlo references against eps measured with ``exact`` (``reference="exact"``, for
this comparison only), and the pointwise bound on 10^5 points at radii 1e-3 R .. 100 R.

    .venv/bin/python bench/estimates.py                      # every example (~8 minutes)
    .venv/bin/python bench/estimates.py --only poisson-2d
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import ReLUNetwork
from solver import JobSpec, Model
from solver.domains import WHOLE_SPACE_MARGIN
from solver.estimate import build_global_model, points_at_every_scale
from solver.kinds import problem_of
from solver.solve import estimate_model, physical_network
from solver.training import Trainer

DEFAULT_EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "examples"
if not DEFAULT_EXAMPLES.is_dir():
    DEFAULT_EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CHECK_POINTS = 100_000


def true_errors(model: Model, exact: str) -> dict[str, float]:
    """The four quantities measured with ``exact`` on CHECK_POINTS fresh uniform points."""
    data = model.spec.model_dump(mode="json")
    data["problem"]["exact"] = exact
    problem = problem_of(JobSpec.model_validate(data).problem)
    inputs = problem.validation_inputs(CHECK_POINTS, seed=12345)
    found = problem.exact_values(inputs)
    assert found is not None
    u_star, g_star = found
    out = model.evaluate(inputs.numpy())
    u, grad = torch.from_numpy(out.value), torch.from_numpy(out.gradient)
    space = slice(1, None) if problem.has_time else slice(0, None)
    return {
        "max_abs_error": float((u - u_star).abs().max()),
        "rms_error": float(((u - u_star) ** 2).mean().sqrt()),
        "max_gradient_error": float((grad - g_star).norm(dim=1).max()),
        "rms_gradient_error": float(((grad[:, space] - g_star[:, space]) ** 2).sum(1).mean().sqrt()),
    }


def global_check(model: Model, phi: ReLUNetwork, exact: str) -> str:
    """eps (Monte Carlo references) against eps (exact), and violations at every scale."""
    estimate = model.global_estimate
    if estimate is None:
        return ""
    data = model.spec.model_dump(mode="json")
    data["problem"]["exact"] = exact
    spec = JobSpec.model_validate(data)
    problem = problem_of(spec.problem)
    points = points_at_every_scale(estimate, CHECK_POINTS, seed=99)
    out = model.evaluate(points)
    found = problem.exact_values(torch.from_numpy(points))
    assert found is not None and out.bound is not None and out.gradient_bound is not None
    value_ratio = np.abs(out.value - found[0].numpy()) / out.bound
    gradient_ratio = np.linalg.norm(out.gradient - found[1].numpy(), axis=1) / out.gradient_bound
    violations = int((value_ratio > 1).sum() + (gradient_ratio > 1).sum())
    start = time.perf_counter()
    _, with_exact = build_global_model(phi, problem, spec.training.seed, reference="exact")
    exact_seconds = time.perf_counter() - start
    eps_mc = max(estimate.eps_value, estimate.eps_gradient)
    eps_exact = max(with_exact.eps_value, with_exact.eps_gradient)
    return (
        f"global estimate: eps {eps_mc:.3g} (Monte Carlo references) against {eps_exact:.3g} (with exact; "
        f"ratio {eps_mc / eps_exact:.2f}; the exact-reference estimate took {exact_seconds:.1f} s); "
        f"value eps {estimate.eps_value:.3g} / {with_exact.eps_value:.3g}, gradient eps "
        f"{estimate.eps_gradient:.3g} / {with_exact.eps_gradient:.3g}; on {CHECK_POINTS} points at radii "
        f"1e-3 .. 100 R: max err/bound {value_ratio.max():.3f} (value), {gradient_ratio.max():.3f} "
        f"(gradient), {violations} violations"
    )


def solve_without_exact(spec: JobSpec) -> tuple[Model, ReLUNetwork]:
    """``solve``'s steps, keeping the box network Phi for the exact-reference comparison."""
    problem = problem_of(spec.problem)
    result = Trainer(problem, spec.network, spec.training).run(None, None, None, None)
    phi = physical_network(result, problem)
    start = time.perf_counter()
    network, estimate, _ = estimate_model(phi, problem, spec.training.seed, spec.training.steps)
    metrics = {"seconds": result.seconds, "estimate_seconds": time.perf_counter() - start}
    return Model(network, spec, metrics, None, estimate), phi


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=Path, default=DEFAULT_EXAMPLES)
    parser.add_argument("--only", nargs="*")
    parser.add_argument("--seed", type=int)
    args = parser.parse_args()
    print(
        f"# {platform.machine()}, {platform.processor() or ''} torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, margin {WHOLE_SPACE_MARGIN}"
    )
    print("| example | quantity | kind | bound | true | efficiency | train s | estimate s | share |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    notes = []
    for path in sorted(args.examples.glob("*.json")):
        if args.only and path.stem not in args.only:
            continue
        data = json.loads(path.read_text())
        exact = data["problem"].pop("exact")
        if args.seed is not None:
            data["training"]["seed"] = args.seed
        spec = JobSpec.model_validate(data)
        model, phi = solve_without_exact(spec)
        truth = true_errors(model, exact)
        train, extra = model.metrics["seconds"], model.metrics["estimate_seconds"]
        for bound in model.bounds:
            true = truth[bound.quantity]
            eff = bound.value / true if true > 0 else math.inf
            print(
                f"| {path.stem} | {bound.quantity} | {bound.kind} | {bound.value:.3e} | {true:.3e} | "
                f"{eff:.2f} | {train:.1f} | {extra:.1f} | {100 * extra / train:.0f} % |",
                flush=True,
            )
        note = global_check(model, phi, exact)
        if note:
            notes.append(f"{path.stem}: {note}")
    for note in notes:
        print(f"\n{note}")


if __name__ == "__main__":
    main()
