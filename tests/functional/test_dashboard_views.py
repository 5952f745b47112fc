"""The dashboard's screens over HTTP: requirements, waivers (and their statements), audit trail, officer records."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.db import utcnow
from lti_tool.models import AuditEvent, ModuleRequirement, Waiver
from tests.conftest import TOOL_URL, Router
from tests.functional.test_dashboard_access import Staff, open_as, user_pk
from tests.functional.test_player import Learner, best
from tests.platform import FakePlatform
from xapi import profile, vocab
from xapi.builders_compliance import EXT_REASON, VOIDED
from xapi.outbox import OutboxStatement

DB = Callable[[], AbstractContextManager[Session]]


@pytest.fixture
def platform(db: DB, router: Router) -> FakePlatform:
    with db() as session:
        return FakePlatform().install(session, router)


@pytest.fixture
def staff(client: FlaskClient, platform: FakePlatform) -> Staff:
    learner = Learner(client, platform, "five-stages", sub="officer-1")  # an officer with an attempt in progress
    assert learner.post("start").status_code == 303
    return open_as(client, platform, sub="coord-1", name="Sgt. Lee Morgan")


def cid(staff: Staff) -> str:
    found = re.search(r"/dashboard/(\d+)/officers", staff.get("").text)
    assert found is not None
    return found.group(1)


def requirement_form(**overrides: str) -> dict[str, str]:
    from lti_tool.catalogue import modules

    form = {f"recert_months-{m.slug}": "12" for m in modules()}
    form.update(overrides)
    return form


def test_requirements_are_saved_and_audited(staff: Staff, db: DB) -> None:
    course, due = cid(staff), (utcnow().date() + timedelta(days=10)).isoformat()
    assert "Refresher every (months)" in staff.get(f"dashboard/{course}/requirements").text
    response = staff.post(f"dashboard/{course}/requirements", **requirement_form(**{
        "required-five-stages": "yes", "due_date-five-stages": due, "credit_minutes-five-stages": "20",
        "recert_months-five-stages": "24"}))
    assert response.status_code == 303
    assert "Saved: 1 module changed" in staff.client.get(response.headers["Location"], base_url=TOOL_URL).text
    with db() as session:
        row = session.scalars(select(ModuleRequirement)).one()
        assert (row.module, row.required, row.due_date.isoformat() if row.due_date else None) == (
            "five-stages", True, due)
        assert (row.recert_months, row.credit_minutes) == (24, 20)
        event = session.scalars(select(AuditEvent)).one()
        assert event.action == "requirement.set" and event.actor_label == "Sgt. Lee Morgan (coord-1)"
        assert event.details["before"] is None and event.details["after"]["due_date"] == due
    # Saving the same values again changes nothing and audits nothing.
    staff.post(f"dashboard/{course}/requirements", **requirement_form(**{
        "required-five-stages": "yes", "due_date-five-stages": due, "credit_minutes-five-stages": "20",
        "recert_months-five-stages": "24"}))
    with db() as session:
        assert len(session.scalars(select(AuditEvent)).all()) == 1
    overview = staff.get(f"dashboard/{course}/").text
    assert due in overview and "every 24 months" in overview
    officers = staff.get(f"dashboard/{course}/officers").text
    assert "status-due_soon" in officers  # officer-1 has not finished the required module, due in 10 days
    audit = staff.get(f"dashboard/{course}/audit").text
    assert "Requirement changed" in audit and "Sgt. Lee Morgan (coord-1)" in audit and "first set" in audit


@pytest.mark.parametrize("bad", [{"recert_months-five-stages": "-1"}, {"due_date-three-ds": "31/12/2026"},
                                 {"recert_months-three-ds": ""}, {"credit_minutes-why-intervene": "lots"}])
def test_bad_requirement_values_are_refused(staff: Staff, db: DB, bad: dict[str, str]) -> None:
    response = staff.post(f"dashboard/{cid(staff)}/requirements", **requirement_form(**bad))
    assert response.status_code == 400
    with db() as session:
        assert session.scalars(select(ModuleRequirement)).all() == []


def test_a_waiver_is_recorded_audited_and_sent_then_revoked_and_voided(staff: Staff, db: DB) -> None:
    course, officer = cid(staff), user_pk(db, "officer-1")
    response = staff.post(f"dashboard/{course}/waivers", officer=officer, module="three-ds",
                          reason="Completed the academy's equivalent course")
    assert response.status_code == 303
    with db() as session:
        waiver = session.scalars(select(Waiver)).one()
        sent = session.scalars(select(OutboxStatement)
                               .where(OutboxStatement.statement_id == waiver.statement_id)).one()
    statement = sent.payload
    assert profile.check(statement) == []
    assert statement["verb"]["id"] == vocab.WAIVED and statement["actor"]["account"]["name"] == "officer-1"
    assert statement["object"]["id"].endswith("/activities/module/three-ds")
    assert statement["result"]["extensions"][EXT_REASON] == "Completed the academy's equivalent course"
    assert statement["context"]["instructor"]["account"]["name"] == "coord-1"
    assert statement["context"]["extensions"][vocab.EXT_LTI_CONTEXT] == "course-1"
    page = staff.get(f"dashboard/{course}/officers/{officer}").text
    assert "status-waived" in page and "In force" in page
    assert staff.post(f"dashboard/{course}/waivers", officer=officer, module="three-ds",
                      reason="A second one").status_code == 400  # one waiver in force per module
    revoke = staff.post(f"dashboard/{course}/waivers/{waiver.id}/revoke", reason="Course not equivalent")
    assert revoke.status_code == 303
    with db() as session:
        revoked = session.get(Waiver, waiver.id)
        assert revoked is not None and revoked.revoked_at is not None
        assert revoked.revoke_reason == "Course not equivalent"
        void = session.scalars(select(OutboxStatement).where(
            OutboxStatement.statement_id == revoked.void_statement_id)).one().payload
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert void["verb"]["id"] == VOIDED and void["object"] == {"objectType": "StatementRef", "id": waiver.statement_id}
    assert actions == ["waiver.granted", "waiver.revoked"]
    assert staff.post(f"dashboard/{course}/waivers/{waiver.id}/revoke", reason="Again please").status_code == 400
    listing = staff.get(f"dashboard/{course}/waivers").text
    assert "Revoked" in listing and "Course not equivalent" in listing  # kept, marked
    assert "Waiver revoked" in staff.get(f"dashboard/{course}/audit").text


def test_a_waiver_needs_a_reason_and_a_known_module(staff: Staff, db: DB) -> None:
    course, officer = cid(staff), user_pk(db, "officer-1")
    assert staff.post(f"dashboard/{course}/waivers", officer=officer, module="three-ds", reason="").status_code == 400
    assert staff.post(f"dashboard/{course}/waivers", officer=officer, module="nope", reason="Reason given"
                      ).status_code == 400
    with db() as session:
        assert session.scalars(select(Waiver)).all() == []


def test_the_officer_page_shows_attempts_choices_stages_and_acknowledgements(client: FlaskClient,
                                                                             platform: FakePlatform, db: DB) -> None:
    learner = Learner(client, platform, "three-ds", sub="officer-1")
    learner.walk(best)
    staff = open_as(client, platform, sub="coord-1")
    page = staff.get(f"dashboard/{cid(staff)}/officers/{user_pk(db, 'officer-1')}").text
    assert "attempt 1" in page and "passed" in page and "Choices made" in page and "Stage results" in page
    module = learner.module
    from lti_tool.content import DecisionScreen

    decision = next(s for s in module.screens if isinstance(s, DecisionScreen))
    chosen = best(decision)
    words = next(ch.text for ch in decision.choices if ch.id == chosen)
    assert words.replace("'", "&#39;").replace('"', "&#34;") in page
    assert "status-passed" in page


def test_publishing_a_policy_is_audited_for_the_agency(staff: Staff, db: DB) -> None:
    course = cid(staff)
    assert "Attach the policy" in staff.get(f"dashboard/{course}/policy").text
    text = "Officers shall intervene when a colleague uses force beyond what is objectively reasonable."
    response = staff.post("policy", title="General Order 4.12", text=text)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/dashboard/{course}/policy")
    with db() as session:
        event = session.scalars(select(AuditEvent)).one()
        assert (event.action, event.context_pk, event.details["version"]) == ("policy.published", None, 1)
    assert "General Order 4.12" in staff.get(f"dashboard/{course}/audit").text


def test_the_roster_table_is_sortable_filterable_and_accessible(staff: Staff) -> None:
    course = cid(staff)
    page = staff.get(f"dashboard/{course}/officers?sort=name&dir=desc").text
    assert 'aria-sort="descending"' in page and "<caption" in page and 'scope="col"' in page
    assert staff.get(f"dashboard/{course}/officers?sort=score").status_code == 400
    assert staff.get(f"dashboard/{course}/officers?status=late").status_code == 400
    assert staff.get(f"dashboard/{course}/officers?module=nope").status_code == 400
    assert "1 officer found" in staff.get(f"dashboard/{course}/officers?status=in_progress&module=five-stages").text
    assert "0 officers found" in staff.get(f"dashboard/{course}/officers?q=nobody").text
    assert "0 officers found" in staff.get(f"dashboard/{course}/officers?roster=left").text


def test_overview_counts_link_to_the_filtered_roster(staff: Staff) -> None:
    page = staff.get(f"dashboard/{cid(staff)}/").text
    assert "1 officer in the course" in page
    assert re.search(r"status=in_progress&amp;module=five-stages", page)
