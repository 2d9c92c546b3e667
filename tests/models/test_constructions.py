"""Each exact construction against its stated error, measured on dense grids off the kinks."""

from __future__ import annotations

import math

import pytest
import torch

from models import constructions as C  # noqa: N812

F64 = torch.float64
ROUNDING = 1e-12  # float64 rounding of the realizations (values of order 1 to 100)


def dense(lo: float, hi: float, n: int = 2**15 + 1) -> torch.Tensor:
    """A dense 1-D grid shifted off the dyadic kinks by an irrational offset."""
    x = torch.linspace(lo, hi, n, dtype=F64)[:-1]
    return (x + math.pi * 1e-9 * (hi - lo)).unsqueeze(1)


def measured(net: torch.nn.Module, x: torch.Tensor, f: torch.Tensor, df: torch.Tensor) -> tuple[float, float]:
    with torch.no_grad():
        u, jac = net.value_and_jacobian(x)  # type: ignore[operator]
    return float((u[:, 0] - f).abs().max()), float((jac[:, 0, :] - df).norm(dim=1).max())


def test_tooth_and_sawtooth_are_exact() -> None:
    x = dense(-0.5, 1.5)
    with torch.no_grad():
        g = C.tooth()(x)[:, 0]
        expected = torch.clamp(1 - (2 * x[:, 0] - 1).abs(), min=0)
        torch.testing.assert_close(g, expected, rtol=0, atol=1e-12)
        for s in (1, 2, 4, 6):
            saw = C.sawtooth(s)(dense(0, 1))[:, 0]
            t = dense(0, 1)[:, 0] * 2 ** (s - 1)
            frac = t - torch.floor(t)
            torch.testing.assert_close(saw, 1 - (2 * frac - 1).abs(), rtol=0, atol=1e-9)
            assert C.sawtooth(s).depth == s + 1 and max(C.sawtooth(s).widths[1:-1]) == 3


@pytest.mark.parametrize("m", [0, 1, 2, 4, 6, 9])
def test_square_error_is_exactly_the_sharp_formula(m: int) -> None:
    x = dense(0.0, 1.0)
    value_err, deriv_err = measured(C.square(m), x, x[:, 0] ** 2, 2 * x)
    bound = C.square_error(m)
    assert bound == (2.0 ** (-2 * m - 2), 2.0**-m)
    assert value_err <= bound.value + ROUNDING
    assert deriv_err <= bound.derivative + ROUNDING
    # sharp: the grid contains the cell midpoints (value) and points next to cell ends (slope)
    assert value_err == pytest.approx(bound.value, rel=1e-6)
    assert deriv_err == pytest.approx(bound.derivative, rel=1e-3)


@pytest.mark.parametrize(("bound", "m"), [(1.0, 3), (3.0, 5), (10.0, 7)])
def test_square_on_symmetric_interval(bound: float, m: int) -> None:
    x = dense(-bound, bound)
    value_err, deriv_err = measured(C.square_on(bound, m), x, x[:, 0] ** 2, 2 * x)
    promised = C.square_error(m, bound)
    assert value_err <= promised.value * (1 + 1e-9)
    assert deriv_err <= promised.derivative * (1 + 1e-9)
    assert value_err == pytest.approx(promised.value, rel=1e-4)
    assert deriv_err == pytest.approx(promised.derivative, rel=1e-3)


@pytest.mark.parametrize(("bound", "m"), [(1.0, 3), (2.5, 5), (8.0, 6)])
def test_product_error_bound_and_its_sharpness(bound: float, m: int) -> None:
    gen = torch.Generator().manual_seed(m)
    xy = (torch.rand(40000, 2, dtype=F64, generator=gen) * 2 - 1) * bound
    net = C.product(bound, m)
    value_err, grad_err = measured(net, xy, xy[:, 0] * xy[:, 1], xy.flip(1))
    promised = C.product_error(bound, m)
    assert value_err <= promised.value * (1 + 1e-9)
    assert grad_err <= promised.derivative
    h = 2.0**-m
    at = torch.tensor([[bound * h, bound * h]], dtype=F64)  # |x|/2M, |y|/2M at cell midpoints
    with torch.no_grad():
        assert float(net(at)[0, 0] - at[0, 0] * at[0, 1]) == pytest.approx(-promised.value, rel=1e-9)
        axes = torch.tensor([[0.0, 0.3 * bound], [-0.7 * bound, 0.0], [0.0, 0.0]], dtype=F64)
        # 0 on the axes in exact arithmetic; in float64 the cancelling squares round
        # differently by CPU (exactly 0 on an AMD EPYC, 1.4e-14 = 1 ulp of 2M^2 on an
        # AVX-512 Xeon for M = 8), within the allowance 128 eps M^2 of solver/estimate.py
        allowance = 128 * torch.finfo(F64).eps * bound**2
        assert float(net(axes).abs().max()) <= allowance


#: Lower bounds on measured / promised error for the product-tree constructions, just under
#: the smallest ratios measured on the (fixed, seeded) cases below, 0.36 and 0.22: a formula
#: inflated 2x fails at least one case.
SHARP_VALUE = 0.3
SHARP_GRADIENT = 0.2


@pytest.mark.parametrize("alpha", [[2], [3], [1, 1], [2, 1], [1, 2, 1], [0, 3, 0]])
def test_monomials_within_their_product_rule_bounds(alpha: list[int]) -> None:
    bound, m = 1.5, 7
    gen = torch.Generator().manual_seed(len(alpha))
    x = ((torch.rand(20000, len(alpha), dtype=F64, generator=gen) * 2 - 1) * bound).requires_grad_(True)
    power = torch.tensor(alpha, dtype=F64)
    exact = torch.prod(x**power, 1)
    (grad,) = torch.autograd.grad(exact.sum(), x)
    x = x.detach()
    value_err, grad_err = measured(C.monomial(alpha, bound, m), x, exact.detach(), grad)
    promised = C.monomial_error(alpha, bound, m)
    assert value_err <= promised.value
    assert grad_err <= promised.derivative
    assert value_err > 0 or sum(alpha) <= 1
    # The formula is close to sharp: measured 0.65-1.0 of the value promise and 0.26-0.61
    # of the gradient promise on these cases, so an inflated formula fails here.
    assert value_err >= SHARP_VALUE * promised.value
    assert grad_err >= SHARP_GRADIENT * promised.derivative


def test_monomial_error_shrinks_like_four_to_the_minus_m() -> None:
    errors = [C.monomial_error([2, 1], 1.0, m).value for m in (4, 6, 8)]
    assert errors[1] / errors[0] == pytest.approx(1 / 16, rel=0.3)
    assert errors[2] / errors[1] == pytest.approx(1 / 16, rel=0.3)


@pytest.mark.parametrize(
    "coefficients", [[1.0, -2.0], [0.5, 0.0, 3.0], [0.5, -1.0, 2.0, 0.3, -0.7], [1, 1, 1, 1, 1, 1, 1]]
)
def test_univariate_polynomials(coefficients: list[float]) -> None:
    bound, m = 1.2, 8
    x = dense(-bound, bound, 20001)
    t = x[:, 0]
    exact = sum(ck * t**k for k, ck in enumerate(coefficients))
    slope = sum(k * ck * t ** (k - 1) for k, ck in enumerate(coefficients) if k > 0)
    value_err, deriv_err = measured(C.polynomial(coefficients, bound, m), x, exact, slope.unsqueeze(1))
    promised = C.polynomial_error(coefficients, bound, m)
    assert value_err <= promised.value + ROUNDING
    assert deriv_err <= promised.derivative + ROUNDING
    # Measured 0.36-1.0 (value) and 0.22-0.50 (derivative) of the promise: close to sharp.
    assert value_err >= SHARP_VALUE * promised.value
    assert deriv_err >= SHARP_GRADIENT * promised.derivative


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_cutoff_plateau_support_range_and_slope(d: int) -> None:
    plateau, width = 1.0, 0.5
    chi = C.cutoff(d, plateau, width)
    gen = torch.Generator().manual_seed(d)
    x = (torch.rand(30000, d, dtype=F64, generator=gen) * 2 - 1) * 2.0
    x = torch.cat([x, torch.tensor([[plateau] * d, [plateau + width] * d, [0.0] * d], dtype=F64)])
    with torch.no_grad():
        u, jac = chi.value_and_jacobian(x)
    inside = (x.abs() <= plateau).all(1)
    outside = (x.abs() >= plateau + width).any(1)
    assert torch.all(u[inside] == 1.0)
    assert torch.all(u[outside] == 0.0)
    assert float(u.min()) >= 0.0 and float(u.max()) <= 1.0
    assert float(jac.norm(dim=2).max()) <= 1 / width + 1e-12
    # between: chi = min_i (B + w - |x_i|) / w
    ramp = ~inside & ~outside
    expected = ((plateau + width - x.abs()) / width).clamp(0, 1).min(1).values
    torch.testing.assert_close(u[ramp, 0], expected[ramp], rtol=0, atol=1e-12)
    assert C.cutoff_error() == (0.0, 0.0)


def test_interpolant_1d_is_seed_001_construction_with_the_sharp_error() -> None:
    cells = 16
    net = C.interpolant(lambda p: p[:, 0] ** 2, [0.0], [1.0], cells)
    x = dense(0.0, 1.0)
    value_err, deriv_err = measured(net, x, x[:, 0] ** 2, 2 * x)
    promised = C.interpolant_error([1 / cells], 2.0)
    assert value_err == pytest.approx(promised.value, rel=1e-6)
    assert deriv_err == pytest.approx(promised.derivative, rel=1e-3)
    assert value_err <= promised.value + ROUNDING and deriv_err <= promised.derivative + ROUNDING
    with torch.no_grad():  # interpolates: exact at the nodes
        nodes = torch.linspace(0, 1, cells + 1, dtype=F64).unsqueeze(1)
        torch.testing.assert_close(net(nodes)[:, 0], nodes[:, 0] ** 2, rtol=0, atol=1e-13)


@pytest.mark.parametrize(("d", "cells"), [(2, 6), (3, 3)])
def test_interpolant_in_two_and_three_dimensions(d: int, cells: int) -> None:
    lower, upper = [-1.0] * d, [1.0] * d
    net = C.interpolant(lambda p: (p**2).sum(1), lower, upper, cells)
    gen = torch.Generator().manual_seed(d)
    x = torch.rand(20000, d, dtype=F64, generator=gen) * 2 - 1
    value_err, grad_err = measured(net, x, (x**2).sum(1), 2 * x)
    promised = C.interpolant_error([2 / cells] * d, 2.0)  # Hess |x|^2 = 2 I
    assert value_err <= promised.value + ROUNDING
    assert grad_err <= promised.derivative
    assert value_err >= 0.9 * promised.value  # sharp for |x|^2 at the cell centres
    # a smooth non-polynomial target
    net = C.interpolant(lambda p: torch.sin(p).sum(1), lower, upper, cells)
    value_err, grad_err = measured(net, x, torch.sin(x).sum(1), torch.cos(x))
    promised = C.interpolant_error([2 / cells] * d, 1.0)  # |Hess| = max |sin| <= 1
    assert value_err <= promised.value and grad_err <= promised.derivative


def test_bad_construction_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="m \\(the squaring depth"):
        C.square(-1)
    with pytest.raises(ValueError, match="M must be a positive"):
        C.product(0.0, 3)
    with pytest.raises(ValueError, match="width must be"):
        C.cutoff(2, 1.0, 0.0)
    with pytest.raises(ValueError, match="alpha must be"):
        C.monomial([], 1.0, 3)
    with pytest.raises(ValueError, match="upper must exceed lower"):
        C.interpolant(lambda p: p[:, 0], [1.0], [0.0], 4)
