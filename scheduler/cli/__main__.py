"""``python -m scheduler.cli``: the command line, as the daemon runs its child crawls."""

from scheduler.cli.main import main

raise SystemExit(main())
