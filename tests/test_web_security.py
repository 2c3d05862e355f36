"""What keeps the reading room safe to expose: the token beyond the loopback address (and
``--public``), the security headers on every kind of answer, and no route that writes."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from starlette.routing import Mount, Route

from scheduler.cli.serve import _token
from scheduler.web.app import create_app
from scheduler.web.security import needs_token
from storage.repository import Repository
from tests.cli_helpers import run_main
from tests.storage_helpers import make_item
from tests.web_helpers import RULES, context, serving, web_config

TOKEN = "s3cret-token-of-the-reading-room"
NO_TOKEN = {"KCNA_MONITOR_WEB_TOKEN": ""}


def test_a_token_is_required_when_given(repo: Repository) -> None:
    with serving(context(repo), token=TOKEN) as client:
        refused = client.get("/api/")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Basic realm=")
        assert client.get("/healthz").status_code == 401
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert client.get("/api/", headers=bearer).status_code == 200
        assert client.get("/api/", auth=("anyone", TOKEN)).status_code == 200
        for wrong in (
            {"Authorization": "Bearer " + TOKEN[:-1]},
            {"Authorization": f"Token {TOKEN}"},
            {"Authorization": "Basic !!!"},
        ):
            assert client.get("/api/", headers=wrong).status_code == 401, wrong
        assert client.get("/api/", auth=(TOKEN, "wrong")).status_code == 401


@pytest.mark.parametrize(
    ("host", "needed"),
    [("127.0.0.1", False), ("localhost", False), ("::1", False), ("[::1]", False),
     ("0.0.0.0", True), ("192.168.1.5", True), ("::", True), ("archive.example", True)],
)  # fmt: skip
def test_which_addresses_need_a_token(host: str, needed: bool) -> None:
    assert needs_token(host) is needed


def test_serve_beyond_loopback_needs_a_token_or_public(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("")
    done = run_main(
        "serve", "--config", str(config), "--host", "0.0.0.0", "--port", "0", env=NO_TOKEN
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert "0.0.0.0 is reachable from other machines: set [web] token" in done.stderr
    assert "--public" in done.stderr

    monkeypatch.setenv("KCNA_MONITOR_WEB_TOKEN", "")
    assert _token(web_config(), "0.0.0.0", public=True) is None
    assert _token(web_config(), "127.0.0.1", public=False) is None
    assert _token(web_config(token=TOKEN), "0.0.0.0", public=False) == TOKEN
    assert _token(web_config(token=TOKEN), "127.0.0.1", public=False) == TOKEN  # applies anywhere
    monkeypatch.setenv("KCNA_MONITOR_WEB_TOKEN", "x" * 16 + "-from-the-environment")
    assert _token(web_config(token=TOKEN), "0.0.0.0", public=False).endswith("environment")

    config.write_text('[web]\ntoken = "short"\n')
    done = run_main("serve", "--config", str(config), "--host", "0.0.0.0", env=NO_TOKEN)
    assert done.returncode == 2 and "web.token: too short" in done.stderr


def test_every_answer_carries_the_security_headers(repo: Repository) -> None:
    repo.articles.save([make_item(1, text="A missile <script>alert(1)</script>")])
    with serving(context(repo, web_config(RULES))) as client:
        for path in (
            "/",
            "/nothing",
            "/api/",
            "/api/articles?q=missile",
            "/api/articles?q=%22",
            "/search.atom?q=missile",
            "/feed.atom",
            "/feed/missiles.atom",
            "/static/feed.xsl",
            "/metrics",
            "/healthz",
        ):
            headers = client.get(path).headers
            policy = headers["content-security-policy"]
            assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, path
            assert headers["x-content-type-options"] == "nosniff", path
            feed = urlsplit(path).path.endswith((".atom", ".xsl"))  # XSLT counts as a script
            assert ("script-src 'self'" in policy) is feed, path


#: Path parameters of the routes, for a path that names something there.
FILLED = {"rule": "missiles"}


def paths_of(repo: Repository) -> list[str]:
    """A path of every route of the app (path parameters filled in)."""
    paths = []
    for route in create_app(context(repo)).routes:
        if isinstance(route, Mount):
            paths.append(route.path + "/style.css")
        elif isinstance(route, Route):
            paths.append(re.sub(r"\{(\w+)[^}]*\}", lambda m: FILLED.get(m[1], "abcd"), route.path))
    return paths


def test_no_route_writes(repo: Repository) -> None:
    paths = paths_of(repo)
    assert {"/", "/api/articles", "/search.atom", "/metrics", "/static/style.css"} <= set(paths)
    with serving(context(repo, web_config(RULES, stale_after=False))) as client:
        for path in paths:
            for method in ("POST", "PUT", "DELETE", "PATCH"):
                response = client.request(method, path, content=b"x")
                assert response.status_code == 405, (method, path)
            assert client.head(path).status_code in (200, 404), path
