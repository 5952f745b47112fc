"""The coordinator dashboard at 10,000 officers x 7 modules on PostgreSQL: page, overview and CSV export times.

Run from the project root (the database is emptied and seeded unless it already holds the seed; give one of
your own):

    psql -h 127.0.0.1 -U postgres -c 'create database upstander_bench'
    .venv/bin/python bench/dashboard.py --database-url postgresql+psycopg://postgres@127.0.0.1/upstander_bench

It migrates the database, launches as a coordinator of one course through the real LTI flow (a fake
platform, the Flask test client), then seeds that course by SQL (generate_series, a few seconds): officers
with a mix of not started, in progress, passed, failed (and retried) and expired attempts, choices for a
tenth of the attempts, requirements with past, near and no due dates, waivers, some members who left.
Each registration's progress summary is then built as the migration's backfill does.

It measures through the real app (every request a full Flask request: access check, queries, template):
the roster's first page by name, by status, filtered by status, the overview (the coordinator's landing
page), and the accreditation CSV of the whole course, streamed to the end. Each page is measured with the
progress summary (now) and, alternating in the same run, without it (every attempt aggregated per
request, as before; ``compliance_rules.USE_SUMMARY``), and the ratio is printed. It never asserts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from pathlib import Path
from typing import Any

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from lti_tool import create_app, migrate  # noqa: E402
from lti_tool.catalogue import modules as catalogue  # noqa: E402
from lti_tool.content import DecisionScreen, get_content  # noqa: E402
from lti_tool.db import sessionmaker_for  # noqa: E402
from lti_tool.exports import csv as csv_export  # noqa: E402
from lti_tool.models import LtiContext, progress  # noqa: E402
from lti_tool.services import compliance_rules, reports_db  # noqa: E402
from tests.conftest import LMS_URL, TOOL_URL, Router  # noqa: E402
from tests.functional.test_dashboard_access import Staff, open_as  # noqa: E402
from tests.platform import FakePlatform  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1/upstander_bench"
FIRST = ["Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn", "Drew", "Robin",
         "Chris", "Pat", "Lee", "Dana", "Kim", "Noor", "Ana", "Luis", "Mei", "Omar", "Ines", "Tomas"]
LAST = ["Smith", "Garcia", "Nguyen", "Okafor", "Kowalski", "Murphy", "Haddad", "Larsen", "Silva", "Cohen", "Ito",
        "Brown", "Dubois", "Rossi", "Novak", "Patel", "Reyes", "Schmidt", "Walsh", "Yilmaz", "Moreau", "Khan"]


def _statements(officers: int, modules: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """Return the seeding SQL (PostgreSQL), in order, with its parameters."""
    return [
        ("SELECT setseed(0.42)", {}),
        ("""INSERT INTO lti_user (deployment_pk, sub, name, email, created_at, last_launch_at)
            SELECT :dep, 'officer-' || lpad(g::text, 6, '0'),
                   (CAST(:first AS text[]))[1 + g % :nf] || ' ' || (CAST(:last AS text[]))[1 + (g / 3) % :nl],
                   'officer' || g || '@agency.example', now(), now()
            FROM generate_series(1, :n) g""", {"n": officers, "first": FIRST, "last": LAST,
                                                                   "nf": len(FIRST), "nl": len(LAST)}),
        # 3% of members have left the course (marked, kept); everyone came from the LMS roster.
        ("""INSERT INTO membership (user_pk, context_pk, role, lis_roles, updated_at, source, active, left_at,
                                    synced_at, agency_id)
            SELECT u.id, :ctx, 'learner', '[]'::jsonb, now(), 'nrps', f.active,
                   CASE WHEN f.active THEN NULL ELSE now() - interval '40 days' END, now(), 'B-' || u.id
            FROM lti_user u CROSS JOIN LATERAL (SELECT random() >= 0.03 AS active OFFSET 0) f
            WHERE u.deployment_pk = :dep AND u.sub LIKE 'officer-%'""", {}),
        # About 85% of (officer, module) cells were ever started.
        ("""INSERT INTO module_registration (user_pk, module, registration, created_at)
            SELECT u.id, m, gen_random_uuid()::text, now()
            FROM lti_user u CROSS JOIN unnest(CAST(:modules AS varchar[])) m
            WHERE u.deployment_pk = :dep AND u.sub LIKE 'officer-%' AND random() < 0.85""", {"modules": modules}),
        # 1 to 3 attempts each; earlier ones failed (retries); the last: 12% open, 18% failed, else passed.
        # Started up to 18 months ago: some passes have expired (annual refresher).
        ("""INSERT INTO attempt (registration_pk, number, content_version, screen, history, started_at,
                                 last_activity_at, seconds_on_task, completed_at, score, passed)
            SELECT r.id, k, 1, 'end', '[]'::jsonb, s.started, s.started + interval '25 minutes', 600 + k * 120,
                   CASE WHEN o.outcome = 'open' THEN NULL ELSE s.started + interval '25 minutes' END,
                   CASE o.outcome WHEN 'open' THEN NULL WHEN 'fail' THEN 0.4 + r.p * 0.35 ELSE 0.8 + r.p * 0.2 END,
                   CASE o.outcome WHEN 'open' THEN NULL ELSE o.outcome = 'pass' END
            FROM (SELECT id, 1 + (random() < 0.65)::int + (random() < 0.3)::int AS n, random() AS p,
                         now() - random() * interval '540 days' AS t0 FROM module_registration) r
            CROSS JOIN LATERAL generate_series(1, r.n) k
            CROSS JOIN LATERAL (SELECT r.t0 + (k - 1) * interval '6 days' AS started) s
            CROSS JOIN LATERAL (SELECT CASE WHEN k < r.n THEN 'fail' WHEN r.p < 0.12 THEN 'open'
                                            WHEN r.p < 0.30 THEN 'fail' ELSE 'pass' END AS outcome) o""", {}),
        # The choices made in a tenth of the attempts (item-level detail for the exports).
        ("""INSERT INTO decision (attempt_pk, screen, choice, points, max_points, stage, tactic, rank, answered_at)
            SELECT a.id, c.screen, c.choice, c.points, c.max_points, c.stage, c.tactic, c.rank,
                   a.started_at + c.ord * interval '2 minutes'
            FROM attempt a JOIN module_registration r ON r.id = a.registration_pk
            JOIN bench_choice c ON c.module = r.module AND c.pick = a.id % 3
            WHERE a.id % 10 = 0""", {}),
        ("""INSERT INTO module_requirement (context_pk, module, required, due_date, recert_months, credit_minutes,
                                           updated_at)
            SELECT :ctx, m, i <= 5,
                   CASE i WHEN 1 THEN current_date - 30 WHEN 2 THEN current_date + 20 WHEN 3 THEN current_date + 90
                          END, 12, NULL, now()
            FROM unnest(CAST(:modules AS varchar[])) WITH ORDINALITY AS t(m, i)""", {"modules": modules}),
        ("""INSERT INTO waiver (context_pk, user_pk, module, reason, created_at)
            SELECT :ctx, r.user_pk, r.module, 'Completed equivalent training at the academy', now()
            FROM module_registration r WHERE random() < 0.02""", {}),
    ]


def _choices(modules: list[str]) -> list[dict[str, Any]]:
    """Return three ways through each module's decisions (real screen and choice ids), for the seed."""
    found = []
    for slug in modules:
        screens = [s for s in get_content().modules[slug].screens if isinstance(s, DecisionScreen)]
        for pick in range(3):
            for ord_, screen in enumerate(screens):
                choice = screen.choices[(pick + ord_) % len(screen.choices)]
                found.append({"module": slug, "pick": pick, "ord": ord_, "screen": screen.id, "choice": choice.id,
                              "points": choice.points, "max_points": max(c.points for c in screen.choices),
                              "stage": screen.stage, "tactic": screen.tactic, "rank": screen.rank})
    return found


def reset(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    migrate.upgrade(url)


def seed(app: Any, context_pk: int, officers: int) -> dict[str, int]:
    """Seed the course by SQL, build the progress summaries, analyse; return row counts."""
    slugs = [m.slug for m in catalogue()][:7]
    with sessionmaker_for(app).begin() as session:
        dep = session.execute(text("SELECT deployment_pk FROM lti_context WHERE id = :c"), {"c": context_pk}).scalar()
        session.execute(text("""CREATE TEMP TABLE bench_choice (module varchar, pick int, ord int, screen varchar,
            choice varchar, points int, max_points int, stage int, tactic varchar, rank varchar) ON COMMIT DROP"""))
        session.execute(text("INSERT INTO bench_choice VALUES (:module, :pick, :ord, :screen, :choice, :points, "
                             ":max_points, :stage, :tactic, :rank)"), _choices(slugs))
        for sql, params in _statements(officers, slugs):
            session.execute(text(sql), {"dep": dep, "ctx": context_pk, **params})
        progress.refresh(session, None)
    engine = sessionmaker_for(app).kw["bind"]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    with sessionmaker_for(app).begin() as session:
        return {t: int(session.execute(text(f"SELECT count(*) FROM {t}")).scalar() or 0)  # noqa: S608
                for t in ("membership", "module_registration", "attempt", "decision", "waiver")}


def timed(fetch: Callable[[], int], runs: int) -> tuple[float, float, int]:
    """Return p50 and p95 in ms over ``runs`` (after one warm-up) and the size of the last body."""
    size = fetch()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        size = fetch()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], size


def getter(staff: Staff, path: str) -> Callable[[], int]:
    def fetch() -> int:
        response = staff.client.get(staff.base + path, base_url=TOOL_URL, buffered=False)
        size = sum(len(chunk) for chunk in response.response)
        response.close()
        if response.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {response.status_code}")
        return size
    return fetch


def csv_peak(staff: Staff, path: str) -> float:
    """Return the peak Python memory (MiB) while the CSV is produced and read to the end (tracemalloc)."""
    tracemalloc.start()
    getter(staff, path)()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def seeded(url: str, officers: int) -> bool:
    """Return True when the database already holds this benchmark's seed (one course, ``officers`` officers)."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            found = connection.execute(text(
                "SELECT (SELECT count(*) FROM lti_user WHERE sub LIKE 'officer-%'), (SELECT count(*) FROM lti_context),"
                " (SELECT count(*) FROM module_registration)")).one()
    except SQLAlchemyError:
        return False  # no database, or not migrated
    finally:
        engine.dispose()
    return found[0] == officers and found[1] == 1 and found[2] > 0


def prepare(url: str, officers: int, reseed: bool = False,
            log: Callable[[str], None] = print) -> tuple[Any, Staff, int]:
    """Return the app, a coordinator's session and the course, seeding it unless it is already there."""
    reuse = not reseed and seeded(url, officers)
    if reuse:
        migrate.upgrade(url)  # a newer migration keeps the rows
    else:
        reset(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "PUBLIC_URL": TOOL_URL,
                      "DEMO_LMS_URL": LMS_URL, "ROSTER_SYNC_MINUTES": 10**9})
    router = Router(app)
    app.extensions["upstander.http"] = httpx.Client(transport=router)
    with sessionmaker_for(app).begin() as session:
        platform = FakePlatform().install(session, router)
        # A kept seed holds the last run's platform key under the same kid: fetch this run's key set.
        session.execute(text("UPDATE platform SET jwks_cache = NULL, jwks_fetched_at = NULL"))
    staff = open_as(app.test_client(), platform, sub="coordinator-1", name="Sgt. Lee Morgan")
    cid = _context_pk(app)  # the course of the coordinator's launch, the only one
    if reuse:
        log(f"seed reused: {officers:,} officers already in the database (--reseed to seed again)")
    else:
        started = time.perf_counter()
        counts = seed(app, cid, officers)
        log(f"seeded in {time.perf_counter() - started:.1f} s: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return app, staff, cid


def csv_path(cid: int) -> tuple[str, date, date]:
    """Return the whole-course accreditation CSV's path and its date range."""
    until = datetime.now(UTC).date()
    since = until - timedelta(days=3000)  # every attempt (the form allows ten years at most)
    return f"dashboard/{cid}/reports/accreditation.csv?since={since}&until={until}", since, until


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--officers", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--csv-runs", type=int, default=3)
    parser.add_argument("--no-before", action="store_true", help="skip the measurements without the summary")
    parser.add_argument("--reseed", action="store_true", help="empty and seed the database even if it holds the seed")
    args = parser.parse_args()
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    app, staff, cid = prepare(args.database_url, args.officers, args.reseed)
    pages = [
        ("roster page 1, by name", f"dashboard/{cid}/officers"),
        ("roster page 1, by status", f"dashboard/{cid}/officers?sort=status"),
        ("roster filtered: overdue", f"dashboard/{cid}/officers?status=overdue"),
        ("roster filtered: in progress", f"dashboard/{cid}/officers?status=in_progress"),
        ("roster filtered: module failed", f"dashboard/{cid}/officers?status=failed&module={catalogue()[2].slug}"),
        ("roster search 'garcia'", f"dashboard/{cid}/officers?q=garcia"),
        ("overview (landing page)", f"dashboard/{cid}/"),
    ]
    print(f"\n{'page':34} {'summary p50':>12} {'p95':>8} {'before p50':>11} {'p95':>8} {'ratio':>6}")
    for label, path in pages:
        after = timed(getter(staff, path), args.runs)
        before = None
        if not args.no_before:
            compliance_rules.USE_SUMMARY = False
            try:
                before = timed(getter(staff, path), args.runs)
            finally:
                compliance_rules.USE_SUMMARY = True
        tail = (f"{before[0]:11.0f} {before[1]:8.0f} {before[0] / after[0]:5.1f}x" if before else "")
        print(f"{label:34} {after[0]:9.0f} ms {after[1]:8.0f} {tail}")
    path, since, until = csv_path(cid)
    p50, p95, size = timed(getter(staff, path), args.csv_runs)
    print(f"\naccreditation.csv, whole course ({size / 2**20:.1f} MiB): p50 {p50:.0f} ms, p95 {p95:.0f} ms; "
          f"peak Python memory while streaming {csv_peak(staff, path):.0f} MiB (tracemalloc, separate run)")
    if not args.no_before:
        print(f"before (whole report built in memory, then written; one run, in-process): "
              f"{in_memory_csv(app, cid, since, until):.0f} ms")


def in_memory_csv(app: Any, context_pk: int, since: date, until: date) -> float:
    """Return the time to build the whole report (``reports_db.build``) and write it as CSV, as before."""
    start, end = (datetime.combine(d, time_of_day(), UTC) for d in (since, until + timedelta(days=1)))
    with app.app_context(), sessionmaker_for(app)() as session:
        context = session.get(LtiContext, context_pk)
        started = time.perf_counter()
        report = reports_db.build(session, context, start, end, generated_at=datetime.now(UTC), generated_by="bench")
        sum(len(line) for line in csv_export.stream(report))
        return (time.perf_counter() - started) * 1000


def _context_pk(app: Any) -> int:
    with sessionmaker_for(app).begin() as session:
        return int(session.execute(text("SELECT max(id) FROM lti_context")).scalar() or 0)


if __name__ == "__main__":
    main()
