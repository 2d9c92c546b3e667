"""P1 finite elements (scikit-fem) beside relupde, at the same number of unknowns.

The reference a numerical analyst asks for: for each stationary divergence-form example
(d <= 3) the P1 solution of -div(K grad u) = f with the example's Dirichlet data, on a
uniform mesh whose node count is closest to the unknowns of relupde's solved output layer
(``JobSpec.hidden`` features x (1 + d) outputs, plus the biases), assembled and solved by
scikit-fem (sparse direct solve; a K that depends on u by Picard iteration to 1e-10).  The
rows give nodes, wall seconds (mesh, assembly and solve) and rel L2 against ``exact`` by
quadrature of order 4.  scikit-fem is an extra (``pip install -e ".[fem]"``), never a test
dependency; the expressions are relupde's own parser, evaluated at the quadrature points.

    .venv/bin/python bench/fem.py --only poisson-2d lshape-poisson nonlinear-diffusion-2d
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from solver import JobSpec
from solver.expressions import Expression, parse, space_env, space_names

ROOT = Path(__file__).resolve().parents[1]
SEARCH = [ROOT / "examples", ROOT / "bench" / "suite"]
DEFAULT_EXAMPLES = [
    "poisson-2d",
    "lshape-poisson",
    "nonlinear-diffusion-2d",
    "poisson-disk-2d",
    "poisson-varcoef-3d",
]
PICARD_TOLERANCE = 1e-10
PICARD_STEPS = 50


def find(name: str) -> Path:
    for folder in SEARCH:
        path = folder / f"{name}.json"
        if path.exists():
            return path
    raise SystemExit(f"no example named {name} in {', '.join(str(f) for f in SEARCH)}")


def relupde_unknowns(spec: JobSpec) -> int:
    """Unknowns of the solved output layer of the spec's default network."""
    (width,) = spec.hidden
    outputs = 1 + spec.problem.dimension  # u and the flux sigma
    return outputs * (width + 1)


def evaluator(text: str, d: int, with_u: bool = False) -> Expression:
    names: dict[str, Any] = dict(space_names(d, False))
    if with_u:
        names["u"] = "scalar"
    return parse(text, names)


def at(expr: Expression, x: np.ndarray, u: np.ndarray | None = None) -> np.ndarray:
    """The expression at points x of shape (d, ...) (scikit-fem's layout)."""
    shape = x.shape[1:]
    flat = torch.from_numpy(np.ascontiguousarray(x.reshape(x.shape[0], -1).T))
    env = space_env(None, flat)
    if u is not None:
        env["u"] = torch.from_numpy(np.ascontiguousarray(u.reshape(-1)))
    value = expr.evaluate(env, flat[:, 0])
    return np.broadcast_to(value.numpy(), flat.shape[:1]).reshape(shape)


def mesh_for(domain: dict[str, Any], d: int, nodes: int) -> Any:
    """A uniform P1 mesh of the domain with about ``nodes`` nodes."""
    from skfem import MeshTet, MeshTri

    if "box" in domain:
        lower, upper = domain["box"]["lower"], domain["box"]["upper"]
        n = max(3, round(nodes ** (1 / d)))
        axes = [np.linspace(lo, hi, n) for lo, hi in zip(lower, upper, strict=True)]
        return (MeshTri if d == 2 else MeshTet).init_tensor(*axes)
    if "ball" in domain and d == 2:
        ball = domain["ball"]
        meshes = [MeshTri.init_circle(refine) for refine in range(1, 9)]
        mesh = min(meshes, key=lambda m: abs(math.log(m.p.shape[1] / nodes)))
        return mesh.scaled(ball["radius"]).translated(tuple(ball["center"]))
    if "difference" in domain and d == 2:
        outer, inner = domain["difference"]
        lower, upper = outer["box"]["lower"], outer["box"]["upper"]
        n = max(3, round(math.sqrt(nodes * 4 / 3)))
        n += (n + 1) % 2  # odd: the inner box's edges on mesh lines
        mesh = MeshTri.init_tensor(*[np.linspace(lo, hi, n) for lo, hi in zip(lower, upper, strict=True)])
        lo, hi = np.array(inner["box"]["lower"]), np.array(inner["box"]["upper"])
        centers = mesh.p[:, mesh.t].mean(axis=1)
        removed = np.all((centers > lo[:, None]) & (centers < hi[:, None]), axis=0)
        return mesh.remove_elements(np.nonzero(removed)[0])
    raise SystemExit(f"no P1 mesh for this domain: {json.dumps(domain)}")


def solve_p1(spec: JobSpec, nodes: int) -> tuple[int, float, float]:
    """(nodes, seconds, rel L2) of the P1 solution on a mesh of about ``nodes`` nodes."""
    from skfem import Basis, BilinearForm, ElementTetP1, ElementTriP1, Functional, LinearForm, asm, condense
    from skfem import solve as fem_solve
    from skfem.helpers import dot, grad

    problem = spec.problem
    data = problem.model_dump(mode="json")
    d = problem.dimension
    diffusion = data["diffusion"] or "1"
    nonlinear = "u" in evaluator(diffusion, d, with_u=True).names()
    kappa = evaluator(diffusion, d, with_u=nonlinear)
    source = evaluator(data["source"] or "0", d)
    (condition,) = data["conditions"]
    boundary_value = evaluator(condition["value"], d)
    exact = evaluator(data["exact"], d)
    started = time.perf_counter()
    mesh = mesh_for(data["domain"], d, nodes)
    basis = Basis(mesh, ElementTriP1() if d == 2 else ElementTetP1(), intorder=4)

    def stiffness_form(u: Any, v: Any, w: Any) -> Any:
        k = at(kappa, np.asarray(w.x), np.asarray(w["prev"]) if nonlinear else None)
        return k * dot(grad(u), grad(v))

    stiffness = BilinearForm(stiffness_form)

    def load_form(v: Any, w: Any) -> Any:
        return at(source, np.asarray(w.x)) * v

    load = LinearForm(load_form)

    rhs = asm(load, basis)
    dofs = mesh.boundary_nodes()
    uh = basis.zeros()
    uh[dofs] = at(boundary_value, mesh.p[:, dofs])
    bad = ~np.isfinite(uh[dofs])  # data singular at a node (the L-shape's corner): its limit
    if bad.any():
        inward = mesh.p.mean(axis=1, keepdims=True) - mesh.p[:, dofs[bad]]
        uh[dofs[bad]] = at(boundary_value, mesh.p[:, dofs[bad]] + 1e-12 * inward)
    for _ in range(PICARD_STEPS if nonlinear else 1):
        matrix = asm(stiffness, basis, prev=basis.interpolate(uh))
        new = fem_solve(*condense(matrix, rhs, x=uh.copy(), D=dofs))
        change = float(np.abs(new - uh).max())
        uh = new
        if change <= PICARD_TOLERANCE * (1 + float(np.abs(uh).max())):
            break
    seconds = time.perf_counter() - started

    def squared_error_form(w: Any) -> Any:
        return (np.asarray(w["uh"]) - at(exact, np.asarray(w.x))) ** 2

    squared_error = Functional(squared_error_form)

    def squared_exact_form(w: Any) -> Any:
        return at(exact, np.asarray(w.x)) ** 2

    squared_exact = Functional(squared_exact_form)

    field = basis.interpolate(uh)
    error = math.sqrt(asm(squared_error, basis, uh=field) / asm(squared_exact, basis))
    return mesh.p.shape[1], seconds, error


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only",
        nargs="+",
        default=DEFAULT_EXAMPLES,
    )
    parser.add_argument("--scale", type=float, default=1.0, help="nodes = scale x relupde's unknowns")
    args = parser.parse_args()
    import skfem

    print(f"# {platform.machine()}, scikit-fem {skfem.__version__}, numpy {np.__version__}")
    print("| example | relupde unknowns | P1 nodes | P1 wall s | P1 rel L2 |")
    print("|---|---|---|---|---|")
    for name in args.only:
        data = json.loads(find(name).read_text())
        data.pop("network", None)
        data["training"] = {"seed": data.get("training", {}).get("seed", 0)}
        spec = JobSpec.model_validate(data)
        unknowns = relupde_unknowns(spec)
        nodes, seconds, error = solve_p1(spec, round(args.scale * unknowns))
        print(f"| {name} | {unknowns} | {nodes} | {seconds:.2f} | {error:.2e} |", flush=True)


if __name__ == "__main__":
    main()
