"""One officer's full record for the dashboard's officer page: attempts, choices, stage results, acknowledgements.

API::

    officer_record(session, user_pk, deployment_pk) -> OfficerRecord   # attempts (newest first) with decisions
                                                                        # and stage results, policy acks, launches
Call it only after ``compliance.officer`` has confirmed the officer belongs to the course.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from lti_tool.content import DecisionScreen, get_content
from lti_tool.models import AgencyPolicy, Attempt, Launch, ModuleRegistration, PolicyAcknowledgement


@dataclass(frozen=True)
class Choice:
    """One answered decision, with the words the officer saw when the content still has them."""

    stage: int
    question: str
    answer: str
    points: int
    max_points: int
    tactic: str | None
    rank: str | None
    answered_at: datetime


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt at a module."""

    module: str
    number: int
    content_version: int
    started_at: datetime
    completed_at: datetime | None
    score: float | None
    passed: bool | None
    seconds_on_task: int
    stages: list[tuple[int, int, int, float]]  # stage, earned, maximum, scaled
    choices: list[Choice]


@dataclass(frozen=True)
class Acknowledgement:
    """A policy version the officer acknowledged, and when."""

    version: int
    title: str
    acknowledged_at: datetime


@dataclass(frozen=True)
class OfficerRecord:
    """Everything recorded about an officer (across the agency's courses: attempts belong to the person)."""

    attempts: list[AttemptRecord]
    acknowledgements: list[Acknowledgement]
    launches: int
    last_launch_at: datetime | None


def _words(module: str, screen: str, choice: str) -> tuple[str, str]:
    found = get_content().modules.get(module)
    try:
        shown = found.screen(screen) if found else None
    except KeyError:
        shown = None
    if not isinstance(shown, DecisionScreen):
        return screen, choice
    answer = next((c.text for c in shown.choices if c.id == choice), choice)
    return shown.title or shown.prompt, answer


def _attempt(a: Attempt, module: str) -> AttemptRecord:
    choices = [Choice(d.stage, *_words(module, d.screen, d.choice), d.points, d.max_points, d.tactic, d.rank,
                      d.answered_at) for d in a.decisions]
    return AttemptRecord(module=module, number=a.number, content_version=a.content_version, started_at=a.started_at,
                         completed_at=a.completed_at, score=a.score, passed=a.passed,
                         seconds_on_task=a.seconds_on_task,
                         stages=[(s.stage, s.earned, s.maximum, s.scaled) for s in a.stage_results], choices=choices)


def officer_record(session: Session, user_pk: int, deployment_pk: int) -> OfficerRecord:
    """Return the officer's attempts, acknowledgements and launch count (three small queries and two loads)."""
    rows = session.execute(
        select(Attempt, ModuleRegistration.module)
        .join(ModuleRegistration, Attempt.registration_pk == ModuleRegistration.id)
        .where(ModuleRegistration.user_pk == user_pk)
        .options(selectinload(Attempt.decisions), selectinload(Attempt.stage_results))
        .order_by(Attempt.started_at.desc(), Attempt.id.desc())
    ).all()
    acks = session.execute(
        select(AgencyPolicy.version, AgencyPolicy.title, PolicyAcknowledgement.acknowledged_at)
        .join(AgencyPolicy, AgencyPolicy.id == PolicyAcknowledgement.policy_pk)
        .where(PolicyAcknowledgement.user_pk == user_pk, AgencyPolicy.deployment_pk == deployment_pk)
        .order_by(PolicyAcknowledgement.acknowledged_at.desc())
    ).all()
    launches, last = session.execute(
        select(func.count(Launch.id), func.max(Launch.created_at)).where(Launch.user_pk == user_pk)).one()
    return OfficerRecord(attempts=[_attempt(a, module) for a, module in rows],
                         acknowledgements=[Acknowledgement(*row) for row in acks],
                         launches=int(launches), last_launch_at=last)
