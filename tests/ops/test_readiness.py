"""/readyz: 200 when the database answers, the schema is at head and the outbox moves; else 503, never 500."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from lti_tool.ops.readiness import head_revisions
from tests.ops.conftest import DB
from xapi.db import utcnow
from xapi.outbox import SENT, OutboxStatement


def _queue(db: DB, age: timedelta, status: str = "queued") -> None:
    created = utcnow() - age
    with db() as session:
        session.add(OutboxStatement(statement_id=str(uuid.uuid4()), issuer="https://lms.test", deployment_id="d",
                                    payload={}, created_at=created, next_attempt_at=created, status=status))


def test_ready_on_a_migrated_database_with_no_backlog(client: FlaskClient, db: DB) -> None:
    _queue(db, timedelta(hours=5), status=SENT)  # delivered long ago: not a backlog
    _queue(db, timedelta(seconds=30))
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body is not None
    assert body["status"] == "ready"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True, "migrations": True, "outbox": True}
    assert body["checks"]["migrations"]["current"] == sorted(head_revisions())
    assert 25 <= body["checks"]["outbox"]["oldest_age_seconds"] < 900


def test_an_old_queued_statement_makes_the_instance_not_ready(client: FlaskClient, db: DB) -> None:
    _queue(db, timedelta(seconds=901))
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json
    assert body is not None
    assert body["status"] == "not ready"
    assert body["checks"]["outbox"]["ok"] is False
    assert body["checks"]["outbox"]["max_age_seconds"] == 900
    assert body["checks"]["database"]["ok"] and body["checks"]["migrations"]["ok"]


def test_the_outbox_threshold_is_configurable(make_app: Callable[..., Flask], db: DB) -> None:
    _queue(db, timedelta(seconds=120))
    assert make_app(READY_OUTBOX_MAX_AGE=60).test_client().get("/readyz").status_code == 503
    assert make_app(READY_OUTBOX_MAX_AGE=600).test_client().get("/readyz").status_code == 200


def test_a_threshold_of_zero_reports_the_backlog_without_failing(make_app: Callable[..., Flask], db: DB) -> None:
    _queue(db, timedelta(days=3))
    response = make_app(READY_OUTBOX_MAX_AGE=0).test_client().get("/readyz")
    assert response.status_code == 200
    outbox = response.json["checks"]["outbox"]
    assert outbox["enforced"] is False
    assert outbox["oldest_age_seconds"] >= 3 * 86400 - 60


def _readyz(make_app: Callable[..., Flask], url: str) -> tuple[int, dict[str, dict[str, object]]]:
    response = make_app(DATABASE_URL=url).test_client().get("/readyz")
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body is not None
    return response.status_code, body["checks"]


def test_a_database_behind_the_migrations_is_not_ready(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('0001')")
    status, checks = _readyz(make_app, f"sqlite:///{path}")
    assert status == 503
    assert checks["database"]["ok"] is True
    assert checks["migrations"] == {"ok": False, "current": ["0001"], "head": sorted(head_revisions())}


def test_an_empty_database_is_not_ready(make_app: Callable[..., Flask], tmp_path: Path) -> None:
    status, checks = _readyz(make_app, f"sqlite:///{tmp_path / 'empty.db'}")
    assert status == 503
    assert checks["database"]["ok"] is True
    assert checks["migrations"] == {"ok": False, "error": "OperationalError"}
    assert checks["outbox"] == {"ok": False, "error": "OperationalError"}


def test_an_unreachable_database_is_reported_not_raised(make_app: Callable[..., Flask]) -> None:
    # Port 1 on this machine: the connection is refused at once.
    status, checks = _readyz(make_app, "postgresql+psycopg://nobody:secret-pw@127.0.0.1:1/none")
    assert status == 503
    assert checks == {"database": {"ok": False, "error": "OperationalError"},
                      "migrations": {"ok": False, "skipped": "database unreachable"},
                      "outbox": {"ok": False, "skipped": "database unreachable"}}
