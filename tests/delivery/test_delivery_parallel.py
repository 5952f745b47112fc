"""Several workers on one database never send the same row at the same time."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from typing import Any

from tests.delivery.conftest import FAST, PASSWORD, USER, Lrs, SessionFactory, cli_env, rows, upstander
from tests.delivery.lrs_servers import FaultProxy, stored_ids
from xapi import outbox
from xapi.delivery import Settings
from xapi.worker import Worker


def test_two_worker_processes_on_postgresql_send_each_row_once(
    postgres: str, lrs: Lrs, proxy: FaultProxy, queue: Callable[..., list[dict[str, Any]]], db: SessionFactory,
    registration: str,
) -> None:
    made = queue(400)
    env = cli_env(postgres, proxy.endpoint, UPSTANDER_XAPI_BATCH_SIZE="5")
    workers = [subprocess.Popen(upstander("worker", "--once"), env=env, stdout=subprocess.PIPE,  # noqa: S603
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [w.communicate(timeout=300) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    # No row went out twice: every id was in exactly one POST, and the two workers' counts add up.
    assert proxy.post_count() == {s["id"]: 1 for s in made}
    sent = [int(out.split("sent ")[1].split(",")[0]) for out, _ in outputs]
    assert sum(sent) == 400
    assert stored_ids(lrs.endpoint, (USER, PASSWORD), registration) == {s["id"]: 1 for s in made}
    assert {r.status for r in rows(db)} == {outbox.SENT}


def test_concurrent_workers_in_one_process_send_each_row_once(
    lrs: Lrs, proxy: FaultProxy, queue: Callable[..., list[dict[str, Any]]], db: SessionFactory,
    make_worker: Callable[..., Worker],
) -> None:
    """The same on whichever database the run uses (SQLite serialises the claims)."""
    made = queue(200)
    settings = Settings(**{**FAST.__dict__, "batch_size": 7})
    workers = [make_worker(proxy.endpoint, settings) for _ in range(4)]
    errors: list[BaseException] = []

    def drain(worker: Worker) -> None:
        try:
            worker.drain()
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    assert proxy.post_count() == {s["id"]: 1 for s in made}
    assert sum(w.sent for w in workers) == 200
    assert {r.status for r in rows(db)} == {outbox.SENT}
