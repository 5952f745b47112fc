"""The token endpoint (Security Framework §4.1: client_credentials, JWT assertion) and bearer checks."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session

from lti_tool.db import utcnow
from lti_tool.models.demo import DemoAccessToken, DemoTool

from .errors import ApiError, OAuthError
from .registration import registered_scopes, tool_by_client_id
from .site import Site
from .toolkeys import ToolJwtInvalid, unverified_claims, verify

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME = 3600


def _hash(token: str) -> str:
    # Only a hash is stored, so a database leak does not hand out working tokens.
    return hashlib.sha256(token.encode()).hexdigest()


def _client(site: Site, http: httpx.Client, session: Session, assertion: str) -> DemoTool:
    try:
        sub = str(unverified_claims(assertion).get("sub", ""))
    except ToolJwtInvalid as exc:
        raise OAuthError("invalid_client", str(exc), 401) from exc
    tool = tool_by_client_id(session, sub)
    if tool is None:
        raise OAuthError("invalid_client", "sub is not the client id of a registered tool", 401)
    try:
        claims = verify(http, tool, assertion)
    except ToolJwtInvalid as exc:
        raise OAuthError("invalid_client", str(exc), 401) from exc
    if claims.get("iss") != tool.client_id:
        raise OAuthError("invalid_client", "iss and sub must both be the client id", 401)
    aud = claims.get("aud")
    if not {site.token_endpoint, site.issuer} & set(aud if isinstance(aud, list) else [aud]):
        raise OAuthError("invalid_client", "aud must name this token endpoint", 401)
    if not claims.get("jti"):
        raise OAuthError("invalid_client", "the assertion has no jti", 401)
    return tool


def _scopes(tool: DemoTool, requested: str) -> list[str]:
    allowed = registered_scopes(tool)
    wanted = requested.split() or sorted(allowed)
    refused = [s for s in wanted if s not in allowed]
    if refused:
        raise OAuthError("invalid_scope", f"not registered for: {' '.join(refused)}")
    return list(dict.fromkeys(wanted))


def issue_token(session: Session, site: Site, http: httpx.Client, form: Mapping[str, str]) -> dict[str, Any]:
    """Check a client_credentials request and return a new access token (RFC 6749 §5.1)."""
    if form.get("grant_type") != "client_credentials":
        raise OAuthError("unsupported_grant_type", "grant_type must be client_credentials")
    if form.get("client_assertion_type") != ASSERTION_TYPE:
        raise OAuthError("invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}")
    if not form.get("client_assertion"):
        raise OAuthError("invalid_request", "client_assertion is missing")
    tool = _client(site, http, session, form["client_assertion"])
    scopes = _scopes(tool, form.get("scope", ""))
    token = secrets.token_urlsafe(32)
    session.add(DemoAccessToken(
        token_hash=_hash(token), tool_id=tool.id, scopes=scopes,
        expires_at=utcnow() + timedelta(seconds=TOKEN_LIFETIME),
    ))
    session.flush()
    return {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME,
            "scope": " ".join(scopes)}


def authorize_bearer(session: Session, authorization: str | None, *scopes: str) -> DemoAccessToken:
    """Return the access token in the Authorization header if it grants one of ``scopes``."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError("an access token is required (Authorization: Bearer ...)", "Authorization", 401)
    row = session.get(DemoAccessToken, _hash(token.strip()))
    if row is None or row.expires_at <= utcnow():
        raise ApiError("the access token is unknown or has expired", "Authorization", 401)
    if not set(scopes) & set(row.scopes):
        raise ApiError(f"the access token lacks the scope {scopes[0]}", "scope", 403)
    return row
