"""End-to-end fixtures: a real ``upstander serve`` (gunicorn, demo LMS on) and Debian's Chromium.

The demo LMS is opened as http://localhost:<port> and the tool as http://127.0.0.1:<port>, so the
tool's iframe is genuinely cross-site, as it is inside a real LMS. The database is a temp SQLite file,
or a fresh PostgreSQL database ``<test database>_e2e`` next to ``TEST_DATABASE_URL`` when that is set.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from sqlalchemy.engine import make_url

CHROMIUM = os.environ.get("UPSTANDER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update"]
SECRET_KEY = "e2e-secret-key-not-for-production"
START_SECONDS = 60
STOP_SECONDS = 10
TIMEOUT_MS = 20_000
# A Playwright wait on a frame whose request never gets an answer does not time out by itself,
# so each test is bounded here: past this, the server is killed and every pending request fails.
TEST_SECONDS = 90
# Playwright's assertions wait 5 s by default, independently of the context's timeout; a loaded CI machine
# (a launch is four page loads and, with platform storage, two postMessage exchanges) needs longer.
# The waits end as soon as the condition holds, so a passing test is no slower.
expect.set_options(timeout=TIMEOUT_MS)


@dataclass(frozen=True)
class Server:
    """A running ``upstander serve``: the tool's and the demo LMS's base URLs."""

    tool_url: str
    lms_url: str
    log: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def course_url(self) -> str:
        return self.lms_url + "/demo-lms/"

    def log_tail(self, chars: int = 6000) -> str:
        """Return the end of the server's log without the start-up polling's access-log lines."""
        lines = self.log.read_text(errors="replace").splitlines()
        # The server logs one JSON object per request (lti_tool.ops.logs), naming the endpoint.
        polls = ('"endpoint": "site.healthz"', '"endpoint": "demo_lms.course_home"')
        kept = [line for line in lines if not any(poll in line for poll in polls)]
        return "\n".join(kept)[-chars:]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _admin_conninfo(url: str) -> str:
    """Return a libpq URI for the maintenance database of the server in ``url``."""
    return make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def e2e_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Return a database for the server: SQLite, or a fresh PostgreSQL database dropped afterwards."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base or not base.startswith("postgresql"):
        yield f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'upstander.db'}"
        return
    import psycopg

    admin = _admin_conninfo(base)
    # Named after the test database, so runs against different test databases never drop each other's.
    e2e_database = f"{make_url(base).database}_e2e"
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{e2e_database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{e2e_database}"')
    yield make_url(base).set(database=e2e_database).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{e2e_database}" WITH (FORCE)')


def _stop(proc: subprocess.Popen[bytes], graceful: bool = True) -> None:
    """Stop the server's whole process group: TERM, then KILL; bounded waits."""
    steps = ((signal.SIGTERM, STOP_SECONDS), (signal.SIGKILL, 5)) if graceful else ((signal.SIGKILL, 5),)
    for sig, wait in steps:
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


def _wait_until_registered(server: Server, proc: subprocess.Popen[bytes]) -> None:
    """Wait for /healthz, then for the demo LMS to show launch buttons (registration done)."""
    deadline = time.monotonic() + START_SECONDS
    healthy = False
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"upstander serve exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                if not healthy:
                    healthy = client.get(server.tool_url + "/healthz").status_code == 200
                if healthy and "Open as " in client.get(server.course_url).text:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
    what = "registered with the demo LMS" if healthy else "healthy"
    pytest.fail(f"upstander serve was not {what} within {START_SECONDS} s:\n{server.log_tail()}")


@pytest.fixture(scope="session")
def server(e2e_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Run ``upstander serve`` on a free port for the whole session."""
    port = _free_port()
    tmp = tmp_path_factory.mktemp("server")
    log_path = tmp / "server.log"
    env = {
        **os.environ,
        "UPSTANDER_DATABASE_URL": e2e_database_url,
        "UPSTANDER_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "UPSTANDER_DEMO_LMS_URL": f"http://localhost:{port}",
        "UPSTANDER_SECRET_KEY": SECRET_KEY,
        "PYTHONUNBUFFERED": "1",
    }
    command = [str(Path(sys.executable).with_name("upstander")), "serve", "--host", "127.0.0.1",
               "--port", str(port)]
    with log_path.open("wb") as log:
        # A fixed command line: our own console script with our own arguments.
        proc = subprocess.Popen(command, env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT,  # noqa: S603
                                stdin=subprocess.DEVNULL, start_new_session=True)
    found = Server(tool_url=env["UPSTANDER_PUBLIC_URL"], lms_url=env["UPSTANDER_DEMO_LMS_URL"],
                   log=log_path, proc=proc)
    try:
        _wait_until_registered(found, proc)
        yield found
    finally:
        _stop(proc)


@contextmanager
def bounded(server: Server, seconds: float, what: str) -> Iterator[None]:
    """Bound a block as the conftest's watchdog bounds a test: past ``seconds`` the server is stopped."""
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        if server.proc is not None:
            _stop(server.proc, graceful=False)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        if expired.is_set():
            pytest.fail(f"{what} ran over {seconds} s, so the server was stopped; its log:\n{server.log_tail()}")


@pytest.fixture(autouse=True)
def watchdog(server: Server) -> Iterator[None]:
    """Bound every end-to-end test; on expiry stop the server so that pending browser waits end."""
    with bounded(server, TEST_SECONDS, "the test"):
        yield


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Launch Debian's Chromium (Playwright's own download is not used)."""
    if not shutil.which(CHROMIUM):
        message = f"{CHROMIUM} is missing: install Debian's chromium (bin/test does so as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh browser profile for each test: no cookies carried between tests."""
    ctx = browser.new_context()
    ctx.set_default_timeout(TIMEOUT_MS)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
