"""SQL statements and time per request, per endpoint, for this tree beside another (before/after a change).

Run from the project root:
    git worktree add /tmp/upstander-before <commit>        # the code to compare against
    .venv/bin/python bench/per_request.py --before /tmp/upstander-before [--rounds 4] [--learners 8]

It starts two ``upstander serve`` processes (1 gunicorn worker x 4 threads each, SQLite, delivery
loop off so that only requests touch the database; ``--postgresql URL`` for PostgreSQL), one from this
tree and one from ``--before`` (imported from that folder, put first on sys.path, with this tree's
virtualenv), registers the same fake platform with both, and drives them alternately, round by round:
each round, ``--learners`` learners launch into a module and play it to the end on one server, then
the same learners (same accounts, same random answers) on the other.
Then it reads each server's ``/metrics``: ``upstander_db_statements_per_request`` (SQL statements
sent per request: exact, not noisy) and ``upstander_http_request_duration_seconds`` (mean time), per
endpoint. Needs ``--before`` to have that metric (any commit from 2026-11-30 on). It never asserts.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parent))

from launch_throughput import (
    HOST,
    ROOT,
    KeySetServer,
    Platform,
    free_port,
    new_key,
    prepare_tool,
    process,
    tool_env,
    wait_healthy,
)
from learners import Learner, Tally, fresh_database

MODULE = "intervening-with-a-superior"
ENDPOINTS = ("lti.login", "lti.launch", "app_pages.home", "player.overview", "player.start", "player.screen",
             "player.answer", "player.proceed")


def serve_command(tree: Path, port: int) -> list[str]:
    # The tree goes first on sys.path (before the working directory and the editable install).
    code = f"import sys; sys.path.insert(0, {str(tree)!r}); from lti_tool.cli import main; main()"
    return [sys.executable, "-c", code, "serve", "--host", HOST, "--port", str(port), "--workers", "1"]


def play_round(base: str, platform: Platform, learners: int, first: int) -> None:
    tally = Tally(stop=time.perf_counter() + 3600)
    for n in range(first, first + learners):
        with httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0)) as client:
            Learner(client, base, platform, n, tally, 0.0).play(MODULE)
    if tally.result.errors:
        raise RuntimeError(tally.result.errors[0])


def scrape(base: str) -> dict[str, dict[str, float]]:
    """Per endpoint: requests, SQL statements (sum) and seconds (sum), from the server's /metrics."""
    text = httpx.get(base + "/metrics", timeout=30).text
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            endpoint = sample.labels.get("endpoint", "")
            if sample.name == "upstander_db_statements_per_request_sum":
                out[endpoint]["statements"] += sample.value
            elif sample.name == "upstander_db_statements_per_request_count":
                out[endpoint]["counted"] += sample.value
            elif sample.name == "upstander_http_request_duration_seconds_sum":
                out[endpoint]["seconds"] += sample.value
            elif sample.name == "upstander_http_request_duration_seconds_count":
                out[endpoint]["requests"] += sample.value
    return out


def servers(stack: ExitStack, trees: dict[str, Path], keyset: KeySetServer, tmp: Path,
            postgresql: str | None) -> Iterator[tuple[str, str]]:
    for name, tree in trees.items():
        port = free_port()
        base = f"http://{HOST}:{port}"
        url = f"sqlite:///{tmp / (name + '.db')}"
        if postgresql:
            url = f"{postgresql}_{name}"
            fresh_database(url)
        env = {**tool_env(url, base),
               "UPSTANDER_XAPI_EMBEDDED_WORKER": "false", "UPSTANDER_LOG_LEVEL": "WARNING"}
        prepare_tool(env, keyset)
        proc = stack.enter_context(process(serve_command(tree, port), env, tmp / f"{name}.log"))
        wait_healthy(base, proc, tmp / f"{name}.log")
        yield name, base


def report(results: dict[str, dict[str, dict[str, float]]]) -> None:
    before, after = results["before"], results["after"]
    print(f"\n{'endpoint':<18} {'requests':>8}  {'SQL/request before -> after':>28}  "
          f"{'mean ms before -> after':>24}  {'time ratio':>10}")
    totals = {"before": [0.0, 0.0, 0.0], "after": [0.0, 0.0, 0.0]}
    for endpoint in ENDPOINTS:
        b, a = before.get(endpoint), after.get(endpoint)
        if not b or not a or not a["requests"]:
            continue
        sql_b, sql_a = b["statements"] / max(b["counted"], 1), a["statements"] / max(a["counted"], 1)
        ms_b, ms_a = 1000 * b["seconds"] / b["requests"], 1000 * a["seconds"] / a["requests"]
        for name, row in (("before", b), ("after", a)):
            totals[name][0] += row["requests"]
            totals[name][1] += row["statements"]
            totals[name][2] += row["seconds"]
        print(f"{endpoint:<18} {int(a['requests']):>8}  {sql_b:>12.1f} -> {sql_a:<12.1f}  "
              f"{ms_b:>9.1f} -> {ms_a:<9.1f}  {ms_a / ms_b:>10.2f}")
    (rb, sb, tb), (ra, sa, ta) = totals["before"], totals["after"]
    print(f"{'all of the above':<18} {int(ra):>8}  {sb / rb:>12.1f} -> {sa / ra:<12.1f}  "
          f"{1000 * tb / rb:>9.1f} -> {1000 * ta / ra:<9.1f}  {(ta / ra) / (tb / rb):>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="a checkout of the code to compare against")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--learners", type=int, default=8, help="learners per round and server")
    parser.add_argument("--postgresql", metavar="URL", help="PostgreSQL instead of SQLite: databases URL_before and "
                        "URL_after are emptied and used, e.g. postgresql+psycopg://postgres@127.0.0.1/upstander_pr")
    opts = parser.parse_args()
    key = new_key()
    keyset = KeySetServer({"keys": [key.as_dict(private=False)]})
    trees = {"before": opts.before.resolve(), "after": ROOT}
    try:
        with tempfile.TemporaryDirectory(prefix="upstander-per-request-") as tmp, ExitStack() as stack:
            bases = dict(servers(stack, trees, keyset, Path(tmp), opts.postgresql))
            platforms = {name: Platform(key=key, tool_url=base, users=opts.learners * (opts.rounds + 1))
                         for name, base in bases.items()}
            for name, base in bases.items():  # warm-up, not counted apart (both get the same)
                play_round(base, platforms[name], 1, 10_000)
            for r in range(opts.rounds):
                order = list(bases) if r % 2 == 0 else list(reversed(bases))
                for name in order:
                    play_round(bases[name], platforms[name], opts.learners, r * opts.learners)
                print(f"round {r + 1}/{opts.rounds} done", flush=True)
            results = {name: scrape(base) for name, base in bases.items()}
    finally:
        keyset.close()
    database = "PostgreSQL" if opts.postgresql else "SQLite"
    print(f"{opts.rounds} rounds x {opts.learners} learners x module {MODULE} per server, {database}, "
          f"1 worker x 4 threads; the load alternates between the servers; cpus={os.cpu_count()}")
    report(results)


if __name__ == "__main__":
    main()
