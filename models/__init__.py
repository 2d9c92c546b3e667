"""ReLU networks as parametrizations (docs/models.md).

``ReLUNetwork`` holds Phi = ((A_1, b_1), ..., (A_L, b_L)); ``net(x)`` is the realization
R Phi and ``net.value_and_jacobian(x)`` adds the network derivative
D Phi = A_L Delta_{L-1} A_{L-1} ... Delta_1 A_1.  ``compose``/``parallel`` and friends are
the calculus of parametrizations, ``constructions`` the exact networks of Yarotsky 2017
and Berner et al. 2019
and ``bounds`` certified interval enclosures.  Pure torch: nothing here knows of PDEs,
files or HTTP.
"""

from models import bounds, constructions
from models.activation import Activation
from models.calculus import (
    add,
    affine,
    compose,
    deepen,
    fan_out,
    identity,
    linear_combination,
    parallel,
    scale,
)
from models.network import ReLUNetwork

__all__ = [
    "Activation",
    "ReLUNetwork",
    "add",
    "affine",
    "bounds",
    "compose",
    "constructions",
    "deepen",
    "fan_out",
    "identity",
    "linear_combination",
    "parallel",
    "scale",
]
