"""ReLUNetwork as a parametrization: construction, realization, validation."""

from __future__ import annotations

import pytest
import torch

from models import ReLUNetwork

from .conftest import random_net


def test_parameters_are_the_given_layers() -> None:
    a1, b1 = torch.randn(4, 3), torch.randn(4)
    a2, b2 = torch.randn(2, 4), torch.randn(2)
    net = ReLUNetwork([(a1, b1), (a2, b2)])
    assert net.widths == (3, 4, 2)
    assert net.depth == 2
    params = list(net.parameters())
    assert len(params) == 4
    (w1, c1), (w2, c2) = net.layers
    assert torch.equal(w1, a1) and torch.equal(c1, b1) and torch.equal(w2, a2) and torch.equal(c2, b2)
    assert {id(p) for p in params} == {id(w1), id(c1), id(w2), id(c2)}


def test_realization_matches_the_definition() -> None:
    net = random_net([3, 5, 4, 2], activation="leaky_relu")
    x = torch.randn(7, 3, dtype=torch.float64)
    h = x
    layers = net.layers
    for a, b in layers[:-1]:
        z = h @ a.T + b
        h = torch.where(z > 0, z, 0.01 * z)
    expected = h @ layers[-1][0].T + layers[-1][1]
    torch.testing.assert_close(net(x), expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_float32_and_float64(dtype: torch.dtype) -> None:
    net = random_net([2, 8, 1], dtype=dtype)
    x = torch.randn(5, 2, dtype=dtype)
    u, jac = net.value_and_jacobian(x)
    assert u.dtype == dtype and jac.dtype == dtype
    assert jac.shape == (5, 1, 2)


def test_random_is_deterministic_given_a_generator() -> None:
    first = random_net([3, 6, 1], seed=4)
    second = random_net([3, 6, 1], seed=4)
    for (a, b), (c, d) in zip(first.layers, second.layers, strict=True):
        assert torch.equal(a, c) and torch.equal(b, d)


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ([], "at least one affine layer"),
        ([(torch.randn(3, 2), torch.randn(4))], "A must be"),
        ([(torch.randn(3, 2), torch.randn(3)), (torch.randn(1, 4), torch.randn(1))], "columns"),
        ([(torch.randn(3, 2), torch.randn(3, dtype=torch.float64))], "dtype"),
    ],
)
def test_bad_layers_are_refused_with_a_clear_message(layers: list, message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        ReLUNetwork(layers)


def test_bad_activation_and_inputs_are_refused() -> None:
    layers = [(torch.randn(3, 2), torch.randn(3))]
    with pytest.raises(ValueError, match="activation must be one of"):
        ReLUNetwork(layers, activation="tanh")
    with pytest.raises(ValueError, match="relu_prime_at_zero"):
        ReLUNetwork(layers, relu_prime_at_zero=float("nan"))
    net = ReLUNetwork(layers)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        net(torch.randn(4, 3))
    with pytest.raises(TypeError, match="dtype"):
        net(torch.randn(4, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="order"):
        net.value_and_jacobian(torch.randn(4, 2), order="sideways")  # type: ignore[arg-type]
