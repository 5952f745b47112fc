"""Delivery into xapi-statements (a real, independent LRS) with no faults: batches, destinations, CLI."""

from __future__ import annotations

import math
import signal
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.delivery.conftest import (
    DEPLOYMENT,
    ISSUER,
    PASSWORD,
    SEALER,
    USER,
    Lrs,
    SessionFactory,
    cli_env,
    queued,
    rows,
    run_cli,
    upstander,
)
from tests.delivery.lrs_servers import FaultProxy, stored_ids
from xapi import outbox, targets
from xapi.delivery import Settings
from xapi.worker import Worker


@pytest.mark.parametrize("batch_size", [1, 50])
def test_every_statement_arrives_once_in_batches(
    batch_size: int, lrs: Lrs, proxy: FaultProxy, queue: Callable[..., list[dict[str, Any]]],
    make_worker: Callable[..., Worker], db: SessionFactory, registration: str,
) -> None:
    made = queue(120)
    worker = make_worker(proxy.endpoint, Settings(batch_size=batch_size, connect_timeout=1, read_timeout=5,
                                                  claim_lease=30))
    worker.drain()

    assert stored_ids(lrs.endpoint, (USER, PASSWORD), registration) == {s["id"]: 1 for s in made}
    assert len(proxy.posts) == math.ceil(120 / batch_size)
    assert all(len(ids) <= batch_size for ids, _ in proxy.posts)
    done = rows(db)
    assert {(r.status, r.destination, r.attempts) for r in done} == {(outbox.SENT, targets.BUILTIN, 1)}
    assert all(r.sent_at is not None and r.claim_token is None for r in done)
    # The LRS got exactly what was queued, ids included.
    assert [r.payload for r in done] == made


def test_deployment_target_beats_platform_target_beats_builtin(
    lrs: Lrs, queue: Callable[..., list[dict[str, Any]]], make_worker: Callable[..., Worker],
    db: SessionFactory,
) -> None:
    platform_lrs, deployment_lrs, builtin_lrs = (FaultProxy(lrs.endpoint) for _ in range(3))
    try:
        with db() as session:
            platform = targets.set_target(session, issuer=ISSUER, deployment_id=None,
                                          endpoint=platform_lrs.endpoint, username=USER, password=PASSWORD,
                                          sealer=SEALER)
            deployment = targets.set_target(session, issuer=ISSUER, deployment_id=DEPLOYMENT,
                                            endpoint=deployment_lrs.endpoint, username=USER, password=PASSWORD,
                                            sealer=SEALER)
            keys = (platform.key, deployment.key)
        to_deployment = queue(3)
        to_platform = queue(4, deployment="dep-2")
        to_builtin = queue(5, issuer="https://other-lms.test")
        make_worker(builtin_lrs.endpoint).drain()

        assert set(deployment_lrs.post_count()) == {s["id"] for s in to_deployment}
        assert set(platform_lrs.post_count()) == {s["id"] for s in to_platform}
        assert set(builtin_lrs.post_count()) == {s["id"] for s in to_builtin}
        by_id = {r.statement_id: r.destination for r in rows(db)}
        assert {by_id[s["id"]] for s in to_deployment} == {keys[1]}
        assert {by_id[s["id"]] for s in to_platform} == {keys[0]}
        assert {by_id[s["id"]] for s in to_builtin} == {targets.BUILTIN}
    finally:
        for proxy in (platform_lrs, deployment_lrs, builtin_lrs):
            proxy.close()


def test_cli_targets_worker_status_and_reconcile(
    lrs: Lrs, proxy: FaultProxy, queue: Callable[..., list[dict[str, Any]]], database_url: str,
    db: SessionFactory, registration: str,
) -> None:
    env = cli_env(database_url, "http://127.0.0.1:9/unused/")
    set_target = run_cli(env, "lrs-target", "set", "--issuer", ISSUER, "--endpoint", proxy.endpoint,
                         "--username", USER, "--password-stdin", stdin=PASSWORD + "\n")
    assert set_target.returncode == 0, set_target.stderr
    listing = run_cli(env, "lrs-target", "list")
    assert "de***" in listing.stdout and "password=sealed" in listing.stdout
    assert PASSWORD not in listing.stdout + set_target.stdout and USER not in listing.stdout
    tested = run_cli(env, "lrs-target", "test", "--issuer", ISSUER)
    assert tested.returncode == 0 and "1.0.3" in tested.stdout, tested.stdout + tested.stderr

    made = queue(7)
    status = run_cli(env, "outbox", "status")
    assert "target:" in status.stdout and " 7 " in status.stdout
    worker = run_cli(env, "worker", "--once")
    assert worker.returncode == 0, worker.stderr
    assert "sent 7, dead-lettered 0" in worker.stdout
    assert PASSWORD not in worker.stdout + worker.stderr
    assert stored_ids(lrs.endpoint, (USER, PASSWORD), registration) == {s["id"]: 1 for s in made}

    reconciled = run_cli(env, "outbox", "reconcile", "--since", "2000-01-01")
    assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
    assert "checked 7 statement(s)" in reconciled.stdout and "0 missing" in reconciled.stdout

    # A row the outbox believes sent but the LRS never got is reported.
    with db() as session:
        row = outbox.OutboxStatement(statement_id="0b6a3c1e-1d8e-4c47-9d35-3c2b7f2f0a11", issuer=ISSUER,
                                     deployment_id=DEPLOYMENT, registration=registration,
                                     payload={}, status=outbox.SENT, destination=rows(db)[0].destination)
        session.add(row)
        session.flush()
        row.sent_at = row.created_at
    reconciled = run_cli(env, "outbox", "reconcile", "--since", "2000-01-01")
    assert reconciled.returncode == 1
    assert "missing 0b6a3c1e-1d8e-4c47-9d35-3c2b7f2f0a11" in reconciled.stdout and "1 missing" in reconciled.stdout

    assert run_cli(env, "lrs-target", "remove", "--issuer", ISSUER).returncode == 0
    assert "no targets" in run_cli(env, "lrs-target", "list").stdout


def test_continuous_worker_delivers_and_stops_on_sigterm(
    lrs: Lrs, proxy: FaultProxy, queue: Callable[..., list[dict[str, Any]]], database_url: str,
    db: SessionFactory, registration: str,
) -> None:
    env = cli_env(database_url, proxy.endpoint)
    worker = subprocess.Popen(upstander("worker"), env=env, stdout=subprocess.PIPE,  # noqa: S603
                              stderr=subprocess.PIPE, text=True)
    try:
        made = queue(5)  # queued while the worker idles: it picks them up on its next cycle
        deadline = time.monotonic() + 60
        while queued(db):
            assert worker.poll() is None and time.monotonic() < deadline, "the worker did not deliver"
            time.sleep(0.1)
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, err
    assert "sent 5, dead-lettered 0" in out
    assert stored_ids(lrs.endpoint, (USER, PASSWORD), registration) == {s["id"]: 1 for s in made}
