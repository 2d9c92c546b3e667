"""``solve``: train a job in this process and return its ``Model`` (docs/solver.md)."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

import torch

from models import ReLUNetwork
from models.embedding import EmbeddedNetwork
from solver.aposteriori import ErrorBound, effort_of, error_bounds, ordered, verdict
from solver.domains import DTYPE, derived_seed
from solver.estimate import build_global_model
from solver.kinds import problem_of
from solver.model import Model
from solver.periodic import periodic_inputs, periodic_network
from solver.problems import PDEProblem
from solver.spec import JobSpec, System, WholeSpaceDomain
from solver.training import (
    CancelCallback,
    Diverged,
    LossRecord,
    LossRecordCallback,
    ProgressCallback,
    Trainer,
    TrainResult,
)

VALIDATION_POINTS = 10_000
CURVE_POINTS = 400  # the loss curve kept in the manifest: at most this many records


def thin_curve(curve: list[LossRecord], keep: int = CURVE_POINTS) -> list[LossRecord]:
    """Every k-th record (k = ceil(n / keep)), and always the last one."""
    if len(curve) <= keep:
        return list(curve)
    stride = -(-len(curve) // keep)
    thinned = curve[::stride]
    return thinned if thinned[-1] is curve[-1] else [*thinned, curve[-1]]


def physical_network(result: TrainResult, problem: PDEProblem) -> ReLUNetwork:
    """Fold the input normalization (x - c)/h and the output scale s into the first and last
    layers: A_1' = A_1 diag(1/h), b_1' = b_1 - A_1 (c/h); A_L' = s A_L, b_L' = s b_L (float64)."""
    net = result.network
    if isinstance(net, EmbeddedNetwork):  # fold the periodic feature layer in float64, exactly
        inner = ReLUNetwork(
            [(a.detach().to(DTYPE), b.detach().to(DTYPE)) for a, b in net.trainable_layers],
            net.act.name,
            net.negative_slope,
            net.act.c,
        )
        net = periodic_network(
            inner,
            problem.n_inputs,
            periodic_inputs(problem.has_time, problem.periodic_axes),
            problem.characteristic_shear(),
        )
    layers = [(a.detach().to(DTYPE).clone(), b.detach().to(DTYPE).clone()) for a, b in net.layers]
    center, half = problem.input_center, problem.input_half
    a1, b1 = layers[0]
    layers[0] = (a1 / half, b1 - a1 @ (center / half))
    a_last, b_last = layers[-1]
    layers[-1] = (a_last * result.output_scale, b_last * result.output_scale)
    return ReLUNetwork(layers, net.act.name, net.negative_slope, net.act.c)


def measure_errors(network: ReLUNetwork, problem: PDEProblem, seed: int) -> dict[str, Any] | None:
    """rel_l2, linf and grad_linf (Euclidean, over every input, t included) against ``exact``.

    A system gets them over all its unknowns together (rel_l2 = |U - U*|_F / |U*|_F, linf and
    grad_linf the largest of any unknown) and, under each unknown's name, its own three."""
    inputs = problem.validation_inputs(VALIDATION_POINTS, seed)
    exact = problem.exact_outputs(inputs)
    if exact is None:
        return None
    u_star, g_star = exact
    m = u_star.shape[1]
    with torch.no_grad():
        u, jac = network.value_and_jacobian(inputs)
    errors: dict[str, Any] = {
        **_error_figures(u[:, :m], u_star, jac[:, :m], g_star),
        "n_points": VALIDATION_POINTS,
    }
    if isinstance(problem.spec, System):
        for k, name in enumerate(problem.unknowns):
            errors[name] = _error_figures(
                u[:, k : k + 1], u_star[:, k : k + 1], jac[:, k : k + 1], g_star[:, k : k + 1]
            )
    return errors


def _error_figures(
    u: torch.Tensor, u_star: torch.Tensor, jac: torch.Tensor, g_star: torch.Tensor
) -> dict[str, float]:
    """rel_l2 = |u - u*|_2 / |u*|_2 (absolute when u* = 0), linf = max |u - u*| and grad_linf =
    max over points and outputs of |grad u - grad u*|, values (n, m), gradients (n, m, inputs)."""
    diff = u - u_star
    scale = float(u_star.norm())
    return {
        "rel_l2": float(diff.norm()) / scale if scale > 0 else float(diff.norm()),
        "linf": float(diff.abs().max()),
        "grad_linf": float((jac - g_star).norm(dim=2).max()),
    }


PROGRESS_LINES = 20  # plain lines per run when stderr is not a terminal (a log file)


def residual_summary(record: LossRecord | None) -> str:
    """``sup |r| 1.2e-02  mean |r| 3.4e-03  objective 5.6e-02``: the largest sample sup and
    the largest sample mean over the residual terms (figures that mean the same at every
    step), and the training objective apart (its L^p exponent rises during the run)."""
    if record is None:
        return ""
    text = f"sup |r| {max(record.sup.values()):.3e}  mean |r| {max(record.mean.values()):.3e}"
    if record.objective is not None:
        text += f"  objective {record.objective:.3e}"
    return text


def _progress_lines(total: int, latest: list[LossRecord]) -> ProgressCallback:
    """One plain line on stderr every 1/PROGRESS_LINES of the run, and at the end."""
    every = max(1, total // PROGRESS_LINES)
    printed = [-1]

    def update(step: int, steps: int, loss: float, elapsed: float) -> None:
        if step // every > printed[0] or step == steps:
            printed[0] = step // every
            figures = residual_summary(latest[-1] if latest else None) or f"loss {loss:.3e}"
            print(f"step {step}/{steps} {figures} elapsed {elapsed:.1f} s", file=sys.stderr, flush=True)

    return update


def _progress_bar(total: int, latest: list[LossRecord]) -> tuple[ProgressCallback, Any]:
    from tqdm import tqdm

    if not sys.stderr.isatty():
        return _progress_lines(total, latest), None
    bar = tqdm(total=total, unit="step", dynamic_ncols=True)

    def update(step: int, steps: int, loss: float, elapsed: float) -> None:
        bar.total = steps
        bar.n = step
        bar.set_postfix_str(residual_summary(latest[-1] if latest else None), refresh=False)
        bar.refresh()

    return update, bar


def solve(
    spec: JobSpec,
    progress: bool | ProgressCallback = False,
    *,
    should_cancel: CancelCallback | None = None,
    checkpoint: str | Path | None = None,
    on_record: LossRecordCallback | None = None,
) -> Model:
    """Train ``spec`` here.  ``progress``: True for a progress bar on a terminal (plain lines
    on stderr, every 5 % of the run, when stderr is not a terminal), or a callback
    (step, steps, loss, elapsed_s).  ``should_cancel`` is polled between steps (raises
    ``solver.Canceled``).  Training stops at the first step whose loss or residual term is NaN
    or infinite and raises ``solver.Diverged`` ("diverged at step N: <term>"); its ``model`` is
    the ``Model`` of the best finite parameters seen (metrics["diverged"] says where it
    stopped), or None when there are none.  With ``checkpoint`` (a file path) the run saves its state there
    every 100 steps and, if the file exists, resumes from it.  ``on_record`` receives each
    loss-curve record (every 10 steps: sup and mean |r| of every residual term) as it is made;
    the model's ``metrics["loss_curve"]`` keeps up to 400 of them."""
    if spec.tolerance is not None:
        return solve_to_tolerance(
            spec, progress, should_cancel=should_cancel, checkpoint=checkpoint, on_record=on_record
        )
    problem = problem_of(spec.problem)
    trainer = Trainer(problem, spec.network, spec.training)
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.exists():
        trainer.load_checkpoint(path)
    bar = None
    callback: ProgressCallback | None
    latest: list[LossRecord] = []
    if progress is True:
        total = spec.total_steps
        callback, bar = _progress_bar(total, latest)
        outer = on_record

        def on_record(record: LossRecord) -> None:
            latest[:] = [record]
            if outer is not None:
                outer(record)

    elif callable(progress):
        callback = progress
    else:
        callback = None
    try:
        result = trainer.run(callback, should_cancel, path, on_record)
    except Diverged as exc:
        if exc.result is not None:
            exc.model = build_model(spec, problem, exc.result, diverged=exc)
        raise
    finally:
        if bar is not None:
            bar.close()
    return build_model(spec, problem, result)


#: solve to a tolerance: widths start at the default's 1/TOLERANCE_START_FRACTION and double
#: up to TOLERANCE_MAX_WIDTH (network.hidden's cap)
TOLERANCE_START_FRACTION = 8
TOLERANCE_MAX_WIDTH = 4096


def tolerance_widths(spec: JobSpec) -> list[int]:
    """W_0 = default / 8 (at least 16), 2 W_0, 4 W_0, ..., the last one TOLERANCE_MAX_WIDTH."""
    width = max(16, spec.hidden[0] // TOLERANCE_START_FRACTION)
    widths = [width]
    while widths[-1] < TOLERANCE_MAX_WIDTH:
        widths.append(min(2 * widths[-1], TOLERANCE_MAX_WIDTH))
    return widths


def promised(bounds: list[ErrorBound], quantity: str) -> ErrorBound | None:
    """The tightest certified or statistical bound of ``quantity`` (``ErrorBound.promise``),
    or None (indicators promise nothing)."""
    found = [b for b in bounds if b.quantity == quantity and b.promise]
    return min(found, key=lambda b: b.value) if found else None


def solve_to_tolerance(
    spec: JobSpec,
    progress: bool | ProgressCallback = False,
    *,
    should_cancel: CancelCallback | None = None,
    checkpoint: str | Path | None = None,
    on_record: LossRecordCallback | None = None,
) -> Model:
    """Solve on the solved basis at growing widths (``tolerance_widths``) until the tightest
    certified or statistical bound of the tolerance's quantity is at most its value, the
    time limit is passed or the width cap is reached; the model of the last width solved,
    with ``metrics["tolerance"]`` (its spec is that width's: network.hidden [W], optimizer
    'ls', no tolerance): the quantity, the value asked, whether it was met, what
    stopped the growth ("bound", "time_limit", "width_cap" or "no_bound": the kind has no
    certified or statistical bound of that quantity), the bound and width reached and the
    history of (width, bound).  Each width's solve is deterministic, so a resumed run (its
    checkpoint holds the width it was in) ends with the uninterrupted run's model."""
    tolerance = spec.tolerance
    assert tolerance is not None
    started = time.monotonic()
    history: list[dict[str, Any]] = []
    widths = tolerance_widths(spec)
    callback = progress if callable(progress) else None
    model: Model | None = None
    stopped_by = "width_cap"
    for index, width in enumerate(widths):
        data = spec.model_dump(mode="json")
        data["network"]["hidden"] = [width]
        data["training"]["tolerance"] = None
        data["training"]["optimizer"] = "ls"
        remaining = spec.training.time_limit_s - (time.monotonic() - started)
        data["training"]["time_limit_s"] = max(remaining, 1e-3)
        step = JobSpec.model_validate(data)
        part = None if checkpoint is None else Path(f"{checkpoint}.width{width}")
        model = solve(step, False, should_cancel=should_cancel, checkpoint=part, on_record=on_record)
        bound = promised(model.bounds, tolerance.quantity)
        seconds = model.metrics["seconds"]
        history.append({"width": width, "bound": None if bound is None else bound.value, "seconds": seconds})
        figure = math.inf if bound is None else bound.value
        if callback is not None:
            callback(index + 1, len(widths), figure, time.monotonic() - started)
        elif progress is True:
            print(
                f"width {width}: {tolerance.quantity} <= {figure:.3e} (asked {tolerance.value:.3e}), "
                f"{time.monotonic() - started:.1f} s",
                file=sys.stderr,
                flush=True,
            )
        if bound is None:
            stopped_by = "no_bound"
            break
        if bound.value <= tolerance.value:
            stopped_by = "bound"
            break
        if time.monotonic() - started > spec.training.time_limit_s:
            stopped_by = "time_limit"
            break
    assert model is not None
    last = history[-1]
    model.metrics["tolerance"] = {
        "quantity": tolerance.quantity,
        "requested": tolerance.value,
        "met": stopped_by == "bound",
        "stopped_by": stopped_by,
        "bound": last["bound"],
        "width": last["width"],
        "history": history,
        "seconds": round(time.monotonic() - started, 3),
    }
    return model


def build_model(
    spec: JobSpec, problem: PDEProblem, result: TrainResult, *, diverged: Diverged | None = None
) -> Model:
    """The ``Model`` of a training result: the network in physical coordinates, its estimate,
    metrics and errors against ``exact``; ``diverged`` (the run stopped there) is recorded in
    metrics["diverged"] as {"step", "term"}."""
    network = physical_network(result, problem)
    started = time.perf_counter()
    network, estimate, why_not = estimate_model(network, problem, spec.training.seed, spec.training.steps)
    estimate_seconds = time.perf_counter() - started
    metrics: dict[str, Any] = {
        "loss_norm": spec.training.norm(spec.pipeline),
        "steps": result.steps_done,
        "seconds": round(result.seconds, 3),
        "estimate_seconds": round(estimate_seconds, 3),
        "final_loss": result.final_loss,
        "terms": result.terms,
        "stopped_by_time_limit": result.stopped_by_time_limit,
        "history": [
            [s, v] for s, v in result.history[:: max(1, len(result.history) // 200)] if math.isfinite(v)
        ],
        "loss_curve": [record.to_json() for record in thin_curve(result.curve) if record.is_finite()],
    }
    if diverged is not None:
        metrics["diverged"] = {"step": diverged.step, "term": diverged.term}
    if isinstance(spec.problem.domain, WholeSpaceDomain):
        metrics["estimate_unavailable"] = why_not
    errors = measure_errors(network, problem, spec.training.seed)
    return Model(network, spec, metrics, errors, estimate)


def estimate_model(
    phi: ReLUNetwork, problem: PDEProblem, seed: int, steps: int
) -> tuple[ReLUNetwork, dict[str, Any], str | None]:
    """The trained network's estimate: the ``bounds`` list of every model and, on the whole
    space, the global model Psi with its global estimate (or the reason it has none)."""
    estimate = attach_bounds(phi, problem, seed, steps)
    if not isinstance(problem.spec.domain, WholeSpaceDomain):
        return phi, estimate, None
    network, global_estimate, why_not = _global_model(phi, problem, seed)
    if global_estimate is not None:
        estimate = {**global_estimate, **estimate}
    return network, estimate, why_not


def attach_bounds(network: ReLUNetwork, problem: PDEProblem, seed: int, steps: int) -> dict[str, Any]:
    """The a-posteriori ``bounds`` of the trained network (never from ``exact``), their one-line
    verdict and the seconds they took (docs/error-estimates.md); a training of ``steps`` steps
    sets the estimate's effort (``effort_of``)."""
    start = time.perf_counter()
    bounds = ordered(error_bounds(network, problem, seed, effort_of(steps)))
    scale = solution_scale(network, problem, seed)
    return {
        "bounds": [bound.to_json() for bound in bounds],
        "verdict": verdict(bounds, scale),
        "solution_scale": scale,
        "bounds_seconds": round(time.perf_counter() - start, 3),
    }


SCALE_POINTS = 4096  # points of the sampled max |u| the verdict compares its bound with


def solution_scale(network: ReLUNetwork, problem: PDEProblem, seed: int) -> float | None:
    """max |u| of the model (every output of a system) over SCALE_POINTS fresh points of the
    domain and slab: the size the verdict states its bound relative to (a sampled max of the
    model itself, never of ``exact``); None when it is 0 or not finite."""
    inputs = problem.validation_inputs(SCALE_POINTS, derived_seed(seed, "scale"))
    with torch.no_grad():
        values = network(inputs.to(network.dtype))[:, : len(problem.unknowns)]  # not a flux
    scale = float(values.abs().max()) if values.numel() else 0.0
    return scale if math.isfinite(scale) and scale > 0.0 else None


def _global_model(
    phi: ReLUNetwork, problem: PDEProblem, seed: int
) -> tuple[ReLUNetwork, dict[str, Any] | None, str | None]:
    """Whole space: Psi = product(cutoff, Phi) and its estimate (docs/global-estimate.md), or Phi
    and the reason there is no estimate.  Kolmogorov problems measure the local errors
    against Monte Carlo references; other whole-space problems have no reference that does
    not read ``exact``, so they get the bounds list only (docs/error-estimates.md)."""
    if not problem.is_regression():
        return (
            phi,
            None,
            (
                "the global estimate needs the local errors on the box, which relupde measures against "
                "Monte Carlo references for kolmogorov problems only (never against `exact`); this "
                "model's bounds are in estimate['bounds']"
            ),
        )
    try:
        psi, estimate = build_global_model(phi, problem, seed, reference="monte_carlo")
    except ValueError as exc:
        return phi, None, str(exc)
    return psi, estimate.to_json(), None
