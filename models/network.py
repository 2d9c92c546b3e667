"""ReLU networks as parametrizations Phi = ((A_1, b_1), ..., (A_L, b_L)) (docs/models.md).

The module holds the parametrization (its parameters are exactly the A_l and b_l); the
realization R Phi is ``net(x)`` and the network derivative D Phi comes with it from
``net.value_and_jacobian(x)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from models.activation import Activation
from models.derivative import AccumulationOrder, choose_order, order_costs, value_and_jacobian

Layer = tuple[Tensor, Tensor]
OrderChoice = Literal["auto", "forward", "reverse"]


def _check_layers(layers: Sequence[Layer]) -> None:
    if len(layers) == 0:
        raise ValueError("a network needs at least one affine layer (A_1, b_1)")
    first = layers[0][0]
    for index, (a, b) in enumerate(layers, start=1):
        if not isinstance(a, Tensor) or not isinstance(b, Tensor):
            raise TypeError(f"layer {index}: A and b must be torch tensors")
        if a.dim() != 2 or b.dim() != 1 or b.shape[0] != a.shape[0]:
            raise ValueError(
                f"layer {index}: A must be (N_l, N_(l-1)) and b (N_l,), "
                f"got A {tuple(a.shape)} and b {tuple(b.shape)}"
            )
        if not a.is_floating_point() or a.dtype != first.dtype or b.dtype != first.dtype:
            raise TypeError(
                f"layer {index}: all A_l and b_l must share one floating dtype, "
                f"got {a.dtype} and {b.dtype} (layer 1 has {first.dtype})"
            )
        if a.device != first.device or b.device != first.device:
            raise ValueError(f"layer {index}: all tensors must be on one device")
        if index > 1 and a.shape[1] != layers[index - 2][0].shape[0]:
            raise ValueError(
                f"layer {index}: A has {a.shape[1]} columns but layer {index - 1} has "
                f"{layers[index - 2][0].shape[0]} outputs"
            )


class ReLUNetwork(nn.Module):
    """A ReLU (or leaky ReLU) parametrization with its realization and network derivative.

    ``layers`` is the list ((A_1, b_1), ..., (A_L, b_L)), A_l of shape (N_l, N_{l-1}).
    ``relu_prime_at_zero`` is the value c of rho'(0) used by D Phi (docs/models.md).
    """

    def __init__(
        self,
        layers: Sequence[Layer],
        activation: str = "relu",
        negative_slope: float = 0.01,
        relu_prime_at_zero: float = 0.0,
    ) -> None:
        super().__init__()
        layers = [(a, b) for a, b in layers]
        _check_layers(layers)
        self.act = Activation.make(activation, negative_slope, relu_prime_at_zero)
        self.negative_slope = float(negative_slope)
        self.weights = nn.ParameterList(
            [a if isinstance(a, nn.Parameter) else nn.Parameter(a) for a, _ in layers]
        )
        self.biases = nn.ParameterList(
            [b if isinstance(b, nn.Parameter) else nn.Parameter(b) for _, b in layers]
        )
        # Shapes are fixed for the life of the module; the per-call order choice is cached.
        self._widths = (int(layers[0][0].shape[1]), *(int(a.shape[0]) for a, _ in layers))
        self._orders = {flag: choose_order(self._widths, flag) for flag in (False, True)}

    def _tensors(self) -> tuple[list[Tensor], list[Tensor]]:
        """The current A_l and b_l (ParameterList indexing is slow on a hot path)."""
        return list(self.weights._parameters.values()), list(self.biases._parameters.values())  # type: ignore[arg-type]

    # ----------------------------------------------------------------- construction
    @classmethod
    def random(
        cls,
        widths: Sequence[int],
        *,
        activation: str = "relu",
        negative_slope: float = 0.01,
        relu_prime_at_zero: float = 0.0,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
        bias_scale: float = 0.0,
    ) -> ReLUNetwork:
        """He-initialized network with widths (N_0, ..., N_L).

        A_l ~ N(0, 2 / N_{l-1}) (1 / N_{l-1} for the last layer), b_l ~ N(0, bias_scale^2).
        """
        if len(widths) < 2 or any(int(w) < 1 for w in widths):
            raise ValueError(f"widths must list at least N_0 and N_L, all >= 1; got {list(widths)}")
        layers: list[Layer] = []
        depth = len(widths) - 1
        for index in range(depth):
            fan_in, fan_out = int(widths[index]), int(widths[index + 1])
            gain = 1.0 if index == depth - 1 else 2.0
            a = torch.randn(fan_out, fan_in, dtype=dtype, generator=generator)
            a = a.mul_(math.sqrt(gain / fan_in))
            b = torch.randn(fan_out, dtype=dtype, generator=generator).mul_(bias_scale)
            layers.append((a.to(device), b.to(device)))
        return cls(layers, activation, negative_slope, relu_prime_at_zero)

    # ----------------------------------------------------------------- description
    @property
    def layers(self) -> list[tuple[nn.Parameter, nn.Parameter]]:
        """The parametrization ((A_1, b_1), ..., (A_L, b_L)) as the module's parameters."""
        return list(zip(self.weights, self.biases, strict=True))

    @property
    def widths(self) -> tuple[int, ...]:
        """The architecture (N_0, N_1, ..., N_L)."""
        return self._widths

    @property
    def depth(self) -> int:
        """L, the number of affine layers."""
        return len(self.weights)

    @property
    def in_features(self) -> int:
        return self.widths[0]

    @property
    def out_features(self) -> int:
        return self.widths[-1]

    @property
    def activation(self) -> str:
        return self.act.name

    @property
    def relu_prime_at_zero(self) -> float:
        return self.act.c

    @property
    def dtype(self) -> torch.dtype:
        dtype: torch.dtype = self.weights[0].dtype
        return dtype

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def extra_repr(self) -> str:
        return f"widths={self.widths}, activation={self.act.name!r}, alpha={self.act.alpha}, c={self.act.c}"

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 2 or x.shape[1] != self._widths[0]:
            raise ValueError(f"input must have shape (n, {self.in_features}), got {tuple(x.shape)}")
        if x.dtype != self.weights[0].dtype:
            raise TypeError(f"input dtype {x.dtype} differs from the network's {self.dtype}")

    # ----------------------------------------------------------------- realization
    def forward(self, x: Tensor) -> Tensor:
        """R Phi(x) = W_L rho W_{L-1} ... rho W_1 x for x of shape (n, N_0); returns (n, N_L)."""
        self._check_input(x)
        h = x
        for a, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            h = self.act(torch.addmm(b, h, a.t()))
        return torch.addmm(self.biases[-1], h, self.weights[-1].t())

    def pre_activations(self, x: Tensor) -> list[Tensor]:
        """[z_1(x), ..., z_{L-1}(x)]: the hidden pre-activations whose signs select Delta_l."""
        self._check_input(x)
        out: list[Tensor] = []
        h = x
        for a, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            z = torch.addmm(b, h, a.t())
            out.append(z)
            h = self.act(z)
        return out

    def choose_order(self, backward: bool | None = None) -> AccumulationOrder:
        """The accumulation order value_and_jacobian uses by default (cheaper in multiply-adds)."""
        if backward is None:
            backward = self._needs_backward(*self._tensors())
        return self._orders[backward]

    @staticmethod
    def _needs_backward(weights: list[Tensor], biases: list[Tensor]) -> bool:
        return torch.is_grad_enabled() and any(t.requires_grad for t in (*weights, *biases))

    def order_costs(self, backward: bool) -> dict[str, int]:
        """Multiply-adds per point of each accumulation order."""
        return order_costs(self.widths, backward)

    def value_and_jacobian(self, x: Tensor, order: OrderChoice = "auto") -> tuple[Tensor, Tensor]:
        """(R Phi(x), D Phi(x)): shapes (n, N_L) and (n, N_L, N_0).

        D Phi = A_L Delta_{L-1} A_{L-1} ... Delta_1 A_1 with Delta_l = diag(rho'_c(z_l(x))),
        computed explicitly in one batched pass (not by autograd).  Both outputs are
        differentiable with respect to the parameters (one fused backward pass) and u with
        respect to x (d u / d x = D Phi; D Phi itself is piecewise constant in x).
        """
        self._check_input(x)
        if order not in ("auto", "forward", "reverse"):
            raise ValueError(f"order must be 'auto', 'forward' or 'reverse', got {order!r}")
        weights, biases = self._tensors()
        chosen: AccumulationOrder = (
            self._orders[self._needs_backward(weights, biases)] if order == "auto" else order
        )
        return value_and_jacobian(x, self.act, weights, biases, chosen)

    def jacobian(self, x: Tensor) -> Tensor:
        """D Phi(x) alone, shape (n, N_L, N_0)."""
        return self.value_and_jacobian(x)[1]
