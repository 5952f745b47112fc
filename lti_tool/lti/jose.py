"""RSA keys and RS256 JWTs, shared by the tool and the demo platform (which keep their own keys)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from joserfc import jwt
from joserfc.jwk import Key, KeySet, RSAKey

from lti_tool.lti.claims import ALGORITHM


def new_rsa_key() -> tuple[str, str]:
    """Generate a 2048-bit RSA key; return (kid, private PEM)."""
    key = RSAKey.generate_key(2048, private=True)
    return key.thumbprint(), key.as_pem(private=True).decode()


@lru_cache(maxsize=32)
def rsa_key(kid: str, pem: str) -> RSAKey:
    """Return the parsed key; parsing a PEM costs about a millisecond and stored keys never change."""
    return RSAKey.import_key(pem, {"kid": kid, "alg": ALGORITHM, "use": "sig"})


def public_key_set(keys: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Return the public JWKS document for (kid, private PEM) pairs."""
    parsed: list[Key] = [rsa_key(kid, pem) for kid, pem in keys]
    return dict(KeySet(parsed).as_dict(private=False))


def sign(kid: str, pem: str, claims: dict[str, Any], lifetime: int = 300) -> str:
    """Sign claims as an RS256 JWT naming its key, adding iat, exp and a unique jti."""
    now = int(time.time())
    body = {"iat": now, "exp": now + lifetime, "jti": str(uuid.uuid4()), **claims}
    header = {"alg": ALGORITHM, "kid": kid, "typ": "JWT"}
    return jwt.encode(header, body, rsa_key(kid, pem), algorithms=[ALGORITHM])
