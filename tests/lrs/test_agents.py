"""GET /agents against a real LRS process: the Person object and the checks on its ``agent`` parameter."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest


@pytest.mark.parametrize("agent", [
    {"objectType": "Agent", "name": "Pat Officer", "mbox": "mailto:pat@example.com"},
    {"mbox_sha1sum": "a" * 40},
    {"name": "Sam", "openid": "https://id.example/sam"},
    {"account": {"homePage": "https://lms.example", "name": "42"}},
])
def test_person_object_holds_the_agents_identifier_and_name(lrs: httpx.Client, agent: dict[str, Any]) -> None:
    got = lrs.get("/agents", params={"agent": json.dumps(agent)})
    assert got.status_code == 200
    person = got.json()
    assert person["objectType"] == "Person"
    assert person["name"] == ([agent["name"]] if "name" in agent else [])
    kind = next(k for k in ("mbox", "mbox_sha1sum", "openid", "account") if k in agent)
    assert person[kind] == [agent[kind]]
    assert set(person) == {"objectType", "name", kind}


def test_head_on_agents_has_no_body(lrs: httpx.Client) -> None:
    head = lrs.head("/agents", params={"agent": json.dumps({"mbox": "mailto:a@example.com"})})
    assert head.status_code == 200
    assert head.content == b""


@pytest.mark.parametrize(("query", "path"), [
    ({}, "agent"),
    ({"agent": "not json"}, "agent"),
    ({"agent": json.dumps({"name": "no identifier"})}, "agent"),
    ({"agent": json.dumps({"account": {"name": "x"}})}, "agent.account.homePage"),
    ({"agent": json.dumps({"mbox": "mailto:a@example.com"}), "activityId": "https://x.example"}, "activityId"),
])
def test_a_missing_or_invalid_agent_or_extra_parameter_is_400(lrs: httpx.Client, query: dict[str, str],
                                                              path: str) -> None:
    got = lrs.get("/agents", params=query)
    assert got.status_code == 400
    assert got.json()["error"]["path"] == path


def test_only_get_is_allowed(lrs: httpx.Client) -> None:
    got = lrs.post("/agents", params={"agent": json.dumps({"mbox": "mailto:a@example.com"})}, json={})
    assert got.status_code == 405


def test_reading_agents_needs_a_read_scope(lrs_server: str,
                                           lrs_client_for: Callable[[list[str]], httpx.BasicAuth]) -> None:
    query = {"agent": json.dumps({"mbox": "mailto:a@example.com"})}
    headers = {"X-Experience-API-Version": "2.0.0"}
    for scopes, status in ((["statements/write"], 403), (["state"], 403), (["all/read"], 200), (["profile"], 200)):
        got = httpx.get(f"{lrs_server}/agents", params=query, headers=headers, auth=lrs_client_for(scopes))
        assert got.status_code == status, scopes
