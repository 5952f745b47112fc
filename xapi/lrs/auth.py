"""LRS credentials: Basic-auth clients with scopes.

Secrets are 32 random bytes shown once. Because they are high-entropy, a keyed SHA-256 (HMAC with
the installation's key) protects them at rest as well as a slow KDF would protect a password, and
costs microseconds per request instead of the tens of milliseconds a KDF would add to every call.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from xapi.db import XapiBase, utcnow

SCOPES = ("all", "all/read", "statements/write", "statements/read", "statements/read/mine", "state", "define",
          "profile")
# A scope that implies others (xAPI 1.0.3 §4.2 "OAuth Authorization Scope").
_IMPLIES = {
    "all": set(SCOPES),
    "all/read": {"statements/read", "statements/read/mine"},
    "statements/read": {"statements/read/mine"},
}
WORKER_CLIENT = "upstander-worker"


class LrsClient(XapiBase):
    """An application allowed to use the built-in LRS."""

    __tablename__ = "xapi_lrs_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    disabled: Mapped[bool] = mapped_column(default=False)
    # The xAPI version of the client's last accepted request: a request that names no version is
    # refused in the version its client speaks (both 1.0.3 and 2.0 want the header on every answer).
    last_version: Mapped[str | None] = mapped_column(String(8), default=None)


@dataclass(frozen=True)
class Principal:
    """The authenticated client of a request."""

    client_id: int
    key: str
    name: str
    scopes: frozenset[str]
    authority: dict[str, Any]
    last_version: str | None = None

    def allows(self, wanted: tuple[str, ...]) -> bool:
        granted = set(self.scopes)
        for scope in self.scopes:
            granted |= _IMPLIES.get(scope, set())
        return bool(granted & set(wanted))

    @property
    def only_mine(self) -> bool:
        """True when the client may read only the statements it stored itself."""
        return not self.allows(("statements/read",)) and self.allows(("statements/read/mine",))


def hash_secret(pepper: bytes, secret: str) -> str:
    return hmac.new(pepper, secret.encode("utf-8"), hashlib.sha256).hexdigest()


def add_client(session: Session, pepper: bytes, name: str, scopes: list[str]) -> tuple[str, str]:
    """Create a client; return its key and secret (the secret is not stored and cannot be shown again)."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown scope(s) {', '.join(unknown)}; choose from {', '.join(SCOPES)}")
    key, secret = secrets.token_hex(16), secrets.token_urlsafe(32)
    session.add(LrsClient(key=key, name=name, secret_hash=hash_secret(pepper, secret), scopes=scopes))
    session.flush()
    return key, secret


def worker_credentials(pepper: bytes) -> tuple[str, str]:
    """The delivery worker's key and secret, derived from the installation key so no process stores it."""
    secret = hmac.new(pepper, b"upstander delivery worker", hashlib.sha256).hexdigest()
    return WORKER_CLIENT, secret


def ensure_worker_client(session: Session, pepper: bytes) -> tuple[str, str]:
    """Create the worker's own client (scopes all) if missing; return its credentials."""
    key, secret = worker_credentials(pepper)
    existing = session.scalar(select(LrsClient).where(LrsClient.key == key))
    if existing is None:
        session.add(LrsClient(key=key, name="Upstander delivery worker", secret_hash=hash_secret(pepper, secret),
                              scopes=["all"]))
        session.flush()
    elif existing.secret_hash != hash_secret(pepper, secret):
        existing.secret_hash = hash_secret(pepper, secret)  # the installation key was rotated
    return key, secret


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """Return (key, secret) from a Basic ``Authorization`` header, or None when it is not one."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        key, _, secret = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return key, secret


def authenticate(session: Session, pepper: bytes, header: str | None, home_page: str) -> Principal | None:
    """Return the client named by a Basic ``Authorization`` header, or None if it is missing or wrong."""
    credentials = basic_credentials(header)
    if credentials is None:
        return None
    key, secret = credentials
    client = session.scalar(select(LrsClient).where(LrsClient.key == key, LrsClient.disabled.is_(False)))
    if client is None or not hmac.compare_digest(client.secret_hash, hash_secret(pepper, secret)):
        return None
    authority = {"objectType": "Agent", "name": client.name, "account": {"homePage": home_page, "name": client.key}}
    return Principal(client.id, client.key, client.name, frozenset(client.scopes), authority, client.last_version)


def note_version(sessions: Callable[[], Session], principal: Principal, version: str) -> None:
    """Remember the version this client speaks: written only when it changes, in its own transaction,
    because the request itself may be refused (a 404 still tells which version the client speaks)."""
    if principal.last_version == version:
        return
    with sessions() as session, session.begin():
        session.execute(update(LrsClient).where(LrsClient.id == principal.client_id).values(last_version=version))
