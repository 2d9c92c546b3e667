"""``first_order``: the residual r = F(t, x, u, u_t, grad u), u = R Phi and its derivatives
the rows of D Phi; stationary equations convex (concave) in grad u select their viscosity
solution (``selection``)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from solver.domains import DTYPE
from solver.expressions import equation_names, parse, space_env
from solver.linearity import constant_speed, transport_velocity
from solver.problems import PDEProblem, PointSet
from solver.spec import FirstOrder


class FirstOrderProblem(PDEProblem):
    """F(t, x, u, u_t, grad u) = 0 with one output u."""

    spec: FirstOrder

    def __init__(self, spec: FirstOrder) -> None:
        super().__init__(spec)
        self.equation = parse(spec.equation, equation_names(self.d, self.has_time))
        self.selection = self._selection_sign() if not self.has_time else 0.0

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

    def equation_value(self, points: PointSet, u: Tensor, jac: Tensor) -> Tensor:
        """F(t, x, u, u_t, grad u), signed, at the points (n,)."""
        grad_u = jac[:, 0, 1:] if self.has_time else jac[:, 0, :]
        env = space_env(points.t, points.x)
        env.update({"u": u[:, 0], "grad_u": grad_u})
        env.update({f"u_x{i}": grad_u[:, i] for i in range(self.d)})
        if self.has_time:
            env["u_t"] = jac[:, 0, 0]
        value: Tensor = self.equation.evaluate(env, u[:, 0])
        return value

    def characteristic_velocity(self, t: Tensor, x: Tensor) -> Tensor | None:
        """The characteristic direction (dF/du_t, dF/d grad u) at the points, (n, 1 + d),
        where F is a linear transport operator (``solver.linearity``); None for a stationary
        problem or an F whose characteristics depend on u."""
        if not self.has_time:
            return None
        return transport_velocity(self.equation, self.d, t, x)

    def characteristic_shear(self) -> dict[int, float]:
        """For a linear transport at one constant speed v with exact periodic axes: input j
        (t first) -> g = (v_j / v_t) h_t / P_j, h_t the half length of the time interval and
        P_j the period, so that sigma = s_j - g (z_t + 1) is the characteristic coordinate
        in units of the period (solver.periodic, ``feature_map``).  Empty otherwise."""
        if not self.has_time or not self.periodic_axes or self.slab is None:
            return {}
        x, u = self.region.draw_interior(64, 0, "uniform", extra=1)
        v = self.characteristic_velocity(self.slab.times(u[:, 0]), x)
        if v is None or not constant_speed(v):
            return {}
        speed = v[0]
        h_t = float(self.input_half[0])
        shear = {}
        for axis in self.periodic_axes:
            j = axis + 1
            g = float(speed[j] / speed[0]) * h_t / (2.0 * float(self.input_half[j]))
            if g != 0.0 and math.isfinite(g):
                shear[j] = g
        return shear

    def interior_vectors(self, points: PointSet, u: Tensor, jac: Tensor) -> dict[str, Tensor]:
        return {"pde": self.equation_value(points, u, jac)}


__all__ = ["FirstOrderProblem"]
