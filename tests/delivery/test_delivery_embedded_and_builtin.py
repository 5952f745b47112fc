"""The embedded loop of ``upstander serve``, and delivery into the built-in LRS over real HTTP."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from flask import Flask
from werkzeug.serving import make_server

from lti_tool.db import sessionmaker_for
from tests.delivery.conftest import (
    PASSWORD,
    SEALER,
    USER,
    Lrs,
    SessionFactory,
    cli_env,
    drain_until_settled,
    queued,
    rows,
    upstander,
)
from tests.delivery.lrs_servers import HOST, FaultProxy, free_port, stored_ids
from xapi import outbox
from xapi.delivery import Settings
from xapi.targets import BUILTIN, Destination
from xapi.worker import Worker


def test_serve_delivers_and_stops_cleanly(lrs: Lrs, proxy: FaultProxy, queue: Callable[..., list[dict[str, Any]]],
                                          db: SessionFactory, database_url: str, registration: str) -> None:
    port = free_port()
    env = cli_env(database_url, proxy.endpoint, UPSTANDER_PUBLIC_URL=f"http://{HOST}:{port}",
                  UPSTANDER_DEMO_LMS="false")
    made = queue(10)
    server = subprocess.Popen(upstander("serve", "--port", str(port), "--workers", "2"), env=env,  # noqa: S603
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while queued(db):
            assert server.poll() is None, server.communicate()[0]
            assert time.monotonic() < deadline, "serve did not deliver"
            time.sleep(0.1)
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, output
    assert "Traceback" not in output, output
    assert stored_ids(lrs.endpoint, (USER, PASSWORD), registration) == {s["id"]: 1 for s in made}


@pytest.fixture
def builtin_lrs(app: Flask, db: SessionFactory) -> Iterator[Destination]:
    """The app (with the built-in LRS mounted at /xapi/) on a real port, and the worker's client there."""
    try:
        from lti_tool.lrs_mount import pepper
        from xapi.lrs.auth import ensure_worker_client
    except ImportError as exc:
        pytest.skip(f"built-in LRS not available yet: {exc}")
    with db() as session:
        key, secret = ensure_worker_client(session, pepper(app))
    server = make_server(HOST, free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Destination(BUILTIN, f"http://{HOST}:{server.server_port}/xapi/", key, secret)
    server.shutdown()
    thread.join()


@pytest.mark.parametrize("batch_size", [1, 50])
def test_every_statement_arrives_once_in_the_builtin_lrs(
    batch_size: int, app: Flask, builtin_lrs: Destination, queue: Callable[..., list[dict[str, Any]]],
    db: SessionFactory, registration: str,
) -> None:
    made = queue(60)
    settings = Settings(batch_size=batch_size, connect_timeout=1, read_timeout=10, claim_lease=30,
                        backoff_base=0.05, backoff_max=0.2)
    worker = Worker(sessionmaker_for(app), settings, builtin_lrs, sealer=SEALER)
    try:
        worker.drain()
        problems = {r.last_error for r in rows(db) if r.status != outbox.SENT}
        if any(p and ("HTTP 404" in p or "HTTP 405" in p or "HTTP 501" in p) for p in problems):
            pytest.skip(f"built-in LRS statements API not ready: {sorted(map(str, problems))[:1]}")
        drain_until_settled(worker, db)
    finally:
        worker.close()
    assert {r.status for r in rows(db)} == {outbox.SENT}
    found = stored_ids(builtin_lrs.endpoint, (builtin_lrs.username, builtin_lrs.password), registration)
    assert found == {s["id"]: 1 for s in made}
    with httpx.Client(auth=(builtin_lrs.username, builtin_lrs.password),
                      headers={"X-Experience-API-Version": "1.0.3"}) as http:
        one = http.get(builtin_lrs.endpoint + "statements", params={"statementId": made[0]["id"]}).json()
    assert one["verb"] == made[0]["verb"] and one["object"]["id"] == made[0]["object"]["id"]

