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
* for every other kind the trained network of ``TRAINED_HIDDEN``: there random features
  measured worse than training (transport-1d 2.1e-2 against 9.7e-3 at 400 features, heat-2d
  4.3e-2 against 3.5e-2 at 800), because a time-dependent or first-order problem needs
  features adapted to its characteristics.
"""

from __future__ import annotations

import torch

from models import ReLUNetwork
from models.embedding import EmbeddedNetwork
from solver.domains import derived_seed, sobol

#: the hidden widths of a trained network when the spec names none (the earlier default)
TRAINED_HIDDEN = (64, 64, 64)
#: features of the solved basis, by the number of space dimensions (stationary problems)
SOLVED_WIDTH = {1: 400, 2: 1600, 3: 1200}
SOLVED_WIDTH_DEFAULT = 1200
#: features of the solved basis of a kolmogorov problem (its one output keeps the solve cheap)
KOLMOGOROV_WIDTH = 4000
#: the kinds whose auto basis is solved, not trained: stationary divergence-form problems and
#: every kolmogorov problem
SOLVED_KINDS = frozenset({"divergence_form", "kolmogorov"})


def solved_basis(kind: str, has_time: bool) -> bool:
    """Whether a spec of this kind that names no network gets the solved basis."""
    if kind == "kolmogorov":
        return True
    return kind in SOLVED_KINDS and not has_time


def auto_hidden(kind: str, dimension: int, has_time: bool) -> list[int]:
    """The hidden widths the solver chooses for a spec that names none (module docstring)."""
    if kind == "kolmogorov":
        return [KOLMOGOROV_WIDTH]
    if solved_basis(kind, has_time):
        return [SOLVED_WIDTH.get(dimension, SOLVED_WIDTH_DEFAULT)]
    return list(TRAINED_HIDDEN)


def place_features(net: ReLUNetwork, seed: int) -> None:
    """The first layer as a basis of ridge features rho(w . z + b) on the normalized box (of
    an embedded network, its first trainable layer, on the embedded inputs):

    * directions w uniform on the unit sphere (normalized Gaussians), so every feature has
      slope 1 across its breakpoint and the least-squares columns are comparable;
    * breakpoints through scrambled Sobol points p of [-1, 1]^N_0, b = -w . p, which cover
      the box evenly (random uniform points leave gaps and clusters);
    * each feature oriented so that its active side holds the box's center (b >= 0): a
      feature active only on a sliver at the boundary has a column the points barely see,
      and the solve would give it a huge coefficient (measured on a 1-D Poisson problem at
      80 features: rel L2 0.60 with random orientation, a jump at the boundary).
    """
    a, b = net.trainable_layers[0] if isinstance(net, EmbeddedNetwork) else net.layers[0]
    width, inputs = a.shape
    gen = torch.Generator().manual_seed(derived_seed(seed, "basis"))
    directions = torch.randn(width, inputs, dtype=torch.float64, generator=gen)
    directions = directions / directions.norm(dim=1, keepdim=True).clamp_min(1e-12)
    anchors = 2 * sobol(width, inputs, derived_seed(seed, "anchors")) - 1
    bias = -(directions * anchors).sum(1)
    flip = torch.where(bias < 0, -1.0, 1.0).to(torch.float64)
    with torch.no_grad():
        a.copy_((directions * flip.unsqueeze(1)).to(a.dtype))
        b.copy_((bias * flip).to(b.dtype))


__all__ = [
    "KOLMOGOROV_WIDTH",
    "SOLVED_KINDS",
    "SOLVED_WIDTH",
    "TRAINED_HIDDEN",
    "auto_hidden",
    "place_features",
    "solved_basis",
]
