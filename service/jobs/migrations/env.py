"""Alembic's environment: migrations run on the connection ``service.jobs.schema`` hands over
(one transaction, under the store's migration lock), never on a URL of their own."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
