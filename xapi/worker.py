"""The delivery loop: each cycle runs the optional hook, finds the destinations with due statements,
and for each one claims a batch, sends it (``xapi.delivery``) and records the outcome.

Destinations that are paused, lack credentials or wait out a backoff are skipped, so one failing LRS
never holds up the others. Every database step is its own short transaction; no transaction is open
while HTTP is in flight.
"""

from __future__ import annotations

import logging
import random
import secrets
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy.orm import Session, sessionmaker

from xapi import outbox, targets
from xapi.client import ClientPool
from xapi.db import utcnow
from xapi.delivery import Item, Outcome, Sender, Settings, backoff
from xapi.sealing import Sealer
from xapi.targets import Destination

log = logging.getLogger(__name__)

Hook = Callable[[Session, datetime], object]


class Worker:
    """Delivers the outbox; ``run`` loops until stopped, ``drain`` until nothing is due."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, builtin: Destination, *,
                 sealer: Sealer, hook: Hook | None = None, transport: httpx.BaseTransport | None = None) -> None:
        self.sessions, self.settings, self.builtin, self.hook = sessions, settings, builtin, hook
        self.sealer = sealer
        self.token = secrets.token_hex(16)
        self.pool = ClientPool(connect_timeout=settings.connect_timeout, read_timeout=settings.read_timeout,
                               transport=transport)
        self.rng = random.Random()  # noqa: S311  (jitter, not secrecy)
        self.sent = self.dead = 0
        self.warned: set[str] = set()

    def close(self) -> None:
        self.pool.close()

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set, sleeping while there is nothing to do."""
        while not stop.is_set():
            try:
                busy = self.cycle()
            except Exception:  # a database hiccup must not end the loop; log and carry on
                log.exception("delivery cycle failed")
                busy = 0
            if not busy:
                stop.wait(self.settings.idle_sleep)

    def drain(self) -> None:
        """Cycle until no destination has anything it can take now."""
        while self.cycle():
            pass

    def cycle(self) -> int:
        """One pass: a batch per ready destination; return how many statements were claimed."""
        if self.hook is not None:
            with self.sessions.begin() as session:
                self.hook(session, utcnow())
        return sum(self._deliver(destination, sources) for destination, sources in self._ready().items())

    def _ready(self) -> dict[Destination, list[tuple[str, str]]]:
        now = utcnow()
        groups: dict[Destination, list[tuple[str, str]]] = defaultdict(list)
        with self.sessions.begin() as session:
            resolve = targets.resolver(session, self.builtin, self.sealer)
            for issuer, deployment in outbox.due_sources(session, now):
                groups[resolve(issuer, deployment)].append((issuer, deployment))
            waiting = {d: targets.waiting_until(session, d.key) for d in groups}
        for destination in groups:
            if destination.problem is not None and destination.key not in self.warned:
                self.warned.add(destination.key)  # once per process: it is in `outbox status` too
                log.warning("not delivering to %s: %s", destination.label, destination.problem)
        return {d: s for d, s in groups.items()
                if not d.paused and d.problem is None and ((w := waiting[d]) is None or w <= now)}

    def _lease(self) -> datetime:
        return utcnow() + timedelta(seconds=self.settings.claim_lease)

    def _deliver(self, destination: Destination, sources: list[tuple[str, str]]) -> int:
        held_until = [self._lease()]
        with self.sessions.begin() as session:
            rows = outbox.claim(session, sources, limit=self.settings.batch_size, token=self.token,
                                now=utcnow(), until=held_until[0])
            items = [Item(row.id, row.statement_id, row.payload) for row in rows]
        if not items:
            return 0
        ids = [item.row_id for item in items]
        longest_request = timedelta(seconds=self.settings.connect_timeout + self.settings.read_timeout)

        def keep_claim() -> bool:
            # Renew only when the lease might run out during the next request (one write saved per batch).
            if held_until[0] - utcnow() > longest_request:
                return True
            with self.sessions.begin() as session:
                held_until[0] = self._lease()
                return outbox.renew(session, ids, self.token, held_until[0])

        outcome = Sender(self.pool.get(destination), keep_claim).send(items)
        self._record(destination, ids, outcome)
        return len(items)

    def _record(self, destination: Destination, ids: list[int], outcome: Outcome) -> None:
        now, key = utcnow(), destination.key
        done = set(outcome.sent) | set(outcome.dead)
        rest = [i for i in ids if i not in done]
        with self.sessions.begin() as session:
            outbox.mark_sent(session, outcome.sent, self.token, key, now)
            for row_id, why in outcome.dead.items():
                outbox.mark_dead(session, row_id, self.token, key, why)
            if outcome.paused is not None:
                targets.pause(session, key, outcome.paused)
                outbox.release(session, rest, self.token, retry_at=now, error=None, attempted=False)
                log.error("LRS %s refused our credentials; delivery paused: %s", destination.label, outcome.paused)
            elif outcome.retry is not None:
                retry_at = targets.failed(session, key, outcome.retry, lambda n: backoff(
                    n, self.settings, outcome.retry_after, self.rng))
                outbox.release(session, rest, self.token, retry_at=retry_at, error=outcome.retry, attempted=True)
                log.warning("LRS %s: %s; retrying at %s", destination.label, outcome.retry, retry_at.isoformat())
            else:
                targets.succeeded(session, key)
        self.sent += len(outcome.sent)
        self.dead += len(outcome.dead)
        for row_id, why in outcome.dead.items():
            log.warning("statement row %s dead-lettered by %s: %s", row_id, destination.label, why)
