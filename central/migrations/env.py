"""Alembic environment: runs the migrations on the connection :func:`central.store.db.migrate` gives."""

from __future__ import annotations

from alembic import context

from central.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through central.store.db.migrate
    raise RuntimeError("run migrations with `triage-central migrate --db ...`")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
