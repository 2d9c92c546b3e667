"""The job store's schema, migrated by Alembic (``service/jobs/migrations``).

Revisions are numbered like the schema versions they make: ``0001`` jobs and models,
``0002`` the loss-curve table, ``0003`` the jobs' latest residual figures.  ``prepare``
brings any database to the newest one:

* an empty database gets every revision;
* a database of relupde before Alembic carries its version in the table
  ``relupde_schema``: it is stamped at that revision, then upgraded, and the old table is
  dropped (its jobs, models and loss curves stay as they are);
* a database at an older revision is upgraded; one at a revision this relupde does not know
  (written by a newer relupde) is refused with ``StoreError``.

Every process that opens the store (the API, each worker) calls ``prepare``; the upgrade
runs under a lock (a PostgreSQL advisory lock, a file lock beside a SQLite file), so two
processes starting together do not both create the tables.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
LEGACY_TABLE = "relupde_schema"
ADVISORY_LOCK_KEY = 0x72656C7570  # "relup"


class SchemaError(RuntimeError):
    """The database's schema cannot be used by this relupde; the message says why."""


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> int:
    """The newest schema version this relupde knows."""
    revision = ScriptDirectory.from_config(_config(None)).get_current_head()  # type: ignore[arg-type]
    return int(revision or 0)


def current(connection: Connection) -> int:
    """The database's schema version (0 for an empty database)."""
    revision = MigrationContext.configure(connection).get_current_revision()
    if revision is not None:
        return int(revision)
    if LEGACY_TABLE in inspect(connection).get_table_names():
        return int(connection.execute(text(f"SELECT max(version) FROM {LEGACY_TABLE}")).scalar() or 0)
    return 0


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """One process at a time: a file lock beside a SQLite file (PostgreSQL locks in SQL)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with Path(f"{database}.migrate.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare(engine: Engine) -> None:
    """Bring the database to the newest schema (see the module doc)."""
    newest = head()
    with _migration_lock(engine), engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        version = current(connection)
        if version > newest:
            raise SchemaError(
                f"the job store has schema version {version}, newer than this relupde's {newest}: "
                "upgrade relupde"
            )
        config = _config(connection)
        tables = inspect(connection).get_table_names()
        if LEGACY_TABLE in tables and MigrationContext.configure(connection).get_current_revision() is None:
            command.stamp(config, f"{version:04d}")
        if version < newest:
            command.upgrade(config, "head")
        if LEGACY_TABLE in inspect(connection).get_table_names():
            connection.execute(text(f"DROP TABLE {LEGACY_TABLE}"))
