"""Our xAPI Profile: a well-formed document, every golden passes it, and ``check`` rejects each broken rule."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from xapi import profile, vocab
from xapi.profile import check, select

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "statements"
Statement = dict[str, Any]


def golden(kind: str) -> Statement:
    loaded: Statement = json.loads((GOLDEN / f"{kind}.json").read_text(encoding="utf-8"))
    return loaded


def test_the_profile_is_an_xapi_profile_document() -> None:
    doc = profile.load()
    assert doc["@context"] == "https://w3id.org/xapi/profiles/context"
    assert doc["conformsTo"] == "https://w3id.org/xapi/profiles#1.0"
    assert (doc["id"], doc["versions"][0]["id"]) == (vocab.PROFILE_ID, vocab.PROFILE_VERSION)
    primary = [p for p in doc["patterns"] if p.get("primary")]
    assert [p["prefLabel"]["en"] for p in primary] == ["module attempt"]


def test_every_concept_of_ours_and_every_reference_is_defined() -> None:
    doc = profile.load()
    concepts = {c["id"] for c in doc["concepts"]}
    ours = {value for name, value in vars(vocab).items()
            if name.isupper() and isinstance(value, str) and value.startswith(vocab.NS + "/")
            and not value.startswith(vocab.PROFILE_ID)}
    assert ours <= concepts
    templates = {t["id"] for t in doc["templates"]}
    patterns = {p["id"] for p in doc["patterns"]}
    for template in doc["templates"]:
        assert template["verb"] in concepts and template["objectActivityType"] in concepts | {vocab.COURSE}
    for pattern in doc["patterns"]:
        members = [pattern[k] for k in ("oneOrMore", "zeroOrMore", "optional") if k in pattern]
        members += pattern.get("sequence", []) + pattern.get("alternates", [])
        assert members and set(members) <= templates | patterns, pattern["id"]


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.json")), ids=lambda p: p.stem)
def test_every_golden_statement_passes_the_profile(path: Path) -> None:
    assert check(golden(path.stem)) == []


def test_selects_with_the_jsonpath_subset() -> None:
    statement = golden("answered")
    assert select(statement, "$.result.response") == ["a"]
    assert select(statement, "$.object.definition.choices[*].id") == ["a", "b"]
    assert select(statement, "$.object.definition.choices[1].id") == ["b"]
    assert select(statement, f"$.context.extensions['{vocab.EXT_STAGE}']") == [4]
    assert select(statement, "$.result.score") == []
    with pytest.raises(ValueError, match="unsupported"):
        select(statement, "$..id")


def broken(kind: str, change: Callable[[Statement], object]) -> list[str]:
    statement = copy.deepcopy(golden(kind))
    change(statement)
    return check(statement)


# One statement breaking each rule, and the problem check must name.
NEGATIVE: dict[str, tuple[str, Callable[[Statement], object], str]] = {
    "version": ("launched", lambda s: s.update(version="1.0.3"), "version must be left to the LRS"),
    "uuid id": ("launched", lambda s: s.update(id="statement-1"), "id must be a UUID"),
    "utc timestamp": ("launched", lambda s: s.update(timestamp="2026-03-04T12:15:30.250+02:00"),
                      "timestamp must be an ISO 8601 time in UTC"),
    "registration": ("launched", lambda s: s["context"].pop("registration"), "context.registration must be a UUID"),
    "score only on passed/failed": ("completed", lambda s: s["result"].update(score={"scaled": 1.0}),
                                    "a score is only allowed on passed or failed (or a stage result)"),
    "completion only on completed": ("passed", lambda s: s["result"].update(completion=True),
                                     "completion is only allowed on completed"),
    "duration on closing verbs": ("terminated", lambda s: s["result"].pop("duration"),
                                  "a closing verb needs an ISO 8601 duration"),
    "duration is ISO 8601": ("abandoned", lambda s: s["result"].update(duration="12 minutes"),
                             "a closing verb needs an ISO 8601 duration"),
    "required property": ("answered", lambda s: s["result"].pop("response"), "$.result.response is required"),
    "excluded property": ("launched", lambda s: s["actor"].update(mbox="mailto:pat@agency.example"),
                          "$.actor.mbox is not allowed here"),
    "required extension": ("launched", lambda s: s["context"]["extensions"].pop(vocab.EXT_SESSION),
                           f"$.context.extensions['{vocab.EXT_SESSION}'] is required"),
    "any": ("answered", lambda s: s["context"]["extensions"].update({vocab.EXT_STAGE: 7}),
            f"$.context.extensions['{vocab.EXT_STAGE}'] must be one of [1, 2, 3, 4, 5]"),
    "all": ("answered", lambda s: s["object"]["definition"].update(interactionType="true-false"),
            "$.object.definition.interactionType must only hold ['choice']"),
    "passed means success": ("passed", lambda s: s["result"].update(success=False),
                             "$.result.success must only hold [True]"),
    "parent module": ("answered", lambda s: s["context"]["contextActivities"].pop("parent"),
                      f"context parent needs an activity of type {vocab.MODULE}"),
    "grouping curriculum": ("launched", lambda s: s["context"]["contextActivities"]["grouping"].pop(0),
                            f"context grouping needs an activity of type {vocab.CURRICULUM}"),
    "waiver reason": ("waived", lambda s: s["result"].pop("extensions"),
                      "$.result.extensions['https://w3id.org/xapi/cmi5/result/extensions/reason'] is required"),
    "waiver success": ("waived", lambda s: s["result"].update(success=False), "$.result.success must only hold [True]"),
    "waiver by whom": ("waived", lambda s: s["context"].pop("instructor"),
                       "$.context.instructor.account.name is required"),
    "no completion on waived": ("waived", lambda s: s["result"].update(completion=True),
                                "completion is only allowed on completed"),
    "known template": ("launched", lambda s: s["verb"].update(id="http://adlnet.gov/expapi/verbs/experienced"),
                       "no statement template for verb http://adlnet.gov/expapi/verbs/experienced"),
}


@pytest.mark.parametrize("rule", sorted(NEGATIVE))
def test_check_rejects_a_statement_breaking_the_rule(rule: str) -> None:
    kind, change, message = NEGATIVE[rule]
    problems = broken(kind, change)
    assert any(p.startswith(message) for p in problems), problems


def test_a_stage_result_may_carry_a_score_but_a_module_progress_may_not() -> None:
    assert check(golden("stage-result")) == []
    assert "a score is only allowed on passed or failed (or a stage result)" in broken(
        "progressed", lambda s: s["result"].update(score={"scaled": 0.5}))


def test_the_profile_is_served_as_json_ld(client: FlaskClient) -> None:
    response = client.get("/xapi/profile")
    assert response.status_code == 200
    assert response.mimetype == "application/ld+json"
    assert response.get_json(force=True) == profile.load()
