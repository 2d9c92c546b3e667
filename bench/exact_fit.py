"""The best a network and a budget can do: fit u* and grad u* themselves, no PDE.

For an example with ``exact``, the trainer's own loop (same network, initialization,
sampling, learning-rate schedule, loss norm and steps) is run on the regression

    r_value(z) = |R Phi(z) - u*(z)|,   r_grad(z) = |D(R Phi)(z) - grad u*(z)|  (every input, t too)

on the interior points, with no equation and no conditions, in the loss norm the solver
would use (the spec's; mean square for kolmogorov, as there).  A PDE loss sees u* only through
its residual, so its errors are not expected to beat these: when this fit misses a target,
the solver with the same budget misses it too, and the budget (or the network) is what has to
change.  Errors are measured as in bench/solve_examples.py (10,000 fresh points), with the
quantiles of the gradient error over 100,000 more to tell a few bad cells from a coarse fit.

    python bench/exact_fit.py transport-1d                       # as given
    python bench/exact_fit.py transport-1d --steps 10000 --learning-rate 3e-3
    python bench/exact_fit.py poisson-2d --optimizer adam+lm   # with the second-order phase
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import ReLUNetwork
from solver import JobSpec
from solver.problems import PDEProblem, PointSet
from solver.solve import measure_errors, physical_network
from solver.training import Trainer

DEFAULT_EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "examples"
QUANTILES = (0.5, 0.9, 0.99, 1.0)


class ExactFit(PDEProblem):
    """The problem's domain, sampling and ``exact``; the residuals are the errors against it."""

    def sample(
        self, interior: int, boundary: int, seed: int, draw: int, method: str = "sobol"
    ) -> dict[str, PointSet]:
        return {"interior": super().sample(interior, boundary, seed, draw, method)["interior"]}

    def interior_targets(self, points: PointSet, seed: int, draw: int) -> PointSet:
        """u* and grad u* in place of the problem's own targets (no Feynman-Kac paths)."""
        exact = self.exact_values(points.inputs())
        assert exact is not None, "ExactFit needs a problem with `exact`"
        points.targets = {"value": exact[0], "grad": exact[1]}
        return points

    def residuals(self, name: str, points: PointSet, u: Tensor, jac: Tensor) -> dict[str, Tensor]:
        return {
            "value": (u[:, 0] - points.targets["value"]).abs(),
            "gradient": (jac[:, 0, :] - points.targets["grad"]).norm(dim=1),
        }

    def uses_segments(self) -> bool:
        return False


def gradient_quantiles(problem: PDEProblem, network: ReLUNetwork, seed: int) -> list[float]:
    inputs = problem.validation_inputs(100_000, seed + 1)
    exact = problem.exact_values(inputs)
    assert exact is not None
    with torch.no_grad():
        _, jac = network.value_and_jacobian(inputs)
    error = (jac[:, 0, :] - exact[1]).norm(dim=1)
    return [float(q) for q in torch.quantile(error, torch.tensor(QUANTILES, dtype=error.dtype))]


def with_overrides(data: dict[str, Any], args: argparse.Namespace) -> JobSpec:
    """The example's spec with the command line's training and network settings in place."""
    data = json.loads(json.dumps(data))
    overrides = (
        ("steps", args.steps),
        ("learning_rate", args.learning_rate),
        ("seed", args.seed),
        ("optimizer", args.optimizer),
        ("lm_steps", args.lm_steps),
    )
    for key, value in overrides:
        if value is not None:
            data["training"][key] = value
    if args.hidden:
        data["network"]["hidden"] = args.hidden
    return JobSpec.model_validate(data)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("example", help="a file stem of the examples folder")
    parser.add_argument("--examples", type=Path, default=DEFAULT_EXAMPLES)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument(
        "--optimizer", help='training.optimizer for the fit, e.g. "adam+lm" (default: the spec\'s)'
    )
    parser.add_argument("--lm-steps", type=int, help="training.lm_steps for the fit")
    parser.add_argument("--hidden", type=int, nargs="+", help="network.hidden for the fit, e.g. 128 128 128")
    args = parser.parse_args()
    data = json.loads((args.examples / f"{args.example}.json").read_text())
    spec = with_overrides(data, args)
    if spec.problem.exact is None:
        raise SystemExit(f"{args.example} has no `exact`: there is nothing to fit")
    problem = ExactFit(spec.problem)
    start = time.perf_counter()
    result = Trainer(problem, spec.network, spec.training).run()
    wall = time.perf_counter() - start
    network = physical_network(result, problem)
    errors = measure_errors(network, problem, spec.training.seed) or {}
    quantiles = gradient_quantiles(problem, network, spec.training.seed)
    print(f"# {platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(
        "| example | hidden | loss | optimizer | steps | lr | wall s | rel L2 | L-inf | grad L-inf "
        "| grad error p50 / p90 / p99 / max |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.example} | {'x'.join(map(str, spec.hidden))} | {spec.training.loss.norm} "
        f"| {spec.pipeline} | {spec.total_steps} "
        f"| {spec.training.learning_rate:g} | {wall:.1f} | {errors['rel_l2']:.2e} "
        f"| {errors['linf']:.2e} | {errors['grad_linf']:.2e} "
        f"| {' / '.join(f'{q:.3f}' for q in quantiles)} |"
    )


if __name__ == "__main__":
    main()
