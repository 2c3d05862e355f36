"""Which listing pages a backfill has fully handled, so that an interrupted backfill resumes.

A listing page counts as done once every article request it gave rise to has been answered
(stored, failed or skipped); pages 1..N done in a row make ``pages_done = N``. The spider
reports each advance as a :class:`~crawler.items.ProgressItem`, which the storing pipeline
writes after the articles before it, so a recorded page never has articles still unwritten.
"""

from __future__ import annotations

from collections.abc import Mapping

from crawler.extract.records import PageRequest
from crawler.items import ProgressItem

_PAGE_FIELDS = ("page_num", "page", "pageno", "page_no", "pagenum", "paged", "cur_page")


class ListingProgress:
    def __init__(self, done: Mapping[str, int] | None = None) -> None:
        self.done = dict(done or {})
        self._pending: dict[tuple[str, int], int] = {}
        self._finished: dict[str, set[int]] = {}
        self._counts: dict[str, int | None] = {}

    def listed(
        self, listing: str, page: int, requests: int, page_count: int | None = None
    ) -> ProgressItem | None:
        """Page ``page`` of ``listing`` was read and gave ``requests`` article requests."""
        if page_count is not None:
            self._counts[listing] = page_count
        if requests:
            self._pending[(listing, page)] = requests
            return None
        return self._finish(listing, page)

    def answered(self, listing: str, page: int) -> ProgressItem | None:
        """One article request of that page has been answered, one way or another."""
        key = (listing, page)
        left = self._pending.get(key, 0) - 1
        if left > 0:
            self._pending[key] = left
            return None
        self._pending.pop(key, None)
        return self._finish(listing, page)

    def _finish(self, listing: str, page: int) -> ProgressItem | None:
        finished = self._finished.setdefault(listing, set())
        finished.add(page)
        before = done = self.done.get(listing, 0)
        while done + 1 in finished:
            done += 1
        if done == before:
            return None
        self.done[listing] = done
        return ProgressItem(listing, done, self._counts.get(listing))


def jump(next_page: PageRequest, target: int) -> PageRequest | None:
    """The request for page ``target`` of a listing, made from its request for the next page.

    Layouts page either by a form field (``page_num`` on kcna.kp's lists) or by a path or
    query part (``/page/2/`` on KCNA Watch). Returns None when neither is recognisable.
    """
    if next_page.page is None:
        return None
    current = str(next_page.page)
    if next_page.method == "POST":
        fields = list(next_page.formdata)
        for index, (name, value) in enumerate(fields):
            if name.lower() in _PAGE_FIELDS and value == current:
                fields[index] = (name, str(target))
                return PageRequest(next_page.url, "POST", tuple(fields), target)
        return None
    for old, new in (
        (f"/page/{current}/", f"/page/{target}/"),
        (f"page={current}", f"page={target}"),
    ):
        if old in next_page.url:
            return PageRequest(next_page.url.replace(old, new, 1), "GET", (), target)
    return None
