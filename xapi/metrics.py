"""Prometheus metrics of statement delivery: outcomes per destination and the time LRS requests take.

Labels stay bounded: ``destination`` is a destination key (``builtin`` or ``target:<id>``), never an
endpoint URL; ``operation`` and ``status`` come from short fixed lists. Every metric has labels, so its
values are created on first use: under ``upstander serve`` that is after the multiprocess directory is
set, in the worker process that counts them.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

STATEMENTS = Counter(
    "upstander_xapi_statements_total",
    "Statements whose delivery was decided, per destination and outcome (sent or dead-lettered).",
    ["destination", "outcome"],
)
BATCH_FAILURES = Counter(
    "upstander_xapi_delivery_failures_total",
    "Batches that stopped early, per destination and kind (retry: temporary failure; paused: credentials refused).",
    ["destination", "kind"],
)
LRS_REQUESTS = Histogram(
    "upstander_xapi_lrs_request_duration_seconds",
    "Time of each HTTP request to an LRS, per destination, operation and HTTP status (error: no answer).",
    ["destination", "operation", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


def record_outcome(destination: str, sent: int, dead: int, retry: bool, paused: bool) -> None:
    """Count what became of one batch."""
    if sent:
        STATEMENTS.labels(destination, "sent").inc(sent)
    if dead:
        STATEMENTS.labels(destination, "dead").inc(dead)
    if paused:
        BATCH_FAILURES.labels(destination, "paused").inc()
    elif retry:
        BATCH_FAILURES.labels(destination, "retry").inc()


def observe_request(destination: str, operation: str, status: int | None, seconds: float) -> None:
    """Record one LRS request; ``status`` None means no HTTP answer (timeout, refused connection)."""
    LRS_REQUESTS.labels(destination, operation, "error" if status is None else str(status)).observe(seconds)
