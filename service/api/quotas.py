"""The server's limits on jobs (docs/service.md, "Limits"): caps on a job spec, and per-tenant
quotas checked at submit.

* ``check_spec_caps``: ``training.time_limit_s`` over ``RELUPDE_MAX_TIME_LIMIT_S``, more
  steps (Adam + L-BFGS) than ``RELUPDE_MAX_STEPS``, a network of more weights than
  ``RELUPDE_MAX_PARAMETERS`` or a draw of more points than ``RELUPDE_MAX_POINTS``: 422
  ``validation_error`` naming the cap (nothing is clamped silently), for ``POST /v1/jobs``
  and ``POST /v1/specs/validate`` alike;
* ``too_many_jobs``: a tenant with ``RELUPDE_MAX_ACTIVE_JOBS`` jobs queued or running gets
  429 ``too_many_jobs`` with ``Retry-After`` (the store counts, ``JobStore.create_job``);
* ``storage_check``: a tenant whose stored models (``models/<tenant>/``) take more than
  ``RELUPDE_MAX_MODEL_BYTES_PER_TENANT`` bytes gets 429 ``storage_quota_exceeded`` (no
  Retry-After: waiting frees nothing, deleting models does).  429 rather than 507: the
  tenant's quota is full, not the server's disk, and a 5xx would count as a server fault.

An idempotent replay of an existing job is never refused by a quota (it creates nothing).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from service.api.errors import ApiError
from service.jobs.store import TooManyJobsError
from service.settings import ENV_VARIABLES, Settings
from solver import JobSpec
from solver.solve import TOLERANCE_MAX_WIDTH

RETRY_AFTER_S = 30


def spec_steps(spec: JobSpec) -> int:
    """The training steps a spec asks for: Adam, plus the L-BFGS or Levenberg-Marquardt phase."""
    return spec.total_steps


def spec_parameters(spec: JobSpec) -> int:
    """Weights and biases of the spec's network: sum over layers of N_l (N_{l-1} + 1), with
    N_0 = d (+1 with time), the hidden widths the job will have (the spec's or the solver's
    choice; the width cap when it solves to a tolerance) and N_L = 1 (1 + d for
    divergence_form, one per unknown for a system)."""
    problem = spec.problem
    inputs = problem.dimension + (1 if problem.time is not None else 0)
    outputs = 1
    if problem.kind == "divergence_form":
        outputs = 1 + problem.dimension
    elif problem.kind == "system":
        outputs = len(getattr(problem, "unknowns", ()) or ()) or 1
    # solving to a tolerance may grow the basis to its cap: count the largest network it may build
    hidden = [TOLERANCE_MAX_WIDTH] if spec.tolerance is not None else spec.hidden
    widths = [inputs, *hidden, outputs]
    return sum(n_out * (n_in + 1) for n_in, n_out in itertools.pairwise(widths))


def spec_points(spec: JobSpec) -> int:
    """Points of one draw: the interior ones plus the boundary ones of every condition."""
    conditions = len(getattr(spec.problem, "conditions", None) or ())
    return spec.training.points.interior + spec.training.points.boundary * max(1, conditions)


def check_spec_caps(spec: JobSpec, settings: Settings) -> None:
    """422 ``validation_error`` (one detail per cap passed) when the spec asks for more than
    this server allows."""
    problems: list[dict[str, Any]] = []

    def over(field: str, message: str, given: Any) -> None:
        problems.append({"field": field, "message": message, "type": "server_cap", "given": given})

    limit_s = spec.training.time_limit_s
    if limit_s > settings.max_time_limit_s:
        cap = f"{settings.max_time_limit_s:g}"
        over(
            "training.time_limit_s",
            f"{limit_s:g} s is over this server's cap of {cap} s ({ENV_VARIABLES['max_time_limit_s']}); "
            f"ask for {cap} s or less",
            limit_s,
        )
    steps = spec_steps(spec)
    if steps > settings.max_steps:
        over(
            "training.steps",
            f"{steps} training steps (Adam + L-BFGS) are over this server's cap of {settings.max_steps} "
            f"({ENV_VARIABLES['max_steps']}); ask for {settings.max_steps} or fewer",
            steps,
        )
    parameters = spec_parameters(spec)
    if parameters > settings.max_parameters:
        over(
            "network.hidden",
            f"a network of {parameters} weights and biases is over this server's cap of "
            f"{settings.max_parameters} ({ENV_VARIABLES['max_parameters']}); use fewer or narrower "
            "hidden layers",
            [TOLERANCE_MAX_WIDTH] if spec.tolerance is not None else spec.hidden,
        )
    points = spec_points(spec)
    if points > settings.max_points:
        over(
            "training.points",
            f"{points} points per draw (interior + boundary per condition) are over this server's cap "
            f"of {settings.max_points} ({ENV_VARIABLES['max_points']}); ask for fewer",
            points,
        )
    if problems:
        message = f"{problems[0]['field']}: {problems[0]['message']}"
        if len(problems) > 1:
            message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
        raise ApiError(422, "validation_error", message, problems)


def too_many_jobs(exc: TooManyJobsError) -> ApiError:
    return ApiError(
        429,
        "too_many_jobs",
        f"this API key has {exc.active} jobs queued or running, the most this server allows at once "
        f"({exc.limit}); wait for some to finish, or cancel some (POST /v1/jobs/{{id}}/cancel), and "
        f"submit again (try after {RETRY_AFTER_S} s)",
        {"active": exc.active, "limit": exc.limit},
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def stored_bytes(folder: Path, stop_above: int | None = None) -> int:
    """Bytes of the files under ``folder`` (symlinks not followed; 0 when it does not exist),
    counted until the sum passes ``stop_above``."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
        if stop_above is not None and total > stop_above:
            break
    return total


def storage_check(settings: Settings, tenant: str) -> Callable[[], None]:
    """A check for ``JobStore.create_job(admit=...)``: 429 ``storage_quota_exceeded`` when the
    tenant's model folders already take more than the budget."""
    budget = settings.max_model_bytes_per_tenant

    def check() -> None:
        used = stored_bytes(settings.models_dir / tenant, stop_above=budget)
        if used > budget:
            raise ApiError(
                429,
                "storage_quota_exceeded",
                f"the models of this API key take more than {budget} bytes, the most this server "
                "keeps per tenant; delete models you no longer need (DELETE /v1/models/{id}, or "
                "DELETE /v1/jobs/{id} with its model), then submit again",
                {"used_bytes_at_least": used, "limit_bytes": budget},
            )

    return check
