"""The per-sample parameter Jacobian of (u, D Phi) equals autograd's, row by row."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from models import ReLUNetwork
from models.parameter_jacobian import contracted_jacobian, parameter_jacobian

F64 = torch.float64


def _autograd_jacobian(net: ReLUNetwork, x: torch.Tensor) -> torch.Tensor:
    """d(u, D Phi)/d theta of one point by autograd through value_and_jacobian: (m, 1 + N_0, P)."""
    params = list(net.parameters())
    u, jac = net.value_and_jacobian(x.unsqueeze(0), order="reverse")
    out = torch.cat([u.unsqueeze(2), jac], 2)[0]  # (m, 1 + N_0)
    rows = []
    for value in out.reshape(-1):
        grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
        rows.append(
            torch.cat(
                [
                    (g if g is not None else torch.zeros_like(p)).reshape(-1)
                    for g, p in zip(grads, params, strict=True)
                ]
            )
        )
    return torch.stack(rows).reshape(*out.shape, -1)


@settings(max_examples=15, deadline=None)
@given(
    widths=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    seed=st.integers(0, 10_000),
    activation=st.sampled_from(["relu", "leaky_relu"]),
)
def test_the_parameter_jacobian_is_autograds(widths: list[int], seed: int, activation: str) -> None:
    gen = torch.Generator().manual_seed(seed)
    net = ReLUNetwork.random(
        widths, dtype=F64, generator=gen, bias_scale=0.5, activation=activation, negative_slope=0.1
    )
    x = torch.randn(4, widths[0], dtype=F64, generator=gen)
    weights = [a.detach() for a, _ in net.layers]
    biases = [b.detach() for _, b in net.layers]
    found = parameter_jacobian(weights, biases, net.act, x)
    assert found.shape == (4, widths[-1], 1 + widths[0], net.num_parameters())
    for i in range(4):
        torch.testing.assert_close(found[i], _autograd_jacobian(net, x[i]), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_contracted_rows_are_the_jacobian_times_g(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    net = ReLUNetwork.random([3, 7, 5, 2], dtype=F64, generator=gen, bias_scale=0.3)
    x = torch.randn(6, 3, dtype=F64, generator=gen)
    g = torch.randn(6, 2, 4, dtype=F64, generator=gen)
    weights = [a.detach() for a, _ in net.layers]
    biases = [b.detach() for _, b in net.layers]
    full = parameter_jacobian(weights, biases, net.act, x)
    rows = contracted_jacobian(weights, biases, net.act, x, g)
    torch.testing.assert_close(rows, torch.einsum("nkc,nkcp->np", g, full))
