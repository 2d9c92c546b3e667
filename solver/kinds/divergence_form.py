"""``divergence_form``: [u_t] - div(K grad u) + b . grad u + c u = f as the first-order system
sigma = K grad u with one network of outputs (u, sigma_1..sigma_d): the flux residual
|sigma - K grad u| and the balance residual |[u_t] - div sigma + b . grad u + c u - f|, where
div sigma is the trace of the sigma block of D Phi."""

from __future__ import annotations

import torch
from torch import Tensor

from solver.expressions import parse, space_env
from solver.problems import PDEProblem, PointSet, apply_matrix, parse_matrix
from solver.spec import DivergenceForm


class DivergenceFormProblem(PDEProblem):
    """A second-order problem in divergence form, trained as (u, sigma)."""

    spec: DivergenceForm

    def __init__(self, spec: DivergenceForm) -> None:
        super().__init__(spec)
        self.n_outputs = 1 + self.d
        names = self.names
        self.diffusion = parse_matrix(spec.diffusion, {**names, "u": "scalar"})  # K may depend on u
        self.drift = None if spec.drift is None else [parse(b, names) for b in spec.drift]
        self.reaction = parse(spec.reaction, names)
        self.source = parse(spec.source, names)

    def flux_gap(self, env: dict[str, Tensor], sigma: Tensor, grad: Tensor) -> Tensor:
        """|sigma - K grad|, per point: the flux equation of the first-order system (``env``
        holds u when K depends on it)."""
        gap: Tensor = self.flux_vector(env, sigma, grad).norm(dim=1)
        return gap

    def flux_vector(self, env: dict[str, Tensor], sigma: Tensor, grad: Tensor) -> Tensor:
        """sigma - K grad (n, d), signed: the flux equation's residual."""
        gap: Tensor = sigma - apply_matrix(self.diffusion, env, grad)
        return gap

    def initial_terms(self, name: str, points: PointSet, u: Tensor) -> dict[str, Tensor]:
        """|sigma(t0, x) - A(t0, x) grad g(x)|: the flux equation sigma = A grad u at t = t0,
        where u = g, so the flux output is fitted to the initial data's flux directly (as
        the Sobolev term fits grad u to grad g).  heat-2d, seeds 0 / 1: rel L2 5.24e-2 /
        7.76e-2 without it, 4.28e-2 / 3.98e-2 with it (BENCHMARKS.md)."""
        env = space_env(points.t, points.x)
        env["u"] = points.targets["value"]  # u = g at t0, for a diffusion K(u)
        return {f"{name}:flux": self.flux_vector(env, u[:, 1:], points.targets["grad"])}

    def interior_vectors(self, points: PointSet, u: Tensor, jac: Tensor) -> dict[str, Tensor]:
        xs = slice(1, None) if self.has_time else slice(0, None)
        env = space_env(points.t, points.x)
        balance = self.signed_balance(points, u, jac)
        env["u"] = u[:, 0]  # a diffusion K(t, x, u) may depend on the solution
        return {"flux": self.flux_vector(env, u[:, 1:], jac[:, 0, xs]), "balance": balance}

    def signed_balance(self, points: PointSet, u: Tensor, jac: Tensor) -> Tensor:
        """[u_t] - div sigma + b . grad u + c u - f, signed (n,)."""
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
        """Train stationary problems with segment-averaged derivatives first.

        The balance residual -div sigma + ... - f is a derivative of an output, and D Phi
        gives such residuals no gradient with respect to the kink positions; measured on
        poisson-2d the averaged derivatives cut the error 4-5x, while on transport-1d and
        heat-2d they made it worse (BENCHMARKS.md), so elsewhere the exact D Phi is used.
        """
        return not self.has_time


__all__ = ["DivergenceFormProblem"]
