"""Prometheus metrics of the web app: request latency, launches and their rejections, and the outbox
(depth and oldest age, read from the database when scraped). Delivery metrics live in ``xapi.metrics``.

Under ``upstander serve`` several gunicorn workers count separately; prometheus_client's multiprocess
mode (one directory of memory-mapped files, ``PROMETHEUS_MULTIPROC_DIR``) lets one scrape of any worker
report them all. Labels are bounded: Flask endpoint names (never paths, which hold session ids), a fixed
list of methods, status codes, launch error codes, destination keys.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime
from time import perf_counter
from typing import Any

from flask import Flask, g, has_request_context, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess, values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.wrappers import Response

from xapi.db import utcnow
from xapi.outbox import DEAD, QUEUED, OutboxStatement

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})
_LAUNCH_STEPS = {"lti.login": "login", "lti.launch": "launch", "lti.launch_storage": "launch"}

REQUESTS = Histogram(
    "upstander_http_request_duration_seconds",
    "Time to answer a request, per Flask endpoint, method and status.",
    ["endpoint", "method", "status"],
)
LAUNCHES = Counter(
    "upstander_lti_launches_total", "LTI launches, accepted or rejected.", ["outcome"],
)
RATE_LIMITED = Counter(
    "upstander_rate_limited_total",
    "Requests refused with 429 by the rate limits, per surface (login, launch, register, lrs).",
    ["surface"],
)
DB_STATEMENTS = Histogram(
    "upstander_db_statements_per_request",
    "SQL statements a request sent to the database, per Flask endpoint (round trips are most of a request's time).",
    ["endpoint"], buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64),
)
REJECTIONS = Counter(
    "upstander_lti_launch_rejections_total",
    "Refused logins and launches, per step (login, launch) and reason (the error code, or http_<status>).",
    ["step", "reason"],
)


def _observe(response: Response) -> Response:
    endpoint = request.endpoint or "unmatched"
    method = request.method if request.method in _METHODS else "other"
    started = g.get("request_started")
    if started is not None:
        REQUESTS.labels(endpoint, method, str(response.status_code)).observe(perf_counter() - started)
    statements = g.get("db_statements")
    if statements is not None:
        DB_STATEMENTS.labels(endpoint).observe(statements)
    step = _LAUNCH_STEPS.get(endpoint)
    if step is not None and response.status_code >= 400:
        LAUNCHES.labels("rejected").inc()
        REJECTIONS.labels(step, g.get("lti_error_code") or f"http_{response.status_code}").inc()
    elif step == "launch" and response.status_code == 303:
        # 303 to the tool's pages; a 200 is the platform-storage page, whose launch is still to come.
        LAUNCHES.labels("accepted").inc()
    return response


def _count_statement(*_: Any) -> None:
    if has_request_context():
        g.db_statements = g.get("db_statements", 0) + 1


def init_app(app: Flask) -> None:
    """Observe every request (the request id hook sets its start time) and count its SQL statements."""
    app.after_request(_observe)
    if not event.contains(Engine, "before_cursor_execute", _count_statement):
        event.listen(Engine, "before_cursor_execute", _count_statement)


# --- the outbox, read at scrape time ------------------------------------------------------------------


class OutboxCollector(Collector):
    """Queued and dead-lettered statements, and the age of the oldest queued one, from the database."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        ok = GaugeMetricFamily("upstander_xapi_outbox_scrape_ok", "1 when the outbox could be read, else 0.")
        depth = GaugeMetricFamily("upstander_xapi_outbox_statements",
                                  "Statements in the outbox not yet delivered, per status (queued, dead).",
                                  labels=["status"])
        age = GaugeMetricFamily("upstander_xapi_outbox_oldest_queued_age_seconds",
                                "Age of the oldest queued statement (0 when none is queued).")
        try:
            with self.sessions() as session:
                counts = {status: int(count) for status, count in session.execute(
                    select(OutboxStatement.status, func.count()).where(OutboxStatement.status.in_([QUEUED, DEAD]))
                    .group_by(OutboxStatement.status))}
                oldest = oldest_queued(session)
        except SQLAlchemyError:
            ok.add_metric([], 0)
            yield ok
            return
        ok.add_metric([], 1)
        for status in (QUEUED, DEAD):
            depth.add_metric([status], counts.get(status, 0))
        age.add_metric([], (utcnow() - oldest).total_seconds() if oldest else 0.0)
        yield from (ok, depth, age)


def oldest_queued(session: Session) -> datetime | None:
    """Return when the oldest statement still waiting for delivery was queued."""
    found: datetime | None = session.scalar(
        select(func.min(OutboxStatement.created_at)).where(OutboxStatement.status == QUEUED))
    return found


class _ThisProcess(Collector):
    """Everything registered in this process (when not in multiprocess mode)."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


def registry(sessions: sessionmaker[Session]) -> CollectorRegistry:
    """Return a registry for one scrape: every worker's metrics (or this process's) and the outbox."""
    found = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.MultiProcessCollector(found)  # type: ignore[no-untyped-call]  # untyped in prometheus_client
    else:
        found.register(_ThisProcess())
    found.register(OutboxCollector(sessions))
    return found


# --- multiprocess mode for `upstander serve` ----------------------------------------------------------


def enable_multiprocess() -> str:
    """Point prometheus_client at a fresh private directory; call in the master before workers fork.

    prometheus_client picks its value storage when first imported, and the CLI imported it before it
    knew the command was ``serve``: so the choice is made again here. Metric values are created when
    first labelled, in a worker, after this.
    """
    path = tempfile.mkdtemp(prefix="upstander-metrics-")  # mode 0700: other users cannot read or plant files
    os.environ[MULTIPROC_ENV] = path
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]  # untyped in prometheus_client
    return path


def gunicorn_options() -> dict[str, Any]:
    """Enable multiprocess mode; return the gunicorn hook that forgets dead workers.

    The directory goes when the master exits, also when gunicorn gives up at start (a port in use),
    which runs no ``on_exit`` hook; workers run the exit handlers too, so only the master's removes it.
    """
    path = enable_multiprocess()
    atexit.register(_remove_from, os.getpid(), path)

    def child_exit(server: Any, worker: Any) -> None:
        multiprocess.mark_process_dead(worker.pid, path)  # type: ignore[no-untyped-call]  # untyped upstream

    return {"child_exit": child_exit}


def _remove_from(master: int, path: str) -> None:
    if os.getpid() == master:
        shutil.rmtree(path, ignore_errors=True)


def serve_standalone(sessions: sessionmaker[Session], host: str, port: int) -> None:
    """Serve this process's metrics and the outbox on ``host:port`` from a background thread."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=registry(sessions))
