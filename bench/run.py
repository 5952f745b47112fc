"""Upstander's performance budget: every benchmark in one run, one table, each figure beside its baseline.

Run from the project root:  bench/run [--only launch,learners,delivery,dashboard] [--quick]

Sections (each measures its figure and its baseline side by side, in this run):

* launch: full LTI launch flows per second (login + launch + first screen) beside a bare Flask endpoint
  under the same gunicorn configuration (launch_throughput.py);
* learners: simulated learners playing modules concurrently against ``upstander serve`` on PostgreSQL
  (``--sqlite`` for SQLite), beside the bare endpoint driven by the same threads; then the resident
  memory of each gunicorn worker after that load, beside a bare Flask worker's (learners.py);
* delivery: statements per second delivered from the outbox to the built-in LRS and to ``xapi-statements``,
  beside each LRS's own ingestion of the same statements posted directly (delivery.py);
* dashboard: the roster's first page and the whole-course accreditation CSV at 10,000 officers x 7 modules
  on PostgreSQL (dashboard.py); the seed is kept in its database and reused by the next run.

``--quick`` shortens every phase (a check that the script works; its figures mean little). The machine's
2 CPUs are shared by the load generator, the servers and PostgreSQL: only the ratios mean much.
"""

from __future__ import annotations

import argparse
import os
import platform as py_platform
import shlex
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path[:0] = [str(BENCH), str(ROOT)]

SECTIONS = ("launch", "learners", "delivery", "dashboard")
DASHBOARD_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/upstander_bench"
DASHBOARD_QUICK_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/upstander_bench_quick"


@dataclass
class Row:
    what: str
    figure: str
    baseline: str
    ratio: str
    command: str


def command(script: str, *args: object) -> str:
    return shlex.join([".venv/bin/python", f"bench/{script}", *map(str, args)])


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def launch_rows(opts: argparse.Namespace, tmp: Path) -> list[Row]:
    import launch_throughput

    args = ["--seconds", 3, "--rounds", 1] if opts.quick else ["--seconds", 10, "--rounds", 2]
    sub = launch_throughput.parser().parse_args(list(map(str, args)))
    launches, hellos = launch_throughput.compare(sub, tmp)
    errors = len(launches.errors) + len(hellos.errors)
    return [Row(
        "launch flows/s (login + launch + first screen), SQLite, 4 client threads",
        f"{launches.rate:.1f}/s, p50 {launches.percentile(50):.0f} ms, p99 {launches.percentile(99):.0f} ms"
        + (f", {errors} errors" if errors else ""),
        f"bare Flask /hello {hellos.rate:.0f}/s, p99 {hellos.percentile(99):.1f} ms",
        f"{hellos.rate / launches.rate:.1f} hellos per flow ({hellos.rate / launches.rate / 3:.1f} per tool request)"
        if launches.rate else "-",
        command("launch_throughput.py", *args),
    )]


def learner_rows(opts: argparse.Namespace, tmp: Path) -> list[Row]:
    import learners

    args: list[object] = ["--learners", 50, "--seconds", 8, "--baseline-seconds", 3] if opts.quick else []
    if opts.sqlite:
        args.append("--sqlite")
    out = learners.measure(learners.parser().parse_args(list(map(str, args))), tmp)
    learners.report(out)  # the details, on stderr's neighbour: stdout before the table
    phase, hello = out.learners, out.hello
    res = phase.tally.result
    errors = len(res.errors)
    tool_rss, bare_rss = max(phase.rss_mib, default=0), max(hello.rss_mib, default=0)
    n = learners.parser().parse_args(list(map(str, args))).learners
    return [
        Row(f"{n} learners playing modules ({phase.seconds:.0f} s), {out.database}",
            f"{phase.rate:.0f} requests/s, p50 {res.percentile(50):.0f} ms, p99 {res.percentile(99):.0f} ms, "
            f"errors {errors}; {phase.tally.launches} launches, {phase.tally.modules} modules finished; "
            f"generator {phase.generator_cpu / phase.seconds:.0%} of a CPU, workers "
            f"{phase.server_cpu / phase.seconds:.0%}",
            f"bare /hello, same {n} threads: {hello.rate:.0f}/s, p99 {hello.tally.result.percentile(99):.0f} ms "
            f"(generator {hello.generator_cpu / hello.seconds:.0%} of a CPU)",
            f"{hello.rate / phase.rate:.1f}" if phase.rate else "-",
            command("learners.py", *args)),
        Row("RSS per gunicorn worker after the learner load",
            ", ".join(f"{r:.0f}" for r in phase.rss_mib) + " MiB",
            "bare Flask worker " + ", ".join(f"{r:.0f}" for r in hello.rss_mib) + " MiB",
            f"{tool_rss / bare_rss:.1f}" if bare_rss else "-",
            command("learners.py", *args)),
    ]


def delivery_rows(opts: argparse.Namespace, tmp: Path) -> list[Row]:
    import delivery
    from sqlalchemy.orm import sessionmaker

    from lti_tool import migrate
    from xapi.db import make_engine

    counts = (30, 300, 1) if opts.quick else (300, 3000, 3)
    args = ["--count-batch1", counts[0], "--count-batch50", counts[1], "--rounds", counts[2]]
    sub = argparse.Namespace(count_batch1=counts[0], count_batch50=counts[1], rounds=counts[2])
    url = f"sqlite:///{tmp / 'outbox.db'}"
    migrate.upgrade(url)
    maker = sessionmaker(make_engine(url), expire_on_commit=False)
    table: list[tuple[str, int, float, float]] = []
    starts: list[tuple[str, Callable[[Path], Any]]] = [("built-in LRS", delivery.builtin_lrs)]
    if delivery.SERVER_JS.exists():
        starts.insert(0, ("xapi-statements", delivery.xapi_statements))
    else:
        log("xapi-statements is not installed (npm ci): its rows are skipped")
    for name, start in starts:
        with start(tmp) as destination:
            delivery.measure(name, destination, maker, sub, table)
    return [Row(f"statements delivered/s to {name}, batch {batch} (outbox on SQLite)",
                f"{delivered:.0f} statements/s", f"direct ingestion {direct:.0f}/s",
                f"{delivered / direct:.2f}", command("delivery.py", *args))
            for name, batch, direct, delivered in table]


def dashboard_rows(opts: argparse.Namespace, tmp: Path) -> list[Row]:
    import dashboard
    import learners

    from lti_tool.services import compliance_rules

    url = opts.dashboard_url or (DASHBOARD_QUICK_URL if opts.quick else DASHBOARD_URL)
    officers, runs = (1000, 3) if opts.quick else (10_000, 9)
    learners.ensure_database(url)
    _app, staff, cid = dashboard.prepare(url, officers, log=log)
    page = dashboard.getter(staff, f"dashboard/{cid}/officers")
    after = dashboard.timed(page, runs)
    compliance_rules.USE_SUMMARY = False
    try:
        before = dashboard.timed(page, runs)
    finally:
        compliance_rules.USE_SUMMARY = True
    path, since, until = dashboard.csv_path(cid)
    csv = dashboard.timed(dashboard.getter(staff, path), 1 if opts.quick else 3)
    in_memory = dashboard.in_memory_csv(_app, cid, since, until)
    args = ["--database-url", url, "--officers", officers, "--runs", runs]
    scale = f"{officers:,} officers x 7 modules, PostgreSQL"
    return [
        Row(f"dashboard roster page 1 (by name), {scale}", f"p50 {after[0]:.0f} ms, p95 {after[1]:.0f} ms",
            f"without the progress summary: p50 {before[0]:.0f} ms", f"{before[0] / after[0]:.1f}",
            command("dashboard.py", *args)),
        Row(f"accreditation CSV export, whole course ({csv[2] / 2**20:.1f} MiB), {scale}",
            f"p50 {csv[0]:.0f} ms (streamed through the app)",
            f"whole report built in memory: {in_memory:.0f} ms", f"{in_memory / csv[0]:.1f}",
            command("dashboard.py", *args)),
    ]


RUNNERS: dict[str, Callable[[argparse.Namespace, Path], list[Row]]] = {
    "launch": launch_rows, "learners": learner_rows, "delivery": delivery_rows, "dashboard": dashboard_rows,
}


def print_table(rows: list[Row], opts: argparse.Namespace, seconds: float) -> None:
    print(f"\nUpstander performance budget ({'--quick: figures mean little' if opts.quick else 'full run'}; "
          f"{os.cpu_count()} CPUs shared with the load generator; Python {py_platform.python_version()}; "
          f"{seconds / 60:.1f} min)\n")
    print("| measure | figure | baseline (same run) | ratio | command |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(f"| {row.what} | {row.figure} | {row.baseline} | {row.ratio} | `{row.command}` |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections to run (default: all of {','.join(SECTIONS)})")
    parser.add_argument("--quick", action="store_true", help="short phases: checks that everything runs")
    parser.add_argument("--sqlite", action="store_true", help="learners: serve on SQLite instead of PostgreSQL")
    parser.add_argument("--dashboard-url", help=f"dashboard database (default {DASHBOARD_URL}; the seed is kept)")
    opts = parser.parse_args()
    chosen = [s.strip() for s in opts.only.split(",") if s.strip()]
    unknown = set(chosen) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    started, rows = time.perf_counter(), []
    for section in SECTIONS:
        if section in chosen:
            log(f"{section}: running")
            rows += run_section(section, opts)
    print_table(rows, opts, time.perf_counter() - started)


def run_section(section: str, opts: argparse.Namespace) -> list[Row]:
    """Run one section; a section that fails becomes a row saying why, and the others still run."""
    try:
        with tempfile.TemporaryDirectory(prefix=f"upstander-{section}-") as tmp:
            return RUNNERS[section](opts, Path(tmp))
    except (Exception, SystemExit) as exc:  # a benchmark reports, it does not stop at the first failure
        traceback.print_exc()
        return [Row(f"{section}: FAILED", f"{type(exc).__name__}: {exc}"[:300], "-", "-",
                    f"bench/run --only {section}")]


if __name__ == "__main__":
    main()
