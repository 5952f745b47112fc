"""Send queued gradebook scores to the LMS over AGS; runs in the delivery worker, never in a request.

Claiming follows the xAPI outbox: one ``UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)``
leases rows to this sender (PostgreSQL workers skip each other's rows; SQLite serialises writers), the
lease is committed before any HTTP, and every later write checks the claim token, so a sender whose
lease ran out cannot overwrite the next owner's outcome. Then, per row, oldest first:

- a row whose learner already has a newer score on the same placement is ``superseded`` (never sent:
  the platform keeps only the newest, which already carries the best score);
- the line item is the placement's own, or found or created through AGS (resourceId = module slug,
  tag ``upstander``, bound to the placement when it is that module's) and remembered;
- the score is posted (``FullyGraded``); a 401 fetches a fresh token once (``service_token``);
- timeouts, 5xx and 429 retry with exponential backoff and jitter (or the platform's ``Retry-After``),
  up to ``MAX_ATTEMPTS``; any other 4xx is a dead letter with the platform's answer kept for the page.
"""

from __future__ import annotations

import logging
import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, joinedload, sessionmaker

from lti_tool.db import utcnow
from lti_tool.lti import ags
from lti_tool.lti import claims as c
from lti_tool.lti.service_token import ServiceError, TokenCache
from lti_tool.models import Deployment, ScoreOutbox
from lti_tool.models.gradebook import DEAD, QUEUED, SENT, SUPERSEDED
from lti_tool.services.gradebook import LINE_ITEM_TAG

log = logging.getLogger(__name__)

BATCH = 20
LEASE = timedelta(seconds=120)
MAX_ATTEMPTS = 12
BACKOFF_BASE = 30.0
BACKOFF_MAX = 3600.0


class Undeliverable(ServiceError):
    """The score cannot be posted however often we try (no line item and no right to create one)."""


def backoff(failures: int, rng: random.Random, server_says: float | None = None) -> float:
    """Seconds to wait after ``failures`` failures: ``Retry-After`` if given, else doubling with jitter."""
    if server_says is not None:
        return min(max(server_says, 0.0), BACKOFF_MAX)
    ceiling = min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(failures - 1, 0))
    return float(ceiling / 2 + rng.uniform(0, ceiling / 2))


def claim(session: Session, token: str, now: datetime, limit: int = BATCH) -> list[int]:
    """Lease up to ``limit`` due rows to ``token``; return their ids, oldest first."""
    row = ScoreOutbox
    free = or_(row.claimed_until.is_(None), row.claimed_until < now)
    ids = (select(row.id).where(row.status == QUEUED, row.next_attempt_at <= now, free).order_by(row.id)
           .limit(limit).with_for_update(skip_locked=True).scalar_subquery())
    statement = (update(row).where(row.id.in_(ids)).values(claim_token=token, claimed_until=now + LEASE)
                 .returning(row.id).execution_options(synchronize_session=False))
    return sorted(session.scalars(statement))


def _superseded(session: Session, row: ScoreOutbox) -> bool:
    same_column = [ScoreOutbox.resource_link_pk == row.resource_link_pk] if row.resource_link_pk else []
    if row.lineitem_url:
        same_column.append(ScoreOutbox.lineitem_url == row.lineitem_url)
    if not same_column:
        return False
    newer = select(ScoreOutbox.id).where(
        ScoreOutbox.deployment_pk == row.deployment_pk, ScoreOutbox.user_sub == row.user_sub,
        ScoreOutbox.module == row.module, ScoreOutbox.status == SENT, ScoreOutbox.timestamp > row.timestamp,
        or_(*same_column),
    ).limit(1)
    return session.scalar(newer) is not None


@dataclass
class Sender:
    """Posts due scores; one per worker process, reused every cycle."""

    sessions: sessionmaker[Session]
    http: httpx.Client
    cache: TokenCache | None = None
    rng: random.Random = field(default_factory=random.Random)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    sent: int = 0
    dead: int = 0

    def deliver_due(self, now: datetime | None = None, limit: int = BATCH) -> int:
        """Claim and send the due scores; return how many were claimed."""
        with self.sessions.begin() as session:
            ids = claim(session, self.token, now or utcnow(), limit)
        for row_id in ids:
            self._deliver(row_id)
        return len(ids)

    def _deliver(self, row_id: int) -> None:
        with self.sessions() as session:
            row = session.get(ScoreOutbox, row_id, options=[
                joinedload(ScoreOutbox.deployment).joinedload(Deployment.platform),
                joinedload(ScoreOutbox.resource_link)])
            if row is None or row.claim_token != self.token:
                return  # the lease ran out and another sender owns it now
            if _superseded(session, row):
                row.status = SUPERSEDED
            else:
                # Changes wait in memory until the commit: no write (and, on SQLite, no database lock)
                # is held while the platform answers, and the platform may share this database (demo LMS).
                with session.no_autoflush:
                    self._post(session, row)
            row.claim_token, row.claimed_until = None, None
            session.commit()

    def _post(self, session: Session, row: ScoreOutbox) -> None:
        platform = row.deployment.platform
        score = ags.Score(user_id=row.user_sub, score_given=row.score_given, score_maximum=row.score_maximum,
                          timestamp=row.timestamp, comment=row.comment)
        row.attempts += 1
        try:
            url = self._line_item(session, row)
            response = ags.post_score(session, self.http, platform, url, score, cache=self.cache)
        except ServiceError as exc:
            self._failed(row, exc)
            return
        row.status, row.sent_at, row.last_error = SENT, utcnow(), None
        row.response_status, row.response_body = response.status_code, response.text[:2000]
        self.sent += 1

    def _line_item(self, session: Session, row: ScoreOutbox) -> str:
        if row.lineitem_url:
            return row.lineitem_url
        link = row.resource_link
        own = link is not None and link.module == row.module
        if own and link is not None and link.lineitem_url:  # a later launch told us the placement's column
            row.lineitem_url = link.lineitem_url
            return row.lineitem_url
        if link is None or not link.lineitems_url or c.SCOPE_LINEITEM not in (link.ags_scopes or []):
            raise Undeliverable("the placement has no line item and the platform does not let the tool add one")
        item = ags.find_or_create(session, self.http, row.deployment.platform, link.lineitems_url, ags.NewLineItem(
            label=row.label or row.module, score_maximum=row.score_maximum, resource_id=row.module,
            tag=LINE_ITEM_TAG, resource_link_id=link.resource_link_id if own else None), cache=self.cache)
        if own:
            link.lineitem_url = item.id
        row.lineitem_url = item.id
        return item.id

    def _failed(self, row: ScoreOutbox, exc: ServiceError) -> None:
        row.last_error = str(exc)[:2000]
        row.response_status, row.response_body = exc.status, exc.body or None
        if exc.retryable and not isinstance(exc, Undeliverable) and row.attempts < MAX_ATTEMPTS:
            wait = backoff(row.attempts, self.rng, exc.retry_after)
            row.next_attempt_at = utcnow() + timedelta(seconds=wait)
            log.warning("gradebook score %s: %s; retrying in %.0f s", row.id, exc, wait)
            return
        row.status = DEAD
        self.dead += 1
        log.warning("gradebook score %s dead-lettered: %s", row.id, exc)


def retry_dead(session: Session, context_pk: int, now: datetime) -> int:
    """Queue a course's dead-lettered scores again (after fixing the registration); return how many."""
    result = session.execute(update(ScoreOutbox).where(
        ScoreOutbox.context_pk == context_pk, ScoreOutbox.status == DEAD,
    ).values(status=QUEUED, next_attempt_at=now, attempts=0).execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult has rowcount
