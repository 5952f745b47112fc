"""Real LRSs for the delivery tests, on 127.0.0.1 and free ports.

* ``XapiStatements``: Learning Locker's statements service (npm ``xapi-statements``) with in-memory
  models and no MongoDB. Its ``fetch`` auth asks an HTTP endpoint for the client behind an
  ``Authorization`` header; ``AuthStub`` is that endpoint and accepts exactly the Basic credentials
  in its ``accounts`` (404, which the LRS turns into 401, otherwise).
* ``FaultProxy``: a controllable proxy in front of it. POSTs to ``/statements`` consume planned
  faults in order (answer a status without forwarding, forward then answer too late, store half the
  batch then answer 409, hold the request until released); everything else is forwarded unchanged.
  ``stop``/``start`` take it off the network and back on the same port.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
SERVER_JS = ROOT / "node_modules" / "xapi-statements" / "dist" / "server.js"
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class AuthStub:
    """The client-info endpoint xapi-statements' ``fetch`` auth calls."""

    def __init__(self) -> None:
        self.accounts: set[tuple[str, str]] = set()
        stub = self

        class Handler(_Quiet):
            # One request per connection: node's keep-alive agent otherwise reuses sockets we closed.
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:
                header = self.headers.get("Authorization", "")
                if not any(header == basic(u, p) for u, p in stub.accounts):
                    self.reply(404)
                    return
                client = {"_id": "5f0000000000000000000001", "title": "delivery tests", "isTrusted": True,
                          "authority": {"objectType": "Agent", "mbox": "mailto:delivery-tests@example.org"},
                          "lrs_id": "5f0000000000000000000002", "organisation": "5f0000000000000000000003",
                          "scopes": ["all"]}
                self.reply(200, json.dumps(client).encode(), {"Content-Type": "application/json"})

        self.server = ThreadingHTTPServer((HOST, free_port()), Handler)
        self.url = f"http://{HOST}:{self.server.server_port}/auth"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class XapiStatements:
    """``xapi-statements`` as a child process; ``endpoint`` is its xAPI base URL."""

    def __init__(self, workdir: Path, auth: AuthStub) -> None:
        self.port = free_port()
        self.endpoint = f"http://{HOST}:{self.port}/xAPI/"
        env = {**os.environ, "EXPRESS_PORT": str(self.port), "AUTH_REPO": "fetch",
               "LL_CLIENT_INFO_ENDPOINT": auth.url, "MODELS_REPO": "memory", "STORAGE_REPO": "local",
               "EVENTS_REPO": "test", "FS_LOCAL_STORAGE_DIR": str(workdir / "storage"),
               "EXPRESS_MORGAN_DIRECTORY": str(workdir / "logs"), "WINSTON_CONSOLE_LEVEL": "error",
               "NODE_NO_WARNINGS": "1"}
        self.log = (workdir / "xapi-statements.log").open("wb")
        node = shutil.which("node") or "node"
        self.process = subprocess.Popen([node, str(SERVER_JS)], cwd=workdir, env=env,  # noqa: S603
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"xapi-statements exited with {self.process.returncode}")
            try:
                httpx.get(self.endpoint + "about", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("xapi-statements did not start within 30 s")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def stored_ids(endpoint: str, auth: tuple[str, str], registration: str) -> Counter[str]:
    """Every statement id an LRS returns for a registration (following ``more``), with multiplicity."""
    found: Counter[str] = Counter()
    with httpx.Client(auth=auth, headers={"X-Experience-API-Version": "1.0.3"}, timeout=10) as http:
        url: str | None = endpoint + "statements"
        # One page where possible: xapi-statements' cursor paging repeats statements that share a
        # stored millisecond (seen in CI: 26 of 120 ids listed 7 times over 9 pages), which would read
        # as duplicates that the LRS does not hold.
        params: dict[str, str] | None = {"registration": registration, "limit": "1000"}
        while url:
            body = http.get(url, params=params).raise_for_status().json()
            found.update(item["id"] for item in body["statements"])
            more = body.get("more") or ""
            url, params = (httpx.URL(endpoint).join(more).__str__(), None) if more else (None, None)
    return found


@dataclass
class Fault:
    """What the proxy does with one statement POST: ``status`` (answer it, forward nothing),
    ``slow`` (forward, then answer after ``delay``), ``half409`` (forward the first half, answer 409),
    ``hold`` (wait for ``release``, then forward; the answer may go to a dead client)."""

    kind: str
    status: int = 500
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


class FaultProxy:
    """A proxy to an LRS that misbehaves on request (see the module docstring)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.endpoint = f"http://{HOST}:{self.port}/"
        self.faults: list[Fault] = []
        self.posts: list[tuple[list[str], int]] = []  # ids in each statement POST, and our answer
        self.arrivals: list[list[str]] = []  # ids in each statement POST, recorded as it arrives
        self.lock = threading.Lock()
        self.http = httpx.Client(timeout=30)
        self.server: ThreadingHTTPServer | None = None
        self.start()

    def plan(self, *faults: Fault) -> None:
        with self.lock:
            self.faults.extend(faults)

    def start(self) -> None:
        proxy = self

        class Handler(_Quiet):
            def do_GET(self) -> None:
                proxy.forward_get(self)

            def do_POST(self) -> None:
                proxy.forward_post(self)

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer((HOST, self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Take the LRS off the network: connections are refused until ``start``."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def close(self) -> None:
        self.stop()
        for fault in self.faults:
            fault.release.set()
        self.http.close()

    def _headers(self, handler: BaseHTTPRequestHandler) -> dict[str, str]:
        names = ("Authorization", "X-Experience-API-Version", "Content-Type")
        return {name: handler.headers[name] for name in names if handler.headers.get(name)}

    def forward_get(self, handler: _Quiet) -> None:
        response = self.http.get(self.upstream + handler.path.lstrip("/"), headers=self._headers(handler))
        handler.reply(response.status_code, response.content, {"Content-Type": "application/json"})

    def _send(self, handler: BaseHTTPRequestHandler, body: bytes) -> httpx.Response:
        return self.http.post(self.upstream + handler.path.lstrip("/"), content=body, headers=self._headers(handler))

    def forward_post(self, handler: _Quiet) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length", "0")))
        statements = json.loads(body or b"[]")
        ids = [s["id"] for s in statements] if isinstance(statements, list) else [statements["id"]]
        with self.lock:
            fault = self.faults.pop(0) if self.faults else None
            self.arrivals.append(ids)
        status = self._apply(handler, fault, body, statements)
        with self.lock:
            self.posts.append((ids, status))

    def _apply(self, handler: _Quiet, fault: Fault | None, body: bytes, statements: Any) -> int:
        if fault is not None and fault.kind == "status":
            handler.reply(fault.status, json.dumps({"message": "injected"}).encode(),
                          {"Content-Type": "application/json", **fault.headers})
            return fault.status
        if fault is not None and fault.kind == "half409":
            self._send(handler, json.dumps(statements[: len(statements) // 2]).encode())
            handler.reply(409, b'{"message": "injected conflict"}', {"Content-Type": "application/json"})
            return 409
        if fault is not None and fault.kind == "hold":
            fault.arrived.set()
            fault.release.wait(60)
        response = self._send(handler, body)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        # The client may be gone (timed out or killed); the LRS has stored the batch anyway.
        with contextlib.suppress(OSError):
            handler.reply(response.status_code, response.content, {"Content-Type": "application/json"})
        return response.status_code

    def post_count(self) -> Counter[str]:
        """How many statement POSTs carried each id."""
        with self.lock:
            return Counter(i for ids in self.arrivals for i in ids)
