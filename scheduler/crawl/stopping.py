"""How a crawl running in this process stops on SIGTERM, SIGINT or Ctrl-C: what it parsed is
stored first, then the downloads in flight are abandoned rather than awaited."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.ossignal import install_shutdown_handlers
from twisted.internet.defer import DeferredList
from twisted.python.failure import Failure

from crawler.signals import stop_requested
from crawler.spiders.base import ABANDONED

logger = logging.getLogger(__name__)

#: Seconds a stopped crawl may take to close once what it parsed is stored.
STOP_TIMEOUT = 5.0


class StopOnSignal:
    """How a crawl in this process stops on SIGTERM, SIGINT or Ctrl-C.

    The first signal asks every crawler's components to write what they hold
    (:data:`crawler.signals.stop_requested`: the storing pipeline stores every parsed article,
    then the stats collector records the run as interrupted), then abandons the downloads in
    flight (their connections are aborted, so they end as failures the next crawl retries)
    instead of waiting up to a download timeout for them, and stops the crawlers. A second signal
    stops at once.

    The reactor is imported where it is used, as Scrapy itself does: importing
    ``twisted.internet.reactor`` installs one, and the crawl process chooses which (its
    ``TWISTED_REACTOR`` setting) when it starts.
    """

    def __init__(self, process: CrawlerProcess, crawlers: Sequence[Any]) -> None:
        self.process = process
        self.crawlers = list(crawlers)
        self.stopping = False

    def install(self) -> None:
        """Install the handlers once the reactor runs (call before starting it)."""
        from twisted.internet import reactor

        reactor.addSystemEventTrigger(
            "after", "startup", install_shutdown_handlers, self._first_signal
        )

    def _first_signal(self, signum: int, _frame: Any) -> None:
        from twisted.internet import reactor

        install_shutdown_handlers(self._second_signal)
        reactor.callFromThread(self._stop, signum)

    def _second_signal(self, _signum: int, _frame: Any) -> None:
        from twisted.internet import reactor

        install_shutdown_handlers(signal.SIG_IGN)
        reactor.callFromThread(_stop_reactor)

    def _stop(self, signum: int) -> None:
        if self.stopping:
            return
        self.stopping = True
        logger.info(
            "received %s: storing what was parsed, then stopping (send again to stop at once)",
            signal.Signals(signum).name,
        )
        sends = [
            deferred_from_coro(crawler.signals.send_catch_log_async(signal=stop_requested))
            for crawler in self.crawlers
        ]
        stopped = DeferredList(sends, consumeErrors=True)
        stopped.addBoth(lambda _: self._abort_downloads())
        stopped.addBoth(lambda _: self._exit_later())
        stopped.addBoth(lambda _: self.process.stop())
        stopped.addBoth(_stop_reactor)

    def _exit_later(self) -> None:
        """What was parsed is stored: if closing the crawlers hangs, exit regardless."""
        from twisted.internet import reactor

        def force() -> None:
            logger.warning(
                "the crawl did not close within %g s of the stop: exiting (what was parsed"
                " is stored)",
                STOP_TIMEOUT,
            )
            logging.shutdown()
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.write(
                    "kcna-monitor: error: interrupted: what was fetched until then is stored\n"
                )
                sys.stderr.flush()
            os._exit(130)

        reactor.callLater(STOP_TIMEOUT, force)

    def _abort_downloads(self) -> None:
        """Abort the downloads in flight: not retried, their connections closed at once."""
        from twisted.internet import reactor, tcp

        for crawler in self.crawlers:
            downloader = getattr(getattr(crawler, "engine", None), "downloader", None)
            if downloader is None:
                continue
            for request in downloader.active:
                request.meta.update({"dont_retry": True, ABANDONED: True})
            for slot in downloader.slots.values():  # waiting for their turn: not sent at all
                while slot.queue:
                    request, waiting = slot.queue.popleft()
                    request.meta.update({"dont_retry": True, ABANDONED: True})
                    waiting.errback(Failure(IgnoreRequest("abandoned: the crawl was stopped")))
        for selectable in {*reactor.getReaders(), *reactor.getWriters()}:
            if isinstance(selectable, tcp.Client):  # the only client connections: downloads
                selectable.abortConnection()


def _stop_reactor(_: Any = None) -> None:
    from twisted.internet import reactor

    with contextlib.suppress(RuntimeError):  # stopped already
        reactor.stop()
