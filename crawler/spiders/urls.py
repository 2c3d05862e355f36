"""A source's URLs: the public site every reported URL names, and the mirror pages come from.

Pages may be fetched from a mirror or local copy (``base_url``) while every URL a spider
reports still names the public host, so an archive filled from a copy is the same as one
filled from the real site. Plain values in, plain values out: nothing here needs Scrapy.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

from crawler.sources import is_http_url


class BadUrl(ValueError):
    """A spider argument that must be an http(s) URL and is not."""


def split_option(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """Spider arguments come as a list (from code) or one comma-separated string (``-a``)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(part).strip() for part in value if str(part).strip()]


def check_http_url(value: str, what: str) -> str:
    """``value`` if it is an http(s) URL; else :class:`BadUrl` naming ``what`` it was for."""
    if not is_http_url(value):
        raise BadUrl(f"{what} must be an http(s) URL, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class SiteUrls:
    """A source's public site (``public_root``, e.g. ``http://www.kcna.kp``, and the hosts that
    count as its own) and, when a crawl reads a copy, the mirror's ``base_url``."""

    public_root: str
    public_hosts: frozenset[str]
    base_url: str | None = None

    def __post_init__(self) -> None:
        if self.base_url:
            object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    def is_own(self, url: str) -> bool:
        """Whether ``url`` is on one of the public hosts (any port)."""
        return (urlsplit(url).hostname or "").lower() in self.public_hosts

    def to_public(self, url: str) -> str:
        """The public URL of a fetched URL (a mirror's URL keeps its path and query)."""
        parts = urlsplit(url)
        if self.base_url and not self.is_own(url):
            base = urlsplit(self.base_url)
            path = parts.path
            if base.path and path.startswith(base.path):
                path = path[len(base.path) :] or "/"
            root = urlsplit(self.public_root)
            return urlunsplit((root.scheme, root.netloc, path, parts.query, ""))
        return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))

    def to_fetch(self, public_url: str) -> str:
        """Where to fetch a public URL from: the mirror when one is set."""
        if not self.base_url:
            return public_url
        parts = urlsplit(public_url)
        return urljoin(self.base_url + "/", parts.path.lstrip("/")) + (
            f"?{parts.query}" if parts.query else ""
        )
