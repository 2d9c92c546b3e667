"""Alembic migrations of the job store (``service.jobs.schema`` runs them)."""
