"""Configuration: defaults, then ``UPSTANDER_*`` environment variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

DEFAULT_PUBLIC_URL = "http://127.0.0.1:8000"
# The demo LMS is served by the same process under another host name, so that the
# browser treats it as a different site from the tool, as a real LMS would be.
DEFAULT_DEMO_LMS_URL = "http://localhost:8000"


def defaults(instance_path: str) -> dict[str, Any]:
    """Return the embedded defaults: SQLite in the instance folder, demo LMS on."""
    return {
        "DATABASE_URL": f"sqlite:///{Path(instance_path) / 'upstander.db'}",
        "PUBLIC_URL": DEFAULT_PUBLIC_URL,
        "DEMO_LMS_URL": DEFAULT_DEMO_LMS_URL,
        # Seconds of clock skew tolerated on exp/iat; LMS clocks drift a little.
        "LAUNCH_LEEWAY": 60,
        "LOGIN_STATE_TTL": 600,
        "SESSION_TTL": 8 * 3600,
        "JWKS_CACHE_SECONDS": 3600,
        "HTTP_CONNECT_TIMEOUT": 5.0,
        "HTTP_READ_TIMEOUT": 10.0,
        # A coordinator's landing reads the course roster from the LMS (NRPS) when the last read is older.
        "ROSTER_SYNC_MINUTES": 15,
        # xAPI delivery (xapi.delivery.Settings): batch size, per-request timeouts (seconds), the claim
        # lease (must outlast one request), idle sleep and backoff bounds.
        "XAPI_BATCH_SIZE": 50,
        "XAPI_CONNECT_TIMEOUT": 5.0,
        "XAPI_READ_TIMEOUT": 15.0,
        "XAPI_CLAIM_LEASE": 120.0,
        "XAPI_IDLE_SLEEP": 2.0,
        "XAPI_BACKOFF_BASE": 2.0,
        "XAPI_BACKOFF_MAX": 600.0,
        # `serve` runs a delivery loop in its first worker, so one command delivers.
        "XAPI_EMBEDDED_WORKER": True,
        # The built-in LRS as the default destination: endpoint (empty: PUBLIC_URL + /xapi/) and the
        # worker's credentials there (see xapi.targets.builtin_destination).
        "LRS_ENDPOINT": "",
        "LRS_KEY": "",
        "LRS_SECRET": "",
    }


def is_local(url: str) -> bool:
    """Return True when a URL points at this machine (the embedded set-up)."""
    return urlsplit(url).hostname in {"127.0.0.1", "localhost", "::1"}


def secret_key(instance_path: str) -> str:
    """Return the secret key stored in the instance folder, creating it on first use."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting together must agree on one key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def load(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Fill ``app.config`` from defaults, the environment (or the test config) and the instance folder."""
    app.config.from_mapping(defaults(app.instance_path))
    if test_config is None:
        app.config.from_prefixed_env("UPSTANDER")
    else:
        app.config.from_mapping(test_config)
    for key in ("PUBLIC_URL", "DEMO_LMS_URL"):
        app.config[key] = str(app.config[key]).rstrip("/")
    if "DEMO_LMS" not in app.config:
        # On by default only for the embedded set-up (served on this machine);
        # a public deployment must ask for it with UPSTANDER_DEMO_LMS=true.
        app.config["DEMO_LMS"] = is_local(app.config["PUBLIC_URL"])
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key(app.instance_path)
