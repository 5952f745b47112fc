"""Scale-out on the engines we have: two ``upstander serve`` instances behind one public address, two
``upstander worker`` processes and one PostgreSQL database; learners play whole modules over HTTP.

The instances share what a load balancer requires of them: one database, one ``SECRET_KEY`` and one
``PUBLIC_URL``: the address of the balancer, not of an instance, because every LTI URL (login, launch,
key set, registration), activity IRI and the built-in LRS endpoint is built from it. A round-robin TCP
balancer in this test stands at that address (for the demo LMS and the tool calling each other, and for
the workers reaching the built-in LRS); the learners' browsers send each request to the other instance
than the one before, so nothing a learner does can rely on state in one process. The workers deliver
to the built-in LRS through a recording proxy that counts every statement id sent.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, create_engine, func, make_url, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from lti_tool.content import BUILT_IN, load_content
from lti_tool.demo import roster
from lti_tool.lrs_mount import pepper_for
from lti_tool.models import Attempt, LtiUser, ModuleRegistration, progress
from tests.delivery.lrs_servers import HOST, FaultProxy, free_port
from tests.scale.cluster import Balancer, Processes, answered, healthy, server_errors
from tests.scale.learner import Browser, launch, play
from xapi import outbox
from xapi.lrs.auth import worker_credentials
from xapi.outbox import OutboxStatement

SECRET_KEY = "scale-out-test-secret-key"
LEARNERS = [person.user_id for person in roster.learners()]
MODULES = ("why-intervene", "intervening-with-a-superior")  # the two shortest, to bound the run time
PLAY_SECONDS = 90
DELIVERY_SECONDS = 60
SUMMARY = ("attempt_count", "first_started_at", "last_activity_at", "last_completed_at", "last_passed_at",
           "last_done_at", "last_failed_at", "in_progress", "best_score", "seconds_on_task")
SENT = re.compile(r"^sent (\d+), dead-lettered (\d+)$", re.MULTILINE)


@pytest.fixture
def scale_database(database_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database ``<test database>_scale``, dropped afterwards."""
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL: several serve and worker processes share one database "
                    "(runs when TEST_DATABASE_URL points at PostgreSQL, as in bin/test)")
    admin = make_url(database_url).set(drivername="postgresql", database="postgres")
    name = f"{make_url(database_url).database}_scale"
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Installation:
    public_url: str  # the tool, as LMSs and browsers reach it (the balancer)
    lms_url: str  # the demo LMS: the same balancer under another host name (another site)
    instances: list[str]
    balancer: Balancer
    recorder: FaultProxy
    processes: Processes
    database_url: str


@pytest.fixture
def installation(scale_database: str, tmp_path: Path) -> Iterator[Installation]:
    ports = [free_port(), free_port()]
    balancer = Balancer(ports)
    public, lms = f"http://{HOST}:{balancer.port}", f"http://localhost:{balancer.port}"
    recorder = FaultProxy(public + "/xapi/")
    processes = Processes(tmp_path, {
        **os.environ, "UPSTANDER_DATABASE_URL": scale_database, "UPSTANDER_PUBLIC_URL": public,
        "UPSTANDER_DEMO_LMS_URL": lms, "UPSTANDER_DEMO_LMS": "true", "UPSTANDER_SECRET_KEY": SECRET_KEY,
        "UPSTANDER_XAPI_EMBEDDED_WORKER": "false", "UPSTANDER_LRS_ENDPOINT": recorder.endpoint,
        "UPSTANDER_XAPI_BATCH_SIZE": "5", "UPSTANDER_XAPI_IDLE_SLEEP": "0.1", "UPSTANDER_XAPI_CLAIM_LEASE": "30",
        "UPSTANDER_XAPI_BACKOFF_BASE": "0.1", "UPSTANDER_XAPI_BACKOFF_MAX": "1", "PYTHONUNBUFFERED": "1",
    })
    try:
        # Two instances upgrading one database at once: the start-up lock makes the second wait.
        upgrades = [processes.start(f"upgrade-{n}", "db", "upgrade") for n in (1, 2)]
        assert [p.wait(60) for p in upgrades] == [0, 0], processes.text("upgrade-1") + processes.text("upgrade-2")
        # The first instance registers the tool with the demo LMS; the second finds it registered.
        for name, port in zip(("serve-a", "serve-b"), ports, strict=True):
            processes.start(name, "serve", "--host", HOST, "--port", str(port), "--workers", "2")
            processes.wait_until(f"{name} was not healthy", lambda p=port: healthy(f"http://{HOST}:{p}"), name)
            processes.wait_until("the demo LMS shows no launch buttons",
                                 lambda: "Open as " in httpx.get(lms + "/demo-lms/", timeout=5).text, name)
        for name in ("worker-1", "worker-2"):
            processes.start(name, "worker")
        yield Installation(public, lms, [f"http://{HOST}:{p}" for p in ports], balancer, recorder, processes,
                           scale_database)
    finally:
        # The balancer first: its open connections would keep the instances' workers from stopping.
        balancer.close()
        processes.stop_all()
        recorder.close()


def play_everyone(site: Installation) -> dict[str, Counter[str]]:
    """Each learner in a thread: for each module, launch from the demo LMS and play it to the end."""
    modules = load_content([BUILT_IN]).modules
    course = httpx.get(site.lms_url + "/demo-lms/", timeout=10).text
    link_id = int(re.search(r'/demo-lms/launch/(\d+)\?user=', course).group(1))  # type: ignore[union-attr]
    hits: dict[str, Counter[str]] = {}
    failures: list[str] = []

    def learner(number: int, user_id: str) -> None:
        browser = Browser((site.public_url, site.lms_url), site.instances, first=number)
        try:
            for slug in MODULES:
                landing = launch(browser, site.lms_url, link_id, user_id)
                play(browser, landing, modules[slug], best=number % 2 == 0)
            hits[user_id] = browser.hits
        except Exception as exc:  # reported below, with the learner
            failures.append(f"{user_id}: {type(exc).__name__}: {exc}")
        finally:
            browser.close()

    threads = [threading.Thread(target=learner, args=item) for item in enumerate(LEARNERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PLAY_SECONDS)
    assert not failures, failures
    assert not any(thread.is_alive() for thread in threads), f"learners still playing after {PLAY_SECONDS} s"
    return hits


def wait_for_delivery(engine: Engine, site: Installation) -> None:
    deadline = time.monotonic() + DELIVERY_SECONDS
    with Session(engine) as session:
        while session.scalar(select(func.count()).where(OutboxStatement.status != outbox.SENT)):
            for name in ("worker-1", "worker-2"):
                assert site.processes.running[name].poll() is None, site.processes.text(name)[-4000:]
            assert time.monotonic() < deadline, f"statements not delivered within {DELIVERY_SECONDS} s"
            time.sleep(0.2)
            session.rollback()


def lrs_ids(site: Installation) -> Counter[str]:
    """Every statement id the built-in LRS returns, read with the worker's own client in pages of 50,
    each page over a new connection through the balancer (a ``more`` link must work on any instance)."""
    found: Counter[str] = Counter()
    auth = worker_credentials(pepper_for(SECRET_KEY))
    url: str | None = site.public_url + "/xapi/statements?limit=50"
    while url:
        body = httpx.get(url, auth=auth, headers={"X-Experience-API-Version": "1.0.3"}, timeout=30)
        page = body.raise_for_status().json()
        found.update(statement["id"] for statement in page["statements"])
        url = site.public_url + page["more"] if page.get("more") else None
    return found


def check_records(session: Session) -> None:
    """One registration per learner and module, each with one completed, scored attempt, and the
    registration's progress summary equal to its attempts."""
    rows = session.execute(
        select(LtiUser.sub, ModuleRegistration.module, ModuleRegistration.id, Attempt.completed_at, Attempt.score,
               Attempt.passed).join(LtiUser, LtiUser.id == ModuleRegistration.user_pk)
        .join(Attempt, Attempt.registration_pk == ModuleRegistration.id)).all()
    assert Counter((r.sub, r.module) for r in rows) == {(u, m): 1 for u in LEARNERS for m in MODULES}
    for row in rows:
        assert row.completed_at is not None and row.score is not None and row.passed is not None, row
        if LEARNERS.index(row.sub) % 2 == 0:
            assert row.passed, f"{row.sub} chose the best answers in {row.module} and did not pass"
    stored = {r.id: tuple(getattr(r, name) for name in SUMMARY) for r in session.scalars(select(ModuleRegistration))}
    totals = progress.totals().subquery()
    computed = {r.registration_pk: (r.attempt_count, r.first_started_at, r.last_activity_at, r.last_completed_at,
                                    r.last_passed_at, r.last_done_at, r.last_failed_at, r.open == 1, r.best_score,
                                    r.seconds_on_task) for r in session.execute(select(totals))}
    assert stored == computed


def test_learners_on_two_instances_with_two_workers(installation: Installation) -> None:
    site = installation
    started = time.monotonic()
    hits = play_everyone(site)
    played = time.monotonic() - started
    for user_id, counts in hits.items():
        # Alternating instances: each got half of the learner's requests.
        first, second = (counts[instance] for instance in site.instances)
        assert first and second and abs(first - second) <= 1, (user_id, counts)
    engine = create_engine(site.database_url, poolclass=NullPool)
    try:
        wait_for_delivery(engine, site)
        sent = []
        for name in ("worker-1", "worker-2"):
            assert site.processes.stop(name) == 0, site.processes.text(name)[-4000:]
            sent.append(tuple(int(n) for n in SENT.findall(site.processes.text(name))[-1]))
        with Session(engine) as session:
            ids = list(session.scalars(select(OutboxStatement.statement_id)))
            check_records(session)
    finally:
        engine.dispose()
    # Every statement in the outbox was sent exactly once across both workers, and the LRS holds exactly those.
    assert site.recorder.post_count() == dict.fromkeys(ids, 1)
    assert sum(n for n, _ in sent) == len(ids) and all(dead == 0 for _, dead in sent), sent
    assert lrs_ids(site) == dict.fromkeys(ids, 1)
    for name in ("serve-a", "serve-b", "worker-1", "worker-2"):
        log = site.processes.text(name)
        assert name.startswith("worker") or answered(log) > len(LEARNERS), f"{name} logged no requests:\n{log[-2000:]}"
        assert not server_errors(log), (name, server_errors(log)[:5])
    print(f"\nscale-out: {len(LEARNERS)} learners x {len(MODULES)} modules, "  # noqa: T201
          f"{sum(sum(c.values()) for c in hits.values())} learner requests in {played:.1f} s; "
          f"{len(ids)} statements, sent per worker {[n for n, _ in sent]}; "
          f"balancer connections per instance {dict(site.balancer.connections)}")
