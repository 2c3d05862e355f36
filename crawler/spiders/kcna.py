"""kcna.kp, English edition: the ``/detail/`` lists (live layout) and the older ``/q/`` pages."""

from __future__ import annotations

from typing import Any, ClassVar

from crawler.extract.records import ListingEntry
from crawler.spiders.base import SourceSpider

#: The English category lists of the live layout and the category each stands for.
#: Tokens as seen on the site's home page menus (opaque; they may change with a redesign).
CATEGORY_LISTS: dict[str, str] = {
    "/en/article/list/a666dda1282180e0ee1b4427b0574ae7": "Latest News",
    "/en/article/list/6a47505ba5268fd7749c0fe11e4b24b4": "Top News",
    "/en/article/list/b0721b9f23054ddc7fe56c2811a12715": (
        "WPK General Secretary Kim Jong Un's Revolutionary Activities"
    ),
    "/en/article/list/2f7d854121ccbbfbe6feae9fdcc3556e": "Home News",
    "/en/article/list/1afa96195f9b303902490a126ab7285f": "Documents",
    "/en/article/list/e2f336db98b5e69c75e0da264e037e8d": "External",
    "/en/article/list/ecc14533d88be93068af4178946b1b05": "World",
    "/en/article/list/680e40b40899891bbe75a7072e3285e7": "Social Life",
    "/en/article/list/503e9b606704f9b1c625fa5755928cd3": "Revolutionary Anecdote",
    "/en/article/list/7bc083f00425be6aadfb828fba1cb5a7": "Always in Memory of People",
}


class KcnaSpider(SourceSpider):
    name = "kcna"
    source_label = "kcna"
    public_root = "http://www.kcna.kp"
    public_hosts: ClassVar[frozenset[str]] = frozenset({"www.kcna.kp", "kcna.kp"})
    default_start_paths = tuple(CATEGORY_LISTS)

    def page_request(
        self, public_url: str, *, depth: int, hint: ListingEntry | None, category: str | None = None
    ) -> Any:
        if category is None and depth >= 1:
            category = CATEGORY_LISTS.get(public_url.removeprefix(self.public_root))
        return super().page_request(public_url, depth=depth, hint=hint, category=category)
