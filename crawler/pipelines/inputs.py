"""What the storing pipeline hands storage: the spider's items as storage's inputs."""

from __future__ import annotations

from crawler.items import ArticleItem, FailureItem
from storage.records import ArticleInput, FailureInput, RawPage


def to_input(item: ArticleItem, keep_page: bool) -> ArticleInput:
    record = item.record
    page = None
    if keep_page and item.body is not None:
        page = RawPage(
            url=record.url,
            body=item.body,
            fetched_at=item.seen_at,
            status=item.status,
            parser_version=item.parser_version,
            content_type=item.content_type,
        )
    return ArticleInput(
        url=record.url,
        canonical_url=record.canonical_url,
        source=record.source,
        title=record.title,
        text=record.text,
        published=record.published,
        published_from=record.published_from,
        dateline=record.dateline,
        categories=tuple(record.categories),
        source_key=record.source_key,
        seen_at=item.seen_at,
        page=page,
    )


def failure_input(item: FailureItem) -> FailureInput:
    """A page that gave no article, with what its listing said of it."""
    return FailureInput(
        url=item.url,
        reason=item.reason,
        at=item.at,
        listed_on=item.listed_on,
        category=item.category,
    )
