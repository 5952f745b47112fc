"""The accreditation report built from an LRS alone equals the one built from the database.

Learners play modules through the test client (passes, a fail and a retry, an attempt left in progress,
a policy acknowledgement), a coordinator sets requirements and waives an officer; the outbox is then
delivered by the real delivery worker to the built-in LRS served by gunicorn on 127.0.0.1, and the
report read back through the Statements API is compared with the database's, field by field.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from lti_tool.cli_report import report
from lti_tool.cli_xapi import make_worker
from lti_tool.db import utcnow
from lti_tool.lti.roles import Role
from lti_tool.models import Deployment, LtiContext, LtiUser, Membership
from lti_tool.services import compliance_changes, reports_db, reports_lrs
from lti_tool.services.compliance_changes import RequirementInput
from lti_tool.services.reports import AccreditationReport
from tests.conftest import Router
from tests.functional.test_player import Learner, best, worst
from tests.functional.test_policy import publish
from tests.lrs.conftest import PEPPER, lrs_engine, lrs_server  # noqa: F401  (fixtures)
from tests.platform import INSTRUCTOR, FakePlatform, launch
from xapi.lrs.auth import add_client
from xapi.outbox import OutboxStatement

DB = Callable[[], AbstractContextManager[Session]]


@pytest.fixture
def platform(db: DB, router: Router) -> FakePlatform:
    with db() as session:
        platform = FakePlatform().install(session, router)
        session.execute(update(Deployment).values(identify_learners_by_name=True))
    return platform


def _context(session: Session) -> LtiContext:
    return session.scalars(select(LtiContext).where(LtiContext.context_id == "course-1")).one()


def _set_up_course(client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    """A coordinator launch creates the course; requirements, an agency id, a roster-only member."""
    launch(client, platform, role=INSTRUCTOR, sub="coordinator", name="Sgt. Lee Morgan")
    with db() as session:
        context = _context(session)
        coordinator = session.scalars(select(LtiUser).where(LtiUser.sub == "coordinator")).one()
        compliance_changes.set_requirements(session, context, coordinator, [
            RequirementInput("three-ds", True, utcnow().date() + timedelta(days=10), 12, 20),
            RequirementInput("five-stages", True, None, 24, None),
            RequirementInput("policy-and-culture", True, utcnow().date() - timedelta(days=1), 12, None),
        ])
        # Someone the LMS roster lists who never launched: only the database can know them.
        ghost = LtiUser(deployment_pk=context.deployment_pk, sub="never-launched", name="Officer Never")
        session.add(ghost)
        session.flush()
        session.add(Membership(user_pk=ghost.id, context_pk=context.id, role=Role.LEARNER.value, source="nrps"))


def _play(app: Flask, client: FlaskClient, platform: FakePlatform, db: DB) -> None:
    assert publish(client, platform, "General Order 4.12 — Duty to Intervene") == 303
    Learner(client, platform, "three-ds", sub="officer-a").walk(best)
    with db() as session:  # the agency id arrives with the roster; later statements carry it
        session.execute(update(Membership).where(Membership.user_pk == session.scalar(
            select(LtiUser.id).where(LtiUser.sub == "officer-a"))).values(agency_id="B-1042"))
    policy = Learner(client, platform, "policy-and-culture", sub="officer-a")
    policy.walk(best)
    policy.post("acknowledge", screen=policy.field("screen"), attempt="1", version="1", read="yes")
    Learner(client, platform, "three-ds", sub="officer-b").walk(worst)
    Learner(client, platform, "three-ds", sub="officer-b").walk(best)  # a second attempt, passed
    started = Learner(client, platform, "five-stages", sub="officer-c")
    started.post("start")
    for _ in range(4):
        started.step(worst)
    with app.app_context(), db() as session:
        context = _context(session)
        coordinator = session.scalars(select(LtiUser).where(LtiUser.sub == "coordinator")).one()
        officer_c = session.scalars(select(LtiUser).where(LtiUser.sub == "officer-c")).one()
        compliance_changes.grant_waiver(session, context, coordinator, officer_c.id, "three-ds",
                                        "Completed the academy's equivalent course")


def _deliver(app: Flask, db: DB, endpoint: str, key: str, secret: str) -> None:
    """Send the whole outbox to the LRS with the real delivery worker; every statement must be accepted."""
    app.config.update(LRS_ENDPOINT=endpoint + "/", LRS_KEY=key, LRS_SECRET=secret)
    worker = make_worker(app, hook=lambda session, now: None)
    try:
        worker.drain()
    finally:
        worker.close()
    with db() as session:
        statuses = set(session.scalars(select(OutboxStatement.status).distinct()))
    assert statuses == {"sent"}, statuses


@pytest.fixture
def lrs_credentials(lrs_engine: Engine) -> tuple[str, str]:  # noqa: F811
    with Session(lrs_engine) as session, session.begin():
        return add_client(session, PEPPER, "report test", ["all"])


@pytest.fixture
def played(app: Flask, client: FlaskClient, platform: FakePlatform, db: DB, lrs_server: str,  # noqa: F811
           lrs_credentials: tuple[str, str]) -> str:
    """Play the course and deliver its statements; return the LRS endpoint."""
    _set_up_course(client, platform, db)
    _play(app, client, platform, db)
    _deliver(app, db, lrs_server, *lrs_credentials)
    return lrs_server


def _both(app: Flask, db: DB, endpoint: str, credentials: tuple[str, str]) -> tuple[AccreditationReport, ...]:
    now = utcnow()
    since, until = now - timedelta(days=1), now + timedelta(days=1)
    with app.app_context(), db() as session:
        from_db = reports_db.build(session, _context(session), since, until, generated_at=now, generated_by="test")
    with httpx.Client(auth=credentials, headers={"X-Experience-API-Version": "1.0.3"}, timeout=30) as http:
        from_lrs = reports_lrs.build(http, endpoint, since, until, context_id="course-1", generated_at=now,
                                     generated_by="test")
    return from_db, from_lrs


def test_the_report_from_the_lrs_equals_the_report_from_the_database(
        app: Flask, db: DB, played: str, lrs_credentials: tuple[str, str]) -> None:
    from_db, from_lrs = _both(app, db, played, lrs_credentials)
    # What was played shows in the report (so the comparison below is about real content).
    by = {(r.account, r.module): r for r in from_db.records}
    assert by[("officer-a", "three-ds")].status == "passed" and by[("officer-a", "three-ds")].agency_id == "B-1042"
    assert by[("officer-a", "three-ds")].minutes_credited == 20 and by[("officer-a", "three-ds")].choices
    assert by[("officer-a", "policy-and-culture")].policy_version == 1
    assert by[("officer-b", "three-ds")].attempts == 2 and by[("officer-b", "three-ds")].passed is True
    assert by[("officer-c", "five-stages")].status == "in_progress"
    waived = by[("officer-c", "three-ds")]
    assert waived.status == "waived" and waived.waived_by.endswith("(coordinator)") and waived.waiver_reason
    assert by[("officer-b", "policy-and-culture")].status == "overdue"

    # Field by field: the scope (but its source), every module, every officer's record with its choices.
    assert dataclasses.replace(from_db.scope, source=from_lrs.scope.source) == from_lrs.scope
    assert from_lrs.scope.source == f"LRS {played}"
    assert from_lrs.as_of == from_db.as_of
    assert from_lrs.modules == from_db.modules
    known = [r for r in from_db.records if r.account != "never-launched"]
    for mine, theirs in zip(known, from_lrs.records, strict=True):
        for name in (f.name for f in dataclasses.fields(mine)):
            assert getattr(theirs, name) == getattr(mine, name), (mine.account, mine.module, name)
    assert from_lrs.records == tuple(known)

    # The documented differences: roster members who never launched, and the audit trail.
    ghost = [r for r in from_db.records if r.account == "never-launched"]
    assert [r.status for r in ghost] == ["not_started", "overdue", "due_soon"]
    assert len(from_db.audit) >= 5 and from_lrs.audit == ()
    assert from_lrs.limitations == reports_lrs.LIMITATIONS and from_db.limitations == ()


@pytest.mark.parametrize(("fmt", "magic"), [("csv", b"\xef\xbb\xbflms_issuer,"), ("pdf", b"%PDF-"),
                                            ("html", b"<!doctype html>")])
def test_the_report_command_reads_the_lrs(app: Flask, played: str, lrs_credentials: tuple[str, str], fmt: str,
                                          magic: bytes, tmp_path: Path) -> None:
    out = tmp_path / f"report.{fmt}"
    today = utcnow().date()
    args = ["--lrs", played, "--auth-stdin", "--since", (today - timedelta(days=1)).isoformat(),
            "--until", today.isoformat(), "--context", "course-1", "--format", fmt, "--output", str(out)]
    result = CliRunner().invoke(report, args, obj=app, input=":".join(lrs_credentials) + "\n")
    assert result.exit_code == 0, result.output
    body = out.read_bytes()
    assert body.startswith(magic)
    if fmt != "pdf":
        text = body.decode("utf-8")
        assert "officer-a" in text and "B-1042" in text and "Completed the academy" in text
        assert "never-launched" not in text


def test_the_report_command_refuses_bad_credentials_and_dates(app: Flask, lrs_server: str) -> None:  # noqa: F811
    bad = CliRunner().invoke(report, ["--lrs", lrs_server, "--auth", "nobody:wrong", "--since", "2026-01-01",
                                      "--until", "2026-12-31"], obj=app)
    assert bad.exit_code == 1 and "reading the LRS failed" in bad.output
    empty = CliRunner().invoke(report, ["--lrs", lrs_server, "--auth", "a:b", "--since", "2026-02-01",
                                        "--until", "2026-01-01"], obj=app)
    assert empty.exit_code == 2 and "the period is empty" in empty.output
    garbled = CliRunner().invoke(report, ["--lrs", lrs_server, "--auth", "a:b", "--since", "soon",
                                          "--until", "2026-01-01"], obj=app)
    assert garbled.exit_code == 2
