"""The statement builders: every statement kind matches its golden JSON, and the quirks are handled."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from xapi import builders_compliance as bc
from xapi import builders_events as b
from xapi import vocab
from xapi.builders import Course, Learner, ModuleRef, Requirement, StatementContext

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "statements"
AT = datetime(2026, 3, 4, 10, 15, 30, 250000, tzinfo=UTC)
CTX = StatementContext(
    base_url="https://upstander.agency.example",
    learner=Learner(issuer="https://lms.agency.example", sub="officer-0042", name="Officer Pat Doe",
                    email="pat.doe@agency.example", agency_id="B-1042"),
    deployment_id="dep-1",
    registration="5b1f0c52-7d0a-4c43-9e1e-2f5d6a8b9c10",
    session_id="0d6c7a1e-3b7f-5a52-8e5c-9a3f4e2d1c0b",
    module=ModuleRef(slug="three-ds", title="How to intervene — Distract, Direct, Delegate", version=1,
                     curriculum_id="peer-intervention", curriculum_title="Peer bystander intervention",
                     objectives=("Name the 3 D's", "Choose a tactic that fits the situation"), minutes=15),
    course=Course(context_id="course-1", title="Annual refresher"),
    requirements=(Requirement("three-ds", due_date=date(2026, 6, 30), credit_minutes=20), Requirement("legal-duty")),
)
DECISION = b.Decision(
    screen="try-distract", title="The man with the camera", prompt="How do you intervene?", stage=4,
    choices=(b.DecisionChoice("a", "Ask him to call dispatch", best=True), b.DecisionChoice("b", "Say nothing")),
    chosen="a", tactic="distract", rank="peer", scenario="crash-scene",
)
IDENTIFIED = replace(CTX, learner=replace(CTX.learner, identify_by_name=True))

Build = Callable[[str], dict[str, Any]]

# Each kind with how to build it, given the fixed statement id.
KINDS: dict[str, Build] = {
    "launched": lambda i: b.launched(CTX, AT, statement_id=i),
    "initialized": lambda i: b.initialized(CTX, AT, 1, statement_id=i),
    "resumed": lambda i: b.resumed(CTX, AT, 2, statement_id=i),
    "answered": lambda i: b.answered(CTX, AT, DECISION, statement_id=i, attempt=1),
    "answered-without-best": lambda i: b.answered(
        CTX, AT, replace(DECISION, choices=tuple(replace(c, best=False) for c in DECISION.choices), scenario=None,
                         tactic=None, rank=None), statement_id=i),
    "answered-identified": lambda i: b.answered(IDENTIFIED, AT, DECISION, statement_id=i),
    "stage-result": lambda i: b.stage_result(CTX, AT, 4, "Determine how to intervene", 2 / 3, False,
                                             statement_id=i),
    "progressed": lambda i: b.progressed(CTX, AT, 45, statement_id=i),
    "completed": lambda i: b.completed(CTX, AT, 754, statement_id=i, attempt=1),
    "passed": lambda i: b.judged(CTX, AT, 0.9, True, 754, statement_id=i, attempt=1),
    "failed": lambda i: b.judged(CTX, AT, 0.5, False, 754, statement_id=i),
    "terminated": lambda i: b.terminated(CTX, AT, 3725, statement_id=i),
    "suspended": lambda i: b.suspended(CTX, AT, 120, statement_id=i),
    "abandoned": lambda i: b.abandoned(replace(CTX, course=None), AT, 0, statement_id=i),
    "acknowledged": lambda i: b.acknowledged(CTX, AT, 3, "General Order 4.12 — Duty to Intervene",
                                             statement_id=i),
    "waived": lambda i: bc.waived(CTX, AT, "Completed the state academy's equivalent course in 2026",
                                  bc.Coordinator("https://lms.agency.example", "coord-0007", "Sgt. Lee Morgan"),
                                  statement_id=i),
}


def fixed_id(kind: str) -> str:
    """Return a fixed UUID4 per kind, so the goldens are deterministic."""
    return str(uuid.UUID(bytes=uuid.uuid5(uuid.NAMESPACE_URL, kind).bytes, version=4))


def build(kind: str) -> dict[str, Any]:
    return KINDS[kind](fixed_id(kind))


def golden(kind: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((GOLDEN / f"{kind}.json").read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_builder_produces_the_golden_statement(kind: str) -> None:
    built = build(kind)
    if os.environ.get("UPSTANDER_WRITE_GOLDENS") == "1":  # regenerate after a deliberate change, then review
        (GOLDEN / f"{kind}.json").write_text(json.dumps(built, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert built == golden(kind)


def test_every_golden_file_is_a_known_kind() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted(KINDS)


def test_ids_are_fresh_uuid4_and_version_is_left_to_the_lrs() -> None:
    first, second = b.launched(CTX, AT), b.launched(CTX, AT)
    assert first["id"] != second["id"]
    assert uuid.UUID(first["id"]).version == 4
    assert "version" not in first


def test_timestamps_are_the_event_time_in_utc() -> None:
    local = AT.astimezone(timezone(timedelta(hours=-5)))
    assert b.launched(CTX, local)["timestamp"] == "2026-03-04T10:15:30.250Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        b.launched(CTX, AT.replace(tzinfo=None))


def test_actor_is_the_lms_account_without_name_or_email_by_default() -> None:
    statement = build("answered")
    assert statement["actor"] == {"objectType": "Agent",
                                  "account": {"homePage": "https://lms.agency.example", "name": "officer-0042"}}
    assert "pat.doe" not in json.dumps(statement)


def test_identified_learners_carry_their_name_and_email_but_one_identifier() -> None:
    statement = build("answered-identified")
    assert statement["actor"]["name"] == "Officer Pat Doe"
    assert "mbox" not in statement["actor"]  # an Agent may carry one identifier: the account
    assert statement["context"]["extensions"][vocab.EXT_LEARNER_EMAIL] == "pat.doe@agency.example"


def test_answer_success_only_where_the_content_marks_a_best_answer() -> None:
    assert build("answered")["result"] == {"response": "a", "success": True}
    wrong = b.answered(CTX, AT, replace(DECISION, chosen="b"))
    assert wrong["result"] == {"response": "b", "success": False}
    assert build("answered-without-best")["result"] == {"response": "a"}


def test_durations_are_iso_8601_and_never_negative() -> None:
    assert build("terminated")["result"]["duration"] == "PT01H02M05S"
    assert b.suspended(CTX, AT, -5)["result"]["duration"] == "PT00S"


def test_activity_iris_use_the_deployment_url_and_concepts_one_namespace() -> None:
    statement = build("answered")
    assert statement["object"]["id"] == "https://upstander.agency.example/activities/module/three-ds/decision/try-distract"
    assert statement["object"]["definition"]["type"].startswith(vocab.NS + "/")
    grouping = [a["id"] for a in statement["context"]["contextActivities"]["grouping"]]
    assert grouping[0] == "https://upstander.agency.example/activities/curriculum/peer-intervention"
    assert grouping[1].startswith("https://upstander.agency.example/activities/course/")
    assert statement["context"]["contextActivities"]["parent"][0]["id"].endswith("/activities/module/three-ds")


def test_course_ids_from_two_agencies_do_not_collide() -> None:
    one = vocab.course_iri("https://t.example", "https://lms.a.example", "dep-1", "course-1")
    other = vocab.course_iri("https://t.example", "https://lms.b.example", "dep-1", "course-1")
    assert one != other
