import asyncio

import pytest
from scrapy import Request
from scrapy.exceptions import NotConfigured

from crawler.middlewares.backoff import RetryBackoffMiddleware, backoff_delay


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
