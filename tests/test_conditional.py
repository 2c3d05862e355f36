"""Listing pages are revalidated with the validators of their last fetch."""

from scrapy import Request
from scrapy.http import HtmlResponse

from crawler.middlewares.conditional import ConditionalRequestMiddleware
from crawler.state import ArchiveState, Validators

LIST = "http://www.kcna.kp/en/article/list/a666dda1282180e0ee1b4427b0574ae7"
MIRROR = "http://127.0.0.1:8080/en/article/list/a666dda1282180e0ee1b4427b0574ae7"


def listing_request(**meta) -> Request:
    return Request(MIRROR, meta={"kcna_listing": True, "kcna_public_url": LIST, **meta})


def middleware(state: ArchiveState) -> ConditionalRequestMiddleware:
    mw = ConditionalRequestMiddleware()
    mw.archive_opened(state)
    return mw


def test_known_validators_make_a_conditional_request():
    mw = middleware(
        ArchiveState.of([], {LIST: Validators('"abc"', "Tue, 01 Dec 2026 10:00:00 GMT")})
    )
    request = listing_request()
    mw.process_request(request)
    assert request.headers[b"If-None-Match"] == b'"abc"'
    assert request.headers[b"If-Modified-Since"] == b"Tue, 01 Dec 2026 10:00:00 GMT"


def test_articles_and_form_posts_are_never_conditional():
    mw = middleware(ArchiveState.of([], {LIST: Validators('"abc"')}))
    article = Request(MIRROR, meta={"kcna_public_url": LIST})
    post = Request(MIRROR, method="POST", meta={"kcna_listing": True, "kcna_public_url": LIST})
    for request in (article, post):
        mw.process_request(request)
        assert b"If-None-Match" not in request.headers


def test_a_fresh_answer_teaches_its_validators_under_the_public_url():
    state = ArchiveState.of([])
    mw = middleware(state)
    request = listing_request()
    response = HtmlResponse(
        MIRROR, headers={"ETag": '"v2"'}, body=b"<html></html>", request=request
    )
    assert mw.process_response(request, response) is response
    assert state.take_learnt() == {LIST: Validators('"v2"', None)}
    assert state.take_learnt() == {}  # written back once
    assert state.validators_for(LIST) == Validators('"v2"', None)
