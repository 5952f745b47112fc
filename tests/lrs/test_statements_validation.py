"""Statement validation against a real server: each category of rule is refused with 400 naming the JSON path."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.lrs.statement_factory import statement

ACTIVITY = {"id": "http://example.org/a"}
CASES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown property", {"colour": "blue"}, "$.colour"),
    ("null property", {"result": None}, "$.result"),
    ("bad uuid", {"id": "not-a-uuid"}, "$.id"),
    ("two IFIs", {"actor": {"mbox": "mailto:a@example.org", "openid": "http://openid.example.org/a"}}, "$.actor"),
    ("mbox not mailto", {"actor": {"mbox": "a@example.org"}}, "$.actor.mbox"),
    ("sha1 not hex", {"actor": {"mbox_sha1sum": "xyz"}}, "$.actor.mbox_sha1sum"),
    ("openid not URI", {"actor": {"openid": "not a uri"}}, "$.actor.openid"),
    ("account without name", {"actor": {"account": {"homePage": "http://example.org"}}}, "$.actor.account.name"),
    ("anonymous group without members", {"actor": {"objectType": "Group"}}, "$.actor.member"),
    ("group member is a group", {"actor": {"objectType": "Group", "member": [{"objectType": "Group"}]}},
     "$.actor.member[0].objectType"),
    ("verb id not IRI", {"verb": {"id": "ab=c://bad"}}, "$.verb.id"),
    ("display bad language", {"verb": {"id": "http://example.org/v", "display": {"a12345678": "x"}}},
     "$.verb.display.a12345678"),
    ("object type", {"object": {"objectType": "Thing", "id": "http://example.org/a"}}, "$.object.objectType"),
    ("interaction type", {"object": {"id": "http://example.org/a", "definition": {"interactionType": "x"}}},
     "$.object.definition.interactionType"),
    ("nested substatement", {"object": {"objectType": "SubStatement", "actor": {"mbox": "mailto:a@example.org"},
                                        "verb": {"id": "http://example.org/v"},
                                        "object": {"objectType": "SubStatement"}}}, "$.object.object.objectType"),
    ("substatement id", {"object": {"objectType": "SubStatement", "id": "x", "actor": {"mbox": "mailto:a@e.org"},
                                    "verb": {"id": "http://example.org/v"}, "object": ACTIVITY}}, "$.object.id"),
    ("scaled score", {"result": {"score": {"scaled": 1.5}}}, "$.result.score.scaled"),
    ("raw above max", {"result": {"score": {"raw": 11, "min": 0, "max": 10}}}, "$.result.score.raw"),
    ("duration", {"result": {"duration": "PA1H"}}, "$.result.duration"),
    ("revision on agent object", {"object": {"objectType": "Agent", "mbox": "mailto:b@example.org"},
                                  "context": {"revision": "1"}}, "$.context.revision"),
    ("context language", {"context": {"language": "a12345678"}}, "$.context.language"),
    ("registration", {"context": {"registration": "123"}}, "$.context.registration"),
    ("extension key", {"result": {"extensions": {"not an iri": 1}}}, "$.result.extensions.not an iri"),
    ("timestamp", {"timestamp": "01/011/2015"}, "$.timestamp"),
    ("timestamp -00:00", {"timestamp": "2020-01-01T00:00:00-00:00"}, "$.timestamp"),
    ("voided needs StatementRef", {"verb": {"id": "http://adlnet.gov/expapi/verbs/voided"}}, "$.object"),
    ("version 2 in 1.0.3", {"version": "2.0.0"}, "$.version"),
    ("attachment length", {"attachments": [{"usageType": "http://example.org/u", "display": {"en": "x"},
                                            "contentType": "text/plain", "length": "1",
                                            "sha2": "a" * 64}]}, "$.attachments[0].length"),
]


@pytest.mark.parametrize(("overrides", "path"), [(o, p) for _, o, p in CASES], ids=[name for name, _, _ in CASES])
def test_invalid_statement_is_refused_naming_the_path(lrs: httpx.Client, overrides: dict[str, Any], path: str) -> None:
    st = statement(**overrides)
    resp = lrs.post("/statements", json=st)
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["path"] == path
    assert error["rule"]


def test_valid_extensions_and_values_are_accepted(lrs: httpx.Client) -> None:
    st = statement(result={"extensions": {"http://example.org/null": None, "http://example.org/obj": {"k": 1}},
                           "score": {"scaled": -1, "raw": 0, "min": 0, "max": 1}, "duration": "PT1H0M0.1S"},
                   timestamp="2020-01-01T00:00:00+01:00")
    assert lrs.post("/statements", json=st).status_code == 200
