"""KCNA Watch (kcnawatch.org): the newstream listing and its article pages."""

from __future__ import annotations

from crawler.sources import KCNAWATCH
from crawler.spiders.base import SourceSpider


class KcnaWatchSpider(SourceSpider):
    source = KCNAWATCH
