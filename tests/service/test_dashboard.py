"""The dashboard driven in headless Chromium against a live ``relupde serve``.

Uses Playwright's Python package with Debian's Chromium (``/usr/bin/chromium``, or
``RELUPDE_CHROMIUM``); nothing is downloaded.  Without a browser the test is skipped with a
message, unless ``RELUPDE_REQUIRE_BROWSER=1`` (set by ``.ci/run``, which installs Chromium),
which turns the skip into a failure.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from matplotlib.image import imread

from tests.service.conftest import ROOT
from tests.service.live import LiveServer

CHROMIUM = os.environ.get("RELUPDE_CHROMIUM", "/usr/bin/chromium")
STEPS = 400


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


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    env = {"RELUPDE_API_KEYS": "alice:key-a,bob:key-b", "RELUPDE_EXAMPLES_DIR": str(ROOT / "examples")}
    live = LiveServer(tmp_path / "data", env).start()
    yield live
    live.stop()


def not_blank(png: bytes) -> bool:
    pixels = np.asarray(imread(io.BytesIO(png), format="png"))[..., :3].reshape(-1, 3)
    return len(np.unique(pixels, axis=0)) > 50 and float(pixels.std()) > 0.05


def test_submit_watch_and_look_in_a_real_browser(server: LiveServer, tmp_path: Path) -> None:
    sync_playwright = _browser_or_skip()
    from playwright.sync_api import expect

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server.url + "/")

            # a wrong key is refused with the server's message
            page.fill("#api-key", "not-a-key")
            page.click("#connect")
            expect(page.locator("#connection")).to_contain_text("unauthorized", timeout=10_000)

            page.fill("#api-key", "key-a")
            page.click("#connect")
            expect(page.locator("#connection")).to_have_text("connected", timeout=10_000)
            page.select_option("#example", "transport-1d")
            assert '"name": "transport-1d"' in page.input_value("#spec")
            page.fill("#steps", str(STEPS))
            page.dispatch_event("#steps", "change")
            assert f'"steps": {STEPS}' in page.input_value("#spec")
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
                for _ in range(300):
                    if page.locator(image).evaluate("img => img.complete && img.naturalWidth") > 0:
                        break
                    time.sleep(0.1)
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
        finally:
            browser.close()

    # the job is alice's: bob does not see it
    with server.client({"Authorization": "Bearer key-b"}) as bob:
        assert bob.get("/v1/jobs").json()["jobs"] == []
    with server.client({"Authorization": "Bearer key-a"}) as alice:
        jobs = alice.get("/v1/jobs").json()["jobs"]
        assert [j["status"] for j in jobs] == ["succeeded"] and jobs[0]["progress"]["steps"] == STEPS
