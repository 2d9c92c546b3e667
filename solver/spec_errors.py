"""Validation errors of a job spec in the user's terms: one entry per mistake.

pydantic reports where a value failed in its own terms: union tags in the path
(``problem.divergence_form.conditions.0.dirichlet.value``), "Value error, " prefixes, links
to its documentation.  ``friendly_errors`` turns each error into
``{"field", "message", "type", "given"}`` with

* the path as the user wrote the spec (``problem.domain.box.upper``): no ``body`` prefix, no
  union tags, and the sub-path a checker names in its message (``conditions[0].value: ...``)
  moved into the field;
* the message alone, with close-match suggestions for an unknown ``kind``, condition
  ``type`` or field (``did you mean 'source'?``); types are strict, and a value of the
  wrong type is named with what to write instead (``must be an integer, not the string
  "100"; write it without quotes``);
* what was given, shortened when it is a large sub-object.

``format_errors`` renders them one per line for the command line.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

#: The tags pydantic puts in the path of a discriminated union, by the field that holds it.
UNION_TAGS: dict[str, frozenset[str]] = {
    "problem": frozenset({"first_order", "divergence_form", "kolmogorov", "system"}),
    "domain": frozenset({"box", "ball", "whole_space"}),
}
CONDITION_TAGS = frozenset({"dirichlet", "neumann", "initial", "periodic"})
GIVEN_MAX_CHARS = 300
_WHERE = re.compile(r"^(?P<path>[a-z_]+(?:\[\d+\])*(?:\.[a-z_]+(?:\[\d+\])*)*): (?P<rest>.+)$", re.DOTALL)
_UNION_MEMBER = re.compile(r".*[-\[].*")
#: What a value of each strict type must be (pydantic's error type -> words).
EXPECTED = {
    "int_type": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "list_type": "a list (a JSON array)",
}


def suggestion(word: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _path(loc: Iterable[Any]) -> list[str]:
    """The location without ``body`` and without union tags: a problem kind after
    ``problem``, a domain tag after ``domain`` (it precedes the field of the same name), a
    condition type after ``conditions.N``, and the member of a plain union (``diffusion`` is
    a string or a list of lists: ``constrained-str``, ``list[list[constrained-str]]``)."""
    parts = [str(p) for p in loc]
    if parts[:1] == ["body"]:
        parts = parts[1:]
    out: list[str] = []
    for index, part in enumerate(parts):
        previous = out[-1] if out else None
        following = parts[index + 1] if index + 1 < len(parts) else None
        if previous == "problem" and part in UNION_TAGS["problem"]:
            continue
        if previous == "domain" and part in UNION_TAGS["domain"] and following == part:
            continue
        if len(out) >= 2 and out[-2] == "conditions" and out[-1].isdigit() and part in CONDITION_TAGS:
            continue
        if _UNION_MEMBER.fullmatch(part):  # a member of a plain union: 'constrained-str', 'list[...]'
            continue
        out.append(part)
    return out


def _shortened(value: Any) -> Any:
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        return str(value)[:GIVEN_MAX_CHARS]
    return value if len(text) <= GIVEN_MAX_CHARS else text[:GIVEN_MAX_CHARS] + "..."


def _described(value: Any) -> str:
    """A value as the JSON it came from: ``true``, ``the string "100"``, ``the number 1``."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, str):
        return f"the string {json.dumps(value[:GIVEN_MAX_CHARS])}"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _wrong_type(kind: str, value: Any) -> str:
    """``must be an integer, not the string "100"; write it without quotes``."""
    message = f"must be {EXPECTED[kind]}, not {_described(value)}"
    if kind in ("int_type", "float_type") and isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return message
        return f"{message}; write it without quotes"
    if kind == "int_type" and isinstance(value, float) and value.is_integer():
        return f"{message}; write it without a decimal point"
    if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        return f"{message}; put it in quotes: {json.dumps(str(value))}"
    return message


def _message(error: Mapping[str, Any], field: list[str]) -> tuple[list[str], str]:
    kind = error.get("type", "")
    message = str(error.get("msg", ""))
    context = error.get("ctx") or {}
    if kind == "union_tag_invalid":
        name = str(context.get("discriminator", "kind")).strip("'")
        tag = str(context.get("tag", ""))
        expected = [t.strip(" '") for t in str(context.get("expected_tags", "")).split(",") if t.strip()]
        return (
            field,
            f"unknown {name} {tag!r}{suggestion(tag, expected)}; {name} is one of {', '.join(expected)}",
        )
    if kind == "unknown_field":
        return [*field, str(context.get("field", ""))], message
    if kind == "domain_kind":
        given = error.get("input")
        keys = [str(k) for k in given] if isinstance(given, dict) else []
        hints = "".join(suggestion(k, UNION_TAGS["domain"]) for k in keys if k not in UNION_TAGS["domain"])
        listed = f"; found {', '.join(map(repr, keys))}{hints}" if keys else ""
        return field, f"{message}{listed}"
    if kind in EXPECTED:
        return field, _wrong_type(kind, error.get("input"))
    if kind == "union_tag_not_found":
        name = str(context.get("discriminator", "kind")).strip("'")
        return field, f"{name} is missing"
    if kind == "value_error" and message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    found = _WHERE.match(message)
    if found and kind in ("value_error", "assertion_error"):
        extra = re.sub(r"\[(\d+)\]", r".\1", found.group("path")).split(".")
        if not field or extra[0] != field[-1]:
            return [*field, *extra], found.group("rest")
        return [*field, *extra[1:]], found.group("rest")
    if kind == "extra_forbidden":
        return field, "unknown field"
    return field, message


def friendly_errors(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One ``{"field", "message", "type", "given"}`` per pydantic error (see the module doc)."""
    details: list[dict[str, Any]] = []
    for error in errors:
        field, message = _message(error, _path(error.get("loc", ())))
        details.append(
            {
                "field": ".".join(field) or "spec",
                "message": message,
                "type": error.get("type", ""),
                "given": _shortened(error.get("input")),
            }
        )
    return details


def format_errors(errors: Iterable[Mapping[str, Any]]) -> str:
    """One line per mistake: ``field: message``."""
    return "\n".join(f"  {d['field']}: {d['message']}" for d in friendly_errors(errors))
