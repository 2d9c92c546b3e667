"""Time slabs and deterministic quasi-random sampling (docs/solver.md, "Loss and training"); the regions of
space are in solver.regions.

Every draw comes from a scrambled Sobol sequence whose seed is derived from the job seed,
the draw counter and the purpose of the draw, so a run is reproducible point for point and
a resumed run draws exactly the points the uninterrupted run would have drawn.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:  # no import at run time: solver.spec uses solver.regions, which uses this module
    from solver.spec import TimeInterval

DTYPE = torch.float64
# Whole space: Phi is trained on (-R', R')^d with R' = (1 + WHOLE_SPACE_MARGIN) R, so that the
# cutoff's ramp (width w = WHOLE_SPACE_MARGIN R) lies outside the asked-for box (-R, R)^d and
# the global model Psi equals P(1, Phi) ~ Phi on all of it (solver/estimate.py).
WHOLE_SPACE_MARGIN = 0.25
SMALLEST_RADIUS = 1e-3  # radial sampling: |x| log-uniform in [1e-3 R', R']
# Whole-space training: n // RADIAL_EVERY of the interior points radial (0: none).  Off by
# default: measured on heat-kolmogorov-5d (BENCHMARKS.md) any radial share made the model
# worse (rel L2 1.7e-2 uniform; 3.1e-2 with 1/8 radial, 3.9e-2 with 1/4) and did not change
# eps, which is set beyond the plateau.  The local errors of the estimate are still measured
# at every radius scale (solver/estimate.py).
RADIAL_EVERY = 0


def derived_seed(seed: int, *parts: object) -> int:
    """A 63-bit seed from the job seed and a purpose, stable across runs and machines."""
    text = ":".join([str(seed), *map(str, parts)]).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "little") >> 1


def sobol(n: int, dim: int, seed: int) -> Tensor:
    """n scrambled Sobol points in [0, 1)^dim (float64), deterministic in ``seed``."""
    if dim > torch.quasirandom.SobolEngine.MAXDIM:
        gen = torch.Generator().manual_seed(seed)
        return torch.rand(n, dim, dtype=DTYPE, generator=gen)
    engine = torch.quasirandom.SobolEngine(dim, scramble=True, seed=seed)  # type: ignore[no-untyped-call]
    return engine.draw(n, dtype=DTYPE)


def uniform(n: int, dim: int, seed: int, method: str = "sobol") -> Tensor:
    """n points in [0, 1)^dim: scrambled Sobol (``"sobol"``) or i.i.d. uniform (``"uniform"``)."""
    if method == "uniform":
        gen = torch.Generator().manual_seed(seed)
        return torch.rand(n, dim, dtype=DTYPE, generator=gen)
    return sobol(n, dim, seed)


def gaussian(u: Tensor) -> Tensor:
    """Standard normals from uniforms by the inverse CDF (keeps the low discrepancy)."""
    eps = torch.finfo(u.dtype).eps
    return math.sqrt(2.0) * torch.erfinv(2.0 * u.clamp(eps, 1 - eps) - 1.0)


@dataclass(frozen=True)
class Slab:
    """The time interval [start, end] (or none) in front of the space coordinates."""

    start: float
    end: float

    @classmethod
    def from_spec(cls, time: TimeInterval | None) -> Slab | None:
        return None if time is None else cls(time.start, time.end)

    def times(self, u: Tensor) -> Tensor:
        return self.start + u * (self.end - self.start)
