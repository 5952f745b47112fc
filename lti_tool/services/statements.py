"""Queue the xAPI statements that describe what a learner did, in the transaction that records it.

Session verbs follow cmi5: a launch opens a session (launched), a new attempt starts it
(initialized) or a return to an attempt in progress continues it (resumed), and one closing verb
ends it: terminated when the attempt finishes, suspended when the learner comes back in a new
session before the old one timed out, abandoned when it timed out (``sweep_abandoned``, run by the
delivery worker, or the learner's next launch). Suspended is found server-side rather than by a
``pagehide`` beacon: every form post in the player unloads the page, so a beacon cannot tell
"left" from "next screen", and a beacon is lost when the browser dies anyway.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.content import DecisionScreen, Module, get_content
from lti_tool.db import utcnow
from lti_tool.models import (
    Attempt,
    DecisionRecord,
    Launch,
    Membership,
    ModuleRegistration,
    PolicyAcknowledgement,
    StatementState,
    ToolSession,
)
from lti_tool.models.compliance import ModuleRequirement
from lti_tool.player_view import STAGE_NAMES, progress
from xapi import builders_events as events
from xapi import outbox, vocab
from xapi.builders import Course, Learner, ModuleRef, Requirement, StatementContext

Statements = list[dict[str, Any]]


def session_id(tool_session: ToolSession) -> str:
    """Return the xAPI session id of a tool session: a UUID derived from it, not the id itself."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{vocab.NS}/sessions/{tool_session.id}"))


def _module_ref(slug: str, version: int) -> ModuleRef:
    content = get_content()
    module = content.modules.get(slug)
    return ModuleRef(slug=slug, title=module.title if module else slug, version=version,
                     curriculum_id=content.curriculum.id, curriculum_title=content.curriculum.title,
                     objectives=module.objectives if module else (), minutes=module.minutes if module else None)


def _requirements(session: Session, launch: Launch) -> tuple[Requirement, ...] | None:
    """Return the course's module requirements as they stand (None without a course)."""
    if launch.context_pk is None:
        return None
    rows = session.scalars(select(ModuleRequirement).where(ModuleRequirement.context_pk == launch.context_pk)
                           .order_by(ModuleRequirement.module))
    return tuple(Requirement(module=r.module, due_date=r.due_date, recert_months=r.recert_months,
                             credit_minutes=r.credit_minutes, required=r.required) for r in rows)


def _agency_id(session: Session, launch: Launch) -> str:
    if launch.context_pk is None or not launch.deployment.identify_learners_by_name:
        return ""
    found = session.scalar(select(Membership.agency_id).where(Membership.user_pk == launch.user_pk,
                                                              Membership.context_pk == launch.context_pk))
    return found or ""


def _context(launch: Launch, sid: str, reg: ModuleRegistration, version: int,
             session: Session | None = None) -> StatementContext:
    """Describe a statement's learner, module and course; with ``session``, also the course's requirements.

    The requirements (and the agency id) travel on milestone statements only, so only those pay the queries.
    """
    deployment, user = launch.deployment, launch.user
    learner = Learner(issuer=deployment.platform.issuer, sub=user.sub, name=user.name, email=user.email,
                      identify_by_name=deployment.identify_learners_by_name,
                      agency_id=_agency_id(session, launch) if session is not None else "")
    course = Course(launch.context.context_id, launch.context.title) if launch.context else None
    return StatementContext(
        base_url=current_app.config["PUBLIC_URL"], learner=learner, deployment_id=deployment.deployment_id,
        registration=reg.registration, session_id=sid, module=_module_ref(reg.module, version), course=course,
        requirements=_requirements(session, launch) if session is not None else None,
    )


def _queue(session: Session, launch: Launch, statements: Statements) -> None:
    deployment = launch.deployment
    outbox.enqueue(session, statements, issuer=deployment.platform.issuer, deployment_id=deployment.deployment_id)


def _state(session: Session, reg: ModuleRegistration) -> StatementState:
    state = session.get(StatementState, reg.id)
    if state is None:
        state = StatementState(registration_pk=reg.id, open=False, seconds_at_start=0)
        session.add(state)
    return state


def _ttl() -> int:
    return int(current_app.config["SESSION_TTL"])


def _close_previous(session: Session, state: StatementState, reg: ModuleRegistration, now: datetime) -> None:
    """Close the other session still open on this registration: suspended, or abandoned if it timed out."""
    if not state.open:
        return
    attempt = _attempt(session, reg, state.attempt_number)
    if attempt is None or attempt.completed_at is not None or state.launch is None or state.session_id is None:
        # Nothing left to describe it with (the attempt finished, or its launch was deleted).
        _mark_closed(state, "abandoned" if attempt is not None and attempt.completed_at is None else "terminated", now)
        return
    timed_out = attempt.last_activity_at + timedelta(seconds=_ttl())
    build = events.abandoned if timed_out <= now else events.suspended
    at = min(timed_out, now) if timed_out <= now else attempt.last_activity_at
    ctx = _context(state.launch, state.session_id, reg, attempt.content_version)
    _queue(session, state.launch, [build(ctx, at, attempt.seconds_on_task - state.seconds_at_start)])
    _mark_closed(state, "abandoned" if timed_out <= now else "suspended", now)


def _mark_closed(state: StatementState, verb: str, now: datetime) -> None:
    state.open, state.closed_with, state.closed_at = False, verb, now


def _attempt(session: Session, reg: ModuleRegistration, number: int | None) -> Attempt | None:
    if number is None:
        return None
    return session.scalar(select(Attempt).where(Attempt.registration_pk == reg.id, Attempt.number == number))


def _ensure_launched(session: Session, via: ToolSession, reg: ModuleRegistration, version: int,
                     now: datetime) -> StatementState:
    state = _state(session, reg)
    sid = session_id(via)
    if state.session_id != sid:
        _close_previous(session, state, reg, now)
    if state.launched_session != sid:
        _queue(session, via.launch, [events.launched(_context(via.launch, sid, reg, version, session), now)])
        state.launched_session = sid
    return state


def launched(session: Session, via: ToolSession, reg: ModuleRegistration, module: Module) -> None:
    """Queue ``launched`` for a learner's launch into a module (closing a session left open before)."""
    _ensure_launched(session, via, reg, module.version, utcnow())


def _open(state: StatementState, via: ToolSession, attempt: Attempt) -> None:
    state.session_id, state.launch_pk, state.attempt_number = session_id(via), via.launch_pk, attempt.number
    state.open, state.seconds_at_start, state.closed_with, state.closed_at = True, attempt.seconds_on_task, None, None


def attempt_started(session: Session, via: ToolSession, attempt: Attempt) -> None:
    """Queue ``initialized`` for a new attempt (after ``launched`` if this session has not sent it)."""
    reg = attempt.registration
    state = _ensure_launched(session, via, reg, attempt.content_version, attempt.started_at)
    ctx = _context(via.launch, session_id(via), reg, attempt.content_version, session)
    _queue(session, via.launch, [events.initialized(ctx, attempt.started_at, attempt.number)])
    _open(state, via, attempt)


def joined(session: Session, via: ToolSession, attempt: Attempt) -> None:
    """Before a step of an attempt in progress: queue ``resumed`` if this session is not the one playing it."""
    if attempt.completed_at is not None:
        return
    reg, sid, now = attempt.registration, session_id(via), utcnow()
    state = _state(session, reg)
    if state.open and state.session_id == sid and state.attempt_number == attempt.number:
        return
    state = _ensure_launched(session, via, reg, attempt.content_version, now)
    ctx = _context(via.launch, sid, reg, attempt.content_version)
    _queue(session, via.launch, [events.resumed(ctx, now, attempt.number)])
    _open(state, via, attempt)


def _decision(record: DecisionRecord, screen: DecisionScreen) -> events.Decision:
    choices = tuple(events.DecisionChoice(c.id, c.text, c.best) for c in screen.choices)
    return events.Decision(screen=screen.id, title=screen.title, prompt=screen.prompt, stage=record.stage,
                           choices=choices, chosen=record.choice, tactic=record.tactic, rank=record.rank,
                           scenario=screen.scenario)


def answered(session: Session, via: ToolSession, attempt: Attempt, module: Module, record: DecisionRecord) -> None:
    """Queue ``answered`` for a decision, then ``progressed`` unless the answer ended the attempt."""
    screen = module.screen(record.screen)
    assert isinstance(screen, DecisionScreen)  # noqa: S101  (a record is only made on a decision)
    ctx = _context(via.launch, session_id(via), attempt.registration, attempt.content_version)
    found: Statements = [events.answered(ctx, record.answered_at, _decision(record, screen), attempt=attempt.number)]
    if attempt.completed_at is None:
        seen = progress(attempt, module)
        found.append(events.progressed(ctx, record.answered_at, round(100 * seen.done / max(seen.total, 1))))
    _queue(session, via.launch, found)


def finished(session: Session, via: ToolSession, attempt: Attempt, module: Module) -> None:
    """Queue the end of an attempt: a result per stage reached, completed, passed or failed, terminated."""
    # Called right after the player's _finish, which sets both.
    assert attempt.completed_at is not None  # noqa: S101
    assert attempt.score is not None  # noqa: S101
    at, reg = attempt.completed_at, attempt.registration
    ctx = _context(via.launch, session_id(via), reg, attempt.content_version, session)
    found: Statements = [
        events.stage_result(ctx, at, r.stage, STAGE_NAMES.get(r.stage, f"Stage {r.stage}"), r.scaled,
                            r.scaled >= module.mastery)
        for r in attempt.stage_results
    ]
    state = _state(session, reg)
    found += [
        events.completed(ctx, at, attempt.seconds_on_task, attempt=attempt.number),
        events.judged(ctx, at, attempt.score, bool(attempt.passed), attempt.seconds_on_task, attempt=attempt.number),
        events.terminated(ctx, at, attempt.seconds_on_task - state.seconds_at_start),
    ]
    _queue(session, via.launch, found)
    _mark_closed(state, "terminated", at)


def acknowledged(session: Session, via: ToolSession, attempt: Attempt, ack: PolicyAcknowledgement) -> None:
    """Queue the acknowledgement of an agency policy version made within a module attempt."""
    ctx = _context(via.launch, session_id(via), attempt.registration, attempt.content_version)
    statement = events.acknowledged(ctx, ack.acknowledged_at, ack.policy.version, ack.policy.title)
    _queue(session, via.launch, [statement])


def sweep_abandoned(session: Session, now: datetime, *, session_ttl: int | None = None) -> int:
    """Queue ``abandoned`` once for every open session idle beyond the session TTL; return how many.

    Safe to run from several workers: rows are locked (skipped when locked) on PostgreSQL, and a
    closed state is never picked again. Needs an app context (public URL and content).
    """
    ttl = _ttl() if session_ttl is None else session_ttl
    rows = session.execute(
        select(StatementState, Attempt)
        .join(ModuleRegistration, ModuleRegistration.id == StatementState.registration_pk)
        .join(Attempt, (Attempt.registration_pk == ModuleRegistration.id)
              & (Attempt.number == StatementState.attempt_number))
        .where(StatementState.open.is_(True), Attempt.completed_at.is_(None),
               Attempt.last_activity_at < now - timedelta(seconds=ttl))
        .with_for_update(of=StatementState, skip_locked=True)
    ).all()
    for state, attempt in rows:
        if state.launch is None or state.session_id is None:
            _mark_closed(state, "abandoned", now)
            continue
        ctx = _context(state.launch, state.session_id, state.registration, attempt.content_version)
        at = attempt.last_activity_at + timedelta(seconds=ttl)
        _queue(session, state.launch, [events.abandoned(ctx, at, attempt.seconds_on_task - state.seconds_at_start)])
        _mark_closed(state, "abandoned", now)
    session.flush()
    return len(rows)
