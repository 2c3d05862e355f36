"""The JSON API: articles searched or browsed with the filters of /search and paged by
cursor, one article with its versions and events, the sources; ETag and 304; errors as
JSON. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from storage.repository import Repository
from tests.storage_helpers import DAY, HOUR, T0, make_item
from tests.web_helpers import context, serving


def item(n: int, **changes: Any) -> Any:
    """Article ``n`` of kcna, published ``n`` days after the first, first seen then."""
    values: dict[str, Any] = {
        "source": "kcna",
        "published": date(2026, 1, 1) + timedelta(days=n),
        "seen_at": T0 + n * HOUR,
        "text": f"Report {n}: the missile launch was observed by the people.",
        **changes,
    }
    return make_item(n, **values)


def articles(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get("/api/articles", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def titles(answer: dict[str, Any]) -> list[str]:
    return [a["title"] for a in answer["articles"]]


@pytest.fixture
def archive(repo: Repository) -> Repository:
    """Six articles: 1-4 of kcna, 5-6 of kcnawatch; 2 edited, 3 gone, 4 about rice, 6 in
    the category "Editorial", 5 undated."""
    repo.articles.save([item(n) for n in range(1, 5)])
    repo.articles.save(
        [
            item(5, source="kcnawatch", published=None),
            item(6, source="kcnawatch", categories=("Editorial",)),
        ]
    )
    repo.articles.save([item(2, text="Report 2 (edited): no missile at all.", seen_at=T0 + DAY)])
    repo.articles.save([item(4, text="Rice planting began in the fields.", seen_at=T0 + DAY)])
    repo.crawl_state.mark_gone([item(3).url], at=T0 + DAY, reason="HTTP 404")
    return repo


def test_articles_search_and_browse_with_filters(archive: Repository) -> None:
    with serving(context(archive)) as client:
        everything = articles(client)
        assert everything["total"] == 6 and everything["next"] is None
        # By publication date, newest first, the undated one last.
        assert titles(everything)[-1] == item(5).title
        first = everything["articles"][0]
        assert first["title"] == item(6).title and first["source"] == "kcnawatch"
        assert set(first) == {
            "id", "url", "source", "title", "published", "first_seen", "gone_at", "versions",
            "matched_version", "snippet", "highlights", "href", "html",
        }  # fmt: skip
        assert first["href"] == f"{str(client.base_url).rstrip('/')}/api/articles/{first['id']}"
        assert first["highlights"] == [] and first["snippet"].startswith("Report 6:")

        assert articles(client, q="missile")["total"] == 5  # 4 no longer says it
        assert articles(client, q="missile", in_versions=1)["total"] == 6
        assert titles(articles(client, q="rice")) == [item(4).title]
        assert articles(client, source="kcnawatch")["total"] == 2
        assert articles(client, q="missile", source="kcna")["total"] == 3
        assert titles(articles(client, category="Editorial")) == [item(6).title]
        assert titles(articles(client, edited=1, sort="first-seen")) == [
            item(4).title,
            item(2).title,
        ]
        gone = articles(client, gone=1)["articles"]
        assert [a["title"] for a in gone] == [item(3).title] and gone[0]["gone_at"]
        window = articles(client, since="2026-01-02", until="2026-01-03")
        assert titles(window) == [item(2).title, item(1).title]
        assert articles(client, first_seen_since="2026-03-02")["total"] == 0
        assert articles(client, limit=2)["articles"][1]["title"] == item(4).title


def test_snippet_highlights_are_offsets_into_the_plain_snippet(archive: Repository) -> None:
    with serving(context(archive)) as client:
        hits = articles(client, q="missile OR observed")["articles"]
        assert len(hits) == 5
        for hit in hits:
            marked = [hit["snippet"][start:end].lower() for start, end in hit["highlights"]]
            assert marked and set(marked) <= {"missile", "observed"}, hit
            assert "\x02" not in hit["snippet"] and "\x03" not in hit["snippet"]


def test_one_article_with_its_versions_and_events(archive: Repository) -> None:
    with serving(context(archive)) as client:
        hit = articles(client, q="edited")["articles"][0]
        assert hit["versions"] == 2
        response = client.get(hit["href"])
        assert response.status_code == 200
        record = response.json()
        assert record["id"] == hit["id"] and record["versions"] == 2
        assert [v["version"] for v in record["history"]] == [1, 2]
        assert "missile launch" in record["history"][0]["text"]
        assert record["text"] == "Report 2 (edited): no missile at all."
        assert [(e["kind"], e["version"]) for e in record["events"]] == [("new", 1), ("edited", 2)]
        assert record["html"].endswith(f"/articles/{hit['id']}")
        assert client.get(f"/api/articles/{hit['id'][:6]}").json()["id"] == hit["id"]

        gone = articles(client, gone=1)["articles"][0]
        events = client.get(gone["href"]).json()["events"]
        assert events[-1]["kind"] == "gone" and "HTTP 404" in events[-1]["detail"]

        missing = client.get("/api/articles/0123456789abcdef")
        assert missing.status_code == 404
        assert missing.json() == {"error": "no article '0123456789abcdef'", "status": 404}
        short = client.get("/api/articles/ab")
        assert short.status_code == 400 and "too short" in short.json()["error"]


def test_malformed_requests_are_400_in_json(archive: Repository) -> None:
    with serving(context(archive)) as client:
        for params, message in (
            ({"q": '"unclosed'}, "quote"),
            ({"limit": "101"}, "limit: expected a whole number from 1 to 100"),
            ({"limit": "x"}, "limit"),
            ({"since": "yesterday"}, "since: not a date"),
            ({"sort": "relevance"}, "sort: unknown order"),
            ({"cursor": "garbage"}, "malformed page cursor"),
            ({"edited": "maybe"}, "edited: expected 1 or 0"),
        ):
            response = client.get("/api/articles", params=params)
            assert response.status_code == 400, params
            assert response.headers["content-type"] == "application/json"
            body = response.json()
            assert body["status"] == 400 and message in body["error"], (params, body)
        other = articles(client, sort="first-seen", limit=1)["next_cursor"]
        response = client.get("/api/articles", params={"cursor": other})  # sorted otherwise
        assert response.status_code == 400 and "first-seen" in response.json()["error"]
        assert client.get("/api/nothing").json() == {"error": "Not Found", "status": 404}


@pytest.mark.parametrize("sort", ["published", "first-seen"])
@pytest.mark.parametrize("q", ["", "missile"])
def test_cursor_pages_hold_every_article_once_while_articles_arrive(
    repo: Repository, sort: str, q: str
) -> None:
    repo.articles.save([item(n) for n in range(1, 24)])
    before = {a.id for a in repo.articles.newest(limit=100)}
    seen: list[str] = []
    with serving(context(repo)) as client:
        page = articles(client, q=q, sort=sort, limit=5)
        added = 100
        for _ in range(10):  # 23 articles, 5 a page: 5 pages
            seen += [a["id"] for a in page["articles"]]
            # New articles arrive between pages: published and first seen later than all.
            repo.articles.save([item(added, seen_at=T0 + 1000 * DAY + added * HOUR)])
            added += 1
            if page["next"] is None:
                break
            assert page["next"].endswith("cursor=" + page["next_cursor"])
            page = client.get(page["next"]).json()
        assert page["next"] is None
    assert len(seen) == len(set(seen))  # no duplicates
    assert set(seen) == before  # no gaps; the newcomers belong to the first page
    assert len(seen) == 23


def test_sources_and_index(archive: Repository) -> None:
    with serving(context(archive)) as client:
        report = client.get("/api/sources").json()
        assert set(report["sources"]) == {"kcna", "kcnawatch"}
        assert report["articles"]["total"] == 6
        index = client.get("/api/").json()["endpoints"]
        paths = [e["path"] for e in index]
        assert {"/api/articles", "/api/articles/{id}", "/api/sources"} <= set(paths)
        assert all(e["about"] for e in index)


def test_etag_and_304(archive: Repository) -> None:
    with serving(context(archive)) as client:
        for path in ("/api/articles?q=missile", "/api/sources", "/api/", "/search.atom?q=x"):
            response = client.get(path)
            etag = response.headers["etag"]
            assert etag.startswith('"') and response.headers["cache-control"] == "no-cache"
            again = client.get(path, headers={"If-None-Match": etag})
            assert again.status_code == 304 and again.content == b"", path
            assert again.headers["etag"] == etag
            weak = client.get(path, headers={"If-None-Match": f'"other", W/{etag}'})
            assert weak.status_code == 304
            assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
        etag = client.get("/api/articles").headers["etag"]
        archive.articles.save([item(7)])
        changed = client.get("/api/articles", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.json()["total"] == 7
        assert changed.headers["etag"] != etag
