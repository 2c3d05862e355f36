"""Bounded memory: pages over DOWNLOAD_MAXSIZE (compressed or once decompressed) and article
texts over MAX_TEXT_CHARS are recorded failures, and a crawl meeting a 1 GiB gzip bomb and a
60 MB page stays small."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import zlib
from datetime import date
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.exceptions import DownloadCancelledError, DownloadTimeoutError, NotConfigured
from scrapy.http import HtmlResponse, Response
from scrapy.utils.test import get_crawler

from crawler.extract import MAX_TEXT_CHARS, MAX_TITLE_CHARS, extract_page
from crawler.extract.records import ExtractionError
from crawler.middlewares.size import (
    CappedCompressionMiddleware,
    PageSizeMiddleware,
    PageTooLarge,
    size_text,
)
from crawler.spiders.kcna import KcnaSpider
from replica.server import FixtureServer, Page
from replica.site import build_site
from storage.db import make_engine
from tests.storage_helpers import last_failures
from tests.test_e2e_crawl import ROOT, command, crawl_args, totals
from tests.test_redirect_offsite import serve_answers

MB = 1 << 20
URL = "http://127.0.0.1:8080/en/article/q/0123456789abcdef0123456789abcdef.kcmsf"


def test_sizes_read_plainly():
    assert size_text(8 * MB) == "8 MB"
    assert size_text(1536) == "1.5 KB"
    assert size_text(1 << 30) == "1 GB"
    assert size_text(999) == "999 bytes"


# -- the middlewares ------------------------------------------------------------------------------


def test_no_cap_switches_the_size_middleware_off():
    with pytest.raises(NotConfigured):
        PageSizeMiddleware(0)


def test_a_download_stopped_at_the_cap_is_a_page_too_large():
    mw = PageSizeMiddleware(8 * MB)
    request = Request(URL)
    with pytest.raises(PageTooLarge) as refused:
        mw.process_exception(request, DownloadCancelledError("Expected to receive 62914560 bytes"))
    assert refused.value.reason == "page larger than 8 MB: not stored"
    assert mw.process_exception(request, DownloadTimeoutError("slow")) is None


def test_a_body_over_the_cap_that_got_through_is_refused():
    mw = PageSizeMiddleware(1 * MB)
    request = Request(URL, meta={"download_maxsize": 1000})  # a request's own cap wins
    with pytest.raises(PageTooLarge, match="larger than 1000 bytes"):
        mw.process_response(request, Response(URL, body=b"x" * 1001, request=request))
    small = Response(URL, body=b"x" * 1000, request=request)
    assert mw.process_response(request, small) is small


def compression(max_size: int) -> CappedCompressionMiddleware:
    crawler = get_crawler(KcnaSpider, {"DOWNLOAD_MAXSIZE": max_size})
    return CappedCompressionMiddleware.from_crawler(crawler)


def test_a_body_decompressing_past_the_cap_is_a_page_too_large():
    mw = compression(1 * MB)
    request = Request(URL)
    bomb = gzip.compress(b" " * (20 * MB), 9)
    response = Response(URL, body=bomb, headers={"Content-Encoding": "gzip"}, request=request)
    with pytest.raises(PageTooLarge) as refused:
        mw.process_response(request, response)
    assert refused.value.reason == "page larger than 1 MB once decompressed: not stored"


def test_a_compressed_page_under_the_cap_is_decompressed():
    mw = compression(1 * MB)
    request = Request(URL)
    page = b"<html><body><p>Pyongyang</p></body></html>"
    headers = {"Content-Encoding": "gzip", "Content-Type": "text/html"}
    response = Response(URL, body=gzip.compress(page), headers=headers, request=request)
    decoded = mw.process_response(request, response)
    assert isinstance(decoded, HtmlResponse) and decoded.body == page


# -- article text -------------------------------------------------------------------------------


def q_article(title: str, paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p}</p>\n" for p in paragraphs)
    return (
        f"<html><head><title>KCNA | Article | {title}</title></head><body>"
        f'<div class="article-content-title"><div class="article-main-title">{title}</div></div>'
        f'<div class="article-content-body"><div class="content-wrapper">\n{body}'
        "<span class='publish-time'>www.kcna.kp (Juche113.3.4.)</span></div></div>"
        "</body></html>"
    )


def long_paragraphs(chars: int) -> list[str]:
    """An article's paragraphs, dateline first and end marker last, of about ``chars``."""
    paragraph = ("The meeting discussed the matter of the economy in detail. " * 40).strip()
    count = chars // len(paragraph) + 1
    return ["Pyongyang, March 4 (KCNA) -- A meeting was held.", *[paragraph] * count, "End. -0-"]


def test_a_text_longer_than_any_article_is_refused_not_cut():
    page = q_article("A Long Page", long_paragraphs(MAX_TEXT_CHARS))
    with pytest.raises(ExtractionError) as refused:
        extract_page(URL.replace("127.0.0.1:8080", "www.kcna.kp"), page, today=date(2024, 12, 1))
    assert refused.value.reason.startswith(
        f"article text longer than {MAX_TEXT_CHARS:,} characters ("
    )
    assert refused.value.reason.endswith("): not stored")


def test_a_title_longer_than_any_article_title_is_refused():
    title = "Word " * (MAX_TITLE_CHARS // 5 + 1)
    page = q_article(title, ["Pyongyang, March 4 (KCNA) -- Short. -0-"])
    with pytest.raises(ExtractionError, match="article title longer than 2,000 characters"):
        extract_page(URL.replace("127.0.0.1:8080", "www.kcna.kp"), page, today=date(2024, 12, 1))


def test_the_longest_real_article_is_well_under_the_cap():
    record = extract_page(
        URL.replace("127.0.0.1:8080", "www.kcna.kp"),
        q_article("Long", long_paragraphs(45_000)),
        today=date(2024, 12, 1),
    )
    assert 45_000 < len(record.text) < MAX_TEXT_CHARS


# -- a real crawl -------------------------------------------------------------------------------


def gzip_bomb(size: int) -> bytes:
    """An HTML page of ``size`` bytes, mostly spaces, gzipped in chunks (about 1 MB a GiB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(b"<html><body><p>")]
    chunk = b" " * MB
    for _ in range(size // MB):
        parts.append(packer.compress(chunk))
    parts.append(packer.flush())
    return b"".join(parts)


def gzipped(body: bytes):
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def streamed(size: int):
    """A page of ``size`` bytes sent in 1 MB writes with no Content-Length (the end of the
    body is the end of the connection): the crawler learns its size only by reading it."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.close_connection = True
        handler.wfile.write(b"<html><body><p>")
        chunk = b"Pyongyang " * (MB // 10)
        try:
            for _ in range(size // len(chunk)):
                handler.wfile.write(chunk)
        except OSError:
            pass  # the crawler hung up at its cap

    return answer


#: Runs a command and writes its peak resident memory (kilobytes) to the file named first. A
#: child started straight from the test process would count the test process's memory too:
#: on Linux a child's peak includes the memory it shared with its parent until its ``exec``.
MEASURE = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "open(sys.argv[1], 'w').write(str(peak))\n"
    "sys.exit(code)\n"
)


def measured_cli(*args: str, env_home: Path) -> tuple[subprocess.CompletedProcess[str], int]:
    """:func:`cli`, and the peak resident memory of the process it runs, in bytes."""
    peak_file = env_home / "peak-rss-kb"
    env = {**os.environ, "XDG_DATA_HOME": str(env_home), "KCNA_MONITOR_DB": ""}
    argv = [sys.executable, "-m", "scheduler.cli", *args]
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(peak_file), *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    return result, int(peak_file.read_text()) * 1024  # Linux counts kilobytes


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return gzip_bomb(1 << 30)


def test_a_crawl_meeting_a_gzip_bomb_and_huge_pages_records_them_and_stays_small(
    tmp_path: Path, bomb: bytes
):
    built = build_site()
    site = built.site
    paths = [rec["url"].removeprefix("http://www.kcna.kp") for rec in built.q_articles]
    bombed, huge, endless, wordy = paths[-4:]  # articles published under one URL each
    huge_page = b"<html><body><p>" + b"Pyongyang " * (6 * MB)  # 60 MB, with its length
    site.pages[huge] = Page(huge_page)
    site.put(wordy, q_article("Wordy", long_paragraphs(300_000)))
    server = FixtureServer(site)
    serve_answers(server, {bombed: gzipped(bomb), endless: streamed(60 * MB)})

    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    with server:
        args = crawl_args(server, built, db_url, source="kcna")
        result, peak = measured_cli(*args, env_home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    print(f"peak RSS of the crawl: {peak / MB:.0f} MB")
    assert peak < 300 * MB
    assert "failed 4" in totals(result.stdout)

    failures = {f.url: f.reason for f in last_failures(make_engine(db_url), 50)}
    public = {path: "http://www.kcna.kp" + path for path in paths}
    assert failures[public[bombed]] == "page larger than 8 MB once decompressed: not stored"
    assert failures[public[huge]] == "page larger than 8 MB: not stored"
    assert failures[public[endless]] == "page larger than 8 MB: not stored"
    assert failures[public[wordy]].startswith("article text longer than 200,000 characters")
    assert len(failures) == 4

    # Every other article is stored (an article also published under another URL, too).
    broken = {public[path] for path in (bombed, huge, endless, wordy)}

    def served(article) -> set[str]:
        kcna = (url.removeprefix("http://www.kcna.kp") for url in article.urls)
        return {path for path in kcna if path in site.pages or path in (bombed, endless)}

    kept = [a for a in built.articles if served(a) - {bombed, huge, endless, wordy}]
    assert len(kept) == len([a for a in built.articles if served(a)]) - 4
    exported = command("export", "--db", db_url, env_home=tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert len(exported.stdout.splitlines()) == len(kept)
    assert not any(url in exported.stdout for url in broken)
