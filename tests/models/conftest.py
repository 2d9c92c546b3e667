"""Shared helpers for the models/ tests."""

from __future__ import annotations

import torch

from models import ReLUNetwork


def random_net(
    widths: list[int],
    *,
    activation: str = "relu",
    c: float = 0.0,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> ReLUNetwork:
    gen = torch.Generator().manual_seed(seed)
    return ReLUNetwork.random(
        widths,
        activation=activation,
        relu_prime_at_zero=c,
        dtype=dtype,
        generator=gen,
        bias_scale=0.5,
    )


def off_kink_points(net: ReLUNetwork, n: int, margin: float, seed: int = 0) -> torch.Tensor:
    """Random points whose hidden pre-activations all stay at least ``margin`` away from 0."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(4 * n, net.in_features, dtype=net.dtype, generator=gen)
    with torch.no_grad():
        keep = torch.ones(x.shape[0], dtype=torch.bool)
        for z in net.pre_activations(x):
            keep &= (z.abs() > margin).all(1)
    return x[keep][:n]
