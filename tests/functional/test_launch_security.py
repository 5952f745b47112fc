"""Every check of the launch has a negative test, and a refused launch stores nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from lti_tool.db import utcnow
from lti_tool.lti import claims as c
from lti_tool.models import Launch, LoginState, LtiUser, ToolSession, UsedNonce
from tests.conftest import TOOL_URL, Router
from tests.platform import FakePlatform, launch, login, rsa_key

DB = Callable[[], AbstractContextManager[Session]]


@pytest.fixture
def platform(db: DB, router: Router) -> FakePlatform:
    with db() as session:
        return FakePlatform().install(session, router)


def _stored(db: DB) -> tuple[int, int, int]:
    with db() as session:
        return (session.scalar(select(func.count()).select_from(Launch)) or 0,
                session.scalar(select(func.count()).select_from(LtiUser)) or 0,
                session.scalar(select(func.count()).select_from(ToolSession)) or 0)


def _refused(response: Any, code: str, db: DB, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert f"<code>{code}</code>" in response.text
    assert "text/html" in response.content_type
    assert _stored(db) == (0, 0, 0)


def _post(client: FlaskClient, platform: FakePlatform, make: Callable[[str], str]) -> Any:
    state, nonce = login(client, platform)
    return client.post("/lti/launch", data={"state": state, "id_token": make(nonce)}, base_url=TOOL_URL)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_valid_launch_opens_a_session_in_an_iframe_friendly_cookie(client: FlaskClient, platform: FakePlatform,
                                                                  db: DB) -> None:
    response = launch(client, platform)
    assert response.status_code == 303
    assert "/app/" in response.headers["Location"]
    cookies = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("us_")]
    assert len(cookies) == 1
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned"):
        assert attribute in cookies[0]
    page = client.get(response.headers["Location"], base_url=TOOL_URL)
    assert page.status_code == 200
    assert "Welcome, Officer Pat Doe" in page.text
    assert "frame-ancestors 'self' https://lms.example.edu" in page.headers["Content-Security-Policy"]
    assert _stored(db) == (1, 1, 1)


# The 1EdTech certification suite's "known bad payloads", one test each.
CERTIFICATION_BAD_PAYLOADS: dict[str, tuple[dict[str, Any], str]] = {
    "wrong LTI version": ({c.VERSION: "1.2.0"}, "version_invalid"),
    "no LTI version": ({c.VERSION: None}, "version_invalid"),
    "invalid LTI message": ({c.MESSAGE_TYPE: "LtiBogusRequest"}, "message_type_invalid"),
    "missing LTI claims": ({c.MESSAGE_TYPE: None, c.ROLES: None, c.RESOURCE_LINK: None}, "claim_missing"),
    "timestamps incorrect": ({"iat": 1_000_000, "exp": 1_000_300}, "token_expired"),
    "message_type claim missing": ({c.MESSAGE_TYPE: None}, "claim_missing"),
    "role claim missing": ({c.ROLES: None}, "claim_missing"),
    "deployment_id claim missing": ({c.DEPLOYMENT_ID: None}, "claim_missing"),
    "resource_link_id claim missing": ({c.RESOURCE_LINK: {"title": "no id"}}, "claim_missing"),
    "user claim missing": ({"sub": None}, "claim_missing"),
}


@pytest.mark.parametrize("case", list(CERTIFICATION_BAD_PAYLOADS))
def test_certification_bad_payload_is_refused(case: str, client: FlaskClient, platform: FakePlatform,
                                              db: DB) -> None:
    overrides, code = CERTIFICATION_BAD_PAYLOADS[case]
    _refused(launch(client, platform, **overrides), code, db)


def test_no_kid_in_header_is_refused(client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    def make(nonce: str) -> str:
        header = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(platform.claims(nonce)).encode())
        signed = platform.sign(platform.claims(nonce))
        return f"{header}.{body}.{signed.split('.')[2]}"

    _refused(_post(client, platform, make), "kid_missing", db)


def test_unknown_kid_refetches_the_key_set_once_then_refuses(client: FlaskClient, platform: FakePlatform,
                                                             db: DB) -> None:
    stranger = rsa_key("not-published")
    response = _post(client, platform, lambda n: platform.sign(platform.claims(n), key=stranger))
    _refused(response, "kid_unknown", db)
    assert platform.jwks_fetches == 2  # the first load, then exactly one refetch


def test_a_flood_of_unknown_kids_refetches_at_most_once_per_interval(client: FlaskClient, platform: FakePlatform,
                                                                    db: DB) -> None:
    assert launch(client, platform).status_code == 303  # the key set is now cached in the database
    for name in ("stranger-1", "stranger-2", "stranger-3"):
        stranger = rsa_key(name)
        refused = _post(client, platform, lambda n, k=stranger: platform.sign(platform.claims(n), key=k))
        assert refused.status_code == 400
        assert "<code>kid_unknown</code>" in refused.text
    assert _stored(db) == (1, 1, 1)  # the first launch only
    assert platform.jwks_fetches == 2  # the first load and one refetch; the next two wait for the interval


def test_rotated_platform_key_is_picked_up_by_refetch(client: FlaskClient, platform: FakePlatform,
                                                      db: DB) -> None:
    assert launch(client, platform).status_code == 303
    fresh = rsa_key("platform-key-2")
    platform.published = [platform.key, fresh]
    response = _post(client, platform, lambda n: platform.sign(platform.claims(n), key=fresh))
    assert response.status_code == 303
    assert platform.jwks_fetches == 2


def test_signature_from_another_key_with_a_known_kid_is_refused(client: FlaskClient, platform: FakePlatform,
                                                                db: DB) -> None:
    def make(nonce: str) -> str:
        return platform.sign(platform.claims(nonce), key=rsa_key("forger"), header={"kid": platform.key.kid})

    _refused(_post(client, platform, make), "signature_invalid", db)


def test_tampered_payload_is_refused(client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    def make(nonce: str) -> str:
        header, _, signature = platform.sign(platform.claims(nonce)).split(".")
        forged = _b64(json.dumps(platform.claims(nonce, sub="someone-else")).encode())
        return f"{header}.{forged}.{signature}"

    _refused(_post(client, platform, make), "signature_invalid", db)


def test_alg_none_is_refused(client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    def make(nonce: str) -> str:
        header = _b64(json.dumps({"alg": "none", "kid": platform.key.kid}).encode())
        return f"{header}.{_b64(json.dumps(platform.claims(nonce)).encode())}."

    _refused(_post(client, platform, make), "algorithm_not_allowed", db)


def test_hs256_signed_with_the_public_key_is_refused(client: FlaskClient, platform: FakePlatform,
                                                     db: DB) -> None:
    public_pem = platform.key.as_pem(private=False)

    def make(nonce: str) -> str:
        header = _b64(json.dumps({"alg": "HS256", "kid": platform.key.kid, "typ": "JWT"}).encode())
        body = _b64(json.dumps(platform.claims(nonce)).encode())
        mac = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
        return f"{header}.{body}.{_b64(mac)}"

    _refused(_post(client, platform, make), "algorithm_not_allowed", db)


@pytest.mark.parametrize("token", ["", "not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30"])
def test_missing_or_malformed_token_is_refused(token: str, client: FlaskClient, platform: FakePlatform,
                                               db: DB) -> None:
    response = _post(client, platform, lambda n: token)
    _refused(response, "token_missing" if not token else "token_malformed", db)


CLAIM_CASES: dict[str, tuple[dict[str, Any], str]] = {
    "wrong issuer": ({"iss": "https://evil.example"}, "issuer_mismatch"),
    "wrong audience": ({"aud": "someone-else"}, "audience_mismatch"),
    "azp mismatch": ({"azp": "someone-else"}, "azp_mismatch"),
    "several audiences without azp": ({"aud": ["client-1", "other"], "azp": None}, "azp_mismatch"),
    "unknown deployment": ({c.DEPLOYMENT_ID: "dep-unknown"}, "deployment_unknown"),
    "nonce missing": ({"nonce": None}, "nonce_missing"),
    "nonce of another login": ({"nonce": "some-other-nonce"}, "nonce_mismatch"),
    "deep linking without settings": ({c.MESSAGE_TYPE: c.DEEP_LINKING_REQUEST}, "claim_missing"),
    "context without id": ({c.CONTEXT: {"title": "x"}}, "claim_invalid"),
}


@pytest.mark.parametrize("case", list(CLAIM_CASES))
def test_bad_claim_is_refused(case: str, client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    overrides, code = CLAIM_CASES[case]
    _refused(launch(client, platform, **overrides), code, db)


def test_several_audiences_with_our_azp_are_accepted(client: FlaskClient, platform: FakePlatform) -> None:
    response = launch(client, platform, aud=["client-1", "other"], azp="client-1")
    assert response.status_code == 303


@pytest.mark.parametrize(("exp_offset", "iat_offset", "accepted", "code"), [
    (-30, -330, True, None),          # expired 30 s ago: inside the 60 s leeway
    (-120, -420, False, "token_expired"),
    (330, 30, True, None),            # issued 30 s in the future: a skewed clock, tolerated
    (420, 120, False, "token_from_future"),
])
def test_clock_leeway(exp_offset: int, iat_offset: int, accepted: bool, code: str | None,
                      client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    now = int(time.time())
    response = launch(client, platform, exp=now + exp_offset, iat=now + iat_offset)
    if accepted:
        assert response.status_code == 303
    else:
        assert code is not None
        _refused(response, code, db)


def test_replaying_the_same_post_is_refused(client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    state, nonce = login(client, platform)
    form = {"state": state, "id_token": platform.sign(platform.claims(nonce))}
    assert client.post("/lti/launch", data=form, base_url=TOOL_URL).status_code == 303
    again = client.post("/lti/launch", data=form, base_url=TOOL_URL)
    assert again.status_code == 400
    assert "<code>state_unknown</code>" in again.text
    assert _stored(db) == (1, 1, 1)


def test_replaying_a_token_under_a_new_login_is_refused(client: FlaskClient, platform: FakePlatform,
                                                        db: DB) -> None:
    state, nonce = login(client, platform)
    token = platform.sign(platform.claims(nonce))
    assert client.post("/lti/launch", data={"state": state, "id_token": token}, base_url=TOOL_URL).status_code == 303
    state2, _ = login(client, platform)
    again = client.post("/lti/launch", data={"state": state2, "id_token": token}, base_url=TOOL_URL)
    assert again.status_code == 400
    assert "<code>nonce_mismatch</code>" in again.text


def test_a_nonce_already_spent_is_refused(client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    state, nonce = login(client, platform)
    with db() as session:
        platform_id = session.scalar(select(LoginState.platform_id).where(LoginState.state == state))
        assert platform_id is not None
        session.add(UsedNonce(platform_id=platform_id, nonce=nonce, expires_at=utcnow() + timedelta(hours=1)))
    token = platform.sign(platform.claims(nonce))
    response = client.post("/lti/launch", data={"state": state, "id_token": token}, base_url=TOOL_URL)
    _refused(response, "nonce_replayed", db)


def test_missing_state_is_refused(client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    _, nonce = login(client, platform)
    response = client.post("/lti/launch", data={"id_token": platform.sign(platform.claims(nonce))},
                           base_url=TOOL_URL)
    _refused(response, "state_missing", db)


def test_unknown_state_is_refused(client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    _, nonce = login(client, platform)
    client.set_cookie("lti_state_made-up", "made-up", domain="tool.test", path="/lti/launch")
    response = client.post("/lti/launch", data={"state": "made-up", "id_token": platform.sign(
        platform.claims(nonce))}, base_url=TOOL_URL)
    _refused(response, "state_unknown", db)


def test_expired_login_state_is_refused(client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    state, nonce = login(client, platform)
    with db() as session:
        session.execute(update(LoginState).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = client.post("/lti/launch", data={"state": state, "id_token": platform.sign(
        platform.claims(nonce))}, base_url=TOOL_URL)
    _refused(response, "state_unknown", db)


def test_state_without_its_browser_cookie_is_refused(client: FlaskClient, platform: FakePlatform,
                                                     db: DB, app: Any) -> None:
    state, nonce = login(client, platform)
    other_browser = app.test_client()
    response = other_browser.post("/lti/launch", data={"state": state, "id_token": platform.sign(
        platform.claims(nonce))}, base_url=TOOL_URL)
    _refused(response, "state_mismatch", db)


def test_state_cookie_of_another_value_is_refused(client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    state, nonce = login(client, platform)
    client.set_cookie(f"lti_state_{state}", "something-else", domain="tool.test", path="/lti/launch")
    response = client.post("/lti/launch", data={"state": state, "id_token": platform.sign(
        platform.claims(nonce))}, base_url=TOOL_URL)
    _refused(response, "state_mismatch", db)


def test_unreachable_key_set_is_a_clear_502(client: FlaskClient, platform: FakePlatform, router: Router,
                                            db: DB) -> None:
    router.routes[platform.jwks_url] = lambda request: httpx.Response(503, text="down")
    _refused(launch(client, platform), "keyset_unavailable", db, status=502)


def test_refusal_is_json_for_api_clients(client: FlaskClient, platform: FakePlatform) -> None:
    state, nonce = login(client, platform)
    token = platform.sign(platform.claims(nonce, aud="nobody"))
    response = client.post("/lti/launch", data={"state": state, "id_token": token}, base_url=TOOL_URL,
                           headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert response.json is not None and response.json["code"] == "audience_mismatch"


@pytest.mark.parametrize(("params", "code"), [
    ({"iss": ""}, "login_params_invalid"),
    ({"login_hint": ""}, "login_params_invalid"),
    ({"iss": "https://unknown.example"}, "platform_unknown"),
    ({"lti_deployment_id": "dep-unknown"}, "deployment_unknown"),
    ({"target_link_uri": "https://evil.example/lti/launch"}, "target_link_invalid"),
    ({"client_id": "other-client"}, "platform_unknown"),
])
def test_bad_login_is_refused(params: dict[str, str], code: str, client: FlaskClient, platform: FakePlatform,
                              db: DB) -> None:
    query = {"iss": platform.issuer, "login_hint": "user-1", "target_link_uri": TOOL_URL + "/lti/launch",
             "client_id": platform.client_id, "lti_deployment_id": "dep-1", **params}
    response = client.get("/lti/login", query_string=query, base_url=TOOL_URL)
    assert response.status_code == 400
    assert f"<code>{code}</code>" in response.text
    with db() as session:
        assert session.scalar(select(func.count()).select_from(LoginState)) == 0


def test_login_by_post_redirects_with_state_nonce_and_a_partitioned_cookie(client: FlaskClient,
                                                                          platform: FakePlatform) -> None:
    response = client.post("/lti/login", base_url=TOOL_URL, data={
        "iss": platform.issuer, "login_hint": "u", "target_link_uri": TOOL_URL + "/lti/launch",
        "lti_message_hint": "hint-1"})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("https://lms.example.edu/auth?")
    for part in ("scope=openid", "response_type=id_token", "response_mode=form_post", "prompt=none",
                 "client_id=client-1", "lti_message_hint=hint-1", "nonce=", "state="):
        assert part in location
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("lti_state_")
    for attribute in ("Secure", "HttpOnly", "SameSite=None", "Partitioned", "Path=/lti/launch"):
        assert attribute in cookie


def test_two_racing_posts_of_one_launch_open_one_session(app: Any, client: FlaskClient, platform: FakePlatform,
                                                         db: DB) -> None:
    import threading

    state, nonce = login(client, platform)
    form = {"state": state, "id_token": platform.sign(platform.claims(nonce))}
    barrier, statuses = threading.Barrier(2), []

    def post() -> None:
        browser = app.test_client()
        browser.set_cookie(f"lti_state_{state}", state, domain="tool.test", path="/lti/launch")
        barrier.wait()
        statuses.append(browser.post("/lti/launch", data=form, base_url=TOOL_URL).status_code)

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [303, 400]
    assert _stored(db) == (1, 1, 1)
