"""Statements resource against a real server: storing, immutability, voiding, stored/authority/version, scopes."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime

import httpx

from tests.lrs.statement_factory import new_id, statement, voiding


def get_one(lrs: httpx.Client, statement_id: str, **params: str) -> httpx.Response:
    return lrs.get("/statements", params={"statementId": statement_id, **params})


def key_of(auth: httpx.BasicAuth) -> str:
    """The client key inside a Basic auth (the authority's account name)."""
    header = next(auth.auth_flow(httpx.Request("GET", "http://lrs.test"))).headers["Authorization"]
    return base64.b64decode(header.split()[1]).decode().split(":")[0]


def test_put_then_get_returns_the_statement_with_what_the_lrs_sets(lrs: httpx.Client,
                                                                    lrs_auth: httpx.BasicAuth) -> None:
    st = statement()
    put = lrs.put("/statements", params={"statementId": st["id"]}, json=st)
    assert put.status_code == 204
    assert "X-Experience-API-Consistent-Through" in put.headers
    got = get_one(lrs, st["id"])
    assert got.status_code == 200
    body = got.json()
    assert body["actor"] == st["actor"]
    assert body["verb"] == st["verb"]
    assert body["version"] == "1.0.0"
    assert body["timestamp"] == body["stored"]  # no timestamp given: the LRS uses stored
    assert body["authority"]["objectType"] == "Agent"
    assert body["authority"]["account"]["name"] == key_of(lrs_auth)
    assert "Last-Modified" in got.headers


def test_post_single_and_batch_return_ids_in_order(lrs: httpx.Client) -> None:
    one = statement()
    del one["id"]
    resp = lrs.post("/statements", json=one)
    assert resp.status_code == 200
    (generated,) = resp.json()
    assert get_one(lrs, generated).json()["object"]["id"] == one["object"]["id"]
    batch = [statement() for _ in range(3)]
    assert lrs.post("/statements", json=batch).json() == [st["id"] for st in batch]


def test_same_statement_twice_is_accepted_different_content_is_a_conflict(lrs: httpx.Client) -> None:
    st = statement(timestamp="2024-05-01T10:00:00.000Z")
    assert lrs.post("/statements", json=st).status_code == 200
    # Same content: upper-case id, same instant written with an offset, no objectType on the object.
    again = {**st, "id": st["id"].upper(), "timestamp": "2024-05-01T12:00:00+02:00",
             "object": {k: v for k, v in st["object"].items() if k != "objectType"}}
    assert lrs.post("/statements", json=again).status_code == 200
    assert lrs.put("/statements", params={"statementId": st["id"]}, json=st).status_code == 204
    changed = {**st, "verb": {"id": "http://example.org/verbs/other"}}
    resp = lrs.post("/statements", json=changed)
    assert resp.status_code == 409
    assert get_one(lrs, st["id"]).json()["verb"] == st["verb"]


def test_a_batch_with_one_bad_statement_stores_nothing(lrs: httpx.Client) -> None:
    good, bad = statement(), statement(actor={"mbox": "not-an-email"})
    resp = lrs.post("/statements", json=[good, bad])
    assert resp.status_code == 400
    assert resp.json()["error"]["path"] == "$[1].actor.mbox"
    assert get_one(lrs, good["id"]).status_code == 404


def test_put_refuses_an_id_that_differs_from_statement_id(lrs: httpx.Client) -> None:
    st = statement()
    resp = lrs.put("/statements", params={"statementId": new_id()}, json=st)
    assert resp.status_code == 400
    assert resp.json()["error"]["path"] == "$.id"


def test_voided_statement_is_only_found_by_voided_statement_id(lrs: httpx.Client) -> None:
    target = statement()
    lrs.post("/statements", json=target)
    void = voiding(target["id"])
    assert lrs.post("/statements", json=void).status_code == 200
    assert get_one(lrs, target["id"]).status_code == 404
    got = lrs.get("/statements", params={"voidedStatementId": target["id"]})
    assert got.status_code == 200
    assert got.json()["id"] == target["id"]
    # Queries leave the voided statement out but return the voiding one, which targets a match.
    found = lrs.get("/statements", params={"activity": target["object"]["id"]}).json()["statements"]
    assert [s["id"] for s in found] == [void["id"]]
    # A voiding statement cannot itself be voided.
    assert lrs.post("/statements", json=voiding(void["id"])).status_code == 400


def test_voiding_statement_sent_before_its_target_still_voids_it(lrs: httpx.Client) -> None:
    target = statement()
    lrs.post("/statements", json=voiding(target["id"]))
    lrs.post("/statements", json=target)
    assert get_one(lrs, target["id"]).status_code == 404
    assert lrs.get("/statements", params={"voidedStatementId": target["id"]}).status_code == 200


def test_given_authority_is_replaced_by_the_clients(lrs: httpx.Client, lrs_auth: httpx.BasicAuth) -> None:
    st = statement(authority={"objectType": "Agent", "mbox": "mailto:someone-else@example.org"})
    lrs.post("/statements", json=st)
    authority = get_one(lrs, st["id"]).json()["authority"]
    assert "mbox" not in authority
    assert authority["account"]["name"] == key_of(lrs_auth)


def test_xapi_2_converts_timestamps_to_utc_and_sets_version(lrs: httpx.Client) -> None:
    headers = {"X-Experience-API-Version": "2.0.0"}
    st = statement(timestamp="2023-05-04T12:00:00-05:00")
    assert lrs.post("/statements", json=st, headers=headers).status_code == 200
    got = get_one(lrs, st["id"])
    body = got.json()
    assert body["timestamp"] == "2023-05-04T17:00:00.000Z"
    assert body["version"] == "2.0.0"
    stored = datetime.fromisoformat(body["stored"].replace("Z", "+00:00"))
    assert got.headers["Last-Modified"].endswith("GMT")
    assert stored.tzinfo is not None


def test_context_agents_are_a_2_0_property(lrs: httpx.Client) -> None:
    context = {"contextAgents": [{"objectType": "contextAgent", "agent": {"mbox": "mailto:coach@example.org"},
                                  "relevantTypes": ["http://example.org/types/coach"]}]}
    old = lrs.post("/statements", json=statement(context=context))
    assert old.status_code == 400
    assert old.json()["error"]["path"] == "$.context.contextAgents"
    st = statement(context=context)
    assert lrs.post("/statements", json=st, headers={"X-Experience-API-Version": "2.0.0"}).status_code == 200
    bad = statement(context={"contextAgents": [{**context["contextAgents"][0], "relevantTypes": []}]})
    resp = lrs.post("/statements", json=bad, headers={"X-Experience-API-Version": "2.0.0"})
    assert resp.status_code == 400
    assert resp.json()["error"]["path"] == "$.context.contextAgents[0].relevantTypes"


def test_scopes(lrs_server: str, lrs_client_for: Callable[[list[str]], httpx.BasicAuth]) -> None:
    headers = {"X-Experience-API-Version": "1.0.3"}
    writer = httpx.Client(base_url=lrs_server, auth=lrs_client_for(["statements/write"]), headers=headers)
    reader = httpx.Client(base_url=lrs_server, auth=lrs_client_for(["statements/read"]), headers=headers)
    mine = httpx.Client(base_url=lrs_server, auth=lrs_client_for(["statements/write", "statements/read/mine"]),
                        headers=headers)
    with writer, reader, mine:
        theirs, own = statement(), statement()
        assert writer.post("/statements", json=theirs).status_code == 200
        assert reader.post("/statements", json=statement()).status_code == 403
        assert writer.get("/statements", params={"statementId": theirs["id"]}).status_code == 403
        assert reader.get("/statements", params={"statementId": theirs["id"]}).status_code == 200
        assert mine.post("/statements", json=own).status_code == 200
        assert mine.get("/statements", params={"statementId": theirs["id"]}).status_code == 404
        assert mine.get("/statements", params={"statementId": own["id"]}).status_code == 200
        listed = mine.get("/statements", params={"limit": "500"}).json()["statements"]
        assert {s["id"] for s in listed} == {own["id"]}
    assert httpx.get(f"{lrs_server}/statements", headers=headers).status_code == 401


def test_alternate_request_syntax_posts_a_statement(lrs: httpx.Client) -> None:
    st = statement()
    form = {"X-Experience-API-Version": "1.0.3", "Content-Type": "application/json", "content": json.dumps(st),
            "statementId": st["id"]}
    resp = lrs.post("/statements", params={"method": "PUT"}, data=form,
                    headers={"X-Experience-API-Version": "1.0.3"})
    assert resp.status_code == 204
    assert get_one(lrs, st["id"]).status_code == 200
