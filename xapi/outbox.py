"""The transactional outbox: statements are written here in the same transaction as the record
they describe, and the delivery worker sends them from here to the learning record store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from xapi.db import XapiBase, utcnow

QUEUED, SENT, DEAD = "queued", "sent", "dead"


class OutboxStatement(XapiBase):
    """One statement waiting for (or done with) delivery; ``statement_id`` is its final xAPI id."""

    __tablename__ = "xapi_outbox"
    __table_args__ = (Index("ix_xapi_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[str] = mapped_column(String(36), unique=True)
    # Where the statement came from decides where it goes (an agency LRS per platform or deployment).
    issuer: Mapped[str] = mapped_column(String(255))
    deployment_id: Mapped[str] = mapped_column(String(255))
    registration: Mapped[str | None] = mapped_column(String(36), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    destination: Mapped[str | None] = mapped_column(String(64), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


def enqueue(session: Session, statements: Iterable[Mapping[str, Any]], *, issuer: str, deployment_id: str) -> None:
    """Queue statements (each with its final ``id``) in the caller's transaction; never commits."""
    now = utcnow()
    for statement in statements:
        context = statement.get("context") or {}
        session.add(OutboxStatement(
            statement_id=statement["id"], issuer=issuer, deployment_id=deployment_id,
            registration=context.get("registration"), payload=dict(statement),
            created_at=now, next_attempt_at=now,
        ))
