"""A ReLU network behind a fixed ReLU feature layer: still one ReLU network.

``EmbeddedNetwork`` realizes

    R Phi(x) = R Psi(e(x)),    e(x) = C rho(A_E x + b_E) + d,

where Psi (``inner``) is the trainable network on the embedded inputs e(x), and the feature
layer (A_E, b_E) and the affine combination (C, d) are fixed.  Folding C and d into Psi's
first layer gives one ReLU parametrization

    ((A_E, b_E), (A_1 C, A_1 d + b_1), (A_2, b_2), ..., (A_L, b_L)),

and every method (realization, D Phi, ``layers``, ``widths``) uses exactly that list, so the
network derivative, the bounds and the saved files are those of an ordinary ReLU network
(``plain()`` returns it).  Only A_1, b_1, ..., A_L, b_L are parameters: training can never
leave the set of functions of the form Psi(e(x)).  solver uses it for periodic conditions
(e made of triangle waves of the periodic coordinate).
"""

from __future__ import annotations

import torch
from torch import Tensor

from models.derivative import choose_order
from models.network import ReLUNetwork


class EmbeddedNetwork(ReLUNetwork):
    """Psi after the fixed feature map e(x) = C rho(A_E x + b_E) + d (module docstring)."""

    feature_weight: Tensor
    feature_bias: Tensor
    combine: Tensor
    offset: Tensor

    def __init__(
        self,
        inner: ReLUNetwork,
        feature_weight: Tensor,
        feature_bias: Tensor,
        combine: Tensor,
        offset: Tensor,
    ) -> None:
        expected = (inner.in_features, int(feature_weight.shape[0]))
        if tuple(combine.shape) != expected:
            raise ValueError(f"combine must have shape {expected}, got {tuple(combine.shape)}")
        super().__init__(inner.layers, inner.act.name, inner.negative_slope, inner.act.c)
        dtype = inner.dtype
        self.register_buffer("feature_weight", feature_weight.to(dtype))
        self.register_buffer("feature_bias", feature_bias.to(dtype))
        self.register_buffer("combine", combine.to(dtype))
        self.register_buffer("offset", offset.to(dtype))
        self._widths = (int(feature_weight.shape[1]), int(feature_weight.shape[0]), *self._widths[1:])
        self._orders = {flag: choose_order(self._widths, flag) for flag in (False, True)}

    def _tensors(self) -> tuple[list[Tensor], list[Tensor]]:
        weights, biases = super()._tensors()
        first_a, first_b = weights[0], biases[0]
        return (
            [self.feature_weight, first_a @ self.combine, *weights[1:]],
            [self.feature_bias, first_a @ self.offset + first_b, *biases[1:]],
        )

    @property
    def layers(self) -> list[tuple[Tensor, Tensor]]:  # type: ignore[override]
        """The folded parametrization (module docstring): the feature layer first."""
        weights, biases = self._tensors()
        return list(zip(weights, biases, strict=True))

    @property
    def trainable_layers(self) -> list[tuple[Tensor, Tensor]]:
        """Psi's own layers ((A_1, b_1), ..., (A_L, b_L)) on the embedded inputs: the parameters."""
        return list(zip(self.weights, self.biases, strict=True))

    @property
    def depth(self) -> int:
        return len(self.weights) + 1

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 2 or x.shape[1] != self._widths[0]:
            raise ValueError(f"input must have shape (n, {self.in_features}), got {tuple(x.shape)}")
        if x.dtype != self.dtype:
            raise TypeError(f"input dtype {x.dtype} differs from the network's {self.dtype}")

    def forward(self, x: Tensor) -> Tensor:
        self._check_input(x)
        weights, biases = self._tensors()
        h = x
        for a, b in zip(weights[:-1], biases[:-1], strict=True):
            h = self.act(torch.addmm(b, h, a.t()))
        out: Tensor = torch.addmm(biases[-1], h, weights[-1].t())
        return out

    def pre_activations(self, x: Tensor) -> list[Tensor]:
        self._check_input(x)
        weights, biases = self._tensors()
        out: list[Tensor] = []
        h = x
        for a, b in zip(weights[:-1], biases[:-1], strict=True):
            z = torch.addmm(b, h, a.t())
            out.append(z)
            h = self.act(z)
        return out

    def plain(self) -> ReLUNetwork:
        """The same function as an ordinary ReLUNetwork (detached copies of the folded layers)."""
        layers = [(a.detach().clone(), b.detach().clone()) for a, b in self.layers]
        return ReLUNetwork(layers, self.act.name, self.negative_slope, self.act.c)


__all__ = ["EmbeddedNetwork"]
