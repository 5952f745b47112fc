"""The xAPI delivery loop inside ``upstander serve``: exactly one gunicorn worker per serve process runs it.

Every worker starts a thread that tries to take an exclusive, non-blocking ``flock`` on one file per
serve process; the holder runs the loop and writes its pid into the file, the others try again every
``TAKEOVER_SECONDS``. The kernel drops the lock when its holder dies, however it dies (a crash, SIGKILL,
gunicorn's timeout or ``max_requests`` recycling), so a sibling or the replacement worker takes over
within a few seconds; rows the dead worker had claimed come back when their lease runs out
(``XAPI_CLAIM_LEASE``), as with a killed ``upstander worker``.

Why not a loop in every worker: claims would be safe (``FOR UPDATE SKIP LOCKED`` and leases), but each
loop polls the database and runs the gradebook and abandoned-session hooks every idle cycle, and on SQLite
every loop is one more writer queuing for the single database lock in front of the learners' requests.
One loop per process sends as fast (batches over a keep-alive connection); ``upstander worker``
processes scale delivery out.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
import threading
from pathlib import Path

from flask import Flask

log = logging.getLogger(__name__)

# How often a worker without the lock tries again: the longest delivery pause after the holder dies.
TAKEOVER_SECONDS = 2.0
# After the loop could not start (the database unreachable, say): wait longer, not to fill the log.
FAILED_START_SECONDS = 30.0


def lock_file(instance_path: str, master_pid: int) -> Path:
    """Create and return the lock file of the serve process ``master_pid`` (instance folder, else temp)."""
    for folder in (Path(instance_path), Path(tempfile.gettempdir())):
        path = folder / f"delivery-{master_pid}.lock"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        except OSError:
            continue  # a read-only instance folder (some containers): the temp folder will do
        _remove_stale(folder)
        return path
    raise OSError(f"cannot create the delivery lock file in {instance_path} or {tempfile.gettempdir()}")


def _remove_stale(folder: Path) -> None:
    """Delete the lock files of serve processes that are gone (killed before they could clean up)."""
    for path in folder.glob("delivery-*.lock"):
        pid = path.stem.removeprefix("delivery-")
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                path.unlink()
        except OSError:
            pass  # alive, but another user's


def holder(path: Path) -> int | None:
    """Return the pid of the worker delivering (written by the lock's holder), if any is known."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


class EmbeddedDelivery:
    """In each worker: wait for the lock, then deliver until ``stop``; ``stop`` ends it between cycles."""

    def __init__(self, app: Flask, path: Path, takeover: float = TAKEOVER_SECONDS) -> None:
        self.app, self.path, self.takeover = app, path, takeover
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="xapi-delivery", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop_event.is_set():
            fd = self._acquire()
            if fd is None:
                return
            try:
                self._deliver(fd)
            except Exception:  # e.g. the database is down at start: give the lock up, try again later
                log.exception("embedded xAPI delivery failed; retrying in %.0f s", FAILED_START_SECONDS)
                self.stop_event.wait(FAILED_START_SECONDS)
            finally:
                os.close(fd)  # releases the lock

    def _acquire(self) -> int | None:
        """Block (politely) until this worker holds the lock; None when stopped first."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if self.stop_event.wait(self.takeover):
                    os.close(fd)
                    return None

    def _deliver(self, fd: int) -> None:
        from lti_tool.cli_xapi import make_worker

        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        log.info("worker %s delivers the xAPI outbox", os.getpid())
        worker = make_worker(self.app)
        try:
            worker.run(self.stop_event)
        finally:
            worker.close()

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            # A request in flight ends within the LRS timeouts; gunicorn's graceful timeout bounds the wait.
            self.thread.join(timeout=float(self.app.config.get("XAPI_CONNECT_TIMEOUT", 5.0))
                             + float(self.app.config.get("XAPI_READ_TIMEOUT", 15.0)))


def remove(path: Path) -> None:
    """Delete the lock file when the serve process ends."""
    with contextlib.suppress(OSError):
        path.unlink()
