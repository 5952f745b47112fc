"""GET /statements queries against a real server: filters, related_*, StatementRefs, paging, formats, activities."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from tests.lrs.statement_factory import new_id, statement


def ids(resp: httpx.Response) -> list[str]:
    assert resp.status_code == 200, resp.text
    return [s["id"] for s in resp.json()["statements"]]


def test_agent_verb_activity_registration_filters(lrs: httpx.Client) -> None:
    registration = new_id()
    a = statement(context={"registration": registration})
    b = statement(actor=a["actor"], verb=a["verb"])
    lrs.post("/statements", json=[a, b])
    agent = json.dumps(a["actor"])
    assert ids(lrs.get("/statements", params={"agent": agent})) == [b["id"], a["id"]]  # newest first
    assert ids(lrs.get("/statements", params={"agent": agent, "ascending": "true"})) == [a["id"], b["id"]]
    assert ids(lrs.get("/statements", params={"verb": a["verb"]["id"]})) == [b["id"], a["id"]]
    assert ids(lrs.get("/statements", params={"activity": a["object"]["id"]})) == [a["id"]]
    assert ids(lrs.get("/statements", params={"registration": registration})) == [a["id"]]
    assert ids(lrs.get("/statements", params={"agent": agent, "activity": b["object"]["id"]})) == [b["id"]]


def test_related_agents_and_activities(lrs: httpx.Client) -> None:
    instructor = {"mbox": f"mailto:teacher-{new_id()}@example.org"}
    parent = {"id": f"http://example.org/course/{new_id()}"}
    st = statement(context={"instructor": instructor, "contextActivities": {"parent": parent}})
    lrs.post("/statements", json=st)
    assert ids(lrs.get("/statements", params={"agent": json.dumps(instructor)})) == []
    assert ids(lrs.get("/statements", params={"agent": json.dumps(instructor), "related_agents": "true"})) == [st["id"]]
    assert ids(lrs.get("/statements", params={"activity": parent["id"]})) == []
    assert ids(lrs.get("/statements", params={"activity": parent["id"], "related_activities": "true"})) == [st["id"]]
    # Context activities come back as arrays even when one object was sent.
    got = lrs.get("/statements", params={"statementId": st["id"]}).json()
    assert got["context"]["contextActivities"]["parent"] == [parent]


def test_statements_referring_to_matches_match_too_recursively(lrs: httpx.Client) -> None:
    base = statement()
    ref1 = statement(object={"objectType": "StatementRef", "id": base["id"]})
    ref2 = statement(object={"objectType": "StatementRef", "id": ref1["id"]})
    lrs.post("/statements", json=[ref2, ref1])  # referrers first: links are resolved when the target arrives
    lrs.post("/statements", json=base)
    found = ids(lrs.get("/statements", params={"activity": base["object"]["id"]}))
    assert set(found) == {base["id"], ref1["id"], ref2["id"]}
    # Time filters apply to the referring statement itself, not to the statement it targets.
    stored = lrs.get("/statements", params={"statementId": base["id"]}).json()["stored"]
    time.sleep(0.01)
    ref3 = statement(object={"objectType": "StatementRef", "id": base["id"]})
    lrs.post("/statements", json=ref3)
    assert ids(lrs.get("/statements", params={"activity": base["object"]["id"], "since": stored})) == [ref3["id"]]
    until = ids(lrs.get("/statements", params={"activity": base["object"]["id"], "until": stored}))
    assert set(until) == {base["id"], ref1["id"], ref2["id"]}


def test_since_until_and_consistent_through(lrs: httpx.Client) -> None:
    first = statement()
    lrs.post("/statements", json=first)
    stored = lrs.get("/statements", params={"statementId": first["id"]}).json()["stored"]
    time.sleep(0.01)
    second = statement(actor=first["actor"])
    lrs.post("/statements", json=second)
    agent = json.dumps(first["actor"])
    assert ids(lrs.get("/statements", params={"agent": agent, "since": stored})) == [second["id"]]
    assert ids(lrs.get("/statements", params={"agent": agent, "until": stored})) == [first["id"]]
    resp = lrs.get("/statements", params={"agent": agent})
    assert resp.headers["X-Experience-API-Consistent-Through"] >= stored


def test_more_pages_through_everything_once(lrs: httpx.Client) -> None:
    actor = statement()["actor"]
    batch = [statement(actor=actor) for _ in range(7)]
    lrs.post("/statements", json=batch)
    seen: list[str] = []
    resp = lrs.get("/statements", params={"agent": json.dumps(actor), "limit": "3"})
    while True:
        body: dict[str, Any] = resp.json()
        seen += [s["id"] for s in body["statements"]]
        if not body["more"]:
            break
        assert body["more"].startswith("/") and "?more=" in body["more"]
        root = str(lrs.base_url).split("/xapi")[0]
        resp = httpx.get(root + body["more"], auth=lrs.auth, headers=dict(lrs.headers))
    assert seen == [st["id"] for st in reversed(batch)]


def test_format_ids_and_canonical(lrs: httpx.Client) -> None:
    activity_id = f"http://example.org/activities/{new_id()}"
    first = statement(object={"id": activity_id, "definition": {"name": {"en-US": "Meeting"}}})
    second = statement(object={"id": activity_id, "definition": {"name": {"fr-FR": "Réunion"}}})
    lrs.post("/statements", json=[first, second])
    ids_form = lrs.get("/statements", params={"statementId": first["id"], "format": "ids"}).json()
    assert ids_form["object"] == {"id": activity_id}
    assert ids_form["verb"] == {"id": first["verb"]["id"]}
    assert set(ids_form["actor"]) == {"mbox", "objectType"}
    canonical = lrs.get("/statements", params={"statementId": first["id"], "format": "canonical"},
                        headers={"Accept-Language": "fr-FR"}).json()
    assert canonical["object"]["definition"]["name"] == {"fr-FR": "Réunion"}
    activity = lrs.get("/activities", params={"activityId": activity_id}).json()
    assert activity["definition"]["name"] == {"en-US": "Meeting", "fr-FR": "Réunion"}
    unknown = lrs.get("/activities", params={"activityId": "http://example.org/never-seen"})
    assert unknown.json() == {"objectType": "Activity", "id": "http://example.org/never-seen"}


def test_bad_query_parameters_are_refused(lrs: httpx.Client) -> None:
    cases: dict[str, dict[str, str]] = {
        "agent": {"agent": json.dumps({"name": "no ifi"})},
        "limit": {"limit": "-1"},
        "since": {"since": "yesterday"},
        "format": {"format": "pretty"},
        "statementId": {"statementId": new_id(), "verb": "http://example.org/v"},
        "colour": {"colour": "blue"},
    }
    for name, params in cases.items():
        resp = lrs.get("/statements", params=params)
        assert resp.status_code == 400, name
        assert "X-Experience-API-Consistent-Through" in resp.headers
