"""Keep each registration's progress summary (``ModuleRegistration.attempt_count`` ... ``seconds_on_task``) in step.

The dashboard filters, sorts and counts officers by status over a whole course; aggregating every attempt
of a 10,000-officer course per request cost 200-400 ms (GUIDE §9: extract at write time what reports
filter and group on). So the summary lives on the registration and is recomputed here, from that
registration's own attempts (a handful of rows), whenever an attempt is added or one of the attempt
columns it summarises changes.

It runs after every ORM flush that touched an attempt (``after_flush``), in the same transaction: the
player services (start, answer, tick, finish), the demo and tests that add attempts directly all keep
it right without having to remember to call anything, and a rolled-back step rolls the summary back too.
Recomputing (rather than adding deltas) means a summary can never drift from its attempts. Writes that
bypass the ORM unit of work (Core or bulk INSERT/UPDATE on ``attempt``) must call ``refresh`` themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, and_, case, event, func, inspect, select, update
from sqlalchemy.orm import Session, UOWTransaction

from lti_tool.models.player import Attempt, ModuleRegistration

# The attempt columns the summary is made of: a change to any other (screen, history...) needs no refresh.
SUMMARISED = ("started_at", "last_activity_at", "seconds_on_task", "completed_at", "score", "passed",
              "registration_pk")


def totals(registration_pks: Iterable[int] | None = None) -> Select[*tuple[Any, ...]]:
    """Return the summary of each registration's attempts, computed from the attempts (all, or these)."""
    a = Attempt
    query = select(
        a.registration_pk,
        func.count(a.id).label("attempt_count"),
        func.min(a.started_at).label("first_started_at"),
        func.max(a.last_activity_at).label("last_activity_at"),
        func.max(a.completed_at).label("last_completed_at"),
        func.max(case((a.passed.is_(True), a.completed_at))).label("last_passed_at"),
        func.max(case((and_(a.passed.is_(None), a.completed_at.is_not(None)), a.completed_at))).label("last_done_at"),
        func.max(case((a.passed.is_(False), a.completed_at))).label("last_failed_at"),
        func.max(case((a.completed_at.is_(None), 1), else_=0)).label("open"),
        func.max(a.score).label("best_score"),
        func.coalesce(func.sum(a.seconds_on_task), 0).label("seconds_on_task"),
    ).group_by(a.registration_pk)
    if registration_pks is not None:
        query = query.where(a.registration_pk.in_(list(registration_pks)))
    return query


def refresh(session: Session, registration_pks: Iterable[int] | None) -> None:
    """Recompute the summary of these registrations (None: of every one) from their attempts, in one UPDATE."""
    pks = None if registration_pks is None else sorted(set(registration_pks))
    if pks == []:
        return
    t = totals(pks).subquery("t")
    # Core execution on the connection: no ORM synchronisation of loaded objects (see _expire_loaded).
    statement = update(ModuleRegistration).where(ModuleRegistration.id == t.c.registration_pk).values(
        attempt_count=t.c.attempt_count, first_started_at=t.c.first_started_at,
        last_activity_at=t.c.last_activity_at, last_completed_at=t.c.last_completed_at,
        last_passed_at=t.c.last_passed_at, last_done_at=t.c.last_done_at, last_failed_at=t.c.last_failed_at,
        in_progress=t.c.open == 1, best_score=t.c.best_score, seconds_on_task=t.c.seconds_on_task,
    )
    # The connection, not session.execute: that would autoflush from inside a flush.
    session.connection().execute(statement)


def _touched(session: Session) -> set[int]:
    found = {o.registration_pk for o in session.new if isinstance(o, Attempt)}
    for o in session.dirty:
        if isinstance(o, Attempt):
            state = inspect(o)
            if any(state.attrs[name].history.has_changes() for name in SUMMARISED):
                found.add(o.registration_pk)
                found.update(v for v in state.attrs.registration_pk.history.deleted if v is not None)
    return found


SUMMARY_ATTRS = ("attempt_count", "first_started_at", "last_activity_at", "last_completed_at", "last_passed_at",
                 "last_done_at", "last_failed_at", "in_progress", "best_score", "seconds_on_task")


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: UOWTransaction) -> None:
    # After the flush, ``new`` and ``dirty`` still list what was written, with attribute history.
    touched = _touched(session)
    if touched:
        refresh(session, touched)
        session.info.setdefault("progress_refreshed", set()).update(touched)


@event.listens_for(Session, "after_flush_postexec")
def _expire_loaded(session: Session, _context: UOWTransaction) -> None:
    # A registration loaded in this session holds the summary as it was read: reload it on next access.
    for pk in session.info.pop("progress_refreshed", ()):
        loaded = session.identity_map.get(inspect(ModuleRegistration).identity_key_from_primary_key((pk,)))
        if loaded is not None:
            session.expire(loaded, SUMMARY_ATTRS)
