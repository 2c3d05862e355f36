"""A forward proxy on 127.0.0.1 for the tests: the public sites, answered by a replica.

It answers what a crawler sends an HTTP proxy: absolute-form requests
(``GET http://www.kcna.kp/en/... HTTP/1.1``) and ``CONNECT kcnawatch.org:443`` tunnels, whose
TLS it ends itself with a certificate made for the test (Scrapy does not verify certificates
unless told to). A request for one of the sources' hosts is passed on to the replica server
as it came, but for its target; a request for any other host is refused (403), as a proxy
that blocks it would. :attr:`ForwardProxy.requests` logs what it was asked for.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import io
import socket
import ssl
import sys
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

#: Headers about one connection, which a proxy does not pass on.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "proxy-authorization", "te", "trailer"}
    | {"transfer-encoding", "upgrade", "content-length"}
)


def make_certificate(folder: Path, hosts: Iterable[str]) -> tuple[Path, Path]:
    """A self-signed certificate for ``hosts`` and its key, written to ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    names = sorted(hosts)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "proxy-cert.pem", folder / "proxy-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class _Writer(io.BufferedIOBase):
    """What the handler writes to, on the TLS connection of a tunnel: every byte sent."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._sock.sendall(data)
        return len(data)


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    proxy: ForwardProxy
    #: ``https://host`` inside a CONNECT tunnel: requests there are in origin form.
    tunnel: str | None = None

    def do_CONNECT(self) -> None:
        self.proxy.log("CONNECT", self.path)
        host, _, port = self.path.rpartition(":")
        if host.lower() not in self.proxy.hosts:
            self._refuse()
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        tls = self.proxy.tls.wrap_socket(self.connection, server_side=True)
        self.connection = tls
        self.rfile = tls.makefile("rb")
        self.wfile = _Writer(tls)
        self.tunnel = f"https://{host}" + ("" if port == "443" else f":{port}")

    def _relay(self, method: str) -> None:
        url = self.path if self.tunnel is None else self.tunnel + self.path
        self.proxy.log(method, url)
        parts = urlsplit(url)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if (parts.hostname or "").lower() not in self.proxy.hosts:
            self._refuse()
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        origin = http.client.HTTPConnection(*self.proxy.site, timeout=30)
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            origin.request(method, path, body=body, headers=headers)
            answer = origin.getresponse()
            data = answer.read()
        finally:
            origin.close()
        self.send_response(answer.status, answer.reason)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(data)

    def _refuse(self) -> None:
        body = b"not a host this proxy serves\n"
        self.send_response(403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._relay("GET")

    def do_HEAD(self) -> None:
        self._relay("HEAD")

    def do_POST(self) -> None:
        self._relay("POST")

    def finish(self) -> None:
        super().finish()
        if self.tunnel is not None:  # the TLS connection took the socket over
            with contextlib.suppress(OSError):
                self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A crawler that hangs up is no news; anything else is.
        if not isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError)):
            super().handle_error(request, client_address)


class ForwardProxy:
    """A forward proxy on 127.0.0.1 (a free port) that serves ``hosts`` from the server at
    ``site_url``; ``folder`` holds its certificate."""

    def __init__(self, site_url: str, hosts: Iterable[str], folder: Path) -> None:
        site = urlsplit(site_url)
        self.site = (site.hostname or "127.0.0.1", site.port or 80)
        self.hosts = frozenset(h.lower() for h in hosts)
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(*make_certificate(folder, self.hosts))
        handler = type("Handler", (_ProxyHandler,), {"proxy": self})
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,), daemon=True)

    @property
    def url(self) -> str:
        """The proxy's URL, ``http://127.0.0.1:<port>``."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def log(self, method: str, target: str) -> None:
        with self._lock:
            self.requests.append((method, target))

    def __enter__(self) -> ForwardProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
