"""The one validation message a bad spec gets, as the user reads it: "field: message"."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from solver import JobSpec
from solver.spec_errors import friendly_errors


def one_message(spec: dict[str, Any]) -> str:
    """Validate ``spec``, which must fail with exactly one error; that error as text."""
    with pytest.raises(ValidationError) as info:
        JobSpec.model_validate(spec)
    errors = friendly_errors(info.value.errors())
    assert len(errors) == 1, errors
    return f"{errors[0]['field']}: {errors[0]['message']}"
