"""The compliance status rules, as SQL: one CASE per (officer, module) cell, and its inputs per module.

Everything that depends only on the module and the date (required? past its due date? due within
``DUE_SOON_DAYS``? where does the recertification window start?) is computed here in Python, once per
module, and enters the query as a literal row; what depends on the officer is read from each
registration's progress summary (kept at write time, ``lti_tool.models.progress``).
So the status of 10,000 officers is one query, and the rules live in one place (``status_case``).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Select, String, and_, case, func, literal, select, union_all
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Subquery

from lti_tool.db import UTCDateTime
from lti_tool.models import Attempt, ModuleRegistration, Waiver

# A required module due within this many days (and not yet done) is "due soon".
DUE_SOON_DAYS = 30

# Statuses in order of severity: an officer's overall status is their most severe module's.
OVERDUE, DUE_SOON, FAILED, NOT_STARTED, IN_PROGRESS, COMPLETED, PASSED, WAIVED = (
    "overdue", "due_soon", "failed", "not_started", "in_progress", "completed", "passed", "waived")
STATUSES: tuple[str, ...] = (OVERDUE, DUE_SOON, FAILED, NOT_STARTED, IN_PROGRESS, COMPLETED, PASSED, WAIVED)
RANK = {name: rank for rank, name in enumerate(STATUSES)}
LABELS = {
    OVERDUE: "Overdue", DUE_SOON: "Due soon", FAILED: "Failed", NOT_STARTED: "Not started",
    IN_PROGRESS: "In progress", COMPLETED: "Completed", PASSED: "Passed", WAIVED: "Waived",
}
# Statuses that satisfy a requirement.
DONE = frozenset({COMPLETED, PASSED, WAIVED})
# Far enough back that every attempt counts (a recertification interval of 0 months: never expires).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def add_months(at: datetime, months: int) -> datetime:
    """Return ``at`` moved by whole calendar months (clamped to the month's last day)."""
    index = at.month - 1 + months
    year, month = at.year + index // 12, index % 12 + 1
    return at.replace(year=year, month=month, day=min(at.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class ModuleRule:
    """What one module of a course asks, as of ``now``: the per-module inputs of the status CASE."""

    module: str
    required: bool
    due_date: date | None
    recert_months: int
    now: datetime

    @property
    def window_start(self) -> datetime:
        """Completions since then count; older ones have expired (0 months: they never expire)."""
        return EPOCH if self.recert_months <= 0 else add_months(self.now, -self.recert_months)

    @property
    def past_due(self) -> bool:
        # Due at the end of the due day (UTC): overdue from the next day.
        return self.required and self.due_date is not None and self.now.date() > self.due_date

    @property
    def due_soon(self) -> bool:
        today = self.now.date()
        return (self.required and self.due_date is not None
                and today <= self.due_date <= today + timedelta(days=DUE_SOON_DAYS))

    @property
    def expired_is_overdue(self) -> bool:
        # Without a due date, a required refresher is due when the last completion expires.
        return self.required and self.due_date is None


def rules_table(rules: list[ModuleRule]) -> Subquery:
    """Return the rules as a derived table (UNION ALL of literal rows: portable to SQLite and PostgreSQL)."""
    rows = [
        select(
            literal(r.module, String()).label("module"),
            literal(r.window_start, UTCDateTime()).label("window_start"),
            literal(int(r.past_due), Integer()).label("past_due"),
            literal(int(r.due_soon), Integer()).label("due_soon"),
            literal(int(r.expired_is_overdue), Integer()).label("expired_overdue"),
        )
        for r in rules
    ]
    if len(rows) == 1:
        return rows[0].subquery("rules")
    return union_all(*rows).subquery("rules")


# Read each officer's per-module figures from the registration's progress summary (kept at write time by
# ``lti_tool.models.progress``). False aggregates every attempt per request instead, as before the summary:
# only bench/dashboard.py sets it, to print both side by side; the results are the same.
USE_SUMMARY = True


def attempt_totals(users: Select[Any] | list[int], *, modules: list[str] | None = None,
                   light: bool = False) -> Subquery:
    """Return each officer's figures per module: counts, dates, best score, time on task (one row each).

    ``light`` keeps only what the status needs (for filters, sorts and counts over a whole course);
    ``modules`` limits the rows to those modules.
    """
    if not USE_SUMMARY:
        return _aggregated_totals(users, modules=modules, light=light)
    reg = ModuleRegistration
    status_columns = [
        reg.last_passed_at.label("passed_at"), reg.last_done_at.label("done_at"),
        reg.last_failed_at.label("failed_at"), case((reg.in_progress.is_(True), 1), else_=0).label("open"),
    ]
    facts = [] if light else [
        reg.attempt_count.label("attempts"), reg.first_started_at.label("started_at"),
        reg.last_activity_at.label("last_activity_at"), reg.last_completed_at.label("completed_at"),
        reg.best_score.label("best_score"), reg.seconds_on_task.label("seconds"),
    ]
    # One row per registration: no GROUP BY (a registration without attempts reads as not started, as before).
    query = select(reg.user_pk, reg.module, *status_columns, *facts)
    if isinstance(users, list):
        query = query.where(reg.user_pk.in_(users))
    # A whole course (``users`` a query): every caller outer-joins these rows on the officer, which already
    # limits them to the course; an IN over the course here too cost PostgreSQL a second hash join (~30%).
    if modules is not None:
        query = query.where(reg.module.in_(modules))
    return query.subquery("totals")


def _aggregated_totals(users: Select[Any] | list[int], *, modules: list[str] | None = None,
                       light: bool = False) -> Subquery:
    a, reg = Attempt, ModuleRegistration
    status_columns = [
        func.max(case((a.passed.is_(True), a.completed_at))).label("passed_at"),
        func.max(case((and_(a.passed.is_(None), a.completed_at.is_not(None)), a.completed_at))).label("done_at"),
        func.max(case((a.passed.is_(False), a.completed_at))).label("failed_at"),
        func.max(case((a.completed_at.is_(None), 1), else_=0)).label("open"),
    ]
    facts = [] if light else [
        func.count(a.id).label("attempts"),
        func.min(a.started_at).label("started_at"),
        func.max(a.last_activity_at).label("last_activity_at"),
        func.max(a.completed_at).label("completed_at"),
        func.max(a.score).label("best_score"),
        func.coalesce(func.sum(a.seconds_on_task), 0).label("seconds"),
    ]
    query = (select(reg.user_pk, reg.module, *status_columns, *facts)
             .join(a, a.registration_pk == reg.id).where(reg.user_pk.in_(users)))
    if modules is not None:
        query = query.where(reg.module.in_(modules))
    return query.group_by(reg.user_pk, reg.module).subquery("totals")


def active_waivers(context_pk: int) -> Subquery:
    """Return the waivers in force in a course, one per officer and module."""
    return (
        select(Waiver.user_pk, Waiver.module, func.max(Waiver.id).label("waiver_id"))
        .where(Waiver.context_pk == context_pk, Waiver.revoked_at.is_(None))
        .group_by(Waiver.user_pk, Waiver.module)
        .subquery("waivers")
    )


def status_case(rules: Subquery, totals: Subquery, waivers: Subquery) -> ColumnElement[int]:
    """Return the status rank of a cell (see ``STATUSES``); the order of the branches is the rule.

    Waived beats everything; a pass (or a completion of a module without a verdict) inside the
    recertification window counts; otherwise a required module is overdue past its due date, or,
    without a due date, once an earlier completion has expired; due soon when its due date is at most
    ``DUE_SOON_DAYS`` away; then in progress, failed (within the window), not started.
    """
    credit = func.coalesce(totals.c.passed_at, totals.c.done_at)
    return case(
        (waivers.c.waiver_id.is_not(None), RANK[WAIVED]),
        (totals.c.passed_at >= rules.c.window_start, RANK[PASSED]),
        (totals.c.done_at >= rules.c.window_start, RANK[COMPLETED]),
        (rules.c.past_due == 1, RANK[OVERDUE]),
        (and_(rules.c.expired_overdue == 1, credit.is_not(None)), RANK[OVERDUE]),
        (rules.c.due_soon == 1, RANK[DUE_SOON]),
        (totals.c.open == 1, RANK[IN_PROGRESS]),
        (totals.c.failed_at >= rules.c.window_start, RANK[FAILED]),
        else_=RANK[NOT_STARTED],
    )
