"""solver.plots: slices, the plotted quantities, and the PNGs."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.lines import Line2D

from models import ReLUNetwork
from solver import JobSpec, Model
from solver.plots import (
    PlotError,
    _outside,
    field,
    loss_curve_figure,
    make_view,
    model_figure,
    parse_assignments,
    parse_numbers,
    plot_loss_curve,
    plot_model,
)
from solver.training import LossRecord


def _model(problem: dict[str, Any], n_inputs: int, seed: int = 0) -> Model:
    """An untrained network (random weights) on ``problem``: plots need no training."""
    spec = JobSpec.model_validate({"problem": problem, "network": {"hidden": [8]}})
    gen = torch.Generator().manual_seed(seed)
    net = ReLUNetwork.random([n_inputs, 8, 1], dtype=torch.float64, generator=gen)
    return Model(net, spec, {"loss_curve": []}, None)


HEAT_3D = {
    "kind": "divergence_form",
    "dimension": 3,
    "time": {"start": 0.0, "end": 2.0},
    "domain": {"box": {"lower": [0.0, -1.0, 5.0], "upper": [1.0, 1.0, 7.0]}},
    "diffusion": "1",
    "source": "0",
    "conditions": [
        {"type": "initial", "value": "x0 * x1 + x2"},
        {"type": "dirichlet", "on": "boundary", "value": "0"},
    ],
    "exact": "exp(-t) * x0 * x1 + x2",
}
BALL = {
    "kind": "divergence_form",
    "dimension": 2,
    "domain": {"ball": {"center": [1.0, 0.0], "radius": 0.5}},
    "diffusion": "1",
    "source": "1",
    "conditions": [{"type": "dirichlet", "on": "boundary", "value": "0"}],
}


def png_pixels(content: bytes) -> np.ndarray:  # type: ignore[type-arg]
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(imread(io.BytesIO(content), format="png"))


def test_default_view_of_a_timed_3d_box() -> None:
    model = _model(HEAT_3D, 4)
    view = make_view(model)
    assert (view.x, view.y) == ("x0", "x1")
    assert view.x_range == (0.0, 1.0) and view.y_range == (-1.0, 1.0)
    assert view.at == {"x2": 6.0}  # the middle of its range
    assert view.times == (0.0, 1.0, 2.0)  # start, middle, end
    line = make_view(model, y="none", at={"x1": 0.25, "t": 1.5})
    assert line.y is None and line.times == (1.5,) and line.at == {"x1": 0.25, "x2": 6.0}
    on_t = make_view(model, x="t", y="x2")
    assert on_t.times == () and on_t.at == {"x0": 0.5, "x1": 0.0}


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"x": "x9"}, "unknown input 'x9'; the model's inputs are t, x0, x1, x2"),
        ({"x": "x1", "y": "x1"}, "two different"),
        ({"at": {"x0": 1.0}}, "on an axis"),
        ({"at": {"t": 1.0}, "times": [0.0]}, "not both"),
        ({"times": []}, "1 to 6"),
        ({"x": "t", "times": [0.0]}, "no time slices"),
        ({"resolution": 1}, "2 to 400"),
    ],
)
def test_bad_views_say_what_to_change(kwargs: dict[str, Any], needle: str) -> None:
    with pytest.raises(PlotError, match=needle.replace("(", r"\(")):
        make_view(_model(HEAT_3D, 4), **kwargs)


def test_fields_are_the_model_and_the_exact_solution() -> None:
    model = _model(HEAT_3D, 4)
    points = np.random.default_rng(0).uniform(-1, 1, (50, 4))
    evaluation = model.evaluate(points)
    t, x0, x1 = points[:, 0], points[:, 1], points[:, 2]
    exact = np.exp(-t) * x0 * x1 + points[:, 3]
    exact_gradient = np.stack([-np.exp(-t) * x0 * x1, np.exp(-t) * x1, np.exp(-t) * x0, np.ones_like(t)], 1)
    np.testing.assert_array_equal(field(model, "solution", points), evaluation.value)
    np.testing.assert_allclose(field(model, "error", points), np.abs(evaluation.value - exact), rtol=1e-12)
    np.testing.assert_allclose(
        field(model, "gradient_error", points),
        np.linalg.norm(evaluation.gradient - exact_gradient, axis=1),
        rtol=1e-12,
    )


def test_every_kind_draws_and_depends_on_the_model() -> None:
    a, b = _model(HEAT_3D, 4, seed=0), _model(HEAT_3D, 4, seed=1)
    for kind in ("solution", "error", "gradient_error"):
        pa, pb = png_pixels(plot_model(a, kind)), png_pixels(plot_model(b, kind))
        assert pa.shape == pb.shape and not np.array_equal(pa, pb)
    with pytest.raises(PlotError, match="no loss curve"):
        plot_model(a, "loss")
    with pytest.raises(PlotError, match="whole-space"):
        plot_model(a, "bound")
    with pytest.raises(PlotError, match="not a plot kind"):
        plot_model(a, "contour")


def test_ball_points_outside_the_ball_are_blank_and_errors_need_exact() -> None:
    model = _model(BALL, 2)
    view = make_view(model, resolution=41)
    assert view.x_range == (0.5, 1.5) and view.y_range == (-0.5, 0.5)
    outside = _outside(model, np.array([[0.5, -0.5], [1.0, 0.0], [1.49, 0.0], [1.0, 0.51]]))
    assert outside.tolist() == [True, False, False, True]
    pixels = png_pixels(plot_model(model, "solution", resolution=41))
    assert pixels.std() > 0
    with pytest.raises(PlotError, match="has none"):
        plot_model(model, "error")


L_SHAPE = {
    **BALL,
    "domain": {
        "difference": [
            {"box": {"lower": [-1.0, -1.0], "upper": [1.0, 1.0]}},
            {"box": {"lower": [0.0, -1.0], "upper": [1.0, 0.0]}},
        ]
    },
}


def test_set_operation_points_outside_are_blank_and_not_inside() -> None:
    model = _model(L_SHAPE, 2)
    view = make_view(model, resolution=41)
    assert view.x_range == (-1.0, 1.0) and view.y_range == (-1.0, 1.0)
    points = np.array([[0.5, -0.5], [-0.5, -0.5], [0.5, 0.5], [0.0, -0.5], [1.2, 0.0]])
    assert _outside(model, points).tolist() == [True, False, False, False, True]
    assert model.evaluate(points).inside.tolist() == [False, True, True, True, False]
    pixels = png_pixels(plot_model(model, "solution", resolution=41))
    assert pixels.std() > 0


def test_loss_curve_pictures() -> None:
    empty = png_pixels(plot_loss_curve([], "queued job"))
    records = [
        LossRecord(s, 0.0, {"pde": 1 / (1 + s), "bc": 0.1}, {"pde": 0.5 / (1 + s), "bc": 0.0})
        for s in range(50)
    ]
    drawn = png_pixels(plot_loss_curve(records, "a job"))
    assert empty.shape == drawn.shape and not np.array_equal(empty, drawn)
    with pytest.raises(PlotError, match="log or linear"):
        plot_loss_curve(records, "x", scale="cubic")


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@given(st.lists(finite, min_size=1, max_size=8))
def test_parse_numbers_reads_back_what_repr_wrote(values: list[float]) -> None:
    assert parse_numbers(",".join(repr(v) for v in values), "times") == values


@given(st.dictionaries(st.sampled_from(["t", "x0", "x1", "x12"]), finite, min_size=1))
def test_parse_assignments_reads_back_name_value_pairs(values: dict[str, float]) -> None:
    text = ",".join(f"{k}:{v!r}" for k, v in values.items())
    assert parse_assignments(text) == values


@pytest.mark.parametrize("text", ["x0", "x0:", "x0:abc", "x0:inf"])
def test_bad_assignments(text: str) -> None:
    with pytest.raises(PlotError):
        parse_assignments(text)


# ---------------------------------------------------------------------- figures (labels, exact, legends)
TRANSPORT_1D = json.loads(
    (Path(__file__).resolve().parents[2] / "examples" / "transport-1d.json").read_text()
)["problem"]  # sin(x0 - t) is exact
POISSON_1D = {
    "kind": "divergence_form",
    "dimension": 1,
    "domain": {"box": {"lower": [0.0], "upper": [1.0]}},
    "diffusion": "1",
    "source": "1",
    "conditions": [{"type": "dirichlet", "on": "boundary", "value": "0"}],
    "exact": "x0 * (1 - x0) / 2",
}


def _legend_is_outside(figure: Figure, axes: Axes) -> None:
    """The legend lies right of the axes' data area, and inside the figure (nothing cut off)."""
    figure.draw_without_rendering()
    legend = axes.get_legend()
    assert legend is not None
    box, data, page = legend.get_window_extent(), axes.get_window_extent(), figure.bbox
    assert box.x0 >= data.x1
    assert page.x0 <= box.x0 and box.x1 <= page.x1 + 0.5 and page.y0 <= box.y0 and box.y1 <= page.y1 + 0.5


def _lines(axes: Axes) -> dict[str, Line2D]:
    return {str(line.get_label()): line for line in axes.get_lines()}


def test_a_1d_solution_overlays_exact_dashed_with_the_users_names() -> None:
    model = _model(POISSON_1D, 1)
    figure = model_figure(model, resolution=51)
    (axes,) = figure.axes
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("x0", "u")
    assert "R Phi" not in figure.get_suptitle()
    lines = _lines(axes)
    assert set(lines) == {"u", "exact"}
    x = np.asarray(lines["exact"].get_xdata(), dtype=np.float64)
    np.testing.assert_allclose(lines["exact"].get_ydata(), x * (1 - x) / 2, atol=1e-12)
    np.testing.assert_array_equal(lines["u"].get_ydata(), model.evaluate(x[:, None]).value)
    assert lines["exact"].get_linestyle() == "--" and lines["u"].get_linestyle() == "-"
    texts = [t.get_text() for t in axes.get_legend().get_texts()]  # type: ignore[union-attr]
    assert texts == ["u", "exact"]
    _legend_is_outside(figure, axes)


def test_time_slices_each_get_their_exact_line_and_one_legend_entry() -> None:
    model = _model(TRANSPORT_1D, 2)
    figure = model_figure(model, resolution=41)
    (axes,) = figure.axes
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("x0", "u")
    labels = [str(line.get_label()) for line in axes.get_lines()]
    assert labels.count("exact") == 1 and labels.count("_nolegend_") == 2
    assert {"u, t = 0", "u, t = 0.5", "u, t = 1"} <= set(labels)
    dashed = [line for line in axes.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 3
    for line, t in zip(dashed, (0.0, 0.5, 1.0), strict=True):
        x = np.asarray(line.get_xdata(), dtype=np.float64)
        np.testing.assert_allclose(line.get_ydata(), np.sin(x - t), atol=1e-12)
    texts = [t.get_text() for t in axes.get_legend().get_texts()]  # type: ignore[union-attr]
    assert texts == ["u, t = 0", "u, t = 0.5", "u, t = 1", "exact"]
    _legend_is_outside(figure, axes)
    on_t = model_figure(model, x="t", at={"x0": 1.0}, resolution=11).axes[0]
    assert on_t.get_xlabel() == "t" and "exact" in _lines(on_t)


def test_no_exact_line_without_exact_nor_for_error_plots() -> None:
    bare = _model({k: v for k, v in POISSON_1D.items() if k != "exact"}, 1)
    (axes,) = model_figure(bare, resolution=11).axes
    assert list(_lines(axes)) == ["u"] and axes.get_legend() is None
    (error_axes,) = model_figure(_model(POISSON_1D, 1), "error", resolution=11).axes
    assert "exact" not in _lines(error_axes) and error_axes.get_ylabel() == "|u - u*|"
    image = model_figure(_model(BALL, 2), resolution=21)
    assert (image.axes[0].get_xlabel(), image.axes[0].get_ylabel()) == ("x0", "x1")
    assert image.axes[-1].get_ylabel() == "u"  # the colorbar


def test_the_loss_curve_legend_is_outside_the_data() -> None:
    records = [LossRecord(s, 0.0, {"pde": 1 / (1 + s)}, {"pde": 0.5 / (1 + s)}) for s in range(20)]
    figure = loss_curve_figure(records, "a job")
    (axes,) = figure.axes
    assert (axes.get_xlabel(), axes.get_ylabel()) == ("step", "residual")
    _legend_is_outside(figure, axes)
