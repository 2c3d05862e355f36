"""Redirects that stay on the source's site; any other redirect is a recorded failure.

Scrapy's redirect middlewares follow a ``Location`` (or a ``<meta http-equiv="refresh">``) to
any host, and a loop ends silently in the duplicate filter. The subclasses here let Scrapy
build the redirected request, then check it before anything is sent (the other host's
robots.txt included):

- a redirect off the site is refused (:class:`OffsiteRedirect`). The site is the spider's
  public hosts (any port) and, when it crawls a mirror, the mirror's host and port. In a
  mirror crawl a redirect to a public host is fetched from the mirror, as every other page is;
- a redirect back to a URL of the same chain is refused (:class:`RedirectLoop`);
- a chain longer than ``REDIRECT_MAX_TIMES`` is refused (:class:`TooManyRedirects`).

A refused redirect reaches the request's errback, which records a failure with the reason. A
redirect that is followed is not dropped by the duplicate filter (loops are caught above), so
the page that redirected is always answered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import urldefrag, urlsplit

from scrapy import signals
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response

from crawler.middlewares.refused import RequestRefused
from crawler.spiders.urls import SiteUrls

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

_DEFAULT_PORTS = {"http": 80, "https": 443}


class OffsiteRedirect(RequestRefused):
    """A redirect to a host that is not the source's."""


class RedirectLoop(RequestRefused):
    """A redirect back to a URL already met in the same chain."""


class TooManyRedirects(RequestRefused):
    """A chain of redirects longer than allowed."""


def _host_and_port(url: str) -> tuple[str, int | None] | None:
    """The lower-case host of an http(s) URL and its port (the scheme's default when absent);
    None for anything else, an unreadable port included."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    return parts.hostname.lower(), port or _DEFAULT_PORTS[parts.scheme]


class SiteHosts:
    """Where a crawl may send requests: ``hosts`` on any port, ``mirrors`` (URLs) on their
    own host and port only."""

    def __init__(self, hosts: Iterable[str], mirrors: Iterable[str] = ()) -> None:
        self.hosts = frozenset(host.lower() for host in hosts)
        self.mirrors = frozenset(
            found for found in (_host_and_port(url) for url in mirrors) if found is not None
        )

    def is_public(self, url: str) -> bool:
        """Whether ``url`` is on one of the public hosts."""
        found = _host_and_port(url)
        return found is not None and found[0] in self.hosts

    def allows(self, url: str) -> bool:
        """Whether ``url`` is on the site: a public host, or a mirror's host and port."""
        found = _host_and_port(url)
        return found is not None and (found[0] in self.hosts or found in self.mirrors)


class RedirectGuard:
    """Checks a redirect Scrapy is about to follow; raises the refusal or returns the request
    to send.

    ``hosts`` is the site (None: any host); ``to_mirror`` turns a public URL into the URL to
    fetch it from (a mirror crawl), or is None.
    """

    def __init__(
        self,
        hosts: SiteHosts | None,
        *,
        max_times: int,
        to_mirror: Callable[[str], str] | None = None,
    ) -> None:
        self.hosts = hosts
        self.max_times = max_times
        self.to_mirror = to_mirror

    @classmethod
    def for_spider(cls, spider: Any, max_times: int) -> RedirectGuard:
        """The guard of a source spider: the public hosts and the mirror of its ``site``.

        A spider without a ``site`` (:class:`~crawler.spiders.urls.SiteUrls`) may be
        redirected to any host.
        """
        site = getattr(spider, "site", None)
        if not isinstance(site, SiteUrls):
            return cls(None, max_times=max_times)
        mirror = site.base_url
        hosts = SiteHosts(site.public_hosts, [mirror] if mirror else [])
        return cls(hosts, max_times=max_times, to_mirror=site.to_fetch if mirror else None)

    def check(self, request: Request, redirected: Request) -> Request:
        """The request to send for ``request`` redirected to ``redirected``."""
        target = redirected.url
        if self.to_mirror is not None and self.hosts is not None and self.hosts.is_public(target):
            target = self.to_mirror(target)
            redirected = redirected.replace(url=target)
        if self.hosts is not None and not self.hosts.allows(target):
            raise OffsiteRedirect(f"redirected off the site to {target} (not followed)")
        chain = [*request.meta.get("redirect_urls", ()), request.url]
        seen = {urldefrag(url)[0] for url in chain}
        if urldefrag(target)[0] in seen:
            path = " -> ".join([*chain, target])
            raise RedirectLoop(f"redirect loop: {path} (not followed)")
        # The duplicate filter would drop a redirect to a page fetched before, and with it
        # the answer to this request; loops are refused above, and chains are bounded.
        redirected.dont_filter = True
        return redirected

    def too_many(self, request: Request) -> TooManyRedirects:
        """The refusal of a redirect past ``max_times``."""
        first = [*request.meta.get("redirect_urls", ()), request.url][0]
        return TooManyRedirects(
            f"too many redirects: more than {self.max_times} from {first} (not followed)"
        )


class _Guarded:
    """What both middlewares share: Scrapy builds the redirected request, the guard checks it.

    ``guard`` is for tests; a crawl builds one for its spider when the spider opens.
    """

    crawler: Any
    max_redirect_times: int

    def __init__(self, settings: BaseSettings, guard: RedirectGuard | None = None) -> None:
        super().__init__(settings)  # type: ignore[call-arg]
        self.guard = guard

    @classmethod
    def from_crawler(cls, crawler: Any) -> Self:
        middleware = super().from_crawler(crawler)  # type: ignore[misc]
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        return middleware

    def spider_opened(self, spider: Any) -> None:
        self.guard = RedirectGuard.for_spider(spider, self.max_redirect_times)

    def _guard(self) -> RedirectGuard:
        if self.guard is None:
            spider = getattr(getattr(self, "crawler", None), "spider", None)
            self.guard = RedirectGuard.for_spider(spider, self.max_redirect_times)
        return self.guard

    def process_response(self, request: Request, response: Response) -> Request | Response:
        try:
            result = super().process_response(request, response)  # type: ignore[misc]
        except RequestRefused:
            raise
        except IgnoreRequest as exc:  # Scrapy's "max redirections reached"
            raise self._guard().too_many(request) from exc
        if isinstance(result, Request):
            return self._guard().check(request, result)
        return result


class SiteRedirectMiddleware(_Guarded, RedirectMiddleware):
    """Scrapy's :class:`RedirectMiddleware` (3xx answers with ``Location``), kept on the site."""


class SiteMetaRefreshMiddleware(_Guarded, MetaRefreshMiddleware):
    """Scrapy's :class:`MetaRefreshMiddleware` (``<meta http-equiv="refresh">``), kept on the
    site."""
