"""Structured logs: one JSON object per line with the request id of the response, and nothing secret or
personal in any log record, whatever the flow (launches, refusals, LRS requests, CLI, failed delivery)."""

from __future__ import annotations

import base64
import io
import json
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from lti_tool import cli, lrs_mount
from lti_tool.db import sessionmaker_for
from lti_tool.ops.logs import JsonFormatter, TextFormatter, configure
from tests.conftest import TOOL_URL
from tests.ops.conftest import DB
from tests.platform import FakePlatform, login, rsa_key
from xapi import outbox
from xapi.delivery import Settings
from xapi.lrs.auth import add_client
from xapi.sealing import Sealer
from xapi.targets import BUILTIN, Destination
from xapi.worker import Worker

PERSON = {"name": "Officer Quentin Zebulon", "given_name": "Quentin", "family_name": "Zebulon",
          "email": "quentin.zebulon@agency.example"}
TARGET_USER, TARGET_PASSWORD = "agency-lrs-user", "agency-lrs-P4ssw0rd-xyz"


@dataclass
class Capture:
    """Every record logged anywhere, kept as records and formatted both ways."""

    json_out: io.StringIO = field(default_factory=io.StringIO)
    text_out: io.StringIO = field(default_factory=io.StringIO)

    def text(self, caplog: pytest.LogCaptureFixture) -> str:
        raw = "\n".join(f"{r.getMessage()} {r.__dict__!r}" for r in caplog.records)
        return "\n".join((self.json_out.getvalue(), self.text_out.getvalue(), caplog.text, raw))

    def lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.json_out.getvalue().splitlines()]


@pytest.fixture
def capture(caplog: pytest.LogCaptureFixture) -> Iterator[Capture]:
    found = Capture()
    handlers = [logging.StreamHandler(found.json_out), logging.StreamHandler(found.text_out)]
    handlers[0].setFormatter(JsonFormatter())
    handlers[1].setFormatter(TextFormatter())
    root = logging.getLogger()
    caplog.set_level(logging.DEBUG)
    for handler in handlers:
        root.addHandler(handler)
    try:
        yield found
    finally:
        for handler in handlers:
            root.removeHandler(handler)


def test_each_line_is_json_with_the_request_id_of_the_response(client: FlaskClient, capture: Capture,
                                                                platform: FakePlatform) -> None:
    login(client, platform)
    response = client.get("/lti/jwks", base_url=TOOL_URL)
    request_id = response.headers["X-Request-ID"]
    lines = capture.lines()
    assert lines
    mine = [line for line in lines if line["request_id"] == request_id]
    assert mine[-1]["logger"] == "upstander.request"
    assert {k: mine[-1][k] for k in ("level", "method", "endpoint", "path", "status", "remote_addr")} == {
        "level": "INFO", "method": "GET", "endpoint": "lti.jwks", "path": "/lti/jwks", "status": 200,
        "remote_addr": "127.0.0.1"}
    assert isinstance(mine[-1]["duration_ms"], float)
    assert {"ts", "message"} <= set(mine[-1])
    login_lines = [line for line in lines if line.get("endpoint") == "lti.login"]
    assert len(login_lines) == 1 and login_lines[0]["request_id"] not in (None, request_id)


@pytest.mark.parametrize(("sent", "kept"), [
    ("abc-123_X.y", True), ("a" * 64, True), ("a" * 65, False), ("bad id", False), ('x" level="ERROR', False),
    ("a/b", False),
    ("", False), ("ünï", False),
])
def test_an_incoming_request_id_is_kept_only_when_safe(client: FlaskClient, capture: Capture, sent: str,
                                                        kept: bool) -> None:
    headers = {"X-Request-ID": sent} if sent.isascii() else {"X-Request-ID": sent.encode().decode("latin-1")}
    response = client.get("/healthz", headers=headers)
    echoed = response.headers["X-Request-ID"]
    assert (echoed == sent) is kept
    if not kept:
        assert len(echoed) == 32 and echoed.isalnum()
    assert capture.lines()[-1]["request_id"] == echoed


def test_a_session_path_is_logged_as_its_rule(client: FlaskClient, capture: Capture) -> None:
    sid = uuid.uuid4().hex
    client.get(f"/app/{sid}/?token=abc")
    client.get(f"/app/{sid}/no/such/page?token=abc")
    paths = [line["path"] for line in capture.lines() if line["logger"] == "upstander.request"]
    assert paths == ["/app/<sid>/", "/app/<sid>/no/such/page"]


def test_probes_are_quiet_unless_they_fail(client: FlaskClient, capture: Capture) -> None:
    client.get("/healthz")
    client.get("/readyz")
    levels = {line["endpoint"]: line["level"] for line in capture.lines() if line["logger"] == "upstander.request"}
    assert levels == {"site.healthz": "DEBUG", "ops.readyz": "DEBUG"}


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _cookie_value(response: object, prefix: str) -> str:
    headers = response.headers.getlist("Set-Cookie")  # type: ignore[attr-defined]
    found = [h.split(";")[0].split("=", 1)[1] for h in headers if h.startswith(prefix)]
    assert found
    return found[0]


def _launch_flows(client: FlaskClient, platform: FakePlatform) -> list[str]:
    """A launch with a named learner (and its pages), a refused one, a replay; return the secrets seen."""
    state, nonce = login(client, platform)
    token = platform.sign(platform.claims(nonce, **PERSON))
    response = client.post("/lti/launch", data={"state": state, "id_token": token}, base_url=TOOL_URL)
    assert response.status_code == 303
    home = response.headers["Location"]
    sid = home.split("/app/")[1].split("/")[0]
    session_token = _cookie_value(response, f"us_{sid}")
    page = client.get(home, base_url=TOOL_URL)
    assert PERSON["given_name"] in page.text or PERSON["name"] in page.text  # the learner's name was there to leak
    client.get(f"{home}nowhere?q={session_token}", base_url=TOOL_URL)
    replay = client.post("/lti/launch", data={"state": state, "id_token": token}, base_url=TOOL_URL)
    assert replay.status_code == 400
    state, nonce = login(client, platform)
    forged = platform.sign(platform.claims(nonce, **PERSON), key=rsa_key("attacker"),
                           header={"kid": platform.key.kid})
    refused = client.post("/lti/launch", data={"state": state, "id_token": forged}, base_url=TOOL_URL)
    assert refused.status_code == 400
    return [token, forged, sid, session_token, state, nonce]


def _lrs_flows(app: Flask, client: FlaskClient, db: DB) -> list[str]:
    """Requests to the built-in LRS with good and bad Basic credentials; return the secrets used."""
    with db() as session:
        key, secret = add_client(session, lrs_mount.pepper(app), "log test", ["all"])
    headers = {"X-Experience-API-Version": "1.0.3", "Authorization": "Basic " + _basic(key, secret)}
    statement = {"id": str(uuid.uuid4()), "actor": {"mbox": "mailto:" + PERSON["email"], "name": PERSON["name"]},
                 "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
                 "object": {"id": "https://tool.test/activity/1"}}
    assert client.post("/xapi/statements", json=statement, headers=headers).status_code == 200
    agent = json.dumps({"mbox": "mailto:" + PERSON["email"]})
    assert client.get("/xapi/statements", query_string={"agent": agent}, headers=headers).status_code == 200
    wrong = {**headers, "Authorization": "Basic " + _basic(key, secret + "x")}
    assert client.post("/xapi/statements", json=statement, headers=wrong).status_code == 401
    return [secret, _basic(key, secret), _basic(key, secret + "x")]


def _cli_and_delivery(app: Flask, db: DB) -> list[str]:
    """Set an agency LRS target through the CLI, then fail to deliver to it with a 401."""
    original = cli.create_app
    cli.create_app = lambda: app  # type: ignore[assignment]
    try:
        result = CliRunner().invoke(cli.main, [
            "lrs-target", "set", "--issuer", "https://lms.example.edu", "--endpoint",
            f"https://{TARGET_USER}:{TARGET_PASSWORD}@lrs.agency.example/xapi/", "--username", TARGET_USER,
            "--password-stdin"], input=TARGET_PASSWORD + "\n")
        assert result.exit_code == 0, result.output
        assert CliRunner().invoke(cli.main, ["lrs-target", "list"]).exit_code == 0
    finally:
        cli.create_app = original  # type: ignore[assignment]
    with db() as session:
        outbox.enqueue(session, [{"id": str(uuid.uuid4()), "context": {}, "actor": {"name": PERSON["name"]}}],
                       issuer="https://lms.example.edu", deployment_id="dep-1")
    seen: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(401, json={"message": "bad credentials"})

    worker = Worker(sessionmaker_for(app), Settings(), Destination(BUILTIN, "http://lrs.test/xapi/", "w", "w-pw"),
                    sealer=Sealer(app.config["SECRET_KEY"]),
                    transport=httpx.MockTransport(refuse))
    try:
        worker.cycle()
    finally:
        worker.close()
    assert seen and seen[0].headers["Authorization"] == "Basic " + _basic(TARGET_USER, TARGET_PASSWORD)
    return [TARGET_PASSWORD, _basic(TARGET_USER, TARGET_PASSWORD)]


def test_no_secret_token_or_learner_identity_reaches_a_log(app: Flask, client: FlaskClient, db: DB,
                                                           platform: FakePlatform, capture: Capture,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    secrets = _launch_flows(client, platform) + _lrs_flows(app, client, db) + _cli_and_delivery(app, db)
    logged = capture.text(caplog)
    # The capture saw the flows: the refusals, the request lines, the paused delivery.
    for expected in ("refused: signature_invalid", "lti.launch", "xapi_lrs.", "refused our credentials"):
        assert expected in logged
    for value in [*secrets, *PERSON.values()]:
        assert value not in logged, f"{value[:12]}... reached a log"
    assert "/app/<sid>/" in logged


def test_configure_chooses_the_format_and_level() -> None:
    root = logging.getLogger()
    level = root.level
    try:
        handler = configure({"LOG_FORMAT": "", "LOG_LEVEL": "warning"}, default_format="json")
        assert isinstance(handler.formatter, JsonFormatter)
        assert root.level == logging.WARNING
        again = configure({"LOG_FORMAT": "text"}, default_format="json")
        assert isinstance(again.formatter, TextFormatter)
        assert handler not in root.handlers and again in root.handlers  # reconfiguring replaces, never stacks
        with pytest.raises(ValueError, match="LOG_FORMAT"):
            configure({"LOG_FORMAT": "xml"}, default_format="json")
        with pytest.raises(ValueError, match="LOG_LEVEL"):
            configure({"LOG_LEVEL": "loud"}, default_format="json")
        root.removeHandler(again)
    finally:
        root.setLevel(level)


def test_an_unhandled_error_is_logged_with_its_session_path_redacted(app: Flask, capture: Capture) -> None:
    sid = uuid.uuid4().hex

    @app.get("/app/<sid>/explode")
    def explode(sid: str) -> str:
        raise RuntimeError("boom")

    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: answer 500 and log it
    response = app.test_client().get(f"/app/{sid}/explode?secret=q")
    assert response.status_code == 500
    lines = capture.lines()
    assert sid not in capture.json_out.getvalue() and sid not in capture.text_out.getvalue()
    failed = [line for line in lines if line.get("exc")]
    assert failed and "RuntimeError: boom" in str(failed[0]["exc"]) and "/app/<sid>/explode" in failed[0]["message"]
    assert lines[-1]["level"] == "WARNING" and lines[-1]["status"] == 500
