"""The training loop: Adam (then optionally L-BFGS) on the residual loss, deterministic in the seed.

* Inputs are normalized to [-1, 1] per coordinate (t included) and the first layer's kinks
  are placed inside that box at initialization: b_1 = -A_1 p with p uniform in [-1, 1]^N_0
  (with zero biases every kink would pass through the origin).
* Points are redrawn every ``resample_every`` steps from the deterministic Sobol stream;
  with the ``"sup"`` loss the worst 10 % of the previous interior points are kept
  (worst-point refinement).  Moving points uphill in |r| (Wang et al. 2022) is not done: for
  a ReLU network D Phi is piecewise constant, so |r| has no useful gradient in x.
* Stationary first-order problems select the viscosity solution: a convex Hamiltonian's
  viscosity solution is the maximal a.e. solution with the given Dirichlet data (for the
  eikonal equation, the distance function), so a term -lambda mean(u) (sign flipped for a
  concave one) pushes u up during the first half of training and decays to zero; it is
  also the maximal *subsolution*, so meanwhile the violation max(s F, 0) is penalized
  (weight SUBSOLUTION_WEIGHT lambda) and the push cannot carry u above it.
* The run stops at the first step whose loss or residual term is NaN or infinite and raises
  ``Diverged`` naming the step and the term, with the result at the best finite parameters
  seen (if any): past that step every figure and parameter would be NaN.
* A checkpoint holds everything the next step depends on (parameters, Adam state, the
  current points, the draw counter, the best model), so a resumed run ends with exactly
  the model of the uninterrupted run.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from models import ReLUNetwork
from models.embedding import EmbeddedNetwork
from solver.basis import auto_hidden, place_features, solved_basis
from solver.domains import derived_seed
from solver.kinds.first_order import FirstOrderProblem
from solver.loss import p_schedule, reported, term_loss
from solver.output_layer import (
    OutputRows,
    gauss_newton_step,
    hidden_features,
    lawson_update,
    output_parameters,
    output_rows,
    set_output_parameters,
    term_magnitudes,
)
from solver.periodic import embedded_inputs, periodic_inputs, periodic_network
from solver.problems import PDEProblem, PointSet
from solver.second_order import MAX_ROWS, LevenbergMarquardt, Rows, residual_rows, subsample, terms_per_set
from solver.spec import NetworkSpec, TrainingSpec

if TYPE_CHECKING:
    from solver.model import Model

TRAIN_DTYPE = torch.float32
#: the second-order phase: iteration k draws points number LM_DRAW + k; a checkpoint every
#: LM_CHECKPOINT_EVERY iterations (each costs about as much as 50-100 Adam steps)
LM_DRAW = 1 << 20
LM_CHECK_DRAW = 1 << 21  # ... and checks its steps on the points of draw LM_CHECK_DRAW + k
LM_CHECKPOINT_EVERY = 2
#: the output-layer solve: its draws of points are numbers LS_DRAW .. LS_DRAW + k - 1, with k
#: the fewest giving LS_OVERSAMPLE rows per unknown (at most LS_MAX_DRAWS); it stops when a
#: Gauss-Newton step lowers the loss by less than LS_STALL of it
LS_DRAW = 1 << 22
LS_OVERSAMPLE = 8
LS_MAX_DRAWS = 16
LS_STALL = 1e-4
#: the condition terms' weight in the solve of a stationary problem: a least-squares method
#: must weight its boundary rows like h^-1/2 (h the basis' resolution) for the boundary error
#: not to dominate; measured on poisson-2d at 400 features, rel L2: weight 1 4.1e-2, 3 7.1e-3,
#: 10 6.1e-3, 30 7.3e-3, 100 9.0e-3 (docs/solver.md, 'The solved output layer')
CONDITION_WEIGHT = 10.0
KEEP_WORST = 0.1
LR_FLOOR = 0.05
SEGMENT = 0.1  # half-length of the averaging segments, as a fraction of the domain's half-width
SEGMENT_UNTIL = 0.8  # fraction of the Adam steps after which the exact D Phi is used alone
SEGMENT_MAX_INPUTS = 10
SELECTION_WEIGHT = 1.0
SELECTION_UNTIL = 0.5
# While the push lasts, the sup-loss of the subsolution violation max(s F, 0) is added with
# this weight times the push's: the viscosity solution is the maximal subsolution, so the
# push cannot overshoot it (docs/solver.md, "Selecting the viscosity solution").
SUBSOLUTION_WEIGHT = 1.0
CHECKPOINT_EVERY = 100
LBFGS_CHUNK = 20

CURVE_EVERY = 10  # a loss-curve record every CURVE_EVERY steps (and each of the first ten)

ProgressCallback = Callable[[int, int, float, float], None]
CancelCallback = Callable[[], bool]


@dataclass(frozen=True)
class LossRecord:
    """One point of the loss curve: for each residual term r_k, the sample sup max_i |r_k(x_i)|
    and the sample mean (1/n) sum_i |r_k(x_i)| on the current training points; and, apart,
    the training objective minimized at that step (the sum of the terms' L^p means, p rising
    from 2 to 64; not comparable across steps, which is why the residual figures are shown)."""

    step: int
    elapsed_s: float
    sup: dict[str, float]
    mean: dict[str, float]
    objective: float | None = None

    def is_finite(self) -> bool:
        """JSON has no NaN or infinity: a diverged step's record is left off stored curves."""
        return all(math.isfinite(v) for v in (*self.sup.values(), *self.mean.values()))

    def to_json(self) -> dict[str, Any]:
        objective = self.objective if self.objective is not None and math.isfinite(self.objective) else None
        return {
            "step": self.step,
            "elapsed_s": self.elapsed_s,
            "sup": self.sup,
            "mean": self.mean,
            "objective": objective,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LossRecord:
        objective = data.get("objective")
        return cls(
            int(data["step"]),
            float(data["elapsed_s"]),
            {str(k): float(v) for k, v in data["sup"].items()},
            {str(k): float(v) for k, v in data["mean"].items()},
            None if objective is None else float(objective),
        )


LossRecordCallback = Callable[[LossRecord], None]


class Canceled(Exception):  # noqa: N818 - the job's state is "canceled"
    """Raised when the cancellation callback asks the run to stop."""


class Diverged(Exception):  # noqa: N818 - the run "diverged"
    """Raised at the first step whose loss or residual term is NaN or infinite:
    ``diverged at step N: <term>``, the first non-finite residual term (``pde``,
    ``condition0:value``, ...) or ``objective`` when only the training objective is.

    ``result`` is the training result at the best finite parameters seen (``Trainer.run``),
    None when there are none; ``solve`` builds ``model``, the ``Model`` of those parameters
    (None when there are none), before it raises this again."""

    def __init__(self, step: int, term: str, result: TrainResult | None = None) -> None:
        super().__init__(step, term)
        self.step = step
        self.term = term
        self.result = result
        self.model: Model | None = None

    def __str__(self) -> str:
        return f"diverged at step {self.step}: {self.term}"


def non_finite(loss: Tensor | float, magnitudes: Mapping[str, Tensor]) -> str | None:
    """The first residual term with a NaN or infinite value, else ``"objective"`` when the loss
    is not finite, else None."""
    for name, magnitude in magnitudes.items():
        if not bool(torch.isfinite(magnitude).all()):
            return name
    if not math.isfinite(float(loss.detach()) if isinstance(loss, Tensor) else loss):
        return "objective"
    return None


@dataclass
class TrainResult:
    network: ReLUNetwork  # on normalized inputs, values scaled by output_scale
    output_scale: float
    steps_done: int
    final_loss: float
    terms: dict[str, float]
    history: list[tuple[int, float]]
    curve: list[LossRecord]
    stopped_by_time_limit: bool
    seconds: float


@dataclass
class _State:
    step: int = 0
    draw: int = 0
    best_loss: float = math.inf
    best: list[Tensor] = field(default_factory=list)
    history: list[tuple[int, float]] = field(default_factory=list)
    curve: list[LossRecord] = field(default_factory=list)
    elapsed: float = 0.0


def network_hidden(problem: PDEProblem, spec: NetworkSpec) -> list[int]:
    """The hidden widths: the spec's, or the solver's choice for the kind (``solver.basis``)."""
    if spec.hidden is not None:
        return list(spec.hidden)
    kind = problem.spec
    return auto_hidden(
        kind.kind, problem.d, problem.has_time, kind.transport, kind.periodic_transport, problem.n_outputs
    )


def build_network(problem: PDEProblem, spec: NetworkSpec, seed: int) -> ReLUNetwork:
    """He-initialized network on normalized inputs with first-layer kinks inside [-1, 1]^N_0."""
    gen = torch.Generator().manual_seed(derived_seed(seed, "init"))
    periodic = periodic_inputs(problem.has_time, problem.periodic_axes)
    widths = [embedded_inputs(problem.n_inputs, periodic), *network_hidden(problem, spec), problem.n_outputs]
    net = ReLUNetwork.random(
        widths,
        activation=spec.activation,
        negative_slope=spec.negative_slope,
        relu_prime_at_zero=spec.relu_prime_at_zero,
        dtype=TRAIN_DTYPE,
        generator=gen,
    )
    with torch.no_grad():
        a1, b1 = net.layers[0]
        anchors = torch.rand(a1.shape[0], a1.shape[1], generator=gen, dtype=TRAIN_DTYPE) * 2 - 1
        b1.copy_(-(a1 * anchors).sum(1))
    if periodic:  # exact periodicity: a fixed feature layer in front (solver.periodic)
        return periodic_network(net, problem.n_inputs, periodic, problem.characteristic_shear())
    return net


class Trainer:
    """Runs one job's optimization; see the module docstring."""

    def __init__(self, problem: PDEProblem, network: NetworkSpec, training: TrainingSpec) -> None:
        self.problem = problem
        self.training = training
        self.seed = training.seed
        self.net = build_network(problem, network, self.seed)
        solved = network.hidden is None and solved_basis(
            problem.spec.kind,
            problem.d,
            problem.has_time,
            problem.spec.transport,
            problem.spec.periodic_transport,
        )
        #: the pipeline, 'auto' resolved (TrainingSpec.pipeline)
        self.pipeline = training.pipeline(problem.spec.kind, solved)
        self.norm = training.norm(self.pipeline)  # the loss norm, "auto" resolved
        if self.pipeline == "ls":  # no Adam: the first layer is the basis (solver.basis)
            place_features(self.net, self.seed, self._characteristics())
        self.center = problem.input_center.to(TRAIN_DTYPE)
        self.half = problem.input_half.to(TRAIN_DTYPE)
        self.points = self._draw(0)
        self.output_scale = self._output_scale()
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=training.learning_rate)
        self.state = _State()
        self.segment = 0.0  # current half-length (normalized units); 0: the exact D Phi
        self.lm = LevenbergMarquardt()

    # ------------------------------------------------------------------ pieces
    def _characteristics(self) -> Callable[[Tensor], Tensor | None] | None:
        """The characteristic direction of a linear transport problem in normalized inputs
        z = (t, x) (``FirstOrderProblem.characteristic_velocity`` at the physical point,
        divided by the half-widths), for ``place_features``; None for other kinds."""
        if not isinstance(self.problem, FirstOrderProblem) or not self.problem.has_time:
            return None
        if isinstance(self.net, EmbeddedNetwork):
            # the waves of a sheared embedding read the characteristic coordinate, so the
            # characteristics run along the embedded time input alone; without a shear no
            # feature of the embedded inputs can follow them
            if not self.problem.characteristic_shear():
                return None
            along_time = torch.zeros(self.net.trainable_layers[0][0].shape[1], dtype=torch.float64)
            along_time[0] = 1.0
            return lambda z: along_time.expand(z.shape[0], -1)
        velocity_at = self.problem.characteristic_velocity
        center = self.problem.input_center.to(torch.float64)
        half = self.problem.input_half.to(torch.float64)

        def velocity(z: Tensor) -> Tensor | None:
            physical = center + half * z
            v = velocity_at(physical[:, 0], physical[:, 1:])
            return None if v is None else v / half

        return velocity

    def _draw(self, draw: int) -> dict[str, PointSet]:
        pts = self.training.points
        sets = self.problem.sample(pts.interior, pts.boundary, self.seed, draw, self.training.sampling)
        return {k: v.to(TRAIN_DTYPE) for k, v in sets.items()}

    def _output_scale(self) -> float:
        target = self.points["interior"].targets.get("value")
        if target is None:
            return 1.0
        return float(target.abs().max().clamp_min(1.0))

    def _forward(self, points: dict[str, PointSet]) -> dict[str, tuple[Tensor, Tensor]]:
        names = list(points)
        dtype = self.net.dtype  # float64 once the second-order phase has begun
        inputs = torch.cat([points[k].inputs() for k in names]).to(dtype)
        z = (inputs - self.center.to(dtype)) / self.half.to(dtype)
        if self.segment > 0:
            u = self.net(z)
            jac = self._segment_jacobian(z, self.segment)
        else:
            u, jac = self.net.value_and_jacobian(z)
        u = u * self.output_scale
        jac = jac * (self.output_scale / self.half.to(dtype))
        out: dict[str, tuple[Tensor, Tensor]] = {}
        start = 0
        for k in names:
            n = points[k].x.shape[0]
            out[k] = (u[start : start + n], jac[start : start + n])
            start += n
        return out

    def _segment_jacobian(self, z: Tensor, h: float) -> Tensor:
        """Column j: (R Phi(z + h e_j) - R Phi(z - h e_j)) / 2h, the mean of D Phi e_j over the
        segment [z - h e_j, z + h e_j] (exact, R Phi being piecewise linear).  Unlike D Phi it
        depends on the biases, so derivative residuals move the kinks too."""
        n, n_in = z.shape
        eye = torch.eye(n_in, dtype=z.dtype) * h
        shifted = torch.cat([z.unsqueeze(1) + eye, z.unsqueeze(1) - eye], 1).reshape(-1, n_in)
        values: Tensor = self.net(shifted).view(n, 2, n_in, -1)
        quotient: Tensor = (values[:, 0] - values[:, 1]) / (2 * h)
        return quotient.transpose(1, 2)

    def _magnitudes(
        self, points: dict[str, PointSet]
    ) -> tuple[dict[str, Tensor], dict[str, tuple[Tensor, Tensor]]]:
        outputs = self._forward(points)
        mags: dict[str, Tensor] = {}
        for name, pset in points.items():
            u, jac = outputs[name]
            mags.update(self.problem.residuals(name, pset, u, jac))
        return mags, outputs

    def _loss(
        self, points: dict[str, PointSet], step: int, total: int
    ) -> tuple[Tensor, dict[str, float], dict[str, Tensor]]:
        """The loss to minimize, the figure of each term, and the residual magnitudes |r_k|
        (detached; ``_track`` turns them into a loss-curve record on the steps it keeps)."""
        mags, outputs = self._magnitudes(points)
        p = p_schedule(step, total)
        norm = "l2" if self.problem.is_regression() else self.norm
        loss = sum((term_loss(m, norm, p) for m in mags.values()), torch.zeros(()))
        if isinstance(self.problem, FirstOrderProblem) and self.problem.selection:
            weight = SELECTION_WEIGHT * max(0.0, 1.0 - step / (SELECTION_UNTIL * max(total, 1)))
            if weight > 0:
                u, jac = outputs["interior"]
                loss = loss - self.problem.selection * weight * u[:, 0].mean()
                if SUBSOLUTION_WEIGHT > 0:
                    signed = self.problem.equation_value(points["interior"], u, jac)
                    violation = torch.relu(self.problem.selection * signed)
                    loss = loss + SUBSOLUTION_WEIGHT * weight * term_loss(violation, norm, p)
        magnitudes = {k: m.detach() for k, m in mags.items()}
        return loss, {k: reported(m, norm) for k, m in mags.items()}, magnitudes

    def _refine(self, fresh: dict[str, PointSet]) -> dict[str, PointSet]:
        """Keep the worst KEEP_WORST of the previous interior points (sup loss only)."""
        if self.norm != "sup" or self.problem.is_regression():
            return fresh
        old = self.points["interior"]
        with torch.no_grad():
            mags, _ = self._magnitudes({"interior": old})
        score = torch.stack([m / m.max().clamp_min(1e-30) for m in mags.values()]).max(0).values
        k = int(KEEP_WORST * old.x.shape[0])
        if k == 0:
            return fresh
        worst = torch.topk(score, k).indices.sort().values
        new = fresh["interior"]
        keep = torch.arange(k, new.x.shape[0])
        fresh["interior"] = PointSet.concat(old.select(worst), new.select(keep))
        return fresh

    def _params(self) -> list[Tensor]:
        return [p.detach().clone() for p in self.net.parameters()]

    def _load_params(self, values: list[Tensor]) -> None:
        with torch.no_grad():
            for p, v in zip(self.net.parameters(), values, strict=True):
                p.copy_(v)

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, path: Path) -> None:
        payload: dict[str, Any] = {
            "step": self.state.step,
            "draw": self.state.draw,
            "best_loss": self.state.best_loss,
            "best": self.state.best,
            "history": [list(h) for h in self.state.history],
            "curve": [json.dumps(r.to_json()) for r in self.state.curve],
            "elapsed": self.state.elapsed,
            "params": self._params(),
            "optimizer": self.optimizer.state_dict(),
            "output_scale": self.output_scale,
            "lm_mu": self.lm.mu,
            "float64": self.net.dtype == torch.float64,
            "points": {
                k: {"t": v.t, "x": v.x, "normals": v.normals, "targets": v.targets}
                for k, v in self.points.items()
            },
        }
        tmp = path.with_name(path.name + ".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, path)

    def load_checkpoint(self, path: Path) -> None:
        payload = torch.load(path, weights_only=True)
        self.state = _State(
            step=int(payload["step"]),
            draw=int(payload["draw"]),
            best_loss=float(payload["best_loss"]),
            best=list(payload["best"]),
            history=[(int(s), float(v)) for s, v in payload["history"]],
            curve=[LossRecord.from_json(json.loads(r)) for r in payload.get("curve", [])],
            elapsed=float(payload["elapsed"]),
        )
        if payload.get("float64"):  # saved during the second-order phase
            self.net.double()
        self.lm.mu = float(payload.get("lm_mu", self.lm.mu))
        self._load_params(payload["params"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.output_scale = float(payload["output_scale"])
        self.points = {
            k: PointSet(v["t"], v["x"], v["normals"], dict(v["targets"]))
            for k, v in payload["points"].items()
        }

    # ------------------------------------------------------------------ the loop
    def run(
        self,
        progress: ProgressCallback | None = None,
        should_cancel: CancelCallback | None = None,
        checkpoint: Path | None = None,
        on_record: LossRecordCallback | None = None,
    ) -> TrainResult:
        """Train to the end (or the time limit).  ``progress`` gets (step, steps, figure,
        elapsed_s) after every step; ``on_record`` each loss-curve record as it is made."""
        spec = self.training
        adam_steps = 0 if self.pipeline == "ls" else spec.steps
        lbfgs_steps = spec.lbfgs_steps if self.pipeline == "adam+lbfgs" else 0
        lm_steps = spec.lm_steps if self.pipeline == "adam+lm" else 0
        ls_steps = spec.ls_steps if self.pipeline in ("ls", "adam+ls") else 0
        ls_steps += spec.lawson_steps(self.problem.spec.kind, self.pipeline)
        total = adam_steps + lbfgs_steps + lm_steps + ls_steps
        started = time.monotonic() - self.state.elapsed
        stopped = False
        terms: dict[str, float] = {}
        while self.state.step < adam_steps:
            step = self.state.step
            if should_cancel is not None and should_cancel():
                raise Canceled(f"canceled at step {step}")
            if spec.resample_every and step > 0 and step % spec.resample_every == 0:
                self.state.draw += 1
                self.points = self._refine(self._draw(self.state.draw))
            cosine = 0.5 * (1 + math.cos(math.pi * step / max(adam_steps, 1)))
            for group in self.optimizer.param_groups:
                group["lr"] = spec.learning_rate * (LR_FLOOR + (1 - LR_FLOOR) * cosine)
            self.optimizer.zero_grad(set_to_none=True)
            self.segment = self._segment_length(step, adam_steps)
            loss, terms, magnitudes = self._loss(self.points, step, adam_steps)
            bad = non_finite(loss, magnitudes)
            if bad is not None:
                raise self._diverged(step, bad)
            loss.backward()  # type: ignore[no-untyped-call]
            # The figure belongs to the parameters before this step: track (and keep as the
            # best) those, then move.
            figure = sum(terms.values())
            self._track(step, figure, magnitudes, on_record, objective=float(loss.detach()))
            self.optimizer.step()
            self.state.step += 1
            self.state.elapsed = time.monotonic() - started
            if progress is not None:
                progress(self.state.step, total, figure, self.state.elapsed)
            if checkpoint is not None and self.state.step % CHECKPOINT_EVERY == 0:
                self.save_checkpoint(checkpoint)
            if self.state.elapsed > spec.time_limit_s:
                stopped = True
                break
        self.segment = 0.0  # L-BFGS and every reported figure use the exact D Phi
        if not stopped and lbfgs_steps:
            stopped, terms = self._lbfgs(
                lbfgs_steps, adam_steps, total, started, progress, should_cancel, on_record
            )
        if not stopped and lm_steps:
            stopped = self._levenberg_marquardt(
                adam_steps, total, started, progress, should_cancel, checkpoint, on_record
            )
        if not stopped and ls_steps:
            stopped = self._solve_output_layer(
                adam_steps, total, started, progress, should_cancel, checkpoint, on_record
            )
        if stopped and self.state.best:
            self._load_params(self.state.best)
        with torch.no_grad():
            loss, terms, magnitudes = self._loss(self.points, adam_steps, adam_steps)
        bad = non_finite(loss, magnitudes)
        if bad is not None:  # the last step's update made the parameters non-finite
            raise self._diverged(self.state.step, bad)
        return TrainResult(
            network=self.net,
            output_scale=self.output_scale,
            steps_done=self.state.step,
            final_loss=sum(terms.values()),
            terms=terms,
            history=self.state.history,
            curve=self.state.curve,
            stopped_by_time_limit=stopped,
            seconds=self.state.elapsed,
        )

    def _diverged(self, step: int, term: str) -> Diverged:
        """The exception that stops the run at ``step``, with the result at the best finite
        parameters seen (figures on the current points, exact D Phi), if there are any."""
        self.segment = 0.0
        if not self.state.best:
            return Diverged(step, term)
        self._load_params(self.state.best)
        adam_steps = self.training.steps
        with torch.no_grad():
            loss, terms, magnitudes = self._loss(self.points, adam_steps, adam_steps)
        if non_finite(loss, magnitudes) is not None:
            return Diverged(step, term)
        result = TrainResult(
            network=self.net,
            output_scale=self.output_scale,
            steps_done=step,
            final_loss=sum(terms.values()),
            terms=terms,
            history=self.state.history,
            curve=self.state.curve,
            stopped_by_time_limit=False,
            seconds=self.state.elapsed,
        )
        return Diverged(step, term, result)

    def _segment_length(self, step: int, steps: int) -> float:
        """SEGMENT (1 - step / (SEGMENT_UNTIL steps)), then 0; 0 throughout for wide inputs."""
        if SEGMENT <= 0 or self.problem.n_inputs > SEGMENT_MAX_INPUTS or not self.problem.uses_segments():
            return 0.0
        return SEGMENT * max(0.0, 1.0 - step / (SEGMENT_UNTIL * max(steps, 1)))

    def _track(
        self,
        step: int,
        figure: float,
        magnitudes: dict[str, Tensor],
        on_record: LossRecordCallback | None,
        *,
        always: bool = False,
        objective: float | None = None,
    ) -> None:
        if always or step % CURVE_EVERY == 0 or step < 10:
            self.state.history.append((step, figure))
            record = LossRecord(
                step,
                self.state.elapsed,
                {k: float(m.max()) for k, m in magnitudes.items()},
                {k: float(m.mean()) for k, m in magnitudes.items()},
                objective,
            )
            self.state.curve.append(record)
            if on_record is not None:
                on_record(record)
        if figure < self.state.best_loss:
            self.state.best_loss = figure
            self.state.best = self._params()

    def _levenberg_marquardt(
        self,
        adam_steps: int,
        total: int,
        started: float,
        progress: ProgressCallback | None,
        should_cancel: CancelCallback | None,
        checkpoint: Path | None,
        on_record: LossRecordCallback | None,
    ) -> bool:
        """The second-order phase (solver.second_order) in float64: iteration k works on draw
        LM_DRAW + k of the points, cut to MAX_ROWS rows by a generator seeded with (seed, k),
        so a resumed run repeats exactly what the uninterrupted one does.  Returns whether
        the time limit stopped it."""
        self.net.double()
        center, half = self.center.to(torch.float64), self.half.to(torch.float64)
        rows_per_point = terms_per_set(self.problem, self.points, self.net)
        paired = frozenset(name for name, _, _ in self.problem.periodic_penalties)
        while self.state.step < total:
            k = self.state.step - adam_steps
            if should_cancel is not None and should_cancel():
                raise Canceled(f"canceled during Levenberg-Marquardt at iteration {k}")
            generator = torch.Generator().manual_seed(derived_seed(self.seed, "lm", k))
            drawn = {n: p.to(torch.float64) for n, p in self._draw(LM_DRAW + k).items()}
            points = subsample(drawn, MAX_ROWS, generator, rows_per_point, paired)

            def rows_of(with_jacobian: bool, points: dict[str, PointSet] = points) -> Rows:
                return residual_rows(
                    self.problem,
                    points,
                    self.net,
                    center,
                    half,
                    self.output_scale,
                    with_jacobian=with_jacobian,
                )

            check_generator = torch.Generator().manual_seed(derived_seed(self.seed, "lm-check", k))
            drawn = {n: p.to(torch.float64) for n, p in self._draw(LM_CHECK_DRAW + k).items()}
            held = subsample(drawn, MAX_ROWS, check_generator, rows_per_point, paired)

            def check_of(held: dict[str, PointSet] = held) -> float:
                return rows_of(False, held).loss

            loss, _ = self.lm.step(rows_of, self.net, check_of)
            with torch.no_grad():
                magnitudes, _ = self._magnitudes(points)
            bad = non_finite(torch.tensor(loss), magnitudes)
            if bad is not None:
                raise self._diverged(self.state.step, bad)
            figure = sum(reported(m, "l2") for m in magnitudes.values())
            self.state.step += 1
            self.state.elapsed = time.monotonic() - started
            self._track(self.state.step, figure, magnitudes, on_record, always=True, objective=loss)
            if progress is not None:
                progress(self.state.step, total, figure, self.state.elapsed)
            if checkpoint is not None and k % LM_CHECKPOINT_EVERY == LM_CHECKPOINT_EVERY - 1:
                self.save_checkpoint(checkpoint)
            if self.state.elapsed > self.training.time_limit_s:
                return True
        return False

    def _output_draws(self) -> list[dict[str, PointSet]]:
        """The draws of points the output-layer solve sums over: enough that the rows number
        at least LS_OVERSAMPLE x the output layer's unknowns, at most LS_MAX_DRAWS (draws
        LS_DRAW, LS_DRAW + 1, ...; the first one's rows give the count)."""
        a, _ = self.net.layers[-1]
        unknowns = a.shape[0] * (a.shape[1] + 1)
        first = self._draw(LS_DRAW)
        rows = self._output_rows(first, output_parameters(self.net), with_jacobian=False)
        per_draw = max(rows.residual.shape[0], 1)
        count = max(1, min(LS_MAX_DRAWS, math.ceil(LS_OVERSAMPLE * unknowns / per_draw)))
        return [first, *(self._draw(LS_DRAW + j) for j in range(1, count))]

    def _output_rows(
        self,
        points: dict[str, PointSet],
        theta: Tensor,
        *,
        with_jacobian: bool,
        row_weights: dict[str, Tensor] | None = None,
    ) -> OutputRows:
        """The weighted rows of one draw at theta_L (solver.output_layer); the condition terms
        of a stationary problem weighted CONDITION_WEIGHT."""
        center = self.center.to(torch.float64)
        half = self.half.to(torch.float64)
        points = {name: pset.to(torch.float64) for name, pset in points.items()}
        features = {
            name: hidden_features(self.net, (p.inputs() - center) / half) for name, p in points.items()
        }
        weight = 1.0 if self.problem.has_time else CONDITION_WEIGHT
        set_weights = {name: weight for name in points if name != "interior"}
        return output_rows(
            self.problem,
            points,
            features,
            theta,
            half,
            self.output_scale,
            set_weights=set_weights,
            row_weights=row_weights,
            with_jacobian=with_jacobian,
        )

    def _solve_output_layer(
        self,
        adam_steps: int,
        total: int,
        started: float,
        progress: ProgressCallback | None,
        should_cancel: CancelCallback | None,
        checkpoint: Path | None,
        on_record: LossRecordCallback | None,
    ) -> bool:
        """The output layer solved (solver.output_layer) in float64: Gauss-Newton iterations
        on the rows of draws LS_DRAW .. LS_DRAW + k - 1 (the same every iteration, so a
        resumed run repeats the uninterrupted one), each a least-squares solve of the
        linearized residuals with a line search; the phase ends early once a step is exact
        (an affine residual) or no longer lowers the loss.  Returns whether the time limit
        stopped it."""
        self.net.double()
        draws = self._output_draws()
        gauss_newton_end = adam_steps + self.training.ls_steps

        def rows_of(theta: Tensor, with_jacobian: bool) -> Iterator[OutputRows]:
            for points in draws:
                yield self._output_rows(points, theta, with_jacobian=with_jacobian)

        while self.state.step < min(total, gauss_newton_end):
            k = self.state.step - adam_steps
            if should_cancel is not None and should_cancel():
                raise Canceled(f"canceled during the output-layer solve at iteration {k}")
            result = gauss_newton_step(rows_of, output_parameters(self.net))
            set_output_parameters(self.net, result.theta)
            with torch.no_grad():
                magnitudes, _ = self._magnitudes(self.points)
            bad = non_finite(torch.tensor(result.loss_after), magnitudes)
            if bad is not None:
                raise self._diverged(self.state.step, bad)
            converged = (
                not result.taken
                or result.affine
                or result.loss_before - result.loss_after <= LS_STALL * result.loss_before
            )
            self.state.step = gauss_newton_end if converged else self.state.step + 1
            self.state.elapsed = time.monotonic() - started
            figure = sum(reported(m, "l2") for m in magnitudes.values())
            self._track(
                self.state.step, figure, magnitudes, on_record, always=True, objective=result.loss_after
            )
            if progress is not None:
                progress(self.state.step, total, figure, self.state.elapsed)
            if checkpoint is not None:
                self.save_checkpoint(checkpoint)
            if self.state.elapsed > self.training.time_limit_s:
                return True
        if self.state.step < total:
            return self._lawson(draws, total, started, progress, should_cancel, checkpoint, on_record)
        return False

    def _lawson(
        self,
        draws: list[dict[str, PointSet]],
        total: int,
        started: float,
        progress: ProgressCallback | None,
        should_cancel: CancelCallback | None,
        checkpoint: Path | None,
        on_record: LossRecordCallback | None,
    ) -> bool:
        """The sup norm over the output layer: Lawson's reweighted Gauss-Newton solves from the
        least-squares solution (solver.output_layer), the weights of each draw's rows carried
        from solve to solve; the iterate with the smallest sampled sup (the sum over the
        terms of max |r|) is kept.  The phase runs from its start each time (a checkpoint is
        written at its end), so a resumed run repeats it exactly.  Returns whether the time
        limit stopped it."""
        weights: list[dict[str, Tensor] | None] = [None] * len(draws)
        theta = output_parameters(self.net)
        best, best_sup = theta, math.inf
        while self.state.step < total:
            k = total - self.state.step
            if should_cancel is not None and should_cancel():
                raise Canceled(f"canceled during the sup-norm solve ({k} iterations left)")
            current = [self._output_rows(points, theta, with_jacobian=False) for points in draws]
            sup = max(sum(float(m.max()) for m in term_magnitudes(rows).values()) for rows in current)
            if sup < best_sup:
                best, best_sup = theta, sup
            updated = [lawson_update(w, rows) for w, rows in zip(weights, current, strict=True)]
            weights = list(updated)

            def weighted(
                theta: Tensor, with_jacobian: bool, extra: list[dict[str, Tensor]] = updated
            ) -> Iterator[OutputRows]:
                for points, row_weights in zip(draws, extra, strict=True):
                    yield self._output_rows(
                        points, theta, with_jacobian=with_jacobian, row_weights=row_weights
                    )

            theta = gauss_newton_step(weighted, theta).theta
            set_output_parameters(self.net, theta)
            with torch.no_grad():
                magnitudes, _ = self._magnitudes(self.points)
            bad = non_finite(torch.tensor(0.0), magnitudes)
            if bad is not None:
                raise self._diverged(self.state.step, bad)
            self.state.step += 1
            self.state.elapsed = time.monotonic() - started
            figure = sum(reported(m, "sup") for m in magnitudes.values())
            self._track(self.state.step, figure, magnitudes, on_record, always=True, objective=sup)
            if progress is not None:
                progress(self.state.step, total, figure, self.state.elapsed)
            if self.state.elapsed > self.training.time_limit_s:
                set_output_parameters(self.net, best)
                return True
        last = [self._output_rows(points, theta, with_jacobian=False) for points in draws]
        if max(sum(float(m.max()) for m in term_magnitudes(rows).values()) for rows in last) > best_sup:
            set_output_parameters(self.net, best)
        if checkpoint is not None:
            self.save_checkpoint(checkpoint)
        return False

    def _lbfgs(
        self,
        lbfgs_steps: int,
        adam_steps: int,
        total: int,
        started: float,
        progress: ProgressCallback | None,
        should_cancel: CancelCallback | None,
        on_record: LossRecordCallback | None,
    ) -> tuple[bool, dict[str, float]]:
        optimizer = torch.optim.LBFGS(
            self.net.parameters(),
            lr=1.0,
            max_iter=LBFGS_CHUNK,
            history_size=50,
            line_search_fn="strong_wolfe",
        )
        terms: dict[str, float] = {}
        latest: list[dict[str, Tensor]] = []
        objective: list[float] = [math.nan]

        first = next(iter(self.net.parameters()))

        def closure() -> Tensor:
            optimizer.zero_grad(set_to_none=True)
            loss, found, magnitudes = self._loss(self.points, adam_steps, adam_steps)
            bad = non_finite(loss, magnitudes)
            if bad is not None:  # step: the L-BFGS iterations begun, as L-BFGS counts them
                raise self._diverged(adam_steps + int(optimizer.state[first].get("n_iter", 0)), bad)
            terms.update(found)
            latest[:] = [magnitudes]
            objective[0] = float(loss.detach())
            loss.backward()  # type: ignore[no-untyped-call]
            return loss

        done = 0
        while done < lbfgs_steps:
            if should_cancel is not None and should_cancel():
                raise Canceled(f"canceled during L-BFGS at iteration {done}")
            optimizer.step(closure)  # type: ignore[no-untyped-call]
            done += LBFGS_CHUNK
            figure = sum(terms.values())
            self.state.step = adam_steps + min(done, lbfgs_steps)
            self.state.elapsed = time.monotonic() - started
            self._track(self.state.step, figure, latest[0], on_record, always=True, objective=objective[0])
            if progress is not None:
                progress(self.state.step, total, figure, self.state.elapsed)
            if self.state.elapsed > self.training.time_limit_s:
                return True, terms
        return False, terms
