"""Union, intersection and difference of regions (box, ball, polygon, or set operations).

They have no direct map from the unit cube, so they sample by rejection, deterministically:

* **interior**: rows of a draw in the bounding box are kept when the point lies in the set,
  in order, with their extra columns, until n are found (each further round draws with a
  seed derived from the first one);
* **boundary**: each component draws boundary points and outward normals (for the
  subtracted set of a difference, the normal turned around) in proportion to the size of
  its boundary, the rows are shuffled (a seeded permutation), a candidate on a face an
  earlier component has too is dropped (drawn once, not twice), and the candidate (p, n) is kept
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
ROUNDS = 256
#: The smallest share of its bounding box a set may fill (thinner ones cost too many draws).
SMALLEST_SHARE = 1e-3
PROBE = 8192
STEP = 1e-6


class SetOperation(Region):
    """The common part of union, intersection and difference: bounding box, draws, parts."""

    operation: str
    members: list[Region]

    def __init__(self, members: Sequence[Region], lower: Tensor, upper: Tensor) -> None:
        self.members = list(members)
        self.dimension = members[0].dimension
        if bool((upper - lower <= 1e-12 * float((upper - lower).abs().max().clamp_min(1.0))).any()):
            raise ValueError(f"the {self.operation} is empty: its regions do not overlap (or only touch)")
        self.lower, self.upper = lower, upper
        self.center = (lower + upper) / 2
        self.radius = 0.0
        probe = self.lower + uniform(PROBE, self.dimension, 0, "sobol") * (self.upper - self.lower)
        self.share = float(self.contains(probe).double().mean())
        if self.share < SMALLEST_SHARE:
            raise ValueError(
                f"the {self.operation} is empty or too thin to sample: {self.share:.2%} of {PROBE} points "
                f"spread over its bounding box lie in it, under the {SMALLEST_SHARE:.1%} needed"
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
        batch = min(int(n / self.share * 1.2), 8 * n) + 64  # memory bounded: more rounds instead
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
        eps = STEP * self.scale()
        found: list[Tensor] = []
        normals: list[Tensor] = []
        rest: list[Tensor] = []
        count = 0
        batch = 2 * n + 64
        for round_ in range(ROUNDS):
            base = seed if round_ == 0 else derived_seed(seed, round_)
            # each member draws its share of the batch, in proportion to its boundary (a
            # stratified split: choosing rows by another low-discrepancy column would select
            # a structured subset of each member's sequence), then the rows are shuffled
            shares = torch.round(batch * weights / weights.sum()).long().clamp_min(1).tolist()
            drawn = [
                member.draw_boundary(int(m), "boundary", derived_seed(base, "member", index), method, extra)
                for index, ((member, _), m) in enumerate(zip(pieces, shares, strict=True))
            ]
            x = torch.cat([px for px, _, _ in drawn])
            normal = torch.cat([sign * pn for (_, sign), (_, pn, _) in zip(pieces, drawn, strict=True)])
            more = torch.cat([pu for _, _, pu in drawn])
            source = torch.cat([torch.full((int(m),), i) for i, m in enumerate(shares)])
            shuffle = torch.Generator().manual_seed(derived_seed(base, "order"))
            order = torch.randperm(x.shape[0], generator=shuffle)
            x, normal, more, source = x[order], normal[order], more[order], source[order]
            keep = self.contains(x - eps * normal) & ~self.contains(x + eps * normal)
            keep &= ~self._claimed(x, normal, source, eps)
            found.append(x[keep])
            normals.append(normal[keep])
            rest.append(more[keep])
            count += int(keep.sum())
            if count >= n:
                break
        else:
            raise ValueError(f"could not draw {n} boundary points of the {self.operation} in {ROUNDS} rounds")
        return torch.cat(found)[:n], torch.cat(normals)[:n], torch.cat(rest)[:n]

    def _claimed(self, x: Tensor, normal: Tensor, source: Tensor, eps: float) -> Tensor:
        """Candidates on a face that an earlier piece of the same orientation has too (two
        boxes of a union sharing the line x0 = -1): kept from the first piece only, so that
        a coincident part of the boundary is not drawn twice as often."""
        pieces = self.pieces()
        claimed = torch.zeros(x.shape[0], dtype=torch.bool)
        for i in range(1, len(pieces)):
            rows = source == i
            if not bool(rows.any()):
                continue
            inward, outward = x[rows] - eps * normal[rows], x[rows] + eps * normal[rows]
            for member, sign in pieces[:i]:
                inside_in, inside_out = member.contains(inward), member.contains(outward)
                if sign > 0:  # the same face of an earlier member, same outward side
                    claimed[rows] |= inside_in & ~inside_out
                else:  # a subtracted member's face, its outside facing the same way
                    claimed[rows] |= ~inside_in & inside_out
        return claimed

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
        _same_dimension("union", members)
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
        _same_dimension("intersection", members)
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
        _same_dimension("difference", members)
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


def _same_dimension(operation: str, members: Sequence[Region]) -> None:
    dimensions = sorted({m.dimension for m in members})
    if len(dimensions) > 1:
        raise ValueError(f"the regions of a {operation} have different dimensions: {dimensions}")


def _axes(d: int) -> list[Tensor]:
    """The 2d unit directions +-e_i: a point is strictly inside a set when all 2d steps stay in."""
    eye = torch.eye(d, dtype=DTYPE)
    return [*eye, *(-eye)]
