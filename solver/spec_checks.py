"""Is the problem well posed?  The checks of a job spec beyond types and syntax.

* **Data.** A time-dependent equation needs an initial condition at t = start; an equation
  with space derivatives on a box or ball needs boundary data (a ``dirichlet`` or
  ``neumann`` condition).  Without them the problem has infinitely many solutions and
  training returns one of them, silently.
* **Ellipticity.** A divergence-form diffusion A(t, x) must be positive: a scalar a > 0, or a
  matrix whose symmetric part (A + A^T)/2 is positive definite, at every point.  It is
  checked at ``SAMPLES`` points of the domain and time interval (a fixed draw, so the same
  spec always gets the same answer), and the message names a point where it fails.  A
  check on samples can miss a small region where A degenerates; it catches the common
  mistakes: a sign, a coefficient that vanishes on part of the domain.

Each failure raises ``ValueError("path: what to change")`` (the spec error formatter puts
the path into the field).
"""

from __future__ import annotations

import torch
from torch import Tensor

from solver.expressions import Expression, Kind, parse, space_env

SAMPLES = 512
DTYPE = torch.float64


def needs_data(
    *,
    has_time: bool,
    uses_time_derivative: bool,
    uses_space_derivatives: bool,
    bounded: bool,
    has_initial: bool,
    has_boundary: bool,
) -> None:
    """Refuse a problem that lacks the initial or boundary data its equation needs."""
    if has_time and uses_time_derivative and not has_initial:
        raise ValueError(
            "conditions: the equation has a time derivative, so it needs initial data: add "
            '{"type": "initial", "value": "<u at t = start, in x>"}'
        )
    if bounded and uses_space_derivatives and not has_boundary:
        raise ValueError(
            "conditions: the equation has space derivatives on a bounded domain, so it needs "
            'boundary data: add {"type": "dirichlet", "on": "boundary", "value": "<u on the '
            'boundary>"} (or a neumann condition, or one per face: "x0=lower", ...)'
        )


def sample_points(
    lower: list[float],
    upper: list[float],
    ball: tuple[list[float], float] | None,
    time: tuple[float, float] | None,
) -> tuple[Tensor | None, Tensor]:
    """``SAMPLES`` points of the box [lower, upper] (or of the ball inside it) and of the
    time interval, corners and centre included, from a fixed generator."""
    gen = torch.Generator().manual_seed(0)
    lo, hi = torch.tensor(lower, dtype=DTYPE), torch.tensor(upper, dtype=DTYPE)
    d = lo.numel()
    x = lo + (hi - lo) * torch.rand(4 * SAMPLES, d, dtype=DTYPE, generator=gen)
    if ball is not None:
        center, radius = torch.tensor(ball[0], dtype=DTYPE), ball[1]
        x = x[(x - center).norm(dim=1) <= radius]
        x = torch.cat([center.unsqueeze(0), x])[:SAMPLES]
    else:
        corners = torch.stack([lo, hi, (lo + hi) / 2])
        x = torch.cat([corners, x])[:SAMPLES]
    if time is None:
        return None, x
    t = time[0] + (time[1] - time[0]) * torch.rand(x.shape[0], dtype=DTYPE, generator=gen)
    t[:3] = torch.tensor([time[0], time[1], time[0]], dtype=DTYPE)[: min(3, x.shape[0])]
    return t, x


def _where(t: Tensor | None, x: Tensor, index: int) -> str:
    point = ", ".join(f"{v:.4g}" for v in x[index].tolist())
    return f"x = ({point})" + ("" if t is None else f", t = {float(t[index]):.4g}")


def check_diffusion(
    diffusion: str | list[list[str]], names: dict[str, Kind], t: Tensor | None, x: Tensor
) -> None:
    """Refuse a diffusion that is not positive (definite) at one of the points."""
    env = space_env(t, x)
    like = x[:, 0]
    if isinstance(diffusion, str):
        values = parse(diffusion, names).evaluate(env, like).expand(x.shape[0])
        bad = torch.nonzero(~(values > 0))
        if bad.numel():
            i = int(bad[0, 0])
            raise ValueError(
                f"diffusion: it must be positive on the domain, but it is {float(values[i]):.4g} at "
                f"{_where(t, x, i)}"
            )
        return
    entries: list[list[Expression]] = [[parse(item, names) for item in row] for row in diffusion]
    matrix = torch.stack(
        [torch.stack([e.evaluate(env, like).expand(x.shape[0]) for e in row], -1) for row in entries], -2
    )
    symmetric = 0.5 * (matrix + matrix.transpose(1, 2))
    if not torch.isfinite(symmetric).all():
        i = int(torch.nonzero(~torch.isfinite(symmetric).all(2).all(1))[0, 0])
        raise ValueError(f"diffusion: it is not a finite number at {_where(t, x, i)}")
    smallest = torch.linalg.eigvalsh(symmetric)[:, 0]
    bad = torch.nonzero(~(smallest > 0))
    if bad.numel():
        i = int(bad[0, 0])
        raise ValueError(
            "diffusion: the matrix must be positive definite on the domain (its symmetric part "
            f"(A + A^T)/2 with eigenvalues > 0), but its smallest eigenvalue is {float(smallest[i]):.4g} "
            f"at {_where(t, x, i)}"
        )
