"""Outbox delivery throughput beside the LRS's own ingestion rate, at batch 1 and batch 50.

Run from the project root:  .venv/bin/python bench/delivery.py

For each local LRS (xapi-statements from node_modules, and the built-in LRS under ``upstander serve``
on its own SQLite database) and each batch size, a round measures both, alternating so machine noise
hits both alike:

* direct: the same kind of statements POSTed straight to the LRS in batches by one keep-alive httpx
  client (the LRS's ingestion rate, the ceiling);
* delivered: statements enqueued in the outbox (SQLite, or --database), then ``Worker.drain()``
  timed: claim, send, record per batch, as ``upstander worker --once`` does.

It prints statements per second (median over rounds) and the ratio delivered/direct. It never asserts.
"""

from __future__ import annotations

import argparse
import os
import platform as py_platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import sessionmaker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lti_tool import create_app, migrate  # noqa: E402
from lti_tool.db import sessionmaker_for  # noqa: E402
from tests.delivery.lrs_servers import HOST, SERVER_JS, AuthStub, XapiStatements, free_port  # noqa: E402
from xapi import outbox  # noqa: E402
from xapi.db import make_engine  # noqa: E402
from xapi.delivery import Settings  # noqa: E402
from xapi.sealing import Sealer  # noqa: E402
from xapi.targets import BUILTIN, Destination  # noqa: E402
from xapi.worker import Worker  # noqa: E402

USER, PASSWORD = "bench", "bench-password"


def statements(count: int) -> list[dict[str, Any]]:
    registration = str(uuid.uuid4())
    return [{
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "account": {"homePage": "https://lms.bench.example", "name": "learner"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered", "display": {"en-US": "answered"}},
        "object": {"objectType": "Activity", "id": f"https://tool.bench.example/xapi/activities/decision/{n}"},
        "context": {"registration": registration},
        "timestamp": "2026-11-30T12:00:00.000Z",
    } for n in range(count)]


def direct_rate(destination: Destination, count: int, batch: int) -> float:
    items = statements(count)
    with httpx.Client(auth=(destination.username, destination.password), timeout=60,
                      headers={"X-Experience-API-Version": "1.0.3"}) as http:
        started = time.perf_counter()
        for start in range(0, count, batch):
            http.post(destination.endpoint + "statements", json=items[start:start + batch]).raise_for_status()
        return count / (time.perf_counter() - started)


def delivered_rate(maker: sessionmaker[Any], destination: Destination, count: int, batch: int) -> float:
    with maker.begin() as session:
        outbox.enqueue(session, statements(count), issuer="https://lms.bench.example", deployment_id="bench")
    worker = Worker(maker, Settings(batch_size=batch, connect_timeout=5, read_timeout=60, claim_lease=120),
                    destination, sealer=Sealer("bench-secret"))
    try:
        started = time.perf_counter()
        worker.drain()
        elapsed = time.perf_counter() - started
    finally:
        worker.close()
    if worker.sent != count:
        raise RuntimeError(f"delivered {worker.sent} of {count}")
    return count / elapsed


@contextmanager
def xapi_statements(workdir: Path) -> Iterator[Destination]:
    auth = AuthStub()
    auth.accounts.add((USER, PASSWORD))
    server = XapiStatements(workdir, auth)
    try:
        yield Destination(BUILTIN, server.endpoint, USER, PASSWORD)
    finally:
        server.close()
        auth.close()


@contextmanager
def builtin_lrs(workdir: Path) -> Iterator[Destination]:
    """``upstander serve`` (2 workers, its delivery loop off) on a fresh SQLite database."""
    from lti_tool.lrs_mount import pepper
    from xapi.lrs.auth import ensure_worker_client

    port, url = free_port(), f"sqlite:///{workdir / 'lrs.db'}"
    env = {**os.environ, "UPSTANDER_DATABASE_URL": url, "UPSTANDER_SECRET_KEY": "bench-secret",
           "UPSTANDER_PUBLIC_URL": f"http://{HOST}:{port}", "UPSTANDER_DEMO_LMS": "false",
           "UPSTANDER_XAPI_EMBEDDED_WORKER": "false"}
    migrate.upgrade(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret", "PUBLIC_URL": f"http://{HOST}:{port}"})
    with sessionmaker_for(app).begin() as session:
        key, secret = ensure_worker_client(session, pepper(app))
    log = (workdir / "serve.log").open("wb")
    server = subprocess.Popen([str(Path(sys.executable).parent / "upstander"), "serve", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://{HOST}:{port}/xapi/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(endpoint + "about", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError(f"upstander serve did not start; see {workdir / 'serve.log'}") from None
                time.sleep(0.2)
        yield Destination(BUILTIN, endpoint, key, secret)
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def measure(name: str, destination: Destination, maker: sessionmaker[Any], args: argparse.Namespace,
            table: list[tuple[str, int, float, float]]) -> None:
    direct_rate(destination, 20, 10)  # warm both ends up
    for batch, count in ((1, args.count_batch1), (50, args.count_batch50)):
        direct, delivered = [], []
        for _ in range(args.rounds):
            direct.append(direct_rate(destination, count, batch))
            delivered.append(delivered_rate(maker, destination, count, batch))
        table.append((name, batch, statistics.median(direct), statistics.median(delivered)))
        print(f"  {name} batch {batch}: done", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count-batch1", type=int, default=300, help="statements per round at batch 1")
    parser.add_argument("--count-batch50", type=int, default=3000, help="statements per round at batch 50")
    parser.add_argument("--database", help="outbox database URL (default: SQLite in a temp folder)")
    parser.add_argument("--skip-builtin", action="store_true", help="measure xapi-statements only")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        url = args.database or f"sqlite:///{workdir / 'outbox.db'}"
        migrate.upgrade(url)
        maker = sessionmaker(make_engine(url), expire_on_commit=False)
        table: list[tuple[str, int, float, float]] = []
        runs: list[tuple[str, Callable[[Path], Any]]] = []
        if SERVER_JS.exists():
            runs.append(("xapi-statements", xapi_statements))
        else:
            print("xapi-statements not installed (npm ci); skipped", file=sys.stderr)
        if not args.skip_builtin:
            runs.append(("built-in LRS", builtin_lrs))
        for name, start in runs:
            with start(workdir) as destination:
                measure(name, destination, maker, args, table)

    print(f"\nOutbox delivery vs direct ingestion ({args.rounds} rounds, median; outbox on {url.split(':')[0]}; "
          f"Python {py_platform.python_version()}, {os.cpu_count()} CPUs)")
    print(f"{'LRS':<16} {'batch':>5} {'direct st/s':>12} {'delivered st/s':>15} {'ratio':>6}")
    for name, batch, direct, delivered in table:
        print(f"{name:<16} {batch:>5} {direct:>12.0f} {delivered:>15.0f} {delivered / direct:>6.2f}")


if __name__ == "__main__":
    main()
