"""The job spec of API.md section 1 as strict pydantic v2 models.

Unknown fields are refused, NaN and infinities are refused, sizes are capped, and every
expression is parsed (``solver.expressions``) during validation, so a spec that validates
can be trained.  ``JobSpec.model_validate_json(text)`` is the entry point.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from solver.expressions import ExpressionError, Kind, equation_names, parse, space_names

Expr = Annotated[str, Field(min_length=1, max_length=10_000)]
FACE = re.compile(r"^x(\d+)=(lower|upper)$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class TimeInterval(Strict):
    start: float
    end: float

    @model_validator(mode="after")
    def _ordered(self) -> TimeInterval:
        if not self.end > self.start:
            raise ValueError(f"time.end ({self.end}) must be greater than time.start ({self.start})")
        return self


class BoxSpec(Strict):
    lower: list[float] = Field(min_length=1, max_length=1000)
    upper: list[float] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _ordered(self) -> BoxSpec:
        if len(self.lower) != len(self.upper):
            raise ValueError("box.lower and box.upper must have the same length")
        if any(hi <= lo for lo, hi in zip(self.lower, self.upper, strict=True)):
            raise ValueError("box.upper must exceed box.lower in every coordinate")
        return self


class BallSpec(Strict):
    center: list[float] = Field(min_length=1, max_length=1000)
    radius: float = Field(gt=0)


class WholeSpaceSpec(Strict):
    train_radius: float = Field(gt=0)


class BoxDomain(Strict):
    box: BoxSpec


class BallDomain(Strict):
    ball: BallSpec


class WholeSpaceDomain(Strict):
    whole_space: WholeSpaceSpec


Domain = BoxDomain | BallDomain | WholeSpaceDomain


class Growth(Strict):
    kappa: float = Field(ge=0)
    constant: float = Field(gt=0)


class Dirichlet(Strict):
    type: Literal["dirichlet"]
    on: str = "boundary"
    value: Expr


class Neumann(Strict):
    type: Literal["neumann"]
    on: str = "boundary"
    value: Expr


class Initial(Strict):
    type: Literal["initial"]
    value: Expr


Condition = Annotated[Dirichlet | Neumann | Initial, Field(discriminator="type")]


class ProblemBase(Strict):
    dimension: int = Field(ge=1, le=1000)
    time: TimeInterval | None = None
    domain: Domain
    conditions: list[Condition] = Field(default_factory=list, max_length=64)
    exact: Expr | None = None
    growth: Growth | None = None

    @property
    def has_time(self) -> bool:
        return self.time is not None

    def names(self) -> dict[str, Kind]:
        return space_names(self.dimension, self.has_time)

    def _check_common(self) -> None:
        d = self.dimension
        domain = self.domain
        if isinstance(domain, BoxDomain) and len(domain.box.lower) != d:
            raise ValueError(f"domain.box has {len(domain.box.lower)} coordinates but dimension is {d}")
        if isinstance(domain, BallDomain) and len(domain.ball.center) != d:
            raise ValueError(
                f"domain.ball.center has {len(domain.ball.center)} coordinates but dimension is {d}"
            )
        if isinstance(domain, WholeSpaceDomain) and self.growth is None:
            raise ValueError("growth ({'kappa': k, 'constant': C}) is required for a whole_space domain")
        names = self.names()
        initial_names = space_names(d, has_time=False)  # initial data are functions of x only
        for index, cond in enumerate(self.conditions):
            where = f"conditions[{index}]"
            if isinstance(cond, Initial):
                if self.time is None:
                    raise ValueError(f"{where}: an initial condition needs problem.time")
                _expr(cond.value, initial_names, f"{where}.value")
                continue
            if isinstance(domain, WholeSpaceDomain):
                raise ValueError(f"{where}: a whole_space problem has no boundary conditions")
            _check_on(cond.on, d, domain, where)
            _expr(cond.value, names, f"{where}.value")
        if self.exact is not None:
            _expr(self.exact, names, "exact")


def _expr(text: str, names: dict[str, Kind], where: str, want: Kind = "scalar") -> None:
    try:
        parse(text, names, want=want)
    except ExpressionError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _check_on(on: str, d: int, domain: Domain, where: str) -> None:
    if on == "boundary":
        return
    match = FACE.match(on)
    if match is None or not isinstance(domain, BoxDomain):
        allowed = "'boundary'" + (" or a face such as 'x0=lower'" if isinstance(domain, BoxDomain) else "")
        raise ValueError(f"{where}.on: {on!r} is not a boundary part; allowed: {allowed}")
    if int(match.group(1)) >= d:
        raise ValueError(f"{where}.on: {on!r} names coordinate {match.group(1)} but dimension is {d}")


class FirstOrder(ProblemBase):
    kind: Literal["first_order"]
    equation: Expr

    @model_validator(mode="after")
    def _check(self) -> FirstOrder:
        self._check_common()
        _expr(self.equation, equation_names(self.dimension, self.has_time), "equation")
        return self


ScalarOrMatrix = Expr | list[list[Expr]]


class DivergenceForm(ProblemBase):
    kind: Literal["divergence_form"]
    diffusion: ScalarOrMatrix = "1"
    drift: list[Expr] | None = None
    reaction: Expr = "0"
    source: Expr = "0"

    @model_validator(mode="after")
    def _check(self) -> DivergenceForm:
        self._check_common()
        if isinstance(self.domain, WholeSpaceDomain):
            raise ValueError(
                "divergence_form needs a box or ball domain (whole_space is for kolmogorov and first_order)"
            )
        names = self.names()
        _check_matrix(self.diffusion, self.dimension, names, "diffusion")
        if self.drift is not None:
            if len(self.drift) != self.dimension:
                raise ValueError(f"drift has {len(self.drift)} entries but dimension is {self.dimension}")
            for i, item in enumerate(self.drift):
                _expr(item, names, f"drift[{i}]")
        _expr(self.reaction, names, "reaction")
        _expr(self.source, names, "source")
        return self


def _check_matrix(value: ScalarOrMatrix, d: int, names: dict[str, Kind], where: str) -> None:
    if isinstance(value, str):
        _expr(value, names, where)
        return
    if len(value) != d or any(len(row) != d for row in value):
        raise ValueError(f"{where} must be a scalar expression or a {d} x {d} list of expressions")
    for i, row in enumerate(value):
        for j, item in enumerate(row):
            _expr(item, names, f"{where}[{i}][{j}]")


class Kolmogorov(ProblemBase):
    kind: Literal["kolmogorov"]
    drift: list[Expr] | None = None
    volatility: ScalarOrMatrix = "1"
    initial: Expr

    @model_validator(mode="after")
    def _check(self) -> Kolmogorov:
        if not isinstance(self.domain, WholeSpaceDomain):
            raise ValueError("kolmogorov problems need domain {'whole_space': {'train_radius': R}}")
        if self.time is None or self.time.start != 0.0:
            raise ValueError("kolmogorov problems need time with start = 0")
        self._check_common()
        names = self.names()
        if self.drift is not None:
            if len(self.drift) != self.dimension:
                raise ValueError(f"drift has {len(self.drift)} entries but dimension is {self.dimension}")
            for i, item in enumerate(self.drift):
                _expr(item, names, f"drift[{i}]")
        _check_matrix(self.volatility, self.dimension, names, "volatility")
        _expr(self.initial, space_names(self.dimension, has_time=False), "initial")
        return self


Problem = Annotated[FirstOrder | DivergenceForm | Kolmogorov, Field(discriminator="kind")]


class NetworkSpec(Strict):
    hidden: list[Annotated[int, Field(ge=1, le=4096)]] = Field(
        default=[64, 64, 64], min_length=1, max_length=64
    )
    activation: Literal["relu", "leaky_relu"] = "relu"
    negative_slope: float = Field(default=0.01, ge=0, lt=1)
    relu_prime_at_zero: float = 0.0


class Points(Strict):
    interior: int = Field(default=2048, ge=1, le=1_000_000)
    boundary: int = Field(default=512, ge=1, le=1_000_000)


class LossSpec(Strict):
    norm: Literal["sup", "l2"] = "sup"


class TrainingSpec(Strict):
    steps: int = Field(default=5000, ge=0, le=10_000_000)
    optimizer: Literal["adam", "adam+lbfgs"] = "adam"
    learning_rate: float = Field(default=1e-3, gt=0, le=10)
    lbfgs_steps: int = Field(default=500, ge=0, le=1_000_000)
    points: Points = Points()
    resample_every: int = Field(default=100, ge=0)
    sampling: Literal["sobol", "uniform"] = "sobol"
    loss: LossSpec = LossSpec()
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    time_limit_s: float = Field(default=3600, gt=0)

    @model_validator(mode="after")
    def _trains(self) -> TrainingSpec:
        lbfgs = self.lbfgs_steps if self.optimizer == "adam+lbfgs" else 0
        if self.steps + lbfgs < 1:
            raise ValueError(
                "training.steps is 0 and no L-BFGS steps follow: the model would be the untrained "
                "initialization; set training.steps >= 1 (or optimizer 'adam+lbfgs' with lbfgs_steps >= 1)"
            )
        return self


class JobSpec(Strict):
    """A whole job: what to solve, with which network, trained how."""

    name: str | None = Field(default=None, max_length=200)
    problem: Problem
    network: NetworkSpec = NetworkSpec()
    training: TrainingSpec = TrainingSpec()
