"""Confidence bounds for Monte Carlo means (the ``statistical`` bounds).

For i.i.d. samples Y_1..Y_n with mean mu and sample standard deviation s, the one-sided
upper bound

    mu <= Ybar + z_(1 - delta) s / sqrt(n)

holds with probability ~ 1 - delta by the central limit theorem (z_q: the standard normal
quantile).  Several bounds that must hold together split delta between them (the union
bound: each at delta / k holds jointly with probability >= 1 - delta).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import torch
from torch import Tensor


def normal_quantile(q: float) -> float:
    """z with P(Z <= z) = q for a standard normal Z."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"a quantile level must lie in (0, 1), got {q}")
    return NormalDist().inv_cdf(q)


def mean_upper(samples: Tensor, delta: float) -> float:
    """Upper confidence bound of E[Y] from i.i.d. samples (CLT, level 1 - delta)."""
    n = samples.numel()
    if n < 2:
        raise ValueError("a confidence bound needs at least two samples")
    y = samples.detach().to(torch.float64).flatten()
    mean, std = float(y.mean()), float(y.std())
    return mean + normal_quantile(1.0 - delta) * std / math.sqrt(n)


def rms_upper(squares: Tensor, delta: float) -> float:
    """Upper confidence bound of (E[Y])^(1/2) for nonnegative samples Y (e.g. squared errors)."""
    return math.sqrt(max(mean_upper(squares, delta), 0.0))
