"""The reading room's operational routes: /metrics in Prometheus text format, /healthz
(alarms, an unreachable database, sources with no recent success), the watch feeds, the
default address; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

from scheduler.cli.serve import DEFAULT_HOST
from scheduler.monitor.outbox import Monitor
from scheduler.web.context import WebContext
from storage.db import make_engine
from storage.records import RunStats
from storage.repository import Repository
from tests.cli_helpers import run_main
from tests.monitor_helpers import Clock, monitoring
from tests.storage_helpers import HOUR, T0, make_item
from tests.web_helpers import RULES, context, serving, web_config

MINUTE = timedelta(minutes=1)
ATOM = "{http://www.w3.org/2005/Atom}"
#: A sample line of the text format: name, optional labels, a number.
SAMPLE = re.compile(r'^kcna_monitor_[a-z_]+(\{([a-z]+="[^"\\\n]*",?)*\})? -?[0-9.e+]+$')


def metrics(text: str) -> dict[str, float]:
    values = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) kcna_monitor_[a-z_]+ ", line), line
            continue
        assert SAMPLE.match(line), line
        name, value = line.rsplit(" ", 1)
        values[name] = float(value)
    return values


def finished_run(repo: Repository, source: str, at, status: str = "ok", **counts) -> None:
    run = repo.runs.start(source, at)
    values = {"pages": 0, "new": 0, "changed": 0, "unchanged": 0, "failures": 0, **counts}
    repo.runs.finish(run, finished_at=at + MINUTE, status=status, **values)


def populate(repo: Repository, clock: Clock) -> None:
    run = repo.runs.start("kcna", clock())
    repo.articles.save([make_item(1, text="A missile was fired."), make_item(2)])
    repo.runs.finish(
        run,
        finished_at=clock() + MINUTE,
        status="ok",
        pages=7,
        new=2,
        changed=0,
        unchanged=0,
        failures=1,
    )
    repo.runs.save_stats(run, RunStats(listing_pages=2), clock())
    finished_run(repo, "kcnawatch", clock(), status="failed", failures=1, error="HTTP 503")
    repo.crawl_state.mark_gone([make_item(2).url], at=clock() + HOUR, reason="HTTP 404")
    Monitor(repo, monitoring(RULES), sources=[], clock=clock).evaluate()


def test_metrics_answer_in_the_prometheus_text_format(repo: Repository) -> None:
    clock = Clock(T0)
    populate(repo, clock)
    with serving(context(repo, web_config(RULES), clock)) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    values = metrics(response.text)
    assert values["kcna_monitor_database_up"] == 1
    assert values['kcna_monitor_runs_total{source="kcna",status="ok"}'] == 1
    assert values['kcna_monitor_runs_total{source="kcnawatch",status="failed"}'] == 1
    assert values['kcna_monitor_pages_total{source="kcna"}'] == 7
    assert values['kcna_monitor_articles_total{outcome="new",source="kcna"}'] == 2
    assert values['kcna_monitor_failures_total{source="kcnawatch"}'] == 1
    assert values['kcna_monitor_article_events_total{kind="new"}'] == 2
    assert values['kcna_monitor_article_events_total{kind="gone"}'] == 1
    assert values['kcna_monitor_article_events_total{kind="edited"}'] == 0
    assert values["kcna_monitor_articles_stored"] == 2
    assert values['kcna_monitor_last_success_timestamp_seconds{source="kcna"}'] == (
        (T0 + MINUTE).timestamp()
    )
    assert 'kcna_monitor_last_success_timestamp_seconds{source="kcnawatch"}' not in values
    assert values['kcna_monitor_notifications{status="pending"}'] == 1
    assert values['kcna_monitor_notifications{status="delivered"}'] == 0
    assert not any(name.startswith("kcna_monitor_source_alarm{") for name in values)
    assert "# TYPE kcna_monitor_runs_total counter" in response.text


def test_healthz_fails_while_a_source_is_in_alarm(repo: Repository) -> None:
    web = context(repo, web_config(stale_after=False))
    with serving(web) as client:
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {"status": "ok", "database": "ok", "alarms": [], "stale": {}}

        repo.alarms.raise_alarm("kcna", "empty-listings", "all 3 listing pages parsed to none", T0)
        response = client.get("/healthz")
        assert response.status_code == 503
        report = response.json()
        assert report["status"] == "fail"
        assert report["alarms"] == [
            {
                "source": "kcna",
                "alarm": "empty-listings",
                "since": T0.isoformat(),
                "message": "all 3 listing pages parsed to none",
            }
        ]
        values = metrics(client.get("/metrics").text)
        assert values['kcna_monitor_source_alarm{alarm="empty-listings",source="kcna"}'] == 1

        repo.alarms.clear("kcna", "empty-listings", T0 + HOUR)
        assert client.get("/healthz").status_code == 200


def test_healthz_fails_when_a_source_has_not_succeeded_for_too_long(repo: Repository) -> None:
    # kcna runs every 15 minutes, kcnawatch every 30: the default limit is 3 intervals.
    clock = Clock(T0)
    finished_run(repo, "kcna", T0)
    finished_run(repo, "kcnawatch", T0)
    with serving(context(repo, web_config(), clock)) as client:
        clock.advance(45 * MINUTE)  # kcna's last success 44 minutes ago: within
        assert client.get("/healthz").json() == {
            "status": "ok",
            "database": "ok",
            "alarms": [],
            "stale": {},
        }
        clock.advance(2 * MINUTE)  # 46 minutes: older than 3 x 15 minutes
        response = client.get("/healthz")
        assert response.status_code == 503
        assert list(response.json()["stale"]) == ["kcna"]
        assert response.json()["stale"]["kcna"].startswith("last successful run 46m ago")
        finished_run(repo, "kcna", clock(), status="failed", error="HTTP 503")
        assert client.get("/healthz").status_code == 503  # a failed run is no success
        finished_run(repo, "kcna", clock())
        assert client.get("/healthz").status_code == 200
        clock.advance(HOUR)
        assert set(client.get("/healthz").json()["stale"]) == {"kcna", "kcnawatch"}


def test_healthz_staleness_follows_its_setting(repo: Repository) -> None:
    clock = Clock(T0 + 24 * HOUR)
    finished_run(repo, "kcna", T0)
    finished_run(repo, "kcnawatch", T0)
    with serving(context(repo, web_config(stale_after=False), clock)) as client:
        assert client.get("/healthz").status_code == 200
    with serving(context(repo, web_config(stale_after=100), clock)) as client:
        assert client.get("/healthz").status_code == 200  # 24 h < 100 x 15 min


def test_a_source_that_never_succeeded_is_stale(repo: Repository) -> None:
    clock = Clock(T0)
    with serving(context(repo, web_config(), clock)) as client:
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["stale"] == {"kcna": "no run yet", "kcnawatch": "no run yet"}
        finished_run(repo, "kcna", T0, status="failed", error="HTTP 503")
        finished_run(repo, "kcnawatch", T0)
        assert client.get("/healthz").json()["stale"] == {}  # its first run is recent
        clock.advance(2 * HOUR)
        stale = client.get("/healthz").json()["stale"]
        assert stale["kcna"].startswith("first run, still no success, 2h ago")


def test_healthz_fails_when_the_database_is_unreachable() -> None:
    url = "postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"
    web = WebContext(Repository(make_engine(url)), web_config(), url)
    with serving(web) as client:
        response = client.get("/healthz")
        assert response.status_code == 503
        report = response.json()
        assert report["status"] == "fail" and report["database"].startswith("unreachable: ")
        response = client.get("/metrics")
        assert response.status_code == 200
        assert metrics(response.text) == {"kcna_monitor_database_up": 0}
        response = client.get("/feed.atom")
        assert response.status_code == 503 and response.text.startswith("database unavailable")
        response = client.get("/api/articles")
        assert response.status_code == 503
        assert response.json()["status"] == 503


def test_feeds_and_other_paths(repo: Repository) -> None:
    clock = Clock(T0)
    populate(repo, clock)
    # A rule added after the articles were stored: its feed lists what it matches already.
    later = {"name": "later", "match": "working people"}
    with serving(context(repo, web_config([*RULES, later]), clock)) as client:
        base = str(client.base_url).rstrip("/")
        response = client.get("/feed.atom")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
        root = ET.fromstring(response.content)
        assert root.find(ATOM + "link").get("href") == base + "/feed.atom"
        response = client.get("/feed/missiles.atom")
        assert response.status_code == 200
        assert len(ET.fromstring(response.content).findall(ATOM + "entry")) == 1
        response = client.get("/feed/later.atom")
        (entry,) = ET.fromstring(response.content).findall(ATOM + "entry")
        assert entry.findtext(ATOM + "title") == make_item(2).title
        assert client.get("/feed/unknown.atom").status_code == 404
        assert client.get("/nothing").status_code == 404


def test_the_server_binds_to_localhost_by_default() -> None:
    assert DEFAULT_HOST == "127.0.0.1"
    assert run_main("serve", "--help", env={}).stdout.count("127.0.0.1") >= 1
