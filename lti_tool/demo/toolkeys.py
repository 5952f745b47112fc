"""Verify JWTs the tool signs (deep linking responses, client assertions) with its published keys."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from lti_tool.lti.claims import ALGORITHM
from lti_tool.models.demo import DemoTool

LEEWAY = 60


class ToolJwtInvalid(Exception):
    """The JWT is unreadable, badly signed or out of date; the message says which."""


def unverified_claims(token: str) -> dict[str, Any]:
    """Return the claims without checking anything, only to learn who claims to have signed."""
    try:
        payload = json.loads(jws.extract_compact(token.encode()).payload)
    except (JoseError, ValueError, UnicodeError) as exc:
        raise ToolJwtInvalid(f"the JWT cannot be read: {exc}") from exc
    if not isinstance(payload, dict):
        raise ToolJwtInvalid("the JWT payload is not a JSON object")
    return payload


def fetch_keys(http: httpx.Client, url: str) -> KeySet:
    """GET the tool's JWKS; it is fetched each time because the demo sees few such tokens."""
    try:
        response = http.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        usable = [k for k in response.json().get("keys", []) if isinstance(k, dict) and k.get("kty") == "RSA"]
        return KeySet.import_key_set({"keys": usable})
    except (httpx.HTTPError, ValueError, TypeError, AttributeError) as exc:
        raise ToolJwtInvalid(f"the tool's key set at {url} could not be fetched: {exc}") from exc


def _key(http: httpx.Client, tool: DemoTool, kid: str) -> RSAKey:
    for key in fetch_keys(http, str(tool.config["jwks_uri"])):
        if key.kid == kid and isinstance(key, RSAKey):
            return key
    raise ToolJwtInvalid(f"the tool's key set has no key {kid!r}")


def verify(http: httpx.Client, tool: DemoTool, token: str) -> dict[str, Any]:
    """Verify an RS256 JWT with the tool's key named by ``kid`` and check exp and iat; return claims."""
    try:
        header = dict(jws.extract_compact(token.encode()).protected)
    except (JoseError, ValueError, UnicodeError) as exc:
        raise ToolJwtInvalid(f"the JWT cannot be read: {exc}") from exc
    if header.get("alg") != ALGORITHM:
        raise ToolJwtInvalid(f"the JWT must be signed with RS256, not {header.get('alg')!r}")
    if not isinstance(header.get("kid"), str):
        raise ToolJwtInvalid("the JWT header has no kid")
    try:
        claims = dict(jwt.decode(token, _key(http, tool, header["kid"]), algorithms=[ALGORITHM]).claims)
    except (JoseError, ValueError) as exc:
        raise ToolJwtInvalid(f"the JWT signature is not valid: {exc}") from exc
    now = time.time()
    if not isinstance(claims.get("exp"), int | float) or claims["exp"] < now - LEEWAY:
        raise ToolJwtInvalid("the JWT has expired or has no exp")
    if isinstance(claims.get("iat"), int | float) and claims["iat"] > now + LEEWAY:
        raise ToolJwtInvalid("the JWT was issued in the future")
    return claims
