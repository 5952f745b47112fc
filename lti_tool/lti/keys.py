"""The tool's RSA keys: generation, rotation, the published key set and signing."""

from __future__ import annotations

import time
import uuid
from functools import lru_cache
from typing import Any

from joserfc import jwt
from joserfc.jwk import Key, KeySet, RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.lti.claims import ALGORITHM
from lti_tool.models import ToolKey

# Published: the previous key (tokens signed just before a rotation still verify),
# the current signing key, and the next one (platforms cache it before it is used).
PUBLISHED_KEYS = 3


def new_key(session: Session) -> ToolKey:
    """Generate an RSA key pair and store it as the newest key."""
    key = RSAKey.generate_key(2048, private=True)
    row = ToolKey(kid=key.thumbprint(), private_pem=key.as_pem(private=True).decode())
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


@lru_cache(maxsize=16)
def _private(kid: str, pem: str) -> RSAKey:
    # Parsing a PEM costs about a millisecond; keys never change once stored.
    return RSAKey.import_key(pem, {"kid": kid, "alg": ALGORITHM, "use": "sig"})


def jwks(session: Session) -> dict[str, Any]:
    """Return the public key set for ``/lti/jwks``."""
    keys: list[Key] = [_private(row.kid, row.private_pem) for row in published(session)]
    return dict(KeySet(keys).as_dict(private=False))


def sign(session: Session, claims: dict[str, Any], lifetime: int = 300) -> str:
    """Sign claims as a JWT with the current key, adding iat, exp and a unique jti."""
    row = signing_key(session)
    now = int(time.time())
    body = {"iat": now, "exp": now + lifetime, "jti": str(uuid.uuid4()), **claims}
    header = {"alg": ALGORITHM, "kid": row.kid, "typ": "JWT"}
    return jwt.encode(header, body, _private(row.kid, row.private_pem), algorithms=[ALGORITHM])
