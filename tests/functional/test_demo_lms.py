"""The demo LMS as a platform: discovery, registration, launches, deep linking, token, NRPS and AGS."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from lti_tool.demo.registration import registration_start_url
from lti_tool.lti import claims as c
from lti_tool.models.demo import DemoAccessToken, DemoLineItem, DemoLink, DemoScore, DemoTool
from tests.conftest import LMS_URL, TOOL_URL, Router

DB = Callable[[], AbstractContextManager[Session]]
ISSUER = LMS_URL + "/demo-lms"
API = "/demo-lms/api/contexts/demo-course"
FAKE_TOOL = "http://faketool.test"
LEARNER = "u-1001"
COORDINATOR = "u-2001"


class FakeTool:
    """A tool registered with the demo LMS whose key set the test router serves."""

    def __init__(self, client: FlaskClient, router: Router, app: Flask) -> None:
        self.client = client
        self.key = RSAKey.generate_key(2048, private=True, parameters={"kid": "tool-key-1", "alg": "RS256"})
        router.routes[FAKE_TOOL + "/jwks"] = self._jwks
        with app.app_context():
            self.token = registration_token(registration_start_url(app.config))
        response = client.post("/demo-lms/register", json=metadata(), headers=bearer(self.token))
        assert response.status_code == 200, response.get_data(as_text=True)
        self.registration: dict[str, Any] = response.get_json()
        self.client_id: str = self.registration["client_id"]
        self.deployment_id: str = self.registration[c.TOOL_CONFIGURATION]["deployment_id"]

    def _jwks(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"keys": [self.key.as_dict(private=False)]})

    def sign(self, claims: dict[str, Any], key: RSAKey | None = None) -> str:
        now = int(time.time())
        body = {"iat": now, "exp": now + 300, "jti": uuid.uuid4().hex, **claims}
        return jwt.encode({"alg": "RS256", "kid": "tool-key-1"}, body, key or self.key)

    def access_token(self, *scopes: str) -> str:
        assertion = self.sign({"iss": self.client_id, "sub": self.client_id, "aud": ISSUER + "/token"})
        response = self.client.post("/demo-lms/token", data={
            "grant_type": "client_credentials", "client_assertion": assertion, "scope": " ".join(scopes),
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        })
        assert response.status_code == 200, response.get_data(as_text=True)
        token: str = response.get_json()["access_token"]
        return token


def metadata(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "application_type": "web", "client_name": "Fake tool",
        "grant_types": ["client_credentials", "implicit"], "response_types": ["id_token"],
        "redirect_uris": [FAKE_TOOL + "/launch"], "initiate_login_uri": FAKE_TOOL + "/login",
        "jwks_uri": FAKE_TOOL + "/jwks", "token_endpoint_auth_method": "private_key_jwt",
        "scope": " ".join(c.TOOL_SCOPES),
        c.TOOL_CONFIGURATION: {
            "domain": "faketool.test", "target_link_uri": FAKE_TOOL + "/launch",
            "messages": [{"type": c.RESOURCE_LINK_REQUEST}, {"type": c.DEEP_LINKING_REQUEST}],
        },
    }
    body.update(overrides)
    return body


def registration_token(start_url: str) -> str:
    return parse_qs(urlsplit(start_url).query)["registration_token"][0]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tool(client: FlaskClient, router: Router, app: Flask) -> FakeTool:
    return FakeTool(client, router, app)


def iframe_src(page: TestResponse) -> str:
    found = re.search(r'<iframe[^>]*title="Upstander"[^>]*src="([^"]+)"', page.get_data(as_text=True))
    assert found, "no Upstander iframe"
    return unescape(found.group(1))


def login_params(client: FlaskClient, path: str) -> dict[str, str]:
    """Open a launch page and return the query of the tool login URL it frames."""
    page = client.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    src = iframe_src(page)
    assert src.startswith(FAKE_TOOL + "/login?")
    return {k: v[0] for k, v in parse_qs(urlsplit(src).query).items()}


def auth_params(login: dict[str, str], **overrides: str) -> dict[str, str]:
    """Return the authentication request a tool would send after this login."""
    params = {
        "scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
        "client_id": login["client_id"], "redirect_uri": FAKE_TOOL + "/launch", "nonce": "n-1",
        "state": "s-1", "login_hint": login["login_hint"], "lti_message_hint": login["lti_message_hint"],
    }
    params.update(overrides)
    return params


def posted_form(response: TestResponse) -> tuple[str, dict[str, str]]:
    html = response.get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+)"', html)
    assert action
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    return unescape(action.group(1)), {k: unescape(v) for k, v in fields.items()}


def demo_claims(client: FlaskClient, token: str) -> dict[str, Any]:
    keys = KeySet.import_key_set(client.get("/demo-lms/jwks").get_json())
    return dict(jwt.decode(token, keys, algorithms=["RS256"]).claims)


def first_link_id(db: DB) -> int:
    with db() as session:
        link_id: int | None = session.scalar(select(func.min(DemoLink.id)))
    assert link_id is not None
    return link_id


# --- Discovery and registration --------------------------------------------------------------------


def test_openid_configuration_describes_the_platform(client: FlaskClient) -> None:
    config = client.get("/demo-lms/.well-known/openid-configuration").get_json()
    assert config["issuer"] == ISSUER
    assert config["authorization_endpoint"] == ISSUER + "/auth"
    assert config["token_endpoint"] == ISSUER + "/token"
    assert config["jwks_uri"] == ISSUER + "/jwks"
    assert config["registration_endpoint"] == ISSUER + "/register"
    assert {"openid", *c.TOOL_SCOPES} <= set(config["scopes_supported"])
    assert config["id_token_signing_alg_values_supported"] == ["RS256"]
    assert config["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    platform = config[c.PLATFORM_CONFIGURATION]
    assert platform["product_family_code"] == "upstander-demo-lms"
    assert {m["type"] for m in platform["messages_supported"]} == set(c.SUPPORTED_MESSAGES)


def test_registration_start_url_points_at_the_tool(app: Flask) -> None:
    with app.app_context():
        url = registration_start_url(app.config)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == TOOL_URL + "/lti/register"
    assert query["openid_configuration"] == [ISSUER + "/.well-known/openid-configuration"]
    assert query["registration_token"][0]


def test_registration_creates_the_tool(tool: FakeTool, db: DB) -> None:
    assert tool.registration["client_id"].startswith("demo-")
    assert tool.registration["initiate_login_uri"] == FAKE_TOOL + "/login"
    with db() as session:
        row = session.scalars(select(DemoTool)).one()
        assert (row.client_id, row.deployment_id) == (tool.client_id, tool.deployment_id)
        assert row.config["jwks_uri"] == FAKE_TOOL + "/jwks"


def test_registration_token_is_single_use(tool: FakeTool, client: FlaskClient) -> None:
    again = client.post("/demo-lms/register", json=metadata(), headers=bearer(tool.token))
    assert again.status_code == 401


@pytest.mark.parametrize("headers", [{}, bearer("forged"), {"Authorization": "Basic abc"}])
def test_registration_needs_a_valid_token(client: FlaskClient, headers: dict[str, str], db: DB) -> None:
    response = client.post("/demo-lms/register", json=metadata(), headers=headers)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    with db() as session:
        assert session.scalar(select(func.count(DemoTool.id))) == 0


@pytest.mark.parametrize(("overrides", "field"), [
    ({"initiate_login_uri": "not a url"}, "initiate_login_uri"),
    ({"grant_types": ["implicit"]}, "grant_types"),
    ({"token_endpoint_auth_method": "client_secret_basic"}, "token_endpoint_auth_method"),
    ({c.TOOL_CONFIGURATION: {"domain": "x.test", "messages": []}}, c.TOOL_CONFIGURATION + ".target_link_uri"),
])
def test_registration_refuses_bad_metadata(
    client: FlaskClient, app: Flask, overrides: dict[str, Any], field: str
) -> None:
    with app.app_context():
        token = registration_token(registration_start_url(app.config))
    response = client.post("/demo-lms/register", json=metadata(**overrides), headers=bearer(token))
    assert response.status_code == 400
    assert response.get_json()["field"] == field


def test_course_page_offers_registration_then_placements(client: FlaskClient, app: Flask, router: Router) -> None:
    page = client.get("/demo-lms/")
    assert 'title="Upstander registration"' in page.get_data(as_text=True)
    assert "demo-register.js" in page.get_data(as_text=True)
    FakeTool(client, router, app)
    html = client.get("/demo-lms/").get_data(as_text=True)
    assert "Upstander — course home" in html
    assert "Add modules (deep linking)" in html
    assert "Launch with a tampered token" in html
    assert "Upstander registration" not in html


# --- Launch and authorization --------------------------------------------------------------------------


def test_launch_page_frames_the_tool_login(tool: FakeTool, client: FlaskClient, db: DB) -> None:
    client.get("/demo-lms/")
    login = login_params(client, f"/demo-lms/launch/{first_link_id(db)}?user={LEARNER}")
    assert login["iss"] == ISSUER
    assert login["login_hint"] == LEARNER
    assert login["client_id"] == tool.client_id
    assert login["lti_deployment_id"] == tool.deployment_id
    assert login["target_link_uri"] == FAKE_TOOL + "/launch"


def test_valid_auth_posts_a_signed_id_token(tool: FakeTool, client: FlaskClient, db: DB) -> None:
    client.get("/demo-lms/")
    login = login_params(client, f"/demo-lms/launch/{first_link_id(db)}?user={LEARNER}")
    response = client.post("/demo-lms/auth", data=auth_params(login))
    assert response.status_code == 200
    action, fields = posted_form(response)
    assert action == FAKE_TOOL + "/launch"
    assert fields["state"] == "s-1"
    claims = demo_claims(client, fields["id_token"])
    assert (claims["iss"], claims["aud"], claims["azp"]) == (ISSUER, tool.client_id, tool.client_id)
    assert (claims["sub"], claims["nonce"], claims["given_name"]) == (LEARNER, "n-1", "Maria")
    assert claims["exp"] - claims["iat"] == 300
    assert claims[c.MESSAGE_TYPE] == c.RESOURCE_LINK_REQUEST
    assert claims[c.VERSION] == "1.3.0"
    assert claims[c.DEPLOYMENT_ID] == tool.deployment_id
    assert claims[c.RESOURCE_LINK]["id"] == f"link-{first_link_id(db)}"
    assert claims[c.ROLES] == ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
    assert claims[c.CONTEXT]["id"] == "demo-course"
    assert claims[c.AGS_ENDPOINT]["lineitems"] == LMS_URL + API + "/lineitems"
    assert claims[c.NRPS]["context_memberships_url"] == LMS_URL + API + "/memberships"


def test_tampered_launch_breaks_only_the_signature(tool: FakeTool, client: FlaskClient, db: DB) -> None:
    client.get("/demo-lms/")
    login = login_params(client, f"/demo-lms/launch/{first_link_id(db)}?user={LEARNER}&tamper=1")
    _, fields = posted_form(client.post("/demo-lms/auth", data=auth_params(login)))
    with pytest.raises(BadSignatureError):
        demo_claims(client, fields["id_token"])


@pytest.mark.parametrize(("overrides", "field"), [
    ({"client_id": "someone-else"}, "client_id"),
    ({"redirect_uri": "http://evil.test/launch"}, "redirect_uri"),
    ({"lti_message_hint": "forged"}, "lti_message_hint"),
    ({"nonce": ""}, "nonce"),
    ({"login_hint": "u-1002"}, "login_hint"),
    ({"response_mode": "fragment"}, "response_mode"),
])
def test_auth_refusals_name_the_parameter(
    tool: FakeTool, client: FlaskClient, db: DB, overrides: dict[str, str], field: str
) -> None:
    client.get("/demo-lms/")
    login = login_params(client, f"/demo-lms/launch/{first_link_id(db)}?user={LEARNER}")
    response = client.get("/demo-lms/auth?" + urlencode(auth_params(login, **overrides)))
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert f"<code>{field}</code>" in response.get_data(as_text=True)
    assert "id_token" not in response.get_data(as_text=True)


def test_deep_linking_request_claims(tool: FakeTool, client: FlaskClient) -> None:
    login = login_params(client, f"/demo-lms/deep-link?user={COORDINATOR}")
    _, fields = posted_form(client.post("/demo-lms/auth", data=auth_params(login)))
    claims = demo_claims(client, fields["id_token"])
    assert claims[c.MESSAGE_TYPE] == c.DEEP_LINKING_REQUEST
    assert c.RESOURCE_LINK not in claims
    settings = claims[c.DEEP_LINKING_SETTINGS]
    assert settings["deep_link_return_url"] == ISSUER + "/deep-link/return"
    assert settings["accept_types"] == ["ltiResourceLink"]
    assert settings["data"]


def test_only_instructors_may_deep_link(tool: FakeTool, client: FlaskClient) -> None:
    assert client.get(f"/demo-lms/deep-link?user={LEARNER}").status_code == 400


# --- Deep linking return --------------------------------------------------------------------------------


def deep_link_response(tool: FakeTool, client: FlaskClient, key: RSAKey | None = None) -> dict[str, str]:
    login = login_params(client, f"/demo-lms/deep-link?user={COORDINATOR}")
    _, fields = posted_form(client.post("/demo-lms/auth", data=auth_params(login)))
    data = demo_claims(client, fields["id_token"])[c.DEEP_LINKING_SETTINGS]["data"]
    items = [{"type": "ltiResourceLink", "title": "The five stages", "url": FAKE_TOOL + "/launch",
              "custom": {"module": "five-stages"},
              "lineItem": {"scoreMaximum": 10, "label": "Five stages quiz", "resourceId": "five-stages"}}]
    token = tool.sign({
        "iss": tool.client_id, "aud": ISSUER, "nonce": "x", c.MESSAGE_TYPE: c.DEEP_LINKING_RESPONSE,
        c.VERSION: "1.3.0", c.DEPLOYMENT_ID: tool.deployment_id, c.DL_DATA: data, c.DL_CONTENT_ITEMS: items,
    }, key)
    return {"JWT": token}


def test_deep_link_return_adds_placements(tool: FakeTool, client: FlaskClient, db: DB) -> None:
    response = client.post("/demo-lms/deep-link/return", data=deep_link_response(tool, client))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "The five stages" in response.get_data(as_text=True)
    with db() as session:
        link = session.scalars(select(DemoLink).where(DemoLink.title == "The five stages")).one()
        assert link.custom == {"module": "five-stages"}
        item = session.scalars(select(DemoLineItem)).one()
        assert (item.link_id, item.score_maximum, item.resource_id) == (link.id, 10, "five-stages")


def test_deep_link_return_refuses_a_bad_signature(tool: FakeTool, client: FlaskClient, db: DB) -> None:
    stranger = RSAKey.generate_key(2048, private=True, parameters={"kid": "tool-key-1"})
    response = client.post("/demo-lms/deep-link/return", data=deep_link_response(tool, client, stranger))
    assert response.status_code == 400
    assert "signature" in response.get_data(as_text=True)
    with db() as session:
        assert session.scalar(select(func.count(DemoLineItem.id))) == 0


# --- Token endpoint, NRPS and AGS ----------------------------------------------------------------------


def test_token_endpoint_issues_a_hashed_token(tool: FakeTool, db: DB) -> None:
    token = tool.access_token(c.SCOPE_NRPS)
    with db() as session:
        row = session.scalars(select(DemoAccessToken)).one()
        assert row.token_hash != token
        assert row.scopes == [c.SCOPE_NRPS]


def test_token_endpoint_refuses_a_bad_assertion(tool: FakeTool, client: FlaskClient) -> None:
    stranger = RSAKey.generate_key(2048, private=True)
    assertion = tool.sign({"iss": tool.client_id, "sub": tool.client_id, "aud": ISSUER + "/token"}, stranger)
    response = client.post("/demo-lms/token", data={
        "grant_type": "client_credentials", "client_assertion": assertion,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    })
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_token_endpoint_refuses_the_wrong_grant(tool: FakeTool, client: FlaskClient) -> None:
    response = client.post("/demo-lms/token", data={"grant_type": "password"})
    assert response.get_json()["error"] == "unsupported_grant_type"


def test_nrps_pages_the_roster(tool: FakeTool, client: FlaskClient) -> None:
    headers = bearer(tool.access_token(c.SCOPE_NRPS))
    first = client.get(API + "/memberships?limit=4", headers=headers)
    assert first.mimetype == "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
    assert len(first.get_json()["members"]) == 4
    next_url = re.fullmatch(r'<([^>]+)>; rel="next"', first.headers["Link"])
    assert next_url
    rest = client.get(next_url.group(1).removeprefix(LMS_URL), headers=headers)
    assert "Link" not in rest.headers
    members = first.get_json()["members"] + rest.get_json()["members"]
    assert len({m["user_id"] for m in members}) == len(members) >= 6
    assert all(m["email"].endswith("@demo-agency.example") for m in members)


def test_wrong_scope_is_forbidden(tool: FakeTool, client: FlaskClient) -> None:
    headers = bearer(tool.access_token(c.SCOPE_SCORE))
    assert client.get(API + "/memberships", headers=headers).status_code == 403
    assert client.get(API + "/memberships").status_code == 401
    assert client.get(API + "/memberships", headers=bearer("nonsense")).status_code == 401


def score(timestamp: str, given: float = 7) -> dict[str, Any]:
    return {"userId": LEARNER, "scoreGiven": given, "scoreMaximum": 10, "activityProgress": "Completed",
            "gradingProgress": "FullyGraded", "timestamp": timestamp}


def test_ags_line_items_scores_and_results(tool: FakeTool, client: FlaskClient, db: DB) -> None:
    headers = bearer(tool.access_token(c.SCOPE_LINEITEM, c.SCOPE_SCORE, c.SCOPE_RESULT_READONLY))
    created = client.post(API + "/lineitems", json={"scoreMaximum": 10, "label": "Quiz", "tag": "quiz"},
                          headers=headers)
    assert created.status_code == 201
    item_url = created.get_json()["id"]
    path = item_url.removeprefix(LMS_URL)
    assert client.get(path, headers=headers).get_json()["label"] == "Quiz"
    assert [i["id"] for i in client.get(API + "/lineitems?tag=quiz", headers=headers).get_json()] == [item_url]
    post = {"content_type": "application/vnd.ims.lis.v1.score+json", "headers": headers}
    assert client.post(path + "/scores", json=score("2026-01-01T10:00:00Z", 5), **post).status_code == 200
    assert client.post(path + "/scores", json=score("2026-01-01T11:00:00Z", 8), **post).status_code == 200
    stale = client.post(path + "/scores", json=score("2026-01-01T11:00:00Z", 9), **post)
    assert stale.status_code == 409
    results = client.get(path + "/results", headers=headers).get_json()
    assert [(r["userId"], r["resultScore"]) for r in results] == [(LEARNER, 8)]
    with db() as session:
        assert session.scalar(select(func.count(DemoScore.id))) == 2
    gradebook = client.get("/demo-lms/").get_data(as_text=True)
    assert "Quiz <span class=\"lms-muted\">(out of 10)</span>" in gradebook
    assert "8 / 10" in gradebook
    assert gradebook.count("2026-01-01T1") == 2


def test_score_validation_names_the_field(tool: FakeTool, client: FlaskClient) -> None:
    headers = bearer(tool.access_token(c.SCOPE_LINEITEM, c.SCOPE_SCORE))
    path = client.post(API + "/lineitems", json={"scoreMaximum": 1, "label": "Q"}, headers=headers
                       ).get_json()["id"].removeprefix(LMS_URL)
    bad = {**score("2026-01-01T10:00:00"), "activityProgress": "Done"}
    response = client.post(path + "/scores", json=bad, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["field"] in {"activityProgress", "timestamp"}
    no_scope = client.get(path + "/results", headers=headers)
    assert no_scope.status_code == 403


# --- The whole flow against the real tool, over HTTP only ----------------------------------------------


def register_real_tool(client: FlaskClient, app: Flask) -> None:
    with app.app_context():
        start = registration_start_url(app.config)
    response = client.get(start)
    assert response.status_code == 200, response.get_data(as_text=True)


def browse_launch(client: FlaskClient, path: str) -> TestResponse:
    """Do what the browser does inside the launch page's iframe; return the tool's answer."""
    src = iframe_src(client.get(path))
    assert src.startswith(TOOL_URL + "/lti/login?")
    to_platform = client.get(src)
    # The demo LMS offers LTI Platform Storage, so the login answers with the page that uses it (its
    # script puts the secret in the LMS's frame, then goes to data-next); the cookie is set all the same.
    assert to_platform.status_code == 200, to_platform.get_data(as_text=True)
    found = re.search(r'data-next="([^"]+)"', to_platform.get_data(as_text=True))
    assert found and unescape(found[1]).startswith(ISSUER + "/auth?")
    action, fields = posted_form(client.get(unescape(found[1])))
    return client.post(action, data=fields)


def test_real_tool_registers_and_launches(client: FlaskClient, app: Flask, db: DB) -> None:
    register_real_tool(client, app)
    with db() as session:
        registered = session.scalars(select(DemoTool)).one()
        assert registered.config["initiate_login_uri"] == TOOL_URL + "/lti/login"
    client.get("/demo-lms/")
    answer = browse_launch(client, f"/demo-lms/launch/{first_link_id(db)}?user={LEARNER}")
    assert answer.status_code == 303, answer.get_data(as_text=True)
    assert answer.headers["Location"].startswith("/app/")


def test_real_tool_refuses_the_tampered_launch(client: FlaskClient, app: Flask, db: DB) -> None:
    register_real_tool(client, app)
    client.get("/demo-lms/")
    answer = browse_launch(client, f"/demo-lms/launch/{first_link_id(db)}?user={LEARNER}&tamper=1")
    assert answer.status_code == 400
    assert "signature_invalid" in answer.get_data(as_text=True)


def test_real_tool_deep_linking_adds_a_module(client: FlaskClient, app: Flask, db: DB) -> None:
    register_real_tool(client, app)
    home = browse_launch(client, f"/demo-lms/deep-link?user={COORDINATOR}")
    assert home.status_code == 303, home.get_data(as_text=True)
    picker = client.get(home.headers["Location"], base_url=TOOL_URL).get_data(as_text=True)
    action = re.search(r'<form method="post" action="([^"]+)"', picker)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', picker)
    module = re.search(r'name="modules" value="([^"]+)"', picker)
    assert action and csrf and module
    chosen = client.post(unescape(action.group(1)), base_url=TOOL_URL,
                         data={"csrf_token": csrf.group(1), "modules": module.group(1)})
    return_url, fields = posted_form(chosen)
    assert return_url == ISSUER + "/deep-link/return"
    done = client.post(return_url, data=fields)
    assert done.status_code == 200, done.get_data(as_text=True)
    with db() as session:
        modules = [link.custom.get("module") for link in session.scalars(select(DemoLink))]
        assert modules == [module.group(1)]
