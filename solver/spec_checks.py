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
* **Finiteness.** Every expression of the spec but a first-order ``equation`` (which
  involves u) must be a finite number at the same ``SAMPLES`` points: coefficients,
  ``source``, ``exact`` and initial data on the domain (initial data at t = start),
  boundary data on their part of the boundary (the points moved onto it).  ``log(x)`` on
  [-1, 1] is refused at x = -1 instead of spoiling training with NaN.

Each failure raises ``ValueError("path: what to change")`` (the spec error formatter puts
the path into the field).
"""

from __future__ import annotations

import torch
from torch import Tensor

from solver.expressions import Expression, space_env

SAMPLES = 512
DTYPE = torch.float64
SHOWN_CHARS = 60  # an expression quoted in a message is cut to this length


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


def boundary_points(
    x: Tensor,
    on: str,
    box: tuple[list[float], list[float]] | None,
    ball: tuple[list[float], float] | None,
) -> Tensor:
    """The sample points moved onto the boundary part ``on``: a box face 'x<i>=lower|upper'
    (coordinate i set to the bound), a box's whole boundary (point k onto face k mod 2d), or
    the sphere (each point pushed radially; the centre onto the pole x0 = c0 + r)."""
    out = x.clone()
    if ball is not None:
        center, radius = torch.tensor(ball[0], dtype=DTYPE), ball[1]
        offset = out - center
        length = offset.norm(dim=1, keepdim=True)
        offset[length[:, 0] == 0, 0] = 1.0
        length = offset.norm(dim=1, keepdim=True)
        moved: Tensor = center + radius * offset / length
        return moved
    assert box is not None, "a boundary part needs a box or a ball"
    lower, upper = box
    d = x.shape[1]
    lo, hi = torch.tensor(lower, dtype=DTYPE), torch.tensor(upper, dtype=DTYPE)
    if on == "boundary":
        face = torch.arange(out.shape[0]) % (2 * d)
        axis = face // 2
        out[torch.arange(out.shape[0]), axis] = torch.where(face % 2 == 0, lo[axis], hi[axis])
        return out
    coordinate, side = on.removeprefix("x").split("=")
    i = int(coordinate)
    out[:, i] = lo[i] if side == "lower" else hi[i]
    return out


def _where(t: Tensor | None, x: Tensor, index: int) -> str:
    point = ", ".join(f"{v:.4g}" for v in x[index].tolist())
    return f"x = ({point})" + ("" if t is None else f", t = {float(t[index]):.4g}")


def finite_values(
    where: str, expression: Expression, t: Tensor | None, x: Tensor, u: float | None = None
) -> Tensor:
    """The expression's values at the points (n,) (and the solution value ``u`` there, for a
    coefficient that depends on u); refuse it where one is NaN or infinite."""
    env = space_env(t, x)
    if u is not None:
        env["u"] = torch.full((x.shape[0],), u, dtype=x.dtype)
    values = expression.evaluate(env, x[:, 0]).expand(x.shape[0])
    bad = torch.nonzero(~torch.isfinite(values))
    if bad.numel():
        i = int(bad[0, 0])
        text = expression.text.strip()
        shown = text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."
        raise ValueError(
            f"{where}: {shown} is not finite at {_where(t, x, i)} (value {float(values[i]):.4g})"
        )
    return values


def check_diffusion(diffusion: Expression | list[list[Expression]], t: Tensor | None, x: Tensor) -> None:
    """Refuse a diffusion that is not finite, or not positive (definite), at one of the points;
    one that depends on the solution u at u = -1, 0 and 1 (a check on samples: K(u) must be
    positive for every u the solution takes, which is not known in advance)."""
    entries = [diffusion] if isinstance(diffusion, Expression) else [e for row in diffusion for e in row]
    uses_u = any("u" in e.names() for e in entries)
    for u in (-1.0, 0.0, 1.0) if uses_u else (None,):
        _check_diffusion_at(diffusion, t, x, u)


def _at_u(u: float | None) -> str:
    return "" if u is None else f", u = {u:g}"


def _check_diffusion_at(
    diffusion: Expression | list[list[Expression]], t: Tensor | None, x: Tensor, u: float | None
) -> None:
    """Refuse a diffusion that is not finite, or not positive (definite), at one of the points."""
    if isinstance(diffusion, Expression):
        values = finite_values("diffusion", diffusion, t, x, u)
        bad = torch.nonzero(~(values > 0))
        if bad.numel():
            i = int(bad[0, 0])
            raise ValueError(
                f"diffusion: it must be positive on the domain, but it is {float(values[i]):.4g} at "
                f"{_where(t, x, i)}{_at_u(u)}"
            )
        return
    matrix = torch.stack(
        [
            torch.stack([finite_values(f"diffusion[{i}][{j}]", e, t, x, u) for j, e in enumerate(row)], -1)
            for i, row in enumerate(diffusion)
        ],
        -2,
    )
    symmetric = 0.5 * (matrix + matrix.transpose(1, 2))
    if not torch.isfinite(symmetric).all():
        i = int(torch.nonzero(~torch.isfinite(symmetric).all(2).all(1))[0, 0])
        raise ValueError(f"diffusion: it is not a finite number at {_where(t, x, i)}{_at_u(u)}")
    smallest = torch.linalg.eigvalsh(symmetric)[:, 0]
    bad = torch.nonzero(~(smallest > 0))
    if bad.numel():
        i = int(bad[0, 0])
        raise ValueError(
            "diffusion: the matrix must be positive definite on the domain (its symmetric part "
            f"(A + A^T)/2 with eigenvalues > 0), but its smallest eigenvalue is {float(smallest[i]):.4g} "
            f"at {_where(t, x, i)}{_at_u(u)}"
        )
