"""Built-in LRS: ingestion rate and query latency.

Run from the project root:  .venv/bin/python bench/lrs_ingest.py [--postgres URL] [--statements 1000000]

Needs ``npm ci`` first (xapi-statements comes from package-lock.json).

* Ingestion: statements/s for single POSTs and for batches of 100, over one keep-alive httpx client, into the LRS
  served alone by gunicorn (2 gthread workers, as ``upstander lrs serve``) on a fresh SQLite file and on a fresh
  PostgreSQL database (created and dropped by this script; default postgresql+psycopg://postgres@127.0.0.1),
  side by side with Learning Locker's npm ``xapi-statements`` (in-memory storage: there is no MongoDB here, so it
  does less work per statement than a database-backed LRS).
* Queries: with ``--statements`` statements bulk-seeded by SQL (not HTTP) into the PostgreSQL database, GET
  /statements latency p50/p95 for registration, agent and activity filters (limit 100).

It prints numbers and never asserts.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lti_tool import migrate  # noqa: E402
from tests.delivery.lrs_servers import AuthStub, XapiStatements  # noqa: E402
from xapi.db import make_engine  # noqa: E402
from xapi.lrs.auth import add_client  # noqa: E402

PEPPER = b"bench-pepper"
HEADERS = {"X-Experience-API-Version": "1.0.3"}
AGENTS, ACTIVITIES, REGISTRATIONS = 10_000, 1_000, 50_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def lrs_server(url: str) -> Iterator[tuple[str, httpx.BasicAuth]]:
    """Migrate ``url``, create a client, serve the LRS; yield its base URL and credentials."""
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session, session.begin():
        key, secret = add_client(session, PEPPER, "bench", ["all"])
    engine.dispose()
    port = _free_port()
    root = f"http://127.0.0.1:{port}"
    factory = f"xapi.lrs.app:create_lrs_app({url!r}, {PEPPER!r}, {root!r})"
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--no-control-socket", "--bind", f"127.0.0.1:{port}",
                             "--workers", "2",
                             "--worker-class", "gthread", "--threads", "4", "--log-level", "warning", factory],
                            cwd=ROOT)
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{root}/xapi/about", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield f"{root}/xapi", httpx.BasicAuth(key, secret)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@contextmanager
def xapi_statements_server(workdir: Path) -> Iterator[tuple[str, httpx.BasicAuth]]:
    """Learning Locker's ``xapi-statements`` (npm, from package-lock.json), in-memory models: no MongoDB here."""
    stub = AuthStub()
    stub.accounts.add(("bench", "bench-password"))
    server = XapiStatements(workdir, stub)
    try:
        yield server.endpoint.rstrip("/"), httpx.BasicAuth("bench", "bench-password")
    finally:
        server.close()
        stub.close()


def statement(learner: int) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "actor": {"mbox": f"mailto:learner{learner}@example.org", "name": "Learner"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en-US": "answered"}},
            "object": {"id": f"http://example.org/activities/{learner % 50}",
                       "definition": {"name": {"en-US": "Decision"}}},
            "context": {"registration": str(uuid.uuid4()),
                        "contextActivities": {"parent": [{"id": "http://example.org/course"}]}},
            "result": {"success": True, "duration": "PT12.5S"}}


def ingest(base: str, auth: httpx.BasicAuth, batch: int, count: int) -> float:
    """Statements per second POSTing ``count`` statements in batches of ``batch``."""
    with httpx.Client(base_url=base, auth=auth, headers=HEADERS, timeout=60) as client:
        client.post("/statements", json=[statement(0) for _ in range(batch)])  # warm up both workers' engines
        client.post("/statements", json=[statement(0) for _ in range(batch)])
        bodies = [[statement(i * batch + j) for j in range(batch)] for i in range(count // batch)]
        start = time.perf_counter()
        for body in bodies:
            resp = client.post("/statements", json=body[0] if batch == 1 else body)
            resp.raise_for_status()
        return count / (time.perf_counter() - start)


SEED_SQL = """
INSERT INTO xapi_lrs_statement (pk, id, stored, verb_id, actor_key, object_type, object_key, object_ref, registration,
    voided, voiding, authority_key, client_id, data)
SELECT :offset + g, md5('s' || g)::uuid::text, now() - make_interval(secs => :n - g), 'http://adlnet.gov/expapi/verbs/answered',
    'Agent|mbox|mailto:seed' || (g % :agents) || '@example.org', 'Activity',
    'http://example.org/seed/activity/' || (g % :activities), NULL, md5('r' || (g % :registrations))::uuid::text,
    false, false, NULL, NULL,
    json_build_object('id', md5('s' || g)::uuid::text,
        'actor', json_build_object('mbox', 'mailto:seed' || (g % :agents) || '@example.org'),
        'verb', json_build_object('id', 'http://adlnet.gov/expapi/verbs/answered'),
        'object', json_build_object('objectType', 'Activity', 'id', 'http://example.org/seed/activity/' ||
            (g % :activities)),
        'context', json_build_object('registration', md5('r' || (g % :registrations))::uuid::text),
        'stored', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'version', '1.0.0')
FROM generate_series(1, :n) AS g
"""
SEED_AGENTS = """
INSERT INTO xapi_lrs_statement_agent (agent_key, scope, statement_pk)
SELECT actor_key, s.scope, pk FROM xapi_lrs_statement, (VALUES (0), (1)) AS s(scope)
"""
SEED_ACTIVITIES = """
INSERT INTO xapi_lrs_statement_activity (activity_id, scope, statement_pk)
SELECT object_key, s.scope, pk FROM xapi_lrs_statement, (VALUES (0), (1)) AS s(scope)
"""


def seed(url: str, count: int) -> float:
    engine = create_engine(url)
    start = time.perf_counter()
    with engine.begin() as conn:
        offset = conn.execute(text("SELECT coalesce(max(pk), 0) FROM xapi_lrs_statement")).scalar_one()
        params = {"n": count, "offset": offset, "agents": AGENTS, "activities": ACTIVITIES,
                  "registrations": REGISTRATIONS}
        conn.execute(text(SEED_SQL), params)
        conn.execute(text(SEED_AGENTS + " WHERE pk > :offset"), {"offset": offset})
        conn.execute(text(SEED_ACTIVITIES + " WHERE pk > :offset"), {"offset": offset})
        conn.execute(text("SELECT setval(pg_get_serial_sequence('xapi_lrs_statement', 'pk'), :top)"),
                     {"top": offset + count})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return time.perf_counter() - start


def latencies(base: str, auth: httpx.BasicAuth, params: list[dict[str, str]]) -> tuple[float, float]:
    """p50 and p95 in ms of GET /statements with each parameter set."""
    times = []
    with httpx.Client(base_url=base, auth=auth, headers=HEADERS, timeout=60) as client:
        for p in params[:5]:
            client.get("/statements", params=p)
        for p in params:
            start = time.perf_counter()
            resp = client.get("/statements", params={**p, "limit": "100"})
            resp.raise_for_status()
            times.append((time.perf_counter() - start) * 1000)
    cuts = statistics.quantiles(times, n=20)
    return statistics.median(times), cuts[18]


def query_params(rounds: int) -> dict[str, list[dict[str, str]]]:
    def reg(i: int) -> str:
        import hashlib

        return str(uuid.UUID(hashlib.md5(f"r{i}".encode()).hexdigest()))  # noqa: S324  (matches the seed's md5)

    return {
        "registration": [{"registration": reg(i * 37 % REGISTRATIONS)} for i in range(rounds)],
        "agent": [{"agent": json.dumps({"mbox": f"mailto:seed{i * 13 % AGENTS}@example.org"})} for i in range(rounds)],
        "activity": [{"activity": f"http://example.org/seed/activity/{i * 7 % ACTIVITIES}"} for i in range(rounds)],
    }


@contextmanager
def postgres_database(server: str, name: str) -> Iterator[str]:
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{server}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1")
    parser.add_argument("--statements", type=int, default=1_000_000, help="seeded for the query benchmark")
    parser.add_argument("--singles", type=int, default=300)
    parser.add_argument("--batches", type=int, default=60, help="number of batches of 100")
    parser.add_argument("--queries", type=int, default=200, help="queries per filter")
    parser.add_argument("--rounds", type=int, default=3, help="alternating ingestion rounds per LRS")
    parser.add_argument("--skip-queries", action="store_true", help="ingestion only (no million-statement seed)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, postgres_database(args.postgres, "upstander_bench_lrs") as pg:
        servers: list[tuple[str, Callable[[], AbstractContextManager[tuple[str, httpx.BasicAuth]]]]] = [
                   ("built-in, SQLite", lambda: lrs_server(f"sqlite:///{tmp}/lrs.db")),
                   ("built-in, PostgreSQL", lambda: lrs_server(pg)),
                   ("xapi-statements 5.0.1", lambda: xapi_statements_server(Path(tmp)))]
        with ExitStack() as stack:
            running = [(label, stack.enter_context(start())) for label, start in servers]
            # Rounds alternate between the LRSs, so the machine's noise falls on all of them alike.
            rates: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in running}
            for _ in range(args.rounds):
                for label, (base, auth) in running:
                    rates[label].append((ingest(base, auth, 1, args.singles // args.rounds),
                                         ingest(base, auth, 100, args.batches * 100 // args.rounds)))
        for label, measured in rates.items():
            single = statistics.median(r[0] for r in measured)
            batched = statistics.median(r[1] for r in measured)
            print(f"{label:<22} single POST {single:7.0f} statements/s   batch of 100 {batched:7.0f} statements/s  "
                  f"(x{batched / single:.1f})  median of {args.rounds} alternating rounds", flush=True)
        if args.skip_queries:
            return
        print(f"seeding {args.statements:,} statements into PostgreSQL by SQL ...", flush=True)
        print(f"  seeded in {seed(pg, args.statements):.0f} s", flush=True)
        with lrs_server(pg) as (base, auth):
            for name, params in query_params(args.queries).items():
                p50, p95 = latencies(base, auth, params)
                print(f"GET /statements?{name}=... (limit 100) at {args.statements:,}: p50 {p50:6.1f} ms  "
                      f"p95 {p95:6.1f} ms", flush=True)


if __name__ == "__main__":
    main()
