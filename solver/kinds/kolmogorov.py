"""``kolmogorov``: Feynman-Kac regression of u(t, x) on phi(X_t^x) and of grad_x u on the
pathwise derivative grad phi(X_t) dX_t/dx (exact simulation for constant coefficients,
Euler-Maruyama otherwise; the pathwise derivative is the derivative of the simulated map
x -> phi(X_t^x) with the noise held fixed).  Antithetic paths are averaged per point."""

from __future__ import annotations

import torch
from torch import Tensor

from solver.domains import DTYPE, derived_seed
from solver.expressions import Expression, parse, space_env, space_names
from solver.problems import (
    KOLMOGOROV_PATHS,
    PDEProblem,
    PointSet,
    apply_matrix,
    parse_matrix,
    paths_per_point,
)
from solver.spec import Kolmogorov

EULER_STEPS = 32


class KolmogorovProblem(PDEProblem):
    """u_t = 1/2 tr(sigma sigma^T Hess u) + mu . grad u on R^d, fitted to Monte Carlo targets."""

    spec: Kolmogorov

    def __init__(self, spec: Kolmogorov) -> None:
        super().__init__(spec)
        names = self.names
        self.initial = parse(spec.initial, space_names(self.d, has_time=False))
        self.k_drift = None if spec.drift is None else [parse(b, names) for b in spec.drift]
        self.k_vol = parse_matrix(spec.volatility, names)
        vol_names = (
            self.k_vol.names()
            if isinstance(self.k_vol, Expression)
            else set().union(*[e.names() for r in self.k_vol for e in r])
        )
        drift_names = set().union(*[b.names() for b in self.k_drift]) if self.k_drift else set()
        self.exact_simulation = not (vol_names | drift_names)

    def interior_targets(self, points: PointSet, seed: int, draw: int) -> PointSet:
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
            state = state + drift * dt.unsqueeze(1) + apply_matrix(self.k_vol, env, dw)
        phi = self.initial.evaluate(space_env(None, state), state[:, 0])
        (grad,) = torch.autograd.grad(phi.sum(), xs)
        value = phi.detach().view(2 * half, n).mean(0)
        return value, grad.view(2 * half, n, d).mean(0)

    def interior_vectors(self, points: PointSet, u: Tensor, jac: Tensor) -> dict[str, Tensor]:
        """Regression on the Feynman-Kac targets, weighted by the growth weight."""
        growth = self.spec.growth
        xs = slice(1, None) if self.has_time else slice(0, None)
        ones = torch.ones_like(points.x[:, 0])
        weight = 1.0 + points.x.norm(dim=1) ** (growth.kappa + 1.0) if growth else ones
        return {
            "value": (u[:, 0] - points.targets["value"]) / weight,
            "gradient": (jac[:, 0, xs] - points.targets["grad"]) / weight.unsqueeze(1),
        }

    def is_regression(self) -> bool:
        """Kolmogorov targets are noisy: fitted in mean square whatever the loss norm."""
        return True


__all__ = ["EULER_STEPS", "KolmogorovProblem"]
