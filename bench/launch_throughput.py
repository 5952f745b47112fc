"""Full LTI launch throughput against a real server, beside a bare Flask "hello" endpoint.

Run from the project root:  .venv/bin/python bench/launch_throughput.py

It starts two servers on 127.0.0.1 with the same gunicorn configuration (``lti_tool.server.run``:
gthread, --workers workers x 4 threads, access log on):

* ``upstander serve`` on a fresh SQLite database in a temp folder, with a fake platform registered by
  ``upstander platforms add`` whose key set is served by a tiny HTTP server in this process;
* a bare Flask app whose ``/hello`` returns a short text.

One launch flow is what a browser does: GET ``/lti/login`` (the tool stores state and nonce and
redirects to the platform) -> the platform's part, done here in the client thread (read state and
nonce from the redirect, sign an id_token with joserfc) -> POST ``/lti/launch`` with the id_token and
the state cookie -> GET the landing page ``/app/<sid>/`` with the session cookie. Three requests to
the tool per flow. Client threads use keep-alive httpx clients. Rounds alternate between the two
servers so machine noise hits both alike. It prints figures; it never asserts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as py_platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
ISSUER = "https://bench-platform.example"
CLIENT_ID = "bench-client"
DEPLOYMENT_ID = "bench-deployment"
LTI = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"


# --- servers ------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def serve_hello(port: int, workers: int) -> None:
    """Serve a bare Flask app through the very function ``upstander serve`` uses (never returns)."""
    from flask import Flask

    from lti_tool import db
    from lti_tool.server import run

    app = Flask("hello")
    app.config.update(DEMO_LMS=False, DEMO_LMS_URL=f"http://{HOST}:{port}", PUBLIC_URL=f"http://{HOST}:{port}")
    # run() resets the database engine in each forked worker; this app never opens a session,
    # so the per-request hooks this adds find nothing to do.
    db.init_app(app)

    @app.get("/hello")
    def hello() -> str:
        return "hello"

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    run(app, HOST, port, workers, register_demo=False)


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server in its own process group; stop the whole group afterwards."""
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                start_new_session=True)
    try:
        yield proc
    finally:
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            if proc.poll() is not None:
                break
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=wait)
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue


def wait_healthy(base: str, proc: subprocess.Popen[bytes], log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited with {proc.returncode}; log {log.name}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit(f"{base} did not become healthy in {seconds:.0f} s; log:\n{log.read_text()[-3000:]}")


class KeySetServer:
    """The fake platform's JWKS endpoint, on 127.0.0.1 in a thread."""

    def __init__(self, jwks: dict[str, object]) -> None:
        body = json.dumps(jwks).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path == "/jwks" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- the platform's part of a launch ------------------------------------------------------------------


MODULE_HINT = "module:"


@dataclass
class Platform:
    key: RSAKey
    tool_url: str
    users: int

    def login_params(self, n: int, module: str | None = None) -> dict[str, str]:
        """Return the login initiation parameters of launch ``n``; with ``module``, a placement of that module."""
        return {
            "iss": ISSUER, "client_id": CLIENT_ID, "lti_deployment_id": DEPLOYMENT_ID,
            "login_hint": f"user-{n % self.users}", "target_link_uri": self.tool_url + "/app",
            "lti_message_hint": MODULE_HINT + module if module else f"link-{n % 5}",
        }

    def id_token(self, auth_url: str) -> tuple[str, str]:
        """Answer the tool's authentication request: return (state, signed id_token)."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(auth_url).query).items()}
        user, link = query["login_hint"], query["lti_message_hint"]
        now = int(time.time())
        claims = {
            "iss": ISSUER, "aud": CLIENT_ID, "azp": CLIENT_ID, "sub": user, "nonce": query["nonce"],
            "iat": now, "exp": now + 300, "name": f"Officer {user}",
            LTI + "version": "1.3.0", LTI + "message_type": "LtiResourceLinkRequest",
            LTI + "deployment_id": DEPLOYMENT_ID, LTI + "roles": [LEARNER],
            LTI + "target_link_uri": self.tool_url + "/app",
            LTI + "resource_link": {"id": link, "title": f"Placement {link}"},
            LTI + "context": {"id": "bench-course", "title": "Bench course", "label": "BENCH"},
        }
        if link.startswith(MODULE_HINT):
            # A placement made by deep linking carries its module in the custom claim.
            claims[LTI + "custom"] = {"module": link.removeprefix(MODULE_HINT)}
        token = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)
        return query["state"], token


def cookie_header(response: httpx.Response, prefix: str) -> dict[str, str]:
    """Return a Cookie header carrying the Set-Cookie starting with prefix (the jar ignores Secure on http).

    Empty when the response sets none: a cookieless launch carries its state elsewhere.
    """
    for header in response.headers.get_list("set-cookie"):
        name, _, rest = header.partition("=")
        if name.startswith(prefix):
            return {"Cookie": f"{name}={rest.split(';', 1)[0]}"}
    return {}


def login_and_launch(client: httpx.Client, base: str, platform: Platform, n: int,
                     module: str | None = None) -> tuple[str, dict[str, str]]:
    """Log in and launch (two requests); return the landing URL and the headers that open it."""
    login = client.get(base + "/lti/login", params=platform.login_params(n, module))
    if login.status_code != 302:
        raise RuntimeError(f"login: HTTP {login.status_code}: {login.text[:300]}")
    state, token = platform.id_token(login.headers["location"])
    launched = client.post(base + "/lti/launch", data={"state": state, "id_token": token},
                           headers=cookie_header(login, "lti_state_"))
    if launched.status_code != 303:
        raise RuntimeError(f"launch: HTTP {launched.status_code}: {launched.text[:300]}")
    return urljoin(base + "/", launched.headers["location"]), cookie_header(launched, "us_")


def launch_flow(client: httpx.Client, base: str, platform: Platform, n: int) -> None:
    landing_url, headers = login_and_launch(client, base, platform, n)
    landing = client.get(landing_url, headers=headers)
    if landing.status_code != 200 or "Welcome" not in landing.text:
        raise RuntimeError(f"landing: HTTP {landing.status_code}: {landing.text[:300]}")
    client.cookies.clear()


def hello(client: httpx.Client, base: str, platform: Platform, n: int) -> None:
    response = client.get(base + "/hello")
    if response.status_code != 200:
        raise RuntimeError(f"hello: HTTP {response.status_code}")


# --- driving -----------------------------------------------------------------------------------------

Work = Callable[[httpx.Client, str, Platform, int], None]


@dataclass
class Result:
    done: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, other: Result) -> None:
        self.done += other.done
        self.seconds += other.seconds
        self.latencies += other.latencies
        self.errors += other.errors

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] * 1000 if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(q) - 1] * 1000


def drive(work: Work, base: str, platform: Platform, threads: int, count: int, seconds: float) -> Result:
    """Run ``work`` from several threads until ``count`` are done or ``seconds`` have passed."""
    counter = iter(range(count))
    lock = threading.Lock()
    result = Result()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        timeout = httpx.Timeout(30.0, connect=5.0)
        with httpx.Client(timeout=timeout, limits=httpx.Limits(max_keepalive_connections=1)) as client:
            while time.perf_counter() < deadline:
                with lock:
                    n = next(counter, None)
                if n is None:
                    return
                started = time.perf_counter()
                try:
                    work(client, base, platform, n)
                except (httpx.HTTPError, RuntimeError, KeyError) as exc:
                    with lock:
                        result.errors.append(str(exc))
                    continue
                elapsed = time.perf_counter() - started
                with lock:
                    result.done += 1
                    result.latencies.append(elapsed)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


def cli(env: dict[str, str], *args: str) -> None:
    subprocess.run([str(ROOT / ".venv/bin/upstander"), *args], env=env, check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers for both servers")
    parser.add_argument("--flows", type=int, default=600, help="launch flows per round at most")
    parser.add_argument("--requests", type=int, default=6000, help="hello requests per round at most")
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit of each round")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per server")
    parser.add_argument("--users", type=int, default=200, help="distinct learners launching")
    parser.add_argument("--database-url", help="the tool's database (default: a temp SQLite file); "
                        "it is migrated and gets the bench platform added")
    parser.add_argument("--serve-hello", type=int, metavar="PORT", help=argparse.SUPPRESS)
    return parser


def main() -> None:
    opts = parser().parse_args()
    if opts.serve_hello:
        serve_hello(opts.serve_hello, opts.workers)
        return

    with tempfile.TemporaryDirectory(prefix="upstander-bench-") as tmp:
        run_bench(opts, Path(tmp))


def new_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "bench-key", "use": "sig", "alg": "RS256"})


def tool_env(database_url: str, tool_url: str) -> dict[str, str]:
    """Return the environment of ``upstander serve`` for a benchmark (no demo LMS)."""
    return {
        **os.environ, "UPSTANDER_DATABASE_URL": database_url, "UPSTANDER_PUBLIC_URL": tool_url,
        "UPSTANDER_SECRET_KEY": secrets.token_urlsafe(32), "UPSTANDER_DEMO_LMS": "false",
        # Every flow comes from one address: keep the rate limiter running (its cost is measured) but out of reach.
        "UPSTANDER_RATE_LIMIT_LOGIN": "1000000/minute", "UPSTANDER_RATE_LIMIT_LAUNCH": "1000000/minute",
    }


def prepare_tool(env: dict[str, str], keyset: KeySetServer) -> None:
    """Migrate the tool's database and register the fake platform (add or update)."""
    cli(env, "db", "upgrade")
    cli(env, "platforms", "add", "--issuer", ISSUER, "--client-id", CLIENT_ID,
        "--auth-login-url", keyset.url + "/auth", "--token-url", keyset.url + "/token",
        "--jwks-url", keyset.url + "/jwks", "--deployment-id", DEPLOYMENT_ID, "--name", "Bench platform")


def tool_command(port: int, workers: int) -> list[str]:
    return [str(ROOT / ".venv/bin/upstander"), "serve", "--host", HOST, "--port", str(port),
            "--workers", str(workers)]


def hello_command(port: int, workers: int) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--serve-hello", str(port), "--workers", str(workers)]


def compare(opts: argparse.Namespace, tmp: Path) -> tuple[Result, Result]:
    """Start both servers, warm them up, run alternating rounds; return (launches, hellos)."""
    key = new_key()
    keyset = KeySetServer({"keys": [key.as_dict(private=False)]})
    tool_port, hello_port = free_port(), free_port()
    tool, hello_base = f"http://{HOST}:{tool_port}", f"http://{HOST}:{hello_port}"
    env = tool_env(opts.database_url or f"sqlite:///{tmp / 'bench.db'}", tool)
    platform = Platform(key=key, tool_url=tool, users=opts.users)
    try:
        prepare_tool(env, keyset)
        with process(tool_command(tool_port, opts.workers), env, tmp / "tool.log") as tool_proc, \
                process(hello_command(hello_port, opts.workers), env, tmp / "hello.log") as hello_proc:
            wait_healthy(tool, tool_proc, tmp / "tool.log")
            wait_healthy(hello_base, hello_proc, tmp / "hello.log")
            # Warm up both: imports, connection pools, the platform key set cache, SQLite pages.
            drive(launch_flow, tool, platform, opts.threads, 40, 30)
            drive(hello, hello_base, platform, opts.threads, 400, 30)
            launches, hellos = Result(), Result()
            for _ in range(opts.rounds):
                hellos.add(drive(hello, hello_base, platform, opts.threads, opts.requests, opts.seconds))
                launches.add(drive(launch_flow, tool, platform, opts.threads, opts.flows, opts.seconds))
    finally:
        keyset.close()
    return launches, hellos


def run_bench(opts: argparse.Namespace, tmp: Path) -> None:
    launches, hellos = compare(opts, tmp)
    report(opts, launches, hellos)


def report(opts: argparse.Namespace, launches: Result, hellos: Result) -> None:
    print(f"machine: {os.cpu_count()} CPUs, Python {py_platform.python_version()}, {py_platform.system()}")
    print(f"servers: gunicorn gthread, {opts.workers} workers x 4 threads each (lti_tool.server.run); "
          f"client: {opts.threads} threads, keep-alive; {opts.rounds} alternating rounds, "
          f"<= {opts.seconds:.0f} s each")
    database = opts.database_url.split(":", 1)[0] if opts.database_url else "SQLite (temp file)"
    print(f"tool database: {database}; platform: fake, id_tokens signed RS256 in the client")
    print()
    print(f"{'':24}{'count':>8}{'per second':>12}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, res in (("hello (1 request)", hellos), ("launch flow (3 req.)", launches)):
        print(f"{name:24}{res.done:>8}{res.rate:>12.1f}{res.percentile(50):>9.2f}"
              f"{res.percentile(99):>9.2f}{len(res.errors):>8}")
    print()
    if launches.rate:
        print(f"ratio: hello requests per launch flow = {hellos.rate / launches.rate:.1f} "
              f"(per tool request: {hellos.rate / (3 * launches.rate):.1f})")
    for err in (launches.errors + hellos.errors)[:5]:
        print("error:", err)


if __name__ == "__main__":
    main()
