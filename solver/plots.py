"""Pictures of a model and of a training run, as PNG bytes (matplotlib's Agg canvas, no display).

Kinds of model plot (``PLOT_KINDS``), in the notation of docs/models.md:

* ``solution``: u (the network's value output) on a slice of the inputs; a 1-D slice
  overlays the spec's ``exact`` (dashed) when there is one;
* ``error``: |R Phi - u*| against the spec's ``exact``;
* ``gradient_error``: |D Phi - grad u*|_2 over every input (t included), against ``exact``;
* ``bound`` (whole-space models with an estimate): along a ray x = r e, r from 1e-3 R to
  ``reach`` R, the true errors |u* - R Psi| and |grad u* - D Psi| beside the promised bounds
  eps0 (1 + |x|^(kappa+2)) and eps1 (1 + |x|^(kappa+2)) (docs/global-estimate.md);
* ``loss``: the training loss curve kept in the model (``metrics["loss_curve"]``).

A slice (``View``) names the input on the horizontal axis (``x``), optionally a second one
on the vertical axis (``y``; an image, else a line plot), the value of every other input
(``at``), and, for time-dependent problems where t is on no axis, a list of time slices
(one line or one image per slice).  Ranges are the problem's domain (for ``whole_space``
the asked-for box (-R, R)^d); points of a ball's bounding box outside the ball are blank.
Every figure is drawn on its own ``Figure`` (no pyplot state), so concurrent calls are safe;
``model_figure`` (and ``field_figure``, ``bound_figure``, ``loss_curve_figure``) return it,
``plot_model`` (and ``plot_field``, ``plot_bound``, ``plot_loss_curve``) its PNG.  Axes are
labelled with the inputs' names (``t``, ``x0``, ...) and ``u``; legends sit outside the data,
to the right of the axes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from numpy.typing import NDArray

from solver.estimate import pointwise_bounds
from solver.kinds import problem_of
from solver.model import Model
from solver.spec import SHAPED, BallDomain, BoxDomain, WholeSpaceDomain
from solver.training import LossRecord

PLOT_KINDS = ("solution", "error", "gradient_error", "bound", "loss")
MAX_RESOLUTION = 400
LINE_RESOLUTION = 400
IMAGE_RESOLUTION = 120
MAX_TIME_SLICES = 6
DEFAULT_TIME_SLICES = 3
RAY_POINTS = 400
RAY_INNER = 1e-3  # the ray starts at RAY_INNER R
DEFAULT_REACH = 100.0  # ... and ends at DEFAULT_REACH R
MAX_REACH = 1e4
LINE_PLOT = "none"  # y=none: a line plot even when a second space input exists
ERROR_FLOOR = 1e-16  # errors below this are drawn at it (log scales)


class PlotError(ValueError):
    """A plot that cannot be drawn as asked; the message says what to change."""


class PlotStopped(Exception):  # noqa: N818 (not an error: the caller asked to stop)
    """``should_stop`` answered True between two panels: the plot was abandoned."""


StopCheck = Callable[[], bool] | None
"""Asked between panels (and before the PNG is rendered); True abandons the plot."""


def _check_stop(should_stop: StopCheck) -> None:
    if should_stop is not None and should_stop():
        raise PlotStopped("the plot was stopped")


@dataclass(frozen=True)
class View:
    """Which inputs vary (x, and y for an image), and where the others are held."""

    x: str
    y: str | None
    at: dict[str, float]
    times: tuple[float, ...]  # t slices (empty when t is on an axis or the problem has no time)
    x_range: tuple[float, float]
    y_range: tuple[float, float] | None
    resolution: int
    unknown: int = 0  # the plotted output: a system's unknown, in its order (scalar kinds: 0)


def input_ranges(model: Model) -> dict[str, tuple[float, float]]:
    """The domain's extent along every input: box, the bounding box of a ball, polygon or set
    operation, (-R, R) for the whole space, [start, end] for t."""
    problem = model.spec.problem
    domain = problem.domain
    d = problem.dimension
    if isinstance(domain, BoxDomain):
        spans = list(zip(domain.box.lower, domain.box.upper, strict=True))
    elif isinstance(domain, BallDomain):
        r = domain.ball.radius
        spans = [(c - r, c + r) for c in domain.ball.center]
    elif isinstance(domain, WholeSpaceDomain):
        r = domain.whole_space.train_radius
        spans = [(-r, r)] * d
    else:  # a polygon or a set operation: its bounding box
        region = model.region()
        spans = list(zip(region.lower.tolist(), region.upper.tolist(), strict=True))
    ranges = {f"x{i}": (float(lo), float(hi)) for i, (lo, hi) in enumerate(spans)}
    if problem.time is not None:
        return {"t": (float(problem.time.start), float(problem.time.end)), **ranges}
    return ranges


def parse_numbers(text: str, what: str) -> list[float]:
    """'0, 0.5, 1' -> [0.0, 0.5, 1.0]; a PlotError names ``what`` and the bad item."""
    values = []
    for item in text.split(","):
        try:
            value = float(item.strip())
        except ValueError:
            raise PlotError(
                f"{what}: {item.strip()!r} is not a number (give numbers separated by commas)"
            ) from None
        if not math.isfinite(value):
            raise PlotError(f"{what}: {item.strip()!r} is not a finite number")
        values.append(value)
    return values


def parse_assignments(text: str) -> dict[str, float]:
    """'x2:0.5,t:1' -> {'x2': 0.5, 't': 1.0} (the ``at`` parameter)."""
    found: dict[str, float] = {}
    for item in text.split(","):
        name, sep, value = item.partition(":")
        if not sep:
            raise PlotError(f"at: {item.strip()!r} should be NAME:VALUE, e.g. x2:0.5")
        found[name.strip()] = parse_numbers(value, f"at {name.strip()}")[0]
    return found


def make_view(
    model: Model,
    *,
    x: str | None = None,
    y: str | None = None,
    at: dict[str, float] | None = None,
    times: Sequence[float] | None = None,
    resolution: int | None = None,
    unknown: str | None = None,
) -> View:
    """Check a slice request against the model's inputs and fill in the defaults: the first two
    space inputs vary, the others sit at the middle of their range, and t (when on no axis)
    is shown at the start, middle and end of the interval; a system shows ``unknown`` (default:
    its first unknown)."""
    index = unknown_index(model, unknown)
    ranges = input_ranges(model)
    names = list(ranges)
    space = [n for n in names if n != "t"]
    at = dict(at or {})

    def known(name: str, what: str) -> str:
        if name not in ranges:
            raise PlotError(f"{what}: unknown input {name!r}; the model's inputs are {', '.join(names)}")
        return name

    x = known(x, "x") if x is not None else space[0]
    if y == LINE_PLOT:
        y = None
    elif y is not None:
        y = known(y, "y")
    elif len(space) >= 2 and x == space[0]:
        y = space[1]
    if y == x:
        raise PlotError(f"x and y are both {x!r}: choose two different inputs")
    for name in at:
        known(name, "at")
        if name in (x, y):
            raise PlotError(f"at: {name!r} is on an axis of the plot; fix only the other inputs")
    has_t_axis = "t" in (x, y)
    slices: tuple[float, ...] = ()
    if "t" in ranges and not has_t_axis:
        if times is not None and "t" in at:
            raise PlotError("give the time either in `at` (one slice) or in `times` (several), not both")
        if "t" in at:
            slices = (at.pop("t"),)
        elif times is not None:
            if not 1 <= len(times) <= MAX_TIME_SLICES:
                raise PlotError(f"times: give 1 to {MAX_TIME_SLICES} time slices, got {len(times)}")
            slices = tuple(float(v) for v in times)
        else:
            start, end = ranges["t"]
            slices = tuple(np.linspace(start, end, DEFAULT_TIME_SLICES).tolist())
    elif times is not None:
        raise PlotError("times: this plot has no time slices (the problem has no time, or t is on an axis)")
    for name in names:
        if name not in (x, y, "t") and name not in at:
            lo, hi = ranges[name]
            at[name] = (lo + hi) / 2
    n = resolution if resolution is not None else (IMAGE_RESOLUTION if y is not None else LINE_RESOLUTION)
    if not 2 <= n <= MAX_RESOLUTION:
        raise PlotError(f"resolution: give 2 to {MAX_RESOLUTION} points per axis, got {n}")
    return View(x, y, at, slices, ranges[x], ranges[y] if y is not None else None, n, index)


def unknown_index(model: Model, unknown: str | None) -> int:
    """The output of ``unknown`` (None: the first); a scalar model's one unknown is u."""
    names = model.unknowns or ["u"]
    if unknown is None:
        return 0
    if unknown not in names:
        raise PlotError(
            f"unknown: {unknown!r} is not an unknown of this model; choose one of {', '.join(names)}"
        )
    return names.index(unknown)


def unknown_name(model: Model, view: View) -> str:
    """The plotted unknown's name (u for the scalar kinds)."""
    return (model.unknowns or ["u"])[view.unknown]


# ---------------------------------------------------------------------- field values
def _grid_points(model: Model, view: View, t: float | None) -> tuple[NDArray[np.float64], tuple[int, ...]]:
    """The points of one panel, shape (n_points, inputs), and the panel's grid shape."""
    names = model.input_names
    xs = np.linspace(*view.x_range, view.resolution)
    if view.y is None or view.y_range is None:
        columns = {view.x: xs}
        shape: tuple[int, ...] = (view.resolution,)
    else:
        ys = np.linspace(*view.y_range, view.resolution)
        gx, gy = np.meshgrid(xs, ys)  # rows: y, columns: x (imshow's layout)
        columns = {view.x: gx.ravel(), view.y: gy.ravel()}
        shape = (view.resolution, view.resolution)
    count = int(np.prod(shape))
    points = np.empty((count, len(names)))
    for j, name in enumerate(names):
        if name in columns:
            points[:, j] = columns[name]
        elif name == "t":
            assert t is not None
            points[:, j] = t
        else:
            points[:, j] = view.at[name]
    return points, shape


def _outside(model: Model, points: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Points outside a ball, a polygon or a set operation (blank in the picture)."""
    domain = model.spec.problem.domain
    offset = 1 if model.spec.problem.time is not None else 0
    if isinstance(domain, SHAPED):
        inside = model.region().contains(torch.from_numpy(np.ascontiguousarray(points[:, offset:])))
        return np.asarray(~inside.numpy())
    if not isinstance(domain, BallDomain):
        return np.zeros(points.shape[0], dtype=bool)
    space = points[:, offset:]
    distance = np.linalg.norm(space - np.asarray(domain.ball.center), axis=1)
    return np.asarray(distance > domain.ball.radius * (1 + 1e-12))


def _exact(
    model: Model, points: NDArray[np.float64], unknown: int = 0
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """u* and grad u* of output ``unknown`` at the points, from the spec's ``exact``."""
    problem = problem_of(model.spec.problem)
    found = problem.exact_outputs(torch.from_numpy(points))
    if found is None:
        raise PlotError("this plot compares with `exact`, and the job spec has none; plot kind=solution")
    value, gradient = found
    return value[:, unknown].numpy(), gradient[:, unknown].numpy()


def field(model: Model, kind: str, points: NDArray[np.float64], unknown: int = 0) -> NDArray[np.float64]:
    """The plotted quantity at ``points``: u, |u - u*| or |grad u - grad u*|_2 (a system: of
    its output ``unknown``)."""
    evaluation = model.evaluate(points)
    value, gradient = evaluation.value, evaluation.gradient
    if model.unknowns is not None:
        value, gradient = value[:, unknown], gradient[:, unknown]
    if kind == "solution":
        return value
    exact_value, exact_gradient = _exact(model, points, unknown)
    if kind == "error":
        return np.abs(value - exact_value)
    if kind == "gradient_error":
        return np.asarray(np.linalg.norm(gradient - exact_gradient, axis=1))
    raise PlotError(f"kind: {kind!r} is not a field; choose solution, error or gradient_error")


# ---------------------------------------------------------------------- drawing
def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


LABELS = {
    "solution": "u",
    "error": "|u - u*|",
    "gradient_error": "|grad u - grad u*|",
}


LEGEND: dict[str, Any] = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0}
"""Where every legend goes: outside the axes, to the right (constrained layout makes room)."""
EXACT_LABEL = "exact"


def _legend(axes: Axes, **options: Any) -> None:
    axes.legend(**LEGEND, **options)


def _title(model: Model, text: str) -> str:
    name = model.spec.name or model.spec.problem.kind
    return f"{name}: {text}"


def _slice_values(
    model: Model, kind: str, view: View, t: float | None
) -> tuple[NDArray[np.float64], NDArray[np.float64], tuple[int, ...]]:
    """One panel's points, the plotted quantity there (NaN outside a ball, errors floored at
    ERROR_FLOOR for the log scales) and the panel's grid shape."""
    points, shape = _grid_points(model, view, t)
    values = field(model, kind, points, view.unknown)
    values[_outside(model, points)] = np.nan
    if kind != "solution":
        values = np.maximum(values, ERROR_FLOOR)
    return points, values, shape


def _has_exact_overlay(model: Model, kind: str, view: View) -> bool:
    """A line plot of the solution overlays ``exact`` when the spec gives it."""
    return kind == "solution" and view.y is None and model.spec.problem.exact is not None


def _draw_lines(axes: Axes, model: Model, kind: str, view: View, should_stop: StopCheck = None) -> None:
    """One line per time slice (one without time); for the solution with ``exact`` given,
    the exact solution dashed in the slice's colour (one legend entry, "exact")."""
    slices: tuple[float | None, ...] = view.times or (None,)
    overlay = _has_exact_overlay(model, kind, view)
    column = model.input_names.index(view.x)
    for index, t in enumerate(slices):
        _check_stop(should_stop)
        points, values, _ = _slice_values(model, kind, view, t)
        name = unknown_name(model, view) if kind == "solution" else LABELS[kind]
        label = f"{name}, t = {t:.4g}" if t is not None else name
        (line,) = axes.plot(points[:, column], values, label=label)
        if overlay:
            exact_value, _ = _exact(model, points, view.unknown)
            exact_value[_outside(model, points)] = np.nan
            axes.plot(
                points[:, column],
                exact_value,
                ls="--",
                color=line.get_color(),
                label=EXACT_LABEL if index == 0 else "_nolegend_",
            )
    if kind != "solution":
        axes.set_yscale("log")
    axes.set_xlabel(view.x)
    axes.set_ylabel(LABELS[kind])
    axes.grid(True, alpha=0.3)
    if view.times or overlay:
        handles, labels = axes.get_legend_handles_labels()
        order = sorted(range(len(labels)), key=lambda i: labels[i] == EXACT_LABEL)  # exact last
        legend = axes.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=8, **LEGEND)
        if overlay and len(slices) > 1:
            for text, handle in zip(legend.get_texts(), legend.get_lines(), strict=True):
                if text.get_text() == EXACT_LABEL:  # dashed = exact, whatever the slice
                    handle.set_color("black")


def _draw_images(figure: Figure, model: Model, kind: str, view: View, should_stop: StopCheck = None) -> None:
    slices: tuple[float | None, ...] = view.times or (None,)
    panels = []
    for t in slices:
        _check_stop(should_stop)
        _, values, shape = _slice_values(model, kind, view, t)
        panels.append((t, values.reshape(shape)))
    finite = np.concatenate([v[np.isfinite(v)].ravel() for _, v in panels])
    norm: Any = None
    vmin = vmax = None
    if finite.size:
        if kind == "solution":
            vmin, vmax = float(finite.min()), float(finite.max())
        else:
            top = max(float(finite.max()), ERROR_FLOOR * 10)
            norm = LogNorm(vmin=max(float(finite.min()), top * 1e-6, ERROR_FLOOR), vmax=top)
    columns = min(len(panels), 3)
    rows = -(-len(panels) // columns)
    grid = figure.subplots(rows, columns, squeeze=False)
    assert view.y_range is not None
    extent = (*view.x_range, *view.y_range)
    image = None
    for index, axes in enumerate(grid.ravel()):
        if index >= len(panels):
            axes.set_visible(False)
            continue
        t, values = panels[index]
        image = axes.imshow(
            values,
            origin="lower",
            extent=extent,
            aspect="auto",
            cmap="viridis" if kind == "solution" else "magma",
            norm=norm,
            vmin=None if norm is not None else vmin,
            vmax=None if norm is not None else vmax,
        )
        axes.set_xlabel(view.x)
        axes.set_ylabel(str(view.y))
        if t is not None:
            axes.set_title(f"t = {t:.4g}")
    if image is not None:
        figure.colorbar(image, ax=grid.ravel().tolist(), label=LABELS[kind])


def _fixed_note(view: View) -> str:
    if not view.at:
        return ""
    held = ", ".join(f"{k} = {v:.3g}" for k, v in sorted(view.at.items()))
    return f" ({held})" if len(held) < 80 else f" ({len(view.at)} inputs held at the middle or as given)"


def field_figure(model: Model, kind: str, view: View, should_stop: StopCheck = None) -> Figure:
    """solution, error or gradient_error on the slice ``view``, as a Figure."""
    if kind not in LABELS:
        raise PlotError(f"kind: {kind!r} is not a field; choose solution, error or gradient_error")
    if kind != "solution" and model.spec.problem.exact is None:
        raise PlotError(f"kind={kind} compares with `exact`, and the job spec has none; plot kind=solution")
    image = view.y is not None
    columns = min(max(len(view.times), 1), 3) if image else 1
    rows = -(-max(len(view.times), 1) // columns) if image else 1
    legend = not image and (bool(view.times) or _has_exact_overlay(model, kind, view))
    width = 3.6 * columns + 1.2 + (1.6 if legend else 0.0)
    figure = Figure(figsize=(width, 3.2 * rows + 0.6), layout="constrained")
    if image:
        _draw_images(figure, model, kind, view, should_stop)
    else:
        _draw_lines(figure.add_subplot(), model, kind, view, should_stop)
    shown = f" of {unknown_name(model, view)}" if model.unknowns is not None else ""
    figure.suptitle(_title(model, LABELS[kind] + shown + _fixed_note(view)), fontsize=10)
    return figure


def plot_field(model: Model, kind: str, view: View) -> bytes:
    """solution, error or gradient_error on the slice ``view``, as PNG."""
    return _png(field_figure(model, kind, view))


def plot_bound(
    model: Model,
    *,
    direction: Sequence[float] | None = None,
    reach: float = DEFAULT_REACH,
    t: float | None = None,
    resolution: int = RAY_POINTS,
) -> bytes:
    """Whole space: the promised bounds against the true errors along the ray x = r e (PNG)."""
    return _png(bound_figure(model, direction=direction, reach=reach, t=t, resolution=resolution))


def bound_figure(
    model: Model,
    *,
    direction: Sequence[float] | None = None,
    reach: float = DEFAULT_REACH,
    t: float | None = None,
    resolution: int = RAY_POINTS,
) -> Figure:
    """Whole space: the promised bounds against the true errors along the ray x = r e."""
    if model.global_estimate is None:
        why = model.metrics.get("estimate_unavailable")
        raise PlotError(
            "kind=bound needs a whole-space model with a global estimate"
            + (f" (this model has none: {why})" if why else "")
        )
    estimate = model.global_estimate
    d = estimate.dimension
    e = np.ones(d) if direction is None else np.asarray(direction, dtype=np.float64)
    if e.shape != (d,):
        raise PlotError(f"direction: give {d} numbers (one per space input), got {e.size}")
    if not np.linalg.norm(e) > 0:
        raise PlotError("direction: the direction must not be zero")
    e = e / np.linalg.norm(e)
    if not (1 < reach <= MAX_REACH):
        raise PlotError(f"reach: the ray ends at reach * R; give reach in (1, {MAX_REACH:g}], got {reach:g}")
    if not 2 <= resolution <= 4 * MAX_RESOLUTION:
        raise PlotError(f"resolution: give 2 to {4 * MAX_RESOLUTION} points, got {resolution}")
    time = estimate.time
    if time is not None:
        t = time[1] if t is None else t
    elif t is not None:
        raise PlotError("t: this problem has no time")
    radius = estimate.train_radius
    r = np.geomspace(RAY_INNER * radius, reach * radius, resolution)
    space = r[:, None] * e[None, :]
    points = space if time is None else np.concatenate([np.full((resolution, 1), t), space], 1)
    value_bound, gradient_bound = pointwise_bounds(estimate, points)
    evaluation = model.evaluate(points)
    figure = Figure(figsize=(8.5, 6.5), layout="constrained")
    value_axes, gradient_axes = figure.subplots(2, 1)
    has_exact = model.spec.problem.exact is not None
    if has_exact:
        exact_value, exact_gradient = _exact(model, points)
        value_error = np.maximum(np.abs(evaluation.value - exact_value), ERROR_FLOOR)
        gradient_error = np.maximum(np.linalg.norm(evaluation.gradient - exact_gradient, axis=1), ERROR_FLOOR)
        value_axes.loglog(r, value_error, label="|u - u*| (true error)")
        gradient_axes.loglog(r, gradient_error, label="|grad u - grad u*| (true error)")
    value_axes.loglog(r, value_bound, "--", label="bound eps0 (1 + |x|^(kappa+2))")
    gradient_axes.loglog(r, gradient_bound, "--", label="bound eps1 (1 + |x|^(kappa+2))")
    for axes, what in ((value_axes, "value"), (gradient_axes, "gradient")):
        axes.axvline(estimate.plateau, color="grey", lw=0.8, ls=":", label="plateau R")
        axes.axvline(estimate.train_box_radius, color="black", lw=0.8, ls=":", label="end of ramp R'")
        axes.set_xlabel("|x| along the ray")
        axes.set_ylabel(f"{what} error")
        axes.grid(True, which="both", alpha=0.25)
        _legend(axes, fontsize=8)
    where = f", t = {t:.4g}" if t is not None else ""
    eps = max(estimate.eps_value, estimate.eps_gradient)
    figure.suptitle(
        _title(model, f"bound against the true error along a ray (eps = {eps:.3g}{where})"),
        fontsize=10,
    )
    return figure


def plot_loss_curve(records: Sequence[LossRecord], title: str, *, scale: str = "log") -> bytes:
    """Sup |r_k| (solid) and mean |r_k| (dashed) of every residual term against the step (PNG)."""
    return _png(loss_curve_figure(records, title, scale=scale))


def loss_curve_figure(records: Sequence[LossRecord], title: str, *, scale: str = "log") -> Figure:
    """Sup |r_k| (solid) and mean |r_k| (dashed) of every residual term against the step."""
    if scale not in ("log", "linear"):
        raise PlotError(f"scale: choose log or linear, got {scale!r}")
    figure = Figure(figsize=(8.5, 4), layout="constrained")
    axes = figure.add_subplot()
    if not records:
        axes.text(0.5, 0.5, "no loss recorded yet", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
    else:
        steps = np.array([r.step for r in records])
        terms = sorted({k for r in records for k in r.sup})
        for index, term in enumerate(terms):
            color = f"C{index % 10}"
            sup = np.array([r.sup.get(term, np.nan) for r in records])
            mean = np.array([r.mean.get(term, np.nan) for r in records])
            if scale == "log":
                sup, mean = np.maximum(sup, ERROR_FLOOR), np.maximum(mean, ERROR_FLOOR)
            axes.plot(steps, sup, color=color, label=f"{term}: sup |r|")
            axes.plot(steps, mean, color=color, ls="--", label=f"{term}: mean |r|")
        axes.set_yscale(scale)
        axes.set_xlabel("step")
        axes.set_ylabel("residual")
        axes.grid(True, which="both", alpha=0.25)
        _legend(axes, fontsize=8)
    figure.suptitle(title, fontsize=10)
    return figure


def model_loss_curve(model: Model) -> list[LossRecord]:
    return [LossRecord.from_json(r) for r in model.metrics.get("loss_curve", [])]


def plot_model(
    model: Model,
    kind: str = "solution",
    *,
    x: str | None = None,
    y: str | None = None,
    at: dict[str, float] | None = None,
    times: Sequence[float] | None = None,
    resolution: int | None = None,
    direction: Sequence[float] | None = None,
    reach: float = DEFAULT_REACH,
    should_stop: StopCheck = None,
    unknown: str | None = None,
) -> bytes:
    """One plot of ``model`` as PNG bytes; see the module docstring for the kinds.
    ``should_stop`` is asked between panels and before rendering: True raises ``PlotStopped``."""
    figure = model_figure(
        model,
        kind,
        x=x,
        y=y,
        at=at,
        times=times,
        resolution=resolution,
        direction=direction,
        reach=reach,
        should_stop=should_stop,
        unknown=unknown,
    )
    _check_stop(should_stop)
    return _png(figure)


def model_figure(
    model: Model,
    kind: str = "solution",
    *,
    x: str | None = None,
    y: str | None = None,
    at: dict[str, float] | None = None,
    times: Sequence[float] | None = None,
    resolution: int | None = None,
    direction: Sequence[float] | None = None,
    reach: float = DEFAULT_REACH,
    should_stop: StopCheck = None,
    unknown: str | None = None,
) -> Figure:
    """One plot of ``model`` as a matplotlib Figure (``plot_model`` renders it to PNG); a
    system's field plots show ``unknown`` (default: its first unknown)."""
    if kind not in PLOT_KINDS:
        raise PlotError(f"kind: {kind!r} is not a plot kind; choose one of {', '.join(PLOT_KINDS)}")
    unknown_index(model, unknown)
    if kind == "loss":
        curve = model_loss_curve(model)
        if not curve:
            raise PlotError("kind=loss: this model has no loss curve (trained before curves were kept)")
        return loss_curve_figure(curve, _title(model, "training loss"))
    if kind == "bound":
        t = None
        if at:
            if set(at) - {"t"}:
                raise PlotError("kind=bound: `at` may only fix t; the space inputs follow the ray")
            t = at["t"]
        if times is not None and len(times) != 1:
            raise PlotError("kind=bound: give at most one time (t)")
        if times is not None:
            t = times[0]
        return bound_figure(model, direction=direction, reach=reach, t=t, resolution=resolution or RAY_POINTS)
    if direction is not None:
        raise PlotError("direction: only kind=bound follows a ray")
    view = make_view(model, x=x, y=y, at=at, times=times, resolution=resolution, unknown=unknown)
    return field_figure(model, kind, view, should_stop)


@dataclass(frozen=True)
class PlotWork:
    """The work of one plot: points per panel x network layers (affine maps) x panels."""

    points: int
    layers: int
    panels: int
    image: bool  # points = resolution^2 (else resolution)

    @property
    def total(self) -> int:
        return self.points * self.layers * self.panels

    def largest_resolution(self, cap: int) -> int:
        """The largest resolution whose plot stays within ``cap`` (below 2: none does)."""
        per_point = max(self.layers * self.panels, 1)
        return math.isqrt(cap // per_point) if self.image else cap // per_point

    def describe(self) -> str:
        side = math.isqrt(self.points) if self.image else self.points
        grid = f"{side}x{side}" if self.image else f"{side}"
        return f"{self.panels} panel(s) of {grid} points on a network of {self.layers} layers"


def plot_work(
    model: Model,
    kind: str = "solution",
    *,
    x: str | None = None,
    y: str | None = None,
    at: dict[str, float] | None = None,
    times: Sequence[float] | None = None,
    resolution: int | None = None,
    unknown: str | None = None,
) -> PlotWork:
    """The work ``plot_model`` would do for these arguments (a PlotError for a slice that
    cannot be drawn): the loss curve costs nothing, a bound plot one ray of points."""
    layers = model.network.depth
    if kind == "loss":
        return PlotWork(0, layers, 1, image=False)
    if kind == "bound":
        return PlotWork(resolution or RAY_POINTS, layers, 1, image=False)
    view = make_view(model, x=x, y=y, at=at, times=times, resolution=resolution, unknown=unknown)
    image = view.y is not None
    points = view.resolution**2 if image else view.resolution
    return PlotWork(points, layers, max(len(view.times), 1), image=image)


__all__ = [
    "PLOT_KINDS",
    "PlotError",
    "PlotStopped",
    "PlotWork",
    "View",
    "bound_figure",
    "field_figure",
    "loss_curve_figure",
    "make_view",
    "model_figure",
    "model_loss_curve",
    "parse_assignments",
    "parse_numbers",
    "plot_bound",
    "plot_field",
    "plot_loss_curve",
    "plot_model",
    "plot_work",
]
