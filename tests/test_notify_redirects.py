"""Webhook redirects: a 307 or 308 is followed with the same method, body and headers, for a
few hops; any other redirect, a loop or too many hops is tried again later, never given up
after one attempt. All receivers are on 127.0.0.1."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from scheduler.monitor.notify.common import DeliveryError
from scheduler.monitor.notify.webhook import MAX_REDIRECTS, USER_AGENT, WebhookChannel
from scheduler.monitor.outbox import Monitor
from storage.repository import Repository
from tests.monitor_helpers import Clock, WebhookReceiver, monitoring, webhook_receiver
from tests.storage_helpers import T0, make_item, notifications

SECOND = timedelta(seconds=1)
MISSILE_TEXT = "Pyongyang, March 1 (KCNA) -- A hypersonic missile was test-fired."
PAYLOAD: dict[str, Any] = {"rule": "missiles", "event": "new", "title": "Missile — 미사일"}


@pytest.fixture
def hook() -> Any:
    with webhook_receiver() as receiver:
        receiver.start()
        yield receiver


def notifier() -> WebhookChannel:
    return WebhookChannel(timeout=timedelta(seconds=10))


def failure(url: str) -> DeliveryError:
    with pytest.raises(DeliveryError) as raised:
        notifier().post(url, PAYLOAD)
    return raised.value


@pytest.mark.parametrize("status", [307, 308])
def test_a_307_or_308_is_followed_with_the_same_method_body_and_headers(
    hook: WebhookReceiver, status: int
) -> None:
    hook.route("/hook", status, "/moved?to=here")  # relative to the URL it answers for
    notifier().post(hook.url, PAYLOAD)
    first, second = hook.requests
    assert (first["path"], first["status"]) == ("/hook", status)
    assert (second["path"], second["status"]) == ("/moved?to=here", 204)
    assert first["json"] == second["json"] == PAYLOAD
    for name in ("Content-Type", "User-Agent", "Content-Length"):
        assert first["headers"][name] == second["headers"][name]
    assert second["headers"]["User-Agent"] == USER_AGENT
    [delivered] = hook.received  # only POST is handled: it arrived as a POST
    assert delivered["path"] == "/moved?to=here"


def test_redirects_are_followed_to_another_receiver_for_up_to_five_hops(
    hook: WebhookReceiver,
) -> None:
    with webhook_receiver() as other:
        other.start()
        # /hook -> other /r1 -> /r2 -> /r3 -> /r4 -> first /final: five hops.
        hook.route("/hook", 308, other.url_for("/r1"))
        for n in range(1, 4):
            other.route(f"/r{n}", 307, f"/r{n + 1}")
        other.route("/r4", 307, hook.url_for("/final"))
        notifier().post(hook.url, PAYLOAD)
        assert [r["path"] for r in other.requests] == ["/r1", "/r2", "/r3", "/r4"]
    assert [(r["path"], r["json"]) for r in hook.received] == [("/final", PAYLOAD)]
    assert MAX_REDIRECTS == 5


def test_a_redirect_loop_or_too_many_hops_is_a_temporary_failure(hook: WebhookReceiver) -> None:
    hook.route("/hook", 307, "/b")
    hook.route("/b", 308, "/hook")
    error = failure(hook.url)
    assert not error.permanent
    assert str(error) == f"HTTP 308 (redirect to {hook.url}): a redirect loop"
    assert len(hook.requests) == 2

    for n in range(MAX_REDIRECTS + 1):
        hook.route(f"/c{n}", 307, f"/c{n + 1}")
    error = failure(hook.url_for("/c0"))
    assert not error.permanent
    assert str(error) == (
        f"HTTP 307 (redirect to {hook.url_for(f'/c{MAX_REDIRECTS + 1}')}):"
        f" more than {MAX_REDIRECTS} redirects"
    )
    assert hook.received == []


@pytest.mark.parametrize("status", [300, 301, 302, 303, 304])
def test_other_redirects_are_not_followed_and_are_temporary_failures(
    hook: WebhookReceiver, status: int
) -> None:
    hook.route("/hook", status, "/elsewhere")
    error = failure(hook.url)
    assert not error.permanent
    assert str(error) == (
        f"HTTP {status} (redirect to {hook.url_for('/elsewhere')}):"
        " not followed for a POST (only 307 and 308 are)"
    )
    assert [r["path"] for r in hook.requests] == ["/hook"]


def test_a_redirect_without_location_or_to_another_scheme_is_a_temporary_failure(
    hook: WebhookReceiver,
) -> None:
    hook.route("/hook", 307)
    error = failure(hook.url)
    assert (str(error), error.permanent) == ("HTTP 307 without a Location to redirect to", False)
    hook.route("/hook", 308, "ftp://127.0.0.1/hook")
    error = failure(hook.url)
    assert not error.permanent
    assert (
        str(error)
        == "HTTP 308 (redirect to ftp://127.0.0.1/hook): not an http(s) URL, not followed"
    )


def test_a_refusal_after_a_redirect_gives_up_at_once_as_at_the_first_url(
    hook: WebhookReceiver,
) -> None:
    hook.route("/hook", 307, "/gone")
    hook.route("/gone", 404)
    error = failure(hook.url)
    assert error.permanent
    assert str(error) == f"HTTP 404 at {hook.url_for('/gone')} (redirected from {hook.url})"
    hook.route("/gone", 429)  # too many requests: worth trying again
    assert not failure(hook.url).permanent


def test_a_webhook_answering_302_is_retried_and_gets_the_notification_once_it_answers_200(
    repo: Repository, hook: WebhookReceiver
) -> None:
    clock = Clock(T0)
    rule = {"name": "missiles", "match": "missile", "notify": [f"webhook:{hook.url}"]}
    watcher = Monitor(repo, monitoring([rule]), sources=[], clock=clock)
    repo.articles.save([make_item(1, title="Missile test", text=MISSILE_TEXT)])
    hook.route("/hook", 302, "/login")
    assert watcher.after_run().delivery.retrying == 1
    (row,) = notifications(repo.engine)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 1, T0 + 30 * SECOND)
    assert row.last_error == (
        f"HTTP 302 (redirect to {hook.url_for('/login')}):"
        " not followed for a POST (only 307 and 308 are)"
    )

    clock.advance(30 * SECOND)  # still 302: a second failure, the pause doubles
    assert watcher.deliver().retrying == 1
    (row,) = notifications(repo.engine)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 2, clock() + 60 * SECOND)

    hook.route("/hook", 200)
    clock.advance(60 * SECOND)
    assert watcher.deliver().delivered == 1
    (row,) = notifications(repo.engine)
    assert (row.status, row.attempts, row.delivered_at) == ("delivered", 3, clock())
    assert [(r["path"], r["status"]) for r in hook.requests] == [
        ("/hook", 302),
        ("/hook", 302),
        ("/hook", 200),
    ]
    assert hook.received[0]["json"]["title"] == "Missile test"


def test_a_redirect_loop_stays_in_the_outbox_until_the_give_up_time(
    repo: Repository, hook: WebhookReceiver
) -> None:
    clock = Clock(T0)
    rule = {"name": "missiles", "match": "missile", "notify": [f"webhook:{hook.url}"]}
    config = monitoring([rule], notify={"retry_first": "1m", "give_up_after": "3m"})
    watcher = Monitor(repo, config, sources=[], clock=clock)
    repo.articles.save([make_item(1, text=MISSILE_TEXT)])
    hook.route("/hook", 307, "/hook")
    assert watcher.after_run().delivery.retrying == 1
    (row,) = notifications(repo.engine)
    assert row.status == "pending" and "a redirect loop" in (row.last_error or "")
    clock.advance(timedelta(minutes=1))
    assert watcher.deliver().retrying == 1
    clock.advance(timedelta(minutes=2))
    assert watcher.deliver().given_up == 1  # the configured give-up time, not the first 3xx
    (row,) = notifications(repo.engine)
    assert (row.status, row.attempts) == ("given_up", 3)
