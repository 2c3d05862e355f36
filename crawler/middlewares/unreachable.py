"""Fail fast on a host that cannot be reached at all, and say why in one line.

When a host's first requests of a run fail because its name does not resolve, the connection
is refused or there is no route to it, the next request will fail the same way: on a machine
without network, or where the site is blocked, retrying with backoff only delays the verdict
by minutes. So the first such failure marks the host unreachable for the rest of the run: the
request is not retried, the host's requests that follow fail at once without being sent (each
a recorded failure, which the next run tries again), and one line says what happened and what
to do, e.g. ``kcna: cannot reach www.kcna.kp (DNS lookup failed: no network, or the site is
blocked here) — set a proxy (see README) or try kcna-monitor demo``. The run's stats keep the
reason (:data:`crawler.stats.UNREACHABLE`) for the run's record and the crawl's summary.

A host that has answered once in the run is not judged so: a later failure is retried like
any other. Timeouts and 5xx answers keep their retries and backoff. With robots.txt obeyed,
the first request to a host is its robots.txt, and the pages wait for it: when that fails,
no page of the host is sent at all.

This middleware sits between RetryMiddleware (550) and the backoff (555): its
``process_exception`` sees a failure before the retry does, and its ``process_request`` refuses
a request before it waits out a backoff. ``KCNA_MONITOR_FAIL_FAST = False`` switches it off.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import CannotResolveHostError, DownloadConnectionRefusedError, NotConfigured
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet import error as tx

from crawler import stats as keys
from crawler.middlewares.refused import HostUnreachable
from crawler.sources import SOURCES

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

DNS = "DNS lookup failed"
REFUSED = "connection refused"
NO_ROUTE = "network unreachable"

#: The failures that say a host cannot be reached, and what each is called.
KINDS: tuple[tuple[tuple[type[BaseException], ...], str], ...] = (
    ((CannotResolveHostError, tx.DNSLookupError), DNS),
    ((DownloadConnectionRefusedError, tx.ConnectionRefusedError), REFUSED),
    ((tx.NoRouteError,), NO_ROUTE),
)

#: What each failure most likely means, by what could not be reached.
_PUBLIC = {
    DNS: "no network, or the site is blocked here",
    REFUSED: "the site is down, or blocked here",
    NO_ROUTE: "no network, or the site is blocked here",
}
#: What to ask when a mirror (``--base-url``) or a proxy cannot be reached.
_ASK = {DNS: "is the address right?", REFUSED: "is it running?", NO_ROUTE: "no network?"}

PUBLIC_ADVICE = "set a proxy (see README) or try kcna-monitor demo"
MIRROR_ADVICE = "check --base-url (base_url in the configuration)"
PROXY_ADVICE = "check --proxy, the source's proxy or HTTP(S)_PROXY (see README)"


def failure_kind(exception: BaseException) -> str | None:
    """What an exception says cannot be done (:data:`KINDS`); None for any other failure."""
    for types, kind in KINDS:
        if isinstance(exception, types):
            return kind
    return None


def address(url: str) -> str:
    """``host`` or ``host:port`` of a URL, without the user and password it may carry."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.hostname or url
    return f"{host}:{parts.port}" if parts.port else host


def explain(url: str, kind: str, proxy: str | None = None) -> str:
    """The line's text after the source's name: what could not be reached, why, what to do."""
    host = (urlsplit(url).hostname or "").lower()
    if proxy:
        what, why, advice = f"the proxy {address(proxy)}", _ASK[kind], PROXY_ADVICE
    elif any(host in source.hosts for source in SOURCES.values()):
        what, why, advice = host, _PUBLIC[kind], PUBLIC_ADVICE
    else:  # a mirror or local copy (--base-url)
        what, why, advice = f"the mirror {address(url)}", _ASK[kind], MIRROR_ADVICE
    return f"cannot reach {what} ({kind}: {why}) — {advice}"


class UnreachableHostMiddleware:
    """Stops requesting a host whose first requests of the run show it cannot be reached."""

    def __init__(self, crawler: Crawler) -> None:
        if not crawler.settings.getbool("KCNA_MONITOR_FAIL_FAST", True):
            raise NotConfigured
        self.crawler = crawler
        self.stats = crawler.stats
        #: Hosts that answered in this run, and those that cannot be reached (with why).
        self.answered: set[str] = set()
        self.unreachable: dict[str, str] = {}
        crawler.signals.connect(self.response_downloaded, signal=signals.response_downloaded)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> UnreachableHostMiddleware:
        return cls(crawler)

    def response_downloaded(self, response: Response, request: Request, **_: Any) -> None:
        self.answered.add(_host(request))

    def process_request(self, request: Request) -> None:
        reason = self.unreachable.get(_host(request))
        if reason is not None:
            raise HostUnreachable(reason)

    def process_exception(self, request: Request, exception: Exception) -> None:
        host = _host(request)
        kind = failure_kind(exception)
        if kind is None or host in self.answered:
            return  # not this middleware's business: retried as usual
        reason = self.unreachable.get(host)
        if reason is None:
            proxy = request.meta.get("proxy")
            what = f"the proxy {address(proxy)}" if proxy else address(request.url)
            reason = self.unreachable[host] = f"cannot reach {what} ({kind})"
            self._say(request.url, kind, proxy)
        raise HostUnreachable(reason) from exception

    def _say(self, url: str, kind: str, proxy: str | None) -> None:
        """The one line of the host, once: logged, and kept in the run's stats."""
        text = explain(url, kind, proxy)
        spider = getattr(self.crawler, "spider", None)
        logger.info("%s: %s", getattr(spider, "name", "crawl"), text)
        if self.stats is not None and self.stats.get_value(keys.UNREACHABLE) is None:
            self.stats.set_value(keys.UNREACHABLE, text)


def _host(request: Request) -> str:
    return (urlparse_cached(request).hostname or "").lower()
