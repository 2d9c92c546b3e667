"""Polygons and set operations (solver.regions): points where they belong, outward normals
on the boundary only (never on a seam between two members), named edges, and one clear
message for each malformed domain."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from solver.regions import Difference, Polygon, Region, Union, region_of
from tests.solver.spec_messages import one_message

F64 = torch.float64
ROOT = Path(__file__).resolve().parents[2]
L_VERTICES = [[-1.0, -1.0], [0.0, -1.0], [0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [-1.0, 1.0]]
BOX = {"box": {"lower": [-1.0, -1.0], "upper": [1.0, 1.0]}}
CORNER = {"box": {"lower": [0.0, -1.0], "upper": [1.0, 0.0]}}
L_DOMAINS: dict[str, dict[str, Any]] = {
    "polygon": {"polygon": {"vertices": L_VERTICES}},
    "difference": {"difference": [BOX, CORNER]},
    "union": {
        "union": [
            {"box": {"lower": [-1.0, 0.0], "upper": [1.0, 1.0]}},
            {"box": {"lower": [-1.0, -1.0], "upper": [0.0, 1.0]}},
        ]
    },
}


def _l_shape() -> Polygon:
    return Polygon(L_VERTICES)


def _outward(region: Region, x: torch.Tensor, normals: torch.Tensor, eps: float = 1e-4) -> None:
    """Unit normals, pointing out: a small step along one leaves the region, against it stays."""
    torch.testing.assert_close(normals.norm(dim=1), torch.ones(len(normals), dtype=F64))
    assert bool(region.contains(x).all())
    assert not bool(region.contains(x + eps * normals).any())
    assert bool(region.contains(x - eps * normals).all())


@pytest.mark.parametrize("name", sorted(L_DOMAINS))
def test_the_l_shape_three_ways(name: str) -> None:
    region = region_of(L_DOMAINS[name], 2)
    reference = _l_shape()
    x, extra = region.draw_interior(3000, seed=4, extra=1)
    assert x.shape == (3000, 2) and extra.shape == (3000, 1)
    assert bool(reference.contains(x).all())
    # uniform over the three unit squares of the L: a third in each
    upper_right = ((x[:, 0] > 0) & (x[:, 1] > 0)).double().mean()
    assert abs(float(upper_right) - 1 / 3) < 0.03
    points, normals, _ = region.draw_boundary(2000, "boundary", seed=5)
    assert float(reference.distance_to_boundary(points).max()) < 1e-9
    _outward(region, points, normals)
    # the boundary is drawn by length: the two edges at the re-entrant corner are 1/8 of it
    inner = (points[:, 0].abs() < 1e-12) & (points[:, 1] < 0) | (points[:, 1].abs() < 1e-12) & (
        points[:, 0] > 0
    )
    assert abs(float(inner.double().mean()) - 2 / 8) < 0.04
    # draws are deterministic in the seed
    again, _ = region.draw_interior(3000, seed=4, extra=1)
    assert torch.equal(x, again)


def test_a_union_of_two_boxes_has_no_boundary_on_their_shared_face() -> None:
    region = region_of(L_DOMAINS["union"], 2)
    points, _, _ = region.draw_boundary(4000, "boundary", seed=1)
    seam = (points[:, 0].abs() < 1e-9) & (points[:, 1] > 1e-9)  # x0 = 0 inside the upper box
    assert not bool(seam.any())


def test_polygon_edges_by_name_and_either_orientation() -> None:
    ccw, cw = Polygon(L_VERTICES), Polygon(L_VERTICES[::-1])
    assert ccw.parts() == ("boundary", *(f"edge{k}" for k in range(6)))
    u = torch.linspace(0, 1, 11, dtype=F64).unsqueeze(1)
    points, normals = ccw.boundary(u, "edge2")  # (0, 0) -> (1, 0): the outward normal is -e1
    torch.testing.assert_close(points[:, 1], torch.zeros(11, dtype=F64))
    torch.testing.assert_close(points[:, 0], u[:, 0])
    assert torch.equal(normals, torch.tensor([[0.0, -1.0]] * 11, dtype=F64))
    for polygon in (ccw, cw):
        x, normals = polygon.boundary(torch.rand(500, 1, dtype=F64), "boundary")
        _outward(polygon, x[(x.abs() < 0.999).all(1) | True], normals)
    with pytest.raises(ValueError, match="edge6"):
        ccw.boundary(u, "edge6")
    assert math.isclose(ccw.area, 3.0) and math.isclose(ccw.boundary_measure(), 8.0)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0.2, 3.0), st.floats(0.0, 1.0)),
        min_size=3,
        max_size=9,
    ),
    st.integers(0, 2**31),
)
def test_star_shaped_polygons_hold_their_points(radii_angles: list[tuple[float, float]], seed: int) -> None:
    """Vertices at increasing angles around the origin make a simple star-shaped polygon; its
    interior draw lies in it, covers its area, and its boundary points are on the edges."""
    angles = sorted({round(a, 3) for _, a in radii_angles})
    if len(angles) < 3:
        return
    vertices = [
        [r * math.cos(2 * math.pi * a), r * math.sin(2 * math.pi * a)]
        for (r, _), a in zip(radii_angles, angles, strict=False)
    ]
    try:
        polygon = Polygon(vertices)
    except ValueError:
        return  # collinear or touching: refused, which test_bad_domains checks separately
    x, _ = polygon.draw_interior(400, seed)
    assert bool(polygon.contains(x).all())
    points, normals, _ = polygon.draw_boundary(200, "boundary", seed)
    assert float(polygon.distance_to_boundary(points).max()) < 1e-9
    torch.testing.assert_close(normals.norm(dim=1), torch.ones(200, dtype=F64))


def test_an_intersection_of_a_box_and_a_ball() -> None:
    region = region_of(
        {
            "intersection": [
                {"box": {"lower": [0.0, 0.0], "upper": [2.0, 2.0]}},
                {"ball": {"center": [0.0, 0.0], "radius": 1.0}},
            ]
        },
        2,
    )
    x, _ = region.draw_interior(2000, seed=2)
    assert bool((x >= -1e-12).all()) and bool((x.norm(dim=1) <= 1 + 1e-12).all())
    points, normals, _ = region.draw_boundary(2000, "boundary", seed=3)
    _outward(region, points, normals)
    on_arc = (points.norm(dim=1) - 1).abs() < 1e-9
    # the quarter circle (pi/2) against the two radii (1 + 1): its share of the boundary
    assert abs(float(on_arc.double().mean()) - (math.pi / 2) / (math.pi / 2 + 2)) < 0.04


def _lshape_spec(domain: dict[str, Any], **problem: Any) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((ROOT / "examples" / "lshape-poisson.json").read_text())
    spec["problem"]["domain"] = domain
    spec["problem"].update(problem)
    return spec


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ({"polygon": {"vertices": [[0, 0], [1, 1], [1, 0], [0, 1]]}}, "cross or touch"),
        ({"polygon": {"vertices": [[0, 0], [1, 0], [0, 0], [0, 1]]}}, "the same point"),
        ({"polygon": {"vertices": [[0, 0], [1, 1], [2, 2]]}}, "no area"),
        ({"union": []}, "union: an empty list"),
        ({"intersection": []}, "intersection: an empty list"),
        ({"difference": [BOX]}, "exactly 2 regions"),
        ({"difference": [BOX, BOX]}, "difference is empty"),
        (
            {"intersection": [BOX, {"box": {"lower": [2.0, 2.0], "upper": [3.0, 3.0]}}]},
            "intersection is empty",
        ),
        ({"union": [BOX, {"whole_space": {"train_radius": 1.0}}]}, "exactly one key: box, ball or polygon"),
        ({"union": [BOX, {"union": [BOX]}]}, "exactly one key: box, ball or polygon"),
        ({"union": [BOX, {"box": {"lower": [0.0], "upper": [1.0]}}]}, "different dimensions"),
    ],
)
def test_bad_domains_get_one_clearone_message(domain: dict[str, Any], expected: str) -> None:
    assert expected in one_message(_lshape_spec(domain))


def test_conditions_name_the_parts_a_domain_has() -> None:
    spec = _lshape_spec(L_DOMAINS["polygon"])
    spec["problem"]["conditions"][0]["on"] = "edge6"
    message = one_message(spec)
    assert "'edge6' is not a boundary part" in message and "'edge5'" in message
    spec = _lshape_spec(L_DOMAINS["difference"])
    spec["problem"]["conditions"][0]["on"] = "x0=lower"
    assert "allowed: 'boundary'" in one_message(spec)
    spec = _lshape_spec(L_DOMAINS["polygon"], dimension=3)
    assert "dimension" in one_message(spec)


def test_region_of_builds_the_set_operations() -> None:
    assert isinstance(region_of(L_DOMAINS["difference"], 2), Difference)
    assert isinstance(region_of(L_DOMAINS["union"], 2), Union)


def test_refused_and_bounded_shapes() -> None:
    """Validation stays cheap and draws stay bounded: at most 256 vertices; sets that only
    touch or fill under 0.1 % of their bounding box are refused; contains works in chunks."""
    many = [[math.cos(2 * math.pi * k / 257), math.sin(2 * math.pi * k / 257)] for k in range(257)]
    with pytest.raises(ValueError, match="at most 256 vertices"):
        Polygon(many)
    touching = {"intersection": [BOX, {"box": {"lower": [1.0, -1.0], "upper": [2.0, 1.0]}}]}
    with pytest.raises(ValueError, match="only touch"):
        region_of(touching, 2)
    thin = {"difference": [BOX, {"box": {"lower": [-0.9995, -1.0], "upper": [1.0, 1.0]}}]}
    with pytest.raises(ValueError, match="too thin to sample"):
        region_of(thin, 2)
    polygon = _l_shape()
    x = torch.rand(70_000, 2, dtype=F64, generator=torch.Generator().manual_seed(0)) * 2.2 - 1.1
    pieces = torch.cat([polygon.contains(part) for part in torch.split(x, 1000)])
    assert torch.equal(polygon.contains(x), pieces)


def test_a_subtracted_region_touching_from_outside_does_not_double_a_face() -> None:
    region = region_of(
        {
            "difference": [
                {"box": {"lower": [0.0, 0.0], "upper": [2.0, 1.0]}},
                {"box": {"lower": [2.0, 0.0], "upper": [3.0, 1.0]}},
            ]
        },
        2,
    )
    points, _, _ = region.draw_boundary(6000, "boundary", seed=2)
    on_face = (points[:, 0] - 2.0).abs() < 1e-12
    assert abs(float(on_face.double().mean()) - 1 / 6) < 0.03  # its length over the perimeter
