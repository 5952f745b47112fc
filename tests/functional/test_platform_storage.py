"""Launches in browsers that refuse the tool's cookies: LTI Platform Storage and the new-window fallback."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.lti import claims as c
from lti_tool.models import Launch, LoginState, ToolSession
from lti_tool.services.launches import hash_token
from tests.conftest import TOOL_URL, Router
from tests.platform import FakePlatform, login

DB = Callable[[], AbstractContextManager[Session]]
TARGET = "lti-storage-frame"


@pytest.fixture
def platform(db: DB, router: Router) -> FakePlatform:
    with db() as session:
        return FakePlatform().install(session, router)


def _data(page: Any) -> dict[str, str]:
    """Return the data- attributes of the page's #lti-storage element."""
    found = re.search(r'<section[^>]*id="lti-storage"([^>]*)>', page.text)
    assert found, page.text
    return {k: unescape(v) for k, v in re.findall(r'data-([a-z-]+)="([^"]*)"', found[1])}


def _hidden(page: Any) -> dict[str, str]:
    return {k: unescape(v) for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)}


def _storage_login(client: FlaskClient, platform: FakePlatform) -> tuple[str, str, str]:
    """Log in with a storage target; return (state, nonce, the secret the page puts in platform storage)."""
    query = {"iss": platform.issuer, "login_hint": "user-1", "target_link_uri": TOOL_URL + "/lti/launch",
             "client_id": platform.client_id, "lti_deployment_id": platform.deployments[0],
             "lti_storage_target": TARGET}
    page = client.get("/lti/login", query_string=query, base_url=TOOL_URL)
    assert page.status_code == 200, page.text
    data = _data(page)
    sent = parse_qs(urlsplit(data["next"]).query)
    return sent["state"][0], sent["nonce"][0], data["value"]


def _counts(db: DB) -> tuple[int, int, int]:
    with db() as session:
        return (session.scalar(select(func.count()).select_from(Launch)) or 0,
                session.scalar(select(func.count()).select_from(ToolSession)) or 0,
                session.scalar(select(func.count()).select_from(LoginState)) or 0)


def _storage_post(client: FlaskClient, platform: FakePlatform, state: str, nonce: str, value: str | None) -> Any:
    form = {"state": state, "id_token": platform.sign(platform.claims(nonce))}
    if value is not None:
        form["lti_storage_value"] = value
    return client.post("/lti/launch/storage", data=form, base_url=TOOL_URL)


def test_login_with_a_storage_target_puts_a_secret_then_goes_to_the_platform(
        client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    query = {"iss": platform.issuer, "login_hint": "user-1", "target_link_uri": TOOL_URL + "/lti/launch",
             "lti_message_hint": "hint-1", "client_id": platform.client_id, "lti_storage_target": TARGET}
    page = client.get("/lti/login", query_string=query, base_url=TOOL_URL)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert '<script src="/static/lti-storage.js" defer></script>' in page.text
    data = _data(page)
    assert data["step"] == "put" and data["target"] == TARGET
    # targetOrigin: the origin of the platform's OIDC auth endpoint, not of the issuer or the page.
    assert data["origin"] == "https://lms.example.edu"
    assert data["next"].startswith(platform.issuer + "/auth?")
    state = parse_qs(urlsplit(data["next"]).query)["state"][0]
    assert data["key"] == f"state_{state}"
    assert data["value"] and data["value"] != state
    # The cookie is set as well: where the browser keeps it, the launch needs no storage.
    assert page.headers["Set-Cookie"].startswith(f"lti_state_{state}={state};")
    with db() as session:
        stored = session.get(LoginState, state)
        assert stored is not None and stored.storage_target == TARGET
        assert stored.storage_secret_hash == hash_token(data["value"])  # only its hash is kept
        assert stored.login_params == {k: v for k, v in query.items() if k != "lti_storage_target"}


def test_login_without_a_storage_target_still_redirects(client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    state, _ = login(client, platform)
    with db() as session:
        stored = session.get(LoginState, state)
        assert stored is not None and stored.storage_target is None and stored.storage_secret_hash is None


def test_cookieless_launch_asks_platform_storage_and_keeps_the_state(
        client: FlaskClient, platform: FakePlatform, app: Flask, db: DB) -> None:
    state, nonce, _ = _storage_login(client, platform)
    token = platform.sign(platform.claims(nonce))
    page = app.test_client().post("/lti/launch", data={"state": state, "id_token": token}, base_url=TOOL_URL)
    assert page.status_code == 200, page.text
    assert page.headers["Cache-Control"] == "no-store"
    data = _data(page)
    assert (data["step"], data["target"], data["origin"], data["key"]) == (
        "get", TARGET, "https://lms.example.edu", f"state_{state}")
    assert 'action="/lti/launch/storage"' in page.text
    assert _hidden(page) == {"state": state, "id_token": token, "lti_storage_value": ""}
    assert _counts(db) == (0, 0, 1)


def test_storage_value_completes_the_launch_in_a_url_bound_session(
        client: FlaskClient, platform: FakePlatform, app: Flask, db: DB) -> None:
    state, nonce, value = _storage_login(client, platform)
    cookieless = app.test_client(use_cookies=False)
    answer = _storage_post(cookieless, platform, state, nonce, value)
    assert answer.status_code == 303, answer.text
    assert not answer.headers.getlist("Set-Cookie")
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    location = answer.headers["Location"]
    found = re.fullmatch(r"/app/([\w-]+)\.([\w-]+)/", location)
    assert found, location
    with db() as session:
        stored = session.get(ToolSession, found[1])
        assert stored is not None and stored.url_bound and stored.token_hash == hash_token(found[2])
    assert _counts(db) == (1, 1, 0)
    # Without any cookie, the session works from the URL, and its links carry the secret on.
    page = cookieless.get(location, base_url=TOOL_URL, follow_redirects=True)
    assert page.status_code == 200, page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert f"/app/{found[1]}.{found[2]}/" in page.request.path
    assert f"/app/{found[1]}/" not in page.text


def test_the_player_works_in_a_url_bound_session(client: FlaskClient, platform: FakePlatform, app: Flask) -> None:
    state, nonce, value = _storage_login(client, platform)
    cookieless = app.test_client(use_cookies=False)
    claims = platform.claims(nonce)
    claims[c.CUSTOM] = {"module": "why-intervene"}
    token = platform.sign(claims)
    answer = cookieless.post("/lti/launch/storage", data={"state": state, "id_token": token,
                                                           "lti_storage_value": value}, base_url=TOOL_URL)
    sid = answer.headers["Location"].split("/")[2]
    overview = cookieless.get(f"/app/{sid}/", base_url=TOOL_URL, follow_redirects=True)
    assert overview.status_code == 200
    start = re.search(r'<form method="post" action="([^"]+/start)"', overview.text)
    assert start is not None and start[1].startswith(f"/app/{sid}/"), overview.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', overview.text)
    assert csrf
    started = cookieless.post(start[1], data={"csrf_token": csrf[1]}, base_url=TOOL_URL)
    assert started.status_code == 303 and started.headers["Location"].startswith(f"/app/{sid}/")


@pytest.mark.parametrize("value", [None, "", "not-the-secret"])
def test_wrong_or_missing_storage_value_is_refused_and_the_state_kept(
        client: FlaskClient, platform: FakePlatform, app: Flask, db: DB, value: str | None) -> None:
    state, nonce, right = _storage_login(client, platform)
    other = app.test_client(use_cookies=False)
    refused = _storage_post(other, platform, state, nonce, value)
    assert refused.status_code == 400
    assert "<code>state_mismatch</code>" in refused.text
    assert _counts(db) == (0, 0, 1)
    # The refused attempt did not use up the login: the right secret still completes it.
    assert _storage_post(other, platform, state, nonce, right).status_code == 303


def test_storage_value_is_single_use(client: FlaskClient, platform: FakePlatform, app: Flask, db: DB) -> None:
    state, nonce, value = _storage_login(client, platform)
    other = app.test_client(use_cookies=False)
    assert _storage_post(other, platform, state, nonce, value).status_code == 303
    again = _storage_post(other, platform, state, nonce, value)
    assert again.status_code == 400 and "<code>state_unknown</code>" in again.text


def test_storage_value_of_another_login_is_refused(client: FlaskClient, platform: FakePlatform, app: Flask,
                                                   db: DB) -> None:
    state, nonce, _ = _storage_login(client, platform)
    _, _, other_value = _storage_login(client, platform)
    refused = _storage_post(app.test_client(use_cookies=False), platform, state, nonce, other_value)
    assert refused.status_code == 400 and "<code>state_mismatch</code>" in refused.text
    assert _counts(db) == (0, 0, 2)


def test_no_storage_and_no_cookie_offers_a_new_window_with_the_same_login(
        client: FlaskClient, platform: FakePlatform, app: Flask, db: DB) -> None:
    state, nonce = login(client, platform, lti_message_hint="hint-7")
    cookieless = app.test_client(use_cookies=False)
    page = cookieless.post("/lti/launch", data={"state": state, "id_token": platform.sign(platform.claims(nonce))},
                           base_url=TOOL_URL)
    assert page.status_code == 400
    assert "<code>state_mismatch</code>" in page.text
    assert "Your browser blocked the cookie Upstander needs inside the LMS." in page.text
    link = re.search(r'<a class="button" href="([^"]+)" target="_blank" rel="noopener">Open Upstander in a new '
                     r'window</a>', page.text)
    assert link, page.text
    restart = urlsplit(unescape(link[1]))
    assert f"{restart.scheme}://{restart.netloc}{restart.path}" == TOOL_URL + "/lti/login"
    assert {k: v[0] for k, v in parse_qs(restart.query).items()} == {
        "iss": platform.issuer, "login_hint": "user-1", "target_link_uri": TOOL_URL + "/lti/launch",
        "lti_message_hint": "hint-7", "client_id": platform.client_id, "lti_deployment_id": platform.deployments[0]}
    assert _counts(db) == (0, 0, 1)  # nothing recorded; the login is left to expire
    # In the new (top-level) window the same login starts again and goes to the platform.
    again = client.get(unescape(link[1]), base_url=TOOL_URL)
    assert again.status_code == 302 and again.headers["Location"].startswith(platform.issuer + "/auth?")


def test_a_storage_secret_is_not_accepted_at_the_cookie_endpoint(
        client: FlaskClient, platform: FakePlatform, app: Flask, db: DB) -> None:
    state, nonce, value = _storage_login(client, platform)
    page = app.test_client(use_cookies=False).post("/lti/launch", data={
        "state": state, "id_token": platform.sign(platform.claims(nonce)), "lti_storage_value": value},
        base_url=TOOL_URL)
    assert page.status_code == 200 and _data(page)["step"] == "get"  # asks the platform again
    assert _counts(db) == (0, 0, 1)


def test_with_the_cookie_a_storage_login_launches_as_before(client: FlaskClient, platform: FakePlatform,
                                                            db: DB) -> None:
    state, nonce, _ = _storage_login(client, platform)
    answer = client.post("/lti/launch", data={"state": state, "id_token": platform.sign(platform.claims(nonce))},
                         base_url=TOOL_URL)
    assert answer.status_code == 303
    sid = answer.headers["Location"].split("/")[2]
    assert "." not in sid
    assert any(h.startswith(f"us_{sid}=") for h in answer.headers.getlist("Set-Cookie"))
    with db() as session:
        stored = session.get(ToolSession, sid)
        assert stored is not None and not stored.url_bound
    page = client.get(answer.headers["Location"], base_url=TOOL_URL)
    assert page.status_code == 200
    assert page.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def _url_bound_sid(client: FlaskClient, platform: FakePlatform, app: Flask) -> str:
    state, nonce, value = _storage_login(client, platform)
    answer = _storage_post(app.test_client(use_cookies=False), platform, state, nonce, value)
    return str(answer.headers["Location"]).split("/")[2]


def test_url_bound_session_refuses_a_wrong_or_missing_token(client: FlaskClient, platform: FakePlatform,
                                                            app: Flask) -> None:
    sid = _url_bound_sid(client, platform, app)
    session_id, token = sid.split(".")
    cookieless = app.test_client(use_cookies=False)
    assert cookieless.get(f"/app/{sid}/", base_url=TOOL_URL).status_code == 200
    for wrong in (f"{session_id}.{token[:-1]}x", session_id, f"{session_id}.", f"x{session_id}.{token}"):
        assert cookieless.get(f"/app/{wrong}/", base_url=TOOL_URL).status_code == 401, wrong
    # Nor does a cookie named after it help: a URL-bound session is only ever opened by its URL.
    with_cookie = app.test_client()
    with_cookie.set_cookie(f"us_{session_id}", token, domain="tool.test", path=f"/app/{session_id}/")
    assert with_cookie.get(f"/app/{session_id}/", base_url=TOOL_URL).status_code == 401


def test_cookie_bound_session_refuses_its_token_in_the_url(client: FlaskClient, platform: FakePlatform,
                                                           app: Flask) -> None:
    state, nonce = login(client, platform)
    answer = client.post("/lti/launch", data={"state": state, "id_token": platform.sign(platform.claims(nonce))},
                         base_url=TOOL_URL)
    sid = answer.headers["Location"].split("/")[2]
    cookie = next(h for h in answer.headers.getlist("Set-Cookie") if h.startswith(f"us_{sid}="))
    token = cookie.split(";")[0].split("=", 1)[1]
    assert app.test_client(use_cookies=False).get(f"/app/{sid}.{token}/", base_url=TOOL_URL).status_code == 401


# --- The demo LMS ---------------------------------------------------------------------------------------


def _register_demo(client: FlaskClient, app: Flask) -> None:
    from lti_tool.demo.registration import registration_start_url

    with app.app_context():
        start = registration_start_url(app.config)
    assert client.get(start).status_code == 200


def _demo_launch_page(client: FlaskClient, app: Flask, query: str = "") -> str:
    _register_demo(client, app)
    course = client.get("/demo-lms/").text
    path = re.search(r'href="(/demo-lms/launch/\d+\?user=[^"&]+)"', course)
    assert path, course
    page = client.get(unescape(path[1]) + query)
    assert page.status_code == 200
    return page.text


def _src(html: str, title: str) -> str:
    found = re.search(rf'<iframe[^>]*title="{title}"[^>]*src="([^"]+)"', html)
    assert found, html
    return unescape(found[1])


def test_demo_lms_offers_platform_storage_to_the_tool(client: FlaskClient, app: Flask) -> None:
    html = _demo_launch_page(client, app)
    login_query = parse_qs(urlsplit(_src(html, "Upstander")).query)
    assert login_query["lti_storage_target"] == ["lti-platform-storage"]
    assert re.search(r'<iframe name="lti-platform-storage" title="Demo LMS platform storage" hidden\s+'
                     r'src="/demo-lms/platform-storage"', html)
    # The link for a new window starts a plain login: there is no LMS frame around a top-level window.
    window = re.search(r'<a href="([^"]+)" target="_blank" rel="noopener">Open Upstander in a new window', html)
    assert window and "lti_storage_target" not in unescape(window[1])
    frame = client.get("/demo-lms/platform-storage")
    assert frame.status_code == 200
    assert 'data-tool-origin="http://tool.test"' in frame.text and 'data-frame="lti-platform-storage"' in frame.text
    assert "frame-ancestors 'self'" in frame.headers["Content-Security-Policy"]


def test_demo_lms_can_launch_without_platform_storage(client: FlaskClient, app: Flask) -> None:
    html = _demo_launch_page(client, app, "&storage=off")
    assert "lti_storage_target" not in _src(html, "Upstander")
    assert "platform-storage" not in html
