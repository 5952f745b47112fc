"""Compliance statuses from real rows: every status, the rules' edges, overall status, summary, sort/filter/paging."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models import Attempt, Deployment, LtiContext, LtiUser, Membership, ModuleRegistration, ModuleRequirement
from lti_tool.models.compliance import Waiver
from lti_tool.services import compliance
from lti_tool.services.compliance_rules import add_months
from tests.conftest import Router
from tests.platform import FakePlatform

DB = Callable[[], AbstractContextManager[Session]]
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


@dataclass
class Course:
    """A course seeded with rows: its id and helpers to add officers, attempts, requirements and waivers."""

    session: Session
    context: LtiContext

    def officer(self, sub: str, name: str, *, active: bool = True, source: str = "launch",
                role: str = "learner") -> LtiUser:
        user = LtiUser(deployment_pk=self.context.deployment_pk, sub=sub, name=name, email=f"{sub}@agency.example")
        self.session.add(user)
        self.session.flush()
        self.session.add(Membership(user_pk=user.id, context_pk=self.context.id, role=role, source=source,
                                    active=active, left_at=None if active else at("2026-05-01")))
        self.session.flush()
        return user

    def attempt(self, user: LtiUser, module: str, *, started: str, completed: str | None = None,
                passed: bool | None = None, score: float | None = None, seconds: int = 300) -> Attempt:
        reg = self.session.scalar(select(ModuleRegistration).where(
            ModuleRegistration.user_pk == user.id, ModuleRegistration.module == module))
        if reg is None:
            reg = ModuleRegistration(user_pk=user.id, module=module, registration=str(uuid.uuid4()))
            self.session.add(reg)
            self.session.flush()
        number = len(self.session.scalars(select(Attempt).where(Attempt.registration_pk == reg.id)).all()) + 1
        attempt = Attempt(registration_pk=reg.id, number=number, content_version=1, screen="s", history=["s"],
                          started_at=at(started), last_activity_at=at(completed or started), seconds_on_task=seconds,
                          completed_at=at(completed) if completed else None, score=score, passed=passed)
        self.session.add(attempt)
        self.session.flush()
        return attempt

    def require(self, module: str, *, required: bool = True, due: date | None = None, months: int = 12,
                credit: int | None = None) -> None:
        self.session.add(ModuleRequirement(context_pk=self.context.id, module=module, required=required,
                                           due_date=due, recert_months=months, credit_minutes=credit))
        self.session.flush()

    def waive(self, user: LtiUser, module: str, *, revoked: bool = False, context_pk: int | None = None) -> None:
        self.session.add(Waiver(context_pk=context_pk or self.context.id, user_pk=user.id, module=module,
                                reason="Equivalent academy course", revoked_at=at("2026-06-01") if revoked else None))
        self.session.flush()


def make_course(session: Session, deployment_pk: int, context_id: str = "course-1") -> Course:
    context = LtiContext(deployment_pk=deployment_pk, context_id=context_id, title=f"Course {context_id}")
    session.add(context)
    session.flush()
    return Course(session, context)


@pytest.fixture
def deployment_pk(db: DB, router: Router) -> int:
    with db() as session:
        FakePlatform().install(session, router)
        return session.scalars(select(Deployment.id)).one()


@pytest.fixture
def seeded(db: DB, deployment_pk: int) -> dict[str, int]:
    """A course with officers a to e (see EXPECTED), a coordinator, and another course."""
    with db() as session:
        course, other = make_course(session, deployment_pk), make_course(session, deployment_pk, "course-2")
        course.require("five-stages", due=date(2026, 6, 1))  # past due
        course.require("three-ds", due=date(2026, 7, 1))  # due in 16 days
        course.require("why-intervene")  # required, no due date
        course.require("legal-duty", required=False)
        a, b, c = course.officer("a", "Alvarez Ana"), course.officer("b", "Brown Ben"), course.officer("c", "Chen Cy")
        d = course.officer("d", "Diaz Dee", source="nrps")  # never launched
        e = course.officer("e", "Evans Eve", active=False)  # left
        course.officer("coord", "Coordinator Kim", role="coordinator")
        course.attempt(a, "five-stages", started="2026-04-01", completed="2026-04-01", passed=False, score=0.5)
        course.attempt(a, "five-stages", started="2026-05-01", completed="2026-05-01", passed=True, score=0.9)
        course.attempt(a, "why-intervene", started="2025-01-01", completed="2025-01-01", passed=True, score=1.0)
        course.attempt(a, "legal-duty", started="2026-06-14")
        course.attempt(b, "three-ds", started="2026-06-10", completed="2026-06-10", passed=False, score=0.4)
        course.attempt(b, "why-intervene", started="2026-03-01", completed="2026-03-01", passed=None)
        course.attempt(b, "legal-duty", started="2026-05-01", completed="2026-05-01", passed=False, score=0.2)
        course.waive(b, "three-ds", revoked=True)
        course.waive(c, "five-stages")
        course.waive(a, "why-intervene", context_pk=other.context.id)  # another course's waiver: no effect here
        course.attempt(c, "three-ds", started="2026-06-01", completed="2026-06-01", passed=True, score=0.8)
        course.attempt(c, "why-intervene", started="2025-01-01", completed="2025-01-01", passed=False, score=0.1)
        course.attempt(c, "legal-duty", started="2024-01-01", completed="2024-01-01", passed=True, score=0.9)
        return {"context": course.context.id, "a": a.id, "b": b.id, "c": c.id, "d": d.id, "e": e.id}


EXPECTED = {
    "a": {"five-stages": "passed", "three-ds": "due_soon", "why-intervene": "overdue", "legal-duty": "in_progress"},
    "b": {"five-stages": "overdue", "three-ds": "due_soon", "why-intervene": "completed", "legal-duty": "failed"},
    "c": {"five-stages": "waived", "three-ds": "passed", "why-intervene": "not_started", "legal-duty": "not_started"},
    "d": {"five-stages": "overdue", "three-ds": "due_soon", "why-intervene": "not_started",
          "legal-duty": "not_started"},
}
OVERALL = {"a": "overdue", "b": "overdue", "c": "not_started", "d": "overdue", "e": "overdue"}


def rows(db: DB, app: Flask, context_pk: int, **options: object) -> compliance.Page[compliance.OfficerRow]:
    with app.app_context(), db() as session:
        return compliance.officer_status(session, context_pk, now=NOW, **options)  # type: ignore[arg-type]


def test_every_status_follows_the_rules(db: DB, app: Flask, seeded: dict[str, int]) -> None:
    page = rows(db, app, seeded["context"])
    by_sub = {row.sub: row for row in page.items}
    assert sorted(by_sub) == ["a", "b", "c", "d", "e"]  # the coordinator is not an officer
    for sub, modules in EXPECTED.items():
        assert {m: by_sub[sub].modules[m].status for m in modules} == modules, sub
    assert {sub: row.overall for sub, row in by_sub.items()} == OVERALL
    assert by_sub["e"].active is False and by_sub["e"].left_at is not None
    assert by_sub["d"].source == "nrps" and all(s.attempts == 0 for s in by_sub["d"].modules.values())


def test_module_facts_dates_best_score_attempts_minutes(db: DB, app: Flask, seeded: dict[str, int]) -> None:
    with app.app_context(), db() as session:
        row = compliance.officer(session, seeded["context"], seeded["a"], now=NOW)
    assert row is not None
    five = row.modules["five-stages"]
    assert (five.attempts, five.best_score, five.seconds_on_task, five.minutes) == (2, 0.9, 600, 10)
    assert five.started_at == at("2026-04-01") and five.completed_at == five.passed_at == at("2026-05-01")
    assert five.recert_due == date(2027, 5, 1) and five.due_date == date(2026, 6, 1) and five.required
    assert row.modules["why-intervene"].recert_due == date(2026, 1, 1)  # expired: hence overdue
    assert row.modules["legal-duty"].completed_at is None and row.modules["legal-duty"].recert_due is None


def test_officer_of_another_course_is_none(db: DB, app: Flask, seeded: dict[str, int], deployment_pk: int) -> None:
    with app.app_context(), db() as session:
        other = make_course(session, deployment_pk, "course-3")
        stranger = other.officer("z", "Zed")
        assert compliance.officer(session, seeded["context"], stranger.id, now=NOW) is None
        assert compliance.officer(session, other.context.id, seeded["a"], now=NOW) is None


def test_a_refresher_interval_of_zero_never_expires(db: DB, app: Flask, seeded: dict[str, int]) -> None:
    with db() as session:
        req = session.scalars(select(ModuleRequirement).where(ModuleRequirement.module == "why-intervene")).one()
        req.recert_months = 0
    with app.app_context(), db() as session:
        row = compliance.officer(session, seeded["context"], seeded["a"], now=NOW)
    assert row is not None and row.modules["why-intervene"].status == "passed"
    assert row.modules["why-intervene"].recert_due is None


@pytest.mark.parametrize(("now", "expected"), [
    (datetime(2026, 6, 1, 23, 59, tzinfo=UTC), "due_soon"),  # the due day itself is not overdue
    (datetime(2026, 6, 2, 0, 0, tzinfo=UTC), "overdue"),
    (datetime(2026, 5, 2, 0, 0, tzinfo=UTC), "due_soon"),  # 30 days before
    (datetime(2026, 5, 1, 23, 0, tzinfo=UTC), "not_started"),  # 31 days before
])
def test_due_date_edges(db: DB, app: Flask, deployment_pk: int, now: datetime, expected: str) -> None:
    with db() as session:
        course = make_course(session, deployment_pk)
        course.require("five-stages", due=date(2026, 6, 1))
        user = course.officer("x", "X")
        ids = course.context.id, user.id
    with app.app_context(), db() as session:
        row = compliance.officer(session, ids[0], ids[1], now=now)
    assert row is not None and row.modules["five-stages"].status == expected


def test_without_required_modules_overall_looks_at_every_module(db: DB, app: Flask, deployment_pk: int) -> None:
    with db() as session:
        course = make_course(session, deployment_pk)
        user = course.officer("x", "X")
        course.attempt(user, "three-ds", started="2026-06-01", completed="2026-06-01", passed=True, score=1)
        ids = course.context.id, user.id
    with app.app_context(), db() as session:
        row = compliance.officer(session, ids[0], ids[1], now=NOW)
    assert row is not None and row.overall == "not_started"
    assert row.modules["three-ds"].status == "passed" and not row.modules["three-ds"].required


def test_summary_counts_current_officers(db: DB, app: Flask, seeded: dict[str, int]) -> None:
    with app.app_context(), db() as session:
        summary = compliance.context_summary(session, seeded["context"], now=NOW)
    assert (summary.officers, summary.left) == (4, 1)
    five = {k: v for k, v in summary.by_module["five-stages"].items() if v}
    assert five == {"passed": 1, "overdue": 2, "waived": 1}
    assert {k: v for k, v in summary.by_module["legal-duty"].items() if v} == {
        "in_progress": 1, "failed": 1, "not_started": 2}
    assert {k: v for k, v in summary.overall.items() if v} == {"overdue": 3, "not_started": 1}
    required = {r.module for r in summary.requirements if r.required}
    assert required == {"five-stages", "three-ds", "why-intervene"}


@pytest.mark.parametrize(("options", "subs"), [
    ({}, ["a", "b", "c", "d", "e"]),
    ({"descending": True}, ["e", "d", "c", "b", "a"]),
    ({"sort": "sub", "descending": True}, ["e", "d", "c", "b", "a"]),
    ({"status": "overdue"}, ["a", "b", "d", "e"]),
    ({"status": "overdue", "roster": "current"}, ["a", "b", "d"]),
    ({"roster": "left"}, ["e"]),
    ({"status": "failed", "module": "legal-duty"}, ["b"]),
    ({"status": "waived", "module": "five-stages"}, ["c"]),
    ({"status": "passed"}, []),
    ({"sort": "status"}, ["a", "b", "d", "e", "c"]),
    ({"sort": "status", "descending": True}, ["c", "e", "d", "b", "a"]),
    ({"sort": "status", "module": "three-ds"}, ["a", "b", "d", "e", "c"]),
    ({"search": "BROWN"}, ["b"]),
    ({"search": "d", "status": "overdue"}, ["d"]),
])
def test_sort_filter_search(db: DB, app: Flask, seeded: dict[str, int], options: dict[str, object],
                            subs: list[str]) -> None:
    page = rows(db, app, seeded["context"], **options)
    assert [row.sub for row in page.items] == subs
    assert page.total == len(subs)


def test_paging(db: DB, app: Flask, seeded: dict[str, int]) -> None:
    first, last = rows(db, app, seeded["context"], per_page=2), rows(db, app, seeded["context"], per_page=2, page=3)
    assert [r.sub for r in first.items] == ["a", "b"] and (first.total, first.pages) == (5, 3)
    assert [r.sub for r in last.items] == ["e"]
    beyond = rows(db, app, seeded["context"], per_page=2, page=9)
    assert beyond.items == [] and beyond.total == 5


def test_iter_officers_walks_everyone_in_batches(db: DB, app: Flask, seeded: dict[str, int]) -> None:
    with app.app_context(), db() as session:
        found = list(compliance.iter_officers(session, seeded["context"], now=NOW, batch=2))
        current = list(compliance.iter_officers(session, seeded["context"], now=NOW, roster="current"))
    assert [r.sub for r in found] == ["a", "b", "c", "d", "e"]
    assert [r.overall for r in found] == [OVERALL[r.sub] for r in found]
    assert [r.sub for r in current] == ["a", "b", "c", "d"]


def test_unknown_sort_or_module_is_refused(db: DB, app: Flask, seeded: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="unknown"):
        rows(db, app, seeded["context"], sort="score")
    with pytest.raises(ValueError, match="unknown module"):
        rows(db, app, seeded["context"], module="no-such-module")


def test_add_months_clamps_to_the_month_end() -> None:
    assert add_months(at("2026-01-31"), 1) == at("2026-02-28")
    assert add_months(at("2026-03-15"), -12) == at("2025-03-15")
    assert add_months(at("2024-02-29"), 12) == at("2025-02-28")
