"""LTI Dynamic Registration, tool side (https://www.imsglobal.org/spec/lti-dr/v1p0)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.orm import Session

from lti_tool.lti import claims as c
from lti_tool.lti import errors
from lti_tool.models import Platform
from lti_tool.services import platforms

TOOL_NAME = "Upstander — peer intervention training"


@dataclass(frozen=True)
class ToolUrls:
    """Every URL the tool registers, built from the public base URL."""

    public_url: str

    @property
    def login(self) -> str:
        return self.public_url + "/lti/login"

    @property
    def launch(self) -> str:
        return self.public_url + "/lti/launch"

    @property
    def jwks(self) -> str:
        return self.public_url + "/lti/jwks"

    @property
    def domain(self) -> str:
        return urlsplit(self.public_url).netloc


def client_metadata(urls: ToolUrls) -> dict[str, Any]:
    """Return the OpenID client metadata with the LTI tool configuration claim."""
    return {
        "application_type": "web",
        "response_types": ["id_token"],
        "grant_types": ["implicit", "client_credentials"],
        "initiate_login_uri": urls.login,
        "redirect_uris": [urls.launch],
        "client_name": TOOL_NAME,
        "jwks_uri": urls.jwks,
        "logo_uri": urls.public_url + "/static/logo.svg",
        "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(c.TOOL_SCOPES),
        c.TOOL_CONFIGURATION: {
            "domain": urls.domain,
            "target_link_uri": urls.launch,
            "description": "Peer bystander intervention training for police officers.",
            "claims": ["iss", "sub", "name", "given_name", "family_name", "email"],
            "messages": [
                {"type": c.RESOURCE_LINK_REQUEST, "target_link_uri": urls.launch},
                {"type": c.DEEP_LINKING_REQUEST, "target_link_uri": urls.launch,
                 "label": "Add Upstander modules", "placements": ["ContentArea"]},
            ],
        },
    }


def register_dynamically(
    session: Session, http: httpx.Client, openid_configuration: str, registration_token: str | None,
    urls: ToolUrls,
) -> Platform:
    """Fetch the platform's configuration, register the tool with it, and store the registration."""
    auth = {"Authorization": f"Bearer {registration_token}"} if registration_token else {}
    config = _get_json(http, openid_configuration, auth)
    issuer = _require_str(config, "issuer")
    # The configuration must be served from the issuer's own host (LTI-DR §3.5.1).
    if urlsplit(issuer).netloc != urlsplit(openid_configuration).netloc:
        raise errors.RegistrationFailed("the issuer's host differs from the configuration URL's")
    endpoint = _require_str(config, "registration_endpoint")
    answer = _post_json(http, endpoint, client_metadata(urls), auth)
    tool_config = answer.get(c.TOOL_CONFIGURATION) or {}
    deployment_id = tool_config.get("deployment_id") if isinstance(tool_config, dict) else None
    platform_config = config.get(c.PLATFORM_CONFIGURATION) or {}
    data = platforms.PlatformInput(
        issuer=issuer, client_id=_require_str(answer, "client_id"),
        auth_login_url=_require_str(config, "authorization_endpoint"),
        token_url=_require_str(config, "token_endpoint"), jwks_url=_require_str(config, "jwks_uri"),
        deployment_ids=[str(deployment_id)] if deployment_id else [],
        name=str(platform_config.get("product_family_code") or issuer), registered_via="dynamic",
    )
    return platforms.register(session, data)


def _get_json(http: httpx.Client, url: str, headers: dict[str, str]) -> dict[str, Any]:
    try:
        response = http.get(url, headers={"Accept": "application/json", **headers})
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise errors.RegistrationFailed(f"could not read {url}: {exc}") from exc
    if not isinstance(data, dict):
        raise errors.RegistrationFailed(f"{url} did not answer a JSON object")
    return data


def _post_json(http: httpx.Client, url: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    try:
        response = http.post(url, json=body, headers={"Accept": "application/json", **headers})
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise errors.RegistrationFailed(f"the platform refused the registration: {exc}") from exc
    if not isinstance(data, dict):
        raise errors.RegistrationFailed("the platform's registration answer is not a JSON object")
    return data


def _require_str(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise errors.RegistrationFailed(f"the platform's answer lacks {key!r}")
    return value


def canvas_config(urls: ToolUrls) -> dict[str, Any]:
    """Return a Canvas-style JSON tool configuration for manual installs."""
    return {
        "title": TOOL_NAME,
        "description": "Peer bystander intervention training for police officers.",
        "oidc_initiation_url": urls.login,
        "target_link_uri": urls.launch,
        "public_jwk_url": urls.jwks,
        "scopes": list(c.TOOL_SCOPES),
        "extensions": [{
            "platform": "canvas.instructure.com",
            "privacy_level": "public",
            "domain": urls.domain,
            "settings": {"placements": [
                {"placement": "link_selection", "message_type": c.DEEP_LINKING_REQUEST,
                 "target_link_uri": urls.launch},
                {"placement": "assignment_selection", "message_type": c.DEEP_LINKING_REQUEST,
                 "target_link_uri": urls.launch},
            ]},
        }],
        "custom_fields": {},
    }
