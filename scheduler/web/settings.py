"""The ``[web]`` table: what ``kcna-monitor serve`` needs beyond its command line.

``token``: the secret a client must present (``Authorization: Bearer TOKEN``, or basic auth
with TOKEN as the password) when the server listens on an address other than the loopback
one; ``$KCNA_MONITOR_WEB_TOKEN`` overrides it. ``stale_after``: ``/healthz`` fails when a
source's last successful run is older than this many of its intervals (``false``: never).
``page_size``: results per page of the archive and search pages.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import BeforeValidator

from scheduler.configtypes import Section, mistake, non_empty, show, whole

ENV_TOKEN = "KCNA_MONITOR_WEB_TOKEN"
#: A token shorter than this is refused: it would be guessed.
MIN_TOKEN_LENGTH = 16


def _token(value: Any) -> str | None:
    if value is None:
        return None
    text = non_empty(value)
    if len(text) < MIN_TOKEN_LENGTH:
        raise mistake(f"too short: use at least {MIN_TOKEN_LENGTH} characters")
    return text


def _multiple(value: Any) -> float | None:
    if value is None or value is False:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 1:
        raise mistake(f"expected a number of intervals of at least 1, or false, got {show(value)}")
    return float(value)


class WebConfig(Section):
    """``[web]`` (defaults when absent)."""

    token: Annotated[str | None, BeforeValidator(_token)] = None
    stale_after: Annotated[float | None, BeforeValidator(_multiple)] = 3.0
    page_size: Annotated[int, whole(maximum=200)] = 25

    def effective_token(self) -> str | None:
        """The token clients must present: ``$KCNA_MONITOR_WEB_TOKEN``, else ``token``."""
        from_env = os.environ.get(ENV_TOKEN, "").strip()
        return from_env or self.token
