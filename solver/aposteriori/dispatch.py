"""Choose the estimator of a problem's kind (one module per kind)."""

from __future__ import annotations

from models import ReLUNetwork
from solver.aposteriori.bound import ErrorBound, no_guarantee
from solver.kinds import DivergenceFormProblem, FirstOrderProblem, KolmogorovProblem
from solver.problems import PDEProblem
from solver.spec import System

#: The region kinds the estimators are built for (their constants, lifts and certificates).
ESTIMATED_REGIONS = ("box", "ball", "whole")


def error_bounds(
    network: ReLUNetwork, problem: PDEProblem, seed: int, effort: float = 1.0
) -> list[ErrorBound]:
    """The bounds of ``network`` (physical coordinates, float64; outputs (u, sigma) for a
    divergence-form problem) as a solution of ``problem``; never reads ``exact``.

    ``effort`` in (0, 1] scales the work of the certificates and Monte Carlo references
    (cells examined, reference points), so that a short training gets a proportionally
    cheaper estimate (``effort_of``); the bounds hold at every effort, a smaller one is
    only looser."""
    if not 0.0 < effort <= 1.0:
        raise ValueError(f"effort must lie in (0, 1], got {effort}")
    spec = problem.spec
    if isinstance(spec, System):
        return no_guarantee(
            "a general first-order system has no error estimator yet; its sampled residuals "
            "(metrics['terms']) indicate the error without bounding it"
        )
    if problem.region.kind not in ESTIMATED_REGIONS:
        return no_guarantee(
            f"the estimators need a box, a ball or the whole space; this domain is a {problem.region.kind}"
        )
    if problem.periodic_axes:
        return no_guarantee("the estimators do not handle periodic conditions yet")
    if isinstance(problem, FirstOrderProblem):
        from solver.aposteriori import hamilton_jacobi, transport

        if transport.applies(problem):
            return transport.bounds(network, problem, seed, effort)
        return hamilton_jacobi.bounds(network, problem, seed)
    if isinstance(problem, DivergenceFormProblem):
        from solver.aposteriori import energy

        return energy.bounds(network, problem, seed, effort)
    if not isinstance(problem, KolmogorovProblem):
        raise TypeError(f"no estimator for {type(problem).__name__}")  # pragma: no cover
    from solver.aposteriori import kolmogorov

    return kolmogorov.bounds(network, problem, seed, effort)


FULL_EFFORT_STEPS = 3000  # trainings at least this long get the full estimate


def effort_of(steps: int) -> float:
    """The estimate's effort for a training of ``steps`` optimizer steps: steps / 3000, in
    [1/32, 1] (the examples train 3000-5000 steps and get the full estimate)."""
    return min(1.0, max(1.0 / 32.0, steps / FULL_EFFORT_STEPS))
