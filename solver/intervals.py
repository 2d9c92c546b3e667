"""Certified interval enclosures of safe expressions (``solver.expressions``), over many boxes.

For K boxes at once every named input v is given an interval [v_lo, v_hi] (a tensor (K,) per
scalar, (K, d) per vector), and ``enclose_expression`` returns [lo, hi] with

    lo_k <= f(v) <= hi_k    for every real v with v in box k (componentwise),

where f is the expression read as a function of real numbers.  The evaluator mirrors
``expressions._evaluate`` node by node (scalars broadcast over vectors the same way) and
applies the interval extension of each operation:

* ``a + b = [a_lo + b_lo, a_hi + b_hi]``, ``a - b = [a_lo - b_hi, a_hi - b_lo]``, ``-a`` swaps;
* ``a * b`` is the hull of the four endpoint products, with 0 * inf read as 0 (an infinite
  endpoint stands for "unbounded", and 0 times any real is 0);
* ``a / b`` is the hull of the four endpoint quotients when 0 is not in b, else [-inf, inf];
* ``a ** n`` for a constant integer n is exact in shape: odd n monotone, even n gives
  [0, max(a_lo^n, a_hi^n)] when 0 is in a, n < 0 is 1 / a^|n| (infinite when 0 is in a^|n|);
  a constant real p needs a_lo >= 0 (monotone x^p on [0, inf)), a non-constant exponent
  y needs a_lo >= 0 and is exp(y log a); a base that can be negative raises ``ValueError``;
* exp, sinh, tanh, atan, sqrt, log are monotone (log: [-inf, ...] when the argument reaches 0 or
  below; sqrt: the argument is cut at 0; both raise ``ValueError`` when the argument is
  negative on a whole box), cosh has its minimum 1 at 0, abs its minimum 0 at 0, sign is
  monotone with values in {-1, 0, 1};
* sin and cos take the hull of the endpoint values, plus +1 (-1) when a maximum (minimum)
  pi/2 + 2 pi k (-pi/2 + 2 pi k; for cos 2 pi k and pi + 2 pi k) can lie in the interval,
  and [-1, 1] for an interval of width >= 2 pi; tan is monotone between its poles
  pi/2 + k pi and [-inf, inf] when a pole can lie in the interval (or the width is >= pi).
  "Can lie" is decided with a margin delta = 2^-40 (1 + |lo| + |hi|), far above the float
  error of computing pi/2 + 2 pi k, so a nearby extremum or pole is never missed (counting
  one just outside costs at most delta^2 / 2 for sin and cos);
* min and max are the endpointwise min and max; ``sum`` and ``dot`` add their terms one at
  a time, ``norm(v) = sqrt(sum |v_i|^2)``.

Rounding.  Every operation is computed in float64 and then widened outward:

    lo <- lo - (REL_SLACK |lo| + ABS_SLACK),    hi <- hi + (REL_SLACK |hi| + ABS_SLACK)

with REL_SLACK = 2^-48 (16 units in the last place, u = 2^-53) and ABS_SLACK = 2^-1000.  An
IEEE operation is off by at most u |result| and the libm functions torch calls (SLEEF /
glibc on CPU, CUDA's libdevice) by a few ulps, so the exact real result of the operation
applied to the float endpoints lies in the widened interval; ABS_SLACK covers underflow
and subnormal results.  Operations without rounding (-, abs, sign, min, max) are not
widened, and bounds are then clipped to the known range of the function (exp >= 0,
cosh >= 1, |sin| <= 1, ...), which cannot make them wrong.  NaN bounds (inf - inf, inf / inf)
become -inf / +inf, a lower bound of +inf (overflow) the largest float, an upper bound of
-inf minus the largest float.  Integer constants are exact; other constants (decimal
literals, pi, e, and sub-expressions the parser folded in float arithmetic) are widened
by the same slack, which covers the rounding of a literal and of short constant folds.

Enclosures may be loose (interval arithmetic forgets that two occurrences of x are the
same point) but never wrong; the sampled-point tests in tests/solver/test_intervals.py
check containment and that a degenerate box gives a width of a few ulps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from solver.expressions import ELEMENTWISE, REDUCTIONS, VARIADIC, Expression, Kind, Node, space_names

DTYPE = torch.float64
REL_SLACK = 2.0**-48
ABS_SLACK = 2.0**-1000
BIG = torch.finfo(DTYPE).max
INF = math.inf
TRIG_MARGIN = 2.0**-40


@dataclass(frozen=True)
class Interval:
    """lo <= value <= hi entrywise: shape (K,) for a scalar over K boxes, (K, d) for a vector."""

    lo: Tensor
    hi: Tensor

    def width(self) -> Tensor:
        """hi - lo (inf when a bound is infinite)."""
        return self.hi - self.lo

    def contains(self, value: Tensor) -> Tensor:
        """Boolean tensor: lo <= value <= hi (broadcasting)."""
        return (self.lo <= value) & (value <= self.hi)


# ----------------------------------------------------------------------------- rounding
def _outward(
    lo: Tensor,
    hi: Tensor,
    *,
    widen: bool = True,
    floor: float | None = None,
    ceil: float | None = None,
) -> Interval:
    """Sanitize (NaN -> -inf / +inf, lo < +inf, hi > -inf), widen by the rounding slack and clip
    to the range [floor, ceil] the function is known to take."""
    lo = torch.where(torch.isnan(lo), -INF, lo).clamp(max=BIG)
    hi = torch.where(torch.isnan(hi), INF, hi).clamp(min=-BIG)
    if widen:
        lo = lo - (REL_SLACK * lo.abs() + ABS_SLACK)
        hi = hi + (REL_SLACK * hi.abs() + ABS_SLACK)
    if floor is not None:
        lo, hi = lo.clamp(min=floor), hi.clamp(min=floor)
    if ceil is not None:
        lo, hi = lo.clamp(max=ceil), hi.clamp(max=ceil)
    return Interval(lo, hi)


def _constant(value: float, count: int, device: torch.device) -> Interval:
    """The constant as an interval of shape (count,); integers exact, other floats widened."""
    point = torch.full((count,), value, dtype=DTYPE, device=device)
    exact = value.is_integer() and abs(value) <= 2.0**53
    return _outward(point, point.clone(), widen=not exact)


def _lift(iv: Interval, kind: Kind, target: Kind) -> Interval:
    """Make a scalar interval (K,) broadcast against vectors (K, d), as ``expressions._lift``."""
    if kind == "scalar" and target == "vector" and iv.lo.dim() == 1:
        return Interval(iv.lo.unsqueeze(-1), iv.hi.unsqueeze(-1))
    return iv


# ----------------------------------------------------------------------------- arithmetic
def _add(a: Interval, b: Interval) -> Interval:
    return _outward(a.lo + b.lo, a.hi + b.hi)


def _sub(a: Interval, b: Interval) -> Interval:
    return _outward(a.lo - b.hi, a.hi - b.lo)


def _hull(values: list[Tensor]) -> tuple[Tensor, Tensor]:
    """Endpointwise min and max of several tensors (NaN propagates, _outward maps it to inf)."""
    lo, hi = values[0], values[0]
    for v in values[1:]:
        lo, hi = torch.minimum(lo, v), torch.maximum(hi, v)
    return lo, hi


def _mul(a: Interval, b: Interval) -> Interval:
    products = [x * y for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
    products = [torch.where(torch.isnan(p), 0.0, p) for p in products]  # 0 * inf = 0
    return _outward(*_hull(products))


def _div(a: Interval, b: Interval) -> Interval:
    lo, hi = _hull([x / y for x in (a.lo, a.hi) for y in (b.lo, b.hi)])
    zero = (b.lo <= 0) & (b.hi >= 0)
    return _outward(torch.where(zero, -INF, lo), torch.where(zero, INF, hi))


def _sum_last(iv: Interval) -> Interval:
    """Sum over the last axis, one rounded addition (and widening) at a time."""
    lo, hi = iv.lo[..., 0], iv.hi[..., 0]
    out = Interval(lo, hi)
    for i in range(1, iv.lo.shape[-1]):
        out = _outward(out.lo + iv.lo[..., i], out.hi + iv.hi[..., i])
    return out


# ----------------------------------------------------------------------------- powers
def _integer_power(a: Interval, n: int) -> Interval:
    """a^n for an integer n: odd powers are monotone, even ones have their minimum 0 at 0."""
    if n == 0:
        return Interval(torch.ones_like(a.lo), torch.ones_like(a.hi))
    if n < 0:
        one = torch.ones_like(a.lo)
        return _div(Interval(one, one), _integer_power(a, -n))
    p_lo, p_hi = torch.pow(a.lo, float(n)), torch.pow(a.hi, float(n))
    if n % 2 == 1:
        return _outward(p_lo, p_hi)
    positive, negative = a.lo >= 0, a.hi <= 0
    lo = torch.where(positive, p_lo, torch.where(negative, p_hi, torch.zeros_like(p_lo)))
    hi = torch.where(positive, p_hi, torch.where(negative, p_lo, torch.maximum(p_lo, p_hi)))
    return _outward(lo, hi, floor=0.0)


def _require_nonnegative_base(a: Interval, what: str) -> None:
    bad = a.lo < 0
    if bool(bad.any()):
        k = int(bad.flatten().nonzero()[0, 0])
        raise ValueError(
            f"{what}: the base must be >= 0 on every box, but its enclosure reaches "
            f"{float(a.lo.flatten()[k])!r} on {int(bad.sum())} box entr(ies); real powers of "
            "negative numbers are not real (use an integer exponent or abs())"
        )


def _power(base: Interval, exponent: Node, target: Kind, env: Mapping[str, Interval], count: int) -> Interval:
    if exponent.op == "num":
        p = exponent.value
        if p.is_integer() and abs(p) <= 2.0**31:
            return _integer_power(base, int(p))
        _require_nonnegative_base(base, f"x**{p!r}")
        p_lo, p_hi = torch.pow(base.lo, p), torch.pow(base.hi, p)
        lo, hi = (p_lo, p_hi) if p > 0 else (p_hi, p_lo)
        return _outward(lo, hi, floor=0.0)
    _require_nonnegative_base(base, "x**y")
    y = _lift(_enclose(exponent, env, count, base.lo.device), exponent.kind, target)
    return _exp(_mul(y, _log(base)))


# ----------------------------------------------------------------------------- functions
def _exp(a: Interval) -> Interval:
    return _outward(torch.exp(a.lo), torch.exp(a.hi), floor=0.0)


def _log(a: Interval) -> Interval:
    if bool((a.hi < 0).any()):
        raise ValueError("log: the argument is negative on a whole box, where log is not real")
    lo = torch.where(a.lo > 0, torch.log(a.lo.clamp(min=0.0)), -INF)
    return _outward(lo, torch.log(a.hi))


def _sqrt(a: Interval) -> Interval:
    if bool((a.hi < 0).any()):
        raise ValueError("sqrt: the argument is negative on a whole box, where sqrt is not real")
    return _outward(torch.sqrt(a.lo.clamp(min=0.0)), torch.sqrt(a.hi), floor=0.0)


def _monotone(
    fn: Callable[[Tensor], Tensor], floor: float | None = None, ceil: float | None = None
) -> Callable[[Interval], Interval]:
    def enclose(a: Interval) -> Interval:
        return _outward(fn(a.lo), fn(a.hi), floor=floor, ceil=ceil)

    return enclose


def _cosh(a: Interval) -> Interval:
    c_lo, c_hi = torch.cosh(a.lo), torch.cosh(a.hi)
    straddles = (a.lo <= 0) & (a.hi >= 0)
    lo = torch.where(straddles, torch.ones_like(c_lo), torch.minimum(c_lo, c_hi))
    return _outward(lo, torch.maximum(c_lo, c_hi), floor=1.0)


def _abs(a: Interval) -> Interval:
    straddles = (a.lo <= 0) & (a.hi >= 0)
    m_lo, m_hi = a.lo.abs(), a.hi.abs()
    lo = torch.where(straddles, torch.zeros_like(m_lo), torch.minimum(m_lo, m_hi))
    return Interval(lo, torch.maximum(m_lo, m_hi))


def _sign(a: Interval) -> Interval:
    return Interval(torch.sign(a.lo), torch.sign(a.hi))


def _hits(lo: Tensor, hi: Tensor, offset: float, period: float) -> Tensor:
    """True where a point offset + period k (k integer) can lie in [lo, hi] (with margin)."""
    margin = TRIG_MARGIN * (1.0 + lo.abs() + hi.abs())
    k0 = torch.floor((lo - offset) / period)
    hit = torch.zeros_like(lo, dtype=torch.bool)
    for shift in (-1.0, 0.0, 1.0, 2.0):
        point = offset + period * (k0 + shift)
        hit |= (point >= lo - margin) & (point <= hi + margin)
    return hit


def _periodic(
    fn: Callable[[Tensor], Tensor], maximum_at: float, minimum_at: float
) -> Callable[[Interval], Interval]:
    """sin or cos: endpoint hull, plus the extrema that can lie inside (period 2 pi)."""
    period = 2.0 * math.pi

    def enclose(a: Interval) -> Interval:
        full = ~torch.isfinite(a.lo) | ~torch.isfinite(a.hi) | (a.hi - a.lo >= period)
        lo_f = torch.where(full, 0.0, a.lo)
        hi_f = torch.where(full, 0.0, a.hi)
        v_lo, v_hi = fn(lo_f), fn(hi_f)
        ends = _outward(torch.minimum(v_lo, v_hi), torch.maximum(v_lo, v_hi))
        top = full | _hits(lo_f, hi_f, maximum_at, period)
        bottom = full | _hits(lo_f, hi_f, minimum_at, period)
        lo = torch.where(bottom, -1.0, ends.lo)
        hi = torch.where(top, 1.0, ends.hi)
        return Interval(lo.clamp(-1.0, 1.0), hi.clamp(-1.0, 1.0))

    return enclose


def _tan(a: Interval) -> Interval:
    full = ~torch.isfinite(a.lo) | ~torch.isfinite(a.hi) | (a.hi - a.lo >= math.pi)
    lo_f = torch.where(full, 0.0, a.lo)
    hi_f = torch.where(full, 0.0, a.hi)
    pole = full | _hits(lo_f, hi_f, math.pi / 2.0, math.pi)
    ends = _outward(torch.tan(lo_f), torch.tan(hi_f))
    return Interval(torch.where(pole, -INF, ends.lo), torch.where(pole, INF, ends.hi))


FUNCTION_ENCLOSURES: dict[str, Callable[[Interval], Interval]] = {
    "sin": _periodic(torch.sin, math.pi / 2.0, -math.pi / 2.0),
    "cos": _periodic(torch.cos, 0.0, math.pi),
    "tan": _tan,
    "exp": _exp,
    "log": _log,
    "sqrt": _sqrt,
    "tanh": _monotone(torch.tanh, -1.0, 1.0),
    "atan": _monotone(torch.atan, -math.pi / 2, math.pi / 2),
    "sinh": _monotone(torch.sinh),
    "cosh": _cosh,
    "abs": _abs,
    "sign": _sign,
}
assert set(FUNCTION_ENCLOSURES) == set(ELEMENTWISE)


# ----------------------------------------------------------------------------- evaluator
def _enclose(node: Node, env: Mapping[str, Interval], count: int, device: torch.device) -> Interval:
    """Interval counterpart of ``expressions._evaluate``."""
    if node.op == "num":
        return _constant(node.value, count, device)
    if node.op == "name":
        if node.name not in env:
            raise ValueError(f"no interval given for the name {node.name!r}")
        iv = env[node.name]
        if iv.lo.shape[0] != count or iv.hi.shape != iv.lo.shape:
            raise ValueError(
                f"the interval of {node.name!r} must have {count} rows and lo, hi of one shape, "
                f"got {tuple(iv.lo.shape)} and {tuple(iv.hi.shape)}"
            )
        return Interval(iv.lo.to(DTYPE), iv.hi.to(DTYPE))
    op = node.op
    if op == "**":
        base = _lift(_enclose(node.args[0], env, count, device), node.args[0].kind, node.kind)
        return _power(base, node.args[1], node.kind, env, count)
    args = [_lift(_enclose(a, env, count, device), a.kind, node.kind) for a in node.args]
    if op == "neg":
        return Interval(-args[0].hi, -args[0].lo)
    if op == "+":
        return _add(args[0], args[1])
    if op == "-":
        return _sub(args[0], args[1])
    if op == "*":
        return _mul(args[0], args[1])
    if op == "/":
        return _div(args[0], args[1])
    if op in FUNCTION_ENCLOSURES:
        return FUNCTION_ENCLOSURES[op](args[0])
    if op in VARIADIC:
        pick = torch.minimum if op == "min" else torch.maximum
        lo, hi = args[0].lo, args[0].hi
        for other in args[1:]:
            lo, hi = pick(lo, other.lo), pick(hi, other.hi)
        return Interval(lo, hi)
    if op == "norm":
        squares = _integer_power(_abs(args[0]), 2)
        return _sqrt(_sum_last(squares))
    if op == "dot":
        return _sum_last(_mul(args[0], args[1]))
    if op == "sum":
        return _sum_last(args[0])
    raise ValueError(f"no interval enclosure for the operation {op!r}")  # pragma: no cover


assert set(REDUCTIONS) == {"norm", "dot", "sum"}


def enclose_expression(expr: Expression, env: Mapping[str, Interval], count: int) -> Interval:
    """[lo, hi] with lo_k <= f(v) <= hi_k for every real v in box k, for k < count.

    ``env`` maps each name the expression uses to its interval over the K = ``count`` boxes:
    (K,) tensors for scalars, (K, d) for vectors.  Returns (K,) for a scalar expression and
    (K, d) for a vector one.  Raises ``ValueError`` where the expression may not be real on a
    box (a real power of a base that can be negative, sqrt or log of an argument negative on
    a whole box); see the module docstring for the rules and the rounding slack.
    """
    device = next(iter(env.values())).lo.device if env else torch.device("cpu")
    return _enclose(expr.root, env, count, device)


def space_intervals(lower: Tensor, upper: Tensor, dimension: int, has_time: bool) -> dict[str, Interval]:
    """Intervals of every name of ``space_names(dimension, has_time)`` over K boxes.

    ``lower`` and ``upper`` are (K, n_inputs), inputs in the order (t, x0, ..., x_{d-1}) when
    ``has_time`` else (x0, ..., x_{d-1}).  Gives x0.., the aliases x, y, z (d <= 3), x_vec
    ((K, d)) and t; float64.
    """
    inputs = dimension + (1 if has_time else 0)
    lo, hi = lower.to(DTYPE), upper.to(DTYPE)
    if lo.dim() != 2 or lo.shape[1] != inputs or hi.shape != lo.shape:
        raise ValueError(
            f"boxes need lower and upper of shape (K, {inputs}), got {tuple(lo.shape)} and {tuple(hi.shape)}"
        )
    if not bool((lo <= hi).all()):
        raise ValueError("every box must have lower <= upper in every coordinate")
    offset = 1 if has_time else 0
    out: dict[str, Interval] = {}
    for i in range(dimension):
        out[f"x{i}"] = Interval(lo[:, offset + i], hi[:, offset + i])
    if dimension <= 3:
        for i, alias in enumerate(("x", "y", "z")[:dimension]):
            out[alias] = out[f"x{i}"]
    out["x_vec"] = Interval(lo[:, offset:], hi[:, offset:])
    if has_time:
        out["t"] = Interval(lo[:, 0], hi[:, 0])
    assert set(out) == set(space_names(dimension, has_time))
    return out
