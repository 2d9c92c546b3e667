"""Training-step and inference cost of (u, grad u): the network derivative against torch autograd.

One training step = forward, a loss on (u, grad u), backward to the parameters:

    loss = mean(u^2) + mean(|grad u|^2)

* ``ours``     ``ReLUNetwork.value_and_jacobian`` (explicit D Phi, fused backward)
* ``autograd`` ``torch.autograd.grad(u, x, create_graph=True)`` then backward (double backward)
* ``func``     ``torch.func.vmap(torch.func.jacrev)`` inside ``torch.func.grad`` over the parameters

The methods run in alternation (ours, autograd, func, ours, ...) in one process so that
machine noise hits them alike; medians and ratios are printed.  The achieved GFLOP/s of
each step is computed from the multiply-adds of the step's matmuls (the cost model of
models.derivative for ours; the same count is used for every method, so the figure is the
useful work per second) against this machine's float32 matmul peak, measured here on a
2048^3 product.

A second table times the per-sample parameter Jacobian of (u, D Phi), shape (n, 1, 1 + d,
P), which a Gauss-Newton method needs:

* ``ours``      ``models.parameter_jacobian.parameter_jacobian`` (layer rules of D Phi)
* ``rows``      ``contracted_jacobian``: the same contracted with g (n, 1, 1 + d), (n, P)
* ``func``      ``torch.func.vmap`` over points of ``torch.func.jacrev`` over the parameters
                of (u, ``jacrev`` over x of u)
* ``autograd``  per point, one ``torch.autograd.grad`` over the parameters for each of the
                1 + d outputs, (u, grad u) from a ``create_graph`` gradient

    python bench/derivatives.py                 # the full tables (several minutes)
    python bench/derivatives.py --quick         # 3x64 only, d in {1, 2, 10}
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import ReLUNetwork
from models.derivative import order_costs
from models.parameter_jacobian import contracted_jacobian, parameter_jacobian

Step = Callable[[], None]


def matmul_peak_gflops(repeats: int = 5) -> float:
    a = torch.randn(2048, 2048)
    b = torch.randn(2048, 2048)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * 2048**3 / best / 1e9


def functional_forward(net: ReLUNetwork) -> Callable[[dict[str, torch.Tensor], torch.Tensor], torch.Tensor]:
    """R Phi(x) as a pure function of a parameter dict (the names of ``net.named_parameters()``).

    ``torch.func.functional_call(net, ...)`` is not used: ``ReLUNetwork.forward`` slices its
    ParameterList (``weights[:-1]``), and the slice holds the module's own hidden-layer
    parameters, not the substituted ones, so derivatives with respect to them came out
    wrong (checked against finite differences; the tables before 2026-12-03 used it)."""
    depth = len(net.weights)
    act = net.act

    def forward(p: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        h = x
        for i in range(depth - 1):
            h = act(torch.addmm(p[f"biases.{i}"], h, p[f"weights.{i}"].t()))
        return torch.addmm(p[f"biases.{depth - 1}"], h, p[f"weights.{depth - 1}"].t())

    return forward


def make_steps(net: ReLUNetwork, x: torch.Tensor) -> dict[str, Step]:
    params: dict[str, torch.Tensor] = dict(net.named_parameters())

    def ours() -> None:
        net.zero_grad(set_to_none=True)
        u, jac = net.value_and_jacobian(x)
        loss = u.square().mean() + jac.square().sum((1, 2)).mean()
        loss.backward()  # type: ignore[no-untyped-call]

    def autograd() -> None:
        net.zero_grad(set_to_none=True)
        xg = x.detach().requires_grad_(True)
        u = net(xg)
        (grad,) = torch.autograd.grad(u.sum(), xg, create_graph=True)
        loss = u.square().mean() + grad.square().sum(1).mean()
        loss.backward()

    forward = functional_forward(net)

    def scalar_u(p: dict[str, torch.Tensor], point: torch.Tensor) -> torch.Tensor:
        return forward(p, point.unsqueeze(0)).squeeze()

    def func_loss(p: dict[str, torch.Tensor]) -> torch.Tensor:
        u = forward(p, x)
        grad = torch.func.vmap(torch.func.jacrev(scalar_u, argnums=1), in_dims=(None, 0))(p, x)
        loss: torch.Tensor = u.square().mean() + grad.square().sum(1).mean()
        return loss

    grad_fn = torch.func.grad(func_loss)

    def func() -> None:
        grad_fn(params)

    return {"ours": ours, "autograd": autograd, "func": func}


def make_inference(net: ReLUNetwork, x: torch.Tensor) -> dict[str, Step]:
    def ours() -> None:
        with torch.no_grad():
            net.value_and_jacobian(x)

    def autograd() -> None:
        xg = x.detach().requires_grad_(True)
        u = net(xg)
        torch.autograd.grad(u.sum(), xg)

    def scalar_u(point: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = net(point.unsqueeze(0)).squeeze()
        return out

    vjac = torch.func.vmap(torch.func.jacrev(scalar_u))

    def func() -> None:
        with torch.no_grad():
            net(x)
            vjac(x)

    return {"ours": ours, "autograd": autograd, "func": func}


def make_parameter_jacobians(net: ReLUNetwork, x: torch.Tensor) -> dict[str, Step]:
    """The four ways (module docstring) to d(u, D Phi)/d theta at every point of x."""
    weights = [a.detach() for a, _ in net.layers]
    biases = [b.detach() for _, b in net.layers]
    g = torch.randn(x.shape[0], 1, 1 + x.shape[1], dtype=x.dtype)
    params = {k: v.detach() for k, v in net.named_parameters()}

    def ours() -> None:
        parameter_jacobian(weights, biases, net.act, x)

    def rows() -> None:
        contracted_jacobian(weights, biases, net.act, x, g)

    forward = functional_forward(net)

    def u_of(p: dict[str, torch.Tensor], point: torch.Tensor) -> torch.Tensor:
        return forward(p, point.unsqueeze(0)).squeeze()

    def value_and_gradient(p: dict[str, torch.Tensor], point: torch.Tensor) -> torch.Tensor:
        grad = torch.func.jacrev(u_of, argnums=1)(p, point)
        return torch.cat([u_of(p, point).unsqueeze(0), grad])

    per_point = torch.func.vmap(torch.func.jacrev(value_and_gradient), in_dims=(None, 0))

    def func() -> None:
        per_point(params, x)

    plist = list(net.parameters())

    def autograd() -> None:
        for point in x:
            xg = point.unsqueeze(0).requires_grad_(True)
            u = net(xg)
            (grad,) = torch.autograd.grad(u.sum(), xg, create_graph=True)
            for value in torch.cat([u.reshape(-1), grad.reshape(-1)]):
                torch.autograd.grad(value, plist, retain_graph=True, allow_unused=True)

    return {"ours": ours, "rows": rows, "func": func, "autograd": autograd}


def alternate(steps: dict[str, Step], repeats: int, warmup: int = 3) -> dict[str, float]:
    for _ in range(warmup):
        for step in steps.values():
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3x64 and d in {1, 2, 10} only")
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--jacobian-batch", type=int, default=256, help="points of the parameter-Jacobian table"
    )
    parser.add_argument("--skip-steps", action="store_true", help="only the parameter-Jacobian table")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    peak = matmul_peak_gflops()
    print(
        f"# machine: {platform.machine()} {platform.processor() or ''}, torch {torch.__version__}, "
        f"{args.threads} threads, float32 matmul peak {peak:.0f} GFLOP/s (2048^3)"
    )
    print(
        f"# batch {args.batch}, medians of {args.repeats} alternating repeats; "
        "ratio = other / ours (higher is better for ours)"
    )
    archs = {"3x64": [64] * 3, "4x256": [256] * 4}
    dims = [1, 2, 5, 10, 100, 1000]
    if args.quick:
        archs = {"3x64": [64] * 3}
        dims = [1, 2, 10]
    if not args.skip_steps:
        step_table(archs, dims, args, peak)
    parameter_table(archs, dims, args)


def parameter_table(archs: dict[str, list[int]], dims: list[int], args: argparse.Namespace) -> None:
    print(f"\n# per-sample parameter Jacobian of (u, D Phi), float64, {args.jacobian_batch} points")
    print("| net | d | P | ours ms | rows ms | func ms | autograd ms | func / ours | autograd / ours |")
    print("|---|---|---|---|---|---|---|---|---|")
    for arch_name, hidden in archs.items():
        for d in dims:
            if d > 100:
                continue  # (n, 1 + d, P) is 4 GB at d = 1000
            net = ReLUNetwork.random([d, *hidden, 1], bias_scale=0.1, dtype=torch.float64)
            x = torch.randn(args.jacobian_batch, d, dtype=torch.float64)
            found = alternate(make_parameter_jacobians(net, x), max(3, args.repeats // 5), warmup=1)
            print(
                f"| {arch_name} | {d} | {net.num_parameters()} | {found['ours'] * 1e3:.1f} "
                f"| {found['rows'] * 1e3:.1f} | {found['func'] * 1e3:.1f} | {found['autograd'] * 1e3:.1f} "
                f"| {found['func'] / found['ours']:.1f}x | {found['autograd'] / found['ours']:.1f}x |",
                flush=True,
            )


def step_table(archs: dict[str, list[int]], dims: list[int], args: argparse.Namespace, peak: float) -> None:
    print(
        "| net | d | order | train ours ms | autograd ms | func ms | vs autograd | vs func "
        "| ours GFLOP/s (% peak) | infer ours Mpt/s | autograd Mpt/s | func Mpt/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for arch_name, hidden in archs.items():
        for d in dims:
            net = ReLUNetwork.random([d, *hidden, 1], bias_scale=0.1)
            x = torch.randn(args.batch, d)
            train = alternate(make_steps(net, x), args.repeats)
            infer = alternate(make_inference(net, x), args.repeats)
            order = net.choose_order(backward=True)
            flops = 2 * args.batch * order_costs(net.widths, backward=True)[order]
            gflops = flops / train["ours"] / 1e9
            mpts = {k: args.batch / v / 1e6 for k, v in infer.items()}
            print(
                f"| {arch_name} | {d} | {order} | {train['ours'] * 1e3:.2f} | {train['autograd'] * 1e3:.2f} "
                f"| {train['func'] * 1e3:.2f} | {train['autograd'] / train['ours']:.2f}x "
                f"| {train['func'] / train['ours']:.2f}x | {gflops:.0f} ({100 * gflops / peak:.0f}%) "
                f"| {mpts['ours']:.2f} | {mpts['autograd']:.2f} | {mpts['func']:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
