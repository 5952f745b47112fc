"""Fault injection between the worker and a real LRS (xapi-statements behind ``FaultProxy``).

After each fault and its recovery: every good statement is in the LRS exactly once, every outbox
row is sent or (only the bad statements) dead.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.delivery.conftest import (
    FAST,
    ISSUER,
    PASSWORD,
    SEALER,
    USER,
    Lrs,
    SessionFactory,
    cli_env,
    drain_until_settled,
    queued,
    rows,
    run_cli,
    upstander,
)
from tests.delivery.lrs_servers import Fault, FaultProxy, stored_ids
from xapi import outbox, targets
from xapi.db import utcnow
from xapi.delivery import Settings
from xapi.worker import Worker

Queue = Callable[..., list[dict[str, Any]]]


def assert_delivered_once(lrs: Lrs, registration: str, good: list[dict[str, Any]], db: SessionFactory,
                          dead: frozenset[str] = frozenset()) -> None:
    assert stored_ids(lrs.endpoint, (USER, PASSWORD), registration) == {s["id"]: 1 for s in good}
    state = {r.statement_id: r.status for r in rows(db)}
    assert {i for i, s in state.items() if s == outbox.DEAD} == dead
    assert {i for i, s in state.items() if s == outbox.SENT} == {s["id"] for s in good}


def test_lrs_down_then_back(lrs: Lrs, proxy: FaultProxy, queue: Queue, make_worker: Callable[..., Worker],
                            db: SessionFactory, registration: str) -> None:
    proxy.stop()
    made = queue(30)
    worker = make_worker(proxy.endpoint)
    worker.drain()
    waiting = rows(db)
    assert {r.status for r in waiting} == {outbox.QUEUED}
    assert all(r.attempts == 1 and "ConnectError" in (r.last_error or "") for r in waiting)
    with db() as session:
        assert session.get(targets.DeliveryState, targets.BUILTIN).failures >= 1  # type: ignore[union-attr]

    proxy.start()
    drain_until_settled(worker, db)
    assert_delivered_once(lrs, registration, made, db)
    with db() as session:
        assert session.get(targets.DeliveryState, targets.BUILTIN).failures == 0  # type: ignore[union-attr]


def test_response_slower_than_read_timeout(lrs: Lrs, proxy: FaultProxy, queue: Queue,
                                           make_worker: Callable[..., Worker], db: SessionFactory,
                                           registration: str) -> None:
    made = queue(10)
    proxy.plan(Fault("slow", delay=FAST.read_timeout + 1.0))
    worker = make_worker(proxy.endpoint)
    worker.drain()
    assert all("ReadTimeout" in (r.last_error or "") for r in rows(db))
    drain_until_settled(worker, db)
    # The LRS stored the slow batch; the resend carried the same ids, so it still has each once.
    assert set(proxy.post_count().values()) == {2}
    assert_delivered_once(lrs, registration, made, db)


def test_server_errors_are_retried(lrs: Lrs, proxy: FaultProxy, queue: Queue, make_worker: Callable[..., Worker],
                                   db: SessionFactory, registration: str) -> None:
    made = queue(12)
    proxy.plan(Fault("status", 500), Fault("status", 503, headers={"Retry-After": "0"}), Fault("status", 502))
    drain_until_settled(make_worker(proxy.endpoint), db)
    assert [status for _, status in proxy.posts] == [500, 503, 502, 200]
    assert_delivered_once(lrs, registration, made, db)
    assert {r.attempts for r in rows(db)} == {4}


def test_retry_after_is_honoured(proxy: FaultProxy, queue: Queue, make_worker: Callable[..., Worker],
                                 db: SessionFactory) -> None:
    queue(3)
    proxy.plan(Fault("status", 429, headers={"Retry-After": "120"}))
    before = utcnow()
    make_worker(proxy.endpoint, Settings(connect_timeout=0.5, read_timeout=1, claim_lease=5)).drain()
    assert len(proxy.posts) == 1  # backing off: the drain does not try again
    earliest = before + timedelta(seconds=120)
    assert all(r.next_attempt_at >= earliest for r in rows(db))
    with db() as session:
        state = session.get(targets.DeliveryState, targets.BUILTIN)
        assert state is not None and state.retry_at is not None and state.retry_at >= earliest


def test_conflict_for_a_half_stored_batch(lrs: Lrs, proxy: FaultProxy, queue: Queue,
                                          make_worker: Callable[..., Worker], db: SessionFactory,
                                          registration: str) -> None:
    made = queue(20)
    proxy.plan(Fault("half409"))
    make_worker(proxy.endpoint).drain()
    ids = [s["id"] for s in made]
    # The whole batch got 409; each id was checked; only the unstored half went again.
    assert proxy.posts == [(ids, 409), (ids[10:], 200)]
    assert_delivered_once(lrs, registration, made, db)


@pytest.mark.parametrize("bad", [frozenset({7}), frozenset({0, 13, 19})])
def test_bad_statements_are_bisected_out_and_dead_lettered(
    bad: frozenset[int], lrs: Lrs, proxy: FaultProxy, queue: Queue, make_worker: Callable[..., Worker],
    db: SessionFactory, registration: str,
) -> None:
    made = queue(20, bad=bad)
    make_worker(proxy.endpoint).drain()
    good = [s for n, s in enumerate(made) if n not in bad]
    dead_ids = frozenset(made[n]["id"] for n in bad)
    assert_delivered_once(lrs, registration, good, db, dead=dead_ids)
    # The reason is the LRS's own (xapi-statements names the offending property).
    assert all("verb.id" in (r.last_error or "") for r in rows(db) if r.status == outbox.DEAD)
    # Retrying dead letters sends them again, and the LRS refuses them again: nothing else moves.
    with db() as session:
        assert outbox.retry_dead(session, utcnow()) == len(bad)
    make_worker(proxy.endpoint).drain()
    assert_delivered_once(lrs, registration, good, db, dead=dead_ids)


def test_refused_credentials_pause_only_that_destination(
    lrs: Lrs, proxy: FaultProxy, queue: Queue, make_worker: Callable[..., Worker], db: SessionFactory,
    registration: str, caplog: pytest.LogCaptureFixture,
) -> None:
    agency = FaultProxy(lrs.endpoint)
    try:
        with db() as session:
            key = targets.set_target(session, issuer=ISSUER, deployment_id=None, endpoint=agency.endpoint,
                                     username=USER, password="wrong-password", sealer=SEALER).key
        to_agency = queue(5)
        to_builtin = queue(4, issuer="https://other-lms.test")
        worker = make_worker(proxy.endpoint)
        with caplog.at_level(logging.DEBUG):
            worker.drain()
        assert "wrong-password" not in caplog.text and PASSWORD not in caplog.text
        with db() as session:
            target = targets.by_key_target(session, key)
            assert target is not None and target.paused and "401" in (target.paused_reason or "")
        state = {r.statement_id: r for r in rows(db)}
        assert all(state[s["id"]].status == outbox.QUEUED and state[s["id"]].attempts == 0 for s in to_agency)
        assert all(state[s["id"]].status == outbox.SENT for s in to_builtin)
        worker.drain()
        assert len(agency.posts) == 1  # paused: not tried again

        with db() as session:  # the agency sends new credentials
            targets.set_target(session, issuer=ISSUER, deployment_id=None, endpoint=agency.endpoint,
                               username=USER, password=PASSWORD, sealer=SEALER)
        worker.drain()
        assert_delivered_once(lrs, registration, to_agency + to_builtin, db)
    finally:
        agency.close()


def test_status_shows_a_paused_destination(proxy: FaultProxy, queue: Queue, database_url: str) -> None:
    env = cli_env(database_url, proxy.endpoint, UPSTANDER_LRS_SECRET="not-the-password")
    queue(2)
    run = run_cli(env, "worker", "--once")
    assert run.returncode == 0 and "not-the-password" not in run.stdout + run.stderr
    status = run_cli(env, "outbox", "status")
    assert "PAUSED: HTTP 401" in status.stdout and "builtin" in status.stdout, status.stdout
    resumed = run_cli(env, "outbox", "resume")
    assert "resumed builtin" in resumed.stdout
    assert "PAUSED" not in run_cli(env, "outbox", "status").stdout


def test_worker_killed_mid_send(lrs: Lrs, proxy: FaultProxy, queue: Queue, db: SessionFactory, database_url: str,
                                registration: str) -> None:
    """SIGKILL while a batch is in flight; the LRS stores it after the worker is gone. The claim lease
    runs out, the next worker sends the batch again with the same ids, and the LRS keeps one of each."""
    made = queue(30)
    hold = Fault("hold")
    proxy.plan(hold)
    env = cli_env(database_url, proxy.endpoint)
    victim = subprocess.Popen(upstander("worker"), env=env, stdout=subprocess.DEVNULL,  # noqa: S603
                              stderr=subprocess.DEVNULL)
    try:
        assert hold.arrived.wait(60), "the worker never sent"
        victim.kill()
        victim.wait(30)
    finally:
        if victim.poll() is None:
            victim.kill()
    hold.release.set()
    assert all(r.status == outbox.QUEUED and r.claim_token for r in rows(db))

    deadline = time.monotonic() + 60
    while queued(db):
        assert time.monotonic() < deadline, "the killed worker's claim never ran out"
        rerun = run_cli(env, "worker", "--once")
        assert rerun.returncode == 0, rerun.stderr
        time.sleep(0.2)
    assert set(proxy.post_count().values()) == {2}
    assert_delivered_once(lrs, registration, made, db)
