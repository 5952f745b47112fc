"""Play a module: start or resume an attempt, answer decisions, move on, finish with stage scores."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, contains_eager

from lti_tool.content import DecisionScreen, EndScreen, Module, TeachScreen, max_points, passed, score
from lti_tool.db import utcnow
from lti_tool.lti.errors import StaleForm
from lti_tool.models import (
    AgencyPolicy,
    Attempt,
    DecisionRecord,
    LtiUser,
    ModuleRegistration,
    StageResult,
    ToolSession,
)
from lti_tool.services import gradebook, policy, statements
from lti_tool.services.records import find_or_add

# Gaps longer than this between two steps count as this long: a learner who walks away
# from the screen for an hour has not trained for an hour.
MAX_STEP_SECONDS = 300


def registration(session: Session, user: LtiUser, slug: str) -> ModuleRegistration:
    """Return the learner's registration in a module, creating it with a new UUID.

    Two first launches into one module (two tabs, a double click) may race: the loser finds the winner's row.
    """
    query = select(ModuleRegistration).where(ModuleRegistration.user_pk == user.id, ModuleRegistration.module == slug)
    return find_or_add(session, query,
                       lambda: ModuleRegistration(user_pk=user.id, module=slug, registration=str(uuid.uuid4())))


def latest_attempt(session: Session, user: LtiUser, slug: str) -> Attempt | None:
    """Return the learner's newest attempt at a module, if any, with its registration.

    Every step reads the registration (its xAPI registration id): it comes with the join already made,
    which saves each step a round trip.
    """
    return session.scalar(
        select(Attempt).join(Attempt.registration).options(contains_eager(Attempt.registration))
        .where(ModuleRegistration.user_pk == user.id, ModuleRegistration.module == slug)
        .order_by(Attempt.number.desc()).limit(1)
    )


def start(session: Session, user: LtiUser, module: Module, *, via: ToolSession) -> Attempt:
    """Resume the attempt in progress, or begin a new one (a retry keeps the old ones).

    ``via`` is the learner's tool session: every step queues its xAPI statements in this transaction.
    """
    current = latest_attempt(session, user, module.slug)
    if current is not None and current.completed_at is None:
        statements.joined(session, via, current)
        return current
    reg = registration(session, user, module.slug)
    attempt = Attempt(
        registration=reg, number=(current.number + 1) if current else 1, content_version=module.version,
        screen=module.start, history=[module.start], started_at=utcnow(), last_activity_at=utcnow(),
    )
    session.add(attempt)
    session.flush()
    statements.attempt_started(session, via, attempt)
    return attempt


def answer(session: Session, attempt: Attempt, module: Module, screen_id: str, choice_id: str, *,
           via: ToolSession) -> DecisionRecord:
    """Record the choice made on the current decision screen and move to where it leads."""
    _check_current(attempt, screen_id, expect_feedback=False)
    screen = module.screen(screen_id)
    if not isinstance(screen, DecisionScreen):
        raise StaleForm("this screen asks no question")
    try:
        choice = screen.choice(choice_id)
    except KeyError as exc:
        raise StaleForm("that answer is not one of this question's choices") from exc
    statements.joined(session, via, attempt)
    now = _tick(attempt)
    record = DecisionRecord(
        attempt_pk=attempt.id, screen=screen.id, choice=choice.id, points=choice.points,
        max_points=max_points(screen), stage=screen.stage, tactic=screen.tactic, rank=screen.rank, answered_at=now,
    )
    session.add(record)
    # Appending to the unloaded collection would load it (after an early flush): two round trips per answer
    # for a list only the finish reads, and its lazy load then finds the record in the database.
    if "decisions" not in inspect(attempt).unloaded:
        attempt.decisions.append(record)
    attempt.feedback = {"screen": screen.id, "choice": choice.id}
    _move(session, attempt, module, choice.next)
    statements.answered(session, via, attempt, module, record)
    _queue_finish(session, via, attempt, module)
    return record


def proceed(session: Session, attempt: Attempt, module: Module, screen_id: str, *, via: ToolSession) -> None:
    """Continue past a teaching screen, or past the feedback of the last decision."""
    if attempt.feedback is not None:
        # The last answer may have finished the attempt: its feedback still comes before the ending.
        if screen_id != attempt.feedback["screen"]:
            raise StaleForm("this page is out of date")
        if attempt.completed_at is None:
            statements.joined(session, via, attempt)
            _tick(attempt)
        attempt.feedback = None
        return
    _check_current(attempt, screen_id, expect_feedback=False)
    screen = module.screen(screen_id)
    if not isinstance(screen, TeachScreen):
        raise StaleForm("answer the question to go on")
    statements.joined(session, via, attempt)
    _tick(attempt)
    _move(session, attempt, module, screen.next)
    _queue_finish(session, via, attempt, module)


def back(session: Session, attempt: Attempt, module: Module, screen_id: str, *, via: ToolSession) -> None:
    """Go back to the previous teaching screen, where the content allows it."""
    _check_current(attempt, screen_id, expect_feedback=False)
    if not can_go_back(attempt, module):
        raise StaleForm("going back is not possible from this screen")
    statements.joined(session, via, attempt)
    _tick(attempt)
    attempt.history = attempt.history[:-1]
    attempt.screen = attempt.history[-1]


def can_go_back(attempt: Attempt, module: Module) -> bool:
    """Return True when the current decision allows back and the screen before it only teaches."""
    screen = module.screen(attempt.screen)
    if not isinstance(screen, DecisionScreen) or not screen.back or len(attempt.history) < 2:
        return False
    return isinstance(module.screen(attempt.history[-2]), TeachScreen)


def _check_current(attempt: Attempt, screen_id: str, expect_feedback: bool) -> None:
    # Every form names the screen it was shown on: a stale tab, a replayed submit or a
    # form from an older attempt changes nothing.
    if attempt.completed_at is not None:
        raise StaleForm("this attempt is already finished")
    showing = attempt.feedback["screen"] if attempt.feedback else attempt.screen
    if screen_id != showing or expect_feedback != (attempt.feedback is not None):
        raise StaleForm("this page is out of date")


def _tick(attempt: Attempt) -> datetime:
    now = utcnow()
    gap = (now - attempt.last_activity_at).total_seconds()
    attempt.seconds_on_task += int(min(max(gap, 0), MAX_STEP_SECONDS))
    attempt.last_activity_at = now
    return now


def _move(session: Session, attempt: Attempt, module: Module, screen_id: str) -> None:
    attempt.screen = screen_id
    attempt.history = [*attempt.history, screen_id]
    if isinstance(module.screen(screen_id), EndScreen) and not awaiting_policy(session, attempt, module):
        _finish(session, attempt, module)


def awaiting_policy(session: Session, attempt: Attempt, module: Module) -> AgencyPolicy | None:
    """Return the agency policy the learner must acknowledge before this module counts as complete."""
    if not module.policy_acknowledgement:
        return None
    return policy.pending(session, attempt.registration.user)


def acknowledge(session: Session, attempt: Attempt, module: Module, screen_id: str, version: str, *,
                via: ToolSession) -> None:
    """Record the acknowledgement of the policy version shown, then finish the attempt."""
    _check_current(attempt, screen_id, expect_feedback=False)
    required = awaiting_policy(session, attempt, module)
    if not isinstance(module.screen(screen_id), EndScreen) or required is None:
        raise StaleForm("there is no policy to acknowledge here")
    if version != str(required.version):
        raise StaleForm("a newer version of the policy has been published")
    statements.joined(session, via, attempt)
    _tick(attempt)
    policy.acknowledge(session, attempt.registration.user, required, attempt, via=via)
    _finish(session, attempt, module)
    _queue_finish(session, via, attempt, module)


def _queue_finish(session: Session, via: ToolSession, attempt: Attempt, module: Module) -> None:
    # Callers checked the attempt was in progress: a completion time now means this step finished it.
    if attempt.completed_at is not None:
        statements.finished(session, via, attempt, module)
        # The gradebook score joins the same transaction: a finish that rolls back queues nothing.
        gradebook.queue_score(session, via, attempt, module)


def _finish(session: Session, attempt: Attempt, module: Module) -> None:
    visits = [(d.screen, d.choice) for d in attempt.decisions]
    overall, _ = score(module, visits)
    totals: dict[int, list[int]] = {}
    for decision in attempt.decisions:
        earned, maximum = totals.setdefault(decision.stage, [0, 0])
        totals[decision.stage] = [earned + decision.points, maximum + decision.max_points]
    for stage, (earned, maximum) in sorted(totals.items()):
        result = StageResult(attempt_pk=attempt.id, stage=stage, earned=earned, maximum=maximum,
                             scaled=earned / maximum if maximum else 0.0)
        # Appending adds it to the session; adding it first let the collection's lazy load flush
        # and load it, and the append then listed it twice (the statements saw a stage twice).
        attempt.stage_results.append(result)
    attempt.score, attempt.passed = overall, passed(module, overall)
    attempt.completed_at = attempt.last_activity_at
    session.flush()


def latest_attempts(session: Session, user: LtiUser) -> dict[str, Attempt]:
    """Return the learner's newest attempt per module slug, for the catalogue's status column."""
    rows = session.execute(
        select(ModuleRegistration.module, Attempt).join(Attempt.registration)
        .where(ModuleRegistration.user_pk == user.id).order_by(Attempt.number)
    )
    return dict(rows.all())
