import asyncio
from datetime import UTC, datetime

import pytest
from scrapy import Request
from scrapy.exceptions import NotConfigured
from scrapy.http import HtmlResponse

from crawler.middlewares.backoff import RetryBackoffMiddleware, backoff_delay, parse_retry_after


@pytest.mark.parametrize(
    ("retry_times", "expected"),
    [(0, 0.0), (1, 5.0), (2, 10.0), (3, 20.0), (5, 60.0), (10, 60.0)],
)
def test_delay_doubles_up_to_the_cap(retry_times, expected):
    assert backoff_delay(retry_times, base=5.0, cap=60.0) == expected


def test_first_attempt_is_not_delayed_and_retries_are():
    waited: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)

    middleware = RetryBackoffMiddleware(base=2.0, cap=30.0, sleep=fake_sleep)
    asyncio.run(middleware.process_request(Request("http://www.kcna.kp/en")))
    asyncio.run(
        middleware.process_request(Request("http://www.kcna.kp/en", meta={"retry_times": 3}))
    )
    assert waited == [8.0]


def test_zero_base_switches_the_middleware_off():
    with pytest.raises(NotConfigured):
        RetryBackoffMiddleware(base=0, cap=10)


NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        ("Fri, 27 Nov 2026 12:05:00 GMT", 300.0),
        ("Fri, 27 Nov 2026 11:00:00 GMT", 0.0),
        ("soon", None),
    ],
)
def test_retry_after_header(header, expected):
    assert parse_retry_after(header, NOW) == expected


def test_a_429_retry_waits_as_long_as_the_server_asks():
    waited: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waited.append(seconds)

    middleware = RetryBackoffMiddleware(
        base=2.0, cap=30.0, retry_after_max=600.0, sleep=fake_sleep, clock=lambda: NOW
    )
    request = Request("http://www.kcna.kp/en")
    answer = HtmlResponse(request.url, status=429, headers={"Retry-After": "90"}, request=request)
    middleware.process_response(request, answer)
    retry = request.replace(meta={**request.meta, "retry_times": 1})
    asyncio.run(middleware.process_request(retry))
    assert waited == [90.0]


def test_retry_after_is_capped():
    middleware = RetryBackoffMiddleware(base=1.0, cap=10.0, retry_after_max=60.0)
    request = Request("http://www.kcna.kp/en", meta={"retry_times": 1, "kcna_retry_after": 86400})
    assert middleware.delay_for(request) == 60.0
