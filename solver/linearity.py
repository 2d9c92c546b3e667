"""Whether a first_order equation is a linear transport operator, and its characteristics.

F(t, x, u, u_t, grad u) is a *linear transport operator* where it is affine in (u_t, grad u)
with a gradient that depends on neither them nor u:

    F = a(t, x) u_t + c(t, x) . grad u + g(t, x, u).

Its characteristics are the curves dz/ds = v(z), v = (a, c) = (dF/du_t, dF/d grad u), and
any function constant along them, u = G(w . z) with w . v = 0, makes the derivative part of
F vanish.  solver.basis lays features along them; Burgers (u u_x) or Hamilton-Jacobi
(u_x^2) equations are not linear transport: their characteristics depend on the solution.
"""

from __future__ import annotations

import torch
from torch import Tensor

from solver.domains import DTYPE
from solver.expressions import Expression, space_env

#: how many probes of (u, u_t, grad u) the test compares
PROBES = 2


def transport_velocity(equation: Expression, dimension: int, t: Tensor, x: Tensor) -> Tensor | None:
    """v = (dF/du_t, dF/d grad u) at the points (t of shape (n,), x of shape (n, d)) as an
    (n, 1 + d) tensor, or None where F is not a linear transport operator (module
    docstring): the gradient is taken at PROBES random (u, u_t, grad u) and must agree, be
    finite and not vanish everywhere."""
    gen = torch.Generator().manual_seed(0)
    n = x.shape[0]
    gradients = []
    for _ in range(PROBES):
        u = torch.randn(n, dtype=DTYPE, generator=gen)
        p = torch.randn(n, 1 + dimension, dtype=DTYPE, generator=gen).requires_grad_(True)
        env = space_env(t.to(DTYPE), x.to(DTYPE))
        env.update({"u": u, "u_t": p[:, 0], "grad_u": p[:, 1:]})
        env.update({f"u_x{i}": p[:, 1 + i] for i in range(dimension)})
        value = equation.evaluate(env, u)
        if not value.requires_grad:
            return None  # F does not involve the derivatives at all
        (grad,) = torch.autograd.grad(value.sum(), p, allow_unused=True)
        if grad is None:
            return None
        gradients.append(grad.detach())
    first = gradients[0]
    if not bool(torch.isfinite(first).all()) or not bool((first.abs().sum(1) > 0).all()):
        return None
    if not all(torch.allclose(first, other, rtol=1e-9, atol=1e-12) for other in gradients[1:]):
        return None
    return first


def constant_speed(v: Tensor) -> bool:
    """Whether the characteristic direction v (n, 1 + d) is the same at every point (to
    rounding): the characteristics are then parallel straight lines."""
    return bool(torch.allclose(v, v[:1].expand_as(v), rtol=1e-12, atol=1e-14))


__all__ = ["PROBES", "constant_speed", "transport_velocity"]
