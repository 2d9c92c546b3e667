"""``relupde serve`` and ``relupde worker``: the processes of a deployment.

``serve`` runs the API (uvicorn) with the store and the dispatcher; without API keys it
refuses any address but loopback, since every caller would then be the same tenant.
``worker`` runs a Dask nanny and worker for the scheduler at ``RELUPDE_DASK_ADDRESS``: the
nanny restarts the worker process if it dies, and the scheduler hands its task to a live
worker, which resumes the job from its checkpoint.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
import sys
from typing import Literal

from service.settings import Settings, SettingsError

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def fast_server_options() -> tuple[Literal["httptools", "h11"], Literal["uvloop", "asyncio"]]:
    """uvicorn's C HTTP parser (httptools) and event loop (uvloop) where installed (they are
    dependencies of relupde); the pure Python h11 and asyncio otherwise (uvloop has no
    Windows build)."""
    import importlib.util

    http: Literal["httptools", "h11"] = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop: Literal["uvloop", "asyncio"] = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return http, loop


def serve_command(host: str, port: int, workers: int | None) -> int:
    """Run the API until SIGINT/SIGTERM; running jobs resume on the next start."""
    import uvicorn

    from service.app import create_app
    from service.jobs.store import JobStore, StoreError

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"relupde serve: {exc}", file=sys.stderr)
        return 2
    if workers is not None:
        if workers < 1:
            print("relupde serve: --workers must be >= 1", file=sys.stderr)
            return 2
        settings = settings.model_copy(update={"workers": workers})
    if not settings.api_keys and not is_loopback(host):
        print(
            f"relupde serve: refusing to listen on {host} without API keys; set "
            "RELUPDE_API_KEYS=tenant:key (or listen on 127.0.0.1)",
            file=sys.stderr,
        )
        return 2
    try:
        JobStore.open(settings.database_url).close()  # fail here, clearly, not inside the lifespan
    except StoreError as exc:
        print(f"relupde serve: {exc}", file=sys.stderr)
        return 2
    shown = f"[{host}]" if ":" in host else host
    cluster = settings.dask_address or f"a LocalCluster of {settings.workers} worker process(es)"
    print(f"relupde: API docs at http://{shown}:{port}/docs; jobs run on {cluster}", flush=True)
    print(f"relupde: data in {settings.data_dir}", flush=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    http, loop = fast_server_options()
    app = create_app(settings)
    app.state.evaluate_pool.start()  # warm: the first large evaluate does not wait for torch to import
    uvicorn.run(app, host=host, port=port, log_level="info", http=http, loop=loop)
    return 0


def worker_command(scheduler: str | None) -> int:
    """A Dask worker (under a nanny) for an external scheduler."""
    address = scheduler or Settings.from_env().dask_address
    if not address:
        print(
            "relupde worker: no scheduler; set RELUPDE_DASK_ADDRESS=tcp://host:8786 or pass --scheduler",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(_run_worker(address))
    return 0


async def _run_worker(address: str) -> None:
    from distributed import Nanny

    async with Nanny(address, nthreads=1) as nanny:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(nanny.close()))
        await nanny.finished()
