"""``upstander serve``'s own delivery loop survives the loss of the worker running it."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import lti_tool
from lti_tool.embedded_delivery import holder
from lti_tool.embedded_delivery import lock_file as embedded_lock_file
from tests.delivery.conftest import PASSWORD, USER, Lrs, SessionFactory, cli_env, queued, rows, upstander
from tests.delivery.lrs_servers import HOST, FaultProxy, free_port, stored_ids
from xapi import outbox

INSTANCE = Path(lti_tool.__file__).resolve().parent.parent / "instance"
WAIT_SECONDS = 60


def lock_file(master_pid: int) -> Path | None:
    """Return the serve process's delivery lock file once a worker holds it and has written its pid."""
    for folder in (INSTANCE, Path(tempfile.gettempdir())):
        path = folder / f"delivery-{master_pid}.lock"
        if holder(path) is not None:
            return path
    return None


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def wait_for(what: str, check: Callable[[], Any], server: subprocess.Popen[str], log: Path) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while not (found := check()):
        assert server.poll() is None, f"serve exited:\n{log.read_text()[-4000:]}"
        assert time.monotonic() < deadline, f"{what} within {WAIT_SECONDS} s:\n{log.read_text()[-4000:]}"
        time.sleep(0.1)
    return found


@pytest.fixture
def serve(database_url: str, proxy: FaultProxy, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """``upstander serve`` with two workers, delivering to the proxied LRS; stopped even on failure."""
    port = free_port()
    env = cli_env(database_url, proxy.endpoint, UPSTANDER_PUBLIC_URL=f"http://{HOST}:{port}",
                  UPSTANDER_DEMO_LMS="false", PYTHONUNBUFFERED="1")
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(upstander("serve", "--port", str(port), "--workers", "2"), env=env,  # noqa: S603
                                  stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        yield server, log
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if server.poll() is None:
                os.killpg(server.pid, sig)
                try:
                    server.wait(20)
                except subprocess.TimeoutExpired:
                    continue


def test_a_replacement_worker_takes_over_delivery(
    serve: tuple[subprocess.Popen[str], Path], lrs: Lrs, proxy: FaultProxy,
    queue: Callable[..., list[dict[str, Any]]], db: SessionFactory, registration: str,
) -> None:
    server, log = serve
    before = queue(10)
    wait_for("the first batch was not delivered", lambda: not queued(db), server, log)
    path = wait_for("no worker took the delivery lock", lambda: lock_file(server.pid), server, log)
    first = holder(path)
    assert first is not None and parent_of(first) == server.pid

    os.kill(first, signal.SIGKILL)
    after = queue(10)
    wait_for("statements queued after the kill were not delivered", lambda: not queued(db), server, log)
    second = holder(path)
    assert second is not None and second != first and parent_of(second) == server.pid

    server.send_signal(signal.SIGTERM)
    assert server.wait(30) == 0, log.read_text()[-4000:]
    assert not path.exists(), "the lock file outlived its serve process"
    made = before + after
    assert {r.status for r in rows(db)} == {outbox.SENT}
    assert proxy.post_count() == {s["id"]: 1 for s in made}
    assert stored_ids(lrs.endpoint, (USER, PASSWORD), registration) == {s["id"]: 1 for s in made}
    assert "Traceback" not in log.read_text()


def test_lock_files_of_dead_serve_processes_are_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])  # noqa: S607  (a process that has ended: its pid is free)
    dead.wait()
    stale, live = tmp_path / f"delivery-{dead.pid}.lock", tmp_path / f"delivery-{os.getppid()}.lock"
    stale.write_text("123\n")
    live.write_text("456\n")
    mine = embedded_lock_file(str(tmp_path), os.getpid())
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, live.name])
