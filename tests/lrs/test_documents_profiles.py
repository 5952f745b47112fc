"""Activity Profile and Agent Profile against a real LRS process: ETag concurrency (If-Match, If-None-Match,
409 and 412), what each xAPI version requires of a PUT without those headers, listing with since, merge."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

ACTIVITY_PROFILE = "/activities/profile"
AGENT_PROFILE = "/agents/profile"
V2 = {"X-Experience-API-Version": "2.0.0"}


def activity_scope() -> dict[str, str]:
    return {"activityId": f"https://example.com/activity/{uuid.uuid4()}"}


def agent_scope() -> dict[str, str]:
    return {"agent": json.dumps({"mbox": f"mailto:{uuid.uuid4().hex}@example.com"})}


SCOPES = {ACTIVITY_PROFILE: activity_scope, AGENT_PROFILE: agent_scope}


@pytest.fixture(params=[ACTIVITY_PROFILE, AGENT_PROFILE])
def resource(request: pytest.FixtureRequest) -> tuple[str, dict[str, str]]:
    path: str = request.param
    return path, {**SCOPES[path](), "profileId": str(uuid.uuid4())}


def create(lrs: httpx.Client, path: str, p: dict[str, str], doc: dict[str, Any]) -> str:
    assert lrs.put(path, params=p, json=doc, headers={"If-None-Match": "*"}).status_code == 204
    etag: str = lrs.get(path, params=p).headers["ETag"]
    return etag


def test_if_none_match_star_creates_once_then_fails(lrs: httpx.Client, resource: tuple[str, dict[str, str]]) -> None:
    path, p = resource
    create(lrs, path, p, {"v": 1})
    again = lrs.put(path, params=p, json={"v": 2}, headers={"If-None-Match": "*"})
    assert again.status_code == 412
    assert lrs.get(path, params=p).json() == {"v": 1}


def test_if_match_replaces_only_with_the_current_etag(lrs: httpx.Client, resource: tuple[str, dict[str, str]]) -> None:
    path, p = resource
    etag = create(lrs, path, p, {"v": 1})
    assert lrs.put(path, params=p, json={"v": 2}, headers={"If-Match": '"0000"'}).status_code == 412
    assert lrs.get(path, params=p).json() == {"v": 1}
    assert lrs.put(path, params=p, json={"v": 2}, headers={"If-Match": etag}).status_code == 204
    assert lrs.get(path, params=p).json() == {"v": 2}
    stale = lrs.put(path, params=p, json={"v": 3}, headers={"If-Match": etag})
    assert stale.status_code == 412


def test_if_none_match_with_the_current_etag_fails(lrs: httpx.Client, resource: tuple[str, dict[str, str]]) -> None:
    path, p = resource
    etag = create(lrs, path, p, {"v": 1})
    assert lrs.put(path, params=p, json={"v": 2}, headers={"If-None-Match": etag}).status_code == 412
    assert lrs.put(path, params=p, json={"v": 2}, headers={"If-None-Match": '"other"'}).status_code == 204


def test_if_match_on_a_missing_document_fails(lrs: httpx.Client, resource: tuple[str, dict[str, str]]) -> None:
    path, p = resource
    assert lrs.put(path, params=p, json={}, headers={"If-Match": "*"}).status_code == 412
    assert lrs.get(path, params=p).status_code == 404


def test_blind_put_over_an_existing_profile_is_a_conflict(lrs: httpx.Client,
                                                          resource: tuple[str, dict[str, str]]) -> None:
    path, p = resource
    create(lrs, path, p, {"v": 1})
    for headers in ({}, V2):
        conflict = lrs.put(path, params=p, json={"v": 2}, headers=headers)
        assert conflict.status_code == 409
        assert conflict.json()["error"]["message"]
    assert lrs.get(path, params=p).json() == {"v": 1}


def test_blind_put_of_a_new_profile_is_refused_in_1_0_3_and_allowed_in_2_0(
        lrs: httpx.Client, resource: tuple[str, dict[str, str]]) -> None:
    path, p = resource
    assert lrs.put(path, params=p, json={"v": 1}).status_code == 400
    assert lrs.get(path, params=p).status_code == 404
    assert lrs.put(path, params=p, json={"v": 1}, headers=V2).status_code == 204


def test_post_and_delete_honour_if_match(lrs: httpx.Client, resource: tuple[str, dict[str, str]]) -> None:
    path, p = resource
    etag = create(lrs, path, p, {"a": 1})
    assert lrs.post(path, params=p, json={"b": 2}, headers={"If-Match": '"nope"'}).status_code == 412
    assert lrs.post(path, params=p, json={"b": 2}, headers={"If-Match": etag}).status_code == 204
    merged = lrs.get(path, params=p)
    assert merged.json() == {"a": 1, "b": 2}
    assert lrs.delete(path, params=p, headers={"If-Match": etag}).status_code == 412
    assert lrs.delete(path, params=p, headers={"If-Match": merged.headers["ETag"]}).status_code == 204
    assert lrs.get(path, params=p).status_code == 404


def test_listing_profile_ids_with_since(lrs: httpx.Client, resource: tuple[str, dict[str, str]]) -> None:
    path, p = resource
    create(lrs, path, p, {"n": 1})
    time.sleep(0.05)
    between = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    later = {**p, "profileId": str(uuid.uuid4())}
    create(lrs, path, later, {"n": 2})
    scope = {k: v for k, v in p.items() if k != "profileId"}
    assert sorted(lrs.get(path, params=scope).json()) == sorted([p["profileId"], later["profileId"]])
    assert lrs.get(path, params={**scope, "since": between}).json() == [later["profileId"]]
    assert lrs.get(path, params={**scope, "since": "not a timestamp"}).status_code == 400


def test_last_modified_moves_forward_on_update(lrs: httpx.Client, resource: tuple[str, dict[str, str]]) -> None:
    path, p = resource
    etag = create(lrs, path, p, {"v": 1})
    before = lrs.get(path, params=p, headers=V2).headers["Last-Modified"]
    time.sleep(1.1)  # Last-Modified has one-second resolution
    assert lrs.post(path, params=p, json={"v": 2}, headers={**V2, "If-Match": etag}).status_code == 204
    after = lrs.get(path, params=p, headers=V2).headers["Last-Modified"]

    def parse(value: str) -> datetime:
        return datetime.strptime(value, "%a, %d %b %Y %H:%M:%S GMT")  # noqa: DTZ007  (both sides naive GMT)

    assert parse(after) > parse(before)


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_profile_id_is_required_to_change_a_profile(lrs: httpx.Client, resource: tuple[str, dict[str, str]],
                                                    method: str) -> None:
    path, p = resource
    scope = {k: v for k, v in p.items() if k != "profileId"}
    refused = lrs.request(method, path, params=scope, json={} if method != "DELETE" else None,
                          headers={"If-None-Match": "*"})
    assert refused.status_code == 400
    assert refused.json()["error"]["path"] == "profileId"


def test_each_profile_resource_takes_only_its_own_scope_parameters(lrs: httpx.Client) -> None:
    profile_id = str(uuid.uuid4())
    mixed = {**activity_scope(), **agent_scope(), "profileId": profile_id}
    assert lrs.get(ACTIVITY_PROFILE, params=mixed).json()["error"]["path"] == "agent"
    assert lrs.get(AGENT_PROFILE, params=mixed).json()["error"]["path"] == "activityId"
    assert lrs.get(ACTIVITY_PROFILE, params={"profileId": profile_id}).status_code == 400
    assert lrs.get(AGENT_PROFILE, params={"profileId": profile_id, "agent": "{}"}).status_code == 400


def test_activity_and_agent_profiles_are_separate_namespaces(lrs: httpx.Client) -> None:
    profile_id = str(uuid.uuid4())
    activity = {**activity_scope(), "profileId": profile_id}
    create(lrs, ACTIVITY_PROFILE, activity, {"kind": "activity"})
    agent = {**agent_scope(), "profileId": profile_id}
    assert lrs.get(AGENT_PROFILE, params=agent).status_code == 404
