"""The demo platform's own RSA key: created on first need, published, used to sign id_tokens."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.lti import jose
from lti_tool.models.demo import DemoKey


def current_key(session: Session) -> DemoKey:
    """Return the newest demo key, generating one the first time it is needed."""
    row = session.scalars(select(DemoKey).order_by(DemoKey.id.desc()).limit(1)).first()
    if row is None:
        kid, pem = jose.new_rsa_key()
        row = DemoKey(kid=kid, private_pem=pem)
        session.add(row)
        session.flush()
    return row


def jwks(session: Session) -> dict[str, Any]:
    """Return the public key set published at ``/demo-lms/jwks``."""
    current_key(session)
    rows = session.scalars(select(DemoKey).order_by(DemoKey.id.desc()))
    return jose.public_key_set((r.kid, r.private_pem) for r in rows)


def sign(session: Session, claims: dict[str, Any], lifetime: int = 300) -> str:
    """Sign claims as an RS256 JWT with the demo platform's key."""
    row = current_key(session)
    return jose.sign(row.kid, row.private_pem, claims, lifetime)
