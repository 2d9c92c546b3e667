"""Solve to a tolerance: the width reached, the bound, and the true error, per tolerance.

Each example named is solved with its ``network`` and ``training`` removed except the seed,
and ``training.tolerance`` set to each value given (a bound on rms_error, docs/solver.md,
"Solving to a tolerance") with ``time_limit_s``.  The rows give what stopped the growth,
the width reached, the tightest bound of rms_error at that width, the true rms error on
20,000 fresh points against ``exact``, and whether a model that claims to meet its
tolerance is in truth within it (``honest``: the column must never read "no").

    .venv/bin/python bench/tolerance.py --only poisson-2d transport-1d heat-kolmogorov-5d \\
        --tolerances 1e-2 1e-3 3e-4 --time-limit 120
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from solver import JobSpec, solve
from solver.domains import derived_seed
from solver.kinds import problem_of

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TRUTH_POINTS = 20_000


def tolerance_spec(path: Path, tolerance: float, time_limit: float) -> JobSpec:
    """The example with network and training removed, but its seed and the tolerance."""
    data = json.loads(path.read_text())
    seed = data.get("training", {}).get("seed", 0)
    data.pop("network", None)
    data["training"] = {"seed": seed, "tolerance": tolerance, "time_limit_s": time_limit}
    return JobSpec.model_validate(data)


def true_rms(spec: JobSpec, evaluate: object) -> float:
    """sqrt(mean (u - u*)^2) over TRUTH_POINTS fresh points of the domain and time slab (the
    points and measure of ``model.errors``: ``PDEProblem.validation_inputs``)."""
    problem = problem_of(spec.problem)
    inputs = problem.validation_inputs(TRUTH_POINTS, derived_seed(99, "truth"))
    exact = problem.exact_values(inputs)
    assert exact is not None, "the example needs an exact solution"
    value = evaluate(inputs.numpy()).value  # type: ignore[operator]
    return float((torch.from_numpy(value) - exact[0]).square().mean().sqrt())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="+", default=["poisson-2d", "transport-1d", "heat-kolmogorov-5d"])
    parser.add_argument("--tolerances", nargs="+", type=float, default=[1e-2, 1e-3, 3e-4])
    parser.add_argument("--time-limit", type=float, default=120.0)
    args = parser.parse_args()
    print(f"# {platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| example | tolerance | stopped by | width | bound | true rms | met | honest | wall s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.only:
        for tolerance in args.tolerances:
            spec = tolerance_spec(EXAMPLES / f"{name}.json", tolerance, args.time_limit)
            started = time.perf_counter()
            model = solve(spec)
            wall = time.perf_counter() - started
            info = model.metrics["tolerance"]
            truth = true_rms(model.spec, model.evaluate)
            honest = "-" if not info["met"] else ("yes" if truth <= tolerance else "no")
            bound = "-" if info["bound"] is None else f"{info['bound']:.2e}"
            print(
                f"| {name} | {tolerance:.0e} | {info['stopped_by']} | {info['width']} | {bound} | "
                f"{truth:.2e} | {'yes' if info['met'] else 'no'} | {honest} | {wall:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
