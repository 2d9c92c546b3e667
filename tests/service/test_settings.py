"""Settings from the environment and the loopback rule of ``relupde serve``."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.server import is_loopback
from service.settings import Settings, SettingsError, parse_api_keys


def test_defaults_put_everything_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings.from_env({"RELUPDE_DATA_DIR": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
    assert settings.models_dir == tmp_path / "models"
    assert settings.dask_address is None and settings.workers == 1 and not settings.api_keys


def test_environment_overrides() -> None:
    settings = Settings.from_env(
        {
            "RELUPDE_DATABASE_URL": "postgresql+psycopg://u@h/db",
            "RELUPDE_DASK_ADDRESS": "tcp://s:8786",
            "RELUPDE_WORKERS": "3",
            "RELUPDE_API_KEYS": "alice:k1, bob:k2",
        }
    )
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.dask_address == "tcp://s:8786" and settings.workers == 3
    assert dict(settings.api_keys) == {"k1": "alice", "k2": "bob"}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("alice", "not 'tenant:key'"),
        ("alice:", "not 'tenant:key'"),
        (":key", "not 'tenant:key'"),
        ("../etc:key", "letters, digits"),
        ("a:k,b:k", "two tenants"),
    ],
)
def test_bad_api_keys_say_how_to_write_them(text: str, match: str) -> None:
    with pytest.raises(SettingsError, match=match):
        parse_api_keys(text)


@pytest.mark.parametrize("value", ["0", "-1", "two"])
@pytest.mark.parametrize("name", ["RELUPDE_WORKERS", "RELUPDE_TORCH_THREADS"])
def test_bad_counts(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_torch_threads() -> None:
    assert Settings.from_env({}).torch_threads is None
    assert Settings.from_env({"RELUPDE_TORCH_THREADS": "3"}).torch_threads == 3


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False), ("10.0.0.5", False)],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_server_uses_the_c_parser_and_uvloop() -> None:
    """httptools and uvloop are dependencies: relupde serve runs uvicorn on them."""
    from service.server import fast_server_options

    assert fast_server_options() == ("httptools", "uvloop")


def test_settings_are_frozen_and_copied_with_updates(tmp_path: Path) -> None:
    settings = Settings.from_env({"RELUPDE_DATA_DIR": str(tmp_path)})
    more = settings.model_copy(update={"workers": 3})  # what relupde serve --workers does
    assert (settings.workers, more.workers) == (1, 3) and more.data_dir == settings.data_dir
    with pytest.raises(ValueError, match="frozen"):
        settings.workers = 2  # type: ignore[misc]
