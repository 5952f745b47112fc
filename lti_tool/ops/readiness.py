"""Readiness: can this instance serve? The database answers, its schema is at the newest migration,
and the outbox is being delivered (its oldest queued statement is younger than a threshold).

Each check runs in its own short session, so one failure (an aborted transaction on PostgreSQL) cannot
spoil the next; a failing check is reported, never raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.migrate import alembic_config
from lti_tool.ops.metrics import oldest_queued
from xapi.db import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    """One check's result: ``ok`` and a short explanation for the operator."""

    ok: bool
    detail: dict[str, Any]


@cache
def head_revisions() -> frozenset[str]:
    """Return the head revision(s) of the migrations folder, read once per process."""
    return frozenset(ScriptDirectory.from_config(alembic_config("")).get_heads())


def database(session: Session) -> Check:
    """Check that the database answers a trivial query."""
    session.execute(text("SELECT 1"))
    return Check(True, {})


def migrations(session: Session) -> Check:
    """Check that the schema is at the head revision of the migrations folder."""
    current = frozenset(session.scalars(text("SELECT version_num FROM alembic_version")))
    head = head_revisions()
    return Check(current == head, {"current": sorted(current), "head": sorted(head)})


def outbox(max_age: float) -> Callable[[Session], Check]:
    """Check that the oldest queued statement waited less than ``max_age`` seconds (0: report only).

    A long outage of an LRS fails this check on every instance at once; a load balancer that probes
    /readyz would then take them all out, so an operator who prefers that never happens sets 0.
    """

    def check(session: Session) -> Check:
        oldest = oldest_queued(session)
        age = (utcnow() - oldest).total_seconds() if oldest else 0.0
        return Check(max_age <= 0 or age < max_age,
                     {"oldest_age_seconds": round(age, 1), "max_age_seconds": max_age, "enforced": max_age > 0})

    return check


def run(sessions: sessionmaker[Session], max_age: float) -> tuple[bool, dict[str, dict[str, Any]]]:
    """Run every check; return whether all passed and each one's result."""
    checks = {"database": database, "migrations": migrations, "outbox": outbox(max_age)}
    results: dict[str, dict[str, Any]] = {}
    for name, check in checks.items():
        if name != "database" and not results["database"]["ok"]:
            # Each would wait out the same connection timeout again.
            results[name] = {"ok": False, "skipped": "database unreachable"}
            continue
        results[name] = _attempt(sessions, name, check)
    return all(r["ok"] for r in results.values()), results


def _attempt(sessions: sessionmaker[Session], name: str, check: Callable[[Session], Check]) -> dict[str, Any]:
    try:
        with sessions() as session:
            found = check(session)
    except Exception as exc:  # a probe must answer: any failure is a failed check, reported, never a 500
        # The exception's class says enough here; its text may carry the connection URL.
        log.warning("readiness check %s failed: %s", name, type(exc).__name__)
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": found.ok, **found.detail}
