"""The calculus of parametrizations: composition, parallelization, identities, affine maps, sums.

All operations act on parametrizations, not on functions (docs/models.md):

* ``compose(Psi, Phi)`` merges Phi's last affine map into Psi's first,
  ((A_1, b_1), ..., (A_{L-1}, b_{L-1}), (A'_1 A_L, A'_1 b_L + b'_1), (A'_2, b'_2), ...),
  so R(Psi . Phi) = R Psi o R Phi and, for every x, the chain rule
  D(Psi . Phi)(x) = D Psi(R Phi(x)) D Phi(x) holds exactly.
* ``parallel(Phi_1, ..., Phi_k)`` stacks block-diagonally: (x_1, ..., x_k) -> (R Phi_1(x_1), ...).
  Shallower networks are padded with identity layers rho(s) - rho(-s) = (1 + alpha) s.
  The padding is exact in value; in derivative it is exact wherever the padded signal is
  non-zero, and everywhere when c = (1 + alpha) / 2 (at 0 it contributes 2c / (1 + alpha)).
* ``identity(d, depth)``, ``affine(A, b)``, ``linear_combination`` and ``fan_out`` are the
  plumbing that the constructions build from.

The results are new networks with fresh parameters (detached copies), in the dtype and
device of the first argument.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from models.activation import Activation
from models.network import Layer, ReLUNetwork


def _same_activation(nets: Sequence[ReLUNetwork]) -> Activation:
    act = nets[0].act
    for net in nets[1:]:
        if net.act != act:
            raise ValueError(
                "networks must share activation, negative slope and relu_prime_at_zero to be "
                f"combined; got {act} and {net.act}"
            )
    return act


def _make(layers: Sequence[Layer], act: Activation, negative_slope: float) -> ReLUNetwork:
    return ReLUNetwork(layers, act.name, negative_slope, act.c)


def _detached(net: ReLUNetwork) -> list[Layer]:
    return [(a.detach().clone(), b.detach().clone()) for a, b in net.layers]


def affine(
    matrix: Tensor,
    bias: Tensor | None = None,
    *,
    activation: str = "relu",
    negative_slope: float = 0.01,
    relu_prime_at_zero: float = 0.0,
) -> ReLUNetwork:
    """The one-layer network x -> A x + b (L = 1: no activation at all)."""
    if bias is None:
        bias = matrix.new_zeros(matrix.shape[0])
    return ReLUNetwork([(matrix.clone(), bias.clone())], activation, negative_slope, relu_prime_at_zero)


def identity(
    dim: int,
    depth: int = 2,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
    activation: str = "relu",
    negative_slope: float = 0.01,
    relu_prime_at_zero: float = 0.0,
) -> ReLUNetwork:
    """An identity parametrization of the given depth L >= 1.

    L = 1 is the affine identity.  For L >= 2 each hidden layer holds (rho(x), rho(-x)) and
    the next layer recombines (rho(x) - rho(-x)) / (1 + alpha) = x.  D of it is I off
    {x_i = 0}; at x_i = 0 it is (2c / (1 + alpha))^(L - 1) in that coordinate.
    """
    if depth < 1 or dim < 1:
        raise ValueError(f"identity needs dim >= 1 and depth >= 1, got dim={dim}, depth={depth}")
    act = Activation.make(activation, negative_slope, relu_prime_at_zero)
    eye = torch.eye(dim, dtype=dtype, device=device)
    if depth == 1:
        return ReLUNetwork([(eye, eye.new_zeros(dim))], activation, negative_slope, relu_prime_at_zero)
    split = torch.cat([eye, -eye], 0)
    merge = torch.cat([eye, -eye], 1) / act.identity_scale
    both = merge.new_zeros(2 * dim)
    layers: list[Layer] = [(split, both.clone())]
    for _ in range(depth - 2):
        layers.append((split @ merge, both.clone()))
    layers.append((merge, eye.new_zeros(dim)))
    return ReLUNetwork(layers, activation, negative_slope, relu_prime_at_zero)


def compose(outer: ReLUNetwork, inner: ReLUNetwork) -> ReLUNetwork:
    """Psi . Phi: the parametrization whose realization is R Psi o R Phi (chain rule exact)."""
    act = _same_activation([outer, inner])
    if outer.in_features != inner.out_features:
        raise ValueError(
            f"cannot compose: the outer network takes {outer.in_features} inputs but the inner "
            f"one returns {inner.out_features}"
        )
    first = _detached(inner)
    second = _detached(outer)
    a_last, b_last = first[-1]
    a_next, b_next = second[0]
    a_next = a_next.to(a_last)
    merged = (a_next @ a_last, a_next @ b_last + b_next.to(a_last))
    layers = [*first[:-1], merged, *[(a.to(a_last), b.to(a_last)) for a, b in second[1:]]]
    return _make(layers, act, inner.negative_slope)


def deepen(net: ReLUNetwork, depth: int) -> ReLUNetwork:
    """The same realization with depth L' >= L, padded by identity layers after the output."""
    if depth < net.depth:
        raise ValueError(f"cannot shorten a network of depth {net.depth} to {depth}")
    if depth == net.depth:
        return _make(_detached(net), net.act, net.negative_slope)
    pad = identity(
        net.out_features,
        depth - net.depth + 1,
        dtype=net.dtype,
        device=net.weights[0].device,
        activation=net.act.name,
        negative_slope=net.negative_slope,
        relu_prime_at_zero=net.act.c,
    )
    return compose(pad, net)


def parallel(*nets: ReLUNetwork) -> ReLUNetwork:
    """P(Phi_1, ..., Phi_k)(x_1, ..., x_k) = (R Phi_1(x_1), ..., R Phi_k(x_k)), block-diagonal."""
    if not nets:
        raise ValueError("parallel needs at least one network")
    act = _same_activation(nets)
    depth = max(net.depth for net in nets)
    padded = [deepen(net, depth) for net in nets]
    ref = padded[0].weights[0]
    layers: list[Layer] = []
    for index in range(depth):
        blocks = [net.layers[index] for net in padded]
        a = torch.block_diag(*[blk[0].detach().to(ref) for blk in blocks])  # type: ignore[no-untyped-call]
        b = torch.cat([blk[1].detach().to(ref) for blk in blocks])
        layers.append((a, b))
    return _make(layers, act, nets[0].negative_slope)


def fan_out(dim: int, copies: int, *, like: ReLUNetwork) -> ReLUNetwork:
    """x -> (x, x, ..., x): the affine map that feeds one input to ``copies`` parallel networks."""
    ref = like.weights[0]
    eye = torch.eye(dim, dtype=ref.dtype, device=ref.device)
    matrix = torch.cat([eye] * copies, 0)
    return ReLUNetwork(
        [(matrix, matrix.new_zeros(dim * copies))], like.act.name, like.negative_slope, like.act.c
    )


def linear_combination(
    coefficients: Tensor, net: ReLUNetwork, bias: Tensor | float | None = None
) -> ReLUNetwork:
    """x -> C R Phi(x) + b, with C merged into Phi's last layer (no extra depth)."""
    ref = net.weights[0]
    coefficients = coefficients.to(ref)
    if coefficients.dim() == 1:
        coefficients = coefficients.unsqueeze(0)
    if bias is None:
        bias_t = coefficients.new_zeros(coefficients.shape[0])
    elif isinstance(bias, Tensor):
        bias_t = bias.to(ref).reshape(-1)
    else:
        bias_t = coefficients.new_full((coefficients.shape[0],), float(bias))
    outer = ReLUNetwork([(coefficients, bias_t)], net.act.name, net.negative_slope, net.act.c)
    return compose(outer, net)


def add(*nets: ReLUNetwork) -> ReLUNetwork:
    """x -> sum_i R Phi_i(x) for networks with the same input and output sizes."""
    if not nets:
        raise ValueError("add needs at least one network")
    dims = {(net.in_features, net.out_features) for net in nets}
    if len(dims) != 1:
        raise ValueError(f"add needs equal input and output sizes, got {sorted(dims)}")
    d_in, d_out = dims.pop()
    stacked = compose(parallel(*nets), fan_out(d_in, len(nets), like=nets[0]))
    ref = stacked.weights[0]
    summer = torch.cat([torch.eye(d_out, dtype=ref.dtype, device=ref.device)] * len(nets), 1)
    return linear_combination(summer, stacked)


def scale(net: ReLUNetwork, factor: float) -> ReLUNetwork:
    """x -> factor * R Phi(x)."""
    eye = torch.eye(net.out_features, dtype=net.dtype, device=net.weights[0].device)
    return linear_combination(eye * factor, net)
