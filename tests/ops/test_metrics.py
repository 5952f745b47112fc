"""/metrics: who may read it, request and launch counts by endpoint and reason, outbox gauges, delivery."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from lti_tool.db import sessionmaker_for
from tests.conftest import TOOL_URL
from tests.ops.conftest import DB
from tests.platform import FakePlatform, launch, login, rsa_key
from xapi import outbox
from xapi.db import utcnow
from xapi.delivery import Settings
from xapi.sealing import Sealer
from xapi.targets import BUILTIN, Destination
from xapi.worker import Worker


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _scrape(client: FlaskClient, **kwargs: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def test_loopback_may_scrape_without_a_token_others_may_not(client: FlaskClient) -> None:
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", environ_overrides={"REMOTE_ADDR": "::1"}).status_code == 200
    for address in ("203.0.113.9", "10.0.0.5", "not-an-address"):
        assert client.get("/metrics", environ_overrides={"REMOTE_ADDR": address}).status_code == 403
    assert client.get("/metrics", headers={"Forwarded": "for=127.0.0.1"}).status_code == 403


def test_with_a_token_only_its_bearer_may_scrape(make_app: Any) -> None:
    client = make_app(METRICS_TOKEN="scrape-token-123").test_client()
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].lower().startswith("bearer")
    for wrong in ("Bearer nope", "Basic c2NyYXBlLXRva2VuLTEyMw==", "scrape-token-123"):
        assert client.get("/metrics", headers={"Authorization": wrong}).status_code == 401
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    ok = client.get("/metrics", headers={"Authorization": "Bearer scrape-token-123"}, environ_overrides=remote)
    assert ok.status_code == 200
    assert ok.content_type.startswith("text/plain")


def test_requests_are_counted_by_endpoint_never_by_path(client: FlaskClient, platform: FakePlatform) -> None:
    response = launch(client, platform)
    sid = response.headers["Location"].split("/app/")[1].split("/")[0]
    before = _value("upstander_http_request_duration_seconds_count", endpoint="app_pages.home", method="GET",
                    status="200")
    assert client.get(response.headers["Location"], base_url=TOOL_URL).status_code == 200
    client.get("/no/such/page?x=1")
    client.open("/", method="BREW")
    samples = _scrape(client)
    key = ("upstander_http_request_duration_seconds_count",
           (("endpoint", "app_pages.home"), ("method", "GET"), ("status", "200")))
    assert samples[key] == before + 1
    text = client.get("/metrics").text
    assert sid not in text
    assert "/no/such/page" not in text and "BREW" not in text
    assert 'endpoint="unmatched",method="GET",status="404"' in text
    assert 'method="other"' in text


def test_launches_and_rejections_are_counted_by_reason(client: FlaskClient, platform: FakePlatform) -> None:
    accepted = _value("upstander_lti_launches_total", outcome="accepted")
    rejected = _value("upstander_lti_launches_total", outcome="rejected")
    bad_signature = _value("upstander_lti_launch_rejections_total", step="launch", reason="signature_invalid")
    unknown_platform = _value("upstander_lti_launch_rejections_total", step="login", reason="platform_unknown")

    assert launch(client, platform).status_code == 303
    state, nonce = login(client, platform)
    forged = platform.sign(platform.claims(nonce), key=rsa_key("attacker"), header={"kid": platform.key.kid})
    assert client.post("/lti/launch", data={"state": state, "id_token": forged}, base_url=TOOL_URL).status_code == 400
    assert client.get("/lti/login", query_string={"iss": "https://unknown.example", "login_hint": "u",
                                                  "target_link_uri": TOOL_URL + "/lti/launch"},
                      base_url=TOOL_URL).status_code == 400

    assert _value("upstander_lti_launches_total", outcome="accepted") == accepted + 1
    assert _value("upstander_lti_launches_total", outcome="rejected") == rejected + 2
    assert _value("upstander_lti_launch_rejections_total", step="launch", reason="signature_invalid") == \
        bad_signature + 1
    assert _value("upstander_lti_launch_rejections_total", step="login", reason="platform_unknown") == \
        unknown_platform + 1


def test_outbox_gauges_are_read_from_the_database_when_scraped(client: FlaskClient, db: DB) -> None:
    samples = _scrape(client)
    assert samples[("upstander_xapi_outbox_statements", (("status", "queued"),))] == 0
    assert samples[("upstander_xapi_outbox_oldest_queued_age_seconds", ())] == 0
    created = utcnow() - timedelta(minutes=10)
    with db() as session:
        for status in ("queued", "queued", "dead", "sent"):
            session.add(outbox.OutboxStatement(statement_id=str(uuid.uuid4()), issuer="i", deployment_id="d",
                                               payload={}, created_at=created, status=status))
    samples = _scrape(client)
    assert samples[("upstander_xapi_outbox_scrape_ok", ())] == 1
    assert samples[("upstander_xapi_outbox_statements", (("status", "queued"),))] == 2
    assert samples[("upstander_xapi_outbox_statements", (("status", "dead"),))] == 1
    assert 600 <= samples[("upstander_xapi_outbox_oldest_queued_age_seconds", ())] < 700


def test_an_unreadable_outbox_is_reported_in_the_scrape(make_app: Any) -> None:
    client = make_app(DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none").test_client()
    samples = _scrape(client)
    assert samples[("upstander_xapi_outbox_scrape_ok", ())] == 0


@pytest.mark.parametrize(("status", "outcome"), [(200, "sent"), (401, "paused"), (503, "retry")])
def test_deliveries_are_counted_per_destination(app: Flask, db: DB, status: int, outcome: str) -> None:
    def lrs(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=[] if status == 200 else {"message": "no"})

    with db() as session:
        outbox.enqueue(session, [{"id": str(uuid.uuid4()), "context": {}} for _ in range(3)],
                       issuer="https://lms.metrics.test", deployment_id="d")
    sent = _value("upstander_xapi_statements_total", destination=BUILTIN, outcome="sent")
    failures = _value("upstander_xapi_delivery_failures_total", destination=BUILTIN, kind=outcome)
    requests = _value("upstander_xapi_lrs_request_duration_seconds_count", destination=BUILTIN,
                      operation="post_statements", status=str(status))
    worker = Worker(sessionmaker_for(app), Settings(), Destination(BUILTIN, "http://lrs.test/xapi/", "u", "p"),
                    sealer=Sealer(app.config["SECRET_KEY"]),
                    transport=httpx.MockTransport(lrs))
    try:
        worker.cycle()
    finally:
        worker.close()
    assert _value("upstander_xapi_lrs_request_duration_seconds_count", destination=BUILTIN,
                  operation="post_statements", status=str(status)) == requests + 1
    if outcome == "sent":
        assert _value("upstander_xapi_statements_total", destination=BUILTIN, outcome="sent") == sent + 3
    else:
        assert _value("upstander_xapi_delivery_failures_total", destination=BUILTIN, kind=outcome) == failures + 1


def test_a_request_without_answer_is_timed_as_an_error(app: Flask, db: DB) -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with db() as session:
        outbox.enqueue(session, [{"id": str(uuid.uuid4()), "context": {}}], issuer="https://lms.down.test",
                       deployment_id="d")
    labels = {"destination": BUILTIN, "operation": "post_statements", "status": "error"}
    before = _value("upstander_xapi_lrs_request_duration_seconds_count", **labels)
    worker = Worker(sessionmaker_for(app), Settings(), Destination(BUILTIN, "http://lrs.test/xapi/", "u", "p"),
                    sealer=Sealer(app.config["SECRET_KEY"]),
                    transport=httpx.MockTransport(down))
    try:
        worker.cycle()
    finally:
        worker.close()
    assert _value("upstander_xapi_lrs_request_duration_seconds_count", **labels) == before + 1
    assert _value("upstander_xapi_delivery_failures_total", destination=BUILTIN, kind="retry") >= 1


def test_sql_statements_are_counted_per_request(client: FlaskClient, platform: FakePlatform) -> None:
    def observed(field: str) -> float:
        return _value(f"upstander_db_statements_per_request_{field}", endpoint="lti.jwks") or 0.0

    count, total = observed("count"), observed("sum")
    assert client.get("/lti/jwks").status_code == 200  # reads the published keys: at least one SELECT
    assert observed("count") == count + 1
    assert observed("sum") >= total + 1
    healthz = _value("upstander_db_statements_per_request_count", endpoint="site.healthz")
    assert client.get("/healthz").status_code == 200  # no database at all: nothing observed
    assert _value("upstander_db_statements_per_request_count", endpoint="site.healthz") == healthz
