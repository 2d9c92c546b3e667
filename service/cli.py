"""The ``relupde`` command line.

``relupde check`` verifies the network calculus on this machine and prints what it found:
the null-set examples of docs/models.md (D Phi against torch autograd), the exact chain
rule at kinks, and the error of each exact construction against its formula.

``relupde solve SPEC.json --out DIR [--set PATH=VALUE ...]`` trains a job in this process
(progress bar on a terminal), saves the model folder and prints the error bounds (computed
without ``exact``), the residuals and the errors against ``exact``; ``relupde validate
SPEC.json [--set ...]`` checks a spec without training it (``service.spec_file``).
``relupde serve`` runs the REST API with its job store and worker cluster;
``relupde worker`` runs a worker for an external Dask scheduler (``service.server``).
``relupde plot MODEL_DIR --out FILE.png`` draws a model (solver.plots) without a server.
``relupde submit|status|wait|evaluate|download|cancel|delete`` drive a server through the
Python client (``service.cli_remote``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from models import ReLUNetwork, compose, constructions
from solver.aposteriori import ErrorBound


def _null_set_rows() -> list[tuple[str, float, float, float]]:
    rows = []
    zero = torch.zeros(1, 1, dtype=torch.float64)
    for c in (0.0, 0.5, 1.0):
        one = torch.ones(1, 1, dtype=torch.float64)
        ident = ReLUNetwork(
            [
                (torch.tensor([[1.0], [-1.0]], dtype=torch.float64), torch.zeros(2, dtype=torch.float64)),
                (torch.tensor([[1.0, -1.0]], dtype=torch.float64), torch.zeros(1, dtype=torch.float64)),
            ],
            relu_prime_at_zero=c,
        )
        nested = ReLUNetwork(
            [
                (one.clone(), torch.zeros(1, dtype=torch.float64)),
                (-one, torch.zeros(1, dtype=torch.float64)),
                (one.clone(), torch.zeros(1, dtype=torch.float64)),
            ],
            relu_prime_at_zero=c,
        )
        for name, net, formula in (
            ("ReLU(x)-ReLU(-x) at 0", ident, 2 * c),
            ("ReLU(-ReLU(x)) at 0", nested, -c * c),
        ):
            x = zero.clone().requires_grad_(True)
            (auto,) = torch.autograd.grad(net(x).sum(), x)
            with torch.no_grad():
                ours = float(net.jacobian(zero)[0, 0, 0])
            rows.append((f"{name}, c={c}", ours, formula, float(auto[0, 0])))
    return rows


def _chain_rule_ok() -> bool:
    gen = torch.Generator().manual_seed(0)
    for c in (0.0, 0.5, 1.0):
        inner = ReLUNetwork(
            [
                (torch.randint(-2, 3, (4, 3), generator=gen).double(), torch.zeros(4, dtype=torch.float64)),
                (torch.randint(-2, 3, (2, 4), generator=gen).double(), torch.zeros(2, dtype=torch.float64)),
            ],
            relu_prime_at_zero=c,
        )
        outer = ReLUNetwork(
            [
                (torch.randint(-2, 3, (3, 2), generator=gen).double(), torch.zeros(3, dtype=torch.float64)),
                (torch.randint(-2, 3, (1, 3), generator=gen).double(), torch.zeros(1, dtype=torch.float64)),
            ],
            relu_prime_at_zero=c,
        )
        x = torch.randint(-2, 3, (256, 3), generator=gen).double()
        y, d_inner = inner.value_and_jacobian(x)
        _, d_outer = outer.value_and_jacobian(y)
        d_both = compose(outer, inner).jacobian(x)
        if not torch.equal(d_both, d_outer @ d_inner):
            return False
    return True


def check() -> int:
    """Print the calculus self-check; exit status 1 if any exact identity fails."""
    failed = False
    print("network derivative on null sets (docs/models.md):")
    print(f"  {'case':32s} {'D Phi':>8s} {'formula':>8s} {'autograd':>9s}")
    for name, ours, formula, auto in _null_set_rows():
        failed |= ours != formula
        print(f"  {name:32s} {ours:8.3f} {formula:8.3f} {auto:9.3f}")
    chain = _chain_rule_ok()
    failed |= not chain
    verdict = "ok" if chain else "FAILED"
    print(f"chain rule D(Psi.Phi) = DPsi(RPhi) DPhi exactly at kinks, c in {{0, 0.5, 1}}: {verdict}")
    print("exact constructions (measured on 2^16 points off the kinks vs the stated error):")
    x = (torch.arange(1, 2**16, dtype=torch.float64) / 2**16 + 1e-9).unsqueeze(1)
    for m in (2, 4, 8):
        with torch.no_grad():
            value, deriv = constructions.square(m).value_and_jacobian(x)
        bound = constructions.square_error(m)
        v_err = float((value[:, 0] - x[:, 0] ** 2).abs().max())
        d_err = float((deriv[:, 0, 0] - 2 * x[:, 0]).abs().max())
        slack = 64 * torch.finfo(torch.float64).eps  # rounding of values of size <= 1
        failed |= v_err > bound.value + slack or d_err > bound.derivative + slack
        print(
            f"  square(m={m}): value {v_err:.3e} <= {bound.value:.3e}, "
            f"derivative {d_err:.3e} <= {bound.derivative:.3e}"
        )
    print("all checks passed" if not failed else "SOME CHECKS FAILED")
    return 1 if failed else 0


def validate_command(spec_path: str, overrides: list[str]) -> int:
    """Check a job spec (with its overrides) without training it."""
    from service.spec_file import SpecFileError, load_spec, summary

    try:
        spec = load_spec(spec_path, overrides)
    except SpecFileError as exc:
        print(f"relupde validate: {exc}", file=sys.stderr)
        return 2
    print(f"{spec_path}: a valid job spec ({summary(spec)})")
    return 0


def solve_command(spec_path: str, out: str, overrides: list[str] | None = None) -> int:
    """Train a job spec in this process, save the model folder, print the errors."""
    from service.spec_file import SpecFileError, load_spec
    from solver import solve

    try:
        spec = load_spec(spec_path, overrides)
    except SpecFileError as exc:
        print(f"relupde solve: {exc}", file=sys.stderr)
        return 2
    model = solve(spec, progress=True)
    folder = model.save(out)
    metrics = model.metrics
    print(f"trained {metrics['steps']} steps in {metrics['seconds']:.1f} s; model saved to {folder}")
    label = "sample sup" if metrics["loss_norm"] == "sup" else "mean square"
    for term, value in metrics["terms"].items():
        print(f"  residual {term:28s} {label} {value:.3e}")
    print_bounds(model.bounds, (model.estimate or {}).get("verdict"))
    if model.errors is None:
        print("no exact solution given: errors not measured")
    else:
        e = model.errors
        print(
            f"errors on {e['n_points']} fresh points: rel_l2 {e['rel_l2']:.3e}, "
            f"linf {e['linf']:.3e}, grad_linf {e['grad_linf']:.3e}"
        )
        for name in model.unknowns or []:
            mine = e[name]
            print(
                f"  {name}: rel_l2 {mine['rel_l2']:.3e}, linf {mine['linf']:.3e}, "
                f"grad_linf {mine['grad_linf']:.3e}"
            )
    return 0


def print_bounds(bounds: list[ErrorBound], line: str | None = None) -> None:
    """The verdict line (the model's own, ``line``, where it has one: it states the bound
    relative to the solution's size), then every bound in the order promises first,
    indicators last (docs/error-estimates.md), all computed without `exact`."""
    from solver.aposteriori import ordered, verdict

    print(f"verdict: {line if line is not None else verdict(bounds)}")
    for bound in ordered(bounds):
        print(f"  {bound.verdict()}")


def plot_command(args: argparse.Namespace) -> int:
    """Draw one plot of a saved model folder into a PNG file."""
    from solver import ModelFileError, load_model
    from solver.plots import PlotError, parse_assignments, parse_numbers, plot_model

    try:
        model = load_model(args.model_dir)
    except ModelFileError as exc:
        print(f"relupde plot: {exc}", file=sys.stderr)
        return 2
    try:
        content = plot_model(
            model,
            args.kind,
            x=args.x,
            y=args.y,
            at=parse_assignments(args.at) if args.at else None,
            times=parse_numbers(args.times, "--times") if args.times else None,
            resolution=args.resolution,
            direction=parse_numbers(args.direction, "--direction") if args.direction else None,
            reach=args.reach,
            unknown=args.unknown,
        )
    except PlotError as exc:
        print(f"relupde plot: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(content)
    print(f"wrote {out} ({len(content)} bytes, kind={args.kind})")
    return 0


def _add_plot_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from solver.plots import DEFAULT_REACH, PLOT_KINDS

    plot = sub.add_parser("plot", help="draw a saved model (solution, errors, bound, loss) into a PNG")
    plot.add_argument("model_dir", help="a model folder (relupde solve --out, or Model.save)")
    plot.add_argument("--out", required=True, help="the PNG file to write")
    plot.add_argument("--kind", choices=PLOT_KINDS, default="solution", help="what to draw")
    plot.add_argument("--x", default=None, help="input on the horizontal axis (default x0)")
    plot.add_argument("--y", default=None, help="vertical-axis input (default x1); none: a line plot")
    plot.add_argument("--at", default=None, help="fixed inputs, NAME:VALUE pairs, e.g. x2:0.5,t:1")
    plot.add_argument("--times", default=None, help="time slices, e.g. 0,0.5,1")
    plot.add_argument("--resolution", type=int, default=None, help="grid points per axis")
    plot.add_argument("--direction", default=None, help="kind=bound: the ray's direction, d numbers")
    plot.add_argument("--reach", type=float, default=DEFAULT_REACH, help="kind=bound: ray ends at reach * R")
    plot.add_argument("--unknown", default=None, help="a system's unknown to draw (default: its first)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="relupde", description="PDE solving with ReLU networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="verify the network calculus on this machine and print the figures")
    set_help = "override a field, PATH=VALUE (VALUE as JSON, else text); repeatable"
    solve_parser = sub.add_parser(
        "solve",
        help="train a job spec in this process (no server)",
        epilog="example: relupde solve examples/poisson-2d.json --out m --set training.steps=500",
    )
    solve_parser.add_argument("spec", help="path to a job spec (JSON; every field in docs/spec.md)")
    solve_parser.add_argument("--out", required=True, help="folder to write the model to")
    solve_parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE", help=set_help)
    validate_parser = sub.add_parser(
        "validate",
        help="check a job spec without training it",
        epilog="example: relupde validate examples/heat-2d.json --set network.hidden=[32,32]",
    )
    validate_parser.add_argument("spec", help="path to a job spec (JSON; every field in docs/spec.md)")
    validate_parser.add_argument("--set", action="append", default=[], metavar="PATH=VALUE", help=set_help)
    serve_parser = sub.add_parser("serve", help="run the REST API, the job store and a local worker cluster")
    serve_parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve_parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve_parser.add_argument(
        "--workers", type=int, default=None, help="LocalCluster processes (RELUPDE_WORKERS)"
    )
    worker_parser = sub.add_parser("worker", help="run a worker for an external Dask scheduler")
    worker_parser.add_argument("--scheduler", default=None, help="scheduler address (RELUPDE_DASK_ADDRESS)")
    _add_plot_parser(sub)
    from service.cli_remote import COMMANDS, add_remote_parsers, run_remote

    add_remote_parsers(sub)
    args = parser.parse_args(argv)
    if args.command in COMMANDS:
        return run_remote(args)
    if args.command == "plot":
        return plot_command(args)
    if args.command == "serve":
        from service.server import serve_command

        return serve_command(args.host, args.port, args.workers)
    if args.command == "worker":
        from service.server import worker_command

        return worker_command(args.scheduler)
    if args.command == "check":
        return check()
    if args.command == "solve":
        return solve_command(args.spec, args.out, args.set)
    if args.command == "validate":
        return validate_command(args.spec, args.set)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
