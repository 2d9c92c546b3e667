"""A box [lower, upper] of R^d."""

from __future__ import annotations

import torch
from torch import Tensor

from solver.regions.region import DTYPE, TOLERANCE, Region


class Box(Region):
    """The box prod_i [lower_i, upper_i]; its faces are the parts ``x<i>=lower|upper``."""

    kind = "box"

    def __init__(self, lower: list[float], upper: list[float]) -> None:
        self.lower = torch.tensor(lower, dtype=DTYPE)
        self.upper = torch.tensor(upper, dtype=DTYPE)
        self.dimension = self.lower.numel()
        self.center = (self.lower + self.upper) / 2
        self.radius = 0.0

    def interior_columns(self) -> int:
        return self.dimension

    def interior(self, u: Tensor) -> Tensor:
        """x = lower + u (upper - lower)."""
        return self.lower + u[:, : self.dimension] * (self.upper - self.lower)

    def boundary_columns(self) -> int:
        return self.dimension + 1

    def boundary(self, u: Tensor, on: str) -> tuple[Tensor, Tensor]:
        """A point of the face ``on`` (``"boundary"``: faces chosen with probability
        proportional to their area, by the last column) and the face's outward normal
        +-e_axis."""
        d = self.dimension
        side = self.upper - self.lower
        if on == "boundary":
            areas = torch.stack([side.prod() / side[i] for i in range(d)]).repeat_interleave(2) / 2
            cum = torch.cumsum(areas / areas.sum(), 0)
            face = torch.searchsorted(cum, u[:, d].clamp(max=1 - 1e-15).contiguous())
        else:
            axis, end = on[1:].split("=")
            face = torch.full((u.shape[0],), 2 * int(axis) + (1 if end == "upper" else 0), dtype=torch.long)
        x = self.lower + u[:, :d] * side
        axis_idx = face // 2
        is_upper = (face % 2).bool()
        rows = torch.arange(u.shape[0])
        x[rows, axis_idx] = torch.where(is_upper, self.upper[axis_idx], self.lower[axis_idx])
        normals = torch.zeros_like(x)
        normals[rows, axis_idx] = torch.where(is_upper, 1.0, -1.0).to(DTYPE)
        return x, normals

    def contains(self, x: Tensor) -> Tensor:
        tol = TOLERANCE * self.scale()
        return ((x >= self.lower - tol) & (x <= self.upper + tol)).all(1)

    def parts(self) -> tuple[str, ...]:
        faces = [f"x{i}={end}" for i in range(self.dimension) for end in ("lower", "upper")]
        return ("boundary", *faces)

    def boundary_measure(self) -> float:
        """The area of the faces: sum over i of 2 prod_{j != i} (upper_j - lower_j)."""
        side = self.upper - self.lower
        return float(sum(2 * side.prod() / side[i] for i in range(self.dimension)))

    def volume(self) -> float:
        return float((self.upper - self.lower).prod())
