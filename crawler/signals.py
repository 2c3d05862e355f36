"""Signals of the project, sent and received through the crawler's signal manager."""

#: Sent by the archive-state extension once the archive is open, with ``state``: the
#: :class:`crawler.state.ArchiveState` of the running crawl (what is already stored).
archive_opened = object()

#: Sent when the crawl is asked to stop (the first SIGTERM or Ctrl-C of ``kcna-monitor
#: crawl``): components write what they hold now, before in-flight downloads are abandoned.
stop_requested = object()

#: Sent by the storing pipeline after each batch it wrote: the run's counters in the stats
#: are what the archive holds now.
batch_stored = object()

#: Sent by the storing pipeline once it has handled a stop request: everything parsed until
#: then is stored (or spooled), and the stats say whether all of it reached the database.
stop_stored = object()
