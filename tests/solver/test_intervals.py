"""Certified interval enclosures of expressions: containment, tightness, extrema, refusals."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from solver.expressions import parse, space_env, space_names
from solver.intervals import Interval, enclose_expression, space_intervals

F64 = torch.float64
NAMES = space_names(3, has_time=True)

# Together these call every function and operator of the language; on the boxes below
# (t in [0, 1], x, y, z in [-1, 1.5]) every one is real and finite.
EXPRESSIONS = [
    "sin(pi*x)*sin(pi*y)",
    "exp(-2*pi**2*t)*cos(3*x)",
    "x**2 - y**3/(2+x)",
    "norm(x_vec)",
    "max(abs(x), abs(y))",
    "sqrt(1+x**2)*tanh(y)",
    "cosh(x)-sinh(y)",
    "dot(x_vec, x_vec)",
    "log(2+x)",
    "sign(x)*y",
    "tan(x/2) + min(x, y, 0.3)",
    "abs(z)**1.5 + (1 + x**2)**(-1.5)",
    "(2+y)**t - 1/(3+z) + e**x",
    "sum(sin(x_vec)*t) - norm(x_vec - 0.5*t)",
    "-x*y*z + (1.5+y)**(-3) - x**4",
    "sum(max(x_vec, t)**2) + cos(5*t - x)**2",
]


def boxes(
    seed: int, scale: float, first: list[float], first_width: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """16 random boxes in (t, x, y, z) inside [0, 1] x [-1, 1.5]^3; box 0 from hypothesis."""
    gen = torch.Generator().manual_seed(seed)
    k = 16
    lower = torch.rand(k, 4, dtype=F64, generator=gen) * 2 - 1
    lower[:, 0] = (lower[:, 0] + 1) * 0.4
    lower[0] = torch.tensor(first, dtype=F64)
    width = torch.rand(k, 4, dtype=F64, generator=gen) * scale
    width[0] = first_width
    top = torch.tensor([1.0, 1.5, 1.5, 1.5], dtype=F64)
    return lower, torch.minimum(lower + width, top)


def points_in(lower: torch.Tensor, upper: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """(K, n + 16, 4): n uniform points and the 16 corners of every box."""
    gen = torch.Generator().manual_seed(seed + 1)
    k = lower.shape[0]
    frac = torch.rand(k, n, 4, dtype=F64, generator=gen)
    bits = torch.tensor([[(i >> j) & 1 for j in range(4)] for i in range(16)], dtype=F64)
    frac = torch.cat([frac, bits.expand(k, -1, -1)], dim=1)
    pts = lower[:, None, :] + frac * (upper - lower)[:, None, :]
    return torch.minimum(torch.maximum(pts, lower[:, None, :]), upper[:, None, :])  # rounding


def evaluate(text: str, pts: torch.Tensor) -> torch.Tensor:
    flat = pts.reshape(-1, 4)
    value = parse(text, NAMES).evaluate(space_env(flat[:, 0], flat[:, 1:]), flat[:, 0])
    return value.reshape(pts.shape[0], pts.shape[1])


def enclose(text: str, lower: torch.Tensor, upper: torch.Tensor) -> Interval:
    env = space_intervals(lower, upper, 3, has_time=True)
    return enclose_expression(parse(text, NAMES, want=None), env, lower.shape[0])


@settings(max_examples=40, deadline=None)
@given(
    index=st.integers(0, len(EXPRESSIONS) - 1),
    seed=st.integers(0, 10_000),
    scale=st.sampled_from([0.0, 1e-6, 0.05, 0.5, 2.5]),
    first=st.tuples(st.floats(0, 1), st.floats(-1, 1), st.floats(-1, 1), st.floats(-1, 1)),
    first_width=st.floats(0, 1),
)
def test_sampled_values_lie_in_the_enclosure(
    index: int, seed: int, scale: float, first: tuple[float, float, float, float], first_width: float
) -> None:
    text = EXPRESSIONS[index]
    lower, upper = boxes(seed, scale, list(first), first_width)
    iv = enclose(text, lower, upper)
    assert iv.lo.shape == iv.hi.shape == (16,)
    assert torch.all(iv.lo <= iv.hi)
    values = evaluate(text, points_in(lower, upper, 200, seed))
    assert torch.isfinite(values).all()
    inside = iv.contains(values.t()).t()
    assert bool(inside.all()), (text, values[~inside][:5], iv.lo, iv.hi)


@settings(max_examples=30, deadline=None)
@given(
    index=st.integers(0, len(EXPRESSIONS) - 1),
    point=st.tuples(st.floats(0, 1), st.floats(-1, 1.5), st.floats(-1, 1.5), st.floats(-1, 1.5)),
)
def test_a_degenerate_box_gives_a_tight_enclosure(
    index: int, point: tuple[float, float, float, float]
) -> None:
    text = EXPRESSIONS[index]
    x = torch.tensor([point], dtype=F64)
    iv = enclose(text, x, x.clone())
    value = evaluate(text, x[:, None, :])[:, 0]
    assert bool(iv.contains(value).all())
    assert float(iv.width()[0]) <= 1e-12 * max(1.0, abs(float(value[0]))), (text, iv)


def one(text: str, lo: float, hi: float) -> tuple[float, float]:
    """Enclosure over x in [lo, hi] (the other inputs fixed at 0)."""
    lower = torch.tensor([[0.0, lo, 0.0, 0.0]], dtype=F64)
    upper = torch.tensor([[0.0, hi, 0.0, 0.0]], dtype=F64)
    iv = enclose(text, lower, upper)
    return float(iv.lo[0]), float(iv.hi[0])


def test_extrema_inside_the_interval_are_found() -> None:
    lo, hi = one("sin(x)", 0.0, math.pi)
    assert hi == 1.0 and -1e-15 < lo <= 0.0
    assert one("cos(x)", 3.0, 3.5)[0] == -1.0  # pi inside
    assert one("cos(x)", -0.1, 0.2)[1] == 1.0
    assert one("sin(x)", -100.0, -93.0) == (-1.0, 1.0)  # width >= 2 pi
    lo, hi = one("sin(x)", 0.1, 0.2)
    assert math.sin(0.1) - 1e-15 < lo <= math.sin(0.1) and math.sin(0.2) <= hi < math.sin(0.2) + 1e-15
    lo, hi = one("cosh(x)", -1.0, 2.0)
    assert lo == 1.0 and hi >= math.cosh(2.0)
    lo, hi = one("x**2", -1.0, 2.0)
    assert lo == 0.0 and 4.0 <= hi < 4.0 + 1e-13
    assert one("x**3", -1.0, 2.0)[0] <= -1.0
    assert one("x**(-2)", -1.0, 2.0)[1] == math.inf  # a pole inside
    lo, hi = one("x**(-2)", 1.0, 2.0)
    assert 0.25 - 1e-14 < lo <= 0.25 and 1.0 <= hi < 1.0 + 1e-14
    assert one("abs(x)", -3.0, 2.0) == (0.0, 3.0)
    assert one("sign(x)", -1.0, 1.0) == (-1.0, 1.0)
    assert one("tanh(x)", -1e3, 1e3) == (-1.0, 1.0)


def test_poles_and_zero_divisors_give_infinite_bounds() -> None:
    assert one("tan(x)", 1.0, 2.0) == (-math.inf, math.inf)
    lo, hi = one("tan(x)", 0.0, 1.0)
    assert lo <= 0.0 and math.tan(1.0) <= hi < 1.6
    assert one("1/x", -1.0, 1.0) == (-math.inf, math.inf)
    lo, hi = one("1/x", 1.0, 2.0)
    assert 0.5 - 1e-14 < lo <= 0.5 and 1.0 <= hi < 1.0 + 1e-14
    assert one("log(x)", 0.0, 1.0)[0] == -math.inf
    assert one("log(x)", -1.0, 1.0)[0] == -math.inf


def test_powers_and_roots_of_negative_numbers_are_refused() -> None:
    with pytest.raises(ValueError, match="base must be >= 0"):
        one("x**0.5", -1.0, 1.0)
    with pytest.raises(ValueError, match="base must be >= 0"):
        one("x**y", -1.0, 1.0)
    with pytest.raises(ValueError, match="sqrt"):
        one("sqrt(x)", -2.0, -1.0)
    with pytest.raises(ValueError, match="log"):
        one("log(x)", -2.0, -1.0)
    lo, hi = one("sqrt(x)", -1.0, 4.0)  # cut at 0
    assert lo == 0.0 and 2.0 <= hi < 2.0 + 1e-14


def test_constants_enclose_the_real_numbers_they_name() -> None:
    pi_digits = Fraction("3.14159265358979323846264338327950288")
    for text, exact in (
        ("0.1", Fraction(1, 10)),
        ("pi", pi_digits),
        ("2*pi", 2 * pi_digits),
        ("1/3", Fraction(1, 3)),
    ):
        lo, hi = one(text, 0.0, 0.0)
        assert Fraction(lo) <= exact <= Fraction(hi), text
    assert one("3", 0.0, 0.0) == (3.0, 3.0)
    lo, hi = one("exp(-800*(1+x))", 0.0, 0.0)  # underflows to 0 in float, positive in reals
    assert lo <= 0.0 < hi


def test_vectors_broadcast_and_space_intervals_name_every_input() -> None:
    lower = torch.tensor([[0.5, -1.0, 0.0, 2.0], [0.0, 0.0, 0.0, 0.0]], dtype=F64)
    upper = torch.tensor([[1.0, 1.0, 0.5, 3.0], [0.0, 0.0, 0.0, 0.0]], dtype=F64)
    env = space_intervals(lower, upper, 3, has_time=True)
    assert set(env) == set(NAMES)
    torch.testing.assert_close(env["y"].lo, torch.tensor([0.0, 0.0], dtype=F64))
    torch.testing.assert_close(env["t"].hi, torch.tensor([1.0, 0.0], dtype=F64))
    assert env["x_vec"].lo.shape == (2, 3)
    iv = enclose_expression(parse("x_vec*t", NAMES, want="vector"), env, 2)
    assert iv.lo.shape == (2, 3)
    assert float(iv.lo[0, 0]) <= -1.0 and float(iv.hi[0, 2]) >= 3.0
    constant = enclose_expression(parse("2", NAMES), env, 2)
    assert constant.lo.shape == (2,)
    no_time = space_intervals(lower[:, :2], upper[:, :2], 2, has_time=False)
    assert set(no_time) == set(space_names(2, has_time=False))
    torch.testing.assert_close(no_time["y"].hi, upper[:, 1])
    with pytest.raises(ValueError, match="shape"):
        space_intervals(lower, upper, 2, has_time=False)
    with pytest.raises(ValueError, match="lower <= upper"):
        space_intervals(upper, lower, 3, has_time=True)
