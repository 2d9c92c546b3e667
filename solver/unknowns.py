"""The unknowns of a ``system`` problem: their names and the names their equations may use.

A system has m unknowns N_1..N_m, one network output each.  An equation may use, for every
unknown N, the value ``N``, the time derivative ``N_t`` (problems with time), the partial
derivatives ``N_x0 .. N_x{d-1}`` and the vector ``grad_N``, beside the space names (t,
x0.., x, y, z for d <= 3, x_vec), the constants and the functions of ``solver.expressions``.
The derivatives are the exact D Phi rows of the network (docs/solver.md, "Residuals"): a system is
written first order, and a second derivative is a new unknown (q = nu u_x, then q_x).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from solver.expressions import CONSTANTS, FUNCTIONS, Kind, space_names
from solver.spec_errors import suggestion

MAX_UNKNOWNS = 16
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
#: Names an unknown may not take: the space and time names in any dimension, the keys of a
#: system's ``errors`` (its aggregate figures sit beside one entry per unknown).
RESERVED = frozenset({"t", "x", "y", "z", "x_vec", "rel_l2", "linf", "grad_linf", "n_points"})
SPACE_INDEX = re.compile(r"^x\d+$")


def derived_names(unknown: str, dimension: int, has_time: bool) -> dict[str, Kind]:
    """N, N_x0 .. N_x{d-1}, grad_N and, with time, N_t."""
    names: dict[str, Kind] = {unknown: "scalar", f"grad_{unknown}": "vector"}
    names.update({f"{unknown}_x{i}": "scalar" for i in range(dimension)})
    if has_time:
        names[f"{unknown}_t"] = "scalar"
    return names


def system_names(unknowns: Sequence[str], dimension: int, has_time: bool) -> dict[str, Kind]:
    """Every name a system's equations may use: the space names plus each unknown's names."""
    names = space_names(dimension, has_time)
    for unknown in unknowns:
        names.update(derived_names(unknown, dimension, has_time))
    return names


def check_unknowns(unknowns: Sequence[str], dimension: int, has_time: bool) -> None:
    """Each name is an identifier, given once, and clashes with nothing built in nor with the
    derived names of another unknown (``u`` and ``u_t`` would both mean u_t)."""
    if not 1 <= len(unknowns) <= MAX_UNKNOWNS:
        raise ValueError(f"unknowns: give 1 to {MAX_UNKNOWNS} names, got {len(unknowns)}")
    seen: dict[str, str] = {}  # every name in use -> the unknown it belongs to
    for index, name in enumerate(unknowns):
        where = f"unknowns[{index}]"
        if not IDENTIFIER.match(name):
            raise ValueError(
                f"{where}: {name!r} is not a name; use letters, digits and '_' (at most 64), not "
                "starting with a digit, e.g. 'u', 'q', 'vel_x'"
            )
        if name in RESERVED or SPACE_INDEX.match(name) or name in CONSTANTS or name in FUNCTIONS:
            raise ValueError(
                f"{where}: {name!r} is a built-in name (a coordinate, constant, function or "
                "error key); choose another, e.g. 'u', 'q', 'p'"
            )
        if name in unknowns[:index]:
            raise ValueError(f"{where}: {name!r} is given twice; give each unknown once")
        for derived in derived_names(name, dimension, has_time):
            if derived in seen:
                other = seen[derived]
                raise ValueError(
                    f"{where}: {name!r} clashes with {other!r}: both define the name {derived!r}; "
                    "rename one of them"
                )
            seen[derived] = name


def unknown_of_name(name: str, unknowns: Sequence[str], dimension: int, has_time: bool) -> str | None:
    """The unknown whose value or derivative ``name`` is, or None (a space name)."""
    for unknown in unknowns:
        if name in derived_names(unknown, dimension, has_time):
            return unknown
    return None


def check_condition_unknown(given: str | None, unknowns: Sequence[str], where: str) -> int:
    """The index of the unknown a condition of a system constrains."""
    listed = ", ".join(repr(u) for u in unknowns)
    if given is None:
        raise ValueError(
            f"{where}.unknown: a condition of a system names the unknown it constrains; add "
            f'"unknown": one of {listed}'
        )
    if given not in unknowns:
        raise ValueError(
            f"{where}.unknown: {given!r} is not an unknown{suggestion(given, unknowns)}; the unknowns "
            f"are {listed}"
        )
    return list(unknowns).index(given)


__all__ = [
    "MAX_UNKNOWNS",
    "check_condition_unknown",
    "check_unknowns",
    "derived_names",
    "system_names",
    "unknown_of_name",
]
