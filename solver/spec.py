"""The job spec of docs/spec.md as strict pydantic v2 models.

Unknown fields are refused, NaN and infinities are refused, sizes are capped, types are
strict (``true`` or ``"100"`` is not a number, ``1`` is not an expression; an integer is a
valid float), domains whose extent overflows are refused, and every expression is parsed
(``solver.expressions``) and evaluated at fixed sample points of the domain, where it must
be finite (``solver.spec_checks``), during validation, so a spec that validates can be
trained.  ``JobSpec.model_validate_json(text)`` is the entry point.
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Annotated, Any, Literal, NamedTuple

import torch
from pydantic import BaseModel, ConfigDict, Discriminator, Field, PrivateAttr, Tag, model_validator
from pydantic_core import PydanticCustomError
from torch import Tensor

from solver.basis import auto_hidden, solved_basis
from solver.expressions import Expression, ExpressionError, Kind, equation_names, parse, space_names
from solver.linearity import constant_speed, transport_velocity
from solver.regions import Region
from solver.regions import region_of as build_region
from solver.regions.polygon import polygon_problem
from solver.spec_checks import (
    SAMPLES,
    boundary_points,
    check_diffusion,
    finite_values,
    needs_data,
    sample_points,
)
from solver.spec_errors import suggestion
from solver.unknowns import (
    MAX_UNKNOWNS,
    check_condition_unknown,
    check_unknowns,
    system_names,
    unknown_of_name,
)

Expr = Annotated[str, Field(min_length=1, max_length=10_000)]


def _unknown_field() -> Any:
    return Field(
        default=None,
        max_length=64,
        description="Only in a 'system' problem: the unknown this condition constrains, one of "
        "problem.unknowns (required there for dirichlet, neumann and initial). Leave it out for the other "
        "kinds, whose one unknown is u.",
        examples=["u"],
    )


FACE = re.compile(r"^x(\d+)=(lower|upper)$")


class Strict(BaseModel):
    # strict: no coercion of true or "1" to numbers, nor of numbers to strings (an int is
    # still a valid float, and JSON arrays are lists)
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _known_fields(cls, data: Any) -> Any:
        """One error for the unknown keys of an object, naming the closest known one."""
        if isinstance(data, dict):
            unknown = [key for key in data if key not in cls.model_fields]
            if unknown:
                key = str(unknown[0])
                others = f" (and {', '.join(map(repr, unknown[1:]))})" if len(unknown) > 1 else ""
                raise PydanticCustomError(
                    "unknown_field",
                    "unknown field '{field}'{others}{hint}; allowed here: {allowed}",
                    {
                        "field": key,
                        "others": others,
                        "hint": suggestion(key, cls.model_fields),
                        "allowed": ", ".join(cls.model_fields),
                    },
                )
        return data


class TimeInterval(Strict):
    """The time interval [start, end]: with it the solution is u(t, x), t in [start, end]."""

    start: float = Field(
        description="Initial time t0. Initial conditions hold at t = start; a kolmogorov problem "
        "needs start = 0.",
        examples=[0.0],
    )
    end: float = Field(
        description="Final time T, greater than start. The solution is trained, checked and "
        "reported on [start, end].",
        examples=[1.0],
    )

    @model_validator(mode="after")
    def _ordered(self) -> TimeInterval:
        if not self.end > self.start:
            raise ValueError(f"time.end ({self.end}) must be greater than time.start ({self.start})")
        if not math.isfinite(self.end - self.start):
            raise ValueError(f"time.end - time.start must be finite; got {self.end - self.start}")
        return self


class BoxSpec(Strict):
    """The closed box [lower_0, upper_0] x ... x [lower_{d-1}, upper_{d-1}] in R^d."""

    lower: list[float] = Field(
        min_length=1,
        max_length=1000,
        description="The lower corner: d numbers, one per space coordinate x0..x{d-1}, each below "
        "the matching entry of upper. The face x_i = lower_i is the condition target 'x<i>=lower'.",
        examples=[[0.0, 0.0]],
    )
    upper: list[float] = Field(
        min_length=1,
        max_length=1000,
        description="The upper corner: d numbers, each greater than the matching entry of lower. "
        "The face x_i = upper_i is the condition target 'x<i>=upper'.",
        examples=[[1.0, 1.0]],
    )

    @model_validator(mode="after")
    def _ordered(self) -> BoxSpec:
        if len(self.lower) != len(self.upper):
            raise ValueError("box.lower and box.upper must have the same length")
        if any(hi <= lo for lo, hi in zip(self.lower, self.upper, strict=True)):
            raise ValueError("box.upper must exceed box.lower in every coordinate")
        for i, (lo, hi) in enumerate(zip(self.lower, self.upper, strict=True)):
            if not math.isfinite(hi - lo):
                raise ValueError(f"box.upper - box.lower must be finite; got {hi - lo} in coordinate {i}")
            if not math.isfinite(hi + lo):
                raise ValueError(
                    f"box.upper + box.lower (twice the centre) must be finite; got {hi + lo} "
                    f"in coordinate {i}"
                )
        return self


class BallSpec(Strict):
    """The ball |x - center| <= radius (Euclidean); its boundary is the sphere |x - center| = radius."""

    center: list[float] = Field(
        min_length=1,
        max_length=1000,
        description="The centre: d numbers, one per space coordinate x0..x{d-1}.",
        examples=[[0.0, 0.0]],
    )
    radius: float = Field(gt=0, description="The radius, greater than 0.", examples=[1.0])

    @model_validator(mode="after")
    def _bounded(self) -> BallSpec:
        if not math.isfinite(2 * self.radius):
            raise ValueError(f"ball.radius is too large: 2 * radius must be finite; got {2 * self.radius}")
        for i, c in enumerate(self.center):
            if not (math.isfinite(c - self.radius) and math.isfinite(c + self.radius)):
                raise ValueError(
                    f"ball.center +- ball.radius must be finite; got {c - self.radius}, {c + self.radius} "
                    f"in coordinate {i}"
                )
        return self


class WholeSpaceSpec(Strict):
    """All of R^d, trained on a box around the origin (see train_radius)."""

    train_radius: float = Field(
        gt=0,
        description="R > 0. The network is trained on the padded box (-1.25 R, 1.25 R)^d and its "
        "errors are measured on (-R, R)^d; a kolmogorov model is then extended to all of R^d with a "
        "pointwise error bound eps (1 + |x|^(kappa+2)) (docs/global-estimate.md).",
        examples=[3.0],
    )

    @model_validator(mode="after")
    def _bounded(self) -> WholeSpaceSpec:
        span = 2 * 1.25 * self.train_radius
        if not math.isfinite(span):
            raise ValueError(
                f"whole_space.train_radius is too large: the training box (-1.25 R, 1.25 R) must have a "
                f"finite width; got {span}"
            )
        return self


class BoxDomain(Strict):
    """A box domain: {"box": {"lower": [...], "upper": [...]}}."""

    box: BoxSpec = Field(
        description="The box's lower and upper corners.",
        examples=[{"lower": [0.0, 0.0], "upper": [1.0, 1.0]}],
    )


class BallDomain(Strict):
    """A ball domain: {"ball": {"center": [...], "radius": r}}."""

    ball: BallSpec = Field(
        description="The ball's centre and radius.",
        examples=[{"center": [0.0, 0.0], "radius": 1.0}],
    )


class WholeSpaceDomain(Strict):
    """The whole space R^d: {"whole_space": {"train_radius": R}}."""

    whole_space: WholeSpaceSpec = Field(
        description="R^d, trained on a box of half-width 1.25 train_radius; needs problem.growth "
        "and allows no boundary conditions.",
        examples=[{"train_radius": 3.0}],
    )


class PolygonSpec(Strict):
    """A simple polygon of R^2: its vertices in order around it (either orientation)."""

    vertices: list[Annotated[list[float], Field(min_length=2, max_length=2)]] = Field(
        min_length=3,
        max_length=256,
        description="The vertices [x0, x1] in order around the polygon, 3 to 256; the polygon must be "
        "simple (no two edges cross or touch). Edge k, the condition target 'edge<k>', runs from "
        "vertex k to vertex k+1 (the last one back to vertex 0).",
        examples=[[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]],
    )

    @model_validator(mode="after")
    def _simple(self) -> PolygonSpec:
        problem = polygon_problem([(v[0], v[1]) for v in self.vertices])
        if problem is not None:
            raise ValueError(f"polygon: {problem}")
        span = max(abs(c) for v in self.vertices for c in v)
        if not math.isfinite(4 * span * span):
            raise ValueError("polygon: the vertices are too large (their squares must be finite)")
        return self


class PolygonDomain(Strict):
    """A polygon domain (dimension 2): {"polygon": {"vertices": [[x, y], ...]}}."""

    polygon: PolygonSpec = Field(
        description="The polygon's vertices.",
        examples=[{"vertices": [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]}],
    )


def _member_key(data: Any) -> str | None:
    """The tag of a set operation's member: box, ball or polygon."""
    key = _domain_key(data)
    return key if key in MEMBER_KEYS else None


MEMBER_KEYS = ("box", "ball", "polygon")
#: A region of a set operation.  Not a set operation itself: one level keeps the schema
#: finite (a recursive one sends generators of examples into unbounded nesting).
Member = Annotated[
    Annotated[BoxDomain, Tag("box")]
    | Annotated[BallDomain, Tag("ball")]
    | Annotated[PolygonDomain, Tag("polygon")],
    Discriminator(
        _member_key,
        custom_error_type="domain_kind",
        custom_error_message="a region of a union, intersection or difference is an object with exactly one "
        "key: box, ball or polygon",
    ),
]


def _members(operation: str, members: list[Any], exactly: int | None = None) -> None:
    if not members:
        raise ValueError(
            f'{operation}: an empty list; name the regions, e.g. [{{"box": ...}}, {{"ball": ...}}]'
        )
    if exactly is not None and len(members) != exactly:
        raise ValueError(
            f"{operation}: takes exactly {exactly} regions [D1, D2] (D1 minus D2), got {len(members)}"
        )


class UnionDomain(Strict):
    """Points in any of the regions: {"union": [D, ...]}; conditions on "boundary" only."""

    union: list[Member] = Field(
        max_length=16,
        description="1 to 16 regions (box, ball or polygon) of the same dimension.",
        examples=[[{"box": {"lower": [0, 0], "upper": [2, 1]}}, {"box": {"lower": [0, 0], "upper": [1, 2]}}]],
    )

    @model_validator(mode="after")
    def _some(self) -> UnionDomain:
        _members("union", self.union)
        return self


class IntersectionDomain(Strict):
    """Points in every one of the regions: {"intersection": [D, ...]}; conditions on "boundary"."""

    intersection: list[Member] = Field(
        max_length=16,
        description="1 to 16 regions (box, ball or polygon) of the same dimension, which must overlap.",
        examples=[[{"box": {"lower": [0, 0], "upper": [1, 1]}}, {"ball": {"center": [0, 0], "radius": 1}}]],
    )

    @model_validator(mode="after")
    def _some(self) -> IntersectionDomain:
        _members("intersection", self.intersection)
        return self


class DifferenceDomain(Strict):
    """Points of D1 not in D2: {"difference": [D1, D2]}; conditions on "boundary" only."""

    difference: list[Member] = Field(
        description="Exactly two regions [D1, D2] (box, ball or polygon): D1 minus D2, the closure of "
        "that set.",
        examples=[
            [{"box": {"lower": [-1, -1], "upper": [1, 1]}}, {"box": {"lower": [0, -1], "upper": [1, 0]}}]
        ],
    )

    @model_validator(mode="after")
    def _two(self) -> DifferenceDomain:
        _members("difference", self.difference, exactly=2)
        return self


DOMAIN_KEYS = ("box", "ball", "whole_space", "polygon", "union", "intersection", "difference")
SHAPED = (PolygonDomain, UnionDomain, IntersectionDomain, DifferenceDomain)


def _domain_key(data: Any) -> str | None:
    """The tag of a domain: its one key, when that key is a known one."""
    if isinstance(data, dict) and len(data) == 1 and next(iter(data)) in DOMAIN_KEYS:
        return str(next(iter(data)))
    if isinstance(data, BaseModel):
        return next((k for k in DOMAIN_KEYS if k in type(data).model_fields), None)
    return None


Domain = Annotated[
    Annotated[BoxDomain, Tag("box")]
    | Annotated[BallDomain, Tag("ball")]
    | Annotated[WholeSpaceDomain, Tag("whole_space")]
    | Annotated[PolygonDomain, Tag("polygon")]
    | Annotated[UnionDomain, Tag("union")]
    | Annotated[IntersectionDomain, Tag("intersection")]
    | Annotated[DifferenceDomain, Tag("difference")],
    Discriminator(
        _domain_key,
        custom_error_type="domain_kind",
        custom_error_message="a domain is an object with exactly one key: box, ball, whole_space, polygon, "
        "union, intersection or difference",
    ),
]


class Growth(Strict):
    """How fast the solution may grow in |x| (stated by you, not checked): for every t in time and x,
    |grad_x u| <= C (1 + |x|^kappa) and |u|, |u_t| <= C (1 + |x|^(kappa+1))."""

    kappa: float = Field(
        ge=0,
        description="The growth exponent kappa >= 0 of |grad_x u| <= C (1 + |x|^kappa) and "
        "|u|, |u_t| <= C (1 + |x|^(kappa+1)). Kolmogorov residuals are divided by 1 + |x|^(kappa+1); "
        "the global error bound is eps (1 + |x|^(kappa+2)).",
        examples=[1.0],
    )
    constant: float = Field(
        gt=0,
        description="The constant C > 0 of those growth bounds (|x| is the Euclidean norm of the space "
        "point).",
        examples=[10.0],
    )


class Dirichlet(Strict):
    """A Dirichlet condition u = g on a part of the boundary; residual |u - g|."""

    type: Literal["dirichlet"] = Field(
        description="The literal 'dirichlet': u = value on the boundary part `on`.",
        examples=["dirichlet"],
    )
    on: str = Field(
        default="boundary",
        description="Where it holds: 'boundary' (all of it) or, on a box domain, the face "
        "'x<i>=lower' or 'x<i>=upper' (x_i = lower_i or upper_i, i < d). A ball has only 'boundary'.",
        examples=["boundary", "x0=lower"],
    )
    value: Expr = Field(
        description="The data g(t, x): an expression in t (problems with time) and the space names "
        "x0..x{d-1}, x, y, z (d <= 3), x_vec.",
        examples=["0", "sin(-t)"],
    )
    unknown: str | None = _unknown_field()


class Neumann(Strict):
    """A Neumann condition grad u . n = g on a part of the boundary, n the outward unit normal;
    residual |grad u . n - g|."""

    type: Literal["neumann"] = Field(
        description="The literal 'neumann': grad u . n = value on the boundary part `on`, n the outward "
        "unit normal (a box face's axis direction, the sphere's radial direction).",
        examples=["neumann"],
    )
    on: str = Field(
        default="boundary",
        description="Where it holds: 'boundary' (all of it) or, on a box domain, the face "
        "'x<i>=lower' or 'x<i>=upper' (x_i = lower_i or upper_i, i < d). A ball has only 'boundary'.",
        examples=["boundary", "x1=upper"],
    )
    value: Expr = Field(
        description="The outward normal derivative g(t, x): an expression in t (problems with time) and "
        "the space names x0..x{d-1}, x, y, z (d <= 3), x_vec.",
        examples=["0", "cos(x)"],
    )
    unknown: str | None = _unknown_field()


class Initial(Strict):
    """An initial condition u(t0, x) = g(x), t0 = time.start; needs problem.time."""

    type: Literal["initial"] = Field(
        description="The literal 'initial': u(time.start, x) = value for every x of the domain.",
        examples=["initial"],
    )
    value: Expr = Field(
        description="The initial data g(x): an expression in the space names x0..x{d-1}, x, y, z "
        "(d <= 3), x_vec (no t). Residual |u(t0, x) - g(x)|, plus |grad_x u(t0, x) - grad g(x)| when g "
        "calls none of abs, sign, min, max, norm.",
        examples=["sin(pi*x)*sin(pi*y)"],
    )
    unknown: str | None = _unknown_field()


AXIS = re.compile(r"^x(\d+)$")


class Periodic(Strict):
    """A periodic condition on a box: u and grad u take the same values on the faces
    x_i = lower_i and x_i = upper_i.  Exact by construction, not a penalty: the network sees
    x_i only through two triangle waves of period upper_i - lower_i (docs/solver.md,
    "Periodic conditions"), so it adds no residual term.  In a system, a periodic condition
    naming one ``unknown`` (of several) is a penalty instead: |N(lower) - N(upper)| and
    |grad N(lower) - grad N(upper)| on paired points of the two faces."""

    type: Literal["periodic"] = Field(
        description="The literal 'periodic': u(..., lower_i, ...) = u(..., upper_i, ...) and the same for "
        "grad u, for every other coordinate (and t).",
        examples=["periodic"],
    )
    axis: str = Field(
        description="The periodic coordinate 'x<i>' (i < d) of a box domain; its two faces then take no "
        "other condition.",
        examples=["x0"],
    )
    unknown: str | None = _unknown_field()


Condition = Annotated[Dirichlet | Neumann | Initial | Periodic, Field(discriminator="type")]


class ProblemBase(Strict):
    """The fields every problem kind has."""

    dimension: int = Field(
        ge=1,
        le=1000,
        description="d, the number of space variables x0..x{d-1}. The network's inputs are "
        "(t, x0, ..., x{d-1}) when the problem has time, else (x0, ..., x{d-1}).",
        examples=[2],
    )
    time: TimeInterval | None = Field(
        default=None,
        description="null: a stationary problem, u = u(x). An interval: an evolution problem, "
        "u = u(t, x) for t in [start, end]. kolmogorov problems need it, with start = 0.",
        examples=[{"start": 0.0, "end": 1.0}],
    )
    domain: Domain = Field(
        description="The space domain, exactly one of {'box': ...}, {'ball': ...}, "
        "{'whole_space': ...}. divergence_form takes a box or a ball, kolmogorov only whole_space.",
        examples=[{"box": {"lower": [0.0, 0.0], "upper": [1.0, 1.0]}}],
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        max_length=64,
        description="Boundary and initial conditions (at most 64), each a residual on its own points. "
        "A whole_space problem takes initial conditions only; an initial condition needs time.",
        examples=[[{"type": "dirichlet", "on": "boundary", "value": "0"}]],
    )
    exact: Expr | None = Field(
        default=None,
        description="A known solution u*(t, x), an expression in t (with time) and the space names. "
        "Used only to report the errors rel_l2, linf and grad_linf on fresh points; never in "
        "training and never by the error bounds.",
        examples=["sin(pi*x)*sin(pi*y)"],
    )
    growth: Growth | None = Field(
        default=None,
        description="Growth bounds of the solution in |x|; required for a whole_space domain, "
        "not used on a box or a ball.",
        examples=[{"kappa": 1.0, "constant": 10.0}],
    )

    @property
    def has_time(self) -> bool:
        return self.time is not None

    @property
    def transport(self) -> bool:
        """A linear transport equation (first_order only, solver.linearity)."""
        return False

    @property
    def periodic_transport(self) -> bool:
        """A constant-speed linear transport periodic in every space axis (first_order only)."""
        return False

    def names(self) -> dict[str, Kind]:
        return space_names(self.dimension, self.has_time)

    def _check_common(self, unknowns: list[str] | None = None) -> list[Sampled]:
        """The checks every kind shares; returns the conditions' data and ``exact``, parsed, for
        ``_check_finite``.  ``unknowns``: a system's (each condition then names one of them)."""
        d = self.dimension
        domain = self.domain
        if isinstance(domain, BoxDomain) and len(domain.box.lower) != d:
            raise ValueError(f"domain.box has {len(domain.box.lower)} coordinates but dimension is {d}")
        if isinstance(domain, BallDomain) and len(domain.ball.center) != d:
            raise ValueError(
                f"domain.ball.center has {len(domain.ball.center)} coordinates but dimension is {d}"
            )
        if isinstance(domain, SHAPED):
            try:
                region = region_of(domain, d)
            except ValueError as exc:
                raise ValueError(f"domain: {exc}") from None
            if region.dimension != d:
                raise ValueError(
                    f"domain: a {region.kind} of dimension {region.dimension}, but dimension is {d}"
                )
        if isinstance(domain, WholeSpaceDomain) and self.growth is None:
            raise ValueError("growth ({'kappa': k, 'constant': C}) is required for a whole_space domain")
        names = self.names()
        initial_names = space_names(d, has_time=False)  # initial data are functions of x only
        found: list[Sampled] = []
        periodic = _periodic_axes(self.conditions, domain, d)
        for index, cond in enumerate(self.conditions):
            where = f"conditions[{index}]"
            _check_condition_unknown(cond, unknowns, where)
            if isinstance(cond, Periodic):
                continue
            if isinstance(cond, Initial):
                if self.time is None:
                    raise ValueError(f"{where}: an initial condition needs problem.time")
                found.append(
                    Sampled(f"{where}.value", _expr(cond.value, initial_names, f"{where}.value"), "start")
                )
                continue
            if isinstance(domain, WholeSpaceDomain):
                raise ValueError(f"{where}: a whole_space problem has no boundary conditions")
            _check_on(cond.on, d, domain, where)
            _not_on_periodic(cond.on, periodic, where)
            found.append(Sampled(f"{where}.value", _expr(cond.value, names, f"{where}.value"), cond.on))
        if isinstance(self.exact, str):
            found.append(Sampled("exact", _expr(self.exact, names, "exact")))
        return found

    def _check_data(self, *, uses_time_derivative: bool, uses_space_derivatives: bool) -> None:
        """The initial and boundary data the equation needs are there (solver.spec_checks)."""
        needs_data(
            has_time=self.has_time,
            uses_time_derivative=uses_time_derivative,
            uses_space_derivatives=uses_space_derivatives,
            bounded=not isinstance(self.domain, WholeSpaceDomain),
            has_initial=any(isinstance(c, Initial) for c in self.conditions),
            has_boundary=any(isinstance(c, Dirichlet | Neumann | Periodic) for c in self.conditions),
        )

    def _sample_points(self) -> tuple[Tensor | None, Tensor]:
        """Fixed sample points of the domain and time interval (solver.spec_checks)."""
        time = None if self.time is None else (self.time.start, self.time.end)
        domain = self.domain
        if isinstance(domain, BoxDomain):
            return sample_points(list(domain.box.lower), list(domain.box.upper), None, time)
        if isinstance(domain, BallDomain):
            center, radius = list(domain.ball.center), domain.ball.radius
            lower, upper = [c - radius for c in center], [c + radius for c in center]
            return sample_points(lower, upper, (center, radius), time)
        if isinstance(domain, WholeSpaceDomain):
            radius = domain.whole_space.train_radius
            return sample_points([-radius] * self.dimension, [radius] * self.dimension, None, time)
        # a polygon or a set operation: a fixed draw of the region, its vertices' box corners too
        region = region_of(domain, self.dimension)
        x, u = region.draw_interior(SAMPLES, 0, "uniform", extra=1)
        if time is None:
            return None, x
        t = time[0] + (time[1] - time[0]) * u[:, 0]
        t[:2] = torch.tensor(time, dtype=t.dtype)[: min(2, t.shape[0])]
        return t, x

    def _check_finite(self, checks: list[Sampled], points: tuple[Tensor | None, Tensor]) -> None:
        """Every expression is a finite number at the sample points (solver.spec_checks): on the
        domain and time interval, initial data at t = start, boundary data on their part."""
        t, x = points
        domain = self.domain
        box = (list(domain.box.lower), list(domain.box.upper)) if isinstance(domain, BoxDomain) else None
        ball = (list(domain.ball.center), domain.ball.radius) if isinstance(domain, BallDomain) else None
        for check in checks:
            if check.at == "domain":
                finite_values(check.where, check.expression, t, x)
            elif check.at == "start":
                start = (
                    None if self.time is None else torch.full((x.shape[0],), self.time.start, dtype=x.dtype)
                )
                finite_values(check.where, check.expression, start, x)
            elif isinstance(domain, SHAPED):
                region = region_of(domain, self.dimension)
                on, _, _ = region.draw_boundary(x.shape[0], check.at, 0, "uniform")
                finite_values(check.where, check.expression, t, on)
            else:
                finite_values(check.where, check.expression, t, boundary_points(x, check.at, box, ball))


class Sampled(NamedTuple):
    """An expression of the spec, where it sits, and where it must be finite: ``"domain"`` (the
    domain and time interval), ``"start"`` (the domain at t = start) or a boundary part
    (``"boundary"``, ``"x0=lower"``)."""

    where: str
    expression: Expression
    at: str = "domain"


def _expr(text: str, names: dict[str, Kind], where: str, want: Kind = "scalar") -> Expression:
    try:
        return parse(text, names, want=want)
    except ExpressionError as exc:
        raise ValueError(f"{where}: {exc}") from None


def region_of(domain: Domain, dimension: int) -> Region:
    """The domain's region, built once per domain and dimension while specs are validated (a
    polygon's checks and triangulation are not repeated for every condition)."""
    return _cached_region(json.dumps(domain.model_dump(mode="json"), sort_keys=True), dimension)


@functools.lru_cache(maxsize=64)
def _cached_region(domain: str, dimension: int) -> Region:
    return build_region(json.loads(domain), dimension)


def _check_condition_unknown(cond: Condition, unknowns: list[str] | None, where: str) -> None:
    """A system's condition names one of its unknowns (a periodic one applies to all of them);
    the other kinds' conditions name none."""
    if unknowns is None:
        if cond.unknown is not None:
            raise ValueError(
                f"{where}.unknown: only a 'system' problem has named unknowns; drop 'unknown' (this "
                "problem's one unknown is u)"
            )
        return
    if isinstance(cond, Periodic):
        if cond.unknown is not None:  # that unknown only (a penalty); without: every unknown
            check_condition_unknown(cond.unknown, unknowns, where)
        return
    check_condition_unknown(cond.unknown, unknowns, where)


def _periodic_axes(conditions: list[Condition], domain: Domain, d: int) -> set[int]:
    """The periodic coordinates, each once (per unknown it names), on a box, below d."""
    axes: set[int] = set()
    seen: set[tuple[int, str | None]] = set()
    for index, cond in enumerate(conditions):
        if not isinstance(cond, Periodic):
            continue
        where = f"conditions[{index}]"
        if not isinstance(domain, BoxDomain):
            raise ValueError(f"{where}: a periodic condition needs a box domain (its axis has two faces)")
        match = AXIS.match(cond.axis)
        if match is None:
            raise ValueError(f"{where}.axis: {cond.axis!r} is not a coordinate; give 'x<i>', e.g. 'x0'")
        axis = int(match.group(1))
        if axis >= d:
            raise ValueError(f"{where}.axis: {cond.axis!r} names coordinate {axis} but dimension is {d}")
        key = (axis, cond.unknown)
        if key in seen or (axis, None) in seen or (cond.unknown is None and any(a == axis for a, _ in seen)):
            raise ValueError(f"{where}.axis: {cond.axis!r} is periodic twice; give it once")
        seen.add(key)
        axes.add(axis)
    return axes


def _not_on_periodic(on: str, periodic: set[int], where: str) -> None:
    """A face of a periodic axis takes no other condition, nor does "boundary" (it holds them)."""
    if not periodic:
        return
    axes = ", ".join(f"x{i}" for i in sorted(periodic))
    if on == "boundary":
        raise ValueError(
            f"{where}.on: 'boundary' includes the faces of the periodic axis {axes}; name the other faces "
            "one by one ('x1=lower', ...)"
        )
    match = FACE.match(on)
    if match is not None and int(match.group(1)) in periodic:
        raise ValueError(
            f"{where}.on: {on!r} is a face of the periodic axis x{match.group(1)}; drop one of the two"
        )


def _check_on(on: str, d: int, domain: Domain, where: str) -> None:
    if on == "boundary":
        return
    if isinstance(domain, SHAPED):
        parts = region_of(domain, d).parts()
        if on not in parts:
            shown = ", ".join(repr(p) for p in parts[:8]) + (", ..." if len(parts) > 8 else "")
            raise ValueError(f"{where}.on: {on!r} is not a boundary part of this domain; allowed: {shown}")
        return
    match = FACE.match(on)
    if match is None or not isinstance(domain, BoxDomain):
        allowed = "'boundary'" + (" or a face such as 'x0=lower'" if isinstance(domain, BoxDomain) else "")
        raise ValueError(f"{where}.on: {on!r} is not a boundary part; allowed: {allowed}")
    if int(match.group(1)) >= d:
        raise ValueError(f"{where}.on: {on!r} names coordinate {match.group(1)} but dimension is {d}")


class FirstOrder(ProblemBase):
    """A first-order PDE F(t, x, u, u_t, grad u) = 0 on a box, a ball or the whole space; the
    residual is r = F. Stationary equations convex (concave) in grad u are steered to their
    viscosity solution, e.g. the distance to the boundary for the eikonal |grad u| = 1."""

    kind: Literal["first_order"] = Field(
        description="The literal 'first_order': the PDE F(t, x, u, u_t, grad u) = 0 given by equation.",
        examples=["first_order"],
    )
    _transport: bool = PrivateAttr(default=False)
    _periodic_transport: bool = PrivateAttr(default=False)
    equation: Expr = Field(
        description="F, the residual r = F(t, x, u, u_t, grad u) of the PDE F = 0: an expression in t "
        "(with time), the space names, and u, u_t (with time), u_x0..u_x{d-1} and the vector grad_u.",
        examples=["u_t + u_x0", "norm(grad_u) - 1"],
    )

    @model_validator(mode="after")
    def _check(self) -> FirstOrder:
        checks = self._check_common()
        parsed = _expr(self.equation, equation_names(self.dimension, self.has_time), "equation")
        used = parsed.names()
        self._check_data(
            uses_time_derivative="u_t" in used,
            uses_space_derivatives=any(name == "grad_u" or name.startswith("u_x") for name in used),
        )
        points = self._sample_points()
        self._check_finite(checks, points)  # not the equation: it involves u
        t, x = points
        if t is not None:
            v = transport_velocity(parsed, self.dimension, t, x)
            self._transport = v is not None
            periodic = sum(isinstance(c, Periodic) for c in self.conditions)
            self._periodic_transport = v is not None and constant_speed(v) and periodic == self.dimension
        return self

    @property
    def periodic_transport(self) -> bool:
        """A linear transport at one constant speed, periodic in every space axis: its waves
        are sheared along the characteristics (solver.periodic)."""
        return self._periodic_transport

    @property
    def transport(self) -> bool:
        """A linear transport equation a u_t + c . grad u + g(t, x, u) = 0 (solver.linearity)."""
        return self._transport


ScalarOrMatrix = Expr | list[list[Expr]]


class DivergenceForm(ProblemBase):
    """[u_t] - div(K grad u) + b . grad u + c u = f on a box or a ball, the u_t term present exactly
    when the problem has time. Trained as the first-order system sigma = K grad u with one network
    of outputs (u, sigma_1..sigma_d); residuals |sigma - K grad u| and
    |[u_t] - div sigma + b . grad u + c u - f|."""

    kind: Literal["divergence_form"] = Field(
        description="The literal 'divergence_form': [u_t] - div(K grad u) + b . grad u + c u = f.",
        examples=["divergence_form"],
    )
    diffusion: ScalarOrMatrix = Field(
        default="1",
        description="K(t, x, u): a scalar expression k > 0, meaning K = k I, or a d x d list of rows of "
        "expressions, K[i][j] = K_ij, whose symmetric part is positive definite. The default '1' makes "
        "-div(K grad u) the negative Laplacian; K may depend on the solution u (a nonlinear diffusion, "
        "e.g. '1 + u**2'), then it is checked positive at u = -1, 0 and 1.",
        examples=["1", [["2", "0"], ["0", "1 + x**2"]], "1 + u**2"],
    )
    drift: list[Expr] | None = Field(
        default=None,
        description="b(t, x) of the term b . grad u: a list of d expressions, or null for no such term.",
        examples=[["1", "0"]],
    )
    reaction: Expr = Field(
        default="0",
        description="c(t, x) of the term c u: an expression in t (with time) and the space names.",
        examples=["0", "1"],
    )
    source: Expr = Field(
        default="0",
        description="f(t, x), the right-hand side: an expression in t (with time) and the space names.",
        examples=["2*pi**2*sin(pi*x)*sin(pi*y)"],
    )

    @model_validator(mode="after")
    def _check(self) -> DivergenceForm:
        checks = self._check_common()
        if isinstance(self.domain, WholeSpaceDomain):
            raise ValueError(
                "divergence_form needs a bounded domain: a box, a ball, a polygon or a set operation "
                "(whole_space is for kolmogorov and first_order)"
            )
        names = self.names()
        diffusion = _check_matrix(self.diffusion, self.dimension, {**names, "u": "scalar"}, "diffusion")
        checks += _check_drift(self.drift, self.dimension, names)
        checks.append(Sampled("reaction", _expr(self.reaction, names, "reaction")))
        checks.append(Sampled("source", _expr(self.source, names, "source")))
        self._check_data(uses_time_derivative=True, uses_space_derivatives=True)
        points = self._sample_points()
        self._check_finite(checks, points)
        check_diffusion(diffusion, *points)
        return self


def _check_matrix(
    value: ScalarOrMatrix, d: int, names: dict[str, Kind], where: str
) -> Expression | list[list[Expression]]:
    if isinstance(value, str):
        return _expr(value, names, where)
    if len(value) != d or any(len(row) != d for row in value):
        raise ValueError(f"{where} must be a scalar expression or a {d} x {d} list of expressions")
    return [
        [_expr(item, names, f"{where}[{i}][{j}]") for j, item in enumerate(row)]
        for i, row in enumerate(value)
    ]


def _matrix_entries(where: str, value: Expression | list[list[Expression]]) -> list[Sampled]:
    if isinstance(value, Expression):
        return [Sampled(where, value)]
    return [Sampled(f"{where}[{i}][{j}]", item) for i, row in enumerate(value) for j, item in enumerate(row)]


def _check_drift(drift: list[str] | None, d: int, names: dict[str, Kind]) -> list[Sampled]:
    if drift is None:
        return []
    if len(drift) != d:
        raise ValueError(f"drift has {len(drift)} entries but dimension is {d}")
    return [Sampled(f"drift[{i}]", _expr(item, names, f"drift[{i}]")) for i, item in enumerate(drift)]


class Kolmogorov(ProblemBase):
    """u_t = 1/2 trace(sigma sigma^T Hess u) + mu . grad u on [0, T] x R^d with u(0, x) = phi(x), so
    u(t, x) = E[phi(X_t)] for dX = mu dt + sigma dW, X_0 = x. Needs a whole_space domain, time with
    start = 0 and growth; trained in mean square on Feynman-Kac Monte Carlo targets for u and
    grad_x u, divided by 1 + |x|^(kappa+1)."""

    kind: Literal["kolmogorov"] = Field(
        description="The literal 'kolmogorov': u_t = 1/2 trace(sigma sigma^T Hess u) + mu . grad u, "
        "u(0, x) = phi(x).",
        examples=["kolmogorov"],
    )
    drift: list[Expr] | None = Field(
        default=None,
        description="mu, the drift of dX = mu dt + sigma dW: a list of d expressions in t and the space "
        "names, or null for mu = 0.",
        examples=[["0.1*x0"]],
    )
    volatility: ScalarOrMatrix = Field(
        default="1",
        description="sigma: a scalar expression s, meaning sigma = s I, or a d x d list of rows of "
        "expressions, sigma[i][j] = sigma_ij. The default '1' gives u_t = Laplacian(u) / 2.",
        examples=["sqrt(2)", [["1", "0"], ["0.5", "1"]]],
    )
    initial: Expr = Field(
        description="phi(x) = u(0, x): an expression in the space names x0..x{d-1}, x, y, z (d <= 3), "
        "x_vec (no t).",
        examples=["dot(x_vec, x_vec)"],
    )

    @model_validator(mode="after")
    def _check(self) -> Kolmogorov:
        if not isinstance(self.domain, WholeSpaceDomain):
            raise ValueError("kolmogorov problems need domain {'whole_space': {'train_radius': R}}")
        if self.time is None or self.time.start != 0.0:
            raise ValueError("kolmogorov problems need time with start = 0")
        checks = self._check_common()
        names = self.names()
        checks += _check_drift(self.drift, self.dimension, names)
        checks += _matrix_entries(
            "volatility", _check_matrix(self.volatility, self.dimension, names, "volatility")
        )
        initial = _expr(self.initial, space_names(self.dimension, has_time=False), "initial")
        checks.append(Sampled("initial", initial, "start"))
        self._check_finite(checks, self._sample_points())
        return self


class System(ProblemBase):
    """A first-order system of m unknowns N_1..N_m, one network output each: the equations
    F_k(t, x, N, N_t, grad N) = 0, any nonlinearity allowed, on a box, a ball, a polygon or a
    set operation; residuals |F_k| in the interior and one per condition, each on the unknown
    it names.  A second-order equation is written first order with a flux unknown, e.g. viscous
    Burgers u_t + u u_x = nu u_xx as q - nu u_x = 0, u_t + u u_x - q_x = 0."""

    kind: Literal["system"] = Field(
        description="The literal 'system': the first-order system of `equations` in the `unknowns`.",
        examples=["system"],
    )
    unknowns: list[Annotated[str, Field(max_length=64)]] = Field(
        min_length=1,
        max_length=MAX_UNKNOWNS,
        description=f"The names of the unknowns (1 to {MAX_UNKNOWNS}), in the order of the network's "
        "outputs and of evaluate's value columns: identifiers such as 'u', 'q', 'p' that clash with no "
        "built-in name (t, x, y, z, x0.., x_vec, pi, e, the functions) nor with another unknown's "
        "derived names.",
        examples=[["u", "q"]],
    )
    equations: list[Expr] = Field(
        min_length=1,
        max_length=64,
        description="The residuals F_k that must vanish in the interior (at most 64): expressions in t "
        "(with time), the space names and, for each unknown N, N, N_t (with time), N_x0..N_x{d-1} "
        "and the vector grad_N. Products and functions of unknowns and derivatives are allowed.",
        examples=[["q - 0.05*u_x0", "u_t + u*u_x0 - q_x0"]],
    )
    exact: dict[str, Expr] | None = Field(  # type: ignore[assignment]
        default=None,
        description="A known solution: null, or an object mapping every unknown to an expression in t "
        "(with time) and the space names. Used only to report errors per unknown; never in training "
        "and never by the error bounds.",
        examples=[{"u": "sin(x)", "q": "0.05*cos(x)"}],
    )

    @model_validator(mode="after")
    def _check(self) -> System:
        if isinstance(self.domain, WholeSpaceDomain):
            raise ValueError("a system needs a bounded domain: a box, a ball, a polygon or a set operation")
        d, has_time = self.dimension, self.has_time
        check_unknowns(self.unknowns, d, has_time)
        checks = self._check_common(list(self.unknowns))
        names = system_names(self.unknowns, d, has_time)
        used: set[str] = set()
        for index, text in enumerate(self.equations):
            used |= _equation(text, names, self.unknowns, f"equations[{index}]").names()
        touched = {unknown_of_name(name, self.unknowns, d, has_time) for name in used}
        for index, unknown in enumerate(self.unknowns):
            if unknown not in touched:
                raise ValueError(
                    f"unknowns[{index}]: {unknown!r} appears in no equation; use it in one (as "
                    f"{unknown}, {unknown}_x0, grad_{unknown}, ...) or drop it"
                )
        if self.exact is not None:
            missing = [u for u in self.unknowns if u not in self.exact]
            extra = [k for k in self.exact if k not in self.unknowns]
            if extra:
                raise ValueError(
                    f"exact: {extra[0]!r} is not an unknown{suggestion(extra[0], self.unknowns)}; give one "
                    f"expression per unknown ({', '.join(map(repr, self.unknowns))})"
                )
            if missing:
                raise ValueError(
                    f"exact: no expression for {missing[0]!r}; give one per unknown "
                    f"({', '.join(map(repr, self.unknowns))}) or null"
                )
            space = self.names()
            checks += [Sampled(f"exact.{k}", _expr(v, space, f"exact.{k}")) for k, v in self.exact.items()]
        time_derivatives = {f"{u}_t" for u in self.unknowns} if has_time else set()
        space_derivatives = {f"grad_{u}" for u in self.unknowns} | {
            f"{u}_x{i}" for u in self.unknowns for i in range(d)
        }
        self._check_data(
            uses_time_derivative=bool(used & time_derivatives),
            uses_space_derivatives=bool(used & space_derivatives),
        )
        self._check_finite(checks, self._sample_points())  # not the equations: they involve unknowns
        return self


def _equation(text: str, names: dict[str, Kind], unknowns: list[str], where: str) -> Expression:
    """A system's equation, parsed; a second derivative (``u_xx``, ``u_x0x0``, ``u_tt``) is
    named as such, with the first-order way to write it."""
    try:
        return parse(text, names)
    except ExpressionError as exc:
        base = next((u for u in unknowns if exc.token.startswith(f"{u}_")), None)
        if base is not None and SECOND_DERIVATIVE.match(exc.token[len(base) + 1 :]):
            raise ValueError(
                f"{where}: {exc.token!r} is a second derivative, and a system is first order: give "
                f"the first derivative its own unknown (e.g. 'q' with the equation 'q - {base}_x0') "
                "and use its derivative ('q_x0')"
            ) from None
        hint = ""
        if exc.token.isidentifier() and exc.token not in names and "(did you mean" not in str(exc):
            hint = f"; if {exc.token!r} is an unknown, list it in 'unknowns'"
        raise ValueError(f"{where}: {exc}{hint}") from None


SECOND_DERIVATIVE = re.compile(r"^(?:x\d*|y|z|t)(?:x\d*|y|z|t)+$")


Problem = Annotated[FirstOrder | DivergenceForm | Kolmogorov | System, Field(discriminator="kind")]


class NetworkSpec(Strict):
    """The fully connected ReLU network u = R Phi: N_0 inputs ((t, x) or x), the hidden widths, and
    1 output (divergence_form: 1 + d, the values u and sigma_1..sigma_d)."""

    hidden: list[Annotated[int, Field(ge=1, le=4096)]] | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="The hidden widths N_1..N_{L-1}: 1 to 64 hidden layers, each 1 to 4096 wide. null "
        "(the default): the solver chooses, by kind and dimension: a stationary divergence_form problem "
        "gets one hidden layer of ReLU ridge features whose output layer is solved by least squares "
        "(400 features in 1-D, 1,600 in 2-D, 1,200 in 3-D and more; with time, in 1-D and 2-D, 1,600 and "
        "2,400 space-time features), a kolmogorov problem 4,000 such features, a system 3,200 output-layer "
        "unknowns shared by its unknowns, a linear transport 1,600 features laid along its characteristics "
        "in 1-D (3,200 in 2-D at constant speed, periodic in both axes), every other kind (eikonal, "
        "Hamilton-Jacobi, other transport) 3 hidden layers of 64 (docs/solver.md, 'The solved output "
        "layer').",
        examples=[[64, 64, 64], [32, 32]],
    )
    activation: Literal["relu", "leaky_relu"] = Field(
        default="relu",
        description="The activation rho of every hidden layer: 'relu', max(0, s), or 'leaky_relu', "
        "max(alpha s, s) with alpha = negative_slope.",
        examples=["relu"],
    )
    negative_slope: float = Field(
        default=0.01,
        ge=0,
        lt=1,
        description="alpha in [0, 1), the slope of leaky_relu for s < 0; ignored for relu.",
        examples=[0.01],
    )
    relu_prime_at_zero: float = Field(
        default=0.0,
        description="c, the value the network derivative D Phi uses for rho'(0) where a neuron's input is "
        "exactly 0 (any finite number; it changes D Phi on a null set only).",
        examples=[0.0],
    )


class Points(Strict):
    """How many collocation points each draw holds."""

    interior: int = Field(
        default=2048,
        ge=1,
        le=1_000_000,
        description="Points of the PDE residual, drawn in the domain (times the time interval) at each "
        "draw; 1 to 1,000,000.",
        examples=[2048],
    )
    boundary: int = Field(
        default=512,
        ge=1,
        le=1_000_000,
        description="Points per condition at each draw: on its boundary part (times the time interval), "
        "or in the domain at t0 for an initial condition; 1 to 1,000,000.",
        examples=[512],
    )


class LossSpec(Strict):
    """How the residuals r_k are turned into the loss (their terms are summed)."""

    norm: Literal["sup", "l2", "auto"] = Field(
        default="auto",
        description="'sup': each term is the L^p mean (mean |r|^p)^(1/p), p rising geometrically from 2 "
        "to 64 over the Adam steps, reported as the sample sup max |r|; an output-layer solve ('ls', "
        "'adam+ls') then minimizes each term's sampled sup by Lawson's reweighted least squares. 'l2': "
        "each term is the mean square of |r| (the classic PINN loss; the plain least-squares solve). "
        "'auto' (the default): 'sup' for a trained network, 'l2' for the solved basis (optimizer 'ls'), "
        "where the least-squares fit measured 2x more accurate in rel L2 at 1/16 of the time of the "
        "minimax one (docs/solver.md). kolmogorov problems are always fitted in mean square.",
        examples=["sup", "l2", "auto"],
    )


#: the output-layer solve under the sup norm: Lawson's reweighted solves after the
#: least-squares one (solver.output_layer; regression kinds are always fitted in mean square)
LAWSON_ITERATIONS = 16

#: the problem kinds whose 'auto' pipeline ends with the Levenberg-Marquardt phase
AUTO_SECOND_ORDER = frozenset({"first_order"})


class Tolerance(Strict):
    """An error the solve must promise: the tightest certified or statistical bound of
    ``quantity`` at most ``value``."""

    quantity: Literal["rms_error", "max_abs_error", "rms_gradient_error", "max_gradient_error"] = Field(
        default="rms_error",
        description="The bounded quantity (docs/error-estimates.md): rms_error, max_abs_error, "
        "rms_gradient_error or max_gradient_error.",
        examples=["rms_error"],
    )
    value: float = Field(
        gt=0,
        description="The tolerance, > 0, in the units of u (of grad u for the gradient quantities).",
        examples=[1e-3],
    )


class TrainingSpec(Strict):
    """How the network is trained: Adam, optionally followed by L-BFGS, on points redrawn as it goes."""

    steps: int = Field(
        default=5000,
        ge=0,
        le=10_000_000,
        description="Adam steps, 0 to 10,000,000. 0 only with optimizer 'adam+lbfgs' and lbfgs_steps >= 1.",
        examples=[5000],
    )
    optimizer: Literal["adam", "adam+lbfgs", "adam+lm", "adam+ls", "ls", "auto"] = Field(
        default="auto",
        description="'adam': Adam for steps. 'adam+lbfgs': Adam for steps, then L-BFGS (strong Wolfe "
        "line search) for lbfgs_steps iterations on the last points. 'adam+lm': Adam for steps, then "
        "lm_steps Levenberg-Marquardt iterations in float64 on the mean-square residuals, each on a "
        "fresh draw of points (docs/solver.md, 'The second-order phase'). 'adam+ls': Adam for steps, "
        "then the output layer solved: least squares over all residual terms (Gauss-Newton with a line "
        "search, at most ls_steps iterations, for a nonlinear residual). 'ls': the output layer solved "
        "on a first layer of placed ridge features (breakpoints through Sobol points; along the "
        "characteristics for a linear transport), no Adam (steps is ignored). 'auto': the pipeline "
        "measured best: 'ls' for a spec that names no "
        "network and gets the solved basis (network.hidden), else Adam then Levenberg-Marquardt "
        "('adam+lm') for first_order problems and Adam alone for the other kinds.",
        examples=["adam", "adam+lbfgs", "adam+lm", "adam+ls", "ls", "auto"],
    )
    learning_rate: float = Field(
        default=1e-3,
        gt=0,
        le=10,
        description="Adam's initial learning rate, in (0, 10]; it falls along a cosine to 5 % of this "
        "value by the last Adam step.",
        examples=[0.001],
    )
    lbfgs_steps: int = Field(
        default=500,
        ge=0,
        le=1_000_000,
        description="L-BFGS iterations after Adam when optimizer is 'adam+lbfgs' (run in chunks of 20); "
        "ignored with 'adam'.",
        examples=[500],
    )
    lm_steps: int = Field(
        default=40,
        ge=0,
        le=100_000,
        description="Levenberg-Marquardt iterations after Adam when optimizer is 'adam+lm'; ignored "
        "otherwise.",
        examples=[40],
    )
    ls_steps: int = Field(
        default=8,
        ge=1,
        le=1000,
        description="Gauss-Newton iterations of the output-layer solve ('ls', 'adam+ls'), at most; a "
        "linear problem needs one (its least-squares solution), and the solve stops when a step no "
        "longer lowers the residual.",
        examples=[8],
    )
    tolerance: Annotated[float, Field(gt=0)] | Tolerance | None = Field(
        default=None,
        description="Solve to a tolerance (docs/solver.md, 'Solving to a tolerance'): a number (a bound on "
        'rms_error) or {"quantity", "value"}. The solved basis starts at 1/8 of its default width '
        "and doubles, each width solved and its error bounds computed, until the tightest certified or "
        "statistical bound of the quantity is at most the tolerance, time_limit_s is reached or the width "
        "reaches 4,096; metrics['tolerance'] says which, with the bound and the width. Only for specs that "
        "get the solved basis (no network.hidden, and a kind that gets it: see network.hidden). "
        "null (the default): one solve at the default width.",
        examples=[1e-3, {"quantity": "rms_error", "value": 1e-3}],
    )
    points: Points = Field(
        default=Points(),
        description="Collocation points per draw: interior and per condition.",
        examples=[{"interior": 2048, "boundary": 512}],
    )
    resample_every: int = Field(
        default=100,
        ge=0,
        description="Fresh points every that many Adam steps; 0 keeps the first points throughout. With "
        "the sup loss the worst 10 % of the previous interior points are kept.",
        examples=[100],
    )
    sampling: Literal["sobol", "uniform"] = Field(
        default="sobol",
        description="How points are drawn: 'sobol', scrambled Sobol points, or 'uniform', independent "
        "uniform draws; either way deterministic in seed.",
        examples=["sobol"],
    )
    loss: LossSpec = Field(
        default=LossSpec(),
        description="The loss norm.",
        examples=[{"norm": "sup"}],
    )
    seed: int = Field(
        default=0,
        ge=0,
        le=2**63 - 1,
        description="All randomness (initialization, point draws, Monte Carlo paths) derives from it: the "
        "same spec and seed give the same model on the same machine. 0 to 2^63 - 1.",
        examples=[0],
    )
    time_limit_s: float = Field(
        default=3600,
        gt=0,
        description="Wall-clock seconds of training allowed, > 0. Past it the run stops and keeps the "
        "parameters with the lowest reported loss so far.",
        examples=[3600],
    )

    def pipeline(self, kind: str, solved: bool = False) -> str:
        """The optimizer a problem of ``kind`` trains with: 'auto' resolved to the pipeline
        measured best (BENCHMARKS.md, "The second-order phase" and "The solved output
        layer"): 'ls' on the solved basis (``solved``: the spec names no network and its kind
        gets one, ``solver.basis``), else Adam then Levenberg-Marquardt for first_order
        problems and Adam alone for the others."""
        if self.optimizer != "auto":
            return self.optimizer
        if solved:
            return "ls"
        return "adam+lm" if kind in AUTO_SECOND_ORDER else "adam"

    def total_steps(self, kind: str, solved: bool = False) -> int:
        """Adam steps plus the iterations of the phase after them (L-BFGS, Levenberg-Marquardt
        or the output-layer solve, with Lawson's iterations under the sup norm); 'ls' runs no
        Adam step."""
        pipeline = self.pipeline(kind, solved)
        adam = 0 if pipeline == "ls" else self.steps
        return adam + self._steps_after(pipeline) + self.lawson_steps(kind, pipeline)

    def norm(self, pipeline: str) -> str:
        """The loss norm, 'auto' resolved: 'l2' for the solved basis ('ls'), else 'sup'."""
        if self.loss.norm != "auto":
            return self.loss.norm
        return "l2" if pipeline == "ls" else "sup"

    def lawson_steps(self, kind: str, pipeline: str) -> int:
        """Lawson's iterations after the output-layer solve: LAWSON_ITERATIONS under the sup
        norm, none under l2, for regression kinds (kolmogorov) or without the solve."""
        solves = pipeline in ("ls", "adam+ls")
        sup = self.norm(pipeline) == "sup"
        return LAWSON_ITERATIONS if solves and sup and kind != "kolmogorov" else 0

    def _steps_after(self, pipeline: str) -> int:
        """The iterations of the phase after Adam in ``pipeline`` (0 for Adam alone)."""
        return {
            "adam+lbfgs": self.lbfgs_steps,
            "adam+lm": self.lm_steps,
            "adam+ls": self.ls_steps,
            "ls": self.ls_steps,
        }.get(pipeline, 0)

    @model_validator(mode="after")
    def _trains(self) -> TrainingSpec:
        if self.steps + self._steps_after(self.optimizer) < 1:
            raise ValueError(
                "training.steps is 0 and no L-BFGS steps follow: the model would be the untrained "
                "initialization; set training.steps >= 1 (or optimizer 'adam+lbfgs' with lbfgs_steps >= 1)"
            )
        return self


class JobSpec(Strict):
    """A whole job: what to solve, with which network, trained how."""

    @model_validator(mode="before")
    @classmethod
    def _auto_network(cls, data: Any) -> Any:
        """``"network": "auto"`` is the network the solver chooses: as if none were given."""
        if isinstance(data, dict) and data.get("network") == "auto":
            return {key: value for key, value in data.items() if key != "network"}
        return data

    @model_validator(mode="after")
    def _tolerance_needs_the_solved_basis(self) -> JobSpec:
        if self.training.tolerance is None:
            return self
        if not self.solved_basis:
            raise ValueError(
                "training.tolerance grows the solved basis, which only a spec without network.hidden of a "
                "stationary divergence_form or a kolmogorov problem gets; remove network.hidden, or remove "
                "training.tolerance and choose the network yourself"
            )
        if self.training.optimizer not in ("auto", "ls"):
            raise ValueError(
                f"training.tolerance solves the output layer ('ls'); optimizer {self.training.optimizer!r} "
                "trains it: set optimizer to 'auto' or 'ls', or remove training.tolerance"
            )
        return self

    @property
    def tolerance(self) -> Tolerance | None:
        """training.tolerance as a ``Tolerance`` (a bare number bounds rms_error)."""
        found = self.training.tolerance
        if found is None or isinstance(found, Tolerance):
            return found
        return Tolerance(quantity="rms_error", value=float(found))

    @property
    def solved_basis(self) -> bool:
        """The spec names no hidden widths and its kind gets the solved basis (``solver.basis``)."""
        return self.network.hidden is None and solved_basis(
            self.problem.kind,
            self.problem.dimension,
            self.problem.time is not None,
            self.problem.transport,
            self.problem.periodic_transport,
        )

    @property
    def hidden(self) -> list[int]:
        """The hidden widths the network has: the spec's, or the solver's choice."""
        if self.network.hidden is not None:
            return list(self.network.hidden)
        problem = self.problem
        return auto_hidden(
            problem.kind,
            problem.dimension,
            problem.time is not None,
            problem.transport,
            problem.periodic_transport,
            len(problem.unknowns) if isinstance(problem, System) else 1,
        )

    @property
    def pipeline(self) -> str:
        """The training pipeline, 'auto' resolved (``TrainingSpec.pipeline``)."""
        return self.training.pipeline(self.problem.kind, self.solved_basis)

    @property
    def total_steps(self) -> int:
        """The optimizer steps the job runs: Adam's and those of the phase after them."""
        return self.training.total_steps(self.problem.kind, self.solved_basis)

    name: str | None = Field(
        default=None,
        max_length=200,
        description="A label for the job (at most 200 characters), kept with the job and its model; "
        "null for none.",
        examples=["poisson-2d"],
    )
    problem: Problem = Field(
        description="The PDE to solve; kind selects first_order, divergence_form, kolmogorov or system "
        "(full examples: examples/*.json).",
    )
    network: NetworkSpec = Field(
        default=NetworkSpec(),
        description='The ReLU network; fields left out take their defaults. "auto" (or leaving it out): '
        "the solver chooses the widths (network.hidden).",
        examples=[{"hidden": [64, 64, 64]}],
    )
    training: TrainingSpec = Field(
        default=TrainingSpec(),
        description="How the network is trained; fields left out take their defaults.",
        examples=[{"steps": 3000, "seed": 0}],
    )
