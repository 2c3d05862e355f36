"""The archive: SQLAlchemy models, identity keys and the repository. Imports no project code."""
