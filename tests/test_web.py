"""The monitoring server: /metrics in Prometheus text format, /healthz, the feeds; bound
to 127.0.0.1 on a free port; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from scheduler.monitor.outbox import Monitor
from scheduler.web.app import WebApp
from scheduler.web.server import make_server
from storage.db import make_engine
from storage.records import RunStats
from storage.repository import Repository
from tests.monitor_helpers import SHUTDOWN_POLL, Clock, monitoring
from tests.storage_helpers import HOUR, T0, make_item

MINUTE = timedelta(minutes=1)
#: A sample line of the text format: name, optional labels, a number.
SAMPLE = re.compile(r'^kcna_monitor_[a-z_]+(\{([a-z]+="[^"\\\n]*",?)*\})? -?[0-9.e+]+$')
RULES = [{"name": "missiles", "match": "missile", "notify": ["webhook:http://127.0.0.1:9/x"]}]


@contextmanager
def serving(app: WebApp) -> Iterator[str]:
    server = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(
        target=server.serve_forever, args=(SHUTDOWN_POLL,), name="web", daemon=True
    )
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


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
    failed = repo.runs.start("kcnawatch", clock())
    repo.runs.finish(
        failed,
        finished_at=clock() + MINUTE,
        status="failed",
        pages=0,
        new=0,
        changed=0,
        unchanged=0,
        failures=1,
        error="HTTP 503",
    )
    repo.crawl_state.mark_gone([make_item(2).url], at=clock() + HOUR, reason="HTTP 404")
    Monitor(repo, monitoring(RULES), sources=[], clock=clock).evaluate()


def test_metrics_answer_in_the_prometheus_text_format(repo: Repository) -> None:
    clock = Clock(T0)
    populate(repo, clock)
    with serving(WebApp(repo, monitoring(RULES), clock)) as base:
        status, content_type, body = get(base + "/metrics")
    assert status == 200 and content_type == "text/plain; version=0.0.4; charset=utf-8"
    values = metrics(body.decode())
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
    assert "# TYPE kcna_monitor_runs_total counter" in body.decode()


def test_healthz_fails_while_a_source_is_in_alarm(repo: Repository) -> None:
    clock = Clock(T0)
    with serving(WebApp(repo, monitoring([]), clock)) as base:
        status, content_type, body = get(base + "/healthz")
        assert (status, content_type) == (200, "application/json")
        assert json.loads(body) == {"status": "ok", "database": "ok", "alarms": []}

        repo.alarms.raise_alarm("kcna", "empty-listings", "all 3 listing pages parsed to none", T0)
        status, _, body = get(base + "/healthz")
        assert status == 503
        report = json.loads(body)
        assert report["status"] == "fail"
        assert report["alarms"] == [
            {
                "source": "kcna",
                "alarm": "empty-listings",
                "since": T0.isoformat(),
                "message": "all 3 listing pages parsed to none",
            }
        ]
        values = metrics(get(base + "/metrics")[2].decode())
        assert values['kcna_monitor_source_alarm{alarm="empty-listings",source="kcna"}'] == 1

        repo.alarms.clear("kcna", "empty-listings", T0 + HOUR)
        assert get(base + "/healthz")[0] == 200


def test_healthz_fails_when_the_database_is_unreachable() -> None:
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    with serving(WebApp(Repository(engine), monitoring([]))) as base:
        status, _, body = get(base + "/healthz")
        assert status == 503
        report = json.loads(body)
        assert report["status"] == "fail" and report["database"].startswith("unreachable: ")
        status, _, body = get(base + "/metrics")
        assert status == 200 and metrics(body.decode()) == {"kcna_monitor_database_up": 0}
        assert get(base + "/feed.atom")[0] == 503


def test_feeds_and_other_paths(repo: Repository) -> None:
    clock = Clock(T0)
    populate(repo, clock)
    # A rule added after the articles were stored: its feed lists what it matches already.
    later = {"name": "later", "match": "working people"}
    with serving(WebApp(repo, monitoring([*RULES, later]), clock)) as base:
        status, content_type, body = get(base + "/feed.atom")
        assert (status, content_type) == (200, "application/atom+xml; charset=utf-8")
        root = ET.fromstring(body)
        link = root.find("{http://www.w3.org/2005/Atom}link")
        assert link is not None and link.get("href") == base + "/feed.atom"
        status, _, body = get(base + "/feed/missiles.atom")
        assert status == 200
        assert len(ET.fromstring(body).findall("{http://www.w3.org/2005/Atom}entry")) == 1
        status, _, body = get(base + "/feed/later.atom")
        assert status == 200
        (entry,) = ET.fromstring(body).findall("{http://www.w3.org/2005/Atom}entry")
        assert entry.findtext("{http://www.w3.org/2005/Atom}title") == make_item(2).title
        assert get(base + "/feed/unknown.atom")[0] == 404
        assert get(base + "/nothing")[0] == 404
        status, _, body = get(base + "/")
        assert status == 200 and b"/feed/missiles.atom" in body


def test_the_server_binds_to_localhost_by_default(repo: Repository) -> None:
    server = make_server(WebApp(repo, monitoring([])), port=0)
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()
