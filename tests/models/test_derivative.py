"""The network derivative D Phi: agreement with calculus off the kinks, the fused backward,
the accumulation-order choice, and the null-set values of docs/models.md."""

from __future__ import annotations

import pytest
import torch

from models import ReLUNetwork
from models.derivative import choose_order, order_costs

from .conftest import off_kink_points, random_net

STEP = 1e-6


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
@pytest.mark.parametrize("c", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("dim", list(range(1, 11)))
def test_jacobian_equals_central_differences_off_the_kinks(activation: str, c: float, dim: int) -> None:
    net = random_net([dim, 12, 9, 3], activation=activation, c=c, seed=dim)
    x = off_kink_points(net, 40, margin=1e-3, seed=dim)
    assert x.shape[0] >= 10
    for order in ("forward", "reverse"):
        with torch.no_grad():
            _, jac = net.value_and_jacobian(x, order=order)
            eye = torch.eye(dim, dtype=x.dtype)
            cols = [(net(x + STEP * e) - net(x - STEP * e)) / (2 * STEP) for e in eye]
        fd = torch.stack(cols, dim=2)
        torch.testing.assert_close(jac, fd, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("widths", [[4, 7, 1], [2, 6, 5, 3], [6, 3], [1, 8, 8, 8, 2], [3, 5, 5, 5, 5, 4]])
@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_both_orders_agree_with_autograd_in_value_gradient_and_parameter_gradient(
    widths: list[int], activation: str
) -> None:
    net = random_net(widths, activation=activation, seed=len(widths))
    x = off_kink_points(net, 16, margin=1e-6)
    weights_u = torch.randn(x.shape[0], widths[-1], dtype=x.dtype)
    weights_j = torch.randn(x.shape[0], widths[-1], widths[0], dtype=x.dtype)

    def loss_from(u: torch.Tensor, jac: torch.Tensor) -> torch.Tensor:
        return (u * weights_u).sum() + (jac * weights_j).sum() + jac.square().sum() + u.square().sum()

    xr = x.clone().requires_grad_(True)
    u = net(xr)
    rows = [torch.autograd.grad(u[:, k].sum(), xr, create_graph=True)[0] for k in range(widths[-1])]
    reference = torch.autograd.grad(loss_from(u, torch.stack(rows, 1)), [xr, *net.parameters()])
    for order in ("forward", "reverse"):
        xo = x.clone().requires_grad_(True)
        u_o, jac_o = net.value_and_jacobian(xo, order=order)
        torch.testing.assert_close(u_o, net(x))
        grads = torch.autograd.grad(loss_from(u_o, jac_o), [xo, *net.parameters()])
        for ours, ref in zip(grads, reference, strict=True):
            torch.testing.assert_close(ours, ref)


def test_parameter_gradient_of_a_jacobian_loss_equals_finite_differences() -> None:
    net = random_net([3, 10, 10, 2], seed=11)
    x = off_kink_points(net, 20, margin=1e-2)

    def loss() -> torch.Tensor:
        u, jac = net.value_and_jacobian(x)
        return (jac[:, 0, :] ** 2).sum() + (jac[:, 1, :] * x).sum() + (u**3).sum()

    grads = torch.autograd.grad(loss(), list(net.parameters()))
    eps = 1e-6
    with torch.no_grad():
        for param, grad in zip(net.parameters(), grads, strict=True):
            flat = param.view(-1)
            for index in range(0, flat.numel(), max(1, flat.numel() // 7)):
                saved = float(flat[index])
                flat[index] = saved + eps
                up = float(loss())
                flat[index] = saved - eps
                down = float(loss())
                flat[index] = saved
                assert grad.view(-1)[index].item() == pytest.approx(
                    (up - down) / (2 * eps), rel=1e-6, abs=1e-6
                )


def test_value_is_differentiable_in_x_with_derivative_d_phi() -> None:
    net = random_net([4, 9, 1], seed=3)
    x = off_kink_points(net, 8, margin=1e-6).requires_grad_(True)
    u, jac = net.value_and_jacobian(x)
    (gx,) = torch.autograd.grad(u.sum(), x)
    torch.testing.assert_close(gx, jac[:, 0, :].detach())


def test_only_the_jacobian_or_only_the_value_may_be_used() -> None:
    net = random_net([3, 6, 6, 1], seed=5)
    x = torch.randn(10, 3, dtype=torch.float64)
    for order in ("forward", "reverse"):
        u, jac = net.value_and_jacobian(x, order=order)
        (g_jac,) = torch.autograd.grad(jac.square().sum(), [net.weights[0]])
        u, jac = net.value_and_jacobian(x, order=order)
        g_u = torch.autograd.grad(u.sum(), list(net.parameters()))
        assert torch.isfinite(g_jac).all() and all(torch.isfinite(g).all() for g in g_u)
        # D Phi does not depend on the biases away from kinks
        u, jac = net.value_and_jacobian(x, order=order)
        g_b = torch.autograd.grad(jac.sum(), [net.biases[0]])[0]
        assert torch.count_nonzero(g_b) == 0


@pytest.mark.parametrize("c", [0.0, 0.25, 0.5, 1.0])
def test_null_set_examples_of_the_design(c: float) -> None:
    """f(x) = ReLU(x) - ReLU(-x) = x: D Phi(0) = 2c; ReLU(-ReLU(x)) at 0: D Phi = -c^2.
    Torch autograd answers 0 for both, whatever c; the true derivatives are 1 and 0."""
    f64 = torch.float64
    identity_net = ReLUNetwork(
        [
            (torch.tensor([[1.0], [-1.0]], dtype=f64), torch.zeros(2, dtype=f64)),
            (torch.tensor([[1.0, -1.0]], dtype=f64), torch.zeros(1, dtype=f64)),
        ],
        relu_prime_at_zero=c,
    )
    nested = ReLUNetwork(
        [
            (torch.ones(1, 1, dtype=f64), torch.zeros(1, dtype=f64)),
            (-torch.ones(1, 1, dtype=f64), torch.zeros(1, dtype=f64)),
            (torch.ones(1, 1, dtype=f64), torch.zeros(1, dtype=f64)),
        ],
        relu_prime_at_zero=c,
    )
    zero = torch.zeros(1, 1, dtype=f64)
    for net, expected in ((identity_net, 2 * c), (nested, -c * c)):
        for order in ("forward", "reverse"):
            assert net.value_and_jacobian(zero, order=order)[1].item() == expected
        x = zero.clone().requires_grad_(True)
        (autograd_answer,) = torch.autograd.grad(net(x).sum(), x)
        assert autograd_answer.item() == 0.0


def test_order_choice_follows_the_cost_model() -> None:
    assert choose_order([2, 64, 64, 64, 1], backward=True) == "reverse"
    assert choose_order([1000, 64, 64, 1], backward=False) == "reverse"
    assert choose_order([1, 64, 64, 64, 3], backward=False) == "forward"
    assert choose_order([2, 64, 64, 64, 40], backward=True) == "forward"
    costs = order_costs([3, 8, 1], backward=False)
    assert costs == {"reverse": 3 * 8 + 8 + 8 * 3, "forward": 8 * 3 + 4 * 8}
    net = random_net([1, 16, 16, 5])
    assert net.choose_order(backward=False) == "forward"
