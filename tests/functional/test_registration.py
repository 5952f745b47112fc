"""Dynamic Registration, manual registration by CLI, the Canvas config and the key set."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool import cli
from lti_tool.lti import claims as c
from lti_tool.models import Platform
from tests.conftest import TOOL_URL, Router

DB = Callable[[], AbstractContextManager[Session]]
ISSUER = "https://canvas.agency.example"
CONFIG_URL = ISSUER + "/api/lti/security/openid-configuration"


class DynamicPlatform:
    """A platform's side of Dynamic Registration, recording what the tool sends."""

    def __init__(self, router: Router, issuer: str = ISSUER, answer_status: int = 200) -> None:
        self.issuer, self.answer_status = issuer, answer_status
        self.received: list[httpx.Request] = []
        router.routes[CONFIG_URL] = self.config
        router.routes[ISSUER + "/register"] = self.register

    def config(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        return httpx.Response(200, json={
            "issuer": self.issuer, "authorization_endpoint": ISSUER + "/auth",
            "token_endpoint": ISSUER + "/token", "jwks_uri": ISSUER + "/jwks",
            "registration_endpoint": ISSUER + "/register",
            c.PLATFORM_CONFIGURATION: {"product_family_code": "canvas"},
        })

    def register(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        body = json.loads(request.content)
        body.update({"client_id": "10000000000042"})
        body[c.TOOL_CONFIGURATION]["deployment_id"] = "dep-42"
        return httpx.Response(self.answer_status, json=body)


def _start(client: FlaskClient, token: str | None = "reg-token") -> Any:
    query = {"openid_configuration": CONFIG_URL}
    if token:
        query["registration_token"] = token
    return client.get("/lti/register", query_string=query, base_url=TOOL_URL)


def test_dynamic_registration_registers_every_url_and_scope(client: FlaskClient, router: Router, db: DB) -> None:
    platform = DynamicPlatform(router)
    response = _start(client)
    assert response.status_code == 200, response.text
    assert "lti-close.js" in response.text
    config_request, register_request = platform.received
    assert config_request.headers["Authorization"] == "Bearer reg-token"
    assert register_request.headers["Authorization"] == "Bearer reg-token"
    sent = json.loads(register_request.content)
    assert sent["initiate_login_uri"] == TOOL_URL + "/lti/login"
    assert sent["redirect_uris"] == [TOOL_URL + "/lti/launch"]
    assert sent["jwks_uri"] == TOOL_URL + "/lti/jwks"
    assert set(sent["scope"].split()) == set(c.TOOL_SCOPES)
    messages = {m["type"] for m in sent[c.TOOL_CONFIGURATION]["messages"]}
    assert messages == {c.RESOURCE_LINK_REQUEST, c.DEEP_LINKING_REQUEST}
    with db() as session:
        stored = session.scalars(select(Platform)).one()
        assert (stored.issuer, stored.client_id, stored.registered_via) == (ISSUER, "10000000000042", "dynamic")
        assert [d.deployment_id for d in stored.deployments] == ["dep-42"]
        assert stored.auth_login_url == ISSUER + "/auth"


def test_registering_twice_adds_deployments_without_duplicating(client: FlaskClient, router: Router,
                                                                db: DB) -> None:
    DynamicPlatform(router)
    assert _start(client).status_code == 200
    assert _start(client).status_code == 200
    with db() as session:
        assert len(session.scalars(select(Platform)).all()) == 1


def test_issuer_on_another_host_is_refused(client: FlaskClient, router: Router, db: DB) -> None:
    DynamicPlatform(router, issuer="https://elsewhere.example")
    response = _start(client)
    assert response.status_code == 400
    assert "<code>registration_failed</code>" in response.text
    with db() as session:
        assert session.scalars(select(Platform)).all() == []


def test_platform_refusal_is_reported(client: FlaskClient, router: Router, db: DB) -> None:
    DynamicPlatform(router, answer_status=401)
    response = _start(client)
    assert response.status_code == 400
    assert "registration_failed" in response.text


def test_registration_without_configuration_url_is_refused(client: FlaskClient) -> None:
    response = client.get("/lti/register", base_url=TOOL_URL)
    assert response.status_code == 400
    assert "openid_configuration" in response.text


def test_canvas_config_uses_public_url(client: FlaskClient) -> None:
    data = client.get("/lti/config.json", base_url=TOOL_URL).json
    assert data is not None
    assert data["oidc_initiation_url"] == TOOL_URL + "/lti/login"
    assert data["public_jwk_url"] == TOOL_URL + "/lti/jwks"
    assert data["target_link_uri"] == TOOL_URL + "/lti/launch"


def _invoke(app: Flask, args: list[str], input: str | None) -> Any:
    # The group builds its own app from the environment; give it the test app instead.
    original = cli.create_app
    cli.create_app = lambda: app  # type: ignore[assignment]
    try:
        return CliRunner().invoke(cli.main, args, input=input)
    finally:
        cli.create_app = original  # type: ignore[assignment]


def test_cli_platforms_add_list_remove(app: Flask, db: DB) -> None:
    args = ["platforms", "add", "--issuer", ISSUER, "--client-id", "abc", "--auth-login-url", ISSUER + "/auth",
            "--token-url", ISSUER + "/token", "--jwks-url", ISSUER + "/jwks",
            "--deployment-id", "d1", "--deployment-id", "d2"]
    added = _invoke(app, args, None)
    assert added.exit_code == 0, added.output
    listed = _invoke(app, ["platforms", "list", "--json"], None)
    rows = json.loads(listed.output)
    assert rows[0]["issuer"] == ISSUER and rows[0]["deployment_ids"] == ["d1", "d2"]
    removed = _invoke(app, ["platforms", "remove", "--issuer", ISSUER, "--client-id", "abc", "--yes"], None)
    assert removed.exit_code == 0
    with db() as session:
        assert session.scalars(select(Platform)).all() == []


def test_cli_platforms_add_rejects_a_bad_url(app: Flask) -> None:
    bad = _invoke(app, ["platforms", "add", "--issuer", ISSUER, "--client-id", "abc", "--auth-login-url",
                        "not a url", "--token-url", ISSUER + "/t", "--jwks-url", ISSUER + "/j"], None)
    assert bad.exit_code != 0
    assert "auth_login_url" in bad.output


def test_jwks_publishes_rotating_keys_and_signatures_verify(app: Flask, client: FlaskClient, db: DB) -> None:
    first = client.get("/lti/jwks", base_url=TOOL_URL).json
    assert first is not None and len(first["keys"]) == 2
    assert all("d" not in k for k in first["keys"])  # never a private part
    rotated = _invoke(app, ["keys", "rotate"], None)
    assert rotated.exit_code == 0, rotated.output
    second = client.get("/lti/jwks", base_url=TOOL_URL).json
    assert second is not None and len(second["keys"]) == 3
    from lti_tool.lti import keys

    with db() as session:
        token = keys.sign(session, {"iss": "tool"})
        signer = keys.signing_key(session).kid
    # After one rotation the former "next" key signs, and it is published.
    assert signer == first["keys"][0]["kid"]
    decoded = jwt.decode(token, KeySet.import_key_set(second), algorithms=["RS256"])
    assert decoded.claims["iss"] == "tool"


@pytest.mark.parametrize("command", [["--help"], ["platforms", "--help"], ["keys", "--help"], ["db", "--help"]])
def test_help_lists_commands(app: Flask, command: list[str]) -> None:
    result = _invoke(app, command, None)
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_registration_page_may_be_framed_by_the_registering_platform(client: FlaskClient, router: Router) -> None:
    DynamicPlatform(router, issuer="https://elsewhere.example")  # fails: the error page must still show
    response = _start(client)
    assert response.status_code == 400
    assert f"frame-ancestors 'self' {ISSUER}" in response.headers["Content-Security-Policy"]
