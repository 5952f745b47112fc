"""Fixtures: a migrated database (SQLite, or PostgreSQL with TEST_DATABASE_URL), an app whose
outbound HTTP is routed to itself or to fake platforms, and a clean database for every test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Table, text
from sqlalchemy.orm import Session

from lti_tool import create_app, migrate
from lti_tool.db import ALL_METADATA, sessionmaker_for
from lti_tool.services import platforms as platforms_service

TOOL_URL = "http://tool.test"
LMS_URL = "http://lms.test"

Handler = Callable[[httpx.Request], httpx.Response]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Return a freshly migrated database URL for this test session."""
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    migrate.upgrade(url)
    return url


class Router(httpx.BaseTransport):
    """Send requests for registered URL prefixes to handlers, everything else to the app itself."""

    def __init__(self, app: Flask) -> None:
        self.routes: dict[str, Handler] = {}
        self.calls: list[httpx.Request] = []
        self._app = httpx.WSGITransport(app=app)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        url = str(request.url)
        for prefix, handler in self.routes.items():
            if url.startswith(prefix):
                return handler(request)
        return self._app.handle_request(request)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({
        "TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
        "PUBLIC_URL": TOOL_URL, "DEMO_LMS_URL": LMS_URL, "DEMO_LMS": True,
    })
    app.instance_path = str(tmp_path)
    # Each test starts with no key-set refetch remembered (platform ids are reused between tests).
    platforms_service._refetched.clear()
    router = Router(app)
    app.extensions["upstander.router"] = router
    app.extensions["upstander.http"] = httpx.Client(transport=router)
    yield app
    _wipe(app)


def _all_tables() -> list[Table]:
    import xapi.tables  # noqa: F401  (xAPI tables register on import)

    return [table for metadata in ALL_METADATA for table in metadata.sorted_tables]


def _wipe(app: Flask) -> None:
    maker = sessionmaker_for(app)
    with maker.begin() as session:
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in _all_tables())
            session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(_all_tables()):
                session.execute(table.delete())
    assert maker.kw["bind"] is not None
    maker.kw["bind"].dispose()


@pytest.fixture
def router(app: Flask) -> Router:
    router: Router = app.extensions["upstander.router"]
    return router


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def db(app: Flask) -> Callable[[], AbstractContextManager[Session]]:
    """Return a context manager opening a session that commits on exit."""

    @contextmanager
    def open_session() -> Iterator[Session]:
        with sessionmaker_for(app).begin() as session:
            yield session

    return open_session


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of its own for this test; skip (visibly) when Redis is not running."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {exc}")
    prefix = f"upstander-test:{uuid.uuid4().hex}:"
    yield prefix
    for key in client.scan_iter(prefix + "*"):
        client.delete(key)
    client.close()
