"""PDE residuals with ReLU networks (docs/solver.md, "Residuals"): every residual is first order.

``PDEProblem`` is the base of the problem kinds (``solver.kinds``: one class per kind, each
with its interior residuals and targets; ``problem_of(spec)`` builds the right one).  It
holds what they share: the region and time slab, the point sets of every term, the
condition residuals, each on the output of the unknown it names, and ``exact``.

Conditions are residuals on their own point sets; an initial condition also matches the
spatial gradient of its data (a Sobolev target).  Residual magnitudes are returned per
point; ``solver.loss`` turns them into the sup- or l2-type loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from solver.domains import DTYPE, Slab, derived_seed
from solver.expressions import Expression, Kind, parse, space_env, space_names
from solver.regions import region_of
from solver.spec import Initial, Neumann, Periodic, Problem, System

# Feynman-Kac paths per point, in antithetic pairs: KOLMOGOROV_PATHS, fewer where
# n * paths * d would pass PATH_ELEMENTS (memory of one draw), never below MIN_PATHS.
# heat-kolmogorov-5d rel L2: 8 paths 2.0e-2, 64 paths 1.72e-2, 256 paths 1.54e-2.
KOLMOGOROV_PATHS = 256
MIN_PATHS = 64
PATH_ELEMENTS = 2**23
# Weight of the Sobolev term |grad u - grad u0| of an initial condition (1: measured best).
# Only for smooth initial data: where u0 has a kink (abs, min, max, sign, norm) its gradient
# jumps, the term cannot fall below half the jump there, and under the sup loss it then
# dominates everything (transported hat: rel L2 0.93 with it, 1.3e-2 without; BENCHMARKS.md).
INITIAL_GRADIENT = 1.0


@dataclass
class PointSet:
    """Points of one residual term: times (n,) or None, space points (n, d), normals, targets."""

    t: Tensor | None
    x: Tensor
    normals: Tensor | None = None
    targets: dict[str, Tensor] = field(default_factory=dict)

    def inputs(self) -> Tensor:
        return self.x if self.t is None else torch.cat([self.t.unsqueeze(1), self.x], 1)

    def to(self, dtype: torch.dtype) -> PointSet:
        cast = {k: v.to(dtype) for k, v in self.targets.items()}
        return PointSet(
            None if self.t is None else self.t.to(dtype),
            self.x.to(dtype),
            None if self.normals is None else self.normals.to(dtype),
            cast,
        )

    def select(self, index: Tensor) -> PointSet:
        return PointSet(
            None if self.t is None else self.t[index],
            self.x[index],
            None if self.normals is None else self.normals[index],
            {k: v[index] for k, v in self.targets.items()},
        )

    @staticmethod
    def concat(a: PointSet, b: PointSet) -> PointSet:
        def cat(p: Tensor | None, q: Tensor | None) -> Tensor | None:
            return None if p is None or q is None else torch.cat([p, q])

        return PointSet(
            cat(a.t, b.t),
            torch.cat([a.x, b.x]),
            cat(a.normals, b.normals),
            {k: torch.cat([a.targets[k], b.targets[k]]) for k in a.targets},
        )


def parse_matrix(value: str | list[list[str]], names: dict[str, Kind]) -> Expression | list[list[Expression]]:
    if isinstance(value, str):
        return parse(value, names)
    return [[parse(item, names) for item in row] for row in value]


def apply_matrix(mat: Expression | list[list[Expression]], env: dict[str, Tensor], vec: Tensor) -> Tensor:
    """M(t, x) v for a scalar (M = m I) or d x d expression matrix; vec (n, d)."""
    if isinstance(mat, Expression):
        return mat.evaluate(env, vec[:, 0]).unsqueeze(1) * vec
    rows: list[Tensor] = []
    for row in mat:
        total = torch.zeros_like(vec[:, 0])
        for j, entry in enumerate(row):
            total = total + entry.evaluate(env, vec[:, 0]) * vec[:, j]
        rows.append(total)
    return torch.stack(rows, 1)


def gradient_of(expr: Expression, t: Tensor | None, x: Tensor) -> Tensor:
    """grad_x of an expression at points x (float64, by autograd through the evaluator)."""
    xg = x.detach().to(DTYPE).requires_grad_(True)
    env = space_env(None if t is None else t.to(DTYPE), xg)
    value = expr.evaluate(env, xg[:, 0])
    (grad,) = torch.autograd.grad(value.sum(), xg, allow_unused=True)
    return torch.zeros_like(xg) if grad is None else grad.detach()


def paths_per_point(n: int, d: int) -> int:
    """KOLMOGOROV_PATHS, capped so that one draw holds at most PATH_ELEMENTS path coordinates
    (n points x paths x d), floored at MIN_PATHS; always even (antithetic pairs)."""
    fitting = PATH_ELEMENTS // max(n * d, 1)
    return 2 * (max(MIN_PATHS, min(KOLMOGOROV_PATHS, fitting)) // 2)


def magnitude(residual: Tensor) -> Tensor:
    """|r| per point: the absolute value of a scalar residual (n,), the Euclidean norm over
    the components of a vector one (n, c)."""
    return residual.abs() if residual.dim() == 1 else residual.norm(dim=1)


class PDEProblem:
    """Residuals and point sets of one job's problem; a kind's subclass gives the interior
    residuals (``interior_vectors``) and, where it has them, the interior targets."""

    def __init__(self, spec: Problem) -> None:
        self.spec = spec
        self.d = spec.dimension
        self.region = region_of(spec.domain, self.d)
        self.slab = Slab.from_spec(spec.time)
        self.has_time = self.slab is not None
        self.n_inputs = self.d + (1 if self.has_time else 0)
        #: the unknowns, in output order (the scalar kinds: u, the first output)
        self.unknowns = list(spec.unknowns) if isinstance(spec, System) else ["u"]
        self.n_outputs = len(self.unknowns)
        self.names = space_names(self.d, self.has_time)
        no_t = space_names(self.d, has_time=False)
        #: the known solution of each unknown (in output order), or None
        self.exacts: list[Expression] | None = None
        if isinstance(spec.exact, dict):
            self.exacts = [parse(spec.exact[k], self.names) for k in self.unknowns]
        elif spec.exact:
            self.exacts = [parse(spec.exact, self.names)]
        self.exact = self.exacts[0] if self.exacts is not None and not isinstance(spec, System) else None
        # periodic conditions are built into the network (solver.periodic): no residual term
        self.conditions = [
            (cond, parse(cond.value, no_t if isinstance(cond, Initial) else self.names))
            for cond in spec.conditions
            if not isinstance(cond, Periodic)
        ]
        # a periodic condition of every unknown is exact (in the network); one of a single
        # unknown of a system is a penalty term on paired points of the two faces
        exact_periodic = [c for c in spec.conditions if isinstance(c, Periodic) and not self._penalty(c)]
        self.periodic_axes = sorted(int(c.axis[1:]) for c in exact_periodic)
        self.periodic_penalties = [
            (f"condition{i}", int(c.axis[1:]), self.unknowns.index(c.unknown))
            for i, c in enumerate(spec.conditions)
            if isinstance(c, Periodic) and self._penalty(c) and c.unknown is not None
        ]
        #: the output each condition constrains (its unknown's place; 0 for the scalar kinds)
        self.condition_outputs = [
            self.unknowns.index(cond.unknown) if cond.unknown is not None else 0
            for cond, _ in self.conditions
        ]
        # the residual term of conditions[i] is "condition<i>", i its place in the spec
        self.condition_names = [
            f"condition{i}" for i, c in enumerate(spec.conditions) if not isinstance(c, Periodic)
        ]
        self.selection = 0.0  # +1/-1: push u up/down to select the viscosity solution
        lo, hi = self.region.lower, self.region.upper
        if self.slab is not None:
            lo = torch.cat([torch.tensor([self.slab.start], dtype=DTYPE), lo])
            hi = torch.cat([torch.tensor([self.slab.end], dtype=DTYPE), hi])
        self.input_center = (lo + hi) / 2
        self.input_half = (hi - lo) / 2

    def characteristic_shear(self) -> dict[int, float]:
        """The shear g of each periodic input's waves (solver.periodic): none but for a
        linear transport at constant speed (``FirstOrderProblem``)."""
        return {}

    def _penalty(self, cond: Periodic) -> bool:
        """A periodic condition on one unknown of a system of several: a penalty term."""
        return cond.unknown is not None and len(self.unknowns) > 1

    # ------------------------------------------------------------------ sampling
    def sample(
        self, interior: int, boundary: int, seed: int, draw: int, method: str = "sobol"
    ) -> dict[str, PointSet]:
        """Fresh point sets for every residual term, deterministic in (seed, draw)."""
        sets: dict[str, PointSet] = {}
        extra = 1 if self.has_time else 0
        x, u = self.region.draw_interior(interior, derived_seed(seed, "interior", draw), method, extra)
        t = self.slab.times(u[:, -1]) if self.slab is not None else None
        sets["interior"] = self.interior_targets(PointSet(t, x), seed, draw)
        for index, (cond, expr) in enumerate(self.conditions):
            name = self.condition_names[index]
            if isinstance(cond, Initial):
                assert self.slab is not None
                xc, _ = self.region.draw_interior(boundary, derived_seed(seed, name, draw), method)
                tc = torch.full((boundary,), self.slab.start, dtype=DTYPE)
                targets = {
                    "value": expr.evaluate(space_env(None, xc), xc[:, 0]),
                    "grad": gradient_of(expr, None, xc),
                }
                sets[name] = PointSet(tc, xc, None, targets)
                continue
            extra = 1 if self.has_time else 0
            xb, normals, ub = self.region.draw_boundary(
                boundary, cond.on, derived_seed(seed, name, draw), method, extra
            )
            tb = self.slab.times(ub[:, -1]) if self.slab is not None else None
            targets = {"value": expr.evaluate(space_env(tb, xb), xb[:, 0])}
            sets[name] = PointSet(tb, xb, normals, targets)
        for name, axis, _ in self.periodic_penalties:
            extra = 1 if self.has_time else 0
            xl, _, ul = self.region.draw_boundary(
                boundary, f"x{axis}=lower", derived_seed(seed, name, draw), method, extra
            )
            xu = xl.clone()
            xu[:, axis] = self.region.upper[axis]
            tl = self.slab.times(ul[:, -1]) if self.slab is not None else None
            both = None if tl is None else torch.cat([tl, tl])
            sets[name] = PointSet(both, torch.cat([xl, xu]))  # first half lower face, then upper
        return sets

    def interior_targets(self, points: PointSet, seed: int, draw: int) -> PointSet:
        """The interior points with the targets a kind regresses on (none by default)."""
        return points

    # ------------------------------------------------------------------ residuals
    def residuals(self, name: str, points: PointSet, u: Tensor, jac: Tensor) -> dict[str, Tensor]:
        """Per-point residual magnitudes (n,) of the terms on this point set: |r| of a scalar
        residual, the Euclidean norm |r|_2 of a vector one (``residual_vectors``).

        u: (n, N_L) network values, jac: (n, N_L, n_inputs) derivatives in physical coordinates.
        """
        return {k: magnitude(v) for k, v in self.residual_vectors(name, points, u, jac).items()}

    def residual_vectors(self, name: str, points: PointSet, u: Tensor, jac: Tensor) -> dict[str, Tensor]:
        """The signed residuals r of the terms on this point set: (n,) for a scalar equation,
        (n, c) for a vector one (a flux gap sigma - K grad u, a gradient target); the loss and
        the reported figures use their magnitudes, a least-squares solve their components."""
        if name == "interior":
            return self.interior_vectors(points, u, jac)
        for penalty, _, k in self.periodic_penalties:
            if name == penalty:  # N(lower) - N(upper) and grad N(lower) - grad N(upper)
                half = u.shape[0] // 2
                return {
                    f"{name}:periodic": u[:half, k] - u[half:, k],
                    f"{name}:periodic_gradient": jac[:half, k] - jac[half:, k],
                }
        xs = slice(1, None) if self.has_time else slice(0, None)
        index = self.condition_names.index(name)
        cond, expr = self.conditions[index]
        k = self.condition_outputs[index]
        grad_u = jac[:, k, xs]
        target = points.targets["value"]
        if isinstance(cond, Initial):
            found = {f"{name}:value": u[:, k] - target}
            if INITIAL_GRADIENT and expr.is_smooth():
                found[f"{name}:gradient"] = INITIAL_GRADIENT * (grad_u - points.targets["grad"])
                found.update(self.initial_terms(name, points, u))
            return found
        if isinstance(cond, Neumann):
            assert points.normals is not None
            return {f"{name}:neumann": (grad_u * points.normals).sum(1) - target}
        return {f"{name}:dirichlet": u[:, k] - target}

    def interior_vectors(self, points: PointSet, u: Tensor, jac: Tensor) -> dict[str, Tensor]:
        """The signed residuals of the equation(s) at interior points, by term name: (n,) or
        (n, c) each (``residual_vectors``)."""
        raise NotImplementedError(f"{type(self).__name__} defines no interior residuals")

    def initial_terms(self, name: str, points: PointSet, u: Tensor) -> dict[str, Tensor]:
        """Further signed terms of a smooth initial condition beside value and gradient (none
        here)."""
        return {}

    def uses_segments(self) -> bool:
        """Whether training starts with segment-averaged derivatives (solver.training)."""
        return False

    def is_regression(self) -> bool:
        """Whether the targets are noisy, so fitted in mean square whatever the loss norm."""
        return False

    def exact_values(self, inputs: Tensor) -> tuple[Tensor, Tensor] | None:
        """(u*, grad u*) of ``exact`` at inputs (n, n_inputs), gradient over all inputs (t first);
        None without ``exact`` and for a system (``exact_outputs`` gives every unknown)."""
        if self.exact is None:
            return None
        return _value_and_gradient(self.exact, inputs, self.has_time)

    def exact_outputs(self, inputs: Tensor) -> tuple[Tensor, Tensor] | None:
        """The known solution of every unknown: values (n, m) and gradients (n, m, n_inputs), m
        the number of unknowns (1 for the scalar kinds), or None without ``exact``."""
        if self.exacts is None:
            return None
        pairs = [_value_and_gradient(e, inputs, self.has_time) for e in self.exacts]
        return torch.stack([v for v, _ in pairs], 1), torch.stack([g for _, g in pairs], 1)

    def validation_inputs(self, n: int, seed: int) -> Tensor:
        """Fresh points (independent of training draws) for measuring errors."""
        x, u = self.region.draw_validation(n, derived_seed(seed, "validation"), 1 if self.has_time else 0)
        if self.slab is None:
            return x
        return torch.cat([self.slab.times(u[:, -1]).unsqueeze(1), x], 1)


def _value_and_gradient(expr: Expression, inputs: Tensor, has_time: bool) -> tuple[Tensor, Tensor]:
    """An expression of (t, x) and its gradient over every input (t first), float64."""
    inputs = inputs.to(DTYPE).detach().requires_grad_(True)
    t = inputs[:, 0] if has_time else None
    x = inputs[:, 1:] if has_time else inputs
    value = expr.evaluate(space_env(t, x), inputs[:, 0])
    (grad,) = torch.autograd.grad(value.sum(), inputs, allow_unused=True)
    return value.detach(), torch.zeros_like(inputs) if grad is None else grad.detach()


__all__ = [
    "INITIAL_GRADIENT",
    "KOLMOGOROV_PATHS",
    "PDEProblem",
    "PointSet",
    "apply_matrix",
    "gradient_of",
    "magnitude",
    "parse_matrix",
    "paths_per_point",
]
