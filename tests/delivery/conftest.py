"""Fixtures for the delivery tests: xapi-statements behind a fault proxy, statements, workers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.db import sessionmaker_for
from tests.delivery.lrs_servers import SERVER_JS, AuthStub, FaultProxy, XapiStatements
from xapi import outbox
from xapi.delivery import Settings
from xapi.outbox import OutboxStatement
from xapi.sealing import Sealer
from xapi.targets import BUILTIN, Destination
from xapi.worker import Worker

USER, PASSWORD = "delivery-worker", "s3cret-worker-password"
ISSUER, DEPLOYMENT = "https://lms.delivery.test", "dep-1"
# Short timeouts and backoff so faults resolve quickly; the lease outlasts one request.
FAST = Settings(batch_size=50, connect_timeout=0.5, read_timeout=1.0, claim_lease=3.0,
                idle_sleep=0.05, backoff_base=0.05, backoff_max=0.2)
SessionFactory = Callable[[], AbstractContextManager[Session]]
# Agency LRS passwords are sealed with a key derived from the app's secret key (tests/conftest.py).
SEALER = Sealer("test-secret")


class Lrs:
    """xapi-statements and the auth stub that accepts our worker's credentials."""

    def __init__(self, workdir: Path) -> None:
        self.auth = AuthStub()
        self.auth.accounts.add((USER, PASSWORD))
        self.server = XapiStatements(workdir, self.auth)
        self.endpoint = self.server.endpoint

    def close(self) -> None:
        self.server.close()
        self.auth.close()


@pytest.fixture(scope="module")
def lrs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lrs]:
    if not SERVER_JS.exists() or shutil.which("node") is None:
        pytest.skip("xapi-statements is not installed: run `npm ci` (bin/test does) with Node.js on the PATH")
    server = Lrs(tmp_path_factory.mktemp("xapi-statements"))
    yield server
    server.close()


@pytest.fixture
def proxy(lrs: Lrs) -> Iterator[FaultProxy]:
    proxy = FaultProxy(lrs.endpoint)
    yield proxy
    proxy.close()


@pytest.fixture
def registration() -> str:
    return str(uuid.uuid4())


def statement(registration: str, number: int, *, bad: bool = False) -> dict[str, Any]:
    """A small valid statement; ``bad`` gives it a verb id that is not an IRI (every LRS rejects it)."""
    return {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "account": {"homePage": ISSUER, "name": "learner-1"}},
        "verb": {"id": "not an iri" if bad else "http://adlnet.gov/expapi/verbs/answered",
                 "display": {"en-US": "answered"}},
        "object": {"objectType": "Activity", "id": f"https://tool.test/xapi/activities/decision/{number}"},
        "context": {"registration": registration},
        "timestamp": "2026-11-30T12:00:00.000Z",
    }


@pytest.fixture
def queue(db: SessionFactory, registration: str) -> Callable[..., list[dict[str, Any]]]:
    """Queue ``count`` statements of this test's registration (``bad``: the indexes to spoil)."""

    def add(count: int, *, bad: frozenset[int] = frozenset(), issuer: str = ISSUER,
            deployment: str = DEPLOYMENT) -> list[dict[str, Any]]:
        made = [statement(registration, n, bad=n in bad) for n in range(count)]
        with db() as session:
            outbox.enqueue(session, made, issuer=issuer, deployment_id=deployment)
        return made

    return add


def destination(endpoint: str, password: str = PASSWORD) -> Destination:
    return Destination(BUILTIN, endpoint, USER, password)


@pytest.fixture
def make_worker(app: Flask) -> Iterator[Callable[..., Worker]]:
    made: list[Worker] = []

    def build(endpoint: str, settings: Settings = FAST, **kwargs: Any) -> Worker:
        kwargs.setdefault("sealer", Sealer(app.config["SECRET_KEY"]))
        worker = Worker(sessionmaker_for(app), settings, destination(endpoint), **kwargs)
        made.append(worker)
        return worker

    yield build
    for worker in made:
        worker.close()


def rows(db: SessionFactory) -> list[OutboxStatement]:
    with db() as session:
        return list(session.scalars(select(OutboxStatement).order_by(OutboxStatement.id)))


def queued(db: SessionFactory) -> int:
    with db() as session:
        return int(session.scalar(select(func.count()).where(OutboxStatement.status == outbox.QUEUED)) or 0)


def drain_until_settled(worker: Worker, db: SessionFactory, limit: float = 60.0) -> None:
    """Drain, letting backoffs run out, until nothing is queued (bounded so a bug fails, not hangs)."""
    deadline = time.monotonic() + limit
    while True:
        worker.drain()
        if not queued(db):
            return
        assert time.monotonic() < deadline, "statements still queued after the time limit"
        time.sleep(0.05)


def cli_env(database_url: str, endpoint: str, **extra: str) -> dict[str, str]:
    """The environment of an ``upstander`` subprocess on the test database and the given LRS."""
    env = {**os.environ, "UPSTANDER_DATABASE_URL": database_url, "UPSTANDER_SECRET_KEY": "delivery-tests",
           "UPSTANDER_LRS_ENDPOINT": endpoint, "UPSTANDER_LRS_KEY": USER, "UPSTANDER_LRS_SECRET": PASSWORD,
           "UPSTANDER_XAPI_CONNECT_TIMEOUT": "0.5", "UPSTANDER_XAPI_READ_TIMEOUT": "1.0",
           "UPSTANDER_XAPI_CLAIM_LEASE": "3.0", "UPSTANDER_XAPI_BACKOFF_BASE": "0.05",
           "UPSTANDER_XAPI_BACKOFF_MAX": "0.2", "UPSTANDER_XAPI_IDLE_SLEEP": "0.05"}
    env.update(extra)
    return env


def upstander(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "upstander"), *args]


def run_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(upstander(*args), env=env, input=stdin, capture_output=True, text=True,  # noqa: S603
                          timeout=120, check=False)


@pytest.fixture
def postgres(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL: runs when TEST_DATABASE_URL points at a reachable PostgreSQL (bin/test does)")
    return database_url
