"""The sources kcna-monitor crawls, as plain data: one record per source.

Everything else reads its facts about a source here: the spiders (public root, hosts, the
listing pages a crawl starts from), the configuration (the known names, the default
schedule), the watch rules and health checks (which URLs are a source's own), rechecks and the
archive (which hosts only copy articles of others). It imports nothing of Scrapy, so that
reading the configuration does not load a crawler.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from urllib.parse import urlsplit

#: The English category lists of kcna.kp's live layout and the category each stands for.
#: Tokens as seen on the site's home page menus (opaque; they may change with a redesign).
KCNA_CATEGORY_LISTS: Mapping[str, str] = MappingProxyType(
    {
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
)


@dataclass(frozen=True)
class Source:
    """One crawled site."""

    #: The name of its spider, its configuration table and its command-line argument.
    name: str
    #: The source label stored with runs (articles carry the publisher feed instead).
    label: str
    #: Scheme and host of the public site, e.g. ``http://www.kcna.kp``.
    public_root: str
    #: Hosts that count as the source's own (the public host and its aliases).
    hosts: frozenset[str]
    #: How often the daemon crawls it when the configuration does not say.
    every: timedelta
    #: Paths of the listing pages a crawl starts from by default.
    start_paths: tuple[str, ...]
    #: The category each default listing stands for (by path), where it stands for one.
    categories: Mapping[str, str] = field(default_factory=dict)
    #: Whether a listing's name (e.g. "Top News") is a category of the articles it lists.
    listing_is_category: bool = True
    #: Whether it copies the articles of publishers (its URLs are never an article's
    #: preferred URL, and a copy missing from its listings says nothing of the original).
    aggregator: bool = False

    def site_prefixes(self) -> tuple[str, ...]:
        """The URL prefixes of the source's own pages, ``http`` and ``https``, by host."""
        return tuple(f"{s}://{h}/" for h in sorted(self.hosts) for s in ("http", "https"))

    def owns(self, url: str) -> bool:
        """Whether ``url`` is on one of the source's own hosts."""
        return (urlsplit(url).hostname or "").lower() in self.hosts


KCNA = Source(
    name="kcna",
    label="kcna",
    public_root="http://www.kcna.kp",
    hosts=frozenset({"www.kcna.kp", "kcna.kp"}),
    every=timedelta(minutes=15),
    start_paths=tuple(KCNA_CATEGORY_LISTS),
    categories=KCNA_CATEGORY_LISTS,
)

KCNAWATCH = Source(
    name="kcnawatch",
    label="kcnawatch",
    public_root="https://kcnawatch.org",
    hosts=frozenset({"kcnawatch.org", "www.kcnawatch.org"}),
    every=timedelta(minutes=30),
    start_paths=("/newstream/",),
    # "Newstream" and archive pages are feeds, not subjects.
    listing_is_category=False,
    aggregator=True,
)

#: Every source, by name, in the order they are listed and crawled.
SOURCES: Mapping[str, Source] = MappingProxyType({s.name: s for s in (KCNA, KCNAWATCH)})


def is_http_url(value: str) -> bool:
    """Whether ``value`` is an absolute http(s) URL with a host."""
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def known() -> str:
    """The known source names, for messages: ``kcna, kcnawatch``."""
    return ", ".join(sorted(SOURCES))


def allowed_hosts(names: Iterable[str], base_url: str | None) -> set[str]:
    """The hosts a start URL of these sources may be on: theirs, and the mirror's."""
    hosts = {host for name in names for host in SOURCES[name].hosts}
    if base_url:
        hosts.add((urlsplit(base_url).hostname or "").lower())
    return hosts


def sources_of(urls: Iterable[str]) -> set[str]:
    """The names of the sources whose sites these URLs are on."""
    hosts = {(urlsplit(url).hostname or "").lower() for url in urls}
    return {name for name, source in SOURCES.items() if hosts & source.hosts}


def aggregator_hosts() -> frozenset[str]:
    """The hosts of the sources that copy articles of publishers (for the archive's merge)."""
    return frozenset(host for s in SOURCES.values() if s.aggregator for host in s.hosts)
