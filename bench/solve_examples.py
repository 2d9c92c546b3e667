"""Accuracy and wall time of the example specs, sup against l2 on the same budget.

Each example in examples/ (or --examples DIR) is solved as given, once with
``"loss": {"norm": "sup"}`` and once with ``"l2"`` (same steps, points, seed), one after
the other in this process; eikonal-2d also with seeds 1 and 2.  With ``--defaults`` each
spec loses its ``network`` and its ``training`` but for the seed, and is solved as the
solver chooses (``--norms`` then defaults to the spec's own default, ``auto``).  Errors are measured on
10,000 fresh points against ``exact``: rel L2 of u, max |u - u*|, max |grad u - grad u*|
(Euclidean, over every input, t included); a system's row is over all its unknowns, and
one row per unknown follows it.

    python bench/solve_examples.py                       # everything (about 15 minutes)
    python bench/solve_examples.py --only transport-1d --norms sup
    python bench/solve_examples.py --only heat-kolmogorov-5d --norms sup --steps 20000 \
        --learning-rate 2e-3 --seeds 0 1 2           # a longer budget than the example's
    python bench/solve_examples.py --only eikonal-2d --norms sup --lm-steps 80
    python bench/solve_examples.py --defaults --only poisson-2d lshape-poisson
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

DEFAULT_EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=Path, default=DEFAULT_EXAMPLES)
    parser.add_argument("--only", nargs="*", help="example names (file stems) to run")
    parser.add_argument("--norms", nargs="*", help="loss norms (default: sup l2; auto with --defaults)")
    parser.add_argument(
        "--defaults",
        action="store_true",
        help="drop network and training but the seed",
    )
    parser.add_argument("--eikonal-seeds", nargs="*", type=int, default=[0, 1, 2])
    parser.add_argument("--seeds", nargs="*", type=int, help="seeds for every example (default: its own)")
    parser.add_argument("--steps", type=int, help="override training.steps (default: as given)")
    parser.add_argument("--learning-rate", type=float, help="override training.learning_rate")
    parser.add_argument("--optimizer", help="override training.optimizer (default: the spec's, 'auto')")
    parser.add_argument("--lm-steps", type=int, help="override training.lm_steps")
    args = parser.parse_args()
    norms = args.norms or (["auto"] if args.defaults else ["sup", "l2"])
    print(f"# {platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| example | loss | seed | steps | wall s | rel L2 | L-inf | grad L-inf |")
    print("|---|---|---|---|---|---|---|---|")
    for path in sorted(args.examples.glob("*.json")):
        if args.only and path.stem not in args.only:
            continue
        base = json.loads(path.read_text())
        seeds = args.eikonal_seeds if path.stem.startswith("eikonal") else [base["training"].get("seed", 0)]
        seeds = args.seeds if args.seeds else seeds
        for seed in seeds:
            for norm in norms:
                data = json.loads(path.read_text())
                if args.defaults:
                    data.pop("network", None)
                    data["training"] = {}
                data["training"]["loss"] = {"norm": norm}
                data["training"]["seed"] = seed
                for key, value in (
                    ("steps", args.steps),
                    ("learning_rate", args.learning_rate),
                    ("optimizer", args.optimizer),
                    ("lm_steps", args.lm_steps),
                ):
                    if value is not None:
                        data["training"][key] = value
                spec = JobSpec.model_validate(data)
                start = time.perf_counter()
                model = solve(spec)
                wall = time.perf_counter() - start
                e = model.errors or {}
                print(
                    f"| {path.stem} | {norm} | {seed} | {model.metrics['steps']} | {wall:.1f} "
                    f"| {e.get('rel_l2', float('nan')):.2e} | {e.get('linf', float('nan')):.2e} "
                    f"| {e.get('grad_linf', float('nan')):.2e} |",
                    flush=True,
                )
                for name in model.unknowns or []:  # a system: each unknown's own figures too
                    mine = e.get(name, {})
                    print(
                        f"| {path.stem} ({name}) | {norm} | {seed} | {model.metrics['steps']} | {wall:.1f} "
                        f"| {mine.get('rel_l2', float('nan')):.2e} | {mine.get('linf', float('nan')):.2e} "
                        f"| {mine.get('grad_linf', float('nan')):.2e} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
