"""Service settings: ``RELUPDE_*`` environment variables (pydantic-settings) and ``relupde serve`` flags."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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


#: The environment variable of each setting (``env_prefix`` + the field name, upper case).
ENV_VARIABLES = {
    "data_dir": "RELUPDE_DATA_DIR",
    "database_url": "RELUPDE_DATABASE_URL",
    "dask_address": "RELUPDE_DASK_ADDRESS",
    "workers": "RELUPDE_WORKERS",
    "api_keys": "RELUPDE_API_KEYS",
    "torch_threads": "RELUPDE_TORCH_THREADS",
    "examples_dir": "RELUPDE_EXAMPLES_DIR",
    "max_active_jobs": "RELUPDE_MAX_ACTIVE_JOBS",
    "max_model_bytes_per_tenant": "RELUPDE_MAX_MODEL_BYTES_PER_TENANT",
    "max_time_limit_s": "RELUPDE_MAX_TIME_LIMIT_S",
    "max_steps": "RELUPDE_MAX_STEPS",
    "max_parameters": "RELUPDE_MAX_PARAMETERS",
    "max_points": "RELUPDE_MAX_POINTS",
    "read_timeout_s": "RELUPDE_READ_TIMEOUT_S",
    "max_plot_work": "RELUPDE_MAX_PLOT_WORK",
    "evaluate_processes": "RELUPDE_EVALUATE_PROCESSES",
}

#: Defaults of the limits (docs/service.md, "Limits").
DEFAULT_MAX_ACTIVE_JOBS = 20
DEFAULT_MAX_MODEL_BYTES_PER_TENANT = 2 * 1024**3
DEFAULT_MAX_TIME_LIMIT_S = 86400.0
DEFAULT_MAX_STEPS = 11_000_000  # the spec's own caps: 10,000,000 Adam + 1,000,000 L-BFGS steps
# a network of 50 million weights (400 MB in float64, some GB while training) and a draw of
# 2 million points: every example and benchmark passes with room, a 64 x 4096 network not
DEFAULT_MAX_PARAMETERS = 50_000_000
DEFAULT_MAX_POINTS = 2_000_000
DEFAULT_READ_TIMEOUT_S = 30.0
# points x network layers x panels of one plot: every default plot passes on the deepest
# network (120^2 points x 65 layers x 3 panels = 2,808,000), 6 panels of 400^2 points on a
# 3-hidden-layer network (3,840,000) do not
DEFAULT_MAX_PLOT_WORK = 3_000_000


class Settings(BaseSettings):
    """Where the service keeps its state and how it runs jobs (pydantic-settings; each field
    reads ``RELUPDE_<FIELD>`` from the environment when not given).

    ``data_dir``: models, checkpoints and the SQLite job store (default ./relupde-data).
    ``database_url``: SQLAlchemy URL of the job store (SQLite in the data dir by default).
    ``dask_address``: an external scheduler, or None for a LocalCluster of ``workers``
    processes.  ``api_keys``: key -> tenant (``RELUPDE_API_KEYS=tenant:key,...``); empty
    means no authentication (loopback only).  ``torch_threads``: threads per training job
    (default: the cores split between workers).  ``examples_dir``: job specs the dashboard
    offers (default: the checkout's examples/).  The limits (docs/service.md, "Limits"):
    ``max_active_jobs`` queued + running jobs per tenant, ``max_model_bytes_per_tenant`` of
    stored models per tenant, ``max_time_limit_s``, ``max_steps``, ``max_parameters`` (network
    weights) and ``max_points`` (per draw) per job spec,
    ``read_timeout_s`` of silence while a request body arrives, ``max_plot_work`` per plot.
    ``evaluate_processes``: processes that evaluate large JSON requests away from the event
    loop (service.api.offload); 0: in threads of the API process.
    """

    model_config = SettingsConfigDict(env_prefix="RELUPDE_", frozen=True, extra="ignore")

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    database_url: str = ""
    dask_address: str | None = None
    workers: int = 1
    api_keys: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    torch_threads: int | None = None
    examples_dir: Path | None = None
    max_active_jobs: int = DEFAULT_MAX_ACTIVE_JOBS
    max_model_bytes_per_tenant: int = DEFAULT_MAX_MODEL_BYTES_PER_TENANT
    max_time_limit_s: float = DEFAULT_MAX_TIME_LIMIT_S
    max_steps: int = DEFAULT_MAX_STEPS
    max_parameters: int = DEFAULT_MAX_PARAMETERS
    max_points: int = DEFAULT_MAX_POINTS
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S
    max_plot_work: int = DEFAULT_MAX_PLOT_WORK
    evaluate_processes: int = 1

    @field_validator("api_keys", mode="before")
    @classmethod
    def _keys(cls, value: Any) -> Any:
        return parse_api_keys(value) if isinstance(value, str) else value

    @field_validator(
        "workers",
        "torch_threads",
        "max_active_jobs",
        "max_model_bytes_per_tenant",
        "max_steps",
        "max_parameters",
        "max_points",
        "max_plot_work",
        mode="before",
    )
    @classmethod
    def _count(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            if isinstance(value, int) and value < 1:
                raise SettingsError(f"{ENV_VARIABLES[str(info.field_name)]} must be >= 1, got {value}")
            return value
        text = str(value).strip()
        name = ENV_VARIABLES[str(info.field_name)]
        try:
            number = int(text)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number >= 1, got {text!r}") from None
        if number < 1:
            raise SettingsError(f"{name} must be >= 1, got {number}")
        return number

    @field_validator("evaluate_processes", mode="before")
    @classmethod
    def _processes(cls, value: Any) -> Any:
        name = ENV_VARIABLES["evaluate_processes"]
        if isinstance(value, bool):
            raise SettingsError(f"{name} must be a whole number >= 0, got {value!r}")
        try:
            number = int(str(value).strip()) if not isinstance(value, int) else value
        except ValueError:
            raise SettingsError(f"{name} must be a whole number >= 0, got {value!r}") from None
        if number < 0:
            raise SettingsError(f"{name} must be >= 0 (0: evaluate in threads), got {number}")
        return number

    @field_validator("max_time_limit_s", "read_timeout_s", mode="before")
    @classmethod
    def _seconds(cls, value: Any, info: ValidationInfo) -> Any:
        name = ENV_VARIABLES[str(info.field_name)]
        try:
            seconds = float(str(value).strip()) if not isinstance(value, int | float) else float(value)
        except ValueError:
            given = str(value).strip()
            raise SettingsError(f"{name} must be a number of seconds > 0, got {given!r}") from None
        if not (seconds > 0 and math.isfinite(seconds)):
            raise SettingsError(f"{name} must be a finite number of seconds > 0, got {value}")
        return seconds

    @field_validator("dask_address", mode="before")
    @classmethod
    def _address(cls, value: Any) -> Any:
        return value or None

    @field_validator("examples_dir", mode="before")
    @classmethod
    def _examples(cls, value: Any) -> Any:
        return _examples_dir(value)

    @model_validator(mode="after")
    def _defaults(self) -> Settings:
        """The data dir absolute, and the SQLite job store inside it unless a URL is given."""
        data_dir = self.data_dir.resolve()
        object.__setattr__(self, "data_dir", data_dir)
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{data_dir / SQLITE_FILE}")
        return self

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def checkpoints_dir(self) -> Path:
        return self.data_dir / "checkpoints"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings of an environment (default ``os.environ``); only the variables of
        ``ENV_VARIABLES`` are read.  A bad value raises ``SettingsError`` naming it."""
        env = os.environ if env is None else env
        given: dict[str, Any] = {field: env[name] for field, name in ENV_VARIABLES.items() if env.get(name)}
        given.setdefault("examples_dir", None)
        try:
            return cls.model_validate(given)
        except ValidationError as exc:
            first = exc.errors()[0]
            name = ENV_VARIABLES.get(str(first["loc"][0]) if first["loc"] else "", "a RELUPDE_ variable")
            raise SettingsError(f"{name}: {first['msg'].removeprefix('Value error, ')}") from None


def _examples_dir(given: Any) -> Path | None:
    """``RELUPDE_EXAMPLES_DIR`` (it must be a folder), else the checkout's examples/ if any."""
    if given:
        path = Path(given).resolve()
        if not path.is_dir():
            raise SettingsError(
                f"RELUPDE_EXAMPLES_DIR {str(given)!r} is not a folder; point it at a folder of job specs"
            )
        return path
    return REPO_EXAMPLES if REPO_EXAMPLES.is_dir() else None
