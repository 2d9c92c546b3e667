"""Schemathesis over the job routes, POST /v1/jobs included, on an app whose limits keep every
job it accepts tiny: ``max_steps`` 50, ``max_time_limit_s`` 5, ``max_parameters`` 2,000 and
``max_points`` 1,000 (RELUPDE_MAX_STEPS, RELUPDE_MAX_TIME_LIMIT_S, RELUPDE_MAX_PARAMETERS,
RELUPDE_MAX_POINTS), and ``max_active_jobs`` 10.

Proven here: no request gets a 5xx; every error carries the envelope; a 429 too_many_jobs
(once the fuzzing has queued 10 jobs) carries Retry-After; and every job spec accepted
(202/200 from POST /v1/jobs, 200 from POST /v1/specs/validate) is within the caps.
Generated specs are mostly invalid problems, so in the fuzzing phase most JSON bodies of
these two routes are a real problem (transport-1d shrunk) with training within the caps or
over one of them (or the generated ``training`` section): once the module's tests passed,
both accepted specs and refusals by a cap (``type`` ``server_cap``) are shown to have
happened.  The app runs with its dispatcher and one worker process (one torch thread), so
the generated jobs it accepts are trained while the fuzzing goes on: the job routes are
exercised on queued, running, finished and failed jobs alike.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.python.asgi import shutdown_lifespans

from service.app import create_app
from service.jobs.store import JobStore
from service.settings import Settings
from tests.service.conftest import tiny_spec

HEADERS = {"Authorization": "Bearer fuzz-key"}
MAX_STEPS = 50
MAX_TIME_LIMIT_S = 5.0
MAX_PARAMETERS = 2_000
MAX_POINTS = 1_000
DATA = Path(tempfile.mkdtemp(prefix="relupde-fuzz-jobs-"))
APP = create_app(
    Settings(
        data_dir=DATA,
        database_url=f"sqlite:///{DATA / 'jobs.sqlite3'}",
        api_keys={"fuzz-key": "fuzz"},
        max_steps=MAX_STEPS,
        max_time_limit_s=MAX_TIME_LIMIT_S,
        max_parameters=MAX_PARAMETERS,
        max_points=MAX_POINTS,
        max_active_jobs=10,
        workers=1,
        torch_threads=1,
    ),
)
# the document straight from the app: from_asgi would fetch it inside a lifespan, starting
# (and stopping) a whole worker cluster only to read it
_loaded = schemathesis.openapi.from_dict(APP.openapi())
_loaded.app = APP
schema = _loaded.include(path_regex=r"^/v1/(jobs|specs)")
SUBMIT = ("POST", "/v1/jobs")
VALIDATE = ("POST", "/v1/specs/validate")

# finished jobs (their event streams end) for every job route; spare queued ones for DELETE
SEEDED: list[str] = []
DISPOSABLE: list[str] = []
# (operation, outcome) -> count: "accepted", or the error code of a 4xx
OUTCOMES: Counter[tuple[tuple[str, str], str]] = Counter()


def _tiny(steps: int = 20) -> dict[str, Any]:
    spec = tiny_spec(steps, hidden=4)
    spec["training"]["time_limit_s"] = 2.0
    return spec


@pytest.fixture(scope="module", autouse=True)
def running_app(request: pytest.FixtureRequest) -> Iterator[None]:
    failed_before = request.session.testsfailed
    with TestClient(APP) as client:
        for index in range(2):
            job = client.post("/v1/jobs", json=_tiny(), headers=HEADERS).json()["id"]
            assert client.post(f"/v1/jobs/{job}/cancel", headers=HEADERS).json()["status"] == "canceled"
            SEEDED.append(job)
            DISPOSABLE.append(client.post("/v1/jobs", json=_tiny(10 + index), headers=HEADERS).json()["id"])
        yield
        store: JobStore = client.app.state.store  # type: ignore[attr-defined]
        # accepted jobs were trained, not only queued (a generous wait: beside the rest of the
        # suite on 2 cores one worker process trains them one after the other)
        deadline = time.monotonic() + 180
        accepted = OUTCOMES[SUBMIT, "accepted"]
        while accepted and not store.count_by_status()["succeeded"] and time.monotonic() < deadline:
            time.sleep(0.5)
        trained = store.count_by_status()
        client.app.state.dispatcher.stop(timeout=120)  # type: ignore[attr-defined]  # before DATA goes
    # schemathesis ran the app's lifespan once more for its own calls (a second dispatcher and
    # worker cluster), kept until the interpreter exits: stop it before its data dir goes
    shutdown_lifespans()
    for thread in threading.enumerate():  # their dispatchers finish their last tick
        if thread.name == "relupde-dispatcher":
            thread.join(120)
    shutil.rmtree(DATA, ignore_errors=True)
    if request.session.testsfailed > failed_before:
        return
    for operation in (SUBMIT, VALIDATE):
        if any(op == operation for op, _ in OUTCOMES):  # the operation ran (not deselected)
            assert OUTCOMES[operation, "accepted"], f"{operation}: no spec accepted: {dict(OUTCOMES)}"
            assert OUTCOMES[operation, "server_cap"], f"{operation}: no cap refused a spec: {dict(OUTCOMES)}"
    if accepted:
        assert trained["succeeded"], f"no generated job was trained to the end: {trained}, {dict(OUTCOMES)}"


def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[dict[str, Any] | None]:
    """job_id: mostly a seeded job (DELETE: a spare queued one), else the generated value."""
    if not path_parameters or "job_id" not in path_parameters:
        return st.just(path_parameters)
    operation = context.operation
    pool = DISPOSABLE if operation is not None and operation.method.upper() == "DELETE" else SEEDED
    return st.fixed_dictionaries(
        {
            **{k: st.just(v) for k, v in path_parameters.items()},
            "job_id": st.sampled_from([*pool, path_parameters["job_id"]]),
        }
    )


WITHIN_CAPS = st.fixed_dictionaries(
    {"steps": st.integers(1, MAX_STEPS), "time_limit_s": st.floats(1e-3, MAX_TIME_LIMIT_S)},
)
OVER_A_CAP = st.one_of(
    st.fixed_dictionaries({"steps": st.integers(MAX_STEPS + 1, 10 * MAX_STEPS)}),
    st.fixed_dictionaries({"time_limit_s": st.floats(MAX_TIME_LIMIT_S, 1e6, exclude_min=True)}),
    st.fixed_dictionaries(
        {
            "optimizer": st.just("adam+lbfgs"),
            "steps": st.just(MAX_STEPS),
            "lbfgs_steps": st.integers(1, MAX_STEPS),
        }
    ),
)


def flatmap_case(
    context: schemathesis.HookContext,
    case: schemathesis.Case,  # type: ignore[type-arg]
) -> st.SearchStrategy[schemathesis.Case]:  # type: ignore[type-arg]
    """A spec body: a real problem with training within the caps or over one of them, the
    body as generated, or the real problem with the generated training section."""
    if (case.operation.method.upper(), case.operation.path) not in (SUBMIT, VALIDATE):
        return st.just(case)
    body = case.body
    generated = body.get("training") if isinstance(body, dict) else None

    def with_training(training: dict[str, Any] | None) -> schemathesis.Case:  # type: ignore[type-arg]
        if training is not None:
            spec = _tiny()
            spec["training"] = {**spec["training"], **training}
            case.body = spec
        return case

    choices: list[st.SearchStrategy[Any]] = [WITHIN_CAPS, OVER_A_CAP, st.just(None)]
    if isinstance(generated, dict):
        choices.append(st.just(generated))
    return st.one_of(*choices).map(with_training)


schema.hook(flatmap_path_parameters)
schema.hook(flatmap_case)


def _within_caps(spec: dict[str, Any]) -> bool:
    training = spec["training"]
    steps = training["steps"] + (training["lbfgs_steps"] if training["optimizer"] == "adam+lbfgs" else 0)
    return bool(steps <= MAX_STEPS and training["time_limit_s"] <= MAX_TIME_LIMIT_S)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_job_routes_never_5xx_and_accept_only_capped_jobs(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
    response = case.call(headers=HEADERS)
    operation = (case.operation.method.upper(), case.operation.path)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])
        OUTCOMES[operation, body["error"]["code"]] += 1
        details = body["error"]["details"]
        if isinstance(details, list) and any(d.get("type") == "server_cap" for d in details):
            OUTCOMES[operation, "server_cap"] += 1
        if body["error"]["code"] == "too_many_jobs":
            [retry_after] = response.headers.get("retry-after", ["missing"])
            assert response.status_code == 429 and int(retry_after) > 0, response.headers
        return
    if case.method.upper() == "POST" and operation in (SUBMIT, VALIDATE):
        spec = response.json()["spec"]
        assert _within_caps(spec), spec["training"]
        OUTCOMES[operation, "accepted"] += 1
