"""Plot routes over HTTP: real PNGs whose pixels follow the model, tenant rules, bad parameters."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from matplotlib.image import imread
from numpy.typing import NDArray

from service.jobs.store import JobStore
from solver.training import LossRecord
from tests.service.conftest import ALICE, BOB, ROOT, in_process_client, register_model, tiny_spec


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("plot-data")


@pytest.fixture(scope="module")
def client(data_dir: Path) -> Iterator[TestClient]:
    with in_process_client(data_dir, examples_dir=ROOT / "examples") as test_client:
        yield test_client


@pytest.fixture(scope="module")
def models(client: TestClient, data_dir: Path) -> dict[str, str]:
    """A good and a bad model of the same problem (400 steps against 2), and a whole-space one."""
    good, _ = register_model(client, data_dir, tiny_spec(400, name="good"))
    bad, _ = register_model(client, data_dir, tiny_spec(2, name="bad"))
    spec = json.loads((ROOT / "examples" / "extra" / "gbm-1d.json").read_text())
    spec["network"]["hidden"] = [16, 16]
    spec["training"].update({"steps": 60, "points": {"interior": 256, "boundary": 32}})
    whole, _ = register_model(client, data_dir, spec)
    return {"good": good, "bad": bad, "whole": whole}


def png(response: Any) -> NDArray[np.float64]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n"
    pixels: NDArray[np.float64] = imread(io.BytesIO(response.content), format="png")
    return pixels


def not_blank(pixels: NDArray[np.float64]) -> bool:
    """More than a background: many distinct colours and a real spread."""
    flat = pixels[..., :3].reshape(-1, 3)
    return len(np.unique(flat, axis=0)) > 50 and float(flat.std()) > 0.05


def _error(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code
    message: str = body["error"]["message"]
    return message


@pytest.mark.parametrize("kind", ["solution", "error", "gradient_error", "loss"])
def test_every_kind_is_a_real_image(client: TestClient, models: dict[str, str], kind: str) -> None:
    pixels = png(client.get(f"/v1/models/{models['good']}/plot.png", params={"kind": kind}, headers=ALICE))
    assert pixels.shape[0] > 200 and pixels.shape[1] > 300 and not_blank(pixels)


def test_a_good_and_a_bad_model_give_different_pictures(client: TestClient, models: dict[str, str]) -> None:
    for kind in ("solution", "error"):
        good = png(client.get(f"/v1/models/{models['good']}/plot.png?kind={kind}", headers=ALICE))
        bad = png(client.get(f"/v1/models/{models['bad']}/plot.png?kind={kind}", headers=ALICE))
        assert good.shape == bad.shape
        changed = np.abs(good - bad).max(axis=-1) > 0.1
        assert changed.mean() > 0.01, f"{kind}: only {changed.mean():.2%} of the pixels differ"
    # and one model drawn twice is the same picture (deterministic)
    again = png(client.get(f"/v1/models/{models['bad']}/plot.png?kind=error", headers=ALICE))
    assert np.array_equal(again, bad)


def test_slices_and_time_lists_change_the_picture(client: TestClient, models: dict[str, str]) -> None:
    url = f"/v1/models/{models['good']}/plot.png"
    lines = png(client.get(url, headers=ALICE))
    image = png(client.get(url, params={"x": "x0", "y": "t"}, headers=ALICE))
    one_time = png(client.get(url, params={"at": "t:0.5"}, headers=ALICE))
    assert not_blank(image) and not_blank(one_time)
    assert lines.shape != image.shape or not np.array_equal(lines, image)
    assert lines.shape != one_time.shape or not np.array_equal(lines, one_time)


def test_whole_space_bound_plot(client: TestClient, models: dict[str, str]) -> None:
    pixels = png(
        client.get(
            f"/v1/models/{models['whole']}/plot.png",
            params={"kind": "bound", "reach": 50, "direction": "-1"},
            headers=ALICE,
        )
    )
    assert not_blank(pixels)
    message = _error(
        client.get(f"/v1/models/{models['good']}/plot.png?kind=bound", headers=ALICE), 422, "invalid_plot"
    )
    assert "whole-space" in message


@pytest.mark.parametrize(
    ("params", "code", "needle"),
    [
        ({"kind": "contour"}, "validation_error", "kind"),
        ({"x": "x7"}, "invalid_plot", "t, x0"),
        ({"x": "t", "y": "t"}, "invalid_plot", "two different"),
        ({"at": "x0:1"}, "invalid_plot", "on an axis"),
        ({"at": "t=1"}, "invalid_plot", "NAME:VALUE"),
        ({"times": "0,soon"}, "invalid_plot", "'soon' is not a number"),
        ({"times": "0,nan"}, "invalid_plot", "finite"),
        ({"times": ",".join(["0.5"] * 7)}, "invalid_plot", "1 to 6"),
        ({"resolution": 1}, "validation_error", "resolution"),
        ({"resolution": 100_000}, "validation_error", "resolution"),
        ({"reach": 0.5, "kind": "bound"}, "validation_error", "reach"),
        ({"direction": "1,0"}, "invalid_plot", "kind=bound"),
    ],
)
def test_bad_parameters_get_the_envelope(
    client: TestClient, models: dict[str, str], params: dict[str, Any], code: str, needle: str
) -> None:
    response = client.get(f"/v1/models/{models['good']}/plot.png", params=params, headers=ALICE)
    body_text = response.text
    _error(response, 422, code)
    assert needle in body_text


def test_tenant_rules_hold_for_pictures(client: TestClient, models: dict[str, str]) -> None:
    job_id = client.get(f"/v1/models/{models['good']}", headers=ALICE).json()["job_id"]
    for path in (
        f"/v1/models/{models['good']}/plot.png",
        f"/v1/jobs/{job_id}/loss.png",
        f"/v1/jobs/{job_id}/loss",
    ):
        _error(client.get(path, headers=BOB), 404, "not_found")
        _error(client.get(path), 401, "unauthorized")
    _error(client.get("/v1/models/nope/plot.png", headers=ALICE), 404, "not_found")


def test_loss_curve_of_a_job_follows_its_records(client: TestClient) -> None:
    store: JobStore = client.app.state.store  # type: ignore[attr-defined]
    job_id = client.post("/v1/jobs", json=tiny_spec(100), headers=ALICE).json()["id"]
    empty = png(client.get(f"/v1/jobs/{job_id}/loss.png", headers=ALICE))
    assert client.get(f"/v1/jobs/{job_id}/loss", headers=ALICE).json() == {
        "job_id": job_id,
        "status": "queued",
        "records": [],
    }
    started = store.begin(job_id, "test", 4)
    assert started is not None
    records = [
        LossRecord(s, s / 100, {"pde": 2.0 / (1 + s)}, {"pde": 0.5 / (1 + s)}) for s in range(0, 100, 10)
    ]
    store.report(job_id, started[1], step=90, steps=100, loss=0.1, elapsed_s=0.9, records=records)
    drawn = png(client.get(f"/v1/jobs/{job_id}/loss.png", headers=ALICE))
    assert not_blank(drawn) and not np.array_equal(drawn, empty)
    linear = png(client.get(f"/v1/jobs/{job_id}/loss.png?scale=linear", headers=ALICE))
    assert not np.array_equal(drawn, linear)
    body = client.get(f"/v1/jobs/{job_id}/loss", headers=ALICE).json()
    assert body["status"] == "running"
    assert [r["step"] for r in body["records"]] == list(range(0, 100, 10))
    assert body["records"][3] == records[3].to_json()
    _error(client.get(f"/v1/jobs/{job_id}/loss.png?scale=cubic", headers=ALICE), 422, "validation_error")


def test_dashboard_page_assets_and_examples(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert 'id="api-key"' in page.text and "/dashboard/dashboard.js" in page.text
    script = client.get("/dashboard/dashboard.js")
    assert script.status_code == 200 and "text/javascript" in script.headers["content-type"]
    assert (
        "localStorage" not in script.text and "document.cookie" not in script.text
    )  # the key stays in memory
    _error(client.get("/dashboard/../app.py"), 404, "not_found")
    _error(client.get("/dashboard/settings.py"), 404, "not_found")
    _error(client.get("/v1/examples"), 401, "unauthorized")
    examples = client.get("/v1/examples", headers=ALICE).json()["examples"]
    names = {e["name"] for e in examples}
    assert {"transport-1d", "heat-2d", "extra/gbm-1d"} <= names
    spec = next(e["spec"] for e in examples if e["name"] == "transport-1d")
    assert spec == json.loads((ROOT / "examples" / "transport-1d.json").read_text())


def test_the_clients_plot_is_the_servers_picture(client: TestClient, models: dict[str, str]) -> None:
    """``RemoteModel.plot`` shows the route's PNG pixel for pixel in a matplotlib Figure."""
    import httpx
    from matplotlib.figure import Figure

    from service.client import Client

    url = f"/v1/models/{models['good']}/plot.png"
    transport = httpx.MockTransport(client.send)
    with Client("http://testserver", api_key="alice-key", transport=transport) as remote:
        model = remote.model(models["good"])
        for options, params in (
            ({}, {}),
            ({"at": {"t": 0.5}, "resolution": 50}, {"at": "t:0.5", "resolution": 50}),
            ({"x": "x0", "y": "t"}, {"x": "x0", "y": "t"}),
        ):
            figure = model.plot("solution", **options)
            expected = png(client.get(url, params={"kind": "solution", **params}, headers=ALICE))
            assert isinstance(figure, Figure)
            (image,) = figure.axes[0].get_images()
            np.testing.assert_array_equal(image.get_array(), expected)
            height, width = expected.shape[:2]
            assert tuple(figure.get_size_inches() * figure.dpi) == pytest.approx((width, height))
