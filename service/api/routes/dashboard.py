"""The dashboard: one server-rendered page at ``/`` with a little plain JavaScript.

The page (``static/dashboard.html``, ``dashboard.js``, ``dashboard.css``; no build step)
asks for the API key and keeps it only in the page's memory; it lists the caller's jobs
newest first, a page at a time, with live progress (the job event stream) and Cancel, Delete
and Download model on each row; it shows each job's loss curve and each model's errors,
estimate and plots, probes a model at one point, and validates and submits specs in an
editor prefilled from the examples listed by ``GET /v1/examples``.
Everything it shows comes from the same /v1 routes a client uses, under the same tenant rules.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request, Response

from service.api.auth import Tenant
from service.api.errors import ApiError
from service.api.schemas import ERROR_RESPONSES, ExamplesOut
from service.settings import Settings

STATIC = Path(__file__).resolve().parents[2] / "static"
ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
# The page loads only its own script and style; plots arrive as blob: URLs made by the script.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; script-src 'self'; style-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def read_examples(folder: Path | None) -> list[dict[str, Any]]:
    """Every ``*.json`` of the examples folder (and its subfolders), named by relative path
    without the suffix; files that are not JSON objects are left out."""
    if folder is None or not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.rglob("*.json")):
        try:
            spec = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(spec, dict):
            found.append({"name": path.relative_to(folder).with_suffix("").as_posix(), "spec": spec})
    return found


router = APIRouter()


@router.get("/", include_in_schema=False)
async def page() -> Response:
    html = await anyio.to_thread.run_sync((STATIC / "dashboard.html").read_bytes)
    return Response(html, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/dashboard/{asset}", include_in_schema=False)
async def asset(asset: str) -> Response:
    if asset not in ASSETS:
        raise ApiError(404, "not_found", f"no dashboard file {asset!r}")
    content = await anyio.to_thread.run_sync((STATIC / asset).read_bytes)
    return Response(content, media_type=f"{ASSETS[asset]}; charset=utf-8", headers=PAGE_HEADERS)


@router.get("/v1/examples", response_model=ExamplesOut, responses=ERROR_RESPONSES, tags=["examples"])
async def examples(request: Request, tenant: Tenant) -> dict[str, Any]:
    """The example job specs this server offers (RELUPDE_EXAMPLES_DIR), ready to submit."""
    settings: Settings = request.app.state.settings
    return {"examples": await anyio.to_thread.run_sync(read_examples, settings.examples_dir)}
