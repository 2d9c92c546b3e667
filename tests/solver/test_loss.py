"""The W^{1,inf}-style loss: the L^p mean tends to the max, p rises from 2 to P_MAX, and the
figure reported for ``"sup"`` is the true sample sup max_i |r_i|, in training as well."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from solver import JobSpec
from solver.kinds import problem_of
from solver.loss import P_MAX, P_MIN, lp_mean, p_schedule, reported, term_loss
from solver.training import Trainer

F64 = torch.float64

#: Residual magnitudes: zero or well inside float64 (M = max m_i is clamped at 1e-30).
magnitude_lists = st.lists(st.just(0.0) | st.floats(1e-6, 1e3), min_size=1, max_size=60).filter(any)


def test_p_rises_geometrically_from_2_to_p_max() -> None:
    assert P_MIN == 2.0 and P_MAX == 64.0
    assert p_schedule(0, 1000) == 2.0
    assert p_schedule(1000, 1000) == P_MAX
    assert p_schedule(500, 1000) == pytest.approx(math.sqrt(2.0 * P_MAX), rel=1e-12)  # geometric middle
    values = [p_schedule(s, 1000) for s in range(0, 1001, 50)]
    assert all(a < b for a, b in itertools.pairwise(values))
    assert p_schedule(5000, 1000) == P_MAX and p_schedule(-3, 1000) == 2.0  # clamped
    assert p_schedule(0, 0) == P_MAX  # no steps: the sup itself


@settings(max_examples=80, deadline=None)
@given(values=magnitude_lists, p=st.floats(1.0, 40.0))
def test_lp_mean_is_the_normalized_lp_norm(values: list[float], p: float) -> None:
    m = torch.tensor(values, dtype=F64)
    direct = float(np.mean(np.asarray(values, dtype=np.float64) ** p) ** (1.0 / p))
    assert float(lp_mean(m, p)) == pytest.approx(direct, rel=1e-9, abs=1e-300)
    assert float(term_loss(m, "sup", p)) == float(lp_mean(m, p))
    assert float(term_loss(m, "l2", p)) == pytest.approx(float(np.mean(np.square(values))), rel=1e-12)


@settings(max_examples=80, deadline=None)
@given(values=magnitude_lists, p=st.floats(2.0, 1e4))
def test_lp_mean_lies_between_n_to_the_minus_1_over_p_max_and_max(values: list[float], p: float) -> None:
    """max n^(-1/p) <= (mean m^p)^(1/p) <= max: the loss tends to the sup as p grows."""
    m = torch.tensor(values, dtype=F64)
    top = max(values)
    got = float(lp_mean(m, p))
    assert got <= top * (1 + 1e-12)
    assert got >= top * len(values) ** (-1.0 / p) * (1 - 1e-12)


def test_lp_mean_does_not_overflow_at_large_p() -> None:
    m = torch.tensor([1e200, 5e199, 1.0], dtype=F64)
    assert math.isfinite(float(lp_mean(m, P_MAX)))
    assert float(lp_mean(m, P_MAX)) == pytest.approx(1e200 * 3 ** (-1 / P_MAX), rel=1e-6)


@settings(max_examples=60, deadline=None)
@given(values=magnitude_lists)
def test_reported_figure_is_the_sample_sup_or_the_mean_square(values: list[float]) -> None:
    m = torch.tensor(values, dtype=F64)
    assert reported(m, "sup") == max(values)
    assert reported(m, "l2") == pytest.approx(float(np.mean(np.square(values))), rel=1e-12)


SPEC: dict[str, Any] = {
    "problem": {
        "kind": "first_order",
        "dimension": 1,
        "time": {"start": 0.0, "end": 1.0},
        "domain": {"box": {"lower": [0.0], "upper": [6.283185307179586]}},
        "equation": "u_t + u_x0",
        "conditions": [
            {"type": "initial", "value": "sin(x0)"},
            {"type": "dirichlet", "on": "x0=lower", "value": "sin(-t)"},
        ],
        "exact": "sin(x0 - t)",
    },
    "network": {"hidden": [12, 12]},
    "training": {"steps": 40, "points": {"interior": 96, "boundary": 24}, "optimizer": "adam"},
}


def _trainer() -> Trainer:
    spec = JobSpec.model_validate(SPEC)
    return Trainer(problem_of(spec.problem), spec.network, spec.training)


def test_training_reports_the_max_residual_of_every_term() -> None:
    """A finished run's ``terms`` are max_i |r_i| on the final points, term by term."""
    trainer = _trainer()
    result = trainer.run()
    with torch.no_grad():
        magnitudes, _ = trainer._magnitudes(trainer.points)
    assert set(result.terms) == set(magnitudes) and len(magnitudes) >= 3
    for name, m in magnitudes.items():
        assert result.terms[name] == float(m.max()), name
        assert result.terms[name] > float(m.mean()), name  # the sup, not a mean
    assert result.final_loss == pytest.approx(sum(result.terms.values()), rel=1e-12)


def test_the_last_step_minimizes_the_l64_mean_and_the_first_the_l2_mean() -> None:
    trainer = _trainer()
    steps = trainer.training.steps
    with torch.no_grad():
        magnitudes, _ = trainer._magnitudes(trainer.points)
        last, _, _ = trainer._loss(trainer.points, steps, steps)
        first, _, _ = trainer._loss(trainer.points, 0, steps)
    assert not trainer.problem.selection
    assert float(last) == pytest.approx(sum(float(lp_mean(m, P_MAX)) for m in magnitudes.values()), rel=1e-6)
    assert float(first) == pytest.approx(sum(float(lp_mean(m, 2.0)) for m in magnitudes.values()), rel=1e-6)
    assert float(last) > float(first)  # p = 64 weighs the worst points: a larger figure
