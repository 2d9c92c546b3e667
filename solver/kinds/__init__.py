"""One class per problem kind, each a ``solver.problems.PDEProblem``: ``problem_of(spec)``.

* ``FirstOrderProblem``: r = F(t, x, u, u_t, grad u), the viscosity solution selected;
* ``DivergenceFormProblem``: outputs (u, sigma), the flux and balance residuals;
* ``KolmogorovProblem``: Feynman-Kac regression targets for u and grad_x u;
* ``SystemProblem``: one output per unknown, the residuals of its equations.

The base class holds what every kind shares: the region and time slab, the point sets, the
condition residuals (each on the output of its unknown), ``exact`` and the validation points.
"""

from __future__ import annotations

from solver.kinds.divergence_form import DivergenceFormProblem
from solver.kinds.first_order import FirstOrderProblem
from solver.kinds.kolmogorov import KolmogorovProblem
from solver.kinds.system import SystemProblem
from solver.problems import PDEProblem
from solver.spec import DivergenceForm, FirstOrder, Kolmogorov, Problem, System


def problem_of(spec: Problem) -> PDEProblem:
    """The problem of ``spec``'s kind: residuals, point sets and targets."""
    if isinstance(spec, FirstOrder):
        return FirstOrderProblem(spec)
    if isinstance(spec, DivergenceForm):
        return DivergenceFormProblem(spec)
    if isinstance(spec, Kolmogorov):
        return KolmogorovProblem(spec)
    if isinstance(spec, System):
        return SystemProblem(spec)
    raise TypeError(f"no problem class for {type(spec).__name__}")  # pragma: no cover


__all__ = [
    "DivergenceFormProblem",
    "FirstOrderProblem",
    "KolmogorovProblem",
    "PDEProblem",
    "SystemProblem",
    "problem_of",
]
