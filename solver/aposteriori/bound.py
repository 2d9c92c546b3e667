"""One a-posteriori error bound: what it bounds, how far it can be trusted, and how it was made.

An ``ErrorBound`` is a promise about the trained model u and the unknown solution u*:

* ``max_abs_error``       >= sup over the domain (x time slab) of |u - u*|;
* ``rms_error``           >= (mean over the domain x slab, uniform measure, of |u - u*|^2)^(1/2);
* ``max_gradient_error``  >= sup of |Du - Du*| (Euclidean over every input, t included);
* ``rms_gradient_error``  >= (mean of |grad_x u - grad_x u*|^2)^(1/2) (space gradient only).

Whole-space problems: the domain is the asked-for box (-R, R)^d.  ``kind`` says how far the
figure can be trusted: ``certified`` (a proof, given ``assumptions``), ``statistical`` (holds
with probability at least ``confidence``) or ``indicator`` (no guarantee: a figure that
tracks the error).  None of them is ever computed from ``exact``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

Quantity = Literal["max_abs_error", "rms_error", "max_gradient_error", "rms_gradient_error"]
BoundKind = Literal["certified", "statistical", "indicator"]
QUANTITIES: tuple[Quantity, ...] = ("max_abs_error", "rms_error", "max_gradient_error", "rms_gradient_error")
KINDS: tuple[BoundKind, ...] = ("certified", "statistical", "indicator")
# Statistical bounds hold with this probability (each one, after its own union bound).
CONFIDENCE = 0.999
SYMBOLS: dict[str, str] = {
    "max_abs_error": "max |u - u*|",
    "rms_error": "rms |u - u*|",
    "max_gradient_error": "max |Du - Du*|",
    "rms_gradient_error": "rms |grad u - grad u*|",
}


class NoGuaranteeError(ValueError):
    """A problem outside an estimator's assumptions; the message says which one, and the
    estimator then reports ``indicator`` entries instead of a bound."""


@dataclass(frozen=True)
class ErrorBound:
    """quantity <= value, with the trust ``kind`` (and ``confidence`` for statistical bounds)."""

    quantity: Quantity
    value: float
    kind: BoundKind
    confidence: float | None
    assumptions: str
    how: str

    def __post_init__(self) -> None:
        if self.quantity not in QUANTITIES:
            raise ValueError(f"unknown quantity {self.quantity!r}; one of {', '.join(QUANTITIES)}")
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; one of {', '.join(KINDS)}")
        if self.kind == "statistical" and not (self.confidence is not None and 0.0 < self.confidence < 1.0):
            raise ValueError("a statistical bound needs a confidence in (0, 1)")
        if math.isnan(self.value) or self.value < 0.0:
            raise ValueError(f"a bound is a nonnegative number or +inf, got {self.value}")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["value"] = self.value if math.isfinite(self.value) else None  # JSON has no inf
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ErrorBound:
        value = data.get("value")
        return cls(
            quantity=data["quantity"],
            value=math.inf if value is None else float(value),
            kind=data["kind"],
            confidence=data.get("confidence"),
            assumptions=str(data.get("assumptions", "")),
            how=str(data.get("how", "")),
        )

    def verdict(self) -> str:
        """One line: a promise as ``rms |u - u*| <= 3.1e-02 (statistical, 99.9%)``; an
        indicator as an estimate, never with "<=": ``max |Du - Du*| ~ 2.1e-01 (indicator: an
        estimate, not a bound)``; a quantity with no figure as ``... : no bound``."""
        symbol = SYMBOLS[self.quantity]
        if not math.isfinite(self.value):
            return f"{symbol}: no bound ({self.kind})"
        if self.kind == "indicator":
            return f"{symbol} ~ {self.value:.2e} (indicator: an estimate, not a bound)"
        if self.kind == "statistical" and self.confidence is not None:
            trust = f"statistical, {100 * self.confidence:g}%"
        else:
            trust = self.kind
        return f"{symbol} <= {self.value:.2e} ({trust})"

    @property
    def promise(self) -> bool:
        """A certified or statistical bound with a finite value: something a user can act on."""
        return self.kind != "indicator" and math.isfinite(self.value)


RANK = {"certified": 0, "statistical": 1, "indicator": 2}
VALUE_QUANTITIES = ("max_abs_error", "rms_error")
GRADIENT_QUANTITIES = ("max_gradient_error", "rms_gradient_error")
WORDS = {
    "max_abs_error": "the max error",
    "rms_error": "the rms error",
    "max_gradient_error": "the max gradient error",
    "rms_gradient_error": "the rms gradient error",
}


def _tightest(bounds: list[ErrorBound], quantities: tuple[str, ...]) -> ErrorBound | None:
    """The smallest promise among ``quantities``, else the smallest finite indicator."""
    finite = [b for b in bounds if b.quantity in quantities and math.isfinite(b.value)]
    if not finite:
        return None
    trusted = [b for b in finite if b.promise] or finite
    return min(trusted, key=lambda b: (b.value, RANK[b.kind], b.quantity != "max_abs_error"))


def headline(bounds: list[ErrorBound]) -> ErrorBound | None:
    """The value bound to show first: the tightest certified or statistical one, whatever its
    quantity or trust (an rms bound of 1e-2 says more than a certified max bound of 2), else
    the smallest indicator.  All value figures share one scale (max |u|), so the smallest is
    the most informative."""
    return _tightest(bounds, VALUE_QUANTITIES)


def gradient_headline(bounds: list[ErrorBound]) -> ErrorBound | None:
    """The tightest gradient promise, else the smallest gradient indicator."""
    return _tightest(bounds, GRADIENT_QUANTITIES)


def ordered(bounds: list[ErrorBound]) -> list[ErrorBound]:
    """The order every view lists bounds in: value promises (tightest first), gradient
    promises, value indicators, gradient indicators, then the quantities with no figure."""

    def key(b: ErrorBound) -> tuple[int, float, int]:
        group = 0 if b.promise else (2 if math.isfinite(b.value) else 4)
        return (group + (b.quantity in GRADIENT_QUANTITIES), b.value, RANK[b.kind])

    return sorted(bounds, key=key)


def conclusion(bound: ErrorBound, scale: float | None) -> str | None:
    """What a user can conclude from the headline, relative to the solution's size ``scale``
    (max |u| of the model on the domain): ``the rms error is at most 0.40 % of max |u| =
    1.00e+00 (99.9 % confidence)``; None without a scale."""
    if scale is None or not math.isfinite(scale) or scale <= 0.0 or not math.isfinite(bound.value):
        return None
    share = 100.0 * bound.value / scale
    what = f"{share:.2g} % of max |u| = {scale:.2e}"
    if bound.kind == "indicator":
        return f"{WORDS[bound.quantity]} is about {what} (an estimate: nothing is promised)"
    if bound.kind == "statistical" and bound.confidence is not None:
        return f"{WORDS[bound.quantity]} is at most {what} ({100 * bound.confidence:g} % confidence)"
    return f"{WORDS[bound.quantity]} is at most {what} (certain, given: {bound.assumptions})"


def verdict(bounds: list[ErrorBound], scale: float | None = None) -> str:
    """One line for a terminal: the headline value bound and what it means relative to
    ``scale``, then the best gradient figure; or why there is none."""
    best = headline(bounds)
    gradient = gradient_headline(bounds)
    if best is None and gradient is None:
        return "no error bound for this problem"
    parts = []
    if best is not None:
        parts.append(best.verdict())
        meaning = conclusion(best, scale)
        if meaning is not None:
            parts.append(meaning)
    if gradient is not None:
        parts.append(f"gradient: {gradient.verdict()}")
    return "; ".join(parts)


def no_guarantee(reason: str) -> list[ErrorBound]:
    """The four quantities with no bound (+inf, kind ``indicator``), saying why."""
    how = f"no guaranteed bound: {reason}"
    return [
        ErrorBound(q, math.inf, "indicator", None, "none", how)
        for q in ("max_abs_error", "rms_error", "max_gradient_error", "rms_gradient_error")
    ]
