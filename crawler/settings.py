"""Scrapy settings of the kcna-monitor project.

The defaults are for the real sites: slow, easily annoyed hosts. A crawl of a local
copy (tests, the demo, a mirror) may loosen them with ``--set NAME=VALUE``.
Project-specific settings are prefixed ``KCNA_MONITOR_``.
"""

from __future__ import annotations

import os
from pathlib import Path

BOT_NAME = "kcna-monitor"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

VERSION = "0.1.0"


def data_dir() -> Path:
    """``$XDG_DATA_HOME/kcna-monitor`` (``~/.local/share/kcna-monitor`` when unset)."""
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "kcna-monitor"


def default_database_url() -> str:
    """``KCNA_MONITOR_DB`` if set, else the SQLite file ``kcna-monitor.db`` in :func:`data_dir`."""
    return os.environ.get("KCNA_MONITOR_DB") or f"sqlite:///{data_dir() / 'kcna-monitor.db'}"


# Where articles go (``--db`` on the command line, else KCNA_MONITOR_DB, else the default file).
KCNA_MONITOR_DB = default_database_url()
# Items written per database transaction, and the longest a batch waits (seconds).
KCNA_MONITOR_BATCH_SIZE = 50
KCNA_MONITOR_FLUSH_SECONDS = 10.0
# Keep the raw bytes of article pages (compressed) so they can be re-parsed later.
KCNA_MONITOR_KEEP_PAGES = True
# Where articles go when the database refuses them; the next crawl stores them first.
KCNA_MONITOR_SPOOL_DIR = str(data_dir() / "spool")
# What a run does (crawl, refetch, backfill or recheck; see crawler.plan): a crawl by default.
# The command line sets it (``--refetch``, ``kcna-monitor backfill``, ``kcna-monitor recheck``).
KCNA_MONITOR_PLAN = ""
# Revalidate listing and revisited article pages with the ETag/Last-Modified of their last
# fetch (a crawl and a recheck do; a refetch and a backfill read every page in full).
KCNA_MONITOR_CONDITIONAL = True
# Article pages that failed within this many days and are still not stored are tried again.
KCNA_MONITOR_RETRY_FAILED_DAYS = 7
# Revisits: stored articles younger than this many days (by publication date; 0: none) are
# fetched again, conditionally, once every KCNA_MONITOR_REVISIT_EVERY hours: a changed title
# or text is stored as a new version, a 404/410 marks the article gone.
KCNA_MONITOR_REVISIT_DAYS = 7
KCNA_MONITOR_REVISIT_EVERY = 24
# Archive sweeps (see crawler.sweep; the daemon sets them from a source's sweep_every and
# sweep_budget): a crawl also checks again a share of the stored articles, so that each is
# checked once every KCNA_MONITOR_SWEEP_EVERY seconds (0: no sweep), given runs every
# KCNA_MONITOR_SWEEP_INTERVAL seconds, at most KCNA_MONITOR_SWEEP_BUDGET a run.
KCNA_MONITOR_SWEEP_EVERY = 0
KCNA_MONITOR_SWEEP_BUDGET = 50
KCNA_MONITOR_SWEEP_INTERVAL = 0
# An article that vanished from a listing page while older ones are still listed is marked
# gone (what each listing page showed is remembered from one crawl to the next).
KCNA_MONITOR_VANISHED = True
# Listing pages followed per start page (1 = the start pages only).
KCNA_MONITOR_MAX_PAGES = 3
# Who to tell when the crawler misbehaves (an e-mail or URL); added to the user agent.
KCNA_MONITOR_CONTACT = os.environ.get("KCNA_MONITOR_CONTACT", "")

USER_AGENT = f"kcna-monitor/{VERSION} (news archive crawler)"

# Politeness: robots.txt, one or two requests at a time per host, a delay that adapts.
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 4
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 2.0
DOWNLOAD_DELAY_JITTER = 0.5  # each delay varies by up to ±50%
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 60
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# kcna.kp answers slowly: back off between retries of one request (seconds, doubled each time).
KCNA_MONITOR_RETRY_BACKOFF = 5.0
KCNA_MONITOR_RETRY_BACKOFF_MAX = 120.0
# A 429 or 503 with Retry-After is honoured up to this many seconds.
KCNA_MONITOR_RETRY_AFTER_MAX = 600.0
# A host whose first requests fail with a DNS error, a refused connection or no route is not
# retried in the run: its requests fail at once, and one line says why (no network, blocked).
KCNA_MONITOR_FAIL_FAST = True
# A lookup that takes longer has failed: the verdict comes within seconds, not a minute.
DNS_TIMEOUT = 10
# Fetch through this HTTP(S) proxy (``--proxy``); unset, HTTP_PROXY/HTTPS_PROXY apply.
KCNA_MONITOR_PROXY = ""

COOKIES_ENABLED = True  # the /detail/ lists page with a session cookie
REDIRECT_ENABLED = True
REDIRECT_MAX_TIMES = 5
# Bounded memory: a page (or what it decompresses to) larger than this is not downloaded
# further nor stored; a warning is logged past the warning size. Real pages are far smaller.
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False  # no listening ports in a crawler that runs unattended
LOG_LEVEL = "INFO"

DOWNLOADER_MIDDLEWARES = {
    "crawler.middlewares.conditional.ConditionalRequestMiddleware": 560,
    # Redirects stay on the source's site (a mirror's host included); one elsewhere, a loop or
    # a chain past REDIRECT_MAX_TIMES is a recorded failure, and nothing of it is requested.
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.middlewares.redirects.SiteRedirectMiddleware": 600,
    "crawler.middlewares.redirects.SiteMetaRefreshMiddleware": 580,
    # A page over DOWNLOAD_MAXSIZE, compressed or once decompressed, is a recorded failure.
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    "crawler.middlewares.size.CappedCompressionMiddleware": 590,
    "crawler.middlewares.size.PageSizeMiddleware": 595,
    # Nearer the downloader than RetryMiddleware (550): it reads a 429 before the retry.
    "crawler.middlewares.backoff.RetryBackoffMiddleware": 555,
    # Between the retry and the backoff: an unreachable host is neither retried nor waited for.
    "crawler.middlewares.unreachable.UnreachableHostMiddleware": 552,
    # Farther than the retry: a page still cut short once retried names the bytes it lost.
    "crawler.middlewares.truncated.TruncationMiddleware": 545,
    # Before HttpProxyMiddleware (750), which then honours the proxy it names.
    "crawler.middlewares.proxy.ProxyMiddleware": 740,
}
# The crawler's doors to storage: the archive's state is loaded when the spider opens, items
# are stored in batches, and the stats collector records the run.
EXTENSIONS = {
    "crawler.extensions.archive.ArchiveLoader": 100,
}
STATS_CLASS = "crawler.statscollectors.RunStatsCollector"
ITEM_PIPELINES = {
    "crawler.pipelines.validate.ValidatePipeline": 100,
    "crawler.pipelines.store.StorePipeline": 800,
}

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
