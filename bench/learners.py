"""Simulated learners playing modules concurrently against ``upstander serve``, beside a bare Flask endpoint.

Run from the project root:  .venv/bin/python bench/learners.py [--learners 200] [--seconds 60] [--sqlite]

It starts ``upstander serve`` (2 gunicorn gthread workers x 4 threads, the embedded xAPI delivery loop on,
delivering to the built-in LRS as a default install does) on PostgreSQL (a database of its own, emptied
first) or, with ``--sqlite``, on a temp SQLite file; and the bare Flask app of ``launch_throughput.py``
under the same gunicorn configuration.

Each simulated learner is a thread with its own keep-alive httpx client and its own LMS account. It
launches into a module placement over HTTP exactly as launch_throughput.py does (login -> the fake
platform signs the id_token in this process -> launch -> landing, which redirects to the module's start
page), presses Start, then plays every screen to the end as a browser would: it reads the form on each
page (csrf_token, screen, attempt and the choices), picks a random answer on decisions, posts, follows
the 303 to the next screen. Then it launches into the next module. Think time between requests is
``--think`` seconds (default 0: the server is saturated and the latencies include queueing).

The bare endpoint is driven by the same threads (GET /hello in a loop) first, as the baseline.

The load generator runs on the same 2 CPUs as the server and PostgreSQL: it competes with them. Its
own CPU share (getrusage) and the workers' (/proc/<pid>/stat) are printed. It never asserts.
"""

from __future__ import annotations

import argparse
import html
import os
import random
import re
import resource
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from launch_throughput import (
    HOST,
    KeySetServer,
    Platform,
    Result,
    free_port,
    hello_command,
    login_and_launch,
    new_key,
    prepare_tool,
    process,
    tool_command,
    tool_env,
    wait_healthy,
)

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/upstander_bench_learners"
FORM = re.compile(r'<form method="post" action="([^"]+/(?:start|answer|continue|acknowledge))"[^>]*>(.*?)</form>',
                  re.S)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
CHOICE = re.compile(r'<input type="radio" name="choice" value="([^"]+)"')
CLK = os.sysconf("SC_CLK_TCK")


# --- one learner --------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Per-request figures of all learners (requests finished after ``stop`` are not counted)."""

    stop: float
    result: Result = field(default_factory=Result)
    modules: int = 0
    launches: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, seconds: float) -> None:
        if time.perf_counter() > self.stop:
            return
        with self.lock:
            self.result.done += 1
            self.result.latencies.append(seconds)
            self.kinds[kind] += 1

    def error(self, message: str) -> None:
        with self.lock:
            self.result.errors.append(message)


class Stop(Exception):
    """The measuring window is over."""


class Learner:
    def __init__(self, client: httpx.Client, base: str, platform: Platform, n: int, tally: Tally,
                 think: float) -> None:
        self.client, self.base, self.platform, self.n = client, base, platform, n
        self.tally, self.think, self.rng = tally, think, random.Random(n)

    def call(self, kind: str, method: str, url: str, expect: int, **kwargs: object) -> httpx.Response:
        """Send one request, time it, and refuse any status but ``expect``."""
        if time.perf_counter() > self.tally.stop:
            raise Stop
        if self.think:
            time.sleep(self.rng.uniform(0, 2 * self.think))
        started = time.perf_counter()
        response = self.client.request(method, url, **kwargs)  # type: ignore[arg-type]
        self.tally.record(kind, time.perf_counter() - started)
        if response.status_code != expect:
            raise RuntimeError(f"{kind}: HTTP {response.status_code} (expected {expect}) at {url}: "
                               f"{' '.join(response.text[:200].split())}")
        return response

    def launch(self, module: str) -> tuple[str, dict[str, str]]:
        """Launch into a placement of ``module``; return the module's start page URL and the cookie header."""
        started = time.perf_counter()
        landing, headers = login_and_launch(self.client, self.base, self.platform, self.n, module)
        # login and launch are two requests: count them as such, with the time split evenly.
        self.tally.record("login", (time.perf_counter() - started) / 2)
        self.tally.record("launch", (time.perf_counter() - started) / 2)
        moved = self.call("landing", "GET", landing, 303, headers=headers)
        with self.tally.lock:
            self.tally.launches += 1
        return urljoin(landing, moved.headers["location"]), headers

    def play(self, module: str) -> None:
        """Launch, start and play ``module`` to its end screen with random answers."""
        url, headers = self.launch(module)
        page = self.call("module start page", "GET", url, 200, headers=headers).text
        for step in range(200):  # far more screens than any module has
            form = FORM.search(page)
            if form is None:
                raise RuntimeError(f"{module}: a page with no form to go on: {' '.join(page[:300].split())}")
            action, body = html.unescape(form.group(1)), form.group(2)
            if step and action.endswith("/start"):
                break  # the end screen: its only form is "Try again"
            data = {name: html.unescape(value) for name, value in HIDDEN.findall(body)}
            choices = CHOICE.findall(body)
            if choices:
                data["choice"] = self.rng.choice(choices)
            if action.endswith("/acknowledge"):
                data["read"] = "yes"
            kind = "post " + action.rsplit("/", 1)[1]
            moved = self.call(kind, "POST", urljoin(url, action), 303, data=data, headers=headers)
            page = self.call("get screen", "GET", urljoin(url, moved.headers["location"]), 200,
                             headers=headers).text
        else:
            raise RuntimeError(f"{module}: no end screen after 200 steps")
        with self.tally.lock:
            self.tally.modules += 1


def run_learner(base: str, platform: Platform, n: int, tally: Tally, think: float, modules: list[str]) -> None:
    timeout = httpx.Timeout(60.0, connect=10.0)
    learner_modules = modules[n % len(modules):] + modules[:n % len(modules)]
    with httpx.Client(timeout=timeout, limits=httpx.Limits(max_keepalive_connections=1)) as client:
        learner = Learner(client, base, platform, n, tally, think)
        k = 0
        while time.perf_counter() < tally.stop:
            try:
                learner.play(learner_modules[k % len(learner_modules)])
            except Stop:
                return
            except (httpx.HTTPError, RuntimeError, KeyError) as exc:
                if time.perf_counter() <= tally.stop:
                    tally.error(f"{type(exc).__name__}: {exc}")
            k += 1


def hello_loop(base: str, tally: Tally) -> None:
    with httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0)) as client:
        while time.perf_counter() < tally.stop:
            started = time.perf_counter()
            try:
                response = client.get(base + "/hello")
                if response.status_code != 200:
                    tally.error(f"hello: HTTP {response.status_code}")
                    continue
            except httpx.HTTPError as exc:
                tally.error(f"hello: {type(exc).__name__}: {exc}")
                continue
            tally.record("hello", time.perf_counter() - started)


# --- measuring ----------------------------------------------------------------------------------------


def cpu_seconds(pids: list[int]) -> float:
    """Return user+system CPU seconds used so far by these processes (0 for those gone)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / CLK


def children(pid: int) -> list[int]:
    """Return the child processes of ``pid`` (the gunicorn workers of a master)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def machine_busy() -> tuple[float, float]:
    """Return (busy, total) CPU seconds of the whole machine so far (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / CLK, sum(values) / CLK


@dataclass
class Load:
    """What one load phase measured."""

    tally: Tally
    seconds: float
    generator_cpu: float  # CPU seconds of this process (all the simulated clients)
    server_cpu: float  # CPU seconds of the gunicorn workers
    machine_busy: float  # share of all CPUs busy, 0..1
    rss_mib: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.tally.result.done / self.seconds


def load(target: Callable[[Tally], None], threads: int, seconds: float, master: int) -> Load:
    """Run ``threads`` copies of ``target`` for ``seconds``; measure CPU of this process and the workers."""
    workers = children(master)
    tally = Tally(stop=time.perf_counter() + seconds)
    own0, server0, (busy0, total0) = resource.getrusage(resource.RUSAGE_SELF), cpu_seconds(workers), machine_busy()
    started = time.perf_counter()
    pool = [threading.Thread(target=target, args=(tally,), daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=seconds + 90)
    elapsed = min(time.perf_counter(), tally.stop) - started
    own1, busy1, total1 = resource.getrusage(resource.RUSAGE_SELF), *machine_busy()
    return Load(
        tally, elapsed,
        generator_cpu=(own1.ru_utime + own1.ru_stime) - (own0.ru_utime + own0.ru_stime),
        server_cpu=cpu_seconds(workers) - server0,
        machine_busy=(busy1 - busy0) / max(total1 - total0, 1e-9),
        rss_mib=[rss_mib(pid) for pid in workers],
    )


def ensure_database(url: str) -> tuple[str, str]:
    """Create the PostgreSQL database if it does not exist; return (server URL, database name) for psycopg."""
    import psycopg

    dbname = url.rsplit("/", 1)[1]
    server = url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0]
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone():
            conn.execute(f'CREATE DATABASE "{dbname}"')
    return server, dbname


def fresh_database(url: str) -> None:
    """Create the PostgreSQL database if needed and empty it (attempts must not pile up across runs)."""
    import psycopg

    server, dbname = ensure_database(url)
    with psycopg.connect(f"{server}/{dbname}", autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@dataclass
class Outcome:
    learners: Load
    hello: Load
    database: str
    workers: int


def measure(opts: argparse.Namespace, tmp: Path) -> Outcome:
    """Start both servers, drive the bare endpoint, then the learners; return both loads."""
    from lti_tool.catalogue import modules as catalogue

    if opts.sqlite:
        url = f"sqlite:///{tmp / 'learners.db'}"
    else:
        url = opts.database_url
        fresh_database(url)
    key = new_key()
    keyset = KeySetServer({"keys": [key.as_dict(private=False)]})
    tool_port, hello_port = free_port(), free_port()
    tool, hello_base = f"http://{HOST}:{tool_port}", f"http://{HOST}:{hello_port}"
    env = tool_env(url, tool)
    platform = Platform(key=key, tool_url=tool, users=opts.learners)
    slugs = [m.slug for m in catalogue()]
    try:
        prepare_tool(env, keyset)
        with process(tool_command(tool_port, opts.workers), env, tmp / "tool.log") as tool_proc, \
                process(hello_command(hello_port, opts.workers), env, tmp / "hello.log") as hello_proc:
            wait_healthy(tool, tool_proc, tmp / "tool.log")
            wait_healthy(hello_base, hello_proc, tmp / "hello.log")
            # Warm-up: a few learners through a whole module (imports, pools, key set cache).
            load(lambda t: run_learner(tool, platform, opts.learners + 1, t, 0, slugs), 4, 5, tool_proc.pid)
            hello = load(lambda t: hello_loop(hello_base, t), opts.learners, opts.baseline_seconds, hello_proc.pid)
            counter = iter(range(opts.learners))
            learners = load(lambda t: run_learner(tool, platform, next(counter), t, opts.think, slugs),
                            opts.learners, opts.seconds, tool_proc.pid)
    finally:
        keyset.close()
    return Outcome(learners, hello, "SQLite (temp file)" if opts.sqlite else "PostgreSQL", opts.workers)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=200, help="simulated learners (threads)")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the learner load")
    parser.add_argument("--baseline-seconds", type=float, default=15.0, help="length of the bare endpoint load")
    parser.add_argument("--think", type=float, default=0.0, help="mean think time between requests (s)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers of both servers")
    parser.add_argument("--sqlite", action="store_true", help="serve on a temp SQLite file, not PostgreSQL")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_LEARNERS_DATABASE_URL", DEFAULT_URL),
                        help="PostgreSQL database of its own (emptied first)")
    return parser


def report(out: Outcome) -> None:
    cpus = os.cpu_count() or 1
    print(f"{out.database}; gunicorn gthread {out.workers} workers x 4 threads; {cpus} CPUs shared by the "
          f"load generator, the servers and the database")
    print(f"{'':26}{'requests':>9}{'per s':>8}{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}{'gen CPU':>8}"
          f"{'srv CPU':>8}{'busy':>6}")
    for name, phase in (("bare /hello", out.hello), ("learners", out.learners)):
        res = phase.tally.result
        print(f"{name:26}{res.done:>9}{phase.rate:>8.0f}{res.percentile(50):>8.0f}{res.percentile(99):>8.0f}"
              f"{len(res.errors):>7}{phase.generator_cpu / phase.seconds:>8.0%}"
              f"{phase.server_cpu / phase.seconds:>8.0%}{phase.machine_busy:>6.0%}")
    t = out.learners.tally
    print(f"learners: {t.launches} launches, {t.modules} modules finished; requests by kind: "
          + ", ".join(f"{k} {v}" for k, v in t.kinds.most_common()))
    print("CPU columns: share of one CPU over the phase (gen: this process; srv: the gunicorn workers); "
          "busy: share of the whole machine")
    print("RSS per worker after the load (MiB): tool " + ", ".join(f"{r:.0f}" for r in out.learners.rss_mib)
          + "; bare " + ", ".join(f"{r:.0f}" for r in out.hello.rss_mib))
    for err, count in Counter(out.learners.tally.result.errors + out.hello.tally.result.errors).most_common(5):
        print(f"error x{count}: {err[:300]}")


def main() -> None:
    opts = parser().parse_args()
    with tempfile.TemporaryDirectory(prefix="upstander-learners-") as tmp:
        report(measure(opts, Path(tmp)))


if __name__ == "__main__":
    main()
