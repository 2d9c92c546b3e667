"""The activation rho and its generalized derivative rho'_c (docs/models.md).

    rho(s)     = s            if s > 0,   alpha * s  if s <= 0     (alpha = 0 for ReLU)
    rho'_c(s)  = 1            if s > 0,   alpha      if s < 0,     c at s = 0

c is a free parameter of the network derivative (API: ``relu_prime_at_zero``).  Deep
learning libraries use c = 0; the chain rule of the network derivative holds for every c.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

ActivationName = Literal["relu", "leaky_relu"]
ACTIVATIONS: tuple[str, ...] = ("relu", "leaky_relu")


@dataclass(frozen=True)
class Activation:
    """rho (ReLU or leaky ReLU with slope ``alpha``) together with the value ``c`` of rho'(0)."""

    name: ActivationName
    alpha: float
    c: float

    @classmethod
    def make(cls, name: str, negative_slope: float, relu_prime_at_zero: float) -> Activation:
        """Validate the user's choice and return the activation it names."""
        if name not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {name!r}")
        alpha = 0.0 if name == "relu" else float(negative_slope)
        if name == "leaky_relu" and not 0.0 <= alpha < 1.0:
            raise ValueError(f"negative_slope must lie in [0, 1) for leaky_relu, got {negative_slope!r}")
        c = float(relu_prime_at_zero)
        if c != c or c in (float("inf"), float("-inf")):
            raise ValueError(f"relu_prime_at_zero must be a finite number, got {relu_prime_at_zero!r}")
        return cls(name=name, alpha=alpha, c=c)  # type: ignore[arg-type]

    def slope(self, z: Tensor) -> Tensor:
        """rho'_c(z), elementwise, in the dtype of z.

        Built from s = sign(z) in {-1, 0, 1} (comparison kernels are several times slower
        on CPU): rho'_c = c + s (1 - alpha)/2 + s^2 ((1 + alpha)/2 - c), which reduces to
        max(s, 0) (1 - alpha) + alpha when c = alpha.
        """
        s = torch.sign(z)
        if self.c == self.alpha:
            d = s.clamp_min_(0.0)
            return d if self.alpha == 0.0 else d.mul_(1.0 - self.alpha).add_(self.alpha)
        k1 = (1.0 - self.alpha) / 2.0
        k2 = (1.0 + self.alpha) / 2.0 - self.c
        return s.mul(k2).add_(k1).mul_(s).add_(self.c)

    @property
    def slope_from_value(self) -> bool:
        """True for ReLU with c = 0: then rho'_c(z) = [rho(z) > 0] is a function of rho(z)."""
        return self.alpha == 0.0 and self.c == 0.0

    def value_and_carrier(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """(rho(z), carrier of rho'_c(z)); may overwrite z.

        The carrier is rho(z) itself when ``slope_from_value`` (no slope tensor is formed
        at all: see ``times_slope``), else rho'_c(z); rho(z) = z rho'_c(z) for every c.
        """
        if self.slope_from_value:
            h = torch.relu_(z)
            return h, h
        d = self.slope(z)
        return z.mul_(d), d

    def slope_of_carrier(self, carrier: Tensor) -> Tensor:
        """rho'_c(z) from the carrier returned by ``value_and_carrier``."""
        return torch.sign(carrier) if self.slope_from_value else carrier

    def times_slope(self, t: Tensor, carrier: Tensor) -> Tensor:
        """t * rho'_c(z) (broadcasting), possibly in place.  For ReLU with c = 0 this is the
        masked copy t [rho(z) > 0] in one pass (the kernel of torch's own relu backward)."""
        if self.slope_from_value:
            out: Tensor = torch.ops.aten.threshold_backward(t, carrier, 0.0)
            return out
        return t.mul_(carrier)

    def __call__(self, z: Tensor) -> Tensor:
        """rho(z) elementwise (autograd-friendly: used for the plain realization)."""
        if self.alpha == 0.0:
            return torch.relu(z)
        return torch.nn.functional.leaky_relu(z, self.alpha)

    @property
    def identity_scale(self) -> float:
        """1 + alpha: rho(s) - rho(-s) = (1 + alpha) s, the two-neuron identity."""
        return 1.0 + self.alpha
