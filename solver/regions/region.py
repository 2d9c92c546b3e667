"""The region base class: a set of R^d that training samples, with its bounding box.

A region answers four questions: where its interior points are (``draw_interior``), where
its boundary points are and their outward unit normals (``draw_boundary``), which points it
contains (``contains``, the closed set), and which boundary parts a condition may name
(``parts``).  Draws are deterministic in their seed (solver.domains.uniform), so a resumed
run draws exactly the points the uninterrupted run would have drawn.

Regions with a direct map from the unit cube (box, ball, whole space, polygon) draw n
uniforms of ``interior_columns()`` (+ ``extra``) columns and map them (``interior(u)``);
the ``extra`` columns (the time coordinate) come from the same low-discrepancy draw, in the
same rows.  Set operations (union, intersection, difference) have no such map: they draw
more points of a bounding region and keep the first n that lie in the set, each with its
row of extra columns (rejection sampling, still deterministic in the seed).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from torch import Tensor

from solver.domains import DTYPE, uniform

#: A point counts as inside when it is within this distance of the closed set (scaled by
#: the size of the bounding box): boundary points must pass ``contains``.
TOLERANCE = 1e-9


class Region(ABC):
    """A region of R^d: ``kind``, ``dimension``, its bounding box ``lower``/``upper`` (which
    normalizes the network's inputs), and ``center``/``radius`` (a ball's, else the box's
    centre and 0)."""

    kind: str
    dimension: int
    lower: Tensor
    upper: Tensor
    center: Tensor
    radius: float

    # ------------------------------------------------------------------ direct maps
    @abstractmethod
    def interior_columns(self) -> int:
        """Uniform columns ``interior`` maps to one interior point."""

    @abstractmethod
    def interior(self, u: Tensor) -> Tensor:
        """Uniforms u in [0, 1)^(n x interior_columns()) -> n interior points (n, d)."""

    @abstractmethod
    def boundary_columns(self) -> int:
        """Uniform columns ``boundary`` maps to one boundary point."""

    @abstractmethod
    def boundary(self, u: Tensor, on: str) -> tuple[Tensor, Tensor]:
        """Uniforms -> n points on the boundary part ``on`` and their outward unit normals."""

    # ------------------------------------------------------------------ draws
    def draw_interior(
        self, n: int, seed: int, method: str = "sobol", extra: int = 0
    ) -> tuple[Tensor, Tensor]:
        """n interior points and their n x ``extra`` uniforms (same draw, same rows)."""
        cols = self.interior_columns()
        u = uniform(n, cols + extra, seed, method)
        return self.interior(u[:, :cols]), u[:, cols:]

    def draw_boundary(
        self, n: int, on: str, seed: int, method: str = "sobol", extra: int = 0
    ) -> tuple[Tensor, Tensor, Tensor]:
        """n points of the boundary part ``on``, their outward normals and n x ``extra`` uniforms."""
        cols = self.boundary_columns()
        u = uniform(n, cols + extra, seed, method)
        x, normals = self.boundary(u[:, :cols], on)
        return x, normals, u[:, cols:]

    def draw_validation(self, n: int, seed: int, extra: int = 0) -> tuple[Tensor, Tensor]:
        """i.i.d. uniform points where errors are measured (independent of training draws)."""
        return self.draw_interior(n, seed, "uniform", extra)

    # ------------------------------------------------------------------ membership
    @abstractmethod
    def contains(self, x: Tensor) -> Tensor:
        """Whether each point (n, d) lies in the closed region (bool (n,), within TOLERANCE)."""

    def parts(self) -> tuple[str, ...]:
        """The boundary parts a condition may name in ``on`` (always "boundary" first)."""
        return ("boundary",)

    def boundary_measure(self) -> float:
        """The size of the boundary (length, area, ...); regions without one raise."""
        raise ValueError(f"a {self.kind} region has no boundary to measure")

    def scale(self) -> float:
        """The size of the bounding box, for tolerances."""
        return float((self.upper - self.lower).abs().max().clamp_min(1.0))


__all__ = ["DTYPE", "TOLERANCE", "Region"]
