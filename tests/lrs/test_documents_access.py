"""Cross-cutting rules on the document resources, against a real LRS process: scopes, authentication,
version negotiation, HEAD and the 1.0.3 alternate request syntax."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tests.lrs.conftest import PEPPER
from xapi.lrs.auth import add_client

STATE = "/activities/state"
AGENT = json.dumps({"mbox": "mailto:learner@example.com"})
V103 = {"X-Experience-API-Version": "1.0.3"}


def state_params() -> dict[str, str]:
    return {"activityId": f"https://example.com/a/{uuid.uuid4()}", "agent": AGENT, "stateId": str(uuid.uuid4())}


def profile_params() -> dict[str, str]:
    return {"activityId": f"https://example.com/a/{uuid.uuid4()}", "profileId": str(uuid.uuid4())}


@pytest.mark.parametrize(("scopes", "state_read", "state_write", "profile_read", "profile_write"), [
    (["state"], 404, 204, 403, 403),
    (["profile"], 403, 403, 404, 204),
    (["all/read"], 404, 403, 404, 403),
    (["statements/write", "statements/read"], 403, 403, 403, 403),
    (["all"], 404, 204, 404, 204),
])
def test_scopes_grant_the_document_resources(lrs_server: str, lrs_client_for: Callable[[list[str]], httpx.BasicAuth],
                                             scopes: list[str], state_read: int, state_write: int,
                                             profile_read: int, profile_write: int) -> None:
    with httpx.Client(base_url=lrs_server, auth=lrs_client_for(scopes), headers=V103) as client:
        assert client.get(STATE, params=state_params()).status_code == state_read
        assert client.put(STATE, params=state_params(), json={}).status_code == state_write
        assert client.get("/activities/profile", params=profile_params()).status_code == profile_read
        put = client.put("/activities/profile", params=profile_params(), json={}, headers={"If-None-Match": "*"})
        assert put.status_code == profile_write


def test_missing_or_wrong_credentials_are_401(lrs_server: str) -> None:
    anonymous = httpx.get(f"{lrs_server}{STATE}", params=state_params(), headers=V103)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
    wrong = httpx.get(f"{lrs_server}{STATE}", params=state_params(), headers=V103, auth=("nobody", "nothing"))
    assert wrong.status_code == 401


@pytest.mark.parametrize(("sent", "status", "answered"), [
    (None, 400, "1.0.3"), ("0.95", 400, "1.0.3"), ("1.0", 404, "1.0.3"), ("1.0.1", 404, "1.0.3"),
    ("2.0", 404, "2.0.0"), ("2.0.0", 404, "2.0.0"), ("3.0.0", 400, "1.0.3"),
])
def test_version_negotiation(lrs_server: str, lrs_auth: httpx.BasicAuth, sent: str | None, status: int,
                             answered: str) -> None:
    headers = {"X-Experience-API-Version": sent} if sent else {}
    got = httpx.get(f"{lrs_server}{STATE}", params=state_params(), headers=headers, auth=lrs_auth)
    assert got.status_code == status
    assert got.headers["X-Experience-API-Version"] == answered


def test_a_request_without_version_is_answered_in_the_version_its_client_last_spoke(lrs: httpx.Client) -> None:
    # The version is remembered in the database, so any server process answers alike.
    assert lrs.get(STATE, params=state_params(), headers={"X-Experience-API-Version": "2.0.0"}).status_code == 404
    request = lrs.build_request("GET", STATE, params=state_params())
    del request.headers["X-Experience-API-Version"]
    refused = lrs.send(request)
    assert refused.status_code == 400
    assert refused.headers["X-Experience-API-Version"] == "2.0.0"


def test_head_answers_like_get_without_a_body(lrs: httpx.Client) -> None:
    p = state_params()
    assert lrs.put(STATE, params=p, json={"v": 1}).status_code == 204
    head = lrs.head(STATE, params=p)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["ETag"] == lrs.get(STATE, params=p).headers["ETag"]
    assert lrs.head(STATE, params=state_params()).status_code == 404


def alternate(lrs: httpx.Client, method: str, form: dict[str, str], path: str = STATE,
              version: str = "1.0.3") -> httpx.Response:
    return lrs.post(path, params={"method": method}, content=urlencode(form),
                    headers={"Content-Type": "application/x-www-form-urlencoded", "X-Experience-API-Version": version})


def test_alternate_syntax_carries_every_method_with_parameters_headers_and_content(lrs: httpx.Client) -> None:
    p = state_params()
    stored = alternate(lrs, "PUT", {**p, "content": json.dumps({"via": "form"}), "If-None-Match": "*"})
    assert stored.status_code == 204
    got = lrs.get(STATE, params=p)
    assert got.json() == {"via": "form"}
    assert got.headers["Content-Type"].startswith("application/json")  # the content's type, not the form's
    assert alternate(lrs, "GET", p).json() == {"via": "form"}
    etag = got.headers["ETag"]
    assert alternate(lrs, "POST", {**p, "content": json.dumps({"more": 1}), "If-Match": '"x"'}).status_code == 412
    assert alternate(lrs, "POST", {**p, "content": json.dumps({"more": 1}), "If-Match": etag}).status_code == 204
    assert lrs.get(STATE, params=p).json() == {"via": "form", "more": 1}
    assert alternate(lrs, "DELETE", p).status_code == 204
    assert lrs.get(STATE, params=p).status_code == 404


def test_alternate_syntax_form_headers_override_and_are_checked(lrs_server: str, lrs_engine: Engine) -> None:
    with Session(lrs_engine) as session, session.begin():
        key, secret = add_client(session, PEPPER, "form client", ["all"])
    basic = base64.b64encode(f"{key}:{secret}".encode()).decode()
    p = state_params()
    form = {**p, "content": "{}", "Authorization": f"Basic {basic}", "X-Experience-API-Version": "1.0.3"}
    ok = httpx.post(f"{lrs_server}{STATE}", params={"method": "PUT"}, content=urlencode(form),
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert ok.status_code == 204  # credentials and version came from the form
    old = httpx.post(f"{lrs_server}{STATE}", params={"method": "PUT"},
                     content=urlencode({**form, "X-Experience-API-Version": "0.8"}),
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert old.status_code == 400


@pytest.mark.parametrize("case", ["extra query parameter", "not a form", "not POST", "unknown method", "2.0"])
def test_alternate_syntax_misuse_is_refused(lrs: httpx.Client, case: str) -> None:
    p = state_params()
    form = urlencode({**p, "content": "{}"})
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    if case == "extra query parameter":
        got = lrs.post(STATE, params={"method": "PUT", "stateId": p["stateId"]}, content=form, headers=form_type)
    elif case == "not a form":
        got = lrs.post(STATE, params={"method": "PUT"}, content=json.dumps(p), headers={"Content-Type": "text/plain"})
    elif case == "not POST":
        got = lrs.put(STATE, params={"method": "PUT"}, content=form, headers=form_type)
    elif case == "unknown method":
        got = lrs.post(STATE, params={"method": "PATCH"}, content=form, headers=form_type)
    else:
        got = alternate(lrs, "PUT", {**p, "content": "{}"}, version="2.0.0")
    assert got.status_code == 400
    assert lrs.get(STATE, params=p).status_code == 404
