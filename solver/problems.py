"""PDE residuals with ReLU networks (DESIGN.md section 3): every residual is first order.

* ``first_order``: r = F(t, x, u, u_t, grad u) with u = R Phi and its derivatives from D Phi.
* ``divergence_form``: one network with outputs (u, sigma); the flux residual
  sigma - K grad u and the balance residual [u_t] - div sigma + b . grad u + c u - f, where
  div sigma is the trace of the sigma block of D Phi.
* ``system``: one network output per unknown N_k; the residuals F_j(t, x, N, N_t, grad N)
  of the equations, each derivative a row of D Phi.
* ``kolmogorov``: Feynman-Kac regression of u(t, x) on phi(X_t^x) and of grad_x u on the
  pathwise derivative grad phi(X_t) dX_t/dx (exact simulation for constant coefficients,
  Euler-Maruyama otherwise; the pathwise derivative is the derivative of the simulated map
  x -> phi(X_t^x) with the noise held fixed).  Antithetic paths are averaged per point.

Conditions are residuals on their own point sets; an initial condition also matches the
spatial gradient of its data (a Sobolev target).  Residual magnitudes are returned per
point; ``solver.loss`` turns them into the sup- or l2-type loss.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from solver.domains import DTYPE, Slab, derived_seed
from solver.expressions import Expression, Kind, equation_names, parse, space_env, space_names
from solver.regions import region_of
from solver.spec import (
    DivergenceForm,
    FirstOrder,
    Initial,
    Kolmogorov,
    Neumann,
    Periodic,
    Problem,
    System,
)
from solver.unknowns import system_names

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
EULER_STEPS = 32


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


def _matrix(value: str | list[list[str]], names: dict[str, Kind]) -> Expression | list[list[Expression]]:
    if isinstance(value, str):
        return parse(value, names)
    return [[parse(item, names) for item in row] for row in value]


def _apply_matrix(mat: Expression | list[list[Expression]], env: dict[str, Tensor], vec: Tensor) -> Tensor:
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


class PDEProblem:
    """Residuals and point sets of one job's problem."""

    def __init__(self, spec: Problem) -> None:
        self.spec = spec
        self.d = spec.dimension
        self.region = region_of(spec.domain, self.d)
        self.slab = Slab.from_spec(spec.time)
        self.has_time = self.slab is not None
        self.n_inputs = self.d + (1 if self.has_time else 0)
        #: the unknowns, in output order (scalar kinds: u, the first output)
        self.unknowns = list(spec.unknowns) if isinstance(spec, System) else ["u"]
        self.n_outputs = (
            1 + self.d
            if isinstance(spec, DivergenceForm)
            else len(self.unknowns)
            if isinstance(spec, System)
            else 1
        )
        names = space_names(self.d, self.has_time)
        no_t = space_names(self.d, has_time=False)
        #: the known solution of each unknown (in output order), or None
        self.exacts: list[Expression] | None = None
        if isinstance(spec.exact, dict):
            self.exacts = [parse(spec.exact[k], names) for k in self.unknowns]
        elif spec.exact:
            self.exacts = [parse(spec.exact, names)]
        self.exact = self.exacts[0] if self.exacts is not None and not isinstance(spec, System) else None
        # periodic conditions are built into the network (solver.periodic): no residual term
        self.conditions = [
            (cond, parse(cond.value, no_t if isinstance(cond, Initial) else names))
            for cond in spec.conditions
            if not isinstance(cond, Periodic)
        ]
        self.periodic_axes = sorted(int(c.axis[1:]) for c in spec.conditions if isinstance(c, Periodic))
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
        if isinstance(spec, FirstOrder):
            self.equation = parse(spec.equation, equation_names(self.d, self.has_time))
            self.selection = self._selection_sign() if not self.has_time else 0.0
        if isinstance(spec, System):
            system = system_names(self.unknowns, self.d, self.has_time)
            self.equations = [parse(text, system) for text in spec.equations]
        if isinstance(spec, DivergenceForm):
            self.diffusion = _matrix(spec.diffusion, {**names, "u": "scalar"})  # K may depend on u
            self.drift = None if spec.drift is None else [parse(b, names) for b in spec.drift]
            self.reaction = parse(spec.reaction, names)
            self.source = parse(spec.source, names)
        if isinstance(spec, Kolmogorov):
            self.initial = parse(spec.initial, no_t)
            self.k_drift = None if spec.drift is None else [parse(b, names) for b in spec.drift]
            self.k_vol = _matrix(spec.volatility, names)
            vol_names = (
                self.k_vol.names()
                if isinstance(self.k_vol, Expression)
                else set().union(*[e.names() for r in self.k_vol for e in r])
            )
            drift_names = set().union(*[b.names() for b in self.k_drift]) if self.k_drift else set()
            self.exact_simulation = not (vol_names | drift_names)
        lo, hi = self.region.lower, self.region.upper
        if self.slab is not None:
            lo = torch.cat([torch.tensor([self.slab.start], dtype=DTYPE), lo])
            hi = torch.cat([torch.tensor([self.slab.end], dtype=DTYPE), hi])
        self.input_center = (lo + hi) / 2
        self.input_half = (hi - lo) / 2

    # ------------------------------------------------------------------ selection
    def _selection_sign(self) -> float:
        """Sign of the convexity of F in grad u (for choosing the viscosity solution).

        For a stationary F(x, u, grad u) = 0 with Dirichlet data, the viscosity solution of a
        convex Hamiltonian is the maximal a.e. solution and of a concave one the minimal;
        returns +1 (push u up), -1 (down) or 0 (F linear in grad u: nothing to select).
        """
        gen = torch.Generator().manual_seed(0)
        n = 64
        x, _ = self.region.draw_interior(n, 0, "uniform")
        gen.manual_seed(0)
        torch.rand(n, self.region.interior_columns(), dtype=DTYPE, generator=gen)  # as the draw did
        p = torch.randn(n, self.d, dtype=DTYPE, generator=gen).requires_grad_(True)
        env = space_env(None, x)
        env.update({"u": torch.zeros(n, dtype=DTYPE), "grad_u": p})
        env.update({f"u_x{i}": p[:, i] for i in range(self.d)})
        value = self.equation.evaluate(env, x[:, 0])
        (grad,) = torch.autograd.grad(value.sum(), p, create_graph=True, allow_unused=True)
        if grad is None or not grad.requires_grad:
            return 0.0  # F is affine in grad u
        trace = torch.zeros(n, dtype=DTYPE)
        for i in range(self.d):
            (second,) = torch.autograd.grad(grad[:, i].sum(), p, retain_graph=True, allow_unused=True)
            if second is not None:
                trace = trace + second[:, i]
        mean = float(torch.as_tensor(trace).mean())
        if abs(mean) < 1e-8:
            return 0.0
        return 1.0 if mean > 0 else -1.0

    # ------------------------------------------------------------------ sampling
    def sample(
        self, interior: int, boundary: int, seed: int, draw: int, method: str = "sobol"
    ) -> dict[str, PointSet]:
        """Fresh point sets for every residual term, deterministic in (seed, draw)."""
        sets: dict[str, PointSet] = {}
        extra = 1 if self.has_time else 0
        x, u = self.region.draw_interior(interior, derived_seed(seed, "interior", draw), method, extra)
        t = self.slab.times(u[:, -1]) if self.slab is not None else None
        sets["interior"] = self._interior_targets(PointSet(t, x), seed, draw)
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
        return sets

    def _interior_targets(self, points: PointSet, seed: int, draw: int) -> PointSet:
        if not isinstance(self.spec, Kolmogorov):
            return points
        assert points.t is not None, "kolmogorov problems always have time"
        value, grad = self.feynman_kac(
            points.t, points.x, derived_seed(seed, "paths", draw), paths_per_point(*points.x.shape)
        )
        points.targets = {"value": value, "grad": grad}
        return points

    def feynman_kac(
        self, t: Tensor, x: Tensor, seed: int, paths: int = KOLMOGOROV_PATHS
    ) -> tuple[Tensor, Tensor]:
        """Averages over ``paths`` antithetic paths of phi(X_t^x) and grad phi(X_t) dX_t/dx."""
        n, d = x.shape
        gen = torch.Generator().manual_seed(seed)
        half = max(paths // 2, 1)
        xs = x.repeat(2 * half, 1).requires_grad_(True)
        ts = t.repeat(2 * half)
        steps = 1 if self.exact_simulation else EULER_STEPS
        noise = torch.randn(steps, half * n, d, dtype=DTYPE, generator=gen)
        noise = torch.cat([noise, -noise], 1)  # antithetic
        dt = ts / steps
        state = xs
        for k in range(steps):
            env = space_env(ts - k * dt, state)  # coefficients at time t - s (backward)
            drift = (
                torch.zeros_like(state)
                if self.k_drift is None
                else torch.stack([b.evaluate(env, state[:, 0]) for b in self.k_drift], 1)
            )
            dw = noise[k] * dt.sqrt().unsqueeze(1)
            state = state + drift * dt.unsqueeze(1) + _apply_matrix(self.k_vol, env, dw)
        phi = self.initial.evaluate(space_env(None, state), state[:, 0])
        (grad,) = torch.autograd.grad(phi.sum(), xs)
        value = phi.detach().view(2 * half, n).mean(0)
        return value, grad.view(2 * half, n, d).mean(0)

    # ------------------------------------------------------------------ residuals
    def residuals(self, name: str, points: PointSet, u: Tensor, jac: Tensor) -> dict[str, Tensor]:
        """Per-point residual magnitudes (n,) of the terms on this point set.

        u: (n, N_L) network values, jac: (n, N_L, n_inputs) derivatives in physical coordinates.
        """
        xs = slice(1, None) if self.has_time else slice(0, None)
        if name == "interior":
            return self._interior(points, u, jac, jac[:, 0, xs])
        index = self.condition_names.index(name)
        cond = self.conditions[index][0]
        k = self.condition_outputs[index]
        grad_u = jac[:, k, xs]
        target = points.targets["value"]
        if isinstance(cond, Initial):
            found = {f"{name}:value": (u[:, k] - target).abs()}
            if INITIAL_GRADIENT and self.conditions[index][1].is_smooth():
                found[f"{name}:gradient"] = INITIAL_GRADIENT * (grad_u - points.targets["grad"]).norm(dim=1)
                if isinstance(self.spec, DivergenceForm):
                    found[f"{name}:flux"] = INITIAL_GRADIENT * self._initial_flux(points, u)
            return found
        if isinstance(cond, Neumann):
            assert points.normals is not None
            return {f"{name}:neumann": ((grad_u * points.normals).sum(1) - target).abs()}
        return {f"{name}:dirichlet": (u[:, k] - target).abs()}

    def _flux_gap(self, env: dict[str, Tensor], sigma: Tensor, grad: Tensor) -> Tensor:
        """|sigma - K grad|, per point: the flux equation of the first-order system (``env``
        holds u when K depends on it)."""
        gap: Tensor = (sigma - _apply_matrix(self.diffusion, env, grad)).norm(dim=1)
        return gap

    def _initial_flux(self, points: PointSet, u: Tensor) -> Tensor:
        """|sigma(t0, x) - A(t0, x) grad g(x)|: the flux equation sigma = A grad u at t = t0,
        where u = g, so the flux output is fitted to the initial data's flux directly (as
        the Sobolev term fits grad u to grad g).  heat-2d, seeds 0 / 1: rel L2 5.24e-2 /
        7.76e-2 without it, 4.28e-2 / 3.98e-2 with it (BENCHMARKS.md)."""
        env = space_env(points.t, points.x)
        env["u"] = points.targets["value"]  # u = g at t0, for a diffusion K(u)
        return self._flux_gap(env, u[:, 1:], points.targets["grad"])

    def equation_value(self, points: PointSet, u: Tensor, jac: Tensor) -> Tensor:
        """F(t, x, u, u_t, grad u) of a first-order problem, signed, at the points (n,)."""
        grad_u = jac[:, 0, 1:] if self.has_time else jac[:, 0, :]
        env = space_env(points.t, points.x)
        env.update({"u": u[:, 0], "grad_u": grad_u})
        env.update({f"u_x{i}": grad_u[:, i] for i in range(self.d)})
        if self.has_time:
            env["u_t"] = jac[:, 0, 0]
        value: Tensor = self.equation.evaluate(env, u[:, 0])
        return value

    def _interior(self, points: PointSet, u: Tensor, jac: Tensor, grad_u: Tensor) -> dict[str, Tensor]:
        spec = self.spec
        env = space_env(points.t, points.x)
        if isinstance(spec, FirstOrder):
            return {"pde": self.equation_value(points, u, jac).abs()}
        if isinstance(spec, System):
            return {f"equation{i}": value.abs() for i, value in enumerate(self.system_values(points, u, jac))}
        if isinstance(spec, DivergenceForm):
            balance = self.signed_balance(points, u, jac).abs()
            env["u"] = u[:, 0]  # a diffusion K(t, x, u) may depend on the solution
            return {"flux": self._flux_gap(env, u[:, 1:], grad_u), "balance": balance}
        # kolmogorov: regression on the Feynman-Kac targets, weighted by the growth weight
        weight = 1.0 + points.x.norm(dim=1) ** (spec.growth.kappa + 1.0) if spec.growth else 1.0
        return {
            "value": (u[:, 0] - points.targets["value"]).abs() / weight,
            "gradient": (grad_u - points.targets["grad"]).norm(dim=1) / weight,
        }

    def system_env(self, points: PointSet, u: Tensor, jac: Tensor) -> dict[str, Tensor]:
        """The names of a system's equations at the points: the space names and, for each
        unknown N (output k), N = u[:, k], N_t = jac[:, k, 0], N_x<i> and grad_N from jac[:, k]."""
        xs = slice(1, None) if self.has_time else slice(0, None)
        env = space_env(points.t, points.x)
        for k, unknown in enumerate(self.unknowns):
            grad = jac[:, k, xs]
            env[unknown] = u[:, k]
            env[f"grad_{unknown}"] = grad
            env.update({f"{unknown}_x{i}": grad[:, i] for i in range(self.d)})
            if self.has_time:
                env[f"{unknown}_t"] = jac[:, k, 0]
        return env

    def system_values(self, points: PointSet, u: Tensor, jac: Tensor) -> list[Tensor]:
        """F_j(t, x, N, N_t, grad N) of each equation of a system, signed, at the points (n,)."""
        env = self.system_env(points, u, jac)
        return [equation.evaluate(env, u[:, 0]) for equation in self.equations]

    def signed_balance(self, points: PointSet, u: Tensor, jac: Tensor) -> Tensor:
        """[u_t] - div sigma + b . grad u + c u - f of a divergence-form problem, signed (n,)."""
        xs = slice(1, None) if self.has_time else slice(0, None)
        env = space_env(points.t, points.x)
        div = torch.diagonal(jac[:, 1:, xs], dim1=1, dim2=2).sum(1)
        balance: Tensor = (
            -div + self.reaction.evaluate(env, u[:, 0]) * u[:, 0] - self.source.evaluate(env, u[:, 0])
        )
        if self.drift is not None:
            drift = torch.stack([b.evaluate(env, u[:, 0]) for b in self.drift], 1)
            balance = balance + (drift * jac[:, 0, xs]).sum(1)
        if self.has_time:
            balance = balance + jac[:, 0, 0]
        return balance

    def uses_segments(self) -> bool:
        """Train stationary divergence-form problems with segment-averaged derivatives first.

        Their balance residual -div sigma + ... - f is a derivative of an output, and D Phi
        gives such residuals no gradient with respect to the kink positions; measured on
        poisson-2d the averaged derivatives cut the error 4-5x, while on transport-1d and
        heat-2d they made it worse (BENCHMARKS.md), so elsewhere the exact D Phi is used.
        """
        return isinstance(self.spec, DivergenceForm) and not self.has_time

    def is_regression(self) -> bool:
        """Kolmogorov targets are noisy: fitted in mean square whatever the loss norm."""
        return isinstance(self.spec, Kolmogorov)

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


__all__ = ["PDEProblem", "PointSet", "gradient_of"]
