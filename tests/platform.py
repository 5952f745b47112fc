"""A fake LTI platform for tests: it signs whatever id_token a test asks for."""

from __future__ import annotations

import time
import uuid
from functools import cache
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from lti_tool.lti import claims as c
from lti_tool.services import platforms
from tests.conftest import TOOL_URL, Router

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


@cache
def rsa_key(name: str) -> RSAKey:
    """Return a test RSA key, generated once per name per test run."""
    return RSAKey.generate_key(2048, private=True, parameters={"kid": name, "alg": "RS256"})


class FakePlatform:
    """An LMS registered with the tool whose key set is served through the test router."""

    def __init__(self, issuer: str = "https://lms.example.edu", client_id: str = "client-1",
                 deployments: tuple[str, ...] = ("dep-1",), kid: str = "platform-key-1") -> None:
        self.issuer, self.client_id, self.deployments = issuer, client_id, deployments
        self.key = rsa_key(kid)
        self.published: list[RSAKey] = [self.key]
        self.jwks_url = issuer + "/jwks"
        self.jwks_fetches = 0

    def install(self, session: Session, router: Router) -> FakePlatform:
        """Register with the tool and serve the key set."""
        platforms.register(session, platforms.PlatformInput(
            issuer=self.issuer, client_id=self.client_id, auth_login_url=self.issuer + "/auth",
            token_url=self.issuer + "/token", jwks_url=self.jwks_url, deployment_ids=list(self.deployments),
        ))
        router.routes[self.jwks_url] = self._serve_jwks
        return self

    def _serve_jwks(self, request: httpx.Request) -> httpx.Response:
        self.jwks_fetches += 1
        return httpx.Response(200, json={"keys": [k.as_dict(private=False) for k in self.published]})

    def claims(self, nonce: str, /, role: str = LEARNER, **overrides: Any) -> dict[str, Any]:
        """Return valid resource-link launch claims, with overrides (None deletes a claim)."""
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.issuer, "aud": self.client_id, "azp": self.client_id, "sub": "user-1",
            "exp": now + 300, "iat": now, "nonce": nonce, "name": "Officer Pat Doe",
            "email": "pat.doe@agency.example",
            c.MESSAGE_TYPE: c.RESOURCE_LINK_REQUEST, c.VERSION: c.LTI_VERSION,
            c.DEPLOYMENT_ID: self.deployments[0], c.TARGET_LINK_URI: TOOL_URL + "/lti/launch",
            c.RESOURCE_LINK: {"id": "link-1", "title": "Peer intervention"},
            c.ROLES: [role], c.CONTEXT: {"id": "course-1", "title": "Annual refresher", "label": "PBI"},
        }
        for key, value in overrides.items():
            if value is None:
                body.pop(key, None)
            else:
                body[key] = value
        return body

    def sign(self, body: dict[str, Any], key: RSAKey | None = None, header: dict[str, Any] | None = None) -> str:
        """Sign claims RS256 with the platform key (or another), with optional header overrides."""
        key = key or self.key
        return jwt.encode({"alg": "RS256", "kid": key.kid, **(header or {})}, body, key)


def login(client: FlaskClient, platform: FakePlatform, **params: str) -> tuple[str, str]:
    """Run the OIDC login; return (state, nonce) from the redirect to the platform."""
    query = {"iss": platform.issuer, "login_hint": "user-1", "target_link_uri": TOOL_URL + "/lti/launch",
             "client_id": platform.client_id, "lti_deployment_id": platform.deployments[0], **params}
    response = client.get("/lti/login", query_string=query, base_url=TOOL_URL)
    assert response.status_code == 302, response.text
    sent = parse_qs(urlsplit(response.headers["Location"]).query)
    return sent["state"][0], sent["nonce"][0]


def launch(client: FlaskClient, platform: FakePlatform, role: str = LEARNER, **overrides: Any) -> TestResponse:
    """Log in and post a correctly signed id_token with the given claim overrides."""
    state, nonce = login(client, platform)
    token = platform.sign(platform.claims(nonce, role=role, **overrides))
    return client.post("/lti/launch", data={"state": state, "id_token": token}, base_url=TOOL_URL)


def unique() -> str:
    """Return a fresh identifier."""
    return uuid.uuid4().hex
