"""Exact ReLU constructions with stated W^{1,inf} errors (Yarotsky 2017; Berner et al. 2019).

Every function returns a float64 ``ReLUNetwork`` (relu, c = ``relu_prime_at_zero``) and has
a companion ``*_error`` that returns the value and derivative error it promises.  Errors
are essential suprema (a.e. statements, as in W^{1,inf}): at the finitely many kinks D Phi
depends on c.  Notation: h = 2^-m is the grid of the squaring network.

* ``tooth``:       g(x) = 2 rho(x) - 4 rho(x - 1/2) + 2 rho(x - 1), the hat on [0, 1].
* ``sawtooth(s)``: g_s = g o ... o g (s times), 2^(s-1) teeth, s hidden layers of width 3.
* ``square(m)``:   f_m(x) = x - sum_{s=1}^m g_s(x) / 4^s on [0, 1], the interpolant of x^2 on
  the grid h:  sup |f_m - x^2| = h^2 / 4 = 2^(-2m-2),  ess sup |f_m' - 2x| = h = 2^-m (both sharp).
* ``square_on(M, m)``: M^2 f_m(|x| / M) on [-M, M]: errors M^2 2^(-2m-2) and M 2^-m (sharp).
* ``product(M, m)``: xy = 2M^2 [f_m(|x+y|/2M) - f_m(|x|/2M) - f_m(|y|/2M)] on [-M, M]^2, 0 when
  x = 0 or y = 0 (exactly in exact arithmetic, to a few ulps of 2M^2 in float64).  Since
  0 <= f_m(a) - a^2 <= 2^(-2m-2), the value error is at most
  4 M^2 2^(-2m-2) = M^2 2^(-2m) (sharp, at x = y = M h; 6 M^2 2^(-2m-2) is the
  triangle-inequality bound); each partial derivative errs by at most 2 M 2^-m, the
  Euclidean gradient by at most 2 sqrt(2) M 2^-m.
* ``monomial(alpha, M, m)`` and ``polynomial(coefficients, M, m)`` multiply by product trees;
  their errors follow from the product rule below (``_Factor.times``).
* ``cutoff(d, plateau, width)``: chi = min_i trap(x_i), 1 on [-B, B]^d, 0 outside
  (-(B + w), B + w)^d, values in [0, 1], |D chi| <= 1/w (exact: no approximation error).
* ``interpolant(f, lower, upper, cells)``: the piecewise-linear interpolant of f on the Kuhn
  (Freudenthal) triangulation of a product grid, sum_j f(x_j) phi_j with the nodal hats
  phi_j(x) = rho(1 - rho(max_i y_i) - rho(max_i (-y_i))), y = (x - x_j) / h (the
  hat-function proof: shifted ReLUs, then hats, then the weighted sum).  With
  M2 = sup |Hess f|_2: value error <= M2 |h|^2 / 8 (sharp for |x|^2), gradient error
  <= M2 h / 2 in d = 1 (sharp for x^2) and <= sqrt(d) M2 |h| in d > 1.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from models.calculus import compose, identity, linear_combination, parallel
from models.network import ReLUNetwork

DTYPE = torch.float64


class ErrorBound(NamedTuple):
    """Promised sup-norm errors: |R Phi - f| <= value, |D Phi - Df| <= derivative (a.e.)."""

    value: float
    derivative: float


def _net(layers: Sequence[tuple[Sequence[Sequence[float]], Sequence[float]]], c: float) -> ReLUNetwork:
    return ReLUNetwork(
        [(torch.tensor(a, dtype=DTYPE), torch.tensor(b, dtype=DTYPE)) for a, b in layers],
        relu_prime_at_zero=c,
    )


def _check_m(m: int) -> None:
    if not isinstance(m, int) or m < 0 or m > 60:
        raise ValueError(f"m (the squaring depth, grid 2^-m) must be an integer in 0..60, got {m!r}")


def _check_positive(name: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")


# --------------------------------------------------------------------------- sawtooth, square
def tooth(relu_prime_at_zero: float = 0.0) -> ReLUNetwork:
    """g(x) = 2 rho(x) - 4 rho(x - 1/2) + 2 rho(x - 1): 0 -> 1 -> 0 on [0, 1], 0 outside."""
    return _net([([[1.0], [1.0], [1.0]], [0.0, -0.5, -1.0]), ([[2.0, -4.0, 2.0]], [0.0])], relu_prime_at_zero)


def sawtooth(s: int, relu_prime_at_zero: float = 0.0) -> ReLUNetwork:
    """g_s = g o ... o g (s >= 1 times): 2^(s-1) teeth of height 1 on [0, 1], exact."""
    if not isinstance(s, int) or s < 1:
        raise ValueError(f"sawtooth needs s >= 1 compositions, got {s!r}")
    net = tooth(relu_prime_at_zero)
    for _ in range(s - 1):
        net = compose(tooth(relu_prime_at_zero), net)
    return net


def square(m: int, relu_prime_at_zero: float = 0.0) -> ReLUNetwork:
    """f_m(x) = x - sum_{s=1}^m g_s(x)/4^s on [0, 1] (m hidden layers of width 4).

    Hidden layer s holds (rho(y), rho(y - 1/2), rho(y - 1), rho(f_{s-1}(x) + 1)) with
    y = g_{s-1}(x); the running sum is carried shifted by +1 so that it never sits on a kink.
    Errors on [0, 1]: ``square_error(m)`` = (2^(-2m-2), 2^-m), both sharp.
    """
    _check_m(m)
    if m == 0:
        return _net([([[1.0]], [0.0])], relu_prime_at_zero)
    tooth_row = [2.0, -4.0, 2.0]
    layers: list[tuple[list[list[float]], list[float]]] = [([[1.0]] * 4, [0.0, -0.5, -1.0, 1.0])]
    for s in range(1, m):
        k = 4.0**-s
        carry = [-2.0 * k, 4.0 * k, -2.0 * k, 1.0]
        layers.append(([[*tooth_row, 0.0]] * 3 + [carry], [0.0, -0.5, -1.0, 0.0]))
    k = 4.0**-m
    layers.append(([[-2.0 * k, 4.0 * k, -2.0 * k, 1.0]], [-1.0]))
    return _net(layers, relu_prime_at_zero)


def square_error(m: int, bound: float = 1.0) -> ErrorBound:
    """Errors of ``square_on(bound, m)`` (``square(m)`` for bound = 1): M^2 2^(-2m-2), M 2^-m."""
    _check_m(m)
    return ErrorBound(bound**2 * 2.0 ** (-2 * m - 2), bound * 2.0**-m)


def _abs_layer(coefficients: Sequence[Sequence[float]], c: float) -> ReLUNetwork:
    """x -> (|w_k . x|)_k via rho(w.x) + rho(-w.x): depth 2."""
    rows = [list(r) for r in coefficients]
    split = [r for row in rows for r in (row, [-v for v in row])]
    merge = [[1.0 if j // 2 == i else 0.0 for j in range(2 * len(rows))] for i in range(len(rows))]
    return _net([(split, [0.0] * len(split)), (merge, [0.0] * len(rows))], c)


def square_on(bound: float, m: int, relu_prime_at_zero: float = 0.0) -> ReLUNetwork:
    """x -> M^2 f_m(|x| / M) on [-M, M]; ``square_error(m, M)`` = (M^2 2^(-2m-2), M 2^-m), sharp."""
    _check_positive("M", bound)
    _check_m(m)
    inner = compose(square(m, relu_prime_at_zero), _abs_layer([[1.0 / bound]], relu_prime_at_zero))
    return linear_combination(torch.tensor([bound**2], dtype=DTYPE), inner)


def product(bound: float, m: int, relu_prime_at_zero: float = 0.0) -> ReLUNetwork:
    """(x, y) -> 2M^2 [f_m(|x+y|/2M) - f_m(|x|/2M) - f_m(|y|/2M)] ~ xy on [-M, M]^2.

    0 when x = 0 or y = 0 in exact arithmetic (in float64 within a few ulps of 2M^2: the
    cancelling squares round differently by CPU).  ``product_error(M, m)``: value
    M^2 2^(-2m) (sharp), each partial derivative 2 M 2^-m, Euclidean gradient 2 sqrt(2) M 2^-m.
    """
    _check_positive("M", bound)
    _check_m(m)
    k = 1.0 / (2.0 * bound)
    absolute = _abs_layer([[k, k], [k, 0.0], [0.0, k]], relu_prime_at_zero)
    sq = square(m, relu_prime_at_zero)
    squares = compose(parallel(sq, sq, sq), absolute)
    weights = torch.tensor([2.0, -2.0, -2.0], dtype=DTYPE) * bound**2
    return linear_combination(weights, squares)


def product_error(bound: float, m: int) -> ErrorBound:
    """Value and Euclidean-gradient error of ``product(M, m)`` on [-M, M]^2."""
    _check_positive("M", bound)
    _check_m(m)
    return ErrorBound(bound**2 * 2.0 ** (-2 * m), 2.0 * math.sqrt(2.0) * bound * 2.0**-m)


# --------------------------------------------------------------------------- product trees
@dataclass(frozen=True)
class _Factor:
    """A network output approximating a true function a on the domain.

    size: sup |a|;  slope: sup |Da|;  err: sup |a~ - a|;  slope_err: sup |Da~ - Da|.
    """

    size: float
    slope: float
    err: float
    slope_err: float

    def times(self, other: _Factor, m: int) -> tuple[_Factor, float]:
        """The factor of P(a~, b~) ~ ab and the product network's range M_p.

        With P = product(M_p, m), M_p >= max(|a~|, |b~|), delta = M_p^2 2^(-2m), eta = 2 M_p 2^-m:
          |P(a~, b~) - ab| <= delta + (|a| + e_a) e_b + |b| e_a
          |DP - D(ab)|     <= (eta + e_b) |Da~| + |b| g_a + (eta + e_a) |Db~| + |a| g_b
        where |Da~| <= |Da| + g_a.
        """
        bound = max(self.size + self.err, other.size + other.err, 1e-300)
        delta = bound**2 * 2.0 ** (-2 * m)
        eta = 2.0 * bound * 2.0**-m
        value_err = delta + (self.size + self.err) * other.err + other.size * self.err
        slope_a = self.slope + self.slope_err
        slope_b = other.slope + other.slope_err
        slope_err = (
            (eta + other.err) * slope_a
            + other.size * self.slope_err
            + (eta + self.err) * slope_b
            + self.size * other.slope_err
        )
        size = self.size * other.size
        slope = other.size * self.slope + self.size * other.slope
        return _Factor(size, slope, value_err, slope_err), bound


def _pad_identity(c: float) -> ReLUNetwork:
    return identity(1, 1, dtype=DTYPE, relu_prime_at_zero=c)


def _product_level(
    factors: list[_Factor], pairs: list[tuple[int, int]], keep: list[int], m: int, c: float
) -> tuple[ReLUNetwork, list[_Factor]]:
    """One tree level: outputs (P(v_i, v_j) for (i, j) in pairs) then (v_k for k in keep)."""
    width = len(factors)
    select_rows: list[list[float]] = []
    blocks: list[ReLUNetwork] = []
    out: list[_Factor] = []
    for i, j in pairs:
        for index in (i, j):
            select_rows.append([1.0 if col == index else 0.0 for col in range(width)])
        factor, bound = factors[i].times(factors[j], m)
        blocks.append(product(bound, m, c))
        out.append(factor)
    for k in keep:
        select_rows.append([1.0 if col == k else 0.0 for col in range(width)])
        blocks.append(_pad_identity(c))
        out.append(factors[k])
    select = _net([(select_rows, [0.0] * len(select_rows))], c)
    return compose(parallel(*blocks), select), out


def monomial(alpha: Sequence[int], bound: float, m: int, relu_prime_at_zero: float = 0.0) -> ReLUNetwork:
    """x -> x^alpha = prod_i x_i^alpha_i on [-M, M]^d by a balanced product tree.

    Depth 1 + ceil(log2 |alpha|) (m + 1); the error is ``monomial_error(alpha, M, m)``.
    """
    return _build_monomial(alpha, bound, m, relu_prime_at_zero)[0]


def monomial_error(alpha: Sequence[int], bound: float, m: int) -> ErrorBound:
    """The value and Euclidean-gradient error promised for ``monomial(alpha, M, m)``."""
    return _build_monomial(alpha, bound, m, 0.0)[1]


def _build_monomial(alpha: Sequence[int], bound: float, m: int, c: float) -> tuple[ReLUNetwork, ErrorBound]:
    _check_positive("M", bound)
    _check_m(m)
    alpha = [int(a) for a in alpha]
    if not alpha or any(a < 0 for a in alpha):
        raise ValueError(f"alpha must be a non-empty list of non-negative integers, got {alpha}")
    d = len(alpha)
    indices = [i for i, a in enumerate(alpha) for _ in range(a)]
    if not indices:  # x^0 = 1
        return _net([([[0.0] * d], [1.0])], c), ErrorBound(0.0, 0.0)
    rows = [[1.0 if col == i else 0.0 for col in range(d)] for i in indices]
    net = _net([(rows, [0.0] * len(rows))], c)
    factors = [_Factor(bound, 1.0, 0.0, 0.0) for _ in indices]
    while len(factors) > 1:
        pairs = [(2 * i, 2 * i + 1) for i in range(len(factors) // 2)]
        keep = [len(factors) - 1] if len(factors) % 2 else []
        level, factors = _product_level(factors, pairs, keep, m, c)
        net = compose(level, net)
    return net, ErrorBound(factors[0].err, factors[0].slope_err)


def polynomial(
    coefficients: Sequence[float], bound: float, m: int, relu_prime_at_zero: float = 0.0
) -> ReLUNetwork:
    """x -> sum_k c_k x^k on [-M, M] (coefficients c_0, c_1, ..., c_n).

    Powers are built by doubling: level j holds x^1 .. x^(2^j) and forms
    x^(2^j + i) = x^(2^j) x^i for i = 1 .. 2^j, so depth is 1 + ceil(log2 n) (m + 1) and the
    widest level has 2^(j-1) product networks.  Error: ``polynomial_error``, i.e.
    sum_k |c_k| (error of x^k) in value and in derivative.
    """
    return _build_polynomial(coefficients, bound, m, relu_prime_at_zero)[0]


def polynomial_error(coefficients: Sequence[float], bound: float, m: int) -> ErrorBound:
    """The value and derivative error promised for ``polynomial(coefficients, M, m)``."""
    return _build_polynomial(coefficients, bound, m, 0.0)[1]


def _build_polynomial(
    coefficients: Sequence[float], bound: float, m: int, c: float
) -> tuple[ReLUNetwork, ErrorBound]:
    _check_positive("M", bound)
    _check_m(m)
    coeffs = [float(v) for v in coefficients]
    if not coeffs or not all(math.isfinite(v) for v in coeffs):
        raise ValueError(f"coefficients must be a non-empty list of finite numbers, got {coefficients}")
    degree = len(coeffs) - 1
    if degree == 0:
        return _net([([[0.0]], [coeffs[0]])], c), ErrorBound(0.0, 0.0)
    net = _net([([[1.0]], [0.0])], c)
    factors = [_Factor(bound, 1.0, 0.0, 0.0)]  # factors[k] approximates x^(k+1)
    while len(factors) < degree:
        have = len(factors)
        new = min(have, degree - have)
        pairs = [(have - 1, i) for i in range(new)]
        keep = list(range(have))
        level, out = _product_level(factors, pairs, keep, m, c)
        # reorder to x^1 .. x^(have + new): the level emits products first, then the carried powers
        order = list(range(new, new + have)) + list(range(new))
        perm = torch.zeros(len(order), len(order), dtype=DTYPE)
        for row, col in enumerate(order):
            perm[row, col] = 1.0
        net = compose(linear_combination(perm, level), net)
        factors = [out[i] for i in order]
    weights = torch.tensor(coeffs[1:], dtype=DTYPE)
    result = linear_combination(weights, net, coeffs[0])
    value_err = sum(abs(ck) * f.err for ck, f in zip(coeffs[1:], factors, strict=True))
    slope_err = sum(abs(ck) * f.slope_err for ck, f in zip(coeffs[1:], factors, strict=True))
    return result, ErrorBound(value_err, slope_err)


# --------------------------------------------------------------------------- cutoff
def _min_tree(count: int, c: float) -> ReLUNetwork:
    """(a_1, ..., a_k) -> min_i a_i for a_i >= 0, by min(a, b) = rho(a) - rho(a - b)."""
    net = identity(count, 1, dtype=DTYPE, relu_prime_at_zero=c)
    width = count
    while width > 1:
        pairs = width // 2
        rows: list[list[float]] = []
        out_rows: list[list[float]] = []
        hidden = 0
        for p in range(pairs):
            i, j = 2 * p, 2 * p + 1
            rows.append([1.0 if col == i else 0.0 for col in range(width)])
            rows.append([1.0 if col == i else (-1.0 if col == j else 0.0) for col in range(width)])
            out_rows.append([0.0] * hidden + [1.0, -1.0])
            hidden += 2
        if width % 2:
            rows.append([1.0 if col == width - 1 else 0.0 for col in range(width)])
            out_rows.append([0.0] * hidden + [1.0])
            hidden += 1
        out_rows = [r + [0.0] * (hidden - len(r)) for r in out_rows]
        level = _net([(rows, [0.0] * len(rows)), (out_rows, [0.0] * len(out_rows))], c)
        net = compose(level, net)
        width = len(out_rows)
    return net


def cutoff(d: int, plateau: float, width: float, relu_prime_at_zero: float = 0.0) -> ReLUNetwork:
    """chi(x) = min_i trap(x_i) with trap(s) = [rho(s+B+w) - rho(s+B) - rho(s-B) + rho(s-B-w)] / w.

    chi = 1 on [-B, B]^d, 0 outside (-(B + w), B + w)^d, values in [0, 1], |D chi| <= 1/w;
    exact (``cutoff_error`` is zero).  Depth 2 + ceil(log2 d).
    """
    if not isinstance(d, int) or d < 1:
        raise ValueError(f"cutoff needs a dimension d >= 1, got {d!r}")
    if not (plateau >= 0 and math.isfinite(plateau)):
        raise ValueError(f"plateau must be a finite number >= 0, got {plateau!r}")
    _check_positive("width", width)
    shifts = [plateau + width, plateau, -plateau, -plateau - width]
    signs = [1.0, -1.0, -1.0, 1.0]
    rows = [[1.0 if col == i else 0.0 for col in range(d)] for i in range(d) for _ in shifts]
    biases = [s for _ in range(d) for s in shifts]
    merge = [[signs[j % 4] / width if j // 4 == i else 0.0 for j in range(4 * d)] for i in range(d)]
    traps = _net([(rows, biases), (merge, [0.0] * d)], relu_prime_at_zero)
    return compose(_min_tree(d, relu_prime_at_zero), traps)


def cutoff_error() -> ErrorBound:
    """The cutoff is exact: it is the function it claims to be."""
    return ErrorBound(0.0, 0.0)


# --------------------------------------------------------------------------- interpolant
def _max_tree(count: int, c: float) -> ReLUNetwork:
    """(a_1, ..., a_k) -> max_i a_i by max(a, b) = rho(a - b) + rho(b) - rho(-b)."""
    net = identity(count, 1, dtype=DTYPE, relu_prime_at_zero=c)
    width = count
    while width > 1:
        rows: list[list[float]] = []
        out_rows: list[list[float]] = []
        for p in range(width // 2):
            i, j = 2 * p, 2 * p + 1
            unit = [
                [1.0 if col == i else (-1.0 if col == j else 0.0) for col in range(width)],
                [1.0 if col == j else 0.0 for col in range(width)],
                [-1.0 if col == j else 0.0 for col in range(width)],
            ]
            rows.extend(unit)
            out_rows.append([0.0] * (3 * p) + [1.0, 1.0, -1.0])
        if width % 2:
            k = width - 1
            rows.append([1.0 if col == k else 0.0 for col in range(width)])
            rows.append([-1.0 if col == k else 0.0 for col in range(width)])
            out_rows.append([0.0] * (3 * (width // 2)) + [1.0, -1.0])
        hidden = len(rows)
        out_rows = [r + [0.0] * (hidden - len(r)) for r in out_rows]
        level = _net([(rows, [0.0] * hidden), (out_rows, [0.0] * len(out_rows))], c)
        net = compose(level, net)
        width = len(out_rows)
    return net


def _nodal_hat(d: int, c: float) -> ReLUNetwork:
    """y -> rho(1 - rho(max_i y_i) - rho(max_i (-y_i))): the Kuhn-triangulation hat at 0."""
    both = _net(
        [
            (
                [[1.0 if j == i else 0.0 for j in range(d)] for i in range(d)]
                + [[-1.0 if j == i else 0.0 for j in range(d)] for i in range(d)],
                [0.0] * (2 * d),
            )
        ],
        c,
    )
    maxima = compose(parallel(_max_tree(d, c), _max_tree(d, c)), both)
    hat = _net([([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0]), ([[-1.0, -1.0]], [1.0]), ([[1.0]], [0.0])], c)
    return compose(hat, maxima)


def interpolant(
    f: Callable[[Tensor], Tensor],
    lower: Sequence[float],
    upper: Sequence[float],
    cells: Sequence[int] | int,
    relu_prime_at_zero: float = 0.0,
) -> ReLUNetwork:
    """The piecewise-linear interpolant of f on the Kuhn triangulation of a product grid.

    ``f`` maps (k, d) float64 points to (k,) values.  The grid has ``cells[i]`` cells of width
    h_i = (upper_i - lower_i) / cells[i] along axis i; the network is
    sum_j f(x_j) phi_j((x - x_j) / h), with one nodal hat per grid node.
    Error: ``interpolant_error(h, M2)``.
    """
    d = len(lower)
    if d < 1 or len(upper) != d:
        raise ValueError(f"lower and upper must have the same length >= 1, got {lower} and {upper}")
    cells_list = [int(cells)] * d if isinstance(cells, int) else [int(n) for n in cells]
    if len(cells_list) != d or any(n < 1 for n in cells_list):
        raise ValueError(f"cells must be one positive integer per axis, got {cells}")
    lo = torch.tensor(lower, dtype=DTYPE)
    hi = torch.tensor(upper, dtype=DTYPE)
    if not bool((hi > lo).all()):
        raise ValueError(f"upper must exceed lower on every axis, got {lower} and {upper}")
    h = (hi - lo) / torch.tensor(cells_list, dtype=DTYPE)
    nodes = torch.tensor(list(itertools.product(*[range(n + 1) for n in cells_list])), dtype=DTYPE)
    points = lo + nodes * h
    values = f(points).to(DTYPE).reshape(-1)
    hat = _nodal_hat(d, relu_prime_at_zero)
    count = points.shape[0]
    # y_j = (x - x_j) / h for every node j at once: an affine map R^d -> R^(count d).
    shift_rows = torch.cat([torch.diag(1.0 / h)] * count, 0)
    shift_bias = (-points / h).reshape(-1)
    shifted = ReLUNetwork([(shift_rows, shift_bias)], relu_prime_at_zero=relu_prime_at_zero)
    hats = compose(parallel(*[hat] * count), shifted)
    return linear_combination(values, hats)


def interpolant_error(spacing: Sequence[float], hessian_bound: float) -> ErrorBound:
    """Value error M2 |h|^2 / 8; gradient error M2 h / 2 (d = 1) or sqrt(d) M2 |h| (d > 1).

    Value: f - If = -sum_i lambda_i R_i with Taylor remainders |R_i| <= M2 |x - v_i|^2 / 2 and
    sum_i lambda_i |x - v_i|^2 = r^2 - |x - z|^2 <= r^2 = |h|^2 / 4 (z, r: circumcentre and
    radius of a Kuhn simplex, the centre of its cell).  Gradient: along each edge of the Kuhn
    path the interpolant's slope is the mean of the partial derivative over that edge.
    """
    hs = [float(v) for v in spacing]
    norm = math.sqrt(sum(v * v for v in hs))
    derivative = hessian_bound * hs[0] / 2.0 if len(hs) == 1 else math.sqrt(len(hs)) * hessian_bound * norm
    return ErrorBound(hessian_bound * norm**2 / 8.0, derivative)
