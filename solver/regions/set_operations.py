"""Union, intersection and difference of regions (box, ball, polygon, or set operations).

They have no direct map from the unit cube, so they sample by rejection, deterministically:

* **interior**: rows of a draw in the bounding box are kept when the point lies in the set,
  in order, with their extra columns, until n are found (each further round draws with a
  seed derived from the first one);
* **boundary**: each row picks a component (with probability proportional to the size of
  its boundary) and takes that component's boundary point and outward normal (for the
  subtracted set of a difference, the normal turned around); the candidate (p, n) is kept
  when the set contains p - eps n and not p + eps n (eps = 1e-6 of the bounding box), so
  where two components touch (an L-shape made of two boxes) the shared face is not taken
  for boundary.

The set is refused (``ValueError``) when it is empty or so thin that a draw of 8,192 points
of its bounding box finds none of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from solver.domains import derived_seed, uniform
from solver.regions.region import DTYPE, Region

#: Rejection rounds before a draw gives up (the set is too thin for its bounding box).
ROUNDS = 64
PROBE = 8192
STEP = 1e-6


class SetOperation(Region):
    """The common part of union, intersection and difference: bounding box, draws, parts."""

    operation: str
    members: list[Region]

    def __init__(self, members: Sequence[Region], lower: Tensor, upper: Tensor) -> None:
        dimensions = {m.dimension for m in members}
        if len(dimensions) != 1:
            raise ValueError(
                f"the regions of a {self.operation} have different dimensions: {sorted(dimensions)}"
            )
        self.members = list(members)
        self.dimension = members[0].dimension
        if bool((lower > upper).any()):
            raise ValueError(f"the {self.operation} is empty: its regions do not overlap")
        self.lower, self.upper = lower, upper
        self.center = (lower + upper) / 2
        self.radius = 0.0
        probe = self.lower + uniform(PROBE, self.dimension, 0, "sobol") * (self.upper - self.lower)
        self.share = float(self.contains(probe).double().mean())
        if self.share == 0.0:
            raise ValueError(
                f"the {self.operation} is empty (or too thin to sample: no point of {PROBE} spread over "
                "its bounding box lies in it)"
            )

    # the direct maps do not exist: draws only
    def interior_columns(self) -> int:
        return self.dimension

    def interior(self, u: Tensor) -> Tensor:
        raise TypeError(f"a {self.operation} has no direct map from the unit cube: use draw_interior")

    def boundary_columns(self) -> int:
        return self.dimension

    def boundary(self, u: Tensor, on: str) -> tuple[Tensor, Tensor]:
        raise TypeError(f"a {self.operation} has no direct map from the unit cube: use draw_boundary")

    def draw_interior(
        self, n: int, seed: int, method: str = "sobol", extra: int = 0
    ) -> tuple[Tensor, Tensor]:
        """The first n rows of bounding-box draws that fall in the set, with their extras."""
        found: list[Tensor] = []
        rest: list[Tensor] = []
        count = 0
        batch = int(n / max(self.share, 1e-3) * 1.2) + 64
        for round_ in range(ROUNDS):
            u = uniform(
                batch, self.dimension + extra, seed if round_ == 0 else derived_seed(seed, round_), method
            )
            x = self.lower + u[:, : self.dimension] * (self.upper - self.lower)
            keep = self.contains(x)
            found.append(x[keep])
            rest.append(u[keep, self.dimension :])
            count += int(keep.sum())
            if count >= n:
                break
        else:
            raise ValueError(f"could not draw {n} points of the {self.operation} in {ROUNDS} rounds")
        return torch.cat(found)[:n], torch.cat(rest)[:n]

    def draw_boundary(
        self, n: int, on: str, seed: int, method: str = "sobol", extra: int = 0
    ) -> tuple[Tensor, Tensor, Tensor]:
        if on != "boundary":
            raise ValueError(f"{on!r} is not a part of a {self.operation}; its one part is 'boundary'")
        pieces = self.pieces()
        weights = torch.tensor([member.boundary_measure() for member, _ in pieces], dtype=DTYPE)
        cdf = torch.cumsum(weights / weights.sum(), 0)
        eps = STEP * self.scale()
        found: list[Tensor] = []
        normals: list[Tensor] = []
        rest: list[Tensor] = []
        count = 0
        batch = 2 * n + 64
        for round_ in range(ROUNDS):
            base = seed if round_ == 0 else derived_seed(seed, round_)
            choice = uniform(batch, 1 + extra, derived_seed(base, "choice"), method)
            pick = torch.searchsorted(cdf, choice[:, 0].clamp(max=1 - 1e-15).contiguous()).clamp(
                max=len(pieces) - 1
            )
            x = torch.empty(batch, self.dimension, dtype=DTYPE)
            normal = torch.empty(batch, self.dimension, dtype=DTYPE)
            for index, (member, sign) in enumerate(pieces):
                px, pn, _ = member.draw_boundary(
                    batch, "boundary", derived_seed(base, "member", index), method
                )
                rows = pick == index
                x[rows], normal[rows] = px[rows], sign * pn[rows]
            keep = self.contains(x - eps * normal) & ~self.contains(x + eps * normal)
            found.append(x[keep])
            normals.append(normal[keep])
            rest.append(choice[keep, 1:])
            count += int(keep.sum())
            if count >= n:
                break
        else:
            raise ValueError(f"could not draw {n} boundary points of the {self.operation} in {ROUNDS} rounds")
        return torch.cat(found)[:n], torch.cat(normals)[:n], torch.cat(rest)[:n]

    def pieces(self) -> list[tuple[Region, float]]:
        """The members whose boundaries make up this set's boundary, with the sign of their
        normals (-1: the subtracted set of a difference)."""
        return [(member, 1.0) for member in self.members]

    def boundary_measure(self) -> float:
        """An upper bound: the members' boundaries together (used to weight nested draws)."""
        return float(sum(member.boundary_measure() for member, _ in self.pieces()))


class Union(SetOperation):
    """Points in any of the regions."""

    kind = operation = "union"

    def __init__(self, members: Sequence[Region]) -> None:
        if not members:
            raise ValueError("a union needs at least one region")
        lower = torch.stack([m.lower for m in members]).min(0).values
        upper = torch.stack([m.upper for m in members]).max(0).values
        super().__init__(members, lower, upper)

    def contains(self, x: Tensor) -> Tensor:
        inside = torch.zeros(x.shape[0], dtype=torch.bool)
        for member in self.members:
            inside |= member.contains(x)
        return inside


class Intersection(SetOperation):
    """Points in every one of the regions."""

    kind = operation = "intersection"

    def __init__(self, members: Sequence[Region]) -> None:
        if not members:
            raise ValueError("an intersection needs at least one region")
        lower = torch.stack([m.lower for m in members]).max(0).values
        upper = torch.stack([m.upper for m in members]).min(0).values
        super().__init__(members, lower, upper)

    def contains(self, x: Tensor) -> Tensor:
        inside = torch.ones(x.shape[0], dtype=torch.bool)
        for member in self.members:
            inside &= member.contains(x)
        return inside


class Difference(SetOperation):
    """Points of the first region that are not in the second (the closure of that set)."""

    kind = operation = "difference"

    def __init__(self, members: Sequence[Region]) -> None:
        if len(members) != 2:
            raise ValueError(
                f"a difference takes exactly two regions [D1, D2] (D1 minus D2), got {len(members)}"
            )
        super().__init__(members, members[0].lower.clone(), members[0].upper.clone())

    def contains(self, x: Tensor) -> Tensor:
        """In D1, and not strictly inside D2 (its boundary stays in the set: closed)."""
        first, second = self.members
        eps = STEP / 10 * self.scale()  # finer than the boundary test's step
        strictly_inside = second.contains(x)
        if bool(strictly_inside.any()):
            probes = [x + eps * direction for direction in _axes(self.dimension)]
            for probe in probes:
                strictly_inside &= second.contains(probe)
        return first.contains(x) & ~strictly_inside

    def pieces(self) -> list[tuple[Region, float]]:
        return [(self.members[0], 1.0), (self.members[1], -1.0)]


def _axes(d: int) -> list[Tensor]:
    """The 2d unit directions +-e_i: a point is strictly inside a set when all 2d steps stay in."""
    eye = torch.eye(d, dtype=DTYPE)
    return [*eye, *(-eye)]
