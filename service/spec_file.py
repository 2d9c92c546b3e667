"""Reading a job spec for the command line: a JSON file plus ``--set a.b=VALUE`` overrides.

An override names a path of keys through the spec (list positions as numbers:
``network.hidden.0=32``) and a value read as JSON when it parses (``32``, ``[32, 32]``,
``true``, ``"text"``) and as plain text otherwise (``problem.source=sin(x)``).  The result
is validated as a ``JobSpec``; every problem is reported as a ``SpecFileError`` whose
message says what to change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from solver import JobSpec
from solver.spec_errors import format_errors


class SpecFileError(ValueError):
    """A spec file that cannot be read, parsed, overridden or validated."""


def parse_value(text: str) -> Any:
    """JSON when it parses, else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Set one ``a.b.c=VALUE`` in the spec data (in place)."""
    path, sep, raw = assignment.partition("=")
    keys = [key.strip() for key in path.split(".")]
    if not sep or not path.strip() or any(not key for key in keys):
        raise SpecFileError(f"--set {assignment!r}: write PATH=VALUE, e.g. --set training.steps=500")
    node: Any = data
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        where = ".".join(keys[: depth + 1])
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise SpecFileError(
                    f"--set {assignment!r}: {where} is not a position of a list of {len(node)}"
                )
            if last:
                node[int(key)] = parse_value(raw)
            else:
                node = node[int(key)]
        elif isinstance(node, dict):
            if last:
                node[key] = parse_value(raw)
            else:
                node = node.setdefault(key, {})
        else:
            raise SpecFileError(f"--set {assignment!r}: {'.'.join(keys[:depth])} is a value, not an object")


def load_spec(path: str | Path, overrides: list[str] | None = None) -> JobSpec:
    """The spec in ``path`` with ``overrides`` applied, validated."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SpecFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise SpecFileError(f"{path} is not JSON: {exc.msg} at {where}") from None
    if not isinstance(data, dict):
        raise SpecFileError(f"{path} must hold a JSON object (the job spec)")
    for assignment in overrides or []:
        apply_override(data, assignment)
    try:
        return JobSpec.model_validate(data)
    except ValidationError as exc:
        count = exc.error_count()
        mistakes = f"{count} mistake{'s' if count > 1 else ''}"
        raise SpecFileError(
            f"{path} is not a valid job spec ({mistakes}):\n{format_errors(exc.errors())}"
        ) from None


def summary(spec: JobSpec) -> str:
    """One line: what the spec asks for."""
    problem = spec.problem
    domain = next(iter(problem.domain.model_dump()))
    time = f", t in [{problem.time.start}, {problem.time.end}]" if problem.time is not None else ""
    hidden = "x".join(str(w) for w in spec.hidden)
    exact = "with" if problem.exact else "without"
    return (
        f"{problem.kind}, dimension {problem.dimension}, {domain}{time}, {len(problem.conditions)} "
        f"condition(s), {exact} exact; network {hidden}, {spec.training.steps} steps"
    )
