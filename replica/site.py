"""A web site of all three layouts, rebuilt from real articles, served on 127.0.0.1.

:func:`build_site` renders corpus records into one site that mirrors both sources' paths:
kcna.kp ``/q/`` articles (one article under several URLs, as on the real site) and category
listings, kcna.kp ``/detail/`` articles behind a list that pages by form POST with a session
cookie and a ``_csrf`` token, and KCNA Watch copies (linking their kcna.kp originals), pages
found only there, and the seed page. :class:`FixtureServer` serves a :class:`FixtureSite`;
tests change the site while it is served (edit, add, remove pages) and read its request log.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from replica import render

DATA = Path(__file__).resolve().parent / "data"
#: 40 real kcna.kp articles (60 URLs) of the 2024 corpus, chosen for their quirks.
SAMPLE_CORPUS = DATA / "corpus-sample.jsonl"
#: The KCNA Watch page the project started from, rebuilt as HTML.
SEED_CASE = DATA / "seed"

KCNA = "http://www.kcna.kp"
KCNAWATCH = "https://kcnawatch.org"
HTML = "text/html; charset=utf-8"
SESSION_COOKIE = "JSESSIONID"
SESSION_VALUE = "fixture-session"
CSRF = "fixture-csrf-token"
DETAIL_CATEGORY = "Latest News"


@dataclass
class Page:
    body: bytes
    content_type: str = HTML
    status: int = 200


#: The longest a held request waits (a test that forgets to release one still ends).
HOLD_LIMIT = 60.0


@dataclass
class Hold:
    """A request held by the site: ``arrived`` is set when it comes, ``released`` lets it go."""

    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)


@dataclass
class FixtureSite:
    """Paths and what they answer; POST handlers for form-paged lists; a log of requests."""

    pages: dict[str, Page] = field(default_factory=dict)
    posts: dict[str, Callable[[Mapping[str, str], bool], Page]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    bytes_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    holds: dict[str, Hold] = field(default_factory=dict)

    def hold(self, path: str) -> Hold:
        """Make requests of ``path`` wait until the returned hold is released."""
        held = Hold()
        with self.lock:
            self.holds[path] = held
        return held

    def count_bytes(self, count: int) -> None:
        with self.lock:
            self.bytes_sent += count

    def put(self, path: str, html: str, *, status: int = 200) -> None:
        with self.lock:
            self.pages[path] = Page(html.encode("utf-8"), HTML, status)

    def remove(self, path: str) -> None:
        with self.lock:
            self.pages.pop(path, None)

    def answer(self, method: str, path: str, form: Mapping[str, str], cookie: bool) -> Page:
        with self.lock:
            held = self.holds.get(path)
        if held is not None:
            held.arrived.set()
            held.released.wait(HOLD_LIMIT)
        with self.lock:
            # A form-paged list logs the page asked for: "/en/article/list/<id>#page_num=3".
            page_num = form.get("page_num") if method == "POST" else None
            self.requests.append((method, f"{path}#page_num={page_num}" if page_num else path))
            if method == "POST" and path in self.posts:
                return self.posts[path](form, cookie)
            page = self.pages.get(path)
        if page is None:
            return Page(b"<html><body><h1>404 Not Found</h1></body></html>", HTML, 404)
        return page


@dataclass
class SiteArticle:
    """One distinct article of the site and what a crawl must store for it."""

    title: str
    published: str
    text: str  # as it must read once extracted
    urls: set[str]  # every public URL that carries it
    categories: set[str] = field(default_factory=set)


@dataclass
class BuiltSite:
    site: FixtureSite
    articles: list[SiteArticle]  # the articles published so far
    start_paths: list[str]
    detail_list_path: str
    q_articles: list[dict[str, Any]]
    detail_records: list[dict[str, Any]]
    #: Articles held back, published one at a time by :meth:`publish_next`.
    held_back: list[list[dict[str, Any]]] = field(default_factory=list)
    _publish: Callable[[list[dict[str, Any]]], SiteArticle] | None = None

    def publish_next(self) -> SiteArticle | None:
        """Publish the next held-back kcna.kp article: its pages, and an entry at the top of
        its category listings (as the real site does). None when none is left."""
        if not self.held_back or self._publish is None:
            return None
        article = self._publish(self.held_back.pop(0))
        self.articles.append(article)
        return article

    def start_paths_of(self, source: str) -> list[str]:
        """The start pages of one source (``kcna`` or ``kcnawatch``)."""
        watch = [p for p in self.start_paths if p.startswith("/newstream/")]
        return watch if source == "kcnawatch" else [p for p in self.start_paths if p not in watch]


#: The archive the corpus comes from glued the listing's date onto a few titles.
_GLUED_DATE = re.compile(r"\s*\[(?:Juche)?\d+\.\d+\.\d+\.\]\s*$")


def load_records(path: Path = SAMPLE_CORPUS) -> list[dict[str, Any]]:
    """Corpus records, with the listing dates the archive glued onto titles taken off."""
    with path.open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    for record in records:
        record["title"] = _GLUED_DATE.sub("", record["title"])
    return records


def group_articles(records: Iterable[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Corpus records grouped by article (the same article under several URLs)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        groups[(rec["title"], rec["published"], rec["text"])].append(rec)
    return list(groups.values())


def expected_text(text: str) -> str:
    """Corpus text as extraction must return it: spaces normalised, no end marker."""
    lines = []
    for line in text.split("\n"):
        line = " ".join(line.replace("\u00a0", " ").split())
        if line.endswith("-0-"):
            line = line[:-3].rstrip()
        if line:
            lines.append(line)
    return "\n".join(lines)


def expected_title(title: str) -> str:
    return " ".join(title.replace("\u00a0", " ").split())


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _stamp_style(published: str) -> str:
    # kcna.kp switched its page stamp from Juche to Gregorian years in late October 2024.
    return "gregorian" if published >= "2024-10-25" else "juche"


def build_site(
    records: list[dict[str, Any]] | None = None,
    *,
    q_count: int = 20,
    detail_count: int = 12,
    detail_per_page: int = 5,
    copies_of_q: int = 4,
    copies_of_detail: int = 2,
    latest: Sequence[dict[str, Any]] = (),
    hold_back: int = 0,
    empty_past_end: bool = False,
) -> BuiltSite:
    """Render the sample corpus into one fixture site of all three layouts.

    ``latest`` are records published on KCNA Watch just now: at the top of its listing.
    ``hold_back`` kcna.kp /q/ articles (of the ``q_count``) are left unpublished, for
    :meth:`BuiltSite.publish_next` to publish later. A form-paged list asked for a page past
    its last answers that last page, or with ``empty_past_end`` an empty list whose paging
    script says it is page 1.
    """
    # Articles under several URLs first: they all go to the /q/ part, as on the real site.
    groups = sorted(
        group_articles(records if records is not None else load_records()), key=lambda g: -len(g)
    )
    q_all = groups[:q_count]
    if not 0 <= hold_back < len(q_all):
        raise ValueError(f"hold_back must be between 0 and {len(q_all) - 1}, got {hold_back}")
    q_groups = q_all[: len(q_all) - hold_back]
    held_back = q_all[len(q_all) - hold_back :]
    detail_groups = groups[q_count : q_count + detail_count]
    watch_only = groups[q_count + detail_count :]
    site = FixtureSite()
    articles: list[SiteArticle] = []
    start_paths: list[str] = []

    # kcna.kp /q/: every URL of every article, and one listing per category.
    listings: dict[str, list[tuple[str, str, str]]] = defaultdict(list)

    def put_q_article(group: list[dict[str, Any]], *, newest: bool = False) -> SiteArticle:
        first = group[0]
        article = SiteArticle(
            expected_title(first["title"]), first["published"], expected_text(first["text"]), set()
        )
        for rec in group:
            site.put(
                _path(rec["url"]),
                render.render_q_article(rec, stamp=_stamp_style(rec["published"])),
            )
            article.urls.add(rec["url"])
            for topic in rec["topics"]:
                entry = (_path(rec["url"]), rec["title"], rec["published"])
                if newest:
                    listings[topic].insert(0, entry)
                else:
                    listings[topic].append(entry)
        return article

    def put_q_listing(category: str) -> str:
        path = render.q_category_path(category)
        site.put(path, render.render_q_listing(listings[category], category=category))
        return path

    for group in q_groups:
        articles.append(put_q_article(group))
    # The held-back articles' categories get their listings now, so the start pages stay
    # the same when they are published.
    for group in held_back:
        for rec in group:
            for topic in rec["topics"]:
                listings.setdefault(topic, [])
    for category in sorted(listings):
        start_paths.append(put_q_listing(category))

    def publish(group: list[dict[str, Any]]) -> SiteArticle:
        article = put_q_article(group, newest=True)
        for category in sorted({t for rec in group for t in rec["topics"]}):
            put_q_listing(category)
        return article

    # kcna.kp /detail/: articles behind a list paged by form POST with cookie and token.
    detail_records = [group[0] for group in detail_groups]
    list_path = render.list_path(DETAIL_CATEGORY)
    entries = [(render.detail_path(rec), rec["title"], rec["published"]) for rec in detail_records]
    page_count = max(1, -(-len(entries) // detail_per_page))

    def list_page(number: int) -> Page:
        chunk = entries[(number - 1) * detail_per_page : number * detail_per_page]
        html = render.render_detail_listing(
            chunk,
            list_url_path=list_path,
            page=number,
            page_count=page_count,
            csrf=CSRF,
            per_page=detail_per_page,
            total=len(entries),
            category=DETAIL_CATEGORY,
            featured=1 if number == 1 else 0,
        )
        return Page(html.encode("utf-8"))

    site.pages[list_path] = list_page(1)

    def post_list(form: Mapping[str, str], cookie: bool) -> Page:
        if not cookie or form.get("_csrf") != CSRF:
            return Page(render.render_empty_main_page(f"KCNA | {DETAIL_CATEGORY}").encode())
        try:
            number = int(form.get("page_num", "1"))
        except ValueError:
            number = 1
        if empty_past_end and number > page_count:
            html = render.render_detail_listing(
                [],
                list_url_path=list_path,
                page=1,
                page_count=page_count,
                csrf=CSRF,
                per_page=detail_per_page,
                total=len(entries),
                category=DETAIL_CATEGORY,
                featured=0,
            )
            return Page(html.encode("utf-8"))
        return list_page(min(max(number, 1), page_count))

    site.posts[list_path] = post_list
    start_paths.append(list_path)
    for rec in detail_records:
        site.put(render.detail_path(rec), render.render_detail_article(rec))
        articles.append(
            SiteArticle(
                expected_title(rec["title"]),
                rec["published"],
                expected_text(rec["text"]),
                {KCNA + render.detail_path(rec)},
                {DETAIL_CATEGORY},
            )
        )

    # KCNA Watch: copies of kcna.kp articles, pages found only there, and the seed page.
    watch_entries: list[tuple[str, str, str]] = []
    by_title = {a.title: a for a in articles}
    copies = [(g[0], g[0]["url"]) for g in q_groups[:copies_of_q]] + [
        (rec, KCNA + render.detail_path(rec)) for rec in detail_records[:copies_of_detail]
    ]
    for rec, original in copies:
        path = render.kcnawatch_path(rec)
        site.put(
            path,
            render.render_kcnawatch_article(
                rec, page_url=KCNAWATCH + path, original_url=original, stamp=None
            ),
        )
        by_title[expected_title(rec["title"])].urls.add(KCNAWATCH + path)
        watch_entries.append((path, rec["title"], rec["published"]))
    newest_first: list[tuple[str, str, str]] = []
    for group in [[rec] for rec in latest] + watch_only:
        rec = group[0]
        path = render.kcnawatch_path(rec)
        site.put(
            path,
            render.render_kcnawatch_article(
                rec,
                page_url=KCNAWATCH + path,
                original_url=None,
                stamp=_stamp_style(rec["published"]),
            ),
        )
        articles.append(
            SiteArticle(
                expected_title(rec["title"]),
                rec["published"],
                expected_text(rec["text"]),
                {KCNAWATCH + path},
            )
        )
        (newest_first if rec in latest else watch_entries).append(
            (path, rec["title"], rec["published"])
        )
    watch_entries[:0] = newest_first
    seed_url = (SEED_CASE / "url.txt").read_text(encoding="utf-8").strip()
    seed = json.loads((SEED_CASE / "expected.json").read_text(encoding="utf-8"))["record"]
    site.put(_path(seed_url), (SEED_CASE / "page.html").read_text(encoding="utf-8"))
    articles.append(
        SiteArticle(
            seed["title"], seed["published"], seed["text"], {seed_url, seed["canonical_url"]}
        )
    )
    watch_entries.append((_path(seed_url), seed["title"], seed["published"]))
    half = (len(watch_entries) + 1) // 2
    site.put(
        "/newstream/",
        render.render_kcnawatch_listing(watch_entries[:half], next_page_path="/newstream/page/2/"),
    )
    site.put("/newstream/page/2/", render.render_kcnawatch_listing(watch_entries[half:]))
    start_paths.append("/newstream/")

    site.put("/robots.txt", "User-agent: *\nDisallow: /private/\n")
    site.pages["/robots.txt"].content_type = "text/plain"
    return BuiltSite(
        site=site,
        articles=articles,
        start_paths=start_paths,
        detail_list_path=list_path,
        q_articles=[g[0] for g in q_groups],
        detail_records=detail_records,
        held_back=list(held_back),
        _publish=publish,
    )


class _Handler(BaseHTTPRequestHandler):
    site: FixtureSite
    protocol_version = "HTTP/1.1"

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        cookie = f"{SESSION_COOKIE}={SESSION_VALUE}" in (self.headers.get("Cookie") or "")
        page = self.site.answer(method, self.path, form, cookie)
        etag = f'"{hashlib.sha1(page.body).hexdigest()[:20]}"'
        fresh = method != "POST" and page.status == 200
        not_modified = fresh and self.headers.get("If-None-Match") == etag
        body = b"" if not_modified or method == "HEAD" else page.body
        self.send_response(304 if not_modified else page.status)
        self.send_header("Content-Type", page.content_type)
        self.send_header("Content-Length", str(len(body)))
        if fresh:
            self.send_header("ETag", etag)
        if not cookie:
            self.send_header("Set-Cookie", f"{SESSION_COOKIE}={SESSION_VALUE}; Path=/")
        self.end_headers()
        self.wfile.write(body)
        self.site.count_bytes(len(body))

    def do_GET(self) -> None:
        self._serve("GET")

    def do_HEAD(self) -> None:
        self._serve("HEAD")

    def do_POST(self) -> None:
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A crawler that hangs up (stopped, killed) is no news; anything else is.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FixtureServer:
    """Serve a :class:`FixtureSite` on 127.0.0.1 (a free port) from a background thread."""

    def __init__(self, site: FixtureSite, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type("Handler", (_Handler,), {"site": site})
        self.httpd = _Server((host, port), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FixtureServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
