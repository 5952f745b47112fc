"""The transactional outbox: statements are written here in the same transaction as the record
they describe, and the delivery worker sends them from here to the learning record store.

Claiming is one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING``: on
PostgreSQL concurrent workers skip each other's rows; SQLite renders no ``FOR UPDATE`` and
serialises writers, so the same statement is correct there. A claim is a lease (``claimed_until``)
committed before sending, so no lock is held over HTTP and a killed worker's rows come back when
the lease runs out. Every later write filters on the claim token: a worker whose lease ran out
cannot overwrite what the next owner did.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Index, String, Text, and_, func, or_, select, update
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
    sent_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    destination: Mapped[str | None] = mapped_column(String(64), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    # The worker that holds the row, and until when (see the module docstring).
    claim_token: Mapped[str | None] = mapped_column(String(32), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(default=None)


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


def _due(now: datetime) -> ColumnElement[bool]:
    row = OutboxStatement
    free = or_(row.claimed_until.is_(None), row.claimed_until < now)
    return and_(row.status == QUEUED, row.next_attempt_at <= now, free)


def due_sources(session: Session, now: datetime) -> list[tuple[str, str]]:
    """Return the (issuer, deployment) pairs that have statements ready to send."""
    query = select(OutboxStatement.issuer, OutboxStatement.deployment_id).where(_due(now)).distinct()
    return [(issuer, deployment) for issuer, deployment in session.execute(query)]


def claim(session: Session, sources: Sequence[tuple[str, str]], *, limit: int, token: str,
          now: datetime, until: datetime) -> list[OutboxStatement]:
    """Lease up to ``limit`` due statements of these sources to ``token``, oldest first."""
    row = OutboxStatement
    of_sources = or_(*(and_(row.issuer == iss, row.deployment_id == dep) for iss, dep in sources))
    ids = (select(row.id).where(_due(now), of_sources).order_by(row.id).limit(limit)
           .with_for_update(skip_locked=True).scalar_subquery())
    statement = (update(row).where(row.id.in_(ids)).values(claim_token=token, claimed_until=until)
                 .returning(row).execution_options(synchronize_session=False))
    return sorted(session.scalars(statement), key=lambda item: item.id)


def _mine(ids: Iterable[int], token: str) -> ColumnElement[bool]:
    return and_(OutboxStatement.id.in_(list(ids)), OutboxStatement.claim_token == token)


def renew(session: Session, ids: Sequence[int], token: str, until: datetime) -> bool:
    """Extend the lease on these rows; False when another worker has taken any of them."""
    result = session.execute(update(OutboxStatement).where(_mine(ids, token)).values(claimed_until=until)
                             .execution_options(synchronize_session=False))
    return int(result.rowcount) == len(ids)  # type: ignore[attr-defined]  # CursorResult has rowcount


def mark_sent(session: Session, ids: Iterable[int], token: str, destination: str, now: datetime) -> None:
    """Record delivery of these rows to ``destination``."""
    session.execute(update(OutboxStatement).where(_mine(ids, token)).values(
        status=SENT, sent_at=now, destination=destination, last_error=None,
        attempts=OutboxStatement.attempts + 1, claim_token=None, claimed_until=None,
    ).execution_options(synchronize_session=False))


def mark_dead(session: Session, row_id: int, token: str, destination: str, reason: str) -> None:
    """Set a statement aside for good, with the LRS's reason; it no longer blocks anything."""
    session.execute(update(OutboxStatement).where(_mine([row_id], token)).values(
        status=DEAD, destination=destination, last_error=reason[:2000],
        attempts=OutboxStatement.attempts + 1, claim_token=None, claimed_until=None,
    ).execution_options(synchronize_session=False))


def release(session: Session, ids: Iterable[int], token: str, *, retry_at: datetime,
            error: str | None, attempted: bool) -> None:
    """Give rows back to the queue, due again at ``retry_at``."""
    values: dict[str, Any] = {"next_attempt_at": retry_at, "claim_token": None, "claimed_until": None}
    if attempted:
        values.update(attempts=OutboxStatement.attempts + 1, last_error=error)
    session.execute(update(OutboxStatement).where(_mine(ids, token)).values(**values)
                    .execution_options(synchronize_session=False))


def retry_dead(session: Session, now: datetime) -> int:
    """Queue every dead letter again (after the statement or the LRS was fixed); return how many."""
    result = session.execute(update(OutboxStatement).where(OutboxStatement.status == DEAD).values(
        status=QUEUED, next_attempt_at=now, attempts=0, destination=None,
    ).execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult has rowcount


def queued_by_source(session: Session) -> list[tuple[str, str, int, datetime]]:
    """(issuer, deployment, how many queued, oldest created_at) for every source with queued rows."""
    row = OutboxStatement
    query = (select(row.issuer, row.deployment_id, func.count(), func.min(row.created_at))
             .where(row.status == QUEUED).group_by(row.issuer, row.deployment_id))
    return [(iss, dep, int(count), oldest) for iss, dep, count, oldest in session.execute(query)]


def done_by_destination(session: Session) -> dict[str, dict[str, int]]:
    """{destination: {"sent": n, "dead": n}} over the rows already decided."""
    row = OutboxStatement
    query = (select(row.destination, row.status, func.count()).where(row.status.in_([SENT, DEAD]))
             .group_by(row.destination, row.status))
    counts: dict[str, dict[str, int]] = {}
    for destination, status, count in session.execute(query):
        counts.setdefault(destination or "?", {SENT: 0, DEAD: 0})[status] = int(count)
    return counts


def sent_since(session: Session, since: datetime) -> list[OutboxStatement]:
    """Rows delivered at or after ``since``, for reconciliation."""
    query = select(OutboxStatement).where(OutboxStatement.status == SENT, OutboxStatement.sent_at >= since)
    return list(session.scalars(query.order_by(OutboxStatement.id)))
