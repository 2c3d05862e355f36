"""Alembic migrations of the archive schema, run by :func:`storage.db.migrate`."""
