"""Schemathesis over the whole OpenAPI document, on an app that holds real models and jobs.

Proven here: no request, however odd, gets a 5xx, and every error carries the envelope
``{"error": {"code", "message", "details"}}`` -- also on the model- and job-scoped routes
past their 404: before the fuzzing, tenant ``fuzz`` gets a trained box model (transport-1d
shrunk), a trained whole-space model (heat-kolmogorov-5d shrunk) and the two finished jobs
behind them, plus a job canceled while queued (finished, without a model).  Most generated
cases carry one of these ids in their ``model_id`` / ``job_id`` path parameter (a
hypothesis-drawn choice; the generated value stays possible), and a JSON evaluate body on
a seeded model mostly has its points fitted to the model's inputs.  Once the module's tests
have passed, every operation with a model_id / job_id that ran is shown to have answered at
least one request carrying seeded ids with a 200: the fuzzing got past the 404s into the
routes' own logic (evaluation, plots, loss curves, event streams, artifacts).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from service.app import create_app
from service.settings import Settings
from tests.service.conftest import ROOT, register_model, tiny_spec

HEADERS = {"Authorization": "Bearer fuzz-key"}
TENANT = "fuzz"
DATA = Path(tempfile.mkdtemp(prefix="relupde-fuzz-"))
APP = create_app(
    Settings(data_dir=DATA, database_url=f"sqlite:///{DATA / 'jobs.sqlite3'}", api_keys={"fuzz-key": TENANT}),
    dispatch=False,
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)

# the ids the fuzzer is fed, by path-parameter name (filled by the module fixture)
SEEDED: dict[str, list[str]] = {"model_id": [], "job_id": []}
# ids only DELETE is fed (jobs queued for it); DELETE /v1/models is fuzzed past 404 elsewhere
# (tests/service/test_delete.py), as deleting a seeded model would starve the other routes
DISPOSABLE: dict[str, list[str]] = {"model_id": [], "job_id": []}
# operation -> status -> how many requests that carried seeded ids only got it
SEEDED_STATUSES: defaultdict[str, Counter[int]] = defaultdict(Counter)
RAN: set[str] = set()
# seeded model id -> how many inputs its points have (t first)
MODEL_INPUTS: dict[str, int] = {}


def _whole_space_spec() -> dict[str, Any]:
    """heat-kolmogorov-5d shrunk to a few seconds: a tiny network, a few dozen steps."""
    spec: dict[str, Any] = json.loads((ROOT / "examples" / "heat-kolmogorov-5d.json").read_text())
    spec["name"] = "fuzz-whole-space"
    spec["network"]["hidden"] = [8, 8]
    spec["training"].update({"steps": 30, "points": {"interior": 64, "boundary": 16}, "seed": 1})
    return spec


@pytest.fixture(scope="module", autouse=True)
def running_app(request: pytest.FixtureRequest) -> Iterator[None]:
    """The lifespan (the store) is open while the fuzzer calls; the models and jobs are in it.
    Afterwards, when the module's tests passed: the seeded ids reached the routes' own logic."""
    failed_before = request.session.testsfailed
    with TestClient(APP) as client:
        for spec in (tiny_spec(40, hidden=8, name="fuzz-box"), _whole_space_spec()):
            model_id, model = register_model(client, DATA, spec, tenant=TENANT)
            SEEDED["model_id"].append(model_id)
            MODEL_INPUTS[model_id] = model.n_inputs
        queued = client.post("/v1/jobs", json=tiny_spec(name="fuzz-canceled"), headers=HEADERS)
        assert queued.status_code == 202, queued.text
        canceled = client.post(f"/v1/jobs/{queued.json()['id']}/cancel", headers=HEADERS)
        assert canceled.json()["status"] == "canceled", canceled.text
        jobs = client.get("/v1/jobs", headers=HEADERS).json()["jobs"]
        assert {job["status"] for job in jobs} == {"succeeded", "canceled"}
        assert {job["model_id"] for job in jobs} - {None} == set(SEEDED["model_id"])
        SEEDED["job_id"].extend(job["id"] for job in jobs)
        for index in range(3):
            spare = client.post("/v1/jobs", json=tiny_spec(name=f"fuzz-spare-{index}"), headers=HEADERS)
            DISPOSABLE["job_id"].append(spare.json()["id"])
        yield
    shutil.rmtree(DATA, ignore_errors=True)
    if request.session.testsfailed > failed_before:
        return  # the failures say more than a count of what was reached
    unreached = {"DELETE /v1/models/{model_id}"}  # fed no real id (see DISPOSABLE)
    no_200 = sorted(name for name in RAN - unreached if "_id}" in name and not SEEDED_STATUSES[name][200])
    assert not no_200, f"seeded ids never got a 200 from {no_200}: {dict(SEEDED_STATUSES)}"


def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[dict[str, Any] | None]:
    """Each model_id / job_id: one of the seeded ids, or (less often) the generated value.
    DELETE draws from ids of its own (jobs queued for it; no model), so that it cannot take
    away what the other routes are fuzzed on."""
    if not path_parameters:
        return st.just(path_parameters)
    operation = context.operation
    pool = DISPOSABLE if operation is not None and operation.method.upper() == "DELETE" else SEEDED
    choices = {
        name: st.sampled_from([*pool[name], value]) if pool.get(name) else st.just(value)
        for name, value in path_parameters.items()
    }
    return st.fixed_dictionaries(choices)


def flatmap_case(
    context: schemathesis.HookContext,
    case: schemathesis.Case,  # type: ignore[type-arg]
) -> st.SearchStrategy[schemathesis.Case]:  # type: ignore[type-arg]
    """A JSON evaluate call on a seeded model: mostly, its points cut or padded to the model's
    number of inputs (one point when there were none), so that the call gets past the shape
    check to the evaluation."""
    width = MODEL_INPUTS.get(str(case.path_parameters.get("model_id")))
    body = case.body
    if width is None or not case.operation.path.endswith("/evaluate") or not isinstance(body, dict):
        return st.just(case)
    generated = body.get("points")
    if not isinstance(generated, list):
        return st.just(case)
    points = [
        [*point, *[0.5] * width][:width] if isinstance(point, list) else point for point in generated or [[]]
    ]

    def fitted(fit: bool) -> schemathesis.Case:  # type: ignore[type-arg]
        if fit:
            case.body = {**body, "points": points}
        return case

    return st.sampled_from((True, True, False)).map(fitted)


schema.hook(flatmap_path_parameters)
schema.hook(flatmap_case)


def _carries_seeded_ids(case: schemathesis.Case) -> bool:  # type: ignore[type-arg]
    parameters = case.path_parameters or {}
    known = {name: {*SEEDED.get(name, ()), *DISPOSABLE.get(name, ())} for name in parameters}
    return bool(parameters) and all(value in known[name] for name, value in parameters.items())


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_5xx(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
    response = case.call(headers=HEADERS)
    operation = f"{case.operation.method.upper()} {case.operation.path}"
    RAN.add(operation)
    if case.method.upper() == case.operation.method.upper() and _carries_seeded_ids(case):
        SEEDED_STATUSES[operation][response.status_code] += 1
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])
