"""``kcna-monitor serve``: the reading room, a read-only web app over the archive.

It listens on 127.0.0.1 unless told otherwise. Any other address is reachable from other
machines, so it needs a token (``[web] token`` or ``$KCNA_MONITOR_WEB_TOKEN``) that every
request must present, unless ``--public`` says the archive may be read by anyone there.

The web stack (Starlette, Jinja2, uvicorn) is imported when the command runs, so that the
other commands start without it.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from scheduler.cli.common import CommandError, open_archive
from scheduler.cli.options import add_db, add_log_level
from scheduler.config import Config, load
from scheduler.logs import setup_logging
from scheduler.web.settings import ENV_TOKEN

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9310


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    setup_logging(args.log_level)
    config = load(args.config)
    token = _token(config, args.host, public=args.public)
    db_url = config.resolve_db(args.db)
    repo = open_archive(db_url)

    from scheduler.web.app import create_app  # the web stack, only for this command
    from scheduler.web.context import WebContext
    from scheduler.web.server import WebServer

    app = create_app(WebContext(repo, config, db_url), token=token)
    try:
        server = WebServer(app, args.host, args.port)
    except OSError as error:
        raise CommandError(
            f"cannot listen on {args.host}:{args.port}: {error.strerror or error}"
        ) from None
    guarded = " (a token is required)" if token else ""
    print(f"serving the archive at {server.url}/{guarded} (Ctrl-C to stop)", file=out, flush=True)
    server.serve_forever()
    return 0


def _token(config: Config, host: str, *, public: bool) -> str | None:
    """The token requests must carry (a configured one applies on any address); a
    non-loopback address without one, and without ``--public``, is refused in one line."""
    from scheduler.web.security import needs_token

    token = config.web.effective_token()
    if token is None and needs_token(host) and not public:
        raise CommandError(
            f"{host} is reachable from other machines: set [web] token or ${ENV_TOKEN}"
            " (at least 16 characters), or give --public to serve without one",
            code=2,
        )
    return token


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {value}")
    return value


def register(subparsers: Any) -> None:
    """Add ``serve`` to the command line's subparsers."""
    serve = subparsers.add_parser(
        "serve",
        help="serve the archive to read in a browser, the JSON API, feeds and metrics",
        description="Serve the reading room: the archive, search, articles with their"
        " versions, sources and watch rules as web pages; a JSON API under /api/; Atom feeds"
        " of any search; /metrics (Prometheus) and /healthz. Read-only.",
    )
    serve.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to listen on (default: {DEFAULT_HOST})"
    )
    serve.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        metavar="N",
        help=f"port to listen on (default: {DEFAULT_PORT}; 0: any free port)",
    )
    serve.add_argument(
        "--public",
        action="store_true",
        help="serve on a non-loopback address without a token: anyone who reaches it reads",
    )
    add_log_level(serve, "INFO")
    add_db(serve)
    serve.set_defaults(func=cmd_serve)
