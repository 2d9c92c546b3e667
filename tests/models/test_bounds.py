"""Interval enclosures of R Phi and D Phi: containment and tightening."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from models import constructions as C  # noqa: N812
from models.bounds import enclose, enclose_batch, enclose_values

from .conftest import random_net

F64 = torch.float64


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    dim=st.integers(1, 4),
    radius=st.floats(1e-3, 2.0),
    c=st.sampled_from([0.0, 0.5, 1.0]),
    activation=st.sampled_from(["relu", "leaky_relu"]),
)
def test_enclosures_contain_sampled_values_and_derivatives(
    seed: int, dim: int, radius: float, c: float, activation: str
) -> None:
    net = random_net([dim, 10, 8, 2], activation=activation, c=c, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    center = torch.randn(dim, dtype=F64, generator=gen)
    box = enclose(net, center - radius, center + radius)
    x = center + (torch.rand(3000, dim, dtype=F64, generator=gen) * 2 - 1) * radius
    corners = center + radius * (2 * torch.randint(0, 2, (16, dim), generator=gen).to(F64) - 1)
    x = torch.cat([x, corners, center.unsqueeze(0)])
    with torch.no_grad():
        u, jac = net.value_and_jacobian(x)
    assert torch.all((u >= box.value_lower) & (u <= box.value_upper))
    assert torch.all((jac >= box.jacobian_lower) & (jac <= box.jacobian_upper))


def test_enclosures_tighten_as_the_box_shrinks() -> None:
    net = random_net([3, 16, 16, 1], seed=7)
    center = torch.tensor([0.3, -0.2, 0.1], dtype=F64)
    widths_value, widths_jac = [], []
    for radius in (1.0, 0.3, 0.1, 0.03, 0.01, 1e-4):
        box = enclose(net, center - radius, center + radius)
        widths_value.append(float(box.value_width().max()))
        widths_jac.append(float(box.jacobian_width().max()))
    assert all(b <= a for a, b in itertools.pairwise(widths_value))
    assert all(b <= a for a, b in itertools.pairwise(widths_jac))
    assert widths_value[-1] < 1e-2 * widths_value[0]
    # at a point off the kinks the derivative enclosure collapses onto D Phi
    assert widths_jac[-1] < 1e-10
    with torch.no_grad():
        exact = net.jacobian(center.unsqueeze(0))[0]
    box = enclose(net, center - 1e-6, center + 1e-6)
    assert torch.all((exact >= box.jacobian_lower) & (exact <= box.jacobian_upper))


def test_enclosure_of_an_exact_construction_contains_it_and_tightens() -> None:
    chi = C.cutoff(2, 1.0, 0.5)
    previous = float("inf")
    widths = []
    for radius in (0.5, 0.1, 0.01):
        box = enclose(chi, [0.2 - radius, 0.1 - radius], [0.2 + radius, 0.1 + radius])
        assert float(box.value_lower[0]) <= 1.0 <= float(box.value_upper[0])
        assert float(box.jacobian_lower.max()) <= 0.0 <= float(box.jacobian_upper.min())
        assert float(box.value_width()[0]) <= previous
        previous = float(box.value_width()[0])
        widths.append(previous)
    # interval arithmetic loses the correlation of the trapezoid's four ReLUs, but the
    # over-estimate shrinks linearly with the box
    assert widths[2] <= 0.11 * widths[1]


def test_bad_boxes_are_refused() -> None:
    net = random_net([2, 4, 1])
    with pytest.raises(ValueError, match="needs 2 lower and upper"):
        enclose(net, [0.0], [1.0])
    with pytest.raises(ValueError, match="lower <= upper"):
        enclose(net, [1.0, 0.0], [0.0, 1.0])


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    dim=st.integers(1, 3),
    activation=st.sampled_from(["relu", "leaky_relu"]),
)
def test_batched_value_enclosures_agree_with_enclose_and_contain_the_values(
    seed: int, dim: int, activation: str
) -> None:
    net = random_net([dim, 12, 9, 2], activation=activation, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    lower = torch.randn(20, dim, dtype=F64, generator=gen)
    upper = lower + torch.rand(20, dim, dtype=F64, generator=gen) * torch.rand(
        20, 1, dtype=F64, generator=gen
    )
    lo, hi = enclose_values(net, lower, upper)
    for k in range(20):
        single = enclose(net, lower[k], upper[k])
        torch.testing.assert_close(lo[k], single.value_lower, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(hi[k], single.value_upper, rtol=1e-12, atol=1e-12)
        x = lower[k] + torch.rand(500, dim, dtype=F64, generator=gen) * (upper[k] - lower[k])
        with torch.no_grad():
            u = net(x)
        assert torch.all((u >= lo[k]) & (u <= hi[k]))


def test_batched_value_enclosures_refuse_bad_boxes() -> None:
    net = random_net([2, 4, 1], seed=0)
    with pytest.raises(ValueError, match="shape"):
        enclose_values(net, torch.zeros(3, 3, dtype=F64), torch.ones(3, 3, dtype=F64))
    with pytest.raises(ValueError, match="lower <= upper"):
        enclose_values(net, torch.ones(1, 2, dtype=F64), torch.zeros(1, 2, dtype=F64))


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    dim=st.integers(1, 3),
    c=st.sampled_from([0.0, 0.5, 1.0]),
    activation=st.sampled_from(["relu", "leaky_relu"]),
)
def test_batched_enclosures_agree_with_enclose_and_contain_values_and_jacobians(
    seed: int, dim: int, c: float, activation: str
) -> None:
    net = random_net([dim, 12, 9, 2], activation=activation, c=c, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    boxes = 12
    lower = torch.randn(boxes, dim, dtype=F64, generator=gen)
    upper = lower + torch.rand(boxes, dim, dtype=F64, generator=gen) * torch.rand(
        boxes, 1, dtype=F64, generator=gen
    )
    upper[0] = lower[0]  # a degenerate box
    v_lo, v_hi, j_lo, j_hi = enclose_batch(net, lower, upper, chunk=5)  # several chunks
    assert v_lo.shape == v_hi.shape == (boxes, 2)
    assert j_lo.shape == j_hi.shape == (boxes, 2, dim)
    for k in range(boxes):
        single = enclose(net, lower[k], upper[k])
        for got, want in (
            (v_lo[k], single.value_lower),
            (v_hi[k], single.value_upper),
            (j_lo[k], single.jacobian_lower),
            (j_hi[k], single.jacobian_upper),
        ):
            torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    x = (
        lower[:, None, :]
        + torch.rand(boxes, 300, dim, dtype=F64, generator=gen) * (upper - lower)[:, None, :]
    )
    x = torch.minimum(x, upper[:, None, :])  # keep rounding from leaving the box
    with torch.no_grad():
        u, jac = net.value_and_jacobian(x.reshape(-1, dim))
    u, jac = u.reshape(boxes, 300, 2), jac.reshape(boxes, 300, 2, dim)
    assert torch.all((u >= v_lo[:, None]) & (u <= v_hi[:, None]))
    assert torch.all((jac >= j_lo[:, None]) & (jac <= j_hi[:, None]))


def test_batched_enclosures_chunking_and_refusals() -> None:
    net = random_net([2, 8, 8, 1], seed=3)
    lower = torch.rand(10, 2, dtype=F64, generator=torch.Generator().manual_seed(1))
    upper = lower + 0.1
    whole = enclose_batch(net, lower, upper)
    for got, want in zip(enclose_batch(net, lower, upper, chunk=3), whole, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-13, atol=1e-13)
    # the value half is enclose_values
    lo, hi = enclose_values(net, lower, upper)
    torch.testing.assert_close(whole[0], lo, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(whole[1], hi, rtol=1e-13, atol=1e-13)
    empty = enclose_batch(net, lower[:0], upper[:0])
    assert empty[2].shape == (0, 1, 2)
    with pytest.raises(ValueError, match="shape"):
        enclose_batch(net, torch.zeros(3, 3, dtype=F64), torch.ones(3, 3, dtype=F64))
    with pytest.raises(ValueError, match="lower <= upper"):
        enclose_batch(net, torch.ones(1, 2, dtype=F64), torch.zeros(1, 2, dtype=F64))
