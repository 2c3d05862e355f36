"""Drop articles that lack what every stored article must have, saying why.

A dropped article is not lost: the storing pipeline records every drop as a failure of
its URL, so a layout change shows up in ``crawl_runs`` and the failures table.
"""

from __future__ import annotations

from typing import Any

from scrapy.exceptions import DropItem

from crawler.items import ArticleItem


def problems(item: ArticleItem) -> list[str]:
    """What is wrong with an article item (empty when it may be stored)."""
    record = item.record
    found = []
    if not record.title.strip():
        found.append("no title")
    if not record.text.strip():
        found.append("no text")
    if record.published is None:
        found.append("no publication date (no stamp, listing date or dateline)")
    if not record.source.strip():
        found.append("no source")
    return found


class ValidatePipeline:
    async def process_item(self, item: Any) -> Any:
        if isinstance(item, ArticleItem):
            found = problems(item)
            if found:
                raise DropItem(f"{item.record.url}: {', '.join(found)}")
        return item
