"""Fixtures for the operations tests: apps with other settings on the test database, and a platform."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from lti_tool import create_app
from lti_tool.db import dispose_engine
from tests.conftest import LMS_URL, TOOL_URL, Router
from tests.platform import FakePlatform

DB = Callable[[], AbstractContextManager[Session]]


@pytest.fixture
def make_app(database_url: str, app: Flask) -> Iterator[Callable[..., Flask]]:
    """Return a function building another app on the test database with settings overridden.

    Depends on ``app`` so that the test database is wiped after the test as usual.
    """
    made: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        other = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                            "PUBLIC_URL": TOOL_URL, "DEMO_LMS_URL": LMS_URL, "DEMO_LMS": True, **overrides})
        other.instance_path = app.instance_path
        made.append(other)
        return other

    yield make
    for other in made:
        dispose_engine(other)


@pytest.fixture
def platform(db: DB, router: Router) -> FakePlatform:
    with db() as session:
        return FakePlatform().install(session, router)
