"""Failing fast on a host that cannot be reached (crawler.middlewares.unreachable): which
failures count, what the one line says, and that other failures keep their retries."""

from __future__ import annotations

import logging

import pytest
from scrapy import Request, Spider
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    NotConfigured,
)
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler
from twisted.internet import error as tx

from crawler import stats as keys
from crawler.middlewares.refused import HostUnreachable
from crawler.middlewares.unreachable import UnreachableHostMiddleware, explain, failure_kind
from crawler.statscollectors import outcome

KCNA = "http://www.kcna.kp/en/article/list/a666dda1282180e0ee1b4427b0574ae7"
ISSUE_LINE = (
    "kcna: cannot reach www.kcna.kp (DNS lookup failed: no network, or the site is blocked"
    " here) — set a proxy (see README) or try kcna-monitor demo"
)


@pytest.fixture
def middleware() -> UnreachableHostMiddleware:
    crawler = get_crawler(Spider, {"STATS_CLASS": "scrapy.statscollectors.MemoryStatsCollector"})
    crawler.spider = Spider(name="kcna")
    return UnreachableHostMiddleware.from_crawler(crawler)


def fail(middleware: UnreachableHostMiddleware, request: Request, error: Exception) -> None:
    """``process_exception``: None (the failure goes on to the retry) or raises."""
    assert middleware.process_exception(request, error) is None


def test_a_dns_failure_of_a_first_request_says_why_once_and_is_not_retried(
    middleware: UnreachableHostMiddleware, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="crawler.middlewares.unreachable")
    for _ in range(2):  # two requests in flight at once: one line
        with pytest.raises(HostUnreachable) as raised:
            middleware.process_exception(Request(KCNA), CannotResolveHostError("no such host"))
        assert raised.value.reason == "cannot reach www.kcna.kp (DNS lookup failed)"
    assert [r.getMessage() for r in caplog.records] == [ISSUE_LINE]
    assert middleware.stats.get_value(keys.UNREACHABLE) == ISSUE_LINE.removeprefix("kcna: ")
    # A refusal is an IgnoreRequest: no retry, no "Error downloading" from robots.txt.
    assert isinstance(raised.value, IgnoreRequest)


def test_the_host_s_later_requests_fail_at_once_and_other_hosts_go_on(
    middleware: UnreachableHostMiddleware,
) -> None:
    with pytest.raises(HostUnreachable):
        middleware.process_exception(Request(KCNA), tx.DNSLookupError("www.kcna.kp"))
    for url in (KCNA, "http://www.kcna.kp/robots.txt", "http://WWW.KCNA.KP/en/"):
        with pytest.raises(HostUnreachable, match=r"cannot reach www\.kcna\.kp"):
            middleware.process_request(Request(url))
    assert middleware.process_request(Request("https://kcnawatch.org/newstream/")) is None


@pytest.mark.parametrize(
    "error",
    [
        DownloadTimeoutError("took too long"),
        tx.TimeoutError(),
        tx.TCPTimedOutError(),
        tx.ConnectionLost(),
        ValueError("not a network failure"),
    ],
)
def test_timeouts_and_other_failures_keep_their_retries(
    middleware: UnreachableHostMiddleware, error: Exception
) -> None:
    fail(middleware, Request(KCNA), error)
    assert middleware.process_request(Request(KCNA)) is None
    assert middleware.stats.get_value(keys.UNREACHABLE) is None


def test_a_host_that_answered_in_this_run_is_retried_as_usual(
    middleware: UnreachableHostMiddleware,
) -> None:
    request = Request(KCNA)
    middleware.response_downloaded(HtmlResponse(KCNA, request=request), request)
    fail(middleware, Request(KCNA), CannotResolveHostError("a passing hiccup"))
    fail(middleware, Request(KCNA), DownloadConnectionRefusedError("restarting"))
    assert middleware.process_request(Request(KCNA)) is None


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (CannotResolveHostError("x"), "DNS lookup failed"),
        (tx.DNSLookupError("x"), "DNS lookup failed"),
        (DownloadConnectionRefusedError("x"), "connection refused"),
        (tx.ConnectionRefusedError(), "connection refused"),
        (tx.NoRouteError(), "network unreachable"),
        (DownloadTimeoutError("x"), None),
        (tx.ConnectError(), None),
    ],
)
def test_which_failures_say_a_host_cannot_be_reached(error: Exception, kind: str | None) -> None:
    assert failure_kind(error) == kind


@pytest.mark.parametrize(
    ("url", "kind", "proxy", "line"),
    [
        (
            "https://kcnawatch.org/newstream/",
            "connection refused",
            None,
            "cannot reach kcnawatch.org (connection refused: the site is down, or blocked here)"
            " — set a proxy (see README) or try kcna-monitor demo",
        ),
        (
            "http://127.0.0.1:8080/en/",
            "connection refused",
            None,
            "cannot reach the mirror 127.0.0.1:8080 (connection refused: is it running?)"
            " — check --base-url (base_url in the configuration)",
        ),
        (
            "http://mirror.invalid/en/",
            "DNS lookup failed",
            None,
            "cannot reach the mirror mirror.invalid (DNS lookup failed: is the address right?)"
            " — check --base-url (base_url in the configuration)",
        ),
        (
            KCNA,
            "connection refused",
            "http://user:secret@127.0.0.1:3128",
            "cannot reach the proxy 127.0.0.1:3128 (connection refused: is it running?)"
            " — check --proxy, the source's proxy or HTTP(S)_PROXY (see README)",
        ),
    ],
)
def test_what_the_line_says(url: str, kind: str, proxy: str | None, line: str) -> None:
    assert explain(url, kind, proxy) == line


def test_a_refused_proxy_is_named_in_each_failure_without_its_password(
    middleware: UnreachableHostMiddleware,
) -> None:
    request = Request(KCNA, meta={"proxy": "http://user:secret@127.0.0.1:3128"})
    with pytest.raises(HostUnreachable) as raised:
        middleware.process_exception(request, DownloadConnectionRefusedError("refused"))
    assert raised.value.reason == "cannot reach the proxy 127.0.0.1:3128 (connection refused)"
    assert "secret" not in str(middleware.stats.get_value(keys.UNREACHABLE))


def test_the_reason_is_the_failed_run_s_error() -> None:
    stats = {keys.UNREACHABLE: "cannot reach www.kcna.kp (DNS lookup failed: ...)"}
    assert outcome(stats, "finished") == ("failed", stats[keys.UNREACHABLE])
    # A run that fetched pages is not failed by it.
    assert outcome({**stats, keys.RESPONSES: 3}, "finished") == ("ok", None)


def test_fail_fast_can_be_switched_off() -> None:
    crawler = get_crawler(Spider, {"KCNA_MONITOR_FAIL_FAST": False})
    with pytest.raises(NotConfigured):
        UnreachableHostMiddleware.from_crawler(crawler)
