"""The agency's Duty to Intervene policy: coordinators attach versions, learners acknowledge them."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models import AgencyPolicy, Attempt, PolicyAcknowledgement
from tests.conftest import TOOL_URL, Router
from tests.functional.test_player import Learner, best
from tests.platform import INSTRUCTOR, FakePlatform, launch

DB = Callable[[], AbstractContextManager[Session]]
POLICY = "Officers shall intervene when they witness a colleague act unethically or use force beyond what is needed."


@pytest.fixture
def platform(db: DB, router: Router) -> FakePlatform:
    with db() as session:
        return FakePlatform().install(session, router)


def publish(client: FlaskClient, platform: FakePlatform, title: str, role: str = INSTRUCTOR) -> int:
    page_url = launch(client, platform, role=role, sub="coordinator").headers["Location"]
    # Any page with a form carries the session's CSRF token; a learner's module page has one.
    page = client.get(page_url + ("" if role == INSTRUCTOR else "play/five-stages/"), base_url=TOOL_URL)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    response = client.post(page_url + "policy", base_url=TOOL_URL,
                           data={"csrf_token": csrf.group(1), "title": title, "text": POLICY})
    return response.status_code


def test_policy_module_completes_only_after_acknowledgement(client: FlaskClient, platform: FakePlatform,
                                                            db: DB) -> None:
    assert publish(client, platform, "General Order 4.12 — Duty to Intervene") == 303
    learner = Learner(client, platform, "policy-and-culture")
    learner.walk(best)
    assert "General Order 4.12" in learner.page.text and POLICY in learner.page.text
    with db() as session:
        assert session.scalars(select(Attempt)).one().completed_at is None
    form = {"screen": learner.field("screen"), "attempt": "1", "version": learner.field("version")}
    assert learner.post("acknowledge", **form).status_code == 409  # the box was not ticked
    assert learner.post("acknowledge", **{**form, "read": "yes", "version": "7"}).status_code == 409
    assert learner.post("acknowledge", **{**form, "read": "yes"}).status_code == 303
    assert "Your score by stage" in learner.page.text
    with db() as session:
        attempt = session.scalars(select(Attempt)).one()
        ack = session.scalars(select(PolicyAcknowledgement)).one()
        assert attempt.completed_at is not None and attempt.passed is True
        assert (ack.policy.version, ack.attempt_pk) == (1, attempt.id)
        assert ack.acknowledged_at.tzinfo is not None


def test_without_an_agency_policy_the_module_completes(client: FlaskClient, platform: FakePlatform) -> None:
    learner = Learner(client, platform, "policy-and-culture")
    learner.walk(best)
    assert "Your score by stage" in learner.page.text


def test_a_new_version_is_acknowledged_again(client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    publish(client, platform, "Version one title")
    learner = Learner(client, platform, "policy-and-culture")
    learner.walk(best)
    learner.post("acknowledge", screen=learner.field("screen"), attempt="1", version="1", read="yes")
    publish(client, platform, "Version two title")
    learner.walk(best)  # "Try again" starts attempt 2
    assert "Version two title" in learner.page.text
    with db() as session:
        versions = session.scalars(select(AgencyPolicy.version).order_by(AgencyPolicy.version)).all()
        assert list(versions) == [1, 2]


def test_learners_cannot_publish_and_agencies_stay_apart(client: FlaskClient, platform: FakePlatform,
                                                         router: Router, db: DB) -> None:
    learner_role = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
    assert publish(client, platform, "Not allowed", role=learner_role) == 403
    with db() as session:
        other = FakePlatform(issuer="https://other-agency.example", kid="other-agency").install(session, router)
    publish(client, platform, "Agency A policy")
    learner = Learner(client, other, "policy-and-culture")
    learner.walk(best)
    assert "Agency A policy" not in learner.page.text
    assert "Your score by stage" in learner.page.text
