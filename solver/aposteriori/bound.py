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
        """One line, e.g. ``max |u - u*| <= 3.1e-02 (statistical, 99.9%)``."""
        if self.kind == "statistical" and self.confidence is not None:
            trust = f"statistical, {100 * self.confidence:g}%"
        else:
            trust = self.kind
        value = f"{self.value:.2e}" if math.isfinite(self.value) else "inf"
        return f"{SYMBOLS[self.quantity]} <= {value} ({trust})"


RANK = {"certified": 0, "statistical": 1, "indicator": 2}


def headline(bounds: list[ErrorBound]) -> ErrorBound | None:
    """The bound to show first: the tightest certified or statistical value bound (max before rms
    at equal trust), else the tightest indicator."""
    values = [b for b in bounds if b.quantity in ("max_abs_error", "rms_error") and math.isfinite(b.value)]
    if not values:
        return None
    trusted = [b for b in values if b.kind != "indicator"] or values
    return min(trusted, key=lambda b: (RANK[b.kind], b.quantity != "max_abs_error", b.value))


def verdict(bounds: list[ErrorBound]) -> str:
    """One line for a terminal: the headline bound, or why there is none."""
    best = headline(bounds)
    if best is None:
        return "no error bound for this problem"
    return best.verdict()


def no_guarantee(reason: str) -> list[ErrorBound]:
    """The four quantities with no bound (+inf, kind ``indicator``), saying why."""
    how = f"no guaranteed bound: {reason}"
    return [
        ErrorBound(q, math.inf, "indicator", None, "none", how)
        for q in ("max_abs_error", "rms_error", "max_gradient_error", "rms_gradient_error")
    ]
