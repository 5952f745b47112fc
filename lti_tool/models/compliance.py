"""Compliance records of a course (LTI context): module requirements, waivers, the audit trail, roster syncs.

Roster state itself lives on ``Membership`` (source, active, left_at, synced_at, agency_id): a roster
member is a membership, whether the LMS told us by a launch or by Names and Role Provisioning.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base, utcnow
from lti_tool.models.launch import LtiUser

# An annual refresher unless the coordinator says otherwise.
DEFAULT_RECERT_MONTHS = 12


class ModuleRequirement(Base):
    """What a course asks of its officers for one module: required or not, by when, how often, for how long."""

    __tablename__ = "module_requirement"
    __table_args__ = (UniqueConstraint("context_pk", "module"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_pk: Mapped[int] = mapped_column(ForeignKey("lti_context.id", ondelete="CASCADE"))
    module: Mapped[str] = mapped_column(String(128))
    required: Mapped[bool] = mapped_column(default=True)
    # A calendar day: overdue from the day after it (UTC).
    due_date: Mapped[date | None] = mapped_column(Date, default=None)
    recert_months: Mapped[int] = mapped_column(default=DEFAULT_RECERT_MONTHS)
    # None means the module's own estimated minutes.
    credit_minutes: Mapped[int | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_pk: Mapped[int | None] = mapped_column(ForeignKey("lti_user.id", ondelete="SET NULL"))


class Waiver(Base):
    """An officer excused from one module in one course, with the reason; revoked rather than deleted."""

    __tablename__ = "waiver"
    __table_args__ = (Index("ix_waiver_context_module_user", "context_pk", "module", "user_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_pk: Mapped[int] = mapped_column(ForeignKey("lti_context.id", ondelete="CASCADE"))
    user_pk: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    module: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    created_by_pk: Mapped[int | None] = mapped_column(ForeignKey("lti_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The xAPI ``waived`` statement sent for it (and the voiding one, if revoked).
    statement_id: Mapped[str | None] = mapped_column(String(36), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_by_pk: Mapped[int | None] = mapped_column(ForeignKey("lti_user.id", ondelete="SET NULL"))
    revoke_reason: Mapped[str | None] = mapped_column(Text, default=None)
    void_statement_id: Mapped[str | None] = mapped_column(String(36), default=None)

    user: Mapped[LtiUser] = relationship(foreign_keys=[user_pk])
    created_by: Mapped[LtiUser | None] = relationship(foreign_keys=[created_by_pk])
    revoked_by: Mapped[LtiUser | None] = relationship(foreign_keys=[revoked_by_pk])


class AuditEvent(Base):
    """One change a coordinator (or the CLI) made, with who and when; kept as long as the course.

    ``context_pk`` is empty for agency-wide changes (a policy version belongs to the deployment).
    """

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_deployment_created", "deployment_pk", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_pk: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"))
    context_pk: Mapped[int | None] = mapped_column(ForeignKey("lti_context.id", ondelete="CASCADE"), index=True)
    actor_pk: Mapped[int | None] = mapped_column(ForeignKey("lti_user.id", ondelete="SET NULL"))
    # Who, as shown: the actor's name and LMS account at the time, or "command line".
    actor_label: Mapped[str] = mapped_column(String(255), default="")
    action: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RosterSync(Base):
    """The latest roster sync of a course from the LMS (NRPS): when, how it went, how many."""

    __tablename__ = "roster_sync"

    context_pk: Mapped[int] = mapped_column(ForeignKey("lti_context.id", ondelete="CASCADE"), primary_key=True)
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the last successful sync finished; None until one has.
    synced_at: Mapped[datetime | None] = mapped_column(default=None)
    ok: Mapped[bool] = mapped_column(default=False)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    members: Mapped[int] = mapped_column(default=0)
    joined: Mapped[int] = mapped_column(default=0)
    left: Mapped[int] = mapped_column(default=0)
