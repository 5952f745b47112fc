"""Security headers on every kind of response, HSTS only over HTTPS, and ProxyFix trusted only when asked."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import TOOL_URL
from tests.platform import FakePlatform, launch

HTTPS_URL = TOOL_URL.replace("http://", "https://")
HSTS = "Strict-Transport-Security"


def _common(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["X-Request-ID"]


@pytest.mark.parametrize(("path", "kind"), [
    ("/", "text/html"),
    ("/no-such-page", "text/html"),  # an error page
    ("/lti/jwks", "application/json"),
    ("/xapi/about", "application/json"),  # the built-in LRS
    ("/xapi/statements", "application/json"),  # an LRS error (no credentials)
    ("/static/app.css", "text/css"),
    ("/healthz", "text/plain"),
    ("/readyz", "application/json"),
    ("/metrics", "text/plain"),
])
def test_every_kind_of_response_carries_the_headers(client: FlaskClient, path: str, kind: str) -> None:
    response = client.get(path, base_url=TOOL_URL, headers={"X-Experience-API-Version": "1.0.3"})
    response.close()  # a static file is streamed from an open file
    assert response.mimetype.startswith(kind.split("/")[0]), (path, response.mimetype)
    assert kind in response.content_type or kind.startswith("application/"), (path, response.content_type)
    _common(response)
    if response.mimetype == "text/html":
        assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
    assert HSTS not in response.headers


def test_api_error_is_a_problem_document_with_the_headers(client: FlaskClient) -> None:
    response = client.post("/healthz", base_url=TOOL_URL, headers={"Accept": "application/json"})
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"
    assert response.headers["Allow"]  # kept from the exception
    _common(response)


def test_launch_pages_allow_the_platform_to_frame_them(client: FlaskClient, platform: FakePlatform) -> None:
    response = launch(client, platform)
    page = client.get(response.headers["Location"], base_url=TOOL_URL)
    assert page.status_code == 200
    assert f"frame-ancestors 'self' {platform.issuer}" in page.headers["Content-Security-Policy"]
    _common(page)


@pytest.mark.parametrize("path", ["/", "/lti/jwks", "/xapi/about", "/static/app.css", "/no-such-page", "/metrics"])
def test_hsts_over_https_only(client: FlaskClient, path: str) -> None:
    with client.get(path, base_url=HTTPS_URL) as secure, client.get(path, base_url=TOOL_URL) as plain:
        assert secure.headers[HSTS] == "max-age=31536000"
        assert HSTS not in plain.headers


def test_forwarded_https_is_ignored_without_proxy_fix(client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="upstander.request")
    response = client.get("/", base_url=TOOL_URL, headers={
        "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Host": "evil.example"})
    assert HSTS not in response.headers
    assert [r.remote_addr for r in caplog.records if r.name == "upstander.request"] == ["127.0.0.1"]  # type: ignore[attr-defined]
    # Nor may a forged address read the metrics: the request came through (or claims) a proxy.
    assert client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 403


def test_proxy_fix_trusts_one_proxy(make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture) -> None:
    client = make_app(PROXY_FIX=1).test_client()
    caplog.set_level(logging.INFO, logger="upstander.request")
    response = client.get("/", base_url=TOOL_URL, headers={
        "X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.4"})
    assert response.headers[HSTS] == "max-age=31536000"
    _common(response)
    assert [r.remote_addr for r in caplog.records if r.name == "upstander.request"] == ["198.51.100.4"]  # type: ignore[attr-defined]
    # Only the last proxy's word counts: a client's own X-Forwarded-For entry is not believed.
    caplog.clear()
    client.get("/", base_url=TOOL_URL, headers={"X-Forwarded-For": "127.0.0.1, 198.51.100.4"})
    assert [r.remote_addr for r in caplog.records if r.name == "upstander.request"] == ["198.51.100.4"]  # type: ignore[attr-defined]
    # Plain http through the proxy: no HSTS.
    assert HSTS not in client.get("/", base_url=TOOL_URL, headers={"X-Forwarded-Proto": "http"}).headers
    # A remote client through the proxy cannot read the metrics.
    assert client.get("/metrics", headers={"X-Forwarded-For": "198.51.100.4"}).status_code == 403
