"""A-posteriori error bounds computed from the trained network and the problem data alone.

``error_bounds(network, problem, seed)`` returns the ``ErrorBound`` list of a model
(docs/error-estimates.md derives each one); ``exact`` is never read here.  One module per
problem kind:

* ``transport``: first-order linear problems, along the characteristics;
* ``hamilton_jacobi``: first-order nonlinear problems (eikonal), by comparison;
* ``energy``: divergence-form problems, the functional majorant of Repin (2008);
* ``kolmogorov``: Feynman-Kac problems, Monte Carlo references with a control variate.
"""

from solver.aposteriori.bound import (
    CONFIDENCE,
    QUANTITIES,
    ErrorBound,
    conclusion,
    gradient_headline,
    headline,
    ordered,
    verdict,
)
from solver.aposteriori.dispatch import effort_of, error_bounds

__all__ = [
    "CONFIDENCE",
    "QUANTITIES",
    "ErrorBound",
    "conclusion",
    "effort_of",
    "error_bounds",
    "gradient_headline",
    "headline",
    "ordered",
    "verdict",
]
