"""Composition, parallelization and the exact chain rule (docs/models.md)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from models import ReLUNetwork, add, compose, deepen, identity, linear_combination, parallel, scale

from .conftest import off_kink_points, random_net

F64 = torch.float64


@st.composite
def integer_networks(
    draw: st.DrawFn, n_in: int, n_out: int, c: float, activation: str = "relu"
) -> ReLUNetwork:
    """Integer weights and zero biases: with integer inputs, pre-activations hit 0 exactly."""
    depth = draw(st.integers(1, 3))
    widths = [n_in, *[draw(st.integers(1, 4)) for _ in range(depth - 1)], n_out]
    layers = []
    for k in range(depth):
        entries = draw(
            st.lists(
                st.integers(-2, 2), min_size=widths[k + 1] * widths[k], max_size=widths[k + 1] * widths[k]
            )
        )
        a = torch.tensor(entries, dtype=F64).reshape(widths[k + 1], widths[k])
        layers.append((a, torch.zeros(widths[k + 1], dtype=F64)))
    return ReLUNetwork(layers, activation=activation, negative_slope=0.5, relu_prime_at_zero=c)


@pytest.mark.parametrize("c", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_chain_rule_holds_exactly_at_kinks(c: float, activation: str, data: st.DataObject) -> None:
    n_in, n_mid, n_out = (
        data.draw(st.integers(1, 3)),
        data.draw(st.integers(1, 3)),
        data.draw(st.integers(1, 2)),
    )
    inner = data.draw(integer_networks(n_in, n_mid, c, activation))
    outer = data.draw(integer_networks(n_mid, n_out, c, activation))
    points = data.draw(
        st.lists(st.lists(st.integers(-2, 2), min_size=n_in, max_size=n_in), min_size=1, max_size=8)
    )
    x = torch.tensor(points, dtype=F64)
    both = compose(outer, inner)
    y, d_inner = inner.value_and_jacobian(x)
    z, d_outer = outer.value_and_jacobian(y)
    w, d_both = both.value_and_jacobian(x)
    assert torch.equal(w, z)
    assert torch.equal(d_both, d_outer @ d_inner)


def test_chain_rule_is_where_autograd_fails() -> None:
    """Psi(y) = ReLU(y) - ReLU(-y) = y after Phi(x) = x: D(Psi.Phi)(0) = 2c both ways, autograd 0."""
    c = 0.5
    ident = identity(1, 2, relu_prime_at_zero=c)
    inner = ReLUNetwork([(torch.ones(1, 1, dtype=F64), torch.zeros(1, dtype=F64))], relu_prime_at_zero=c)
    zero = torch.zeros(1, 1, dtype=F64)
    assert compose(ident, inner).jacobian(zero).item() == 1.0 == ident.jacobian(zero).item()


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_parallel_is_block_diagonal_in_value_and_exactly_in_derivative_when_c_is_half(
    data: st.DataObject,
) -> None:
    c = 0.5  # (1 + alpha) / 2 for ReLU: the identity padding is then exact at 0 too
    first = data.draw(integer_networks(data.draw(st.integers(1, 3)), data.draw(st.integers(1, 2)), c))
    second = data.draw(integer_networks(data.draw(st.integers(1, 3)), data.draw(st.integers(1, 2)), c))
    both = parallel(first, second)
    n1, n2 = first.in_features, second.in_features
    pts = data.draw(
        st.lists(st.lists(st.integers(-2, 2), min_size=n1 + n2, max_size=n1 + n2), min_size=1, max_size=6)
    )
    x = torch.tensor(pts, dtype=F64)
    u, jac = both.value_and_jacobian(x)
    u1, j1 = first.value_and_jacobian(x[:, :n1])
    u2, j2 = second.value_and_jacobian(x[:, n1:])
    assert torch.equal(u, torch.cat([u1, u2], 1))
    expected = torch.stack([torch.block_diag(a, b) for a, b in zip(j1, j2, strict=True)])
    assert torch.equal(jac, expected)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_parallel_and_deepen_off_the_kinks(activation: str) -> None:
    shallow = random_net([2, 5, 1], activation=activation, seed=1)
    deep = random_net([3, 4, 4, 4, 2], activation=activation, seed=2)
    both = parallel(shallow, deep)
    assert both.depth == 4
    x = torch.randn(50, 5, dtype=F64)
    u, jac = both.value_and_jacobian(x)
    torch.testing.assert_close(u, torch.cat([shallow(x[:, :2]), deep(x[:, 2:])], 1))
    torch.testing.assert_close(jac[:, :1, :2], shallow.jacobian(x[:, :2]))
    torch.testing.assert_close(jac[:, 1:, 2:], deep.jacobian(x[:, 2:]))
    assert torch.count_nonzero(jac[:, :1, 2:]) == 0 and torch.count_nonzero(jac[:, 1:, :2]) == 0
    deeper = deepen(shallow, 5)
    torch.testing.assert_close(deeper(x[:, :2]), shallow(x[:, :2]))


def test_identity_padding_value_at_zero_depends_on_c_as_documented() -> None:
    zero = torch.zeros(1, 1, dtype=F64)
    for c in (0.0, 0.25, 0.5, 1.0):
        for depth in (2, 3):
            net = identity(1, depth, relu_prime_at_zero=c)
            assert net(zero).item() == 0.0
            assert net.jacobian(zero).item() == pytest.approx((2 * c) ** (depth - 1))


def test_sums_scalings_and_linear_combinations() -> None:
    a = random_net([3, 6, 2], seed=3)
    b = random_net([3, 4, 4, 2], seed=4)
    x = off_kink_points(add(a, b), 30, margin=1e-6)
    torch.testing.assert_close(add(a, b)(x), a(x) + b(x))
    torch.testing.assert_close(scale(a, -2.5)(x), -2.5 * a(x))
    coeff = torch.tensor([[1.0, -3.0]], dtype=F64)
    combo = linear_combination(coeff, a, 0.5)
    torch.testing.assert_close(combo(x), a(x) @ coeff.T + 0.5)
    torch.testing.assert_close(combo.jacobian(x), coeff @ a.jacobian(x))


def test_incompatible_networks_are_refused() -> None:
    a = random_net([3, 4, 2])
    b = random_net([3, 4, 2], c=0.5)
    with pytest.raises(ValueError, match="outer network takes 3 inputs"):
        compose(a, a)
    with pytest.raises(ValueError, match="share activation"):
        parallel(a, b)
    with pytest.raises(ValueError, match="cannot shorten"):
        deepen(random_net([1, 2, 2, 1]), 2)
