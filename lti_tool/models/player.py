"""A learner's progress through modules: registrations, attempts, decisions and stage results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base, utcnow
from lti_tool.models.launch import LtiUser


class ModuleRegistration(Base):
    """A learner enrolled in one module; ``registration`` is the stable xAPI registration UUID."""

    __tablename__ = "module_registration"
    __table_args__ = (UniqueConstraint("user_pk", "module"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    module: Mapped[str] = mapped_column(String(128))
    registration: Mapped[str] = mapped_column(String(36), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Progress summary over this registration's attempts, kept in step at write time by
    # ``lti_tool.services.progress`` (same transaction), so the dashboard reads one row per officer and
    # module instead of aggregating every attempt of a course per request (GUIDE §9).
    attempt_count: Mapped[int] = mapped_column(default=0, server_default="0")
    first_started_at: Mapped[datetime | None] = mapped_column(default=None)
    last_activity_at: Mapped[datetime | None] = mapped_column(default=None)
    last_completed_at: Mapped[datetime | None] = mapped_column(default=None)  # any verdict
    last_passed_at: Mapped[datetime | None] = mapped_column(default=None)
    last_done_at: Mapped[datetime | None] = mapped_column(default=None)  # completed, no verdict
    last_failed_at: Mapped[datetime | None] = mapped_column(default=None)
    in_progress: Mapped[bool] = mapped_column(default=False, server_default=false())
    best_score: Mapped[float | None] = mapped_column(Float, default=None)
    seconds_on_task: Mapped[int] = mapped_column(default=0, server_default="0")

    user: Mapped[LtiUser] = relationship()


class Attempt(Base):
    """One try at a module, from its first screen to an ending; every attempt is kept."""

    __tablename__ = "attempt"
    __table_args__ = (UniqueConstraint("registration_pk", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_pk: Mapped[int] = mapped_column(ForeignKey("module_registration.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column()
    content_version: Mapped[int] = mapped_column()
    # Where the learner is: the current screen, the screens seen so far, and the decision
    # whose feedback is showing ({"screen": id, "choice": id}) until they continue.
    screen: Mapped[str] = mapped_column(String(128))
    history: Mapped[list[str]] = mapped_column(default=list)
    feedback: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    seconds_on_task: Mapped[int] = mapped_column(default=0)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    passed: Mapped[bool | None] = mapped_column(default=None)

    registration: Mapped[ModuleRegistration] = relationship()
    decisions: Mapped[list[DecisionRecord]] = relationship(order_by="DecisionRecord.id")
    stage_results: Mapped[list[StageResult]] = relationship(order_by="StageResult.stage")


class DecisionRecord(Base):
    """One answered decision: the choice, its points out of the most available, when."""

    __tablename__ = "decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_pk: Mapped[int] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"), index=True)
    screen: Mapped[str] = mapped_column(String(128))
    choice: Mapped[str] = mapped_column(String(128))
    points: Mapped[int] = mapped_column()
    max_points: Mapped[int] = mapped_column()
    stage: Mapped[int] = mapped_column()
    tactic: Mapped[str | None] = mapped_column(String(16), default=None)
    rank: Mapped[str | None] = mapped_column(String(16), default=None)
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)


class StageResult(Base):
    """The score of one intervention stage in a finished attempt."""

    __tablename__ = "stage_result"
    __table_args__ = (UniqueConstraint("attempt_pk", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_pk: Mapped[int] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"))
    stage: Mapped[int] = mapped_column()
    earned: Mapped[int] = mapped_column()
    maximum: Mapped[int] = mapped_column()
    scaled: Mapped[float] = mapped_column(Float)


class AgencyPolicy(Base):
    """A version of the agency's own Duty to Intervene policy, attached by a coordinator."""

    __tablename__ = "agency_policy"
    __table_args__ = (UniqueConstraint("deployment_pk", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_pk: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column()
    title: Mapped[str] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    created_by_pk: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PolicyAcknowledgement(Base):
    """A learner's acknowledgement of one policy version, with when it was given."""

    __tablename__ = "policy_acknowledgement"
    __table_args__ = (UniqueConstraint("user_pk", "policy_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("lti_user.id", ondelete="CASCADE"))
    policy_pk: Mapped[int] = mapped_column(ForeignKey("agency_policy.id", ondelete="CASCADE"))
    attempt_pk: Mapped[int | None] = mapped_column(ForeignKey("attempt.id", ondelete="SET NULL"))
    acknowledged_at: Mapped[datetime] = mapped_column(default=utcnow)

    policy: Mapped[AgencyPolicy] = relationship()
