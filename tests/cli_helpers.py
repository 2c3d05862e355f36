"""The command line run in the test process, for the commands that do not crawl.

A crawl runs Twisted's reactor, which cannot run twice in one process, and the tests of
stopping and killing need a process of their own: those run ``python -m scheduler.cli`` in a
child process (forked by :mod:`tests.forkserver`). Every other command is called here, as
``main(argv, out=...)``, and gives what a child process would: its exit status, its standard
output and its standard error.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from collections.abc import Mapping
from unittest import mock

from scheduler.cli.main import main


def run_main(*args: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """``kcna-monitor ARGS`` run in this process with ``env`` added to the environment."""
    out, err = io.StringIO(), io.StringIO()
    with (
        mock.patch.dict(os.environ, env),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            code = main(list(args), out=out)
        except SystemExit as done:  # argparse: a mistake on the command line, or --help
            code = done.code if isinstance(done.code, int) else int(done.code is not None)
    argv = ["kcna-monitor", *args]
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())
