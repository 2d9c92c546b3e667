"""A simple polygon of R^2: its triangulation, edges and outward normals.

Interior points: the polygon is cut into triangles by ear clipping, a triangle is chosen with
probability proportional to its area (the third uniform column), and the point is placed in
it by the map (u0, u1) -> (1 - s) A + s (1 - u1) B + s u1 C with s = sqrt(u0), which is
uniform in the triangle ABC.  Boundary points: one uniform column, the position along the
perimeter (``"boundary"``) or along one edge (``"edge<k>"``, from vertex k to vertex k+1).
The outward normal of an edge is its direction turned by -90 degrees for a counterclockwise
polygon (+90 for a clockwise one).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from solver.regions.region import DTYPE, TOLERANCE, Region

Point = tuple[float, float]
#: Point-edge pairs examined at once by ``contains`` (a few MB of temporaries).
CHUNK_ENTRIES = 1 << 18
#: The most vertices a polygon may have: its checks and triangulation are quadratic and
#: cubic in the count, and they run when a spec is validated.
MAX_VERTICES = 256


def signed_area(vertices: Sequence[Point]) -> float:
    """The shoelace formula: > 0 for a counterclockwise polygon."""
    n = len(vertices)
    return 0.5 * sum(
        vertices[i][0] * vertices[(i + 1) % n][1] - vertices[(i + 1) % n][0] * vertices[i][1]
        for i in range(n)
    )


def _cross(o: Point, a: Point, b: Point) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _on_segment(p: Point, a: Point, b: Point) -> bool:
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def segments_meet(a: Point, b: Point, c: Point, d: Point) -> bool:
    """Whether the closed segments ab and cd have a point in common."""
    d1, d2, d3, d4 = _cross(c, d, a), _cross(c, d, b), _cross(a, b, c), _cross(a, b, d)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True
    return (
        (d1 == 0 and _on_segment(a, c, d))
        or (d2 == 0 and _on_segment(b, c, d))
        or (d3 == 0 and _on_segment(c, a, b))
        or (d4 == 0 and _on_segment(d, a, b))
    )


def polygon_problem(vertices: Sequence[Point]) -> str | None:
    """Why ``vertices`` are not a simple polygon (None when they are): fewer than 3, a
    repeated vertex, zero area, or two edges that cross or touch (other than neighbours at
    their common vertex)."""
    n = len(vertices)
    if n < 3:
        return f"a polygon needs at least 3 vertices, got {n}"
    if n > MAX_VERTICES:
        return f"a polygon may have at most {MAX_VERTICES} vertices, got {n}"
    for i in range(n):
        for j in range(i + 1, n):
            if vertices[i] == vertices[j]:
                return f"vertices {i} and {j} are the same point {list(vertices[i])}"
    for i in range(n):
        a, b = vertices[i], vertices[(i + 1) % n]
        for j in range(i + 1, n):
            if j == i or (j + 1) % n == i or j == (i + 1) % n:
                continue  # neighbours share a vertex
            c, d = vertices[j], vertices[(j + 1) % n]
            if segments_meet(a, b, c, d):
                return (
                    f"edge{i} ({list(a)} -> {list(b)}) and edge{j} ({list(c)} -> {list(d)}) cross or touch: "
                    "the polygon must be simple (list the vertices in order around it)"
                )
    if abs(signed_area(vertices)) <= 1e-14 * max(1.0, max(abs(c) for v in vertices for c in v)) ** 2:
        return "the vertices enclose no area (they lie on one line)"
    # two neighbouring edges that fold back onto each other overlap along a segment
    for i in range(n):
        a, b, c = vertices[i - 1], vertices[i], vertices[(i + 1) % n]
        if _cross(a, b, c) == 0 and (b[0] - a[0]) * (c[0] - b[0]) + (b[1] - a[1]) * (c[1] - b[1]) < 0:
            return f"the edges at vertex {i} fold back onto each other"
    return None


def triangulate(vertices: Sequence[Point]) -> list[tuple[int, int, int]]:
    """Ear clipping of a simple polygon: n - 2 triangles (counterclockwise index triples)."""
    order = list(range(len(vertices)))
    if signed_area(vertices) < 0:
        order.reverse()
    triangles: list[tuple[int, int, int]] = []
    while len(order) > 3:
        for k in range(len(order)):
            i, j, m = order[k - 1], order[k], order[(k + 1) % len(order)]
            a, b, c = vertices[i], vertices[j], vertices[m]
            if _cross(a, b, c) <= 0:
                continue  # reflex or flat: not an ear
            inside = any(
                _cross(a, b, vertices[p]) >= 0
                and _cross(b, c, vertices[p]) >= 0
                and _cross(c, a, vertices[p]) >= 0
                for p in order
                if p not in (i, j, m)
            )
            if not inside:
                triangles.append((i, j, m))
                del order[k]
                break
        else:  # numerically degenerate: drop a flat vertex
            del order[0]
    triangles.append((order[0], order[1], order[2]))
    return triangles


class Polygon(Region):
    """A simple polygon of R^2 given by its vertices in order (either orientation); its parts
    are ``boundary`` and ``edge<k>`` (vertex k to vertex k+1, the last edge back to vertex 0)."""

    kind = "polygon"

    def __init__(self, vertices: Sequence[Sequence[float]]) -> None:
        points = [(float(v[0]), float(v[1])) for v in vertices]
        problem = polygon_problem(points)
        if problem is not None:
            raise ValueError(problem)
        self.vertices = torch.tensor(points, dtype=DTYPE)
        self.dimension = 2
        self.lower = self.vertices.min(0).values
        self.upper = self.vertices.max(0).values
        self.center = (self.lower + self.upper) / 2
        self.radius = 0.0
        self._orientation = 1.0 if signed_area(points) > 0 else -1.0
        triangles = torch.tensor(triangulate(points), dtype=torch.long)
        self._corners = self.vertices[triangles]  # (n - 2, 3, 2)
        a, b, c = self._corners[:, 0], self._corners[:, 1], self._corners[:, 2]
        areas = 0.5 * ((b - a)[:, 0] * (c - a)[:, 1] - (b - a)[:, 1] * (c - a)[:, 0]).abs()
        self._area_cdf = torch.cumsum(areas / areas.sum(), 0)
        self.area = float(areas.sum())
        self._starts = self.vertices
        self._ends = self.vertices.roll(-1, 0)
        direction = self._ends - self._starts
        self._lengths = direction.norm(dim=1)
        turned = torch.stack([direction[:, 1], -direction[:, 0]], 1) * self._orientation
        self._normals = turned / self._lengths.unsqueeze(1)
        self._length_cdf = torch.cumsum(self._lengths / self._lengths.sum(), 0)

    def interior_columns(self) -> int:
        return 3

    def interior(self, u: Tensor) -> Tensor:
        pick = torch.searchsorted(self._area_cdf, u[:, 2].clamp(max=1 - 1e-15).contiguous())
        pick = pick.clamp(max=self._corners.shape[0] - 1)
        a, b, c = self._corners[pick, 0], self._corners[pick, 1], self._corners[pick, 2]
        s = u[:, :1].sqrt()
        t = u[:, 1:2]
        return (1 - s) * a + s * (1 - t) * b + s * t * c

    def boundary_columns(self) -> int:
        return 1

    def boundary(self, u: Tensor, on: str) -> tuple[Tensor, Tensor]:
        if on == "boundary":  # position along the perimeter
            position = u[:, 0].clamp(max=1 - 1e-15).contiguous()
            edge = torch.searchsorted(self._length_cdf, position).clamp(max=len(self._lengths) - 1)
            before = torch.cat([torch.zeros(1, dtype=DTYPE), self._length_cdf])[edge]
            share = (self._length_cdf[edge] - before).clamp_min(1e-300)
            along = ((position - before) / share).clamp(0.0, 1.0)
        else:
            edge = torch.full((u.shape[0],), self.edge_index(on), dtype=torch.long)
            along = u[:, 0]
        start, end = self._starts[edge], self._ends[edge]
        return start + along.unsqueeze(1) * (end - start), self._normals[edge]

    def edge_index(self, on: str) -> int:
        if on not in self.parts():
            raise ValueError(f"{on!r} is not a part of this polygon; allowed: {', '.join(self.parts())}")
        return int(on.removeprefix("edge"))

    def contains(self, x: Tensor) -> Tensor:
        """Inside by the even-odd rule, or within the tolerance of an edge; in chunks of points,
        so that memory stays at about CHUNK_ENTRIES points x edges whatever the count."""
        rows = max(1, CHUNK_ENTRIES // self._starts.shape[0])
        if x.shape[0] > rows:
            return torch.cat([self.contains(part) for part in torch.split(x, rows)])
        px, py = x[:, :1], x[:, 1:2]
        ax, ay = self._starts[:, 0], self._starts[:, 1]
        bx, by = self._ends[:, 0], self._ends[:, 1]
        straddles = (ay > py) != (by > py)
        crossing_x = ax + (py - ay) * (bx - ax) / torch.where(by == ay, torch.ones_like(by), by - ay)
        inside = ((straddles & (px < crossing_x)).sum(1) % 2) == 1
        return inside | (self.distance_to_boundary(x) <= TOLERANCE * self.scale())

    def distance_to_boundary(self, x: Tensor) -> Tensor:
        """The distance of each point to the nearest edge."""
        start, direction = self._starts, self._ends - self._starts
        rel = x.unsqueeze(1) - start  # (n, m, 2)
        along = ((rel * direction).sum(2) / (self._lengths**2)).clamp(0.0, 1.0)
        nearest = start + along.unsqueeze(2) * direction
        distance: Tensor = (x.unsqueeze(1) - nearest).norm(dim=2).min(1).values
        return distance

    def parts(self) -> tuple[str, ...]:
        return ("boundary", *(f"edge{k}" for k in range(self.vertices.shape[0])))

    def boundary_measure(self) -> float:
        return float(self._lengths.sum())

    def volume(self) -> float:
        return self.area


__all__ = ["Polygon", "polygon_problem", "segments_meet", "signed_area", "triangulate"]
