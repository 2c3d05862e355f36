"""Failure reasons are never empty, and in words: a page cut short names the bytes that came
and those announced; an error without a message is its type's name in words; a stored
article's URL showing another kind of page is recognised as a soft deletion."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.exceptions import ResponseDataLossError
from scrapy.http import HtmlResponse, Response
from scrapy.utils.test import get_crawler
from twisted.internet.error import ConnectionDone

from crawler.extract import ERROR_PAGE, HOME_PAGE, LIST_PAGE, shown_instead
from crawler.middlewares.size import PageTooLarge
from crawler.middlewares.truncated import (
    EXPECTED,
    RECEIVED,
    PageTruncated,
    TruncationMiddleware,
    truncated_reason,
)
from crawler.spiders.kcna import KcnaSpider
from crawler.spiders.reasons import dataloss_reason, failure_reason, type_in_words
from replica.server import FixtureServer
from replica.site import build_site
from storage.db import make_engine
from tests.storage_helpers import last_failures
from tests.test_e2e_crawl import cli, crawl_args, totals
from tests.test_redirect_offsite import serve_answers


class _DataLoss(Exception):  # as twisted's: no message
    pass


ARTICLE = "http://www.kcna.kp/en/article/q/0123456789abcdef.kcmsf"


def test_a_truncated_answer_names_the_bytes():
    assert truncated_reason(4700, 5922) == "response truncated after 4,700 of 5,922 bytes"
    assert truncated_reason(4700, None) == (
        "response truncated after 4,700 bytes (its length was not announced)"
    )
    assert truncated_reason(None, None).startswith("response truncated: ")


def test_an_error_without_a_message_is_its_type_in_words():
    assert type_in_words(ResponseDataLossError()) == "response data loss error"
    assert failure_reason(_DataLoss()) == "data loss"
    assert failure_reason(ConnectionDone()) == "ConnectionDone: Connection was closed cleanly."
    assert failure_reason(ValueError("bad thing")) == "ValueError: bad thing"
    assert failure_reason(PageTooLarge("page larger than 8 MB: not stored")) == (
        "page larger than 8 MB: not stored"
    )


def test_the_middleware_counts_bytes_and_words_a_data_loss():
    crawler = get_crawler(KcnaSpider)
    middleware = TruncationMiddleware.from_crawler(crawler)
    request = Request(ARTICLE)
    middleware.headers_received(body_length=5922, request=request, headers={}, spider=None)
    middleware.bytes_received(data=b"x" * 4000, request=request, spider=None)
    middleware.bytes_received(data=b"x" * 700, request=request, spider=None)
    with pytest.raises(PageTruncated) as raised:
        middleware.process_exception(request, ResponseDataLossError())
    assert raised.value.reason == "response truncated after 4,700 of 5,922 bytes"
    assert middleware.process_exception(request, ValueError("other")) is None
    # A retry counts afresh; a length the headers do not say is not made up.
    middleware.headers_received(body_length=object(), request=request, headers={}, spider=None)
    assert request.meta[RECEIVED] == 0 and request.meta[EXPECTED] is None


def test_a_page_let_through_cut_short_is_not_stored():
    request = Request(ARTICLE, meta={EXPECTED: 10})
    whole = HtmlResponse(ARTICLE, body=b"<html>", request=request)
    cut = Response(ARTICLE, body=b"<html>", request=request, flags=["dataloss"])
    assert dataloss_reason(whole) is None
    assert dataloss_reason(cut) == "response truncated after 6 of 10 bytes"


HOME = "http://www.kcna.kp/"
LIST = "http://www.kcna.kp/en/category/articles/q/1ee9bdb7186944f765208f34ecfb5407.kcmsf"
Q_LIST = '<html><body><ul class="article-link"><li><a href="/x">A</a></li></ul></body></html>'
ERROR = "<html><head><title>Error</title></head><body><h1>Page not found</h1></body></html>"
Q_ARTICLE = (
    '<html><body><div class="article-content-body"><p>Pyongyang, May 1 (KCNA)</p>'
    "</div></body></html>"
)


def test_what_a_stored_articles_url_shows_instead():
    assert shown_instead(ARTICLE, Q_LIST, final_url=HOME) == HOME_PAGE
    assert shown_instead(ARTICLE, "<html></html>", final_url=LIST) == LIST_PAGE
    assert shown_instead(ARTICLE, Q_LIST) == LIST_PAGE
    assert shown_instead(ARTICLE, ERROR) == ERROR_PAGE
    # An article, a page that cannot be read or a menu page say nothing of a deletion.
    assert shown_instead(ARTICLE, Q_ARTICLE) is None
    assert shown_instead(ARTICLE, "") is None
    menus = '<html><body><a href="/">Home</a><main></main></body></html>'
    assert shown_instead(ARTICLE, menus) is None
    blocked = "<html><head><title>Web Page Blocked</title></head><body>error</body></html>"
    assert shown_instead(ARTICLE, blocked) is None


def short_body(body: bytes, sent: int):
    """An answer announcing ``len(body)`` bytes that sends ``sent`` of them and hangs up."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[:sent])
        handler.wfile.flush()
        handler.close_connection = True

    return answer


@pytest.mark.e2e
def test_a_truncated_page_is_recorded_with_the_bytes_it_lost(tmp_path: Path):
    built = build_site()
    path = built.q_articles[-1]["url"].removeprefix("http://www.kcna.kp")
    body = built.site.pages[path].body
    sent = len(body) * 3 // 4
    server = FixtureServer(built.site)
    serve_answers(server, {path: short_body(body, sent)})
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    with server:
        result = cli(*crawl_args(server, built, db_url, source="kcna"), env_home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "failed 1" in totals(result.stdout)
    failures = {f.url: f.reason for f in last_failures(make_engine(db_url), 10)}
    assert failures == {
        "http://www.kcna.kp" + path: f"response truncated after {sent:,} of {len(body):,} bytes"
    }
