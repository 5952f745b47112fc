"""Processes of a scaled-out installation on one machine: a round-robin TCP balancer in front of several
``upstander serve`` instances, ``upstander worker`` processes, and their clean-up (even on failure)."""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.delivery.conftest import upstander
from tests.delivery.lrs_servers import HOST

START_SECONDS = 60
# A 5xx answer as gunicorn's access log writes it ("GET /path HTTP/1.1" 500 ...) or as the app's JSON
# request log does ("status": 500), and an error logged with a traceback (plain text, or JSON "exc").
SERVER_ERROR = re.compile(r'"[A-Z]+ \S+ HTTP/[\d.]+" 5\d\d |"status": ?5\d\d\b|^Traceback|"exc": ')


class Balancer:
    """A TCP load balancer on 127.0.0.1: each new connection goes to the next instance that accepts it
    (an instance that is down is skipped, as a health-checking proxy would)."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.connections: Counter[int] = Counter()  # per instance port
        self._next = itertools.cycle(range(len(ports)))
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self.server = socket.create_server((HOST, 0))
        self.port: int = self.server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _upstream(self) -> socket.socket | None:
        for _ in self.ports:
            with self._lock:
                port = self.ports[next(self._next)]
            with suppress(OSError):
                upstream = socket.create_connection((HOST, port), timeout=5)
                upstream.settimeout(None)
                with self._lock:
                    self.connections[port] += 1
                return upstream
        return None

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return  # closed
            upstream = self._upstream()
            if upstream is None:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.server.close()
        with self._lock:
            for sock in self._open:
                with suppress(OSError):
                    sock.close()


@dataclass
class Processes:
    """Child processes in their own process groups, each with a log file; ``stop_all`` ends them all."""

    folder: Path
    env: dict[str, str]
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with self.log(name).open("wb") as out:
            proc = subprocess.Popen(upstander(*args), env=self.env, stdout=out, stderr=subprocess.STDOUT,  # noqa: S603
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.running[name] = proc
        return proc

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def text(self, name: str) -> str:
        return self.log(name).read_text(errors="replace")

    def wait_until(self, what: str, check: object, name: str, seconds: float = START_SECONDS) -> None:
        """Poll ``check`` (a callable) until true; fail with the log of ``name`` if it dies or time runs out."""
        assert callable(check)
        deadline = time.monotonic() + seconds
        while not check():
            proc = self.running[name]
            assert proc.poll() is None, f"{name} exited with {proc.returncode}:\n{self.text(name)[-4000:]}"
            assert time.monotonic() < deadline, f"{what} within {seconds:.0f} s:\n{self.text(name)[-4000:]}"
            time.sleep(0.2)

    def stop(self, name: str, seconds: float = 20) -> int | None:
        """SIGTERM the group, then SIGKILL; return the exit status."""
        proc = self.running[name]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if proc.poll() is not None:
                break
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            with suppress(subprocess.TimeoutExpired):
                proc.wait(seconds)
        return proc.returncode

    def stop_all(self, seconds: float = 15) -> None:
        """SIGTERM every group at once, wait for them together, then SIGKILL what is left."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            alive = [proc for proc in self.running.values() if proc.poll() is None]
            for proc in alive:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
            deadline = time.monotonic() + seconds
            for proc in alive:
                with suppress(subprocess.TimeoutExpired):
                    proc.wait(max(deadline - time.monotonic(), 0.1))


def healthy(base: str) -> bool:
    try:
        return httpx.get(base + "/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def answered(log: str) -> int:
    """How many requests a serve log records (so that finding no 5xx among them means something)."""
    return len(re.findall(r'"[A-Z]+ \S+ HTTP/[\d.]+" \d{3} |"status": ?\d{3}\b', log))


def server_errors(log: str) -> list[str]:
    """Lines of a serve log telling of a 5xx answer or of an error with a traceback."""
    return [line for line in log.splitlines() if SERVER_ERROR.search(line)]
