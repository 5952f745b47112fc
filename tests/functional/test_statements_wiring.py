"""The player queues its xAPI statements in the outbox, in the transaction of what they describe."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lti_tool.content import DecisionScreen
from lti_tool.db import utcnow
from lti_tool.models import Attempt, Deployment, ModuleRegistration, StatementState
from lti_tool.services import statements
from tests.conftest import TOOL_URL, Router
from tests.functional.test_player import Learner, best, worst
from tests.functional.test_policy import publish
from tests.platform import FakePlatform
from xapi import vocab
from xapi.outbox import OutboxStatement
from xapi.profile import check

DB = Callable[[], AbstractContextManager[Session]]
V = vocab


@pytest.fixture
def platform(db: DB, router: Router) -> FakePlatform:
    with db() as session:
        return FakePlatform().install(session, router)


def queued(db: DB) -> list[dict[str, Any]]:
    with db() as session:
        return [row.payload for row in session.scalars(select(OutboxStatement).order_by(OutboxStatement.id))]


def verbs(found: list[dict[str, Any]]) -> list[str]:
    return [s["verb"]["id"] for s in found]


def finish_sequence(decisions: int, stages: int, verdict: str) -> list[str]:
    """launched, initialized, (answered, progressed) per decision but the last, stage results, the end."""
    return [V.LAUNCHED, V.INITIALIZED, *[V.ANSWERED, V.PROGRESSED] * (decisions - 1), V.ANSWERED,
            *[V.SCORED] * stages, V.COMPLETED, verdict, V.TERMINATED]


@pytest.mark.parametrize(("pick", "verdict"), [(best, V.PASSED), (worst, V.FAILED)])
def test_a_module_played_to_the_end_queues_the_full_sequence(client: FlaskClient, platform: FakePlatform, db: DB,
                                                             pick: Callable[..., str], verdict: str) -> None:
    Learner(client, platform, "three-ds").walk(pick)
    found = queued(db)
    with db() as session:
        attempt = session.scalars(select(Attempt)).one()
        registration = session.scalars(select(ModuleRegistration.registration)).one()
        rows = session.scalars(select(OutboxStatement)).all()
        assert verbs(found) == finish_sequence(len(attempt.decisions), len(attempt.stage_results), verdict)
        assert {(r.issuer, r.deployment_id, r.registration) for r in rows} == {(platform.issuer, "dep-1",
                                                                                registration)}
    assert {s["context"]["registration"] for s in found} == {registration}
    assert len({s["context"]["extensions"][V.EXT_SESSION] for s in found}) == 1
    for statement in found:
        assert check(statement) == [], statement["verb"]["id"]
        assert statement["actor"] == {"objectType": "Agent",
                                      "account": {"homePage": platform.issuer, "name": "user-1"}}
    judged = found[-2]["result"]
    assert judged["score"]["scaled"] == pytest.approx(attempt.score) and judged["success"] is attempt.passed


def test_answers_carry_the_choice_and_the_decision_tags(client: FlaskClient, platform: FakePlatform,
                                                        db: DB) -> None:
    Learner(client, platform, "three-ds").walk(best)
    answers = [s for s in queued(db) if s["verb"]["id"] == V.ANSWERED]
    with db() as session:
        decisions = session.scalars(select(Attempt)).one().decisions
        expected = [(d.screen, d.choice, d.stage, d.tactic) for d in decisions]
    got = [(s["object"]["id"].rsplit("/", 1)[1], s["result"]["response"],
            s["context"]["extensions"][V.EXT_STAGE], s["context"]["extensions"].get(V.EXT_TACTIC)) for s in answers]
    assert got == expected
    assert all(s["object"]["definition"]["interactionType"] == "choice" for s in answers)
    assert all(s["object"]["id"].startswith(TOOL_URL + "/activities/module/three-ds/") for s in answers)


def test_the_agency_setting_puts_the_name_in(client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    with db() as session:
        session.execute(update(Deployment).values(identify_learners_by_name=True))
    Learner(client, platform, "three-ds").walk(best)
    for statement in queued(db):
        assert statement["actor"]["name"] == "Officer Pat Doe"
        assert statement["context"]["extensions"][V.EXT_LEARNER_EMAIL] == "pat.doe@agency.example"
        assert check(statement) == []


def test_a_rejected_or_stale_form_queues_nothing(client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    learner = Learner(client, platform, "five-stages")
    learner.post("start")
    while "Submit answer" not in learner.page.text:
        learner.step(best)
    screen, attempt = learner.field("screen"), learner.field("attempt")
    before = len(queued(db))
    assert learner.post("answer", screen=screen, attempt=attempt, choice="no-such-choice").status_code == 409
    bad_csrf = client.post(f"{learner.base}/answer", base_url=TOOL_URL,
                           data={"csrf_token": "forged", "screen": screen, "attempt": attempt, "choice": "a"})
    assert bad_csrf.status_code >= 400
    assert len(queued(db)) == before
    decision = learner.module.screen(screen)
    assert isinstance(decision, DecisionScreen)
    assert learner.post("answer", screen=screen, attempt=attempt, choice=best(decision)).status_code == 303
    after = len(queued(db))
    assert after > before
    assert learner.post("answer", screen=screen, attempt=attempt, choice=best(decision)).status_code == 409
    assert len(queued(db)) == after


def _begin_and_leave(client: FlaskClient, platform: FakePlatform) -> Learner:
    learner = Learner(client, platform, "three-ds")
    learner.post("start")
    for _ in range(3):
        learner.step(best)
    return learner


def test_coming_back_in_a_new_session_suspends_the_old_one_and_resumes(client: FlaskClient,
                                                                       platform: FakePlatform, db: DB) -> None:
    _begin_and_leave(client, platform)
    first = queued(db)
    old_session = first[0]["context"]["extensions"][V.EXT_SESSION]
    again = Learner(client, platform, "three-ds")
    again.post("start")
    later = queued(db)[len(first):]
    assert verbs(later) == [V.SUSPENDED, V.LAUNCHED, V.RESUMED]
    sessions = [s["context"]["extensions"][V.EXT_SESSION] for s in later]
    assert sessions[0] == old_session and sessions[1] == sessions[2] != old_session
    assert all(check(s) == [] for s in later)
    again.walk(best)  # "start" again resumes in the same session: nothing new until the answers
    tail = verbs(queued(db))[len(first) + 3:]
    assert V.RESUMED not in tail and tail[-3:] == [V.COMPLETED, V.PASSED, V.TERMINATED]


def test_sweep_abandons_an_idle_session_once(app: Flask, client: FlaskClient, platform: FakePlatform,
                                             db: DB) -> None:
    _begin_and_leave(client, platform)
    ttl = int(app.config["SESSION_TTL"])
    with db() as session:
        session.execute(update(Attempt).values(last_activity_at=utcnow() - timedelta(seconds=ttl + 60)))
    with app.app_context(), db() as session:
        assert statements.sweep_abandoned(session, utcnow()) == 1
    with app.app_context(), db() as session:
        assert statements.sweep_abandoned(session, utcnow()) == 0
    found = queued(db)
    assert verbs(found).count(V.ABANDONED) == 1 and verbs(found)[-1] == V.ABANDONED
    assert check(found[-1]) == []
    with db() as session:
        assert session.scalars(select(StatementState.closed_with)).one() == "abandoned"
    Learner(client, platform, "three-ds").post("start")
    assert verbs(queued(db))[len(found):] == [V.LAUNCHED, V.RESUMED]  # nothing closed twice


def test_a_recent_session_is_not_swept(app: Flask, client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    _begin_and_leave(client, platform)
    with app.app_context(), db() as session:
        assert statements.sweep_abandoned(session, utcnow()) == 0


def test_the_policy_acknowledgement_is_a_statement(client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    publish(client, platform, "General Order 4.12 — Duty to Intervene")
    learner = Learner(client, platform, "policy-and-culture")
    learner.walk(best)
    assert V.COMPLETED not in verbs(queued(db))  # not complete before the acknowledgement
    learner.post("acknowledge", screen=learner.field("screen"), attempt="1", version="1", read="yes")
    found = queued(db)
    ack = next(s for s in found if s["verb"]["id"] == V.ACKNOWLEDGED)
    assert ack["context"]["extensions"][V.EXT_POLICY_VERSION] == 1
    assert ack["object"]["definition"]["name"]["en"] == "General Order 4.12 — Duty to Intervene"
    assert verbs(found)[verbs(found).index(V.ACKNOWLEDGED) + 1:][-3:] == [V.COMPLETED, V.PASSED, V.TERMINATED]
    assert all(check(s) == [] for s in found)


def test_a_learner_who_picks_from_the_catalogue_is_launched_on_start(client: FlaskClient, platform: FakePlatform,
                                                                      db: DB) -> None:
    from tests.platform import launch

    home = client.get(launch(client, platform).headers["Location"], base_url=TOOL_URL)
    assert home.status_code == 200 and queued(db) == []  # no module named: nothing launched yet
    page = client.get(home.request.path + "play/three-ds/", base_url=TOOL_URL)
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    client.post(home.request.path + "play/three-ds/start", data={"csrf_token": csrf}, base_url=TOOL_URL)
    assert verbs(queued(db)) == [V.LAUNCHED, V.INITIALIZED]
