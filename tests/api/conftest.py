"""Fixtures for schema-driven tests: the app in process, credentials for every API, and table row counts.

- ``app`` (per test, overriding the suite's): the tool with the demo LMS, without rate limits (the fuzzer sends
  hundreds of requests a second; throttling has its own tests).
- ``api``: an :class:`ApiContext` holding an LRS client (scope ``all``), a demo LMS access token with every
  service scope, a fresh registration token per call, and the row count of every table.

The schema is loaded when the test module is imported, from the document ``/openapi.json`` serves, and each
case is sent in process to the test's app (``case.call(app=...)``): schemathesis's ``from_fixture`` loader
does not run under pytest 9 (it sets ``Node._nodeid``, which pytest 9 no longer has).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from lti_tool import create_app, lrs_mount
from lti_tool.db import sessionmaker_for
from lti_tool.demo.registration import new_registration_token
from lti_tool.demo.site import site_from
from lti_tool.lti import claims as c
from tests.conftest import LMS_URL, TOOL_URL, Router, _all_tables, _wipe
from tests.functional.test_demo_lms import FakeTool
from xapi.lrs.auth import add_client

# Small enough that the whole run stays well under three minutes on SQLite; the fixed seed and
# deterministic generation make every run (and CI) send the same requests.
CONFIG = schemathesis.Config.from_dict({
    "seed": 7_2026,
    "generation": {
        "mode": "all",  # positive and negative
        "max-examples": 10,
        "deterministic": True,
        "database": "none",
        "with-security-parameters": False,  # credentials come from the fixtures below
    },
    "phases": {"stateful": {"enabled": False}},
})


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app({
        "TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
        "PUBLIC_URL": TOOL_URL, "DEMO_LMS_URL": LMS_URL, "DEMO_LMS": True, "RATE_LIMITS_ENABLED": False,
    })
    app.instance_path = str(tmp_path)
    router = Router(app)
    app.extensions["upstander.router"] = router
    app.extensions["upstander.http"] = httpx.Client(transport=router)
    yield app
    _wipe(app)


@dataclass
class ApiContext:
    """Credentials for each API and a way to see whether a request stored anything."""

    app: Flask
    lrs_auth: str
    demo_token: str
    line_item_id: int  # a gradebook column that exists, so valid scores can be stored

    def headers_for(self, path: str) -> dict[str, str]:
        """Return the Authorization header the operation at ``path`` needs."""
        if path.startswith("/xapi/"):
            return {"Authorization": self.lrs_auth}
        if path == "/demo-lms/register":
            with self.app.app_context():
                return {"Authorization": "Bearer " + new_registration_token(site_from(self.app.config))}
        if path.startswith("/demo-lms/api/"):
            return {"Authorization": "Bearer " + self.demo_token}
        return {}

    def row_counts(self) -> dict[str, int]:
        """Return the number of rows in every table (LRS, outbox, tool and demo LMS), in one query."""
        tables = _all_tables()
        # Table names come from our own metadata, never from a request.
        columns = ", ".join(f'(SELECT count(*) FROM "{t.name}") AS c{i}' for i, t in enumerate(tables))  # noqa: S608
        with sessionmaker_for(self.app)() as session:
            row = session.execute(text(f"SELECT {columns}")).one()
        return {t.name: int(n) for t, n in zip(tables, row, strict=True)}


def _lrs_basic(app: Flask) -> str:
    engine = sessionmaker_for(app).kw["bind"]
    assert isinstance(engine, Engine)
    with Session(engine) as session, session.begin():
        key, secret = add_client(session, lrs_mount.pepper(app), "schemathesis", ["all"])
    return httpx.BasicAuth(key, secret)._auth_header


@pytest.fixture
def api(app: Flask, client: FlaskClient, router: Router) -> ApiContext:
    tool = FakeTool(client, router, app)
    token = tool.access_token(*c.TOOL_SCOPES)
    created = client.post("/demo-lms/api/contexts/demo-course/lineitems", json={"label": "Quiz", "scoreMaximum": 10},
                          headers={"Authorization": f"Bearer {token}"})
    assert created.status_code == 201, created.get_data(as_text=True)
    item_id = int(created.get_json()["id"].rsplit("/", 1)[1])
    return ApiContext(app, _lrs_basic(app), token, item_id)


def routes(app: Flask) -> set[str]:
    """Return the paths the app routes, in OpenAPI's template syntax."""
    return {rule.rule.replace("<int:item_id>", "{item_id}") for rule in app.url_map.iter_rules()}
