"""A rebuilt copy of the sources: pages rendered from real articles, served on 127.0.0.1.

Used by ``kcna-monitor demo`` (see it work with no internet) and by the tests, which crawl it
instead of the real sites.
"""
