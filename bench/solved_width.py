"""Error against wall time of the solved output layer, by width of the basis.

Each example named is solved with optimizer ``"ls"`` on one hidden layer of W placed ridge
features (docs/solver.md, "The solved output layer"), for every W given, one after the
other in this process; the rows give the output layer's unknowns, the training seconds, the
whole solve's wall seconds (estimate included) and the errors on 10,000 fresh points.
``--peer LABEL:SECONDS:REL_L2`` adds a peer's measured point to the plot (measure it in the
same session: bench/peers.py), and ``--plot FILE`` draws rel L2 against wall seconds.

    .venv/bin/python bench/solved_width.py --only poisson-2d --widths 200 400 800 1600 2400 \\
        --peer "DeepXDE tanh + L-BFGS:167.6:7.74e-4" --plot docs/solved-width.png
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

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def solved_spec(path: Path, width: int, seed: int) -> JobSpec:
    """The example with one hidden layer of ``width`` features and its output layer solved."""
    data = json.loads(path.read_text())
    data["network"] = {"hidden": [width]}
    data["training"] = {"seed": seed, "optimizer": "ls"}
    return JobSpec.model_validate(data)


def parse_peer(text: str) -> tuple[str, float, float]:
    label, seconds, error = text.rsplit(":", 2)
    return label, float(seconds), float(error)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="+", default=["poisson-2d"], help="example names (file stems)")
    parser.add_argument("--examples", type=Path, default=EXAMPLES, help="folder of the specs")
    parser.add_argument("--widths", nargs="+", type=int, default=[200, 400, 800, 1600])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--peer", action="append", default=[], help="LABEL:SECONDS:REL_L2, drawn on the plot")
    parser.add_argument("--plot", type=Path, help="draw rel L2 against wall seconds into this PNG")
    args = parser.parse_args()
    print(f"# {platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| example | features | unknowns | train s | wall s | rel L2 | L-inf | grad L-inf |")
    print("|---|---|---|---|---|---|---|---|")
    curves: dict[str, list[tuple[float, float]]] = {}
    for name in args.only:
        for width in args.widths:
            spec = solved_spec(args.examples / f"{name}.json", width, args.seed)
            start = time.perf_counter()
            model = solve(spec)
            wall = time.perf_counter() - start
            a, _ = model.network.layers[-1]
            unknowns = a.shape[0] * (a.shape[1] + 1)
            e = model.errors or {}
            print(
                f"| {name} | {width} | {unknowns} | {model.metrics['seconds']:.1f} | {wall:.1f} "
                f"| {e.get('rel_l2', float('nan')):.2e} | {e.get('linf', float('nan')):.2e} "
                f"| {e.get('grad_linf', float('nan')):.2e} |",
                flush=True,
            )
            curves.setdefault(name, []).append((wall, float(e.get("rel_l2", float("nan")))))
    if args.plot is not None:
        draw(curves, [parse_peer(p) for p in args.peer], args.plot)


def draw(
    curves: dict[str, list[tuple[float, float]]], peers: list[tuple[str, float, float]], out: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    figure, axes = plt.subplots(figsize=(6, 4))
    for name, points in curves.items():
        axes.loglog(*zip(*points, strict=True), "o-", label=f"relupde, solved output layer ({name})")
    for label, seconds, error in peers:
        axes.loglog([seconds], [error], "s", markersize=9, label=label)
    axes.set_xlabel("wall seconds (one solve, estimate included)")
    axes.set_ylabel("rel L2 error")
    axes.xaxis.set_minor_formatter(NullFormatter())  # the decades only: minor labels overlap
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=120)
    print(f"# drawn to {out}")


if __name__ == "__main__":
    main()
