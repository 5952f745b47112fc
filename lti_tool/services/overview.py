"""What the landing pages show: the course's placements and the people who launched."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.models import Launch, LtiUser, Membership, ResourceLink


@dataclass(frozen=True)
class MemberRow:
    """A person seen in the course."""

    name: str
    sub: str
    role: str
    last_launch_at: datetime


@dataclass(frozen=True)
class CourseOverview:
    """The course as a coordinator first sees it."""

    links: list[ResourceLink]
    members: list[MemberRow]


def course_overview(session: Session, launch: Launch) -> CourseOverview:
    """Return the placements and members of the launch's course, and nothing from any other."""
    if launch.context_pk is None:
        return CourseOverview(links=[], members=[])
    links = session.scalars(
        select(ResourceLink)
        .where(ResourceLink.context_pk == launch.context_pk, ResourceLink.deployment_pk == launch.deployment_pk)
        .order_by(ResourceLink.id)
    )
    rows = session.execute(
        select(LtiUser.name, LtiUser.sub, Membership.role, LtiUser.last_launch_at)
        .join(Membership, Membership.user_pk == LtiUser.id)
        .where(Membership.context_pk == launch.context_pk, LtiUser.deployment_pk == launch.deployment_pk)
        .order_by(Membership.role, LtiUser.name)
    )
    return CourseOverview(links=list(links), members=[MemberRow(*row) for row in rows])
