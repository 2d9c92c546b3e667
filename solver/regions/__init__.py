"""Regions of space: one class per kind of domain (box, ball, whole space, polygon, and the
set operations union, intersection and difference), built from a spec's domain by
``region_of``.  See ``solver.regions.region`` for what a region answers."""

from __future__ import annotations

from typing import Any

from solver.regions.ball import Ball
from solver.regions.box import Box
from solver.regions.polygon import Polygon, polygon_problem
from solver.regions.region import TOLERANCE, Region
from solver.regions.set_operations import Difference, Intersection, SetOperation, Union
from solver.regions.whole_space import WholeSpace


def region_of(domain: Any, dimension: int) -> Region:
    """The region of a spec's domain (solver.spec.Domain, or its JSON form as a dict)."""
    data = domain.model_dump() if hasattr(domain, "model_dump") else domain
    if not isinstance(data, dict) or len(data) != 1:
        raise ValueError("a domain is an object with exactly one key")
    ((key, value),) = data.items()
    if key == "box":
        return Box(list(value["lower"]), list(value["upper"]))
    if key == "ball":
        return Ball(list(value["center"]), float(value["radius"]))
    if key == "whole_space":
        return WholeSpace(dimension, float(value["train_radius"]))
    if key == "polygon":
        return Polygon(value["vertices"])
    operations: dict[str, type[Union] | type[Intersection] | type[Difference]] = {
        "union": Union,
        "intersection": Intersection,
        "difference": Difference,
    }
    if key in operations:
        members = [region_of(member, dimension) for member in value]
        if any(isinstance(member, WholeSpace) for member in members):
            raise ValueError(f"a {key} takes boxes, balls, polygons and set operations, not the whole space")
        return operations[key](members)
    raise ValueError(f"unknown domain {key!r}")


__all__ = [
    "TOLERANCE",
    "Ball",
    "Box",
    "Difference",
    "Intersection",
    "Polygon",
    "Region",
    "SetOperation",
    "Union",
    "WholeSpace",
    "polygon_problem",
    "region_of",
]
