"""What the audit log costs: the same pages with SLRT_AUDIT on and off, and its queries over 10 million rows.

Builds (once) a PostgreSQL database ``slrt_bench_audit`` with the demo district plus N cases
(bench/_fill.py), signs in as the supervisor (whole district) and opens the pages staff open all day
(resident list, case list, a resident's page, a case's page, a name search) with the reads audited
and not, interleaved (on, off, off, on, ...) so that the two see the same caches and the same
neighbours on the machine. Prints each page's medians and their ratio, then one summary line:

    audit_overhead cases=<n> <page>_on_ms=<ms> <page>_off_ms=<ms> <page>_ratio=<r> ... max_ratio=<r>

With ``--audit-rows 10000000`` it first fills the audit table with that many entries spread over
the last 12 months (INSERT ... SELECT generate_series, one month partition at a time, its indexes
built when it is attached), with the demo's staff accounts and addresses and the bench residents,
then times the queries the audit screens run (slrt.audit_search: the manager's log with each filter,
first page and the 41st page by keyset; a resident's Riwayat akses; one's own activity): the median
wall time of the call, and EXPLAIN ANALYZE's planning and execution time of the very statement it
sent (and how much of it was JIT compilation), with the indexes the plan used; then a 30-day breach
report of the busiest account (slrt.breach.report). The filled entries are not a valid hash chain
(audit-verify fails on this database).

Usage: .venv/bin/python bench/audit_overhead.py [--cases 200000] [--runs 15] [--audit-rows 10000000] [--rebuild]
Needs PostgreSQL at BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/slrt_bench_audit).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _fill import NAME_WORDS_SQL, bench_app, fill  # noqa: E402  (the benches' shared fill)
from list_pages import search_url, sign_in  # noqa: E402

URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/slrt_bench_audit")


# --- Pages, audit on and off --------------------------------------------------------------------------------


def time_page(client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    body = response.get_data()
    response.close()
    assert response.status_code == 200 and body, (url, response.status_code)
    return (time.perf_counter() - started) * 1000


def pages_on_and_off(app, runs: int) -> dict[str, tuple[float, float]]:
    """Median ms of each page with reads audited and not, interleaved; {page: (on, off)}."""
    from slrt.extensions import db

    with app.app_context():
        # A demo resident (the bench's hold placeholder ciphertext, which a resident's page decrypts).
        resident_id = db.session.execute(sa.text(
            "SELECT resident_id FROM \"case\" c JOIN resident r ON r.id = c.resident_id "
            "WHERE r.nik_encrypted <> 'bench' ORDER BY c.id LIMIT 1")).scalar()
        case_id = db.session.execute(sa.text(
            "SELECT id FROM \"case\" WHERE resident_id = :r ORDER BY id LIMIT 1"), {"r": resident_id}).scalar()
        db.session.remove()
    supervisor = sign_in(app, "supervisor")
    pages = {
        "resident_list": "/admin/resident/",
        "case_list": "/admin/case/",
        "resident_page": f"/admin/resident/details/?id={resident_id}",
        "case_page": f"/admin/case/details/?id={case_id}",
        "resident_search": search_url(supervisor, "/admin/resident/", "warga 1234"),
    }
    timings: dict[tuple[str, bool], list[float]] = {(name, on): [] for name in pages for on in (True, False)}
    for url in pages.values():  # warm up both ways
        for on in (True, False):
            app.config["SLRT_AUDIT"] = on
            time_page(supervisor, url)
    for run in range(runs):
        order = (True, False) if run % 2 == 0 else (False, True)
        for name, url in pages.items():
            for on in order:
                app.config["SLRT_AUDIT"] = on
                timings[(name, on)].append(time_page(supervisor, url))
    app.config["SLRT_AUDIT"] = True
    return {name: (statistics.median(timings[(name, True)]), statistics.median(timings[(name, False)]))
            for name in pages}


# --- Ten million entries -------------------------------------------------------------------------------------

#: What the filled entries do, as shares of 1,000: mostly page views, then lists and searches (a page
#: of 20 residents), changes, sign-ins, a few exports (200 residents).
ACTIONS_SQL = """CASE WHEN g % 1000 < 600 THEN 'view' WHEN g % 1000 < 800 THEN 'list'
                      WHEN g % 1000 < 880 THEN 'search' WHEN g % 1000 < 950 THEN 'update'
                      WHEN g % 1000 < 995 THEN 'sign_in' ELSE 'export' END"""


#: The user agent of the filled entries.
FILLED_AGENT = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"


def _month_starts(now: datetime, count: int) -> list[datetime]:
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    starts = [start]
    for _ in range(count - 1):
        start = (start - timedelta(days=1)).replace(day=1)
        starts.append(start)
    return starts[::-1]


def fill_audit(app, rows: int) -> None:
    """``rows`` entries over the 12 months to now, one partition at a time (indexes built on attach)."""
    from slrt.extensions import db

    with app.app_context():
        engine = db.engine
        db.session.remove()
    now = datetime.now(UTC)
    starts = _month_starts(now, 13)  # 365 days back reach into the 13th month
    first = now - timedelta(days=365)
    span = (now - first).total_seconds()
    started = time.perf_counter()
    with engine.begin() as conn:
        staff = conn.execute(sa.text("SELECT array_agg(id ORDER BY id), array_agg(username ORDER BY id) "
                                     "FROM staff")).one()
        lo, hi = conn.execute(sa.text("SELECT min(id), max(id) FROM resident WHERE nik_encrypted = 'bench'")).one()
        base_id = conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM audit_entry")).scalar() + 1
    staff_ids = "ARRAY[" + ",".join(map(str, staff[0])) + "]"
    usernames = "ARRAY[" + ",".join(f"'{u}'" for u in staff[1]) + "]"
    residents = hi - lo + 1
    done = 0
    for start in starts:
        end = (start + timedelta(days=32)).replace(day=1)
        a, b = max(start, first), min(end, now)
        lo_g = math.floor(rows * (a - first).total_seconds() / span) + 1  # at(g) strictly inside [a, b)
        hi_g = math.ceil(rows * (b - first).total_seconds() / span) - 1
        name = f"audit_entry_{start.year:04d}_{start.month:02d}"
        with engine.begin() as conn:
            exists = conn.execute(sa.text("SELECT to_regclass(:n)"), {"n": name}).scalar()
            if exists:
                conn.exec_driver_sql(f"ALTER TABLE audit_entry DETACH PARTITION {name}")
                conn.exec_driver_sql(f"ALTER TABLE {name} RENAME TO {name}_old")
            conn.exec_driver_sql(f"CREATE TABLE {name} (LIKE audit_entry INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
            if exists:
                conn.exec_driver_sql(f"INSERT INTO {name} SELECT * FROM {name}_old")
                conn.exec_driver_sql(f"DROP TABLE {name}_old")
            bounds = {"lo": start, "hi": end}
            conn.execute(sa.text(f"WITH moved AS (DELETE FROM audit_entry_default WHERE at >= :lo AND at < :hi "
                                 f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"), bounds)
            # g numbers the entries in time order over the whole year; s is the acting account.
            conn.exec_driver_sql(f"""
                INSERT INTO {name} (id, at, actor_kind, staff_id, actor_label, action, record_type, record_id,
                                    resident_ids, rows, detail, ip, user_agent, request_id, prev_hash, hash)
                SELECT {base_id} + g, '{first.isoformat()}'::timestamptz + (g * {span / rows}) * interval '1 second',
                       'staff', s.id, s.username, a.action,
                       CASE WHEN a.action IN ('view', 'update') THEN 'resident' END,
                       CASE WHEN a.action IN ('view', 'update') THEN r.id END,
                       CASE WHEN a.action IN ('view', 'update') THEN ARRAY[r.id]
                            WHEN a.action IN ('list', 'search') THEN ARRAY(SELECT {lo} + (r.id - {lo} + k * 7919)
                                                                          % {residents} FROM generate_series(0, 19) k)
                            WHEN a.action = 'export' THEN ARRAY(SELECT {lo} + (r.id - {lo} + k * 104729)
                                                                % {residents} FROM generate_series(0, 199) k)
                            ELSE '{{}}'::bigint[] END,
                       CASE WHEN a.action IN ('list', 'search') THEN 20 WHEN a.action = 'export' THEN 200 END,
                       CASE WHEN a.action IN ('list', 'search', 'export') THEN '{{"type": "resident"}}'::json END,
                       '10.20.' || (s.id % 5) || '.' || (10 + s.id), '{FILLED_AGENT}',
                       md5(g::text), md5(g::text) || md5((g - 1)::text), md5(g::text) || md5((g + 1)::text)
                FROM generate_series({lo_g}, {hi_g}) g,
                     LATERAL (SELECT {ACTIONS_SQL} AS action) a,
                     LATERAL (SELECT ({staff_ids})[1 + (hashint4(g) & 2147483647) % {len(staff[0])}] AS id,
                                     ({usernames})[1 + (hashint4(g) & 2147483647) % {len(staff[0])}] AS username) s,
                     LATERAL (SELECT {lo} + (hashint4(g + 17) & 2147483647) % {residents} AS id) r"""
                                 .replace("%", "%%"))
            conn.exec_driver_sql(f"ALTER TABLE audit_entry ATTACH PARTITION {name} FOR VALUES FROM "
                                 f"('{start.isoformat()}') TO ('{end.isoformat()}')")
        done += max(hi_g - lo_g + 1, 0)
        print(f"  {name}: {max(hi_g - lo_g + 1, 0):,} entries ({time.perf_counter() - started:.0f} s)", flush=True)
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT setval('audit_entry_id_seq', (SELECT max(id) FROM audit_entry))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE audit_entry")
    print(f"filled {done:,} audit entries in {time.perf_counter() - started:.0f} s", flush=True)


def _indexes(plan: dict) -> list[str]:
    """The indexes a JSON plan scans, partitions' names folded into the parent index's
    (audit_entry_2026_05_staff_id_at_idx -> staff_id_at), in order of first use."""
    found: list[str] = []

    def walk(node: dict) -> None:
        name = node.get("Index Name")
        if name:
            name = re.sub(r"^audit_entry_(\d{4}_\d{2}|default)_", "", name).removesuffix("_idx")
            if name not in found:
                found.append(name)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan)
    return found or ["(none: sequential scan)"]


def audit_queries(app, runs: int = 5) -> list[tuple[str, float, float, float, float, list[str]]]:
    """(query, median ms of the screen's call, EXPLAIN ANALYZE planning, execution and JIT ms, indexes) for each
    query the audit screens run: the manager's log with each filter (slrt.audit_search.page, first page and
    2,000 entries deep), a resident's Riwayat akses and one's own activity."""
    from slrt import audit_search
    from slrt.extensions import db
    from slrt.models import AuditEntry
    from slrt.models.enums import AuditAction

    results = []
    with app.app_context():
        engine = db.engine
        # An account and an address of the filled entries (not the bench's own sign-in from 127.0.0.1).
        busy = db.session.execute(sa.text(
            "SELECT staff_id, ip FROM audit_entry WHERE user_agent = :agent ORDER BY at DESC LIMIT 1"),
            {"agent": FILLED_AGENT}).one()
        newest = db.session.execute(sa.text("SELECT max(at) FROM audit_entry")).scalar()
        some_view = db.session.execute(sa.text(
            "SELECT record_id, resident_ids[1] FROM audit_entry WHERE action = 'view' AND at < :t "
            "ORDER BY at DESC LIMIT 1"), {"t": newest - timedelta(days=100)}).one()
        week = (newest - timedelta(days=180)).date()
        Filters = audit_search.Filters
        calls = {
            "all": lambda before: audit_search.page(Filters(), before),
            "staff": lambda before: audit_search.page(Filters(staff_id=busy.staff_id), before),
            "resident": lambda before: audit_search.page(Filters(resident_id=some_view.resident_ids), before),
            "action_export": lambda before: audit_search.page(Filters(action=AuditAction.EXPORT), before),
            "action_view": lambda before: audit_search.page(Filters(action=AuditAction.VIEW), before),
            "record": lambda before: audit_search.page(Filters(record_type="resident",
                                                               record_id=some_view.record_id), before),
            "address": lambda before: audit_search.page(Filters(ip=busy.ip), before),
            "dates_one_week": lambda before: audit_search.page(Filters(start=week, end=week + timedelta(days=6)),
                                                               before),
            "staff_and_dates": lambda before: audit_search.page(Filters(staff_id=busy.staff_id, start=week,
                                                                        end=week + timedelta(days=6)), before),
            "riwayat_akses": lambda before: audit_search.access_history(some_view.resident_ids, before),
            "own_activity": lambda before: audit_search.own_activity(busy.staff_id),
        }
        sent: list[tuple[str, object]] = []

        def capture(_conn, _cursor, statement, parameters, _context, _many):
            sent.append((statement, parameters))

        for name, call in calls.items():
            pages = [("first page", None)]
            if name != "own_activity":
                before = None
                for _ in range(40):  # walk 40 pages of 50 (the Riwayat akses pages are of 20)
                    found = call(before)
                    before = found.next
                    if before is None:
                        break
                if before is not None:
                    pages.append(("deep page", before))
            for label, before in pages:
                timings = []
                for _ in range(runs):
                    db.session.expunge_all()
                    sa.event.listen(engine, "before_cursor_execute", capture)
                    sent.clear()
                    started = time.perf_counter()
                    found = call(before)
                    timings.append((time.perf_counter() - started) * 1000)
                    sa.event.remove(engine, "before_cursor_execute", capture)
                statement, parameters = next(s for s in sent if "audit_entry" in s[0])
                plan = db.session.connection().exec_driver_sql(
                    f"EXPLAIN (ANALYZE, FORMAT JSON) {statement}", parameters).scalar()[0]
                jit = plan.get("JIT", {}).get("Timing", {}).get("Total", 0.0)  # compiling the plan, within execution
                results.append((f"{name} {label} ({len(found.entries)} rows)", statistics.median(timings),
                                plan["Planning Time"], plan["Execution Time"], jit, _indexes(plan["Plan"])))
        db.session.rollback()
        total = db.session.execute(sa.select(sa.func.count()).select_from(AuditEntry)).scalar()
        db.session.remove()
    print(f"audit entries: {total:,}")
    return results


def breach_report_timing(app) -> str:
    """One month of the busiest account's reads through slrt.breach.report (what `breach-report` runs)."""
    from slrt import breach
    from slrt.extensions import db
    from slrt.models import Staff

    with app.app_context():
        newest = db.session.execute(sa.text("SELECT max(at) FROM audit_entry")).scalar()
        busiest = db.session.execute(sa.text(
            "SELECT staff_id FROM audit_entry WHERE at > :t AND staff_id IS NOT NULL GROUP BY staff_id "
            "ORDER BY count(*) DESC LIMIT 1"), {"t": newest - timedelta(days=30)}).scalar()
        until = newest.date() - timedelta(days=1)
        started = time.perf_counter()
        made = breach.report(staff=db.session.get(Staff, busiest), since=until - timedelta(days=29), until=until)
        seconds = time.perf_counter() - started
        db.session.remove()
    return (f"breach_report days=30 entries={made.entries} residents={made.residents} seconds={seconds:.1f} "
            f"(notices of {made.residents} residents included)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=15, help="timed runs of each page, each way")
    parser.add_argument("--audit-rows", type=int, default=0,
                        help="fill the audit table with this many entries (once) and time the audit queries")
    parser.add_argument("--skip-pages", action="store_true", help="only the audit queries")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    app, must_fill = bench_app(URL, "bench-audit-pii.key", args.rebuild)
    if must_fill:
        fill(app, args.cases, NAME_WORDS_SQL)
    from slrt.extensions import db

    with app.app_context():
        total = db.session.execute(sa.text('SELECT count(*) FROM "case"')).scalar()
        entries = db.session.execute(sa.text("SELECT count(*) FROM audit_entry")).scalar()
        db.session.remove()
    if args.audit_rows and entries < args.audit_rows:
        fill_audit(app, args.audit_rows)
    if not args.skip_pages:
        results = pages_on_and_off(app, args.runs)
        print(f"{'page':<18} {'audit on':>10} {'audit off':>10} {'ratio':>7}   (median of {args.runs}, interleaved)")
        for name, (on, off) in results.items():
            print(f"{name:<18} {on:8.1f} ms {off:8.1f} ms {on / off:7.3f}", flush=True)
        summary = " ".join(f"{name}_on_ms={on:.1f} {name}_off_ms={off:.1f} {name}_ratio={on / off:.3f}"
                           for name, (on, off) in results.items())
        print(f"audit_overhead cases={total} {summary} max_ratio={max(on / off for on, off in results.values()):.3f}",
              flush=True)
    if args.audit_rows:
        print(f"{'audit screen query':<40} {'call':>10} {'planning':>10} {'execution':>10} {'of it JIT':>10}   indexes")
        for name, wall, planned, executed, jit, indexes in audit_queries(app):
            print(f"{name:<40} {wall:7.1f} ms {planned:7.1f} ms {executed:7.1f} ms {jit:7.1f} ms   "
                  f"{', '.join(indexes)}", flush=True)
        print(breach_report_timing(app), flush=True)


if __name__ == "__main__":
    main()
