"""Rate limits through the app: login, launch, registration and the LRS, in memory and in Redis."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool import create_app
from lti_tool.db import dispose_engine
from lti_tool.lrs_mount import pepper
from lti_tool.models import LoginState
from lti_tool.ratelimit import EXTENSION, Limiter, RateLimitConfigError
from lti_tool.ratelimit_backends import MemoryBackend, Rate, RedisBackend
from tests.conftest import LMS_URL, REDIS_URL, TOOL_URL, Router
from tests.platform import FakePlatform, login
from xapi.lrs.auth import add_client, ensure_worker_client

DB = Callable[[], AbstractContextManager[Session]]
XAPI = {"X-Experience-API-Version": "1.0.3"}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _limit(app: Flask, **rates: Rate) -> Clock:
    """Give the app a fresh in-memory limiter with these rates and a hand-moved clock."""
    clock, current = Clock(), app.extensions[EXTENSION]
    app.extensions[EXTENSION] = Limiter(dict(rates), MemoryBackend(), current.exempt, clock)
    return clock


def _basic(key: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode(), **XAPI}


def _login(client: FlaskClient, address: str = "10.0.0.1", **headers: str) -> Any:
    return client.get("/lti/login", base_url=TOOL_URL, environ_base={"REMOTE_ADDR": address}, headers=headers)


def test_login_is_throttled_per_address_with_an_error_page_and_retry_after(app: Flask, client: FlaskClient) -> None:
    _limit(app, login=Rate(3, 60.0))
    assert [_login(client).status_code for _ in range(3)] == [400, 400, 400]
    refused = _login(client)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "20"
    assert "text/html" in refused.content_type
    assert "429 · Too Many Requests" in refused.text
    assert "Wait 20 seconds" in refused.text
    assert _login(client, address="10.0.0.2").status_code == 400


def test_refusals_are_counted_per_surface_in_the_metrics(app: Flask, client: FlaskClient) -> None:
    _limit(app, login=Rate(1, 60.0))

    def refused() -> float:
        text = client.get("/metrics").text
        line = next((x for x in text.splitlines() if x.startswith('upstander_rate_limited_total{surface="login"}')),
                    None)
        return float(line.rsplit(" ", 1)[1]) if line else 0.0

    before = refused()
    assert [_login(client).status_code for _ in range(3)] == [400, 429, 429]
    assert refused() == before + 2


def test_an_api_client_gets_a_problem_document(app: Flask, client: FlaskClient) -> None:
    _limit(app, login=Rate(1, 60.0))
    _login(client)
    refused = _login(client, Accept="application/json")
    assert refused.status_code == 429
    assert refused.mimetype == "application/problem+json"
    assert refused.json is not None and refused.json["code"] == "rate_limited"
    assert refused.headers["Retry-After"] == "60"


def test_the_limit_comes_back_after_the_period(app: Flask, client: FlaskClient) -> None:
    clock = _limit(app, login=Rate(2, 60.0))
    assert [_login(client).status_code for _ in range(3)] == [400, 400, 429]
    clock.now += 29.5
    assert _login(client).status_code == 429
    assert _login(client).headers["Retry-After"] == "1"  # 0.5 s left is rounded up, never 0
    clock.now += 0.5
    assert _login(client).status_code == 400
    clock.now += 60
    assert [_login(client).status_code for _ in range(3)] == [400, 400, 429]


def test_a_throttled_login_stores_nothing(app: Flask, client: FlaskClient, db: DB, router: Router) -> None:
    with db() as session:
        platform = FakePlatform().install(session, router)
    _limit(app, login=Rate(1, 60.0))
    login(client, platform)
    query = {"iss": platform.issuer, "login_hint": "user-1", "target_link_uri": TOOL_URL + "/lti/launch",
             "client_id": platform.client_id}
    assert client.get("/lti/login", query_string=query, base_url=TOOL_URL).status_code == 429
    assert client.post("/lti/login", data=query, base_url=TOOL_URL).status_code == 429
    with db() as session:
        assert session.scalar(select(func.count()).select_from(LoginState)) == 1


def test_every_launch_endpoint_shares_the_launch_limit(app: Flask, client: FlaskClient) -> None:
    _limit(app, launch=Rate(2, 60.0), login=Rate(1, 60.0))
    assert client.post("/lti/launch", base_url=TOOL_URL).status_code == 400
    assert client.post("/lti/launch/another-step", base_url=TOOL_URL).status_code == 404
    assert client.post("/lti/launch", base_url=TOOL_URL).status_code == 429
    assert _login(client, address="127.0.0.1").status_code == 400  # login keeps its own count


def test_registration_is_throttled(app: Flask, client: FlaskClient) -> None:
    _limit(app, register=Rate(1, 3600.0))
    assert client.get("/lti/register", base_url=TOOL_URL).status_code == 400
    refused = client.get("/lti/register", base_url=TOOL_URL)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "3600"


def _statement() -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "actor": {"mbox": "mailto:pat@agency.example"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
            "object": {"id": "http://agency.example/activity"}}


def test_the_lrs_counts_per_client_key_answers_in_its_error_format_and_stores_nothing(
        app: Flask, client: FlaskClient, db: DB) -> None:
    with db() as session:
        first = add_client(session, pepper(app), "reporting", ["all"])
        second = add_client(session, pepper(app), "other", ["all"])
        worker = ensure_worker_client(session, pepper(app))
    _limit(app, lrs=Rate(1, 60.0))
    assert client.post("/xapi/statements", json=_statement(), headers=_basic(*first)).status_code == 200
    throttled = _statement()
    refused = client.post("/xapi/statements", json=throttled, headers=_basic(*first))
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert refused.headers["X-Experience-API-Version"] == "1.0.3"
    message = "too many requests from this client: try again in 60 s"
    assert refused.json == {"error": {"status": 429, "message": message}}
    assert client.get("/xapi/about", headers=_basic(*second)).status_code == 200
    for _ in range(3):  # the delivery worker's own credentials are never throttled
        found = client.get("/xapi/statements", query_string={"statementId": throttled["id"]}, headers=_basic(*worker))
        assert found.status_code == 404
    assert client.get("/xapi/about", headers=XAPI).status_code == 200  # no credentials: keyed by address
    assert client.get("/xapi/about", headers=XAPI).status_code == 429


def test_a_bad_setting_stops_start_up(database_url: str) -> None:
    with pytest.raises(RateLimitConfigError, match="UPSTANDER_RATE_LIMIT_LAUNCH='lots'"):
        create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "x", "RATE_LIMIT_LAUNCH": "lots"})


def test_a_redis_url_without_a_scheme_stops_start_up(database_url: str) -> None:
    with pytest.raises(RateLimitConfigError, match=r"UPSTANDER_RATE_LIMIT_REDIS_URL='127\.0\.0\.1:6379'"):
        create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "x",
                    "RATE_LIMIT_REDIS_URL": "127.0.0.1:6379"})


def _app(database_url: str, tmp_path: Path, **config: Any) -> Flask:
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
                      "PUBLIC_URL": TOOL_URL, "DEMO_LMS_URL": LMS_URL, "DEMO_LMS": False, **config})
    app.instance_path = str(tmp_path)
    return app


def test_limits_can_be_turned_off(database_url: str, tmp_path: Path) -> None:
    app = _app(database_url, tmp_path, RATE_LIMITS_ENABLED="false", RATE_LIMIT_LOGIN="1/hour")
    assert EXTENSION not in app.extensions
    assert [_login(app.test_client()).status_code for _ in range(3)] == [400, 400, 400]
    dispose_engine(app)


def test_two_instances_on_one_redis_share_the_limit(database_url: str, tmp_path: Path, redis_prefix: str) -> None:
    config = {"RATE_LIMIT_REDIS_URL": REDIS_URL, "RATE_LIMIT_KEY_PREFIX": redis_prefix, "RATE_LIMIT_LOGIN": "3/minute"}
    first, second = _app(database_url, tmp_path, **config), _app(database_url, tmp_path, **config)
    clock = Clock()
    for app in (first, second):
        assert isinstance(app.extensions[EXTENSION].backend, RedisBackend)
        app.extensions[EXTENSION].clock = clock
    a, b = first.test_client(), second.test_client()
    assert [_login(a).status_code, _login(b).status_code, _login(a).status_code] == [400, 400, 400]
    assert _login(b).status_code == 429
    assert _login(a).status_code == 429
    assert _login(b, address="10.9.9.9").status_code == 400
    clock.now += 20
    assert _login(a).status_code == 400
    for app in (first, second):
        dispose_engine(app)


def test_redis_down_lets_requests_through(database_url: str, tmp_path: Path) -> None:
    app = _app(database_url, tmp_path, RATE_LIMIT_REDIS_URL="redis://127.0.0.1:1/0", RATE_LIMIT_LOGIN="1/minute")
    client = app.test_client()
    assert [_login(client).status_code for _ in range(3)] == [400, 400, 400]
    backend = app.extensions[EXTENSION].backend
    assert isinstance(backend, RedisBackend)
    assert backend.failures == 3
    dispose_engine(app)
