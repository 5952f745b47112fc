"""Sending one claimed batch to one LRS and deciding each statement's fate (GUIDE §5):

* 2xx: every statement of the request is stored;
* 409: the LRS may have stored part of the batch: ask for each id, count the stored ones as sent and
  send the rest again (an LRS answering 409 for nothing it has gets the batch split, then a dead letter);
* 400 / 413: bisect the batch until the bad statements stand alone; those become dead letters with the
  LRS's reason and the good halves are sent;
* 401 / 403: stop, the destination is paused until someone gives new credentials;
* 429, 5xx, other statuses, timeouts, connection errors: stop, retry the rest later with backoff.

The statement id is in the payload, fixed when the row was written, so a retry can only repeat the
same statement, which an LRS stores once.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session

from xapi import metrics, outbox, targets
from xapi.client import ClientPool, LrsClient
from xapi.sealing import Sealer
from xapi.targets import Destination


@dataclass(frozen=True)
class Settings:
    """Delivery tuning; ``from_config`` reads the ``XAPI_*`` keys of a configuration mapping."""

    batch_size: int = 50
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    claim_lease: float = 120.0
    idle_sleep: float = 2.0
    backoff_base: float = 2.0
    backoff_max: float = 600.0

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("XAPI_BATCH_SIZE must be at least 1")
        # The lease is renewed before every request, so it must outlast the longest single request.
        if self.claim_lease <= self.connect_timeout + self.read_timeout:
            raise ValueError("XAPI_CLAIM_LEASE must be longer than XAPI_CONNECT_TIMEOUT + XAPI_READ_TIMEOUT")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings:
        names = {"batch_size": int, "connect_timeout": float, "read_timeout": float, "claim_lease": float,
                 "idle_sleep": float, "backoff_base": float, "backoff_max": float}
        given = {name: kind(config[f"XAPI_{name.upper()}"]) for name, kind in names.items()
                 if config.get(f"XAPI_{name.upper()}") is not None}
        return cls(**given)


def backoff(failures: int, settings: Settings, server_says: float | None, rng: random.Random) -> float:
    """Seconds to wait after ``failures`` failures in a row: the LRS's ``Retry-After`` when it gave one
    (capped), else exponential with "equal jitter" so that many workers do not retry in step."""
    if server_says is not None:
        return min(max(server_says, 0.0), settings.backoff_max)
    ceiling = min(settings.backoff_max, settings.backoff_base * 2 ** max(failures - 1, 0))
    return float(ceiling / 2 + rng.uniform(0, ceiling / 2))


@dataclass(frozen=True)
class Item:
    """A claimed row as the sender sees it."""

    row_id: int
    statement_id: str
    payload: dict[str, Any]


@dataclass
class Outcome:
    """What became of a batch; rows in neither ``sent`` nor ``dead`` go back to the queue."""

    sent: list[int] = field(default_factory=list)
    dead: dict[int, str] = field(default_factory=dict)
    retry: str | None = None  # a temporary failure: try the rest later
    retry_after: float | None = None
    paused: str | None = None  # credentials refused: stop until someone acts

    @property
    def stopped(self) -> bool:
        return self.retry is not None or self.paused is not None


class Sender:
    """Sends one batch; ``keep_claim`` renews the lease before each request and says if it still holds."""

    def __init__(self, client: LrsClient, keep_claim: Callable[[], bool]) -> None:
        self.client = client
        self.keep_claim = keep_claim

    def send(self, items: Sequence[Item]) -> Outcome:
        outcome = Outcome()
        if items:
            self._post(list(items), outcome)
            metrics.record_outcome(self.client.key, len(outcome.sent), len(outcome.dead),
                                   retry=outcome.retry is not None, paused=outcome.paused is not None)
        return outcome

    def _may_go_on(self, outcome: Outcome) -> bool:
        if outcome.stopped:
            return False
        if not self.keep_claim():
            outcome.retry = "claim lease lost; another worker owns these rows now"
            return False
        return True

    def _post(self, items: list[Item], outcome: Outcome) -> None:
        if not self._may_go_on(outcome):
            return
        try:
            answer = self.client.post_statements([item.payload for item in items])
        except httpx.TransportError as exc:
            outcome.retry = f"{type(exc).__name__}: {exc}"
            return
        if 200 <= answer.status < 300:
            outcome.sent.extend(item.row_id for item in items)
        elif answer.status == 409:
            self._verify(items, outcome)
        elif answer.status in (400, 413):
            self._split(items, outcome, answer.reason)
        elif answer.status in (401, 403):
            outcome.paused = answer.reason
        else:
            outcome.retry, outcome.retry_after = answer.reason, answer.retry_after

    def _split(self, items: list[Item], outcome: Outcome, why: str) -> None:
        if len(items) == 1:
            outcome.dead[items[0].row_id] = why
            return
        middle = len(items) // 2
        self._post(items[:middle], outcome)
        self._post(items[middle:], outcome)

    def _verify(self, items: list[Item], outcome: Outcome) -> None:
        """After a 409: keep what the LRS has, send the rest again."""
        missing: list[Item] = []
        for item in items:
            if not self._may_go_on(outcome):
                return
            try:
                status = self.client.statement_status(item.statement_id)
            except httpx.TransportError as exc:
                outcome.retry = f"{type(exc).__name__}: {exc}"
                return
            if status == 200:
                outcome.sent.append(item.row_id)
            elif status == 404:
                missing.append(item)
            else:
                outcome.retry = f"HTTP {status} while checking statement {item.statement_id} after a 409"
                return
        if len(missing) == len(items):
            # A conflict about statements the LRS does not have: narrow it down like a 400.
            self._split(missing, outcome, "HTTP 409 for a statement the LRS does not have")
        elif missing:
            self._post(missing, outcome)


@dataclass(frozen=True)
class Missing:
    """A statement the outbox marks sent that its destination does not return."""

    statement_id: str
    destination: str
    registration: str | None
    why: str = "not found in the LRS"


# The LRS's ``stored`` clock and ours may differ; query a little earlier than asked.
RECONCILE_SKEW = timedelta(minutes=5)


def reconcile(session: Session, pool: ClientPool, builtin: Destination, sealer: Sealer,
              since: datetime) -> tuple[int, list[Missing]]:
    """Check rows sent since ``since`` against their LRS (by registration, else by id); return (checked, missing)."""
    rows = outbox.sent_since(session, since)
    groups: dict[tuple[str, str | None], list[str]] = defaultdict(list)
    for row in rows:
        groups[(row.destination or "?", row.registration)].append(row.statement_id)
    missing: list[Missing] = []
    for (key, registration), ids in groups.items():
        destination = targets.by_key(session, key, builtin, sealer)
        if destination is None:
            missing.extend(Missing(i, key, registration, "destination no longer exists") for i in ids)
            continue
        client = pool.get(destination)
        if registration is None:
            found = {i for i in ids if client.statement_status(i) == 200}
        else:
            found = set(client.statement_ids(registration=registration,
                                             since=(since - RECONCILE_SKEW).isoformat()))
        missing.extend(Missing(i, key, registration) for i in ids if i not in found)
    return len(rows), missing
