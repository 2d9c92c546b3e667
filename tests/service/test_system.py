"""A system model over HTTP and through the client: (n, m) values, (n, m, inputs) gradients,
the model's unknowns, errors per unknown, plots by unknown, bad specs answered 422."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.client import Client
from solver.model import Model
from tests.service.conftest import ALICE, ROOT, in_process_client, register_model, tiny_spec
from tests.service.test_plots import png


def burgers(steps: int = 40) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((ROOT / "examples" / "burgers-1d.json").read_text())
    spec["network"]["hidden"] = [16, 16]
    spec["training"].update({"steps": steps, "points": {"interior": 128, "boundary": 32}})
    return spec


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("system-data")


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    with in_process_client(data_dir) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def models(client: TestClient, data_dir: Path) -> dict[str, tuple[str, Model]]:
    return {
        "system": register_model(client, data_dir, burgers()),
        "scalar": register_model(client, data_dir, tiny_spec(20)),
    }


POINTS = [[0.0, -0.5], [0.5, 0.0], [1.0, 0.75]]


def test_evaluate_answers_one_column_per_unknown(
    client: TestClient, models: dict[str, tuple[str, Model]]
) -> None:
    model_id, model = models["system"]
    response = client.post(f"/v1/models/{model_id}/evaluate", json={"points": POINTS}, headers=ALICE)
    assert response.status_code == 200, response.text
    body = response.json()
    value, gradient = np.asarray(body["value"]), np.asarray(body["gradient"])
    assert value.shape == (3, 2) and gradient.shape == (3, 2, 2)
    local = model.evaluate(np.asarray(POINTS))
    np.testing.assert_allclose(value, local.value, rtol=0, atol=1e-12)
    np.testing.assert_allclose(gradient, local.gradient, rtol=0, atol=1e-12)


def test_the_bulk_form_has_the_same_shapes(client: TestClient, models: dict[str, tuple[str, Model]]) -> None:
    model_id, model = models["system"]
    with Client(base_url="http://testserver", api_key="alice-key", transport=_transport(client)) as remote:
        found = remote.model(model_id)
        assert found.unknowns == ["u", "q"]
        for bulk in (False, True):
            out = found.evaluate(np.asarray(POINTS), bulk=bulk)
            assert out.value is not None and out.gradient is not None
            assert out.value.shape == (3, 2) and out.gradient.shape == (3, 2, 2)
            np.testing.assert_allclose(out.value, model.evaluate(np.asarray(POINTS)).value, atol=1e-12)


def test_the_model_lists_its_unknowns_and_errors_per_unknown(
    client: TestClient, models: dict[str, tuple[str, Model]]
) -> None:
    system = client.get(f"/v1/models/{models['system'][0]}", headers=ALICE).json()
    assert system["unknowns"] == ["u", "q"]
    assert set(system["errors"]["u"]) == {"rel_l2", "linf", "grad_linf"}
    assert set(system["errors"]["q"]) == {"rel_l2", "linf", "grad_linf"}
    assert system["errors"]["linf"] == max(system["errors"]["u"]["linf"], system["errors"]["q"]["linf"])
    scalar = client.get(f"/v1/models/{models['scalar'][0]}", headers=ALICE).json()
    assert scalar["unknowns"] is None
    body = client.post(
        f"/v1/models/{models['scalar'][0]}/evaluate", json={"points": POINTS}, headers=ALICE
    ).json()
    assert np.asarray(body["value"]).shape == (3,) and np.asarray(body["gradient"]).shape == (3, 2)


def test_plots_draw_the_unknown_asked_for(client: TestClient, models: dict[str, tuple[str, Model]]) -> None:
    url = f"/v1/models/{models['system'][0]}/plot.png"
    first = png(client.get(url, headers=ALICE))
    u = png(client.get(url, params={"unknown": "u"}, headers=ALICE))
    q = png(client.get(url, params={"unknown": "q"}, headers=ALICE))
    assert np.array_equal(first, u)
    assert u.shape != q.shape or not np.array_equal(u, q)
    png(client.get(url, params={"unknown": "q", "kind": "error"}, headers=ALICE))
    wrong = client.get(url, params={"unknown": "w"}, headers=ALICE)
    assert wrong.status_code == 422
    assert "'w' is not an unknown of this model; choose one of u, q" in wrong.json()["error"]["message"]


def test_a_bad_system_spec_is_a_422_naming_the_field(client: TestClient) -> None:
    spec = burgers()
    spec["problem"]["conditions"][0].pop("unknown")
    response = client.post("/v1/jobs", json=spec, headers=ALICE)
    assert response.status_code == 422, response.text
    text = json.dumps(response.json())
    assert "names the unknown it constrains" in text


def _transport(client: TestClient) -> httpx.BaseTransport:
    return client._transport  # type: ignore[attr-defined,no-any-return]
