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
            done: dict[str, str] = {}  # pipeline -> its row's figures (an 'auto' that resolves
            for optimizer in args.optimizers:  # to a pipeline already run is not run again)
                data = json.loads(path.read_text())
                data["training"].update({"optimizer": optimizer, "seed": seed})
                spec = JobSpec.model_validate(data)
                pipeline = spec.pipeline
                if pipeline in done:
                    print(
                        f"| {path.stem} | {optimizer} (= {pipeline}) | {seed} | {done[pipeline]} |",
                        flush=True,
                    )
                    continue
                start = time.perf_counter()
                model = solve(spec)
                wall = time.perf_counter() - start
                e = model.errors or {}
                figures = " | ".join(f"{e.get(k, float('nan')):.2e}" for k in ("rel_l2", "linf", "grad_linf"))
                done[pipeline] = f"{wall:.1f} | {figures}"
                print(f"| {path.stem} | {optimizer} | {seed} | {done[pipeline]} |", flush=True)


if __name__ == "__main__":
    main()
