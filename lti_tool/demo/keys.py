"""The demo platform's own RSA key: created on first need, published, used to sign id_tokens."""

from __future__ import annotations

import time
import uuid
from functools import lru_cache
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.lti.claims import ALGORITHM
from lti_tool.models.demo import DemoKey


def current_key(session: Session) -> DemoKey:
    """Return the newest demo key, generating one the first time it is needed."""
    row = session.scalars(select(DemoKey).order_by(DemoKey.id.desc()).limit(1)).first()
    if row is None:
        key = RSAKey.generate_key(2048, private=True)
        row = DemoKey(kid=key.thumbprint(), private_pem=key.as_pem(private=True).decode())
        session.add(row)
        session.flush()
    return row


@lru_cache(maxsize=8)
def _rsa(kid: str, pem: str) -> RSAKey:
    # Parsing a PEM is slow enough to matter on every launch; stored keys never change.
    return RSAKey.import_key(pem, {"kid": kid, "alg": ALGORITHM, "use": "sig"})


def jwks(session: Session) -> dict[str, Any]:
    """Return the public key set published at ``/demo-lms/jwks``."""
    current_key(session)
    rows = session.scalars(select(DemoKey).order_by(DemoKey.id.desc()))
    return dict(KeySet([_rsa(r.kid, r.private_pem) for r in rows]).as_dict(private=False))


def sign(session: Session, claims: dict[str, Any], lifetime: int = 300) -> str:
    """Sign claims as an RS256 JWT naming its key, adding iat, exp and a jti."""
    row = current_key(session)
    now = int(time.time())
    body = {"iat": now, "exp": now + lifetime, "jti": str(uuid.uuid4()), **claims}
    header = {"alg": ALGORITHM, "kid": row.kid, "typ": "JWT"}
    return jwt.encode(header, body, _rsa(row.kid, row.private_pem), algorithms=[ALGORITHM])
