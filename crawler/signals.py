"""Signals of the project, sent and received through the crawler's signal manager."""

#: Sent by the storing pipeline once the archive is open, with ``state``: the
#: :class:`crawler.state.ArchiveState` of the running crawl (what is already stored).
archive_opened = object()
