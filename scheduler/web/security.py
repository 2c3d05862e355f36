"""What keeps the reading room safe to expose: security headers on every answer
(:class:`SecurityHeaders`), the token a client must present when the server listens beyond
the loopback address (:class:`TokenRequired`), and the rule for when that is
(:func:`needs_token`).

Article text is hostile input: the templates escape it, and the Content-Security-Policy
forbids every script, plugin, frame and foreign resource, so that even a missed escape
cannot run code in a reader's browser. The only resources a page loads are the stylesheet
and (for the feeds) the XSL stylesheet, both from this server.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Pages: no scripts at all; styles and images only from this server.
PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
    " base-uri 'none'; frame-ancestors 'none'"
)
#: Feeds: a browser applies their XSL stylesheet, which CSP counts as a script.
FEED_POLICY = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self';"
    " base-uri 'none'; frame-ancestors 'none'"
)
REALM = "kcna-monitor"


def needs_token(host: str) -> bool:
    """Whether a server listening on ``host`` is reachable from other machines (anything
    but a loopback address or ``localhost``)."""
    if host.lower() == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return True


class SecurityHeaders:
    """Adds the Content-Security-Policy and the other hardening headers to every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        policy = FEED_POLICY if path.endswith((".atom", ".xsl")) else PAGE_POLICY

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", policy)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TokenRequired:
    """Answers 401 unless the request carries ``token``: ``Authorization: Bearer TOKEN``,
    or basic auth with TOKEN as the password (any user name, so a browser can log in)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.presented(Headers(scope=scope).get("authorization")):
            await self.app(scope, receive, send)
            return
        response = PlainTextResponse(
            "a token is required: Authorization: Bearer TOKEN, or basic auth with it as the"
            " password\n",
            status_code=401,
            headers={"WWW-Authenticate": f'Basic realm="{REALM}", charset="UTF-8"'},
        )
        await response(scope, receive, send)

    def presented(self, authorization: str | None) -> bool:
        """Whether the ``Authorization`` header carries the token."""
        if not authorization:
            return False
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer":
            return hmac.compare_digest(value.encode("utf-8"), self.token)
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                return False
            _, _, password = decoded.partition(b":")
            return hmac.compare_digest(password, self.token)
        return False
