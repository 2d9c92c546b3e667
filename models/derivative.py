"""The network derivative D Phi, computed explicitly and fused with its parameter backward.

For Phi = ((A_1, b_1), ..., (A_L, b_L)) with pre-activations z_l and
Delta_l = diag(rho'_c(z_l)) (docs/models.md),

    D Phi(x) = A_L Delta_{L-1}(x) A_{L-1} ... Delta_1(x) A_1        (N_L x N_0).

Two accumulation orders give the same matrix:

* reverse (left to right): V_{L-1} = A_L Delta_{L-1}, B_l = V_l A_l, V_{l-1} = B_l Delta_{l-1},
  D Phi = B_1.  V_l = d u / d z_l, so it costs N_L row-vector passes.
* forward (right to left): S_l = [z_l ; G_l] stacks the value with the tangents
  G_l = d z_l / d x, S_{l+1} = (S_l Delta_l) A_{l+1}^T (+ b on the value row).  It costs
  N_0 column passes.

Each order is one ``torch.autograd.Function`` whose backward is written by hand: the
Delta_l are piecewise constant in the parameters, so (a.e.) D Phi depends on the A_l only
and the loss gradient needs one ordinary backward sweep (no double backward, no graph of
small ops).  In reverse order the value backward is free: d L / d z_l = sum_m gu_m V_l[m],
so the weight gradient of a loss on (u, D Phi) is one matmul per layer,

    dL/dA_l = sum_{n,m} V_l[n,m]^T (gB_l[n,m] + gu[n,m] h_{l-1}[n]).

``choose_order`` compares the multiply-add counts of both orders (with or without the
backward) and picks the cheaper; the answer is the same matrix either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor

from models.activation import Activation

AccumulationOrder = Literal["forward", "reverse"]


def order_costs(widths: Sequence[int], backward: bool) -> dict[str, int]:
    """Multiply-adds per input point of each accumulation order (value included).

    reverse: value pass sum_l N_l N_{l-1} plus N_L sum_{l<L} N_l N_{l-1} for the Jacobian,
    and 2 N_L sum_{l<L} N_l N_{l-1} more for the fused backward.
    forward: (1 + N_0) sum_{l>=2} N_l N_{l-1} + N_1 N_0, and twice that again backward.
    """
    pairs = [widths[i] * widths[i - 1] for i in range(1, len(widths))]
    n_in, n_out = widths[0], widths[-1]
    hidden_pairs = sum(pairs[:-1])
    reverse = sum(pairs) + n_out * hidden_pairs
    forward = pairs[0] + (1 + n_in) * sum(pairs[1:])
    if backward:
        reverse += 2 * n_out * hidden_pairs + pairs[-1]
        forward += pairs[0] + 2 * (1 + n_in) * sum(pairs[1:])
    return {"reverse": reverse, "forward": forward}


def choose_order(widths: Sequence[int], backward: bool) -> AccumulationOrder:
    """The cheaper accumulation order for this architecture (ties go to reverse)."""
    costs = order_costs(widths, backward)
    return "reverse" if costs["reverse"] <= costs["forward"] else "forward"


def _matmul(a: Tensor, b: Tensor) -> Tensor:
    """a @ b, computed as (b^T a^T)^T when the product has only a few columns.

    MKL's CPU GEMM is 2.5-5x slower for tall outputs of 2..16 columns (the D Phi of a
    low-dimensional input, the weight gradient of the first layer) than for the same
    product laid out wide with a contiguous left factor; the result is the same matrix
    (a transposed view).
    """
    cols = b.shape[1]
    if 2 <= cols <= 16 and a.shape[0] >= 64 * cols:
        return (b.t().contiguous() @ a.t()).t()
    return a @ b


def _pack_grads(gx: Tensor | None, grads_w: list[Tensor], grads_b: list[Tensor]) -> tuple[Tensor | None, ...]:
    """Gradients in the order of ``apply(x, act, A_1, b_1, ..., A_L, b_L)``."""
    out: list[Tensor | None] = [gx, None]
    for gw, gbias in zip(grads_w, grads_b, strict=True):
        out.extend((gw, gbias))
    return tuple(out)


def _unpack(params: Sequence[Tensor]) -> tuple[list[Tensor], list[Tensor]]:
    return list(params[0::2]), list(params[1::2])


class ReverseJacobian(torch.autograd.Function):
    """(R Phi(x), D Phi(x)) by reverse accumulation, with the fused parameter backward.

    The top hidden layer is never materialized as V_{L-1} = A_L Delta_{L-1}: its products
    are folded into matmuls with Delta_{L-1} (one (n x N) operand for all N_L rows), which
    also merges the last two weight gradients into a single matmul.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, act: Activation, *params: Tensor) -> tuple[Tensor, Tensor]:
        weights, biases = _unpack(params)
        n, depth = x.shape[0], len(weights)
        h = x
        posts: list[Tensor] = [x]
        slopes: list[Tensor] = []
        for a, b in zip(weights[:-1], biases[:-1], strict=True):
            z = (h @ a.t()).add_(b)  # addmm would first copy the broadcast bias: slower on CPU
            h, d = act.value_and_carrier(z)  # d carries Delta_l (see Activation.times_slope)
            posts.append(h)
            slopes.append(d)
        top = weights[-1]
        m = top.shape[0]
        u = (h @ top.t()).add_(biases[-1])
        vs: list[Tensor] = []  # V_l for l = 1 .. L-2, shape (n, m, N_l)
        if depth == 1:
            jac = top.expand(n, *top.shape).contiguous()
        else:
            # B_{L-1}[n, m] = Delta_{L-1}(x_n) row of (diag(A_L[m]) A_{L-1}), all m in one matmul.
            below = weights[-2]
            scaled = (top.unsqueeze(2) * below.unsqueeze(0)).transpose(0, 1)
            slopes[-1] = act.slope_of_carrier(slopes[-1])  # the top Delta is a matmul operand
            bmat = _matmul(slopes[-1], scaled.reshape(below.shape[0], -1)).reshape(n, m, -1)
            for layer in range(depth - 2, 0, -1):
                v = act.times_slope(bmat, slopes[layer - 1].unsqueeze(1))
                vs.append(v)
                bmat = _matmul(v.reshape(n * m, -1), weights[layer - 1]).reshape(n, m, -1)
            vs.reverse()
            jac = bmat
        ctx.act = act
        ctx.depth = depth
        ctx.save_for_backward(jac, *posts, *slopes, *vs, *weights)
        return u, jac

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, gu: Tensor | None, gjac: Tensor | None) -> tuple[Tensor | None, ...]:
        depth: int = ctx.depth
        saved = ctx.saved_tensors
        jac = saved[0]
        posts = list(saved[1 : 1 + depth])
        slopes = list(saved[1 + depth : 2 * depth])
        vs = list(saved[2 * depth : 3 * depth - 2]) if depth >= 2 else []
        weights = list(saved[3 * depth - 2 :]) if depth >= 2 else list(saved[2:])
        n, m = jac.shape[0], jac.shape[1]
        if gu is None:
            gu = jac.new_zeros(n, m)
        grads_w: list[Tensor] = []
        grads_b: list[Tensor] = []
        gb = gjac  # gB_1 = g(D Phi); then gB_{l+1} = (gB_l A_l^T) Delta_l
        gu_rows = gu.reshape(1, n * m)
        for layer in range(depth - 1):
            h = posts[layer]
            # rhs = gB_l + gu h_{l-1}: value and derivative gradients share the left factor V_l.
            if gb is not None:
                rhs = torch.addcmul(gb, gu.unsqueeze(2), h.unsqueeze(1))
            else:
                rhs = gu.unsqueeze(2) * h.unsqueeze(1)
            rhs = rhs.view(n * m, -1)
            if layer < depth - 2:
                v = vs[layer].reshape(n * m, -1)
                grads_w.append(_matmul(v.t(), rhs))
                grads_b.append((gu_rows @ v).view(-1))
            else:
                # Top hidden layer: V_{L-1}[n, m, i] = A_L[m, i] Delta_{L-1}(x_n)[i].
                a_top = weights[-1]
                d_top = slopes[-1]
                if m == 1:
                    scale = a_top.view(-1, 1)
                    grads_w.append(_matmul(d_top.t(), rhs).mul(scale))
                    grads_b.append((gu.t() @ d_top).view(-1).mul_(a_top.view(-1)))
                else:
                    p_rhs = _matmul(d_top.t(), rhs.view(n, -1)).reshape(-1, m, rhs.shape[1])
                    grads_w.append((a_top.t().unsqueeze(2) * p_rhs).sum(1))
                    grads_b.append(((gu.t() @ d_top) * a_top).sum(0))
            if gb is not None:
                gv = (gb.reshape(n * m, -1) @ weights[layer].t()).view(n, m, -1)
                gb = ctx.act.times_slope(gv, slopes[layer].unsqueeze(1))
        if depth >= 2:
            top_grad = gu.t() @ posts[-1]
            if gb is not None:
                top_grad = top_grad + gb.sum(0)
            grads_w.append(top_grad)
        if depth == 1:
            top_grad = gu.t() @ posts[0]
            if gjac is not None:
                top_grad = top_grad + gjac.sum(0)
            grads_w.append(top_grad)
        grads_b.append(gu.sum(0))
        gx = None
        if ctx.needs_input_grad[0]:
            # D Phi is piecewise constant in x, so only the value contributes: gx = gu D Phi.
            gx = torch.bmm(gu.unsqueeze(1), jac).squeeze(1)
        return _pack_grads(gx, grads_w, grads_b)


class ForwardJacobian(torch.autograd.Function):
    """(R Phi(x), D Phi(x)) by forward accumulation (value and tangents in one stacked pass)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, act: Activation, *params: Tensor) -> tuple[Tensor, Tensor]:
        weights, biases = _unpack(params)
        n, n_in, depth = x.shape[0], x.shape[1], len(weights)
        # S_1 = [z_1 ; A_1^T]: row 0 the value, rows 1..N_0 the tangents d z_1 / d x_j.
        first = weights[0]
        s = torch.empty(n, 1 + n_in, first.shape[0], dtype=x.dtype, device=x.device)
        torch.addmm(biases[0], x, first.t(), out=s[:, 0, :])
        s[:, 1:, :] = first.t().unsqueeze(0)
        posts: list[Tensor] = []
        slopes: list[Tensor] = []
        for a, b in zip(weights[1:], biases[1:], strict=True):
            d = act.slope(s[:, 0, :])
            p = s.mul_(d.unsqueeze(1))  # [rho(z) ; Delta G]
            posts.append(p)
            slopes.append(d)
            s = (p.reshape(-1, p.shape[2]) @ a.t()).view(n, 1 + n_in, -1)
            s[:, 0, :] += b
        u = s[:, 0, :]
        jac = s[:, 1:, :].transpose(1, 2)
        ctx.act = act
        ctx.depth = depth
        ctx.save_for_backward(x, *posts, *slopes, *weights)
        return u, jac

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, gu: Tensor | None, gjac: Tensor | None) -> tuple[Tensor | None, ...]:
        depth: int = ctx.depth
        saved = ctx.saved_tensors
        x = saved[0]
        posts = list(saved[1:depth])
        slopes = list(saved[depth : 2 * depth - 1])
        weights = list(saved[2 * depth - 1 :])
        n, n_in = x.shape
        m = weights[-1].shape[0]
        gs = x.new_zeros(n, 1 + n_in, m)
        if gu is not None:
            gs[:, 0, :] = gu
        if gjac is not None:
            gs[:, 1:, :] = gjac.transpose(1, 2)
        grads_w: list[Tensor] = [x.new_empty(0)] * depth
        grads_b: list[Tensor] = [x.new_empty(0)] * depth
        for layer in range(depth - 1, 0, -1):
            p = posts[layer - 1]
            flat = gs.reshape(-1, gs.shape[2])
            grads_w[layer] = flat.t() @ p.reshape(-1, p.shape[2])
            grads_b[layer] = gs[:, 0, :].sum(0)
            gs = (flat @ weights[layer]).view(n, 1 + n_in, -1).mul_(slopes[layer - 1].unsqueeze(1))
        g_value = gs[:, 0, :]
        grads_w[0] = g_value.t() @ x + gs[:, 1:, :].sum(0).t()
        grads_b[0] = g_value.sum(0)
        gx = g_value @ weights[0] if ctx.needs_input_grad[0] else None
        return _pack_grads(gx, grads_w, grads_b)


def value_and_jacobian(
    x: Tensor,
    act: Activation,
    weights: Sequence[Tensor],
    biases: Sequence[Tensor],
    order: AccumulationOrder,
) -> tuple[Tensor, Tensor]:
    """Dispatch to the chosen accumulation order; see the module docstring for the math."""
    params: list[Tensor] = []
    for a, b in zip(weights, biases, strict=True):
        params.extend((a, b))
    fn = ReverseJacobian if order == "reverse" else ForwardJacobian
    u, jac = fn.apply(x, act, *params)  # type: ignore[no-untyped-call]
    return u, jac
