"""The spider's options read from its arguments and settings."""

from __future__ import annotations

from scrapy.exceptions import UsageError
from scrapy.settings import BaseSettings


def max_pages_option(value: int | str | None, settings: BaseSettings) -> int:
    """The ``max_pages`` spider argument (``KCNA_MONITOR_MAX_PAGES`` when not given), checked."""
    if value is None:
        value = settings.getint("KCNA_MONITOR_MAX_PAGES", 3)
    try:
        pages = int(value)
    except (TypeError, ValueError):
        raise UsageError(f"max_pages must be a whole number, got {value!r}") from None
    if pages < 1:
        raise UsageError(f"max_pages must be at least 1, got {pages}")
    return pages


def with_contact(agent: str, contact: str) -> str:
    """The user agent naming a contact: in its closing parenthesis, or in one of its own."""
    if agent.endswith(")"):
        return f"{agent[:-1]}; contact: {contact})"
    return f"{agent} (contact: {contact})"
