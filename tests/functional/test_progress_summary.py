"""The registration progress summary: kept in step at write time, equal to its attempts, read by the dashboard."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from lti_tool import migrate
from lti_tool.models import Attempt, LtiContext, LtiUser, ModuleRegistration, progress
from lti_tool.services import compliance, compliance_rules, reports_db
from lti_tool.services.compliance import STATUSES
from tests.functional.test_dashboard_status import NOW, at, deployment_pk, make_course, seeded  # noqa: F401
from tests.functional.test_player import Learner, best
from tests.platform import FakePlatform

DB = Callable[[], AbstractContextManager[Session]]
COLUMNS = ("attempt_count", "first_started_at", "last_activity_at", "last_completed_at", "last_passed_at",
           "last_done_at", "last_failed_at", "in_progress", "best_score", "seconds_on_task")
NONE_YET = (0, None, None, None, None, None, None, False, None, 0)  # a registration without attempts


def summaries(session: Session) -> dict[int, tuple[Any, ...]]:
    reg = ModuleRegistration
    return {row[0]: tuple(row[1:]) for row in session.execute(
        select(reg.id, *(getattr(reg, name) for name in COLUMNS)))}


def recomputed(session: Session) -> dict[int, tuple[Any, ...]]:
    t = progress.totals().subquery()
    found = dict.fromkeys(session.scalars(select(ModuleRegistration.id)), NONE_YET)
    for row in session.execute(select(t)):
        found[row.registration_pk] = (
            row.attempt_count, row.first_started_at, row.last_activity_at, row.last_completed_at, row.last_passed_at,
            row.last_done_at, row.last_failed_at, row.open == 1, row.best_score, row.seconds_on_task)
    return found


def test_summary_equals_the_attempts_it_summarises(db: DB, seeded: dict[str, int]) -> None:  # noqa: F811
    with db() as session:
        found = summaries(session)
        assert found == recomputed(session)
        reg = session.scalars(select(ModuleRegistration).join(LtiUser).where(
            LtiUser.id == seeded["a"], ModuleRegistration.module == "five-stages")).one()
        # A failed try, then a pass: two attempts, the pass and the fail dated, best score 0.9, 600 s.
        assert found[reg.id] == (2, at("2026-04-01"), at("2026-05-01"), at("2026-05-01"), at("2026-05-01"), None,
                                 at("2026-04-01"), False, 0.9, 600)


def test_summary_follows_each_write_and_rolls_back_with_it(db: DB, deployment_pk: int) -> None:  # noqa: F811
    with db() as session:
        course = make_course(session, deployment_pk)
        officer = course.officer("a", "Alvarez Ana")
        attempt = course.attempt(officer, "five-stages", started="2026-06-01", seconds=60)
        reg = session.get(ModuleRegistration, attempt.registration_pk)
        assert reg is not None and (reg.attempt_count, reg.in_progress, reg.seconds_on_task) == (1, True, 60)
        # A tick and a finish, as the player makes them: the loaded registration reads the new summary.
        attempt.seconds_on_task, attempt.last_activity_at = 180, at("2026-06-02")
        session.flush()
        assert (reg.seconds_on_task, reg.last_activity_at, reg.in_progress) == (180, at("2026-06-02"), True)
        attempt.completed_at, attempt.score, attempt.passed = at("2026-06-02"), 0.95, True
        session.flush()
        assert (reg.in_progress, reg.last_passed_at, reg.best_score) == (False, at("2026-06-02"), 0.95)
        reg_pk = reg.id
    with db() as session:
        attempt = session.scalars(select(Attempt).where(Attempt.registration_pk == reg_pk)).one()
        attempt.passed = False
        session.flush()
        assert session.get(ModuleRegistration, reg_pk).last_failed_at == at("2026-06-02")  # type: ignore[union-attr]
        session.rollback()
    with db() as session:
        assert summaries(session)[reg_pk][COLUMNS.index("last_failed_at")] is None
        assert summaries(session) == recomputed(session)


def test_the_player_keeps_the_summary(db: DB, client: Any, router: Any) -> None:
    with db() as session:
        platform = FakePlatform().install(session, router)
    learner = Learner(client, platform, "five-stages", sub="officer-9")
    assert learner.post("start").status_code == 303
    with db() as session:
        reg = session.scalars(select(ModuleRegistration)).one()
        assert (reg.attempt_count, reg.in_progress, reg.last_completed_at) == (1, True, None)
    learner.walk(best)
    with db() as session:
        reg = session.scalars(select(ModuleRegistration)).one()
        attempt = session.scalars(select(Attempt)).one()
        assert attempt.completed_at is not None and attempt.passed is True
        assert (reg.attempt_count, reg.in_progress, reg.last_passed_at, reg.best_score, reg.seconds_on_task) == (
            1, False, attempt.completed_at, attempt.score, attempt.seconds_on_task)
        assert summaries(session) == recomputed(session)


@pytest.mark.parametrize("options", [
    {}, {"sort": "status"}, {"sort": "status", "descending": True}, {"sort": "status", "module": "three-ds"},
    *({"status": s} for s in STATUSES), {"status": "failed", "module": "legal-duty"}, {"roster": "current"},
])
def test_dashboard_reads_the_same_from_the_summary_as_from_the_attempts(
        db: DB, app: Flask, seeded: dict[str, int], options: dict[str, Any],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    def read() -> tuple[Any, ...]:
        with app.app_context(), db() as session:
            page = compliance.officer_status(session, seeded["context"], now=NOW, **options)
            summary = compliance.context_summary(session, seeded["context"], now=NOW)
            return page, summary.by_module, summary.overall
    from_summary = read()
    monkeypatch.setattr(compliance_rules, "USE_SUMMARY", False)
    assert read() == from_summary
    assert from_summary[0].items or options.get("status")


def test_streamed_records_equal_the_built_report(db: DB, seeded: dict[str, int]) -> None:  # noqa: F811
    since, until = at("2020-01-01"), at("2026-07-01")
    with db() as session:
        context = session.get(LtiContext, seeded["context"])
        assert context is not None
        built = reports_db.build(session, context, since, until, generated_at=NOW, generated_by="test")
        scope, batches = reports_db.batches(session, context, since, until, generated_at=NOW, generated_by="test",
                                            batch=2)
        found = list(batches)
        assert [len(b) > 0 for b in found] == [True, True, True]  # five officers, two at a time
        assert scope == built.scope and tuple(r for b in found for r in b) == built.records
        assert len(built.records) > 5


def test_migration_backfills_the_summary(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'backfill.db'}"
    migrate.upgrade(url, "0008")
    engine = create_engine(url)
    with engine.begin() as connection:  # a plain engine: SQLite does not check the foreign keys
        connection.execute(text("INSERT INTO module_registration (id, user_pk, module, registration, created_at) "
                                "VALUES (1, 1, 'five-stages', 'r1', '2026-01-01'), (2, 1, 'three-ds', 'r2', "
                                "'2026-01-01')"))
        for number, (started, completed, score, passed) in enumerate([
                ("2026-01-01 10:00:00", "2026-01-01 10:20:00", 0.5, False),
                ("2026-02-01 10:00:00", "2026-02-01 10:30:00", 0.9, True),
                ("2026-03-01 10:00:00", None, None, None)], start=1):
            connection.execute(text(
                "INSERT INTO attempt (registration_pk, number, content_version, screen, history, started_at, "
                "last_activity_at, seconds_on_task, completed_at, score, passed) VALUES (1, :n, 1, 's', '[]', :s, "
                ":s, 100, :c, :score, :passed)"), {"n": number, "s": started, "c": completed, "score": score,
                                                    "passed": passed})
    engine.dispose()
    migrate.upgrade(url)
    with Session(create_engine(url)) as session:
        found = summaries(session)
        assert found == recomputed(session)
        assert found[1][0] == 3 and found[1][7] is True and found[1][8] == 0.9 and found[1][9] == 300
        assert found[2] == NONE_YET
        assert found[1][COLUMNS.index("last_passed_at")].date() == date(2026, 2, 1)
