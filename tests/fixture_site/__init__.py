"""Rendering of fixture pages in each source layout (used by tests and the fixture web site)."""
