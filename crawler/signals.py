"""Signals of the project, sent and received through the crawler's signal manager."""

#: Sent by the storing pipeline once the archive is open, with ``state``: the
#: :class:`crawler.state.ArchiveState` of the running crawl (what is already stored).
archive_opened = object()

#: Sent when the crawl is asked to stop (the first SIGTERM or Ctrl-C of ``kcna-monitor
#: crawl``): components write what they hold now, before in-flight downloads are abandoned.
stop_requested = object()
