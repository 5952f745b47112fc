"""Which courses a coordinator or administrator may open in the dashboard (the course picker)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.lti.roles import Role
from lti_tool.models import Launch, LtiContext, Membership


@dataclass(frozen=True)
class CourseEntry:
    """A course in the picker, with how many officers it has."""

    context_pk: int
    title: str
    context_id: str
    officers: int


def visible(session: Session, launch: Launch, role: Role) -> list[CourseEntry]:
    """Return the courses of the launch's deployment an administrator sees, or a coordinator's own course."""
    officers = (select(Membership.context_pk, func.count().label("n"))
                .where(Membership.role == Role.LEARNER.value, Membership.active.is_(True))
                .group_by(Membership.context_pk).subquery())
    query = (select(LtiContext, func.coalesce(officers.c.n, 0))
             .outerjoin(officers, officers.c.context_pk == LtiContext.id)
             .where(LtiContext.deployment_pk == launch.deployment_pk))
    if role != Role.ADMINISTRATOR:
        query = query.where(LtiContext.id == launch.context_pk)
    rows = session.execute(query.order_by(LtiContext.title, LtiContext.id)).all()
    return [CourseEntry(c.id, c.title or c.label or c.context_id, c.context_id, int(n)) for c, n in rows]
