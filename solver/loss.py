"""The W^{1,inf}-style loss (docs/solver.md, "Loss and training") and the classic PINN mean square.

For a residual with magnitudes m_1..m_n on its point set:

* ``"sup"``: the normalized L^p mean (mean m_i^p)^(1/p), which tends to max_i m_i as p grows;
  p rises geometrically from 2 to ``P_MAX`` during training (``p_schedule``), so early steps
  spread the gradient over many points and late steps concentrate it on the worst ones.
  Computed as M (mean (m_i/M)^p)^(1/p) with M = max m_i (no overflow for large p).
* ``"l2"``: mean m_i^2.

The figure reported for ``"sup"`` is the true sample sup max_i m_i of each term.
"""

from __future__ import annotations

from torch import Tensor

P_MIN = 2.0
P_MAX = 64.0


def p_schedule(step: int, steps: int) -> float:
    """p = 2 (P_MAX / 2)^(step / steps): geometric from 2 to P_MAX over the run."""
    if steps <= 0:
        return P_MAX
    frac = min(max(step / steps, 0.0), 1.0)
    return float(P_MIN * (P_MAX / P_MIN) ** frac)


def lp_mean(magnitudes: Tensor, p: float) -> Tensor:
    """(mean m^p)^(1/p), stable for large p."""
    top = magnitudes.detach().max().clamp_min(1e-30)
    return top * (magnitudes / top).pow(p).mean().pow(1.0 / p)


def term_loss(magnitudes: Tensor, norm: str, p: float) -> Tensor:
    if norm == "l2":
        return magnitudes.square().mean()
    return lp_mean(magnitudes, p)


def reported(magnitudes: Tensor, norm: str) -> float:
    """The figure shown to users: the sample sup for "sup", the mean square for "l2"."""
    if norm == "l2":
        return float(magnitudes.detach().square().mean())
    return float(magnitudes.detach().max())
