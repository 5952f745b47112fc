"""Mount the built-in LRS (package ``xapi.lrs``) in the tool's app, on the tool's database."""

from __future__ import annotations

import hashlib

from flask import Flask

from lti_tool.db import sessionmaker_for
from xapi import lrs


def pepper(app: Flask) -> bytes:
    """The key that hashes LRS client secrets, derived from the installation's secret key."""
    return pepper_for(app.config["SECRET_KEY"])


def pepper_for(secret_key: str | bytes) -> bytes:
    raw = secret_key.encode("utf-8") if isinstance(secret_key, str) else bytes(secret_key)
    return hashlib.sha256(b"upstander lrs client secrets\x00" + raw).digest()


def settings(app: Flask) -> lrs.LrsSettings:
    return lrs.LrsSettings(session_factory=lambda: sessionmaker_for(app)(), pepper=pepper(app),
                           home_page=app.config["PUBLIC_URL"].rstrip("/"))


def init_app(app: Flask) -> None:
    lrs.init_app(app, settings(app), url_prefix="/xapi")
