"""Names of the Scrapy stats the crawler keeps (``kcna_monitor/...``), in one place.

The spider, the middlewares and the storing components count under these names; the stats
collector (:mod:`crawler.statscollectors`) persists the run's from them, and the command line
summarises a crawl from them. Storage never sees these names.
"""

from __future__ import annotations

from typing import Final

PREFIX: Final = "kcna_monitor/"

#: Pages downloaded (Scrapy's own counter): a run that fetched none failed.
RESPONSES: Final = "downloader/response_count"

# -- the run (set by the stats collector) ----------------------------------------------------
#: The id of the run recorded in ``crawl_runs``.
RUN_ID: Final = PREFIX + "run_id"
#: How the run ended: ``ok``, ``failed`` or ``interrupted``; and why, when it says.
RUN_STATUS: Final = PREFIX + "run_status"
RUN_ERROR: Final = PREFIX + "run_error"

# -- storing (set by the storing pipeline) ---------------------------------------------------
#: Articles stored as new, as a new version, or unchanged (the archive's outcomes).
NEW: Final = PREFIX + "new"
CHANGED: Final = PREFIX + "changed"
UNCHANGED: Final = PREFIX + "unchanged"
#: Pages that could not be fetched, parsed or kept (recorded as failures of the run).
FAILURES: Final = PREFIX + "failures"
#: Articles marked gone (a 404/410, or vanished from their listing), and back again.
GONE: Final = PREFIX + "gone"
BACK: Final = PREFIX + "back"
#: Why the run counts as failed although it ran: parsed articles the database did not take
#: (spooled, or lost). Unset when everything parsed is stored.
STORE_TROUBLE: Final = PREFIX + "store_trouble"
#: The last database errors met while storing (later tries may have succeeded).
STORE_ERRORS: Final = PREFIX + "store_errors"

# -- the archive (set by the archive-state extension) ----------------------------------------
#: Stored articles due for a revisit (or named by a recheck).
REVISITS_DUE: Final = PREFIX + "revisits_due"
#: Stored articles a sweep checks in this run (see :mod:`crawler.sweep`).
SWEEP_DUE: Final = PREFIX + "sweep_due"
#: 1 when the last crawl did not finish: listings are read again in full.
RECOVERING: Final = PREFIX + "recovering"

# -- crawling (set by the spider) ------------------------------------------------------------
LISTING_PAGES: Final = PREFIX + "listing_pages"
EMPTY_LISTINGS: Final = PREFIX + "empty_listings"
LISTING_ENDS: Final = PREFIX + "listing_ends"
ARTICLES_PARSED: Final = PREFIX + "articles_parsed"
NOT_AN_ARTICLE: Final = PREFIX + "not_an_article"
PARSE_FAILURES: Final = PREFIX + "parse_failures"
FETCH_FAILURES: Final = PREFIX + "fetch_failures"
GONE_PAGES: Final = PREFIX + "gone_pages"
FAILED_RETRIED: Final = PREFIX + "failed_retried"
REVISITED: Final = PREFIX + "revisited"
SWEPT: Final = PREFIX + "swept"
KNOWN_SKIPPED: Final = PREFIX + "known_skipped"
#: Stored articles a listing showed under another title: fetched again.
RETITLED: Final = PREFIX + "retitled_in_listing"
OLDER_THAN_SINCE: Final = PREFIX + "older_than_since"
OFFSITE_LINKS: Final = PREFIX + "offsite_links"
PAGING_STOPPED_AT_KNOWN: Final = PREFIX + "paging_stopped_at_known"

# -- fetching (set by the middlewares) -------------------------------------------------------
NOT_MODIFIED: Final = PREFIX + "not_modified"
PAGES_TOO_LARGE: Final = PREFIX + "pages_too_large"
BACKOFF_SECONDS: Final = PREFIX + "backoff_seconds"
#: Why a host of the run could not be reached at all, in words (the first such host).
UNREACHABLE: Final = PREFIX + "unreachable"
