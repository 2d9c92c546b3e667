"""The per-sample parameter Jacobian of (R Phi, D Phi), from the same layer rules as D Phi.

For the network z_l = A_l h_{l-1} + b_l, h_l = rho(z_l) (l < L), u = z_L, with
Delta_l = diag(rho'_c(z_l)) held fixed (it is piecewise constant in the parameters), write

    F_l = Delta_l A_l F_{l-1},  F_0 = D h_0          (forward products: D Phi = A_L F_{L-1})
    B_L = I,  B_l = B_{l+1} A_{l+1} Delta_l          (backward products: du / dz_l = B_l)

so that D Phi = B_l A_l F_{l-1} for every l.  Then, for every sample x,

    du_k / dA_l[i, j] = B_l[k, i] h_{l-1}[j],        du_k / db_l[i] = B_l[k, i],
    dDPhi[k, c] / dA_l[i, j] = B_l[k, i] F_{l-1}[j, c],  dDPhi / db_l = 0,

a Kronecker product B_l (x) [h_{l-1}, F_{l-1}] per layer.  ``parameter_jacobian`` writes it
out, shape (n, N_L, 1 + N_0, P): index 0 of the third axis is the value, 1 + c the
derivative in input c; P runs over A_1, ..., A_L, b_1, ..., b_L, each flattened row-major
(the order of ``ReLUNetwork.parameters()``).  A Gauss-Newton method needs it only
contracted with the derivative g of a residual with respect to (u, D Phi) at each sample;
``contracted_jacobian`` forms those rows, sum_{k, c} g[k, c] dJ[k, c] / dtheta, without
the (n, N_L, 1 + N_0, P) tensor: per layer (B_l^T g [h, F]^T) in O(n N_L N_l N_{l-1}).

``inputs`` and ``input_jacobian`` let the first trainable layer sit behind a fixed map e
(``models.EmbeddedNetwork``): h_0 = e(x) and F_0 = De(x) instead of x and the identity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from models.activation import Activation


@dataclass(frozen=True)
class LayerProducts:
    """Per sample: the layer inputs with their input Jacobians ``carried[l]`` = [h_l, F_l]
    (n, N_l, 1 + N_0) for l = 0..L-1, and the backward products ``back[l]`` = B_{l+1}
    (n, N_L, N_{l+1}) for l = 0..L-1 (B_L = I is stored too)."""

    carried: list[Tensor]
    back: list[Tensor]


def layer_products(
    weights: Sequence[Tensor],
    biases: Sequence[Tensor],
    act: Activation,
    inputs: Tensor,
    input_jacobian: Tensor | None = None,
) -> LayerProducts:
    """The forward products [h_l, F_l] and backward products B_l at ``inputs`` (n, N_0)."""
    n = inputs.shape[0]
    f = (
        torch.eye(inputs.shape[1], dtype=inputs.dtype).expand(n, -1, -1)
        if input_jacobian is None
        else input_jacobian
    )
    h = inputs
    carried: list[Tensor] = []
    slopes: list[Tensor] = []
    for a, b in zip(weights[:-1], biases[:-1], strict=True):
        carried.append(torch.cat([h.unsqueeze(2), f], 2))
        z = torch.addmm(b, h, a.t())
        s = act.slope(z)
        slopes.append(s)
        h = z * s  # rho(z) = z rho'_c(z) for every c
        f = s.unsqueeze(2) * torch.einsum("ij,njc->nic", a, f)
    carried.append(torch.cat([h.unsqueeze(2), f], 2))
    m = weights[-1].shape[0]
    back = [torch.eye(m, dtype=inputs.dtype).expand(n, -1, -1)]
    for a, s in zip(reversed(weights[1:]), reversed(slopes), strict=True):
        back.append(torch.einsum("nki,ij->nkj", back[-1], a) * s.unsqueeze(1))
    back.reverse()
    return LayerProducts(carried, back)


def parameter_jacobian(
    weights: Sequence[Tensor],
    biases: Sequence[Tensor],
    act: Activation,
    inputs: Tensor,
    input_jacobian: Tensor | None = None,
) -> Tensor:
    """d(u, D Phi) / d theta per sample: shape (n, N_L, 1 + N_0, P) (module docstring)."""
    products = layer_products(weights, biases, act, inputs, input_jacobian)
    n, m = inputs.shape[0], weights[-1].shape[0]
    width = products.carried[0].shape[2]
    blocks: list[Tensor] = []
    for carried, back in zip(products.carried, products.back, strict=True):
        blocks.append(torch.einsum("nki,njc->nkcij", back, carried).reshape(n, m, width, -1))
    for back in products.back:
        value = torch.zeros(n, m, width, back.shape[2], dtype=inputs.dtype)
        value[:, :, 0, :] = back
        blocks.append(value)
    return torch.cat(blocks, 3)


def contracted_jacobian(
    weights: Sequence[Tensor],
    biases: Sequence[Tensor],
    act: Activation,
    inputs: Tensor,
    g: Tensor,
    input_jacobian: Tensor | None = None,
) -> Tensor:
    """Rows sum_{k, c} g[n, k, c] d(u, D Phi)[n, k, c] / d theta: shape (n, P), for g of shape
    (n, N_L, 1 + N_0) (c = 0 the value, 1 + c the derivative in input c)."""
    products = layer_products(weights, biases, act, inputs, input_jacobian)
    n = inputs.shape[0]
    rows: list[Tensor] = []
    for carried, back in zip(products.carried, products.back, strict=True):
        mixed = torch.einsum("nkc,njc->nkj", g, carried)
        rows.append(torch.einsum("nki,nkj->nij", back, mixed).reshape(n, -1))
    for back in products.back:
        rows.append(torch.einsum("nki,nk->ni", back, g[:, :, 0]))
    return torch.cat(rows, 1)


__all__ = ["LayerProducts", "contracted_jacobian", "layer_products", "parameter_jacobian"]
