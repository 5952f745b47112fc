"""The one outbound HTTP client: timeouts always, keep-alive, replaceable in tests."""

from __future__ import annotations

import httpx
from flask import Flask, current_app

USER_AGENT = "Upstander/0.1 (+LTI 1.3 tool)"


def client(app: Flask | None = None) -> httpx.Client:
    """Return the app's shared HTTP client, created on first use."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    http: httpx.Client | None = app.extensions.get("upstander.http")
    if http is None:
        timeout = httpx.Timeout(app.config["HTTP_READ_TIMEOUT"], connect=app.config["HTTP_CONNECT_TIMEOUT"])
        http = httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=False)
        app.extensions["upstander.http"] = http
    return http
