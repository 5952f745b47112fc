"""The State resource against a real LRS process: storage, merge, listing, deletion and parameter checks."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

STATE = "/activities/state"


def agent(name: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"objectType": "Agent", "account": {"homePage": "https://lms.example", "name": "learner-1"}}
    if name is not None:
        found["name"] = name
    return found


def params(**extra: Any) -> dict[str, str]:
    base: dict[str, Any] = {"activityId": f"https://example.com/activity/{uuid.uuid4()}", "agent": agent(),
                            "stateId": str(uuid.uuid4())}
    base.update(extra)
    return {k: json.dumps(v) if isinstance(v, dict) else v for k, v in base.items() if v is not None}


def test_put_then_get_returns_the_document_with_etag_and_last_modified(lrs: httpx.Client) -> None:
    p = params()
    body = b"\x00binary state\xff"
    put = lrs.put(STATE, params=p, content=body, headers={"Content-Type": "application/octet-stream"})
    assert put.status_code == 204
    got = lrs.get(STATE, params=p)
    assert got.status_code == 200
    assert got.content == body
    assert got.headers["Content-Type"] == "application/octet-stream"
    assert got.headers["ETag"] == f'"{hashlib.sha1(body).hexdigest()}"'  # noqa: S324
    assert put.headers["ETag"] == got.headers["ETag"]
    modified = datetime.strptime(got.headers["Last-Modified"], "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - modified).total_seconds()) < 120
    assert got.headers["X-Experience-API-Version"] == "1.0.3"


def test_get_of_a_missing_document_is_404(lrs: httpx.Client) -> None:
    got = lrs.get(STATE, params=params())
    assert got.status_code == 404
    assert got.json()["error"]["status"] == 404


def test_post_merges_top_level_properties(lrs: httpx.Client) -> None:
    p = params()
    assert lrs.post(STATE, params=p, json={"a": 1, "nested": {"x": 1, "y": 2}}).status_code == 204
    assert lrs.post(STATE, params=p, json={"b": 2, "nested": {"z": 3}}).status_code == 204
    assert lrs.get(STATE, params=p).json() == {"a": 1, "b": 2, "nested": {"z": 3}}


def test_post_to_a_missing_document_stores_it(lrs: httpx.Client) -> None:
    p = params()
    assert lrs.post(STATE, params=p, json={"first": True}).status_code == 204
    got = lrs.get(STATE, params=p)
    assert got.json() == {"first": True}
    assert got.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(("first", "second"), [
    (("application/json", b'{"a": 1}'), ("text/plain", b"plain")),
    (("application/octet-stream", b"raw"), ("application/json", b'{"a": 1}')),
    (("application/json", b'{"a": 1}'), ("application/json", b'{"a": ')),
    (("application/json", b'{"a": 1}'), ("application/json", b"[1, 2]")),
])
def test_post_refuses_to_merge_anything_but_two_json_objects(lrs: httpx.Client, first: tuple[str, bytes],
                                                             second: tuple[str, bytes]) -> None:
    p = params()
    assert lrs.put(STATE, params=p, content=first[1], headers={"Content-Type": first[0]}).status_code == 204
    refused = lrs.post(STATE, params=p, content=second[1], headers={"Content-Type": second[0]})
    assert refused.status_code == 400
    assert lrs.get(STATE, params=p).content == first[1]  # unchanged


def test_get_without_state_id_lists_ids_and_since_filters_them(lrs: httpx.Client) -> None:
    p = params()
    first, second = p["stateId"], str(uuid.uuid4())
    assert lrs.put(STATE, params=p, json={"n": 1}).status_code == 204
    time.sleep(0.05)
    between = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    assert lrs.put(STATE, params={**p, "stateId": second}, json={"n": 2}).status_code == 204
    scope = {k: v for k, v in p.items() if k != "stateId"}
    listed = lrs.get(STATE, params=scope)
    assert listed.status_code == 200
    assert sorted(listed.json()) == sorted([first, second])
    assert "Last-Modified" in listed.headers
    assert lrs.get(STATE, params={**scope, "since": between}).json() == [second]
    other_scope = {**scope, "activityId": "https://example.com/activity/other"}
    assert lrs.get(STATE, params=other_scope).json() == []


def test_registration_is_part_of_the_scope(lrs: httpx.Client) -> None:
    registration = str(uuid.uuid4())
    p = params(registration=registration)
    assert lrs.put(STATE, params=p, json={"r": 1}).status_code == 204
    without = {k: v for k, v in p.items() if k != "registration"}
    assert lrs.get(STATE, params=without).status_code == 404
    assert lrs.get(STATE, params={**p, "registration": registration.upper()}).json() == {"r": 1}


def test_the_agent_is_matched_by_its_identifier_not_its_name(lrs: httpx.Client) -> None:
    p = params()
    assert lrs.put(STATE, params=p, json={"v": 1}).status_code == 204
    named = {**p, "agent": json.dumps(agent(name="Pat Officer"))}
    assert lrs.get(STATE, params=named).json() == {"v": 1}


def test_delete_one_and_delete_all_of_a_scope(lrs: httpx.Client) -> None:
    p = params()
    ids = [p["stateId"], str(uuid.uuid4()), str(uuid.uuid4())]
    for state_id in ids:
        assert lrs.put(STATE, params={**p, "stateId": state_id}, json={"id": state_id}).status_code == 204
    elsewhere = params()
    assert lrs.put(STATE, params=elsewhere, json={}).status_code == 204
    assert lrs.delete(STATE, params=p).status_code == 204
    assert lrs.get(STATE, params=p).status_code == 404
    scope = {k: v for k, v in p.items() if k != "stateId"}
    assert sorted(lrs.get(STATE, params=scope).json()) == sorted(ids[1:])
    assert lrs.delete(STATE, params=scope).status_code == 204
    assert lrs.get(STATE, params=scope).json() == []
    assert lrs.get(STATE, params=elsewhere).status_code == 200  # another scope is untouched


BAD_AGENTS = ["not json", "true", json.dumps({"objectType": "Agent", "name": "no identifier"}),
              json.dumps({"mbox": "mailto:a@example.com", "openid": "https://id.example/a"}),
              json.dumps({"mbox": "a@example.com"}), json.dumps({"mbox_sha1sum": "xyz"}),
              json.dumps({"account": {"homePage": "https://x.example"}}),
              json.dumps({"objectType": "Activity", "mbox": "mailto:a@example.com"}),
              json.dumps({"mbox": "mailto:a@example.com", "colour": "blue"})]


@pytest.mark.parametrize("bad_agent", BAD_AGENTS)
def test_an_invalid_agent_is_refused_naming_the_parameter(lrs: httpx.Client, bad_agent: str) -> None:
    refused = lrs.put(STATE, params={**params(), "agent": bad_agent}, json={})
    assert refused.status_code == 400
    assert refused.json()["error"]["path"].startswith("agent")


@pytest.mark.parametrize(("method", "change"), [
    ("PUT", {"activityId": None}), ("GET", {"activityId": None}), ("DELETE", {"agent": None}),
    ("PUT", {"stateId": None}), ("POST", {"stateId": None}), ("PUT", {"registration": "not-a-uuid"}),
    ("GET", {"registration": "true"}), ("GET", {"stateId": None, "since": "yesterday"}),
    ("PUT", {"since": "2024-01-01T00:00:00Z"}), ("GET", {"StateId": "x"}), ("DELETE", {"profileId": "x"}),
    ("PUT", {"activityId": "not an iri"}), ("PUT", {"stateId": ""}),
])
def test_missing_unknown_and_malformed_parameters_are_refused(lrs: httpx.Client, method: str,
                                                              change: dict[str, Any]) -> None:
    p = params(**change)
    refused = lrs.request(method, STATE, params=p, json={} if method in ("PUT", "POST") else None)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["message"]


def test_version_1_0_3_lets_state_be_replaced_without_concurrency_headers(lrs: httpx.Client) -> None:
    p = params()
    assert lrs.put(STATE, params=p, json={"v": 1}).status_code == 204
    assert lrs.put(STATE, params=p, json={"v": 2}).status_code == 204
    assert lrs.get(STATE, params=p).json() == {"v": 2}


def test_version_2_0_refuses_a_blind_put_over_existing_state(lrs: httpx.Client) -> None:
    v2 = {"X-Experience-API-Version": "2.0.0"}
    p = params()
    assert lrs.put(STATE, params=p, json={"v": 1}, headers=v2).status_code == 204
    conflict = lrs.put(STATE, params=p, json={"v": 2}, headers=v2)
    assert conflict.status_code == 409
    assert conflict.headers["X-Experience-API-Version"] == "2.0.0"
    etag = lrs.get(STATE, params=p, headers=v2).headers["ETag"]
    assert lrs.put(STATE, params=p, json={"v": 3}, headers={**v2, "If-Match": etag}).status_code == 204
    assert lrs.get(STATE, params=p, headers=v2).json() == {"v": 3}
