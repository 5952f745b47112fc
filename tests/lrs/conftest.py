"""Fixtures for the built-in LRS: a real server process and client credentials.

- ``lrs_server`` (session): the base URL of the LRS, ending in ``/xapi`` (no trailing slash), served by gunicorn
  (2 gthread workers) running :func:`xapi.lrs.app.create_lrs_app` on the session's migrated database.
- ``lrs_auth`` (per test): an ``httpx.BasicAuth`` for a fresh client holding the scope ``all``.
- ``lrs_client_for`` (per test): a function ``(scopes) -> httpx.BasicAuth`` making further clients.
- ``lrs`` (per test): an ``httpx.Client`` with ``base_url=lrs_server``, ``lrs_auth`` and the 1.0.3 version header.

Each test gets new clients because other tests wipe every table after they run; tests use fresh UUIDs and
IRIs so data left by earlier tests never matters.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from xapi.db import make_engine
from xapi.lrs.auth import add_client

PEPPER = b"upstander-lrs-test-pepper"
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the LRS server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/about", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the LRS server did not start within 30 s")


@pytest.fixture(scope="session")
def lrs_server(database_url: str) -> Iterator[str]:
    """Start gunicorn serving the LRS alone; return its base URL ending in /xapi."""
    port = _free_port()
    root = f"http://127.0.0.1:{port}"
    factory = f"xapi.lrs.app:create_lrs_app({database_url!r}, {PEPPER!r}, {root!r})"
    cmd = [sys.executable, "-m", "gunicorn", "--no-control-socket", "--bind", f"127.0.0.1:{port}", "--workers", "2",
           "--worker-class", "gthread", "--threads", "4", "--log-level", "warning", factory]
    proc = subprocess.Popen(cmd, cwd=ROOT)  # noqa: S603  (fixed arguments, our own interpreter)
    try:
        _wait_until_up(f"{root}/xapi", proc)
        yield f"{root}/xapi"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="session")
def lrs_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def lrs_client_for(lrs_engine: Engine) -> Callable[[list[str]], httpx.BasicAuth]:
    """Return a function creating an LRS client with the given scopes and returning its Basic auth."""

    def make(scopes: list[str]) -> httpx.BasicAuth:
        with Session(lrs_engine) as session, session.begin():
            key, secret = add_client(session, PEPPER, f"test client {'+'.join(scopes)}", scopes)
        return httpx.BasicAuth(key, secret)

    return make


@pytest.fixture
def lrs_auth(lrs_client_for: Callable[[list[str]], httpx.BasicAuth]) -> httpx.BasicAuth:
    """Basic auth for a fresh client with the scope ``all``."""
    return lrs_client_for(["all"])


@pytest.fixture
def lrs(lrs_server: str, lrs_auth: httpx.BasicAuth) -> Iterator[httpx.Client]:
    """An HTTP client for the LRS speaking xAPI 1.0.3 with full rights (paths are relative to /xapi)."""
    with httpx.Client(base_url=lrs_server, auth=lrs_auth, timeout=30,
                      headers={"X-Experience-API-Version": "1.0.3"}) as client:
        yield client
