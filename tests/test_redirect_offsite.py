"""Redirects never take a crawl off its source's site; loops and long chains are failures.

A redirect to another host (another address, or the same server under another name) is not
requested at all, that host's robots.txt included, and is recorded as a failure with the
reason. A redirect within the site (the public hosts, or the mirror being crawled) is followed.
"""

from __future__ import annotations

from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, Response
from scrapy.utils.test import get_crawler

from crawler.middlewares.redirects import (
    OffsiteRedirect,
    RedirectGuard,
    RedirectLoop,
    SiteHosts,
    SiteMetaRefreshMiddleware,
    SiteRedirectMiddleware,
    TooManyRedirects,
)
from crawler.spiders.kcna import KcnaSpider
from crawler.spiders.kcnawatch import KcnaWatchSpider
from replica.server import FixtureServer, FixtureSite
from replica.site import build_site
from storage.db import make_engine
from tests.storage_helpers import last_failures
from tests.test_e2e_crawl import cli, command, crawl_args, totals

MIRROR = "http://127.0.0.1:8080"
ARTICLE = "/en/article/q/0123456789abcdef0123456789abcdef.kcmsf"

# -- the hosts of a crawl ---------------------------------------------------------------------


def test_public_hosts_on_any_port_and_the_mirror_on_its_own_port_only():
    hosts = SiteHosts({"www.kcna.kp", "kcna.kp"}, [MIRROR + "/prefix"])
    assert hosts.allows("http://www.kcna.kp/en/x")
    assert hosts.allows("https://KCNA.kp:8443/en/x")
    assert hosts.allows("http://127.0.0.1:8080/en/x")
    assert not hosts.allows("http://127.0.0.1:8081/en/x")
    assert not hosts.allows("http://localhost:8080/en/x")  # the same server, another name
    assert not hosts.allows("http://127.0.0.2:8080/en/x")
    assert not hosts.allows("http://www.kcna.kp.example.org/")
    assert not hosts.allows("ftp://www.kcna.kp/x")
    assert not hosts.allows("http://www.kcna.kp:99999/x")  # an unreadable port


# -- the middlewares, built from a spider as a crawl builds them ----------------------------------


def middleware(cls=SiteRedirectMiddleware, spidercls=KcnaSpider, **spider_args):
    crawler = get_crawler(spidercls, {"REDIRECT_MAX_TIMES": 3})
    crawler.spider = spidercls.from_crawler(crawler, **spider_args)
    mw = cls.from_crawler(crawler)
    mw.spider_opened(crawler.spider)
    return mw


def redirect(request: Request, location: str, status: int = 302) -> Response:
    return Response(request.url, status=status, headers={"Location": location}, request=request)


def test_a_redirect_off_the_site_is_refused_with_its_reason():
    mw = middleware(base_url=MIRROR)
    request = Request(MIRROR + ARTICLE)
    for location in ("http://127.0.0.2:8000/x", "http://localhost:8080/x", "//evil.example/x"):
        with pytest.raises(OffsiteRedirect) as refused:
            mw.process_response(request, redirect(request, location))
        target = location if location.startswith("http") else "http:" + location
        assert refused.value.reason == f"redirected off the site to {target} (not followed)"


def test_a_redirect_within_the_mirror_is_followed_past_the_duplicate_filter():
    mw = middleware(base_url=MIRROR)
    request = Request(MIRROR + ARTICLE, cb_kwargs={"public_url": "http://www.kcna.kp" + ARTICLE})
    followed = mw.process_response(request, redirect(request, "/en/article/q/moved.kcmsf", 301))
    assert isinstance(followed, Request)
    assert followed.url == MIRROR + "/en/article/q/moved.kcmsf"
    assert followed.dont_filter
    assert followed.cb_kwargs == request.cb_kwargs  # still answers the page that redirected


def test_a_redirect_to_the_public_host_is_fetched_from_the_mirror():
    mw = middleware(base_url=MIRROR + "/")
    request = Request(MIRROR + ARTICLE)
    followed = mw.process_response(request, redirect(request, "http://www.kcna.kp/en/moved?x=1"))
    assert isinstance(followed, Request)
    assert followed.url == MIRROR + "/en/moved?x=1"


def test_without_a_mirror_the_public_hosts_are_the_site():
    mw = middleware(spidercls=KcnaWatchSpider)
    request = Request("https://kcnawatch.org/newstream/1-2/x/")
    followed = mw.process_response(request, redirect(request, "https://www.kcnawatch.org/y/"))
    assert isinstance(followed, Request)
    assert followed.url == "https://www.kcnawatch.org/y/"
    with pytest.raises(OffsiteRedirect):
        mw.process_response(request, redirect(request, "http://127.0.0.1:8080/y/"))


def test_a_loop_is_refused_naming_the_chain():
    mw = middleware(base_url=MIRROR)
    first = Request(MIRROR + "/a")
    second = mw.process_response(first, redirect(first, "/b"))
    assert isinstance(second, Request)
    with pytest.raises(RedirectLoop) as refused:
        mw.process_response(second, redirect(second, "/a#top"))
    assert refused.value.reason == (
        f"redirect loop: {MIRROR}/a -> {MIRROR}/b -> {MIRROR}/a#top (not followed)"
    )
    with pytest.raises(RedirectLoop):  # a page redirecting to itself
        mw.process_response(first, redirect(first, MIRROR + "/a"))


def test_a_chain_past_the_limit_is_refused():
    mw = middleware(base_url=MIRROR)
    request = Request(MIRROR + "/0")
    for number in range(1, 4):
        request = mw.process_response(request, redirect(request, f"/{number}"))
        assert isinstance(request, Request)
    with pytest.raises(TooManyRedirects) as refused:
        mw.process_response(request, redirect(request, "/4"))
    assert refused.value.reason == f"too many redirects: more than 3 from {MIRROR}/0 (not followed)"


def test_a_meta_refresh_off_the_site_is_refused():
    mw = middleware(SiteMetaRefreshMiddleware, base_url=MIRROR)
    request = Request(MIRROR + ARTICLE)
    page = b'<html><head><meta http-equiv="refresh" content="0;url=http://127.0.0.2/x"></head>'
    response = HtmlResponse(request.url, body=page, request=request)
    with pytest.raises(OffsiteRedirect):
        mw.process_response(request, response)
    within = page.replace(b"http://127.0.0.2/x", b"/en/y")
    followed = mw.process_response(request, HtmlResponse(request.url, body=within, request=request))
    assert isinstance(followed, Request) and followed.url == MIRROR + "/en/y"


def test_a_guard_for_a_spider_without_public_hosts_lets_any_host_through():
    guard = RedirectGuard.for_spider(object(), max_times=5)
    request = Request("http://example.org/a")
    assert guard.check(request, Request("http://example.net/b")).url == "http://example.net/b"


# -- a real crawl -------------------------------------------------------------------------------

Answer = Callable[[BaseHTTPRequestHandler], None]


def serve_answers(server: FixtureServer, answers: dict[str, Answer]) -> None:
    """Answer the GETs of some paths with ``answers`` (before the server starts); the site
    logs them as it logs every other request."""
    base = server.httpd.RequestHandlerClass

    class Handler(base):  # type: ignore[valid-type, misc]
        def do_GET(self) -> None:
            answer = answers.get(self.path)
            if answer is None:
                super().do_GET()
                return
            with self.site.lock:
                self.site.requests.append(("GET", self.path))
            answer(self)

    server.httpd.RequestHandlerClass = Handler


def to(location: str, status: int = 302) -> Answer:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


def test_a_crawl_follows_redirects_on_the_site_only_and_records_the_others(tmp_path: Path):
    built = build_site()
    # Other hosts, each with a robots.txt and pages: no request may reach them.
    far, near = FixtureSite(), FixtureSite()
    for site in (far, near):
        site.put("/robots.txt", "User-agent: *\nAllow: /\n")
        site.put("/x", "<html><body><p>elsewhere</p></body></html>")
    far_server = FixtureServer(far, host="127.0.0.2")
    near_server = FixtureServer(near)  # 127.0.0.1 on another port, asked for as "localhost"
    server = FixtureServer(built.site)
    far_url = far_server.url + "/x"
    near_url = near_server.url.replace("127.0.0.1", "localhost") + "/x"

    paths = [rec["url"].removeprefix("http://www.kcna.kp") for rec in built.q_articles]
    off_far, off_near, moved, via_public, loop, chain, refresh = paths[:7]
    site = built.site
    site.pages["/moved" + moved] = site.pages[moved]
    site.pages["/public" + via_public] = site.pages[via_public]
    refresh_page = f'<html><head><meta http-equiv="refresh" content="0;url={far_url}"></head>'
    site.put(refresh, refresh_page + "<body></body></html>")
    answers = {
        off_far: to(far_url),
        off_near: to(near_url, 307),
        moved: to("/moved" + moved, 301),
        via_public: to("http://www.kcna.kp/public" + via_public),
        loop: to("/loop/b"),
        "/loop/b": to(loop),
        chain: to("/chain/1"),
        **{f"/chain/{n}": to(f"/chain/{n + 1}") for n in range(1, 8)},
    }
    serve_answers(server, answers)

    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    with far_server, near_server, server:
        result = cli(*crawl_args(server, built, db_url, source="kcna"), env_home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert far.requests == [] and near.requests == []  # robots.txt included
    assert "failed 5" in totals(result.stdout)

    failures = {f.url: f.reason for f in last_failures(make_engine(db_url), 50)}
    public = {path: "http://www.kcna.kp" + path for path in paths}
    assert failures[public[off_far]] == f"redirected off the site to {far_url} (not followed)"
    assert failures[public[off_near]] == f"redirected off the site to {near_url} (not followed)"
    assert failures[public[refresh]] == f"redirected off the site to {far_url} (not followed)"
    assert failures[public[loop]].startswith("redirect loop: ")
    assert failures[public[chain]].startswith("too many redirects: more than 5 from ")
    assert len(failures) == 5

    # Redirects within the site were followed; the article is stored under the URL listed.
    requested = {path for _, path in site.requests}
    assert {"/moved" + moved, "/public" + via_public} <= requested
    assert "/chain/5" in requested and "/chain/6" not in requested
    exported = command("export", "--db", db_url, env_home=tmp_path)
    assert public[moved] in exported.stdout and public[via_public] in exported.stdout
