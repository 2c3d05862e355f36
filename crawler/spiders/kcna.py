"""kcna.kp, English edition: the ``/detail/`` lists (live layout) and the older ``/q/`` pages."""

from __future__ import annotations

from crawler.sources import KCNA
from crawler.spiders.base import SourceSpider


class KcnaSpider(SourceSpider):
    source = KCNA
