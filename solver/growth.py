"""The growth envelopes of the spec's growth data (kappa, C) (docs/global-estimate.md):

    U(r) = C (1 + r^(kappa+1)) >= |u|, |u_t|        G(r) >= |Du|  at |x| = r,

G = C (1 + r^kappa) without time and sqrt(C^2 (1 + r^kappa)^2 + U^2) with time (D over
(t, x)).  The global estimate and the certified local error both rest on them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def value_growth(kappa: float, constant: float, r: NDArray[np.float64]) -> NDArray[np.float64]:
    """U(r) = C (1 + r^(kappa+1)) >= |u| (and |u_t|) at |x| = r."""
    return constant * (1.0 + r ** (kappa + 1.0))


def gradient_growth(
    kappa: float, constant: float, r: NDArray[np.float64], timed: bool
) -> NDArray[np.float64]:
    """G(r) >= |Du| (Euclidean over all inputs): C (1 + r^kappa), with u_t: sqrt(. ^2 + U^2)."""
    space = constant * (1.0 + r**kappa)
    if not timed:
        return space
    return np.sqrt(space**2 + value_growth(kappa, constant, r) ** 2)
