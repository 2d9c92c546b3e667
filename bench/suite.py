"""relupde's own accuracy suite: problems with exact solutions that are not the examples.

Every change to the training is judged here as well as on the examples (bench/suite/*.json:
smooth, kinked, variable coefficients, 3-D, fast transport, a nonlinear Hamilton-Jacobi
equation, a viscosity solution, a Kolmogorov equation with x-dependent volatility).  Each
problem is solved as given with each ``--optimizers`` entry (``training.optimizer``; the
rest of the spec unchanged), one after the other in this process, and its errors are
measured on 10,000 fresh points against ``exact``.

    python bench/suite.py                                   # every problem, adam and adam+lm
    python bench/suite.py --only transport-fast-1d --optimizers adam+lm --seeds 0 1 2
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

SUITE = Path(__file__).resolve().parent / "suite"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="*", help="problem names (file stems)")
    parser.add_argument("--optimizers", nargs="*", default=["adam", "adam+lm"])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    args = parser.parse_args()
    print(f"# {platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| problem | optimizer | seed | wall s | rel L2 | L-inf | grad L-inf |")
    print("|---|---|---|---|---|---|---|")
    for path in sorted(SUITE.glob("*.json")):
        if args.only and path.stem not in args.only:
            continue
        for seed in args.seeds:
            for optimizer in args.optimizers:
                data = json.loads(path.read_text())
                data["training"].update({"optimizer": optimizer, "seed": seed})
                start = time.perf_counter()
                model = solve(JobSpec.model_validate(data))
                wall = time.perf_counter() - start
                e = model.errors or {}
                figures = " | ".join(f"{e.get(k, float('nan')):.2e}" for k in ("rel_l2", "linf", "grad_linf"))
                print(f"| {path.stem} | {optimizer} | {seed} | {wall:.1f} | {figures} |", flush=True)


if __name__ == "__main__":
    main()
