"""KCNA Watch (kcnawatch.org): the newstream listing and its article pages."""

from __future__ import annotations

from typing import ClassVar

from crawler.spiders.base import SourceSpider


class KcnaWatchSpider(SourceSpider):
    name = "kcnawatch"
    source_label = "kcnawatch"
    public_root = "https://kcnawatch.org"
    public_hosts: ClassVar[frozenset[str]] = frozenset({"kcnawatch.org", "www.kcnawatch.org"})
    default_start_paths = ("/newstream/",)
    # "Newstream" and archive pages are feeds, not subjects.
    listing_is_category = False
