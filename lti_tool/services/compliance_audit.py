"""The audit trail: every change a coordinator makes (requirements, due dates, waivers, policy versions).

API::

    record(session, deployment_pk=..., context_pk=..., actor=user_or_None, action=..., details={...}) -> AuditEvent
    trail(session, context_pk, deployment_pk, *, page=1, per_page=50) -> Page[AuditEvent]

A course's trail holds its own events and the agency-wide ones of its deployment (policy versions,
which have no course). Events are only ever added.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from lti_tool.db import utcnow
from lti_tool.models import AuditEvent, LtiUser
from lti_tool.services.compliance import Page

REQUIREMENT_SET = "requirement.set"
WAIVER_GRANTED = "waiver.granted"
WAIVER_REVOKED = "waiver.revoked"
POLICY_PUBLISHED = "policy.published"
ROSTER_SYNCED = "roster.synced"

ACTION_LABELS = {
    REQUIREMENT_SET: "Requirement changed",
    WAIVER_GRANTED: "Waiver granted",
    WAIVER_REVOKED: "Waiver revoked",
    POLICY_PUBLISHED: "Policy version published",
    ROSTER_SYNCED: "Roster synced from the LMS",
}
COMMAND_LINE = "command line"


def actor_label(actor: LtiUser | None) -> str:
    """Return how an actor is shown in the trail: their name and LMS account, as they were."""
    if actor is None:
        return COMMAND_LINE
    return f"{actor.name} ({actor.sub})" if actor.name else actor.sub


def record(session: Session, *, deployment_pk: int, context_pk: int | None, actor: LtiUser | None, action: str,
           details: dict[str, Any]) -> AuditEvent:
    """Add one event to the trail, now."""
    event = AuditEvent(deployment_pk=deployment_pk, context_pk=context_pk, actor_pk=actor.id if actor else None,
                       actor_label=actor_label(actor)[:255], action=action, details=details, created_at=utcnow())
    session.add(event)
    return event


def trail(session: Session, context_pk: int, deployment_pk: int, *, page: int = 1,
          per_page: int = 50) -> Page[AuditEvent]:
    """Return a page of the course's trail, newest first, with the agency-wide events of its deployment."""
    where = (AuditEvent.deployment_pk == deployment_pk,
             or_(AuditEvent.context_pk == context_pk, AuditEvent.context_pk.is_(None)))
    page, per_page = max(1, page), max(1, min(per_page, 500))
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*where)) or 0
    events = session.scalars(select(AuditEvent).where(*where).order_by(AuditEvent.created_at.desc(),
                             AuditEvent.id.desc()).limit(per_page).offset((page - 1) * per_page))
    return Page(items=list(events), total=int(total), page=page, per_page=per_page)
