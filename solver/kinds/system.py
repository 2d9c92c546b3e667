"""``system``: one network output per unknown N_k and the residuals |F_j(t, x, N, N_t,
grad N)| of the equations, each derivative a row of D Phi (docs/solver.md, "Residuals": every PDE
written first order).  first_order is the system of one unknown u and one equation; a
divergence-form problem the system (u, sigma) with the flux and balance equations."""

from __future__ import annotations

from torch import Tensor

from solver.expressions import parse, space_env
from solver.problems import PDEProblem, PointSet
from solver.spec import System
from solver.unknowns import system_names


class SystemProblem(PDEProblem):
    """F_j(t, x, N, N_t, grad N) = 0, j = 1..J, in the unknowns N_1..N_m."""

    spec: System

    def __init__(self, spec: System) -> None:
        super().__init__(spec)
        names = system_names(self.unknowns, self.d, self.has_time)
        self.equations = [parse(text, names) for text in spec.equations]

    def system_env(self, points: PointSet, u: Tensor, jac: Tensor) -> dict[str, Tensor]:
        """The names of the equations at the points: the space names and, for each unknown N
        (output k), N = u[:, k], N_t = jac[:, k, 0], N_x<i> and grad_N from jac[:, k]."""
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
        """F_j of each equation, signed, at the points (n,)."""
        env = self.system_env(points, u, jac)
        return [equation.evaluate(env, u[:, 0]) for equation in self.equations]

    def interior_vectors(self, points: PointSet, u: Tensor, jac: Tensor) -> dict[str, Tensor]:
        return dict(zip(self.equation_names(), self.system_values(points, u, jac), strict=True))

    def equation_names(self) -> list[str]:
        return [f"equation{j}" for j in range(len(self.equations))]


__all__ = ["SystemProblem"]
