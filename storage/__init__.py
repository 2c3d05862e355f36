"""The archive: SQLAlchemy models (:mod:`storage.models`), identity keys, and the stores by
aggregate composed by :class:`storage.repository.Repository`. Imports no project code.

Import what you need from its module (``from storage.repository import Repository``): this
package module loads nothing, so reading a record type does not load the database drivers
or Alembic.
"""
