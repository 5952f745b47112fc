"""The tool's RSA keys: generation, rotation, the published key set and signing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.lti import jose
from lti_tool.models import ToolKey

# Published: the previous key (tokens signed just before a rotation still verify),
# the current signing key, and the next one (platforms cache it before it is used).
PUBLISHED_KEYS = 3


def new_key(session: Session) -> ToolKey:
    """Generate an RSA key pair and store it as the newest key."""
    kid, pem = jose.new_rsa_key()
    row = ToolKey(kid=kid, private_pem=pem)
    session.add(row)
    session.flush()
    return row


def ensure_keys(session: Session) -> None:
    """Create the first two keys (current and next) if the tool has none yet."""
    count = len(session.scalars(select(ToolKey.id).limit(2)).all())
    for _ in range(2 - count):
        new_key(session)


def published(session: Session) -> list[ToolKey]:
    """Return the keys published in the JWKS, newest first."""
    ensure_keys(session)
    stmt = select(ToolKey).order_by(ToolKey.created_at.desc(), ToolKey.id.desc()).limit(PUBLISHED_KEYS)
    return list(session.scalars(stmt))


def signing_key(session: Session) -> ToolKey:
    """Return the current signing key: the newest but one (the newest is the pre-published next)."""
    keys = published(session)
    return keys[1]


def rotate(session: Session) -> ToolKey:
    """Pre-publish a new next key; the former next becomes the signing key."""
    return new_key(session)


def jwks(session: Session) -> dict[str, Any]:
    """Return the public key set for ``/lti/jwks``."""
    return jose.public_key_set((row.kid, row.private_pem) for row in published(session))


def sign(session: Session, claims: dict[str, Any], lifetime: int = 300) -> str:
    """Sign claims as a JWT with the current key."""
    row = signing_key(session)
    return jose.sign(row.kid, row.private_pem, claims, lifetime)
