"""LTI Dynamic Registration, platform side (https://www.imsglobal.org/spec/lti-dr/v1p0)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from itsdangerous import BadSignature, SignatureExpired
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lti_tool.lti import claims as c
from lti_tool.models.demo import DemoLink, DemoTool

from .errors import ApiError
from .site import Site, site_from

PRODUCT_FAMILY_CODE = "upstander-demo-lms"
PLATFORM_VERSION = "1.0"
REGISTRATION_TOKEN_TTL = 3600
_SUPPORTED_SCOPES = ("openid", *c.TOOL_SCOPES)


def openid_configuration(site: Site) -> dict[str, Any]:
    """Return the platform's OpenID configuration (LTI Dynamic Registration §3.5)."""
    return {
        "issuer": site.issuer,
        "authorization_endpoint": site.url("/auth"),
        "token_endpoint": site.token_endpoint,
        "jwks_uri": site.url("/jwks"),
        "registration_endpoint": site.url("/register"),
        "scopes_supported": list(_SUPPORTED_SCOPES),
        "response_types_supported": ["id_token"],
        "id_token_signing_alg_values_supported": [c.ALGORITHM],
        "subject_types_supported": ["public", "pairwise"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": [c.ALGORITHM],
        "claims_supported": ["sub", "iss", "name", "given_name", "family_name", "email"],
        c.PLATFORM_CONFIGURATION: {
            "product_family_code": PRODUCT_FAMILY_CODE,
            "version": PLATFORM_VERSION,
            "messages_supported": [{"type": t} for t in c.SUPPORTED_MESSAGES],
            "variables": [],
        },
    }


def new_registration_token(site: Site) -> str:
    """Return a signed registration token; its random id makes each one usable once."""
    return site.serializer("registration").dumps({"jti": secrets.token_hex(16)})


def registration_start_url(app_config: Mapping[str, Any]) -> str:
    """Return the tool's registration URL carrying our configuration URL and a fresh token."""
    site = site_from(app_config)
    query = urlencode({
        "openid_configuration": site.url("/.well-known/openid-configuration"),
        "registration_token": new_registration_token(site),
    })
    return f"{site.tool_url}/lti/register?{query}"


def check_registration_token(session: Session, site: Site, authorization: str | None) -> str:
    """Return the id of a valid, unused registration bearer token, or refuse with 401."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError("a registration token is required as a Bearer token", "Authorization", 401)
    try:
        payload = site.serializer("registration").loads(token.strip(), max_age=REGISTRATION_TOKEN_TTL)
    except SignatureExpired as exc:
        raise ApiError("the registration token has expired", "Authorization", 401) from exc
    except BadSignature as exc:
        raise ApiError("the registration token is not valid", "Authorization", 401) from exc
    jti = str(payload.get("jti", "")) if isinstance(payload, dict) else ""
    used = session.scalar(select(DemoTool.id).where(DemoTool.registration_token == jti))
    if not jti or used is not None:
        raise ApiError("the registration token was already used", "Authorization", 401)
    return jti


def register(session: Session, metadata: dict[str, Any], token_id: str) -> dict[str, Any]:
    """Store validated client metadata as the course's tool and return the registration response."""
    tool = DemoTool(
        client_id="demo-" + secrets.token_hex(8),
        deployment_id="deployment-" + secrets.token_hex(4),
        config=metadata,
        registration_token=token_id,
    )
    session.add(tool)
    session.flush()
    # The newest registration is "the" tool: the course keeps its placements, now served by it.
    session.execute(update(DemoLink).where(DemoLink.tool_id != tool.id).values(tool_id=tool.id))
    tool_config = {**metadata[c.TOOL_CONFIGURATION], "deployment_id": tool.deployment_id}
    return {**metadata, "client_id": tool.client_id, c.TOOL_CONFIGURATION: tool_config}


def current_tool(session: Session) -> DemoTool | None:
    """Return the most recently registered tool, if any."""
    return session.scalars(select(DemoTool).order_by(DemoTool.id.desc()).limit(1)).first()


def tool_by_client_id(session: Session, client_id: str) -> DemoTool | None:
    """Return the registered tool with this client id."""
    return session.scalars(select(DemoTool).where(DemoTool.client_id == client_id)).first()


def registered_scopes(tool: DemoTool) -> set[str]:
    """Return the service scopes the tool registered for that this platform offers."""
    return set(str(tool.config.get("scope", "")).split()) & set(c.TOOL_SCOPES)
