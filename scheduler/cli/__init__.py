"""The ``kcna-monitor`` command line: one entry point (:mod:`scheduler.cli.main`), its commands."""
