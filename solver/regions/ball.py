"""A ball {|x - center| <= radius} of R^d."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from solver.domains import gaussian
from solver.regions.region import DTYPE, TOLERANCE, Region


class Ball(Region):
    """The closed ball of ``center`` and ``radius``; its one boundary part is the sphere."""

    kind = "ball"

    def __init__(self, center: list[float], radius: float) -> None:
        self.center = torch.tensor(center, dtype=DTYPE)
        self.radius = float(radius)
        self.dimension = self.center.numel()
        self.lower = self.center - self.radius
        self.upper = self.center + self.radius

    def interior_columns(self) -> int:
        return self.dimension + 1

    def interior(self, u: Tensor) -> Tensor:
        """Direction from Gaussians (the first d columns, by the inverse CDF), radius
        rho u_d^(1/d): uniform in the ball."""
        direction = _unit(gaussian(u[:, : self.dimension]))
        radius: Tensor = self.radius * u[:, self.dimension] ** (1.0 / self.dimension)
        points: Tensor = self.center + direction * radius.unsqueeze(1)
        return points

    def boundary_columns(self) -> int:
        return self.dimension + 1

    def boundary(self, u: Tensor, on: str) -> tuple[Tensor, Tensor]:
        """Uniform on the sphere; the normal is the direction from the centre."""
        direction = _unit(gaussian(u[:, : self.dimension]))
        points: Tensor = self.center + self.radius * direction
        return points, direction

    def contains(self, x: Tensor) -> Tensor:
        inside: Tensor = (x - self.center).norm(dim=1) <= self.radius + TOLERANCE * self.scale()
        return inside

    def boundary_measure(self) -> float:
        """The sphere's area 2 pi^(d/2) rho^(d-1) / Gamma(d/2)."""
        d = self.dimension
        return float(2 * math.pi ** (d / 2) / math.gamma(d / 2) * self.radius ** (d - 1))

    def volume(self) -> float:
        d = self.dimension
        return float(math.pi ** (d / 2) / math.gamma(d / 2 + 1) * self.radius**d)


def _unit(v: Tensor) -> Tensor:
    unit: Tensor = v / v.norm(dim=1, keepdim=True).clamp_min(1e-300)
    return unit
