"""Backfill progress: a listing page counts once all its article requests are answered."""

import pytest

from crawler.backfill import ListingProgress, jump
from crawler.extract.records import PageRequest
from crawler.items import ProgressItem

LIST = "http://www.kcna.kp/en/article/list/a666dda1282180e0ee1b4427b0574ae7"


def test_pages_count_in_order_once_their_articles_are_answered():
    progress = ListingProgress()
    assert progress.listed(LIST, 1, requests=2, page_count=5) is None
    assert progress.listed(LIST, 2, requests=1) is None
    assert progress.answered(LIST, 2) is None  # page 2 is done, but page 1 is not
    assert progress.answered(LIST, 1) is None
    assert progress.answered(LIST, 1) == ProgressItem(LIST, 2, 5)
    assert progress.listed(LIST, 3, requests=0) == ProgressItem(LIST, 3, 5)


def test_progress_resumes_from_what_was_done():
    progress = ListingProgress({LIST: 7})
    assert progress.listed(LIST, 1, requests=0) is None  # page 1 again: nothing new
    assert progress.listed(LIST, 8, requests=0) == ProgressItem(LIST, 8, None)


@pytest.mark.parametrize(
    ("next_page", "expected"),
    [
        (
            PageRequest(
                LIST, "POST", (("page_num", "2"), ("cnt_per_page", "15"), ("_csrf", "t")), 2
            ),
            PageRequest(
                LIST, "POST", (("page_num", "9"), ("cnt_per_page", "15"), ("_csrf", "t")), 9
            ),
        ),
        (
            PageRequest("https://kcnawatch.org/newstream/page/2/", page=2),
            PageRequest("https://kcnawatch.org/newstream/page/9/", page=9),
        ),
        (PageRequest("https://kcnawatch.org/newstream/?paged=2", page=None), None),
        (PageRequest(LIST, "POST", (("token", "2"),), 2), None),
    ],
)
def test_jump_to_a_page(next_page, expected):
    assert jump(next_page, 9) == expected
