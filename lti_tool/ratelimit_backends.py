"""Where rate-limit counters live: this process's memory, or Redis shared by every process.

Both run GCRA (the generic cell rate algorithm): per key one number, the "theoretical arrival time"
(TAT). A limit of N per period spaces requests ``period / N`` apart and tolerates a burst of N, so a
roll call arriving at once passes while a steady flood is held to the configured rate. Unlike a fixed
window it cannot let 2N through around a window boundary; unlike a sliding log it stores one value per
key, not one per request; and the moment the next request would pass is exact, which gives Retry-After.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import redis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rate:
    """``limit`` requests per ``period`` seconds."""

    limit: int
    period: float

    @property
    def interval(self) -> float:
        return self.period / self.limit


@dataclass(frozen=True)
class Decision:
    """The answer for one request: allowed, or refused until ``retry_after`` seconds from now."""

    allowed: bool
    retry_after: float = 0.0


def gcra(tat: float | None, now: float, rate: Rate) -> tuple[Decision, float | None]:
    """Decide one request; return the decision and the new TAT to store (None: store nothing)."""
    start = now if tat is None or tat < now else tat
    new_tat = start + rate.interval
    allow_at = new_tat - rate.period  # the burst of ``limit`` requests fits in one period
    if now < allow_at:
        return Decision(False, allow_at - now), None
    return Decision(True), new_tat


class Backend(Protocol):
    def hit(self, key: str, rate: Rate, now: float) -> Decision:
        """Count one request against ``key``; say whether it may go on."""


class MemoryBackend:
    """Counters in this process: exact for one process; ``serve``'s N workers each keep their own."""

    # Expired keys are dropped when the table grows past this, so a flood of addresses cannot grow it forever.
    PRUNE_AT = 10_000

    def __init__(self) -> None:
        self._tats: dict[str, float] = {}
        self._lock = threading.Lock()  # gthread workers serve several requests at once

    def hit(self, key: str, rate: Rate, now: float) -> Decision:
        with self._lock:
            decision, new_tat = gcra(self._tats.get(key), now, rate)
            if new_tat is not None:
                self._tats[key] = new_tat
                if len(self._tats) > self.PRUNE_AT:
                    self._tats = {k: v for k, v in self._tats.items() if v > now}
            return decision

    def __len__(self) -> int:
        return len(self._tats)


# One round trip, atomic in Redis: read the TAT, decide, store the new TAT with an expiry at which the
# key would be back to "no history" (so idle keys vanish). Numbers travel as strings because Redis
# truncates Lua numbers to integers in replies; the TAT is written with microseconds (tostring keeps
# only 14 digits, a tenth of a millisecond at today's epoch seconds).
_GCRA_LUA = """
local tat = tonumber(redis.call('GET', KEYS[1]))
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
if tat == nil or tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - period
if now < allow_at then
  return {0, tostring(allow_at - now)}
end
redis.call('SET', KEYS[1], string.format('%.6f', new_tat), 'PX', math.max(1, math.ceil((new_tat - now) * 1000)))
return {1, '0'}
"""


class RedisBackend:
    """Counters in Redis, shared by every process and host using the same URL and key prefix.

    If Redis cannot be reached the request is allowed (fail open): a limiter must not take the service
    down. Each failure is counted; a warning is logged at most once per ``WARN_EVERY`` seconds, and
    Redis is not tried again for ``RETRY_AFTER_FAILURE`` seconds so that requests do not each wait for
    a connect timeout while it is away.
    """

    WARN_EVERY = 60.0
    RETRY_AFTER_FAILURE = 5.0
    TIMEOUT = 0.25  # seconds: a limiter slower than this costs more than it protects

    def __init__(self, url: str, prefix: str, client: redis.Redis | None = None) -> None:
        self.prefix = prefix
        self.client = client or redis.Redis.from_url(url, socket_timeout=self.TIMEOUT,
                                                     socket_connect_timeout=self.TIMEOUT)
        self._script = self.client.register_script(_GCRA_LUA)
        self.failures = 0
        self._last_warning: float | None = None
        self._down_until = 0.0
        self._lock = threading.Lock()

    def hit(self, key: str, rate: Rate, now: float) -> Decision:
        if time.monotonic() < self._down_until:
            return self._failed_open(None)
        try:
            allowed, wait = self._script(keys=[self.prefix + key], args=[repr(now), repr(rate.interval),
                                                                          repr(rate.period)])
        except redis.RedisError as exc:
            return self._failed_open(exc)
        return Decision(bool(int(allowed)), float(wait))

    def _failed_open(self, exc: redis.RedisError | None) -> Decision:
        with self._lock:
            self.failures += 1
            if exc is not None:
                self._down_until = time.monotonic() + self.RETRY_AFTER_FAILURE
            clock = time.monotonic()
            if self._last_warning is None or clock - self._last_warning >= self.WARN_EVERY:
                self._last_warning = clock
                log.warning("rate limits not enforced: Redis unreachable or failing (%s); %d request(s) let "
                            "through so far", exc or "still down", self.failures)
        return Decision(True)
