"""The whole space R^d, trained on a padded box (-R', R')^d."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from solver import domains
from solver.domains import SMALLEST_RADIUS, WHOLE_SPACE_MARGIN, gaussian, uniform
from solver.regions.region import DTYPE, Region


class WholeSpace(Region):
    """R^d.  Phi is trained on (-R', R')^d with R' = (1 + WHOLE_SPACE_MARGIN) R, so that the
    cutoff's ramp lies outside the asked-for box (-R, R)^d (solver/estimate.py).  It has no
    boundary."""

    kind = "whole"

    def __init__(self, dimension: int, train_radius: float) -> None:
        self.dimension = dimension
        self.radius = float(train_radius) * (1.0 + WHOLE_SPACE_MARGIN)
        self.center = torch.zeros(dimension, dtype=DTYPE)
        self.lower = self.center - self.radius
        self.upper = self.center + self.radius

    def interior_columns(self) -> int:
        return self.dimension + 1

    def interior(self, u: Tensor) -> Tensor:
        """Uniform in the padded box; with RADIAL_EVERY > 0 the last n // RADIAL_EVERY rows at
        every radius scale instead (direction uniform, |x| log-uniform in
        [SMALLEST_RADIUS R', R']), since uniform points in high dimension lie almost all near
        the box's outer shell."""
        box = self.lower + u[:, : self.dimension] * (self.upper - self.lower)
        every = domains.RADIAL_EVERY  # read at call time (a module setting)
        if every == 0:
            return box
        direction = gaussian(u[:, : self.dimension])
        direction = direction / direction.norm(dim=1, keepdim=True).clamp_min(1e-300)
        log_span = math.log(1.0 / SMALLEST_RADIUS)
        scale = self.radius * torch.exp((u[:, self.dimension] - 1.0) * log_span)
        radial = direction * scale.unsqueeze(1)
        # Contiguous blocks (a strided subset of a Sobol sequence is badly distributed):
        # the first rows uniform in the box, the last n // RADIAL_EVERY radial.
        first_radial = u.shape[0] - u.shape[0] // every
        return torch.cat([box[:first_radial], radial[first_radial:]])

    def boundary_columns(self) -> int:
        return self.dimension + 1

    def boundary(self, u: Tensor, on: str) -> tuple[Tensor, Tensor]:
        raise ValueError(
            "the whole space has no boundary: a whole_space problem takes no boundary conditions"
        )

    def draw_validation(self, n: int, seed: int, extra: int = 0) -> tuple[Tensor, Tensor]:
        """Uniform in the asked-for box (-R, R)^d, where the global model Psi ~ Phi."""
        cols = self.interior_columns()
        u = uniform(n, cols + extra, seed, "uniform")
        return (2.0 * u[:, : self.dimension] - 1.0) * self.radius / (1.0 + WHOLE_SPACE_MARGIN), u[:, cols:]

    def contains(self, x: Tensor) -> Tensor:
        return torch.ones(x.shape[0], dtype=torch.bool)

    def parts(self) -> tuple[str, ...]:
        return ()
