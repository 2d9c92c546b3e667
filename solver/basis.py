"""The network a spec gets when it names none: the solver's choice of basis per kind.

Where the output layer is solved (``solver.output_layer``) the hidden part is a basis, not a
trained map, and what matters is how many features it has and where their breakpoints lie.
A spec without ``network.hidden`` (or with ``"network": "auto"``) gets:

* for a stationary divergence-form problem, one hidden layer of ``SOLVED_WIDTH[d]`` ReLU
  ridge features (``place_features``) and the output layer solved by least squares
  (Gauss-Newton where K depends on u): the ``"ls"`` pipeline.  Measured on the examples
  (BENCHMARKS.md, "The solved output layer"), 1,600 features: poisson-2d 9.7e-4 against
  3.1e-2 trained, lshape-poisson 1.5e-3 against 1.4e-1, nonlinear-diffusion-2d 1.0e-3
  against 5.1e-2.
* for a kolmogorov problem, ``KOLMOGOROV_WIDTH`` features and the regression on the
  Feynman-Kac targets solved (one output, so a wide basis is cheap): heat-kolmogorov-5d
  5.8e-3 against 1.5e-2 trained.
* for a linear transport problem in one space dimension (``solver.linearity``),
  ``TRANSPORT_WIDTH`` features, nine in ten laid along the characteristics
  (``place_features``): transport-1d 2.7e-5 .. 6.2e-5 on three seeds against 4.9e-3 ..
  9.7e-3 trained, in a fifth of the time; with periodic waves sheared along the
  characteristics (solver.periodic) convection-periodic 2.2e-4 against 1.0.
* for a time-dependent divergence-form problem in 1-D or 2-D, ``TIME_DEPENDENT_WIDTH``
  features of space-time: heat-2d 2.2e-2 against 4.3e-2 trained, heat-varcoef-1d 4.3e-3
  against 2.4e-2.
* for a system, ``SYSTEM_UNKNOWNS`` output-layer unknowns shared by its unknowns, solved by
  Gauss-Newton: burgers-1d u 1.4e-2 against 7.5e-2 trained, kovasznay-2d u / v 3.8e-2 /
  9.4e-2 against 0.58 / 0.96.
* for every other kind (eikonal, Hamilton-Jacobi, nonlinear or 2-D non-periodic transport)
  the trained network of ``TRAINED_HIDDEN``: there the solved basis measured worse (eikonal-2d
  0.72 at 1,600 features, a wrong solution: the least-squares fit does not select the
  viscosity solution; a 2-D transported pyramid 3.0e-2 against 1.6e-2).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from models import ReLUNetwork
from models.embedding import EmbeddedNetwork
from solver.domains import derived_seed, sobol
from solver.linearity import constant_speed

#: the hidden widths of a trained network when the spec names none (the earlier default)
TRAINED_HIDDEN = (64, 64, 64)
#: features of the solved basis, by the number of space dimensions (stationary problems)
SOLVED_WIDTH = {1: 400, 2: 1600, 3: 1200}
SOLVED_WIDTH_DEFAULT = 1200
#: features of the solved basis of a kolmogorov problem (its one output keeps the solve cheap)
KOLMOGOROV_WIDTH = 4000
#: features of the solved basis of a linear transport problem, by space dimension (one
#: output: the features are its unknowns).  In 2-D only where the speed is constant and every
#: axis periodic (the waves then follow the characteristics, solver.periodic): there 3,200
#: features reached 8.2e-3 in 36 s against 2.7e-2 trained; on a box, 3,200 aligned features
#: fitted a transported pyramid worse than training (transport-hat-2d rel L2 3.0e-2 against
#: 1.6e-2) and a transported kink as well (6.6e-3 against 7.0e-3).
TRANSPORT_WIDTH = {1: 1600, 2: 3200}
#: features of the solved basis of a time-dependent divergence-form problem, by space
#: dimension (the inputs are one more): heat-2d at 1,200 features 3.5e-2, at 2,400 2.2e-2 in
#: 95 s, against 4.3e-2 trained.  Beyond 2-D the width a space-time basis needs leaves the
#: time budget, and the trained network stays.
TIME_DEPENDENT_WIDTH = {1: 1600, 2: 2400}
#: output-layer unknowns of the solved basis of a system, shared by its unknowns (every one
#: has one output): burgers-1d (2 unknowns) gets 1,600 features, kovasznay-2d (4) 800.  The
#: solve is Gauss-Newton over all of them at once, its cost ~ unknowns^3: kovasznay-2d at
#: 1,600 features (6,404 unknowns) took 194 s.
SYSTEM_UNKNOWNS = 3200
SYSTEM_MIN_WIDTH = 400
#: the kinds whose auto basis is solved, not trained: stationary divergence-form problems and
#: every kolmogorov problem
SOLVED_KINDS = frozenset({"divergence_form", "kolmogorov"})
#: the share of features laid along the characteristics of a linear transport problem
#: (``place_features``); the rest keep random directions for a source's time dependence
ALIGNED_FRACTION = 0.9


def solved_basis(
    kind: str, dimension: int, has_time: bool, transport: bool = False, periodic_transport: bool = False
) -> bool:
    """Whether a spec of this kind that names no network gets the solved basis (``transport``:
    a first_order equation that is linear transport, solver.linearity, in one space
    dimension; ``periodic_transport``: at constant speed and periodic in every axis, in the
    dimensions of ``TRANSPORT_WIDTH``)."""
    if kind in ("kolmogorov", "system") or (transport and dimension == 1):
        return True
    if periodic_transport and dimension in TRANSPORT_WIDTH:
        return True
    if kind == "divergence_form" and has_time:
        return dimension in TIME_DEPENDENT_WIDTH
    return kind in SOLVED_KINDS


def auto_hidden(
    kind: str,
    dimension: int,
    has_time: bool,
    transport: bool = False,
    periodic_transport: bool = False,
    unknowns: int = 1,
) -> list[int]:
    """The hidden widths the solver chooses for a spec that names none (module docstring);
    ``unknowns``: a system's number of unknowns."""
    if kind == "kolmogorov":
        return [KOLMOGOROV_WIDTH]
    if kind == "system":
        return [max(SYSTEM_MIN_WIDTH, SYSTEM_UNKNOWNS // max(unknowns, 1))]
    if solved_basis(kind, dimension, has_time, transport, periodic_transport):
        if kind == "divergence_form" and has_time:
            return [TIME_DEPENDENT_WIDTH[dimension]]
        if transport:
            return [TRANSPORT_WIDTH[dimension]]
        return [SOLVED_WIDTH.get(dimension, SOLVED_WIDTH_DEFAULT)]
    return list(TRAINED_HIDDEN)


def place_features(
    net: ReLUNetwork, seed: int, velocity: Callable[[Tensor], Tensor | None] | None = None
) -> None:
    """The first layer as a basis of ridge features rho(w . z + b) on the normalized box (of
    an embedded network, its first trainable layer, on the embedded inputs):

    * directions w uniform on the unit sphere (normalized Gaussians), so every feature has
      slope 1 across its breakpoint and the least-squares columns are comparable;
    * breakpoints through scrambled Sobol points p of [-1, 1]^N_0, b = -w . p, which cover
      the box evenly (random uniform points leave gaps and clusters);
    * each feature oriented so that its active side holds the box's center (b >= 0): a
      feature active only on a sliver at the boundary has a column the points barely see,
      and the solve would give it a huge coefficient (measured on a 1-D Poisson problem at
      80 features: rel L2 0.60 with random orientation, a jump at the boundary);
    * for a linear transport problem (``velocity`` maps the normalized anchors to the
      characteristic direction v there, in normalized coordinates, or None), the first
      ``ALIGNED_FRACTION`` of the features take directions w projected orthogonal to v at
      their anchor: rho(w . z + b) is then constant along the characteristic through the
      anchor, so near it the feature solves the homogeneous equation, and the solve only
      fits the data (u(t, x) = g(x - c t) of constant speed c is then a 1-D piecewise
      linear interpolant of g in x - c t).  Where the speed is the same at every anchor,
      the aligned features' breakpoints are spread evenly over the range of w . z on the box
      instead of through the anchors, whose projections crowd the middle of that range.
      For an embedded (periodic) network the velocity is given in its embedded inputs:
      with a sheared embedding (solver.periodic) it is the embedded time axis.
      Measured on transport-1d at 1,600 features (rel L2 / L-inf): random directions
      4.3e-3 / 1.4e-2; 75 % aligned through anchors 7.7e-4 / 1.6e-2; 90 % aligned with
      even breakpoints 2.8e-5 / 1.0e-4; 100 % 1.3e-5 / 8.5e-5 (a source's time dependence
      needs the random tenth).
    """
    a, b = net.trainable_layers[0] if isinstance(net, EmbeddedNetwork) else net.layers[0]
    width, inputs = a.shape
    gen = torch.Generator().manual_seed(derived_seed(seed, "basis"))
    directions = torch.randn(width, inputs, dtype=torch.float64, generator=gen)
    directions = directions / directions.norm(dim=1, keepdim=True).clamp_min(1e-12)
    anchors = 2 * sobol(width, inputs, derived_seed(seed, "anchors")) - 1
    v = velocity(anchors) if velocity is not None else None
    if v is not None:
        aligned = round(ALIGNED_FRACTION * width)
        unit = v[:aligned] / v[:aligned].norm(dim=1, keepdim=True).clamp_min(1e-300)
        projected = directions[:aligned] - (directions[:aligned] * unit).sum(1, keepdim=True) * unit
        directions[:aligned] = projected / projected.norm(dim=1, keepdim=True).clamp_min(1e-12)
    bias = -(directions * anchors).sum(1)
    if v is not None and constant_speed(v):
        # a constant speed: an aligned feature is a function of s = w . z alone, and its
        # breakpoints cover the range [-|w|_1, |w|_1] of s over the box evenly
        reach = directions[:aligned].abs().sum(1)
        strata = torch.randperm(aligned, generator=gen).to(torch.float64)
        levels = (2 * strata + 1) / aligned - 1
        bias[:aligned] = -(levels * reach)
    flip = torch.where(bias < 0, -1.0, 1.0).to(torch.float64)
    with torch.no_grad():
        a.copy_((directions * flip.unsqueeze(1)).to(a.dtype))
        b.copy_((bias * flip).to(b.dtype))


__all__ = [
    "ALIGNED_FRACTION",
    "KOLMOGOROV_WIDTH",
    "SOLVED_KINDS",
    "SOLVED_WIDTH",
    "SYSTEM_UNKNOWNS",
    "TIME_DEPENDENT_WIDTH",
    "TRAINED_HIDDEN",
    "TRANSPORT_WIDTH",
    "auto_hidden",
    "place_features",
    "solved_basis",
]
