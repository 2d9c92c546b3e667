"""Plot routes: a model's pictures and a job's loss curve, as PNG (solver.plots draws them).

``GET /v1/models/{id}/plot.png`` takes the slice as query parameters (``kind``, ``x``, ``y``,
``at``, ``times``, ``resolution``, ``direction``, ``reach``); ``GET /v1/jobs/{id}/loss.png``
draws the loss curve recorded so far (while the job runs too), and ``GET /v1/jobs/{id}/loss``
gives the same records as JSON.  The tenant rules are those of every other route; a plot
that cannot be drawn as asked is a 422 ``invalid_plot`` whose message says what to change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response

from service.api.auth import Tenant
from service.api.deps import job_or_404, load_model_of, store_of
from service.api.disconnect import CLIENT_CLOSED, run_unless_disconnected
from service.api.errors import ApiError
from service.api.schemas import ERROR_RESPONSES, MODEL_RESPONSES, LossCurveOut
from service.settings import ENV_VARIABLES, Settings
from solver.plots import (
    DEFAULT_REACH,
    MAX_REACH,
    MAX_RESOLUTION,
    PLOT_KINDS,
    PlotError,
    PlotStopped,
    PlotWork,
    parse_assignments,
    parse_numbers,
    plot_loss_curve,
    plot_model,
    plot_work,
)

PNG = "image/png"
PNG_RESPONSES: dict[int | str, dict[str, Any]] = {
    **MODEL_RESPONSES,
    200: {"content": {PNG: {}}, "description": "a PNG image"},
}
PlotKind = Literal["solution", "error", "gradient_error", "bound", "loss"]
assert set(PlotKind.__args__) == set(PLOT_KINDS)  # type: ignore[attr-defined]


def _invalid(exc: PlotError) -> ApiError:
    return ApiError(422, "invalid_plot", str(exc))


def _too_large(work: PlotWork, cap: int) -> ApiError:
    """422 ``plot_too_large``: the plot's work is over RELUPDE_MAX_PLOT_WORK; names a smaller
    resolution (or fewer panels when no resolution fits)."""
    largest = min(work.largest_resolution(cap), MAX_RESOLUTION)
    fix = (
        f"ask for resolution={largest} or less"
        if largest >= 2
        else "ask for fewer time slices (times) or a line plot (y=none)"
    )
    return ApiError(
        422,
        "plot_too_large",
        f"this plot needs {work.total:,} units of work ({work.describe()}), over this server's cap "
        f"of {cap:,} points x layers x panels ({ENV_VARIABLES['max_plot_work']}); {fix}",
        {"work": work.total, "limit": cap, "max_resolution": largest if largest >= 2 else None},
    )


def _png(content: bytes) -> Response:
    # a model never changes once written: its pictures may be kept by the browser
    return Response(content, media_type=PNG, headers={"Cache-Control": "private, max-age=3600"})


router = APIRouter()


@router.get(
    "/v1/models/{model_id}/plot.png", responses=PNG_RESPONSES, response_class=Response, tags=["plots"]
)
async def model_plot(
    request: Request,
    model_id: str,
    tenant: Tenant,
    kind: Annotated[PlotKind, Query(description="what to draw")] = "solution",
    x: Annotated[str | None, Query(description="input on the horizontal axis (default: x0)")] = None,
    y: Annotated[
        str | None,
        Query(
            description="input on the vertical axis (an image; default: x1 when there is one); "
            "`none` for a line plot"
        ),
    ] = None,
    at: Annotated[
        str | None,
        Query(
            description="values of the inputs held fixed, NAME:VALUE pairs: `x2:0.5,t:1` "
            "(default: the middle of each input's range)"
        ),
    ] = None,
    times: Annotated[
        str | None,
        Query(description="time slices when t is on no axis: `0,0.5,1` (default: start, middle, end)"),
    ] = None,
    resolution: Annotated[
        int | None, Query(ge=2, le=MAX_RESOLUTION, description="grid points per axis")
    ] = None,
    direction: Annotated[
        str | None, Query(description="kind=bound: the ray's direction, d numbers (default: (1,..,1))")
    ] = None,
    reach: Annotated[
        float, Query(gt=1, le=MAX_REACH, description="kind=bound: the ray ends at reach * R")
    ] = DEFAULT_REACH,
    unknown: Annotated[
        str | None,
        Query(max_length=64, description="a system's unknown to draw (default: its first); u otherwise"),
    ] = None,
) -> Response:
    """A picture of the model: `solution` (u), `error` (|u - u*|), `gradient_error`
    (|grad u - grad u*|), `bound` (whole space: the promised bounds against the true errors
    along a ray out to `reach` R) or `loss` (the training loss curve).  1-D slices are line
    plots, 2-D slices images; other inputs are held at `at`, time at each of `times`."""
    model, _ = await anyio.to_thread.run_sync(load_model_of, request, model_id, tenant)
    settings: Settings = request.app.state.settings

    def draw(stopped: Callable[[], bool]) -> bytes:
        fixed = parse_assignments(at) if at else None
        slices = parse_numbers(times, "times") if times else None
        work = plot_work(
            model, kind, x=x, y=y, at=fixed, times=slices, resolution=resolution, unknown=unknown
        )
        if work.total > settings.max_plot_work:
            raise _too_large(work, settings.max_plot_work)
        return plot_model(
            model,
            kind,
            x=x,
            y=y,
            at=fixed,
            times=slices,
            resolution=resolution,
            direction=parse_numbers(direction, "direction") if direction else None,
            reach=reach,
            should_stop=stopped,
            unknown=unknown,
        )

    try:
        content = await run_unless_disconnected(request, draw)
    except PlotError as exc:
        raise _invalid(exc) from None
    except PlotStopped:
        content = None
    if content is None:  # the client went away: nothing drawn (or the drawing abandoned)
        return Response(status_code=CLIENT_CLOSED)
    return _png(content)


@router.get("/v1/jobs/{job_id}/loss.png", responses=PNG_RESPONSES, response_class=Response, tags=["plots"])
async def loss_plot(
    request: Request,
    job_id: str,
    tenant: Tenant,
    scale: Annotated[Literal["log", "linear"], Query(description="the residual axis")] = "log",
) -> Response:
    """The loss curve recorded so far: for every residual term, sup |r| (solid) and mean
    |r| (dashed) on the training points, every 10 steps.  Ask again while the job runs."""
    store = store_of(request)
    job = await anyio.to_thread.run_sync(job_or_404, store, job_id, tenant)
    records = await anyio.to_thread.run_sync(store.loss_curve, job_id)
    title = f"{job.name or job.id}: {job.status}, step {job.step} of {job.steps}"
    content = await anyio.to_thread.run_sync(lambda: plot_loss_curve(records, title, scale=scale))
    return Response(content, media_type=PNG, headers={"Cache-Control": "no-store"})


@router.get("/v1/jobs/{job_id}/loss", response_model=LossCurveOut, responses=ERROR_RESPONSES, tags=["plots"])
async def loss_curve(request: Request, job_id: str, tenant: Tenant) -> dict[str, Any]:
    """The loss-curve records so far, by step: sup and mean |r| of every residual term."""
    store = store_of(request)
    job = await anyio.to_thread.run_sync(job_or_404, store, job_id, tenant)
    records = await anyio.to_thread.run_sync(store.loss_curve, job_id)
    return {"job_id": job.id, "status": job.status, "records": [r.to_json() for r in records]}
