"""Configuration: defaults, then ``UPSTANDER_*`` environment variables."""

from __future__ import annotations

import os
import secrets
import tempfile
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
        # Rate limits (lti_tool.ratelimit): off only for a deployment that limits upstream.
        "RATE_LIMITS_ENABLED": True,
        # Empty: counters in each process's memory; a redis:// URL shares them across processes and hosts.
        "RATE_LIMIT_REDIS_URL": "",
        # Prefix of the Redis keys, so installations can share one Redis.
        "RATE_LIMIT_KEY_PREFIX": "upstander:ratelimit:",
        # Per client address; N/second|minute|hour|day or off. A whole shift launching from one agency
        # NAT address at roll call stays well under these; a flood does not.
        "RATE_LIMIT_LOGIN": "600/minute",
        "RATE_LIMIT_LAUNCH": "600/minute",
        # Dynamic Registration is an administrator's rare action.
        "RATE_LIMIT_REGISTER": "30/hour",
        # Per LRS client key (per address without credentials); the delivery worker is exempt.
        "RATE_LIMIT_LRS": "6000/minute",
        # --- Operations (lti_tool.ops) ---
        # Number of reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are trusted
        # (werkzeug ProxyFix); 0 trusts none, so a client cannot fake its address or HTTPS.
        "PROXY_FIX": 0,
        # /readyz fails when the oldest statement still queued for delivery is older than this (seconds).
        "READY_OUTBOX_MAX_AGE": 900,
        # When set, /metrics requires "Authorization: Bearer <token>"; when empty, it answers only
        # requests from this machine (loopback, not forwarded by a proxy).
        "METRICS_TOKEN": "",
        # json (one object per line) or text; empty: json for `serve`, text for the other commands.
        "LOG_FORMAT": "",
        # Lowest level logged (DEBUG, INFO, WARNING, ERROR).
        "LOG_LEVEL": "INFO",
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
    # Two processes starting together must agree on one key, and neither may read the file half
    # written (an empty key): write a private temp file, then link it into place, which fails if
    # another process got there first.
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".secret_key.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        os.link(temp, path)
    except FileExistsError:
        return path.read_text().strip()
    finally:
        os.unlink(temp)
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
