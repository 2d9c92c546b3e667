"""Sampling (solver.domains) and the regions of box, ball and whole space (solver.regions):
points where they belong, outward normals, determinism."""

from __future__ import annotations

import math

import pytest
import torch

from solver import domains
from solver.domains import WHOLE_SPACE_MARGIN, Slab, derived_seed, sobol
from solver.regions import Region, region_of
from solver.spec import (
    BallDomain,
    BallSpec,
    BoxDomain,
    BoxSpec,
    TimeInterval,
    WholeSpaceDomain,
    WholeSpaceSpec,
)

F64 = torch.float64


def box(lower: list[float], upper: list[float]) -> Region:
    return region_of(BoxDomain(box=BoxSpec(lower=lower, upper=upper)), len(lower))


def test_sobol_draws_are_deterministic_and_uniform() -> None:
    a, b = sobol(1024, 3, 7), sobol(1024, 3, 7)
    assert torch.equal(a, b)
    assert not torch.equal(a, sobol(1024, 3, 8))
    assert float(a.min()) >= 0.0 and float(a.max()) < 1.0
    torch.testing.assert_close(a.mean(0), torch.full((3,), 0.5, dtype=F64), atol=0.01, rtol=0)
    assert derived_seed(1, "interior", 0) != derived_seed(1, "interior", 1)


def test_box_interior_and_faces_with_outward_normals() -> None:
    region = box([0.0, -1.0, 2.0], [1.0, 1.0, 5.0])
    x = region.interior(sobol(2000, 3, 1))
    assert torch.all((x >= region.lower) & (x <= region.upper))
    points, normals = region.boundary(sobol(6000, region.boundary_columns(), 2), "boundary")
    on_face = ((points - region.lower).abs() < 1e-12) | ((points - region.upper).abs() < 1e-12)
    assert torch.all(on_face.any(1))
    torch.testing.assert_close(normals.norm(dim=1), torch.ones(6000, dtype=F64))
    # the normal points out: moving along it leaves the box
    outside = points + 1e-3 * normals
    assert torch.all(((outside < region.lower) | (outside > region.upper)).any(1))
    # faces are drawn in proportion to their area: x0 faces have area 2*3, x1 faces 1*3, x2 faces 1*2
    axis = normals.abs().argmax(1)
    shares = torch.bincount(axis, minlength=3).to(F64) / 6000
    torch.testing.assert_close(shares, torch.tensor([6, 3, 2], dtype=F64) / 11, atol=0.02, rtol=0)


def test_one_named_face() -> None:
    region = box([0.0, 0.0], [2.0, 1.0])
    points, normals = region.boundary(sobol(100, 3, 3), "x1=upper")
    assert torch.all(points[:, 1] == 1.0)
    assert torch.all(normals == torch.tensor([0.0, 1.0], dtype=F64))
    points, normals = region.boundary(sobol(100, 3, 3), "x0=lower")
    assert torch.all(points[:, 0] == 0.0) and torch.all(normals[:, 0] == -1.0)


def test_ball_interior_and_sphere() -> None:
    region = region_of(BallDomain(ball=BallSpec(center=[1.0, -2.0, 0.5], radius=2.0)), 3)
    x = region.interior(sobol(4000, region.interior_columns(), 4))
    r = (x - region.center).norm(dim=1)
    assert float(r.max()) <= 2.0
    # uniform in volume: the fraction inside radius 1 is (1/2)^3
    assert abs(float((r < 1.0).to(F64).mean()) - 0.125) < 0.02
    points, normals = region.boundary(sobol(500, region.boundary_columns(), 5), "boundary")
    torch.testing.assert_close((points - region.center).norm(dim=1), torch.full((500,), 2.0, dtype=F64))
    torch.testing.assert_close(normals, (points - region.center) / 2.0)


def test_whole_space_trains_on_the_padded_box_at_every_scale_and_time_slabs_map_uniforms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(domains, "RADIAL_EVERY", 2)
    region = region_of(WholeSpaceDomain(whole_space=WholeSpaceSpec(train_radius=3.0)), 4)
    padded = 3.0 * (1 + WHOLE_SPACE_MARGIN)
    x = region.interior(sobol(4000, region.interior_columns(), 6))
    assert float(x.abs().max()) <= padded
    radius = x[2000:].norm(dim=1)  # the last half: log-uniform radius in [1e-3 R', R']
    assert float(radius.min()) >= 1e-3 * padded * 0.999 and float(radius.max()) <= padded
    decades = torch.histc(torch.log10(radius / padded), bins=3, min=-3.0, max=0.0)
    assert float(decades.min()) > 0.25 * len(radius) / 3  # every decade of |x| is sampled
    assert float(x[:2000].norm(dim=1).min()) > 0.1  # the first half: uniform in the box
    monkeypatch.setattr(domains, "RADIAL_EVERY", 0)
    assert float(region.interior(sobol(4000, region.interior_columns(), 6)).norm(dim=1).min()) > 0.1
    slab = Slab.from_spec(TimeInterval(start=0.5, end=2.0))
    assert slab is not None
    t = slab.times(torch.tensor([0.0, 0.5, 1.0], dtype=F64))
    torch.testing.assert_close(t, torch.tensor([0.5, 1.25, 2.0], dtype=F64))
    assert Slab.from_spec(None) is None
    assert math.isclose(float(region.upper[0]), padded)
