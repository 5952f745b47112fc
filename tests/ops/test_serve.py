"""A real ``upstander serve`` (gunicorn, 2 workers): its standard error is JSON lines only, carries the
request ids it answers with, holds no token or learner identity after a launch, and one scrape of
/metrics counts the requests of every worker. And ``upstander worker --metrics-port``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from lti_tool import migrate
from lti_tool.db import make_engine
from lti_tool.lti import claims as c
from lti_tool.services import platforms
from tests.platform import FakePlatform

PERSON = {"name": "Officer Serve Testperson", "given_name": "Servetta", "family_name": "Testperson",
          "email": "servetta.testperson@agency.example"}
SECRET_KEY = "ops-serve-secret-key"
UPSTANDER = str(Path(sys.executable).with_name("upstander"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Served:
    url: str
    platform: FakePlatform
    proc: subprocess.Popen[bytes]
    stderr: Path


def _jwks_server(platform: FakePlatform) -> ThreadingHTTPServer:
    body = json.dumps({"keys": [platform.key.as_dict(private=False)]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # keep the test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], stderr: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, stderr.read_text()[-3000:]
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    pytest.fail("upstander serve did not become healthy:\n" + stderr.read_text()[-3000:])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("ops-serve")
    url_db = f"sqlite:///{tmp / 'serve.db'}"
    migrate.upgrade(url_db)
    jwks_port = _free_port()
    platform = FakePlatform(issuer=f"http://127.0.0.1:{jwks_port}", kid="ops-serve-key")
    jwks = _jwks_server(platform)
    platform.jwks_url = f"http://127.0.0.1:{jwks.server_address[1]}/jwks"
    engine = make_engine(url_db)
    from sqlalchemy.orm import Session

    with Session(engine) as session, session.begin():
        platforms.register(session, platforms.PlatformInput(
            issuer=platform.issuer, client_id=platform.client_id, auth_login_url=platform.issuer + "/auth",
            token_url=platform.issuer + "/token", jwks_url=platform.jwks_url,
            deployment_ids=list(platform.deployments)))
    engine.dispose()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "UPSTANDER_DATABASE_URL": url_db, "UPSTANDER_PUBLIC_URL": url,
           "UPSTANDER_SECRET_KEY": SECRET_KEY, "UPSTANDER_DEMO_LMS": "false", "UPSTANDER_LOG_LEVEL": "DEBUG",
           "PYTHONUNBUFFERED": "1"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    stderr = tmp / "stderr.log"
    with stderr.open("wb") as err:
        # Our own console script with fixed arguments.
        proc = subprocess.Popen([UPSTANDER, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"],  # noqa: S603
                                env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        _wait_healthy(url, proc, stderr)
        yield Served(url, platform, proc, stderr)
    finally:
        _stop(proc)
        jwks.shutdown()
        jwks.server_close()


def _launch(served: Served, http: httpx.Client) -> tuple[list[str], str]:
    """Log in and launch as a named learner, open the home page; return the secrets and the launch's request id."""
    login = http.get(served.url + "/lti/login", params={
        "iss": served.platform.issuer, "login_hint": "user-1", "target_link_uri": served.url + "/lti/launch",
        "client_id": served.platform.client_id, "lti_deployment_id": served.platform.deployments[0]})
    assert login.status_code == 302, login.text
    query = parse_qs(urlsplit(login.headers["Location"]).query)
    state, nonce = query["state"][0], query["nonce"][0]
    claims = served.platform.claims(nonce, **PERSON, **{c.TARGET_LINK_URI: served.url + "/lti/launch"})
    token = served.platform.sign(claims)
    # The cookies are Secure (the iframe needs SameSite=None); over plain http the test sends them itself.
    cookie = f"lti_state_{state}={state}"
    launched = http.post(served.url + "/lti/launch", data={"state": state, "id_token": token},
                         headers={"Cookie": cookie})
    assert launched.status_code == 303, launched.text
    home = launched.headers["Location"]
    sid = home.split("/app/")[1].split("/")[0]
    session_cookie = next(v for k, v in launched.headers.multi_items() if k.lower() == "set-cookie"
                          and v.startswith(f"us_{sid}=")).split(";")[0]
    page = http.get(served.url + home if home.startswith("/") else home, headers={"Cookie": session_cookie})
    assert page.status_code == 200
    assert PERSON["given_name"] in page.text or PERSON["name"] in page.text
    replay = http.post(served.url + "/lti/launch", data={"state": state, "id_token": token}, headers={"Cookie": cookie})
    assert replay.status_code == 400
    return [token, sid, session_cookie.split("=", 1)[1], state, nonce], launched.headers["X-Request-ID"]


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(url + "/metrics", timeout=10)
    assert response.status_code == 200, response.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def test_serve_logs_json_without_secrets_and_scrapes_every_worker(served: Served) -> None:
    with httpx.Client(timeout=20) as http:
        secrets, launch_id = _launch(served, http)
        for _ in range(20):  # spread over both workers: each keep-alive-less request may go to either
            assert httpx.get(served.url + "/healthz", timeout=10, headers={"Connection": "close"}).status_code == 200
    samples = _scrape(served.url)
    healthz = ("upstander_http_request_duration_seconds_count",
               (("endpoint", "site.healthz"), ("method", "GET"), ("status", "200")))
    assert samples[healthz] >= 21  # the start-up polls too, whichever worker answered them
    assert samples[("upstander_lti_launches_total", (("outcome", "accepted"),))] == 1
    assert samples[("upstander_lti_launch_rejections_total", (("reason", "state_unknown"), ("step", "launch")))] == 1
    assert ("upstander_xapi_outbox_statements", (("status", "queued"),)) in samples
    time.sleep(0.5)  # let the last lines reach the file
    text = served.stderr.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # every line is one JSON object
    assert any(line["logger"].startswith("gunicorn") for line in lines)  # gunicorn's own messages too
    launch = [line for line in lines if line.get("endpoint") == "lti.launch" and line.get("status") == 303]
    assert len(launch) == 1 and launch[0]["request_id"] == launch_id
    assert launch[0]["logger"] == "upstander.request" and launch[0]["path"] == "/lti/launch"
    assert '"GET /' not in text  # no gunicorn access-log line
    for value in [*secrets, *PERSON.values()]:
        assert value not in text, f"{value[:12]}... reached the server's log"


def test_worker_serves_its_metrics_on_loopback(tmp_path: Path, database_url: str) -> None:
    port = _free_port()
    env = {**os.environ, "UPSTANDER_DATABASE_URL": database_url, "UPSTANDER_SECRET_KEY": SECRET_KEY,
           "UPSTANDER_PUBLIC_URL": "http://127.0.0.1:9", "UPSTANDER_XAPI_IDLE_SLEEP": "0.2"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    stderr = tmp_path / "worker.log"
    with stderr.open("wb") as err:
        proc = subprocess.Popen([UPSTANDER, "worker", "--metrics-port", str(port)], env=env, cwd=tmp_path,  # noqa: S603
                                stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, stderr.read_text()[-3000:]
            try:
                samples = _scrape(f"http://127.0.0.1:{port}")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, stderr.read_text()[-3000:]
                time.sleep(0.2)
        assert samples[("upstander_xapi_outbox_scrape_ok", ())] == 1
        assert ("upstander_xapi_outbox_oldest_queued_age_seconds", ()) in samples
    finally:
        _stop(proc)
