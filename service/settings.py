"""Service settings, read from the environment (API.md section 5) and ``relupde serve`` flags."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATA_DIR = "./relupde-data"
SQLITE_FILE = "jobs.sqlite3"
TENANT_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The repository's examples/ folder, when the package runs from a checkout.
REPO_EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable and the fix."""


def parse_api_keys(text: str | None) -> dict[str, str]:
    """``tenant:key,tenant2:key2`` -> {key: tenant}.  Empty or unset -> no keys (no auth)."""
    if text is None or not text.strip():
        return {}
    keys: dict[str, str] = {}
    for index, item in enumerate(text.split(",")):
        tenant, sep, key = item.strip().partition(":")
        if not sep or not tenant or not key:
            raise SettingsError(
                f"RELUPDE_API_KEYS entry {index + 1} ({item.strip()!r}) is not 'tenant:key'; "
                "write RELUPDE_API_KEYS=tenant:key,tenant2:key2"
            )
        if not TENANT_NAME.fullmatch(tenant):
            raise SettingsError(
                f"RELUPDE_API_KEYS tenant {tenant!r}: use 1-64 letters, digits, '_' or '-' "
                "(the name becomes a folder of the data dir)"
            )
        if key in keys and keys[key] != tenant:
            raise SettingsError(f"RELUPDE_API_KEYS gives one key to two tenants ({keys[key]!r}, {tenant!r})")
        keys[key] = tenant
    return keys


@dataclass(frozen=True)
class Settings:
    """Where the service keeps its state and how it runs jobs.

    ``database_url``: SQLAlchemy URL of the job store (SQLite in the data dir by default).
    ``dask_address``: an external scheduler, or None for a LocalCluster of ``workers``
    processes.  ``api_keys``: key -> tenant; empty means no authentication (loopback only).
    ``torch_threads``: threads per training job (default: the cores split between workers).
    ``examples_dir``: job specs the dashboard offers (default: the checkout's examples/).
    """

    data_dir: Path
    database_url: str
    dask_address: str | None = None
    workers: int = 1
    api_keys: Mapping[str, str] = field(default_factory=dict)
    torch_threads: int | None = None
    examples_dir: Path | None = None

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def checkpoints_dir(self) -> Path:
        return self.data_dir / "checkpoints"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("RELUPDE_DATA_DIR") or DEFAULT_DATA_DIR).resolve()
        url = env.get("RELUPDE_DATABASE_URL") or f"sqlite:///{data_dir / SQLITE_FILE}"
        workers = _positive(env, "RELUPDE_WORKERS", "1")
        threads = _positive(env, "RELUPDE_TORCH_THREADS", None) if "RELUPDE_TORCH_THREADS" in env else None
        return cls(
            data_dir=data_dir,
            database_url=url,
            dask_address=env.get("RELUPDE_DASK_ADDRESS") or None,
            workers=workers,
            api_keys=parse_api_keys(env.get("RELUPDE_API_KEYS")),
            torch_threads=threads,
            examples_dir=_examples_dir(env),
        )


def _examples_dir(env: Mapping[str, str]) -> Path | None:
    given = env.get("RELUPDE_EXAMPLES_DIR")
    if given:
        path = Path(given).resolve()
        if not path.is_dir():
            raise SettingsError(
                f"RELUPDE_EXAMPLES_DIR {given!r} is not a folder; point it at a folder of job specs"
            )
        return path
    return REPO_EXAMPLES if REPO_EXAMPLES.is_dir() else None


def _positive(env: Mapping[str, str], name: str, default: str | None) -> int:
    text = env.get(name) or default or ""
    try:
        value = int(text)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise SettingsError(f"{name} must be >= 1, got {value}")
    return value
