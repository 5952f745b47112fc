"""Scores on their way to the LMS gradebook (AGS): a transactional outbox, one row per finished attempt."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lti_tool.db import Base, utcnow
from lti_tool.models.launch import LtiContext, ResourceLink
from lti_tool.models.platform import Deployment
from lti_tool.models.player import Attempt

QUEUED, SENT, DEAD, SUPERSEDED = "queued", "sent", "dead", "superseded"


class ScoreOutbox(Base):
    """A score to post, written in the transaction that finished the attempt.

    ``attempt_pk`` is unique: an attempt is scored in the gradebook exactly once. ``lineitem_url`` is
    empty until the sender knows the column (the placement's own, or one it found or created through
    AGS). A row is ``superseded`` when a newer score of the same learner reached the same line item
    first: the platform keeps only the newest, and the newer one already carries the best score.
    """

    __tablename__ = "score_outbox"
    __table_args__ = (Index("ix_score_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attempt_pk: Mapped[int] = mapped_column(ForeignKey("attempt.id", ondelete="CASCADE"), unique=True)
    deployment_pk: Mapped[int] = mapped_column(ForeignKey("deployment.id", ondelete="CASCADE"))
    context_pk: Mapped[int | None] = mapped_column(ForeignKey("lti_context.id", ondelete="CASCADE"), index=True)
    resource_link_pk: Mapped[int | None] = mapped_column(ForeignKey("resource_link.id", ondelete="SET NULL"))
    module: Mapped[str] = mapped_column(String(128))
    # The module's title: the label of a line item the sender has to create.
    label: Mapped[str] = mapped_column(String(255), default="")
    user_sub: Mapped[str] = mapped_column(String(255))
    lineitem_url: Mapped[str | None] = mapped_column(String(1024), default=None)
    score_given: Mapped[float] = mapped_column(Float)
    score_maximum: Mapped[float] = mapped_column(Float)
    comment: Mapped[str] = mapped_column(Text, default="")
    # When the attempt finished: AGS orders a learner's scores by this, newest wins.
    timestamp: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    # What the LMS answered to the last try (status and body), shown on the dashboard.
    response_status: Mapped[int | None] = mapped_column(default=None)
    response_body: Mapped[str | None] = mapped_column(Text, default=None)
    # A sender's lease on the row (as in the xAPI outbox): no lock is held while HTTP is in flight.
    claim_token: Mapped[str | None] = mapped_column(String(32), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)

    attempt: Mapped[Attempt] = relationship()
    deployment: Mapped[Deployment] = relationship()
    context: Mapped[LtiContext | None] = relationship()
    resource_link: Mapped[ResourceLink | None] = relationship()
