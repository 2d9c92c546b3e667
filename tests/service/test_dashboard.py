"""The dashboard driven in headless Chromium.

Uses Playwright's Python package with Debian's Chromium (``/usr/bin/chromium``, or
``RELUPDE_CHROMIUM``); nothing is downloaded.  Without a browser the tests are skipped with a
message, unless ``RELUPDE_REQUIRE_BROWSER=1`` (set by ``.ci/run``, which installs Chromium),
which turns the skip into a failure.

The first test runs a job end to end against a live ``relupde serve`` (with a worker); the
others use one server in this process without workers (jobs stay queued; trained models
are recorded with ``register_model``), one tenant per test.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from matplotlib.image import imread

from service.app import create_app
from service.settings import Settings
from solver.spec import TrainingSpec
from solver.training import LossRecord
from tests.service.conftest import ROOT, register_model, tiny_spec
from tests.service.live import LiveServer

CHROMIUM = os.environ.get("RELUPDE_CHROMIUM", "/usr/bin/chromium")
STEPS = 400
#: transport-1d is a first_order problem: the default optimizer 'auto' adds the
#: Levenberg-Marquardt phase, whose iterations count among the job's steps
LM_STEPS = TrainingSpec().lm_steps
# the in-process server's tenants, by key: one per test
TENANTS = {"key-c": "carol", "key-d": "dave", "key-e": "erin"}
HEADER_ONE_LINE_PX = 64


def _browser_or_skip() -> Any:
    problem = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        problem = "the playwright package is not installed (pip install -e '.[test]')"
    if problem is None and not Path(CHROMIUM).exists():
        problem = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set RELUPDE_CHROMIUM)"
    if problem is not None:
        if os.environ.get("RELUPDE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{problem} (RELUPDE_REQUIRE_BROWSER=1 makes this mandatory)")
        pytest.skip(problem)
    return sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = _browser_or_skip()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def opened(browser: Any, url: str, width: int = 1280) -> Iterator[tuple[Any, list[str]]]:
    """A fresh page at ``url``: (page, the page's uncaught errors)."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(url)
        yield page, errors
    finally:
        page.close()


def connect(page: Any, key: str) -> None:
    from playwright.sync_api import expect

    page.fill("#api-key", key)
    page.click("#connect")
    expect(page.locator("#connection")).to_have_text("connected", timeout=10_000)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    env = {"RELUPDE_API_KEYS": "alice:key-a,bob:key-b", "RELUPDE_EXAMPLES_DIR": str(ROOT / "examples")}
    live = LiveServer(tmp_path / "data", env).start()
    yield live
    live.stop()


@dataclass
class QuietServer:
    """The app without workers, served by uvicorn on a thread of this process."""

    app: FastAPI
    data_dir: Path
    url: str

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def register(self, tenant: str, name: str) -> str:
        """A trained model recorded for ``tenant`` (its job succeeded): the model id."""
        model_id, _ = register_model(TestClient(self.app), self.data_dir, tiny_spec(name=name), tenant)
        return model_id


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QuietServer]:
    data_dir = tmp_path_factory.mktemp("dashboard")
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'jobs.sqlite3'}",
        api_keys=TENANTS,
        examples_dir=ROOT / "examples",
    )
    app = create_app(settings, dispatch=False)
    # listening before uvicorn starts: the first request waits in the backlog until it serves
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5, lifespan="on")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        assert httpx.get(f"{url}/healthz", timeout=60).json()["status"] == "ok"
        yield QuietServer(app, data_dir, url)
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def not_blank(png: bytes) -> bool:
    pixels = np.asarray(imread(io.BytesIO(png), format="png"))[..., :3].reshape(-1, 3)
    return len(np.unique(pixels, axis=0)) > 50 and float(pixels.std()) > 0.05


def row_ids(page: Any) -> list[str]:
    ids: list[str] = page.eval_on_selector_all("#job-rows tr", "rows => rows.map(r => r.dataset.jobId)")
    return ids


def server_ids(client: httpx.Client) -> list[str]:
    return [job["id"] for job in client.get("/v1/jobs", params={"page_size": 200}).json()["jobs"]]


def check_layout(page: Any) -> None:
    """One header line and no horizontal scrolling at 800 and 1280 px."""
    for width in (800, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        box = page.locator("header").bounding_box()
        assert box is not None and box["height"] <= HEADER_ONE_LINE_PX, (width, box)
        scroll, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"horizontal scrollbar at {width} px: {scroll} > {inner}"


def test_submit_watch_and_look_in_a_real_browser(browser: Any, server: LiveServer, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with opened(browser, server.url + "/", width=1200) as (page, errors):
        # a wrong key is refused with the server's message
        page.fill("#api-key", "not-a-key")
        page.click("#connect")
        expect(page.locator("#connection")).to_contain_text("unauthorized", timeout=10_000)

        connect(page, "key-a")
        page.select_option("#example", "transport-1d")
        assert '"name": "transport-1d"' in page.input_value("#spec")
        page.fill("#steps", str(STEPS))
        page.dispatch_event("#steps", "change")
        assert f'"steps": {STEPS}' in page.input_value("#spec")
        # Adam alone: the default 'auto' would add a Levenberg-Marquardt phase (tens of
        # seconds beside the rest of the suite); this test is about the page, not the phase
        edited = json.loads(page.input_value("#spec"))
        edited["training"]["optimizer"] = "adam"
        page.fill("#spec", json.dumps(edited, indent=2))
        page.dispatch_event("#spec", "input")
        page.click("#submit-job")
        expect(page.locator("#submit-status")).to_contain_text("submitted job", timeout=10_000)
        row = page.locator("#job-rows tr").first

        # watch it: the row follows the job's event stream (the page polls nothing else so fast)
        seen: set[tuple[str, str]] = set()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            status = row.get_attribute("data-status") or ""
            seen.add((status, row.locator("td").nth(2).inner_text().strip()))
            if status in ("succeeded", "failed", "canceled"):
                break
            time.sleep(0.05)
        assert status == "succeeded", f"the job ended {status!r}; seen {sorted(seen)}"
        running = [p for s, p in seen if s == "running" and not p.startswith("0 /")]
        assert running, f"no live progress was shown while the job ran; seen {sorted(seen)}"
        expect(row.locator("td").nth(2)).to_have_text(f"{STEPS} / {STEPS}")

        # the model: errors, the solution plot and the loss curve are shown
        expect(page.locator("#model")).to_be_visible(timeout=30_000)
        expect(page.locator("#model-facts")).to_contain_text("rel L2 error")
        # the error bounds computed without `exact`: the verdict and one row per bound
        expect(page.locator("#model-facts")).to_contain_text("verdict (no exact used)")
        expect(page.locator("#model-facts")).to_contain_text("rms |u - u*| <=")
        for image in ("#model-plot", "#loss-plot"):
            page.wait_for_function(
                "sel => document.querySelector(sel).complete && document.querySelector(sel).naturalWidth > 0",
                arg=image,
                timeout=30_000,
            )
            assert page.locator(image).evaluate("img => img.naturalWidth") > 300, image
        page.select_option("#plot-kind", "error")
        expect(page.locator("#plot-status")).to_have_text("", timeout=30_000)

        shot = page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        assert not_blank(shot)
        assert not_blank(page.locator("#model-plot").screenshot())

        # the key lives in the page's memory only
        stored = page.evaluate("() => [localStorage.length, sessionStorage.length, document.cookie]")
        assert stored == [0, 0, ""]
        assert errors == []

    # the job is alice's: bob does not see it
    with server.client({"Authorization": "Bearer key-b"}) as bob:
        assert bob.get("/v1/jobs").json()["jobs"] == []
    with server.client({"Authorization": "Bearer key-a"}) as alice:
        jobs = alice.get("/v1/jobs").json()["jobs"]
        assert [j["status"] for j in jobs] == ["succeeded"] and jobs[0]["progress"]["steps"] == STEPS


def test_job_list_newest_first_with_paging_and_row_actions(browser: Any, quiet: QuietServer) -> None:
    from playwright.sync_api import expect

    model_id = quiet.register("carol", "trained")
    with quiet.client("key-c") as carol:
        for name in ("queued-1", "queued-2"):
            assert carol.post("/v1/jobs", json=tiny_spec(name=name)).status_code == 202
        order = server_ids(carol)
        names = {job["id"]: job["name"] for job in carol.get("/v1/jobs").json()["jobs"]}
        by_name = {name: job_id for job_id, name in names.items()}
        assert [names[i] for i in order] == ["queued-2", "queued-1", "trained"]
        # queued-2 runs on a (simulated) worker that reported one loss-curve record
        store = quiet.app.state.store
        started = store.begin(by_name["queued-2"], "worker:1", 4)
        record = LossRecord(10, 0.2, {"interior": 0.25, "condition0:value": 0.0625}, {"interior": 0.01}, 7.0)
        assert (
            store.report(
                by_name["queued-2"], started[1], step=11, steps=60, loss=0.3, elapsed_s=0.2, records=[record]
            )
            == "continue"
        )

        with opened(browser, quiet.url + "/?page_size=2") as (page, errors):
            rows = page.locator("#job-rows tr")
            connect(page, "key-c")
            # the first page, newest first; the third job is one "Load more" away
            expect(rows).to_have_count(2)
            assert row_ids(page) == order[:2]
            expect(page.locator("#jobs-empty")).to_be_hidden()
            expect(page.locator("#load-more")).to_be_visible()
            page.click("#load-more")
            expect(rows).to_have_count(3)
            expect(page.locator("#load-more")).to_be_hidden()
            assert row_ids(page) == order

            # the figure column is the residuals' largest sample sup (the same meaning at every
            # step), with the mean and the training objective apart in its tooltip
            headings = page.locator("#jobs th").all_inner_texts()
            assert "sup |r|" in headings and "Loss" not in headings and "Objective" not in headings
            cell = page.locator(f'#job-rows tr[data-job-id="{by_name["queued-2"]}"] td').nth(3)
            expect(cell).to_have_text("2.500e-1")
            assert cell.get_attribute("title") == "step 10: mean |r| 1.000e-2, objective 7.000e+0"

            # a job submitted from the page goes on top, the list stays in the server's order
            page.select_option("#example", "transport-1d")
            page.click("#submit-job")
            expect(page.locator("#submit-status")).to_contain_text("submitted job", timeout=10_000)
            expect(rows).to_have_count(4)
            order = server_ids(carol)
            assert len(order) == 4 and row_ids(page) == order

            def row(name: str) -> Any:
                return page.locator(f'#job-rows tr[data-job-id="{by_name[name]}"]')

            # cancel: only queued and running jobs offer it
            expect(row("trained").locator("[data-action=cancel]")).to_have_count(0)
            row("queued-1").locator("[data-action=cancel]").click()
            expect(row("queued-1")).to_have_attribute("data-status", "canceled")
            expect(row("queued-1").locator("[data-action=cancel]")).to_have_count(0)
            assert carol.get(f"/v1/jobs/{by_name['queued-1']}").json()["status"] == "canceled"

            # delete asks first; "No" keeps the job
            row("queued-2").locator("[data-action=delete]").click()
            expect(row("queued-2").locator("[data-action=confirm-delete]")).to_be_visible()
            row("queued-2").locator("[data-action=keep]").click()
            expect(row("queued-2").locator("[data-action=delete]")).to_be_visible()
            assert carol.get(f"/v1/jobs/{by_name['queued-2']}").status_code == 200
            row("queued-2").locator("[data-action=delete]").click()
            row("queued-2").locator("[data-action=confirm-delete]").click()
            expect(row("queued-2")).to_have_count(0)
            expect(page.locator("#jobs-status")).to_contain_text("deleted job queued-2")
            assert carol.get(f"/v1/jobs/{by_name['queued-2']}").status_code == 404

            # download: the artifact, fetched with the key, saved under the model's name
            weights_sha256 = carol.get(f"/v1/models/{model_id}").json()["weights_sha256"]
            expect(row("queued-1").locator("[data-action=download]")).to_have_count(0)
            with page.expect_download() as info:
                row("trained").locator("[data-action=download]").click()
            download = info.value
            assert download.suggested_filename == f"relupde-{model_id}.safetensors"
            assert hashlib.sha256(Path(download.path()).read_bytes()).hexdigest() == weights_sha256

            # deleting a succeeded job deletes its model too
            row("trained").locator("[data-action=delete]").click()
            row("trained").locator("[data-action=confirm-delete]").click()
            expect(row("trained")).to_have_count(0)
            expect(page.locator("#jobs-status")).to_contain_text(f"and model {model_id}")
            assert carol.get(f"/v1/models/{model_id}").status_code == 404
            order = server_ids(carol)
            assert len(order) == 2 and row_ids(page) == order
            assert errors == []


def test_spec_editor_validates_before_submitting(browser: Any, quiet: QuietServer) -> None:
    from playwright.sync_api import expect

    example = json.loads((ROOT / "examples" / "transport-1d.json").read_text())
    bad = json.loads(json.dumps(example))
    bad["training"]["steps"] = 0
    bad["network"]["hidden"] = "wide"
    with quiet.client("key-d") as dave, opened(browser, quiet.url + "/") as (page, errors):
        expected_steps = dave.post("/v1/specs/validate", json=example).json()["steps"]
        refused = dave.post("/v1/specs/validate", json=bad)
        assert refused.status_code == 422
        problems = [
            f"{d['field'].removeprefix('body.')}: {d['message']}" for d in refused.json()["error"]["details"]
        ]
        assert len(problems) == 2 and problems[0].startswith(("training.steps", "network.hidden"))

        connect(page, "key-d")
        expect(page.locator("#jobs-empty")).to_have_text("No jobs yet.")
        page.select_option("#example", "transport-1d")
        assert json.loads(page.input_value("#spec")) == example
        assert page.input_value("#steps") == ""  # the spec's own steps stay

        page.click("#validate-spec")
        expect(page.locator("#submit-status")).to_have_text(f"valid: {expected_steps} steps")

        # each problem with its field path; Submit validates first and sends nothing
        page.fill("#spec", json.dumps(bad, indent=2))
        expect(page.locator("#submit-status")).to_have_text("")  # an edit clears the old verdict
        page.click("#validate-spec")
        expect(page.locator("#spec-errors li")).to_have_text(problems)
        expect(page.locator("#submit-status")).to_have_text("invalid: 2 problems")
        page.click("#submit-job")
        expect(page.locator("#submit-status")).to_have_text("not submitted: the spec has 2 problems")
        expect(page.locator("#spec-errors li")).to_have_text(problems)
        page.fill("#spec", '{"name": ')
        page.click("#submit-job")
        expect(page.locator("#submit-status")).to_have_text("the spec is not valid JSON")
        assert dave.get("/v1/jobs").json()["jobs"] == []

        # a valid spec, with the steps field overriding training.steps
        page.select_option("#example", "heat-2d")
        page.select_option("#example", "transport-1d")
        page.fill("#steps", "40")
        page.dispatch_event("#steps", "change")
        assert json.loads(page.input_value("#spec"))["training"]["steps"] == 40
        page.click("#submit-job")
        expect(page.locator("#submit-status")).to_contain_text("submitted job", timeout=10_000)
        expect(page.locator("#spec-errors li")).to_have_count(0)
        expect(page.locator("#job-rows tr")).to_have_count(1)
        expect(page.locator("#jobs-empty")).to_be_hidden()
        jobs = dave.get("/v1/jobs").json()["jobs"]
        assert len(jobs) == 1 and jobs[0]["progress"]["steps"] == 40 + LM_STEPS
        assert row_ids(page) == [jobs[0]["id"]]
        assert errors == []


def test_probe_a_point_and_the_layout(browser: Any, quiet: QuietServer) -> None:
    from playwright.sync_api import expect

    with opened(browser, quiet.url + "/", width=800) as (page, errors):
        empty = page.locator("#jobs-empty")
        # "No jobs yet." only once connected
        expect(empty).to_have_text("Not connected.")
        page.fill("#api-key", "not-a-key")
        page.click("#connect")
        expect(page.locator("#connection")).to_contain_text("unauthorized", timeout=10_000)
        expect(empty).to_contain_text("Not connected: unauthorized")
        check_layout(page)  # the long error stays on the header's line

        model_id = quiet.register("erin", "probed")
        connect(page, "key-e")
        expect(page.locator("#job-rows tr")).to_have_count(1)
        expect(empty).to_be_hidden()
        page.locator("#job-rows tr").first.click()
        expect(page.locator("#model")).to_be_visible(timeout=30_000)
        point = page.locator("#probe-point")
        assert point.get_attribute("placeholder") == "t, x0"

        with quiet.client("key-e") as erin:
            asked = {"points": [[0.5, 1.0], [2.0, 1.0]], "outputs": ["value", "gradient", "bound", "inside"]}
            truth = erin.post(f"/v1/models/{model_id}/evaluate", json=asked).json()
        result = page.locator("#probe-result")

        def shown(output: str) -> str:
            text: str = result.locator(f'tr[data-output="{output}"] td').nth(1).inner_text()
            return text

        point.fill("0.5, 1.0")
        page.click("#probe")
        expect(result).to_be_visible(timeout=10_000)
        assert float(shown("value")) == pytest.approx(truth["value"][0], rel=1e-5)
        for i, name in enumerate(("t", "x0")):
            wanted = truth["gradient"][0][i]
            assert float(shown(f"gradient-{name}")) == pytest.approx(wanted, rel=1e-5, abs=1e-9)
        if truth["bound"] is not None and truth["bound"][0] is not None:
            assert shown("bound").startswith("|u - u*| <= ")
        assert truth["inside"][0] and shown("inside") == "inside"
        expect(page.locator("#probe-status")).to_have_text("")

        # t = 2 lies past the time interval
        point.fill("2, 1")
        page.click("#probe")
        expect(result.locator('tr[data-output="inside"]')).to_contain_text("outside the domain")
        expect(page.locator("#probe-status")).to_contain_text("outside the domain")
        assert not truth["inside"][1]
        assert float(shown("value")) == pytest.approx(truth["value"][1], rel=1e-5)

        point.fill("1")
        page.press("#probe-point", "Enter")
        expect(page.locator("#probe-status")).to_have_text("enter 2 numbers separated by commas: t, x0")
        expect(result).to_be_hidden()

        check_layout(page)  # with the job list and the model shown
        assert errors == []
