"""The audit log's screens over millions of entries on PostgreSQL: time of a page per filter.

Builds (once) a database ``slrt_bench_audit_screens`` (migrated; no demo needed) with N synthetic entries
spread over three monthly partitions: 200 staff accounts, seven actions, four record types, 250
addresses, two residents per entry out of 500,000. Then times the queries the screens run
(slrt.audit_search): the managers' log with no filter and with each filter (staff, action,
record, address, one resident, one day), on its first page and on a page deep in the log (the
"older" link's cursor at two thirds back), a resident's access history and a staff member's
own activity. Prints medians of several runs and, last, one summary line:

    audit_log entries=<n> first_page_ms=<worst first page> deep_page_ms=<worst deep page> resident_ms=<ms>

Another filled database may be measured instead (BENCH_DATABASE_URL, e.g. bench/audit_overhead.py's
``slrt_bench_audit``): it is only read, the fill runs only in a database this bench creates.

Usage: .venv/bin/python bench/audit_log.py [--entries 10000000] [--rebuild]
Needs PostgreSQL at BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/slrt_bench_audit_screens).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _fill import bench_app  # noqa: E402  (the benches' shared set-up)

URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/slrt_bench_audit_screens")
#: The entries span this many days from the first of the month the database was built in.
SPAN_DAYS = 85
RUNS = 5


def fill(entries: int) -> None:
    """N entries by INSERT ... SELECT generate_series, in the partitions of this month and the next two."""
    from flask_migrate import upgrade

    from slrt.extensions import db

    upgrade()
    start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    step_us = SPAN_DAYS * 86_400_000_000 // entries
    began = time.perf_counter()
    batch = 1_000_000
    for first in range(1, entries + 1, batch):
        last = min(first + batch - 1, entries)
        db.session.execute(sa.text(f"""
            INSERT INTO audit_entry (at, actor_kind, staff_id, actor_label, action, record_type, record_id,
                                     resident_ids, rows, detail, ip, user_agent, request_id, prev_hash, hash)
            SELECT :start + g * interval '{step_us} microseconds', 'staff', 1 + g % 200, 'petugas' || g % 200,
                   (ARRAY['view','list','search','export','update','reveal_nik','sign_in'])[1 + g % 7],
                   CASE WHEN g % 7 IN (1, 2, 3) THEN NULL
                        ELSE (ARRAY['resident','case','referral','household'])[1 + g % 4] END,
                   CASE WHEN g % 7 IN (1, 2, 3) THEN NULL ELSE g % 300000 END,
                   ARRAY[(g % 500000)::bigint, ((g * 7) % 500000)::bigint], 2, '{{"type": "resident"}}',
                   '10.' || g % 250 || '.' || g % 13 || '.' || g % 7, 'bench', NULL, repeat('0', 64), repeat('1', 64)
            FROM generate_series({first}, {last}) g"""), {"start": start})
        db.session.commit()
        print(f"  {last:,} entries ({time.perf_counter() - began:.0f} s)", flush=True)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE audit_entry")


def timed(call) -> float:
    """The median milliseconds of ``call`` over RUNS runs (after one to warm the cache)."""
    call()
    times = []
    for _ in range(RUNS):
        began = time.perf_counter()
        call()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    app, must_fill = bench_app(URL, "bench_audit_screens_key", args.rebuild)
    with app.app_context():
        from slrt import audit_search
        from slrt.extensions import db
        from slrt.models.enums import AuditAction

        if must_fill:
            print(f"filling {args.entries:,} audit entries ...", flush=True)
            fill(args.entries)
        count = db.session.scalar(sa.text("SELECT count(*) FROM audit_entry"))
        first, newest = db.session.execute(sa.text("SELECT min(at), max(at) FROM audit_entry")).one()
        deep = audit_search.Cursor(first + (newest - first) / 3, 2**62)
        day = (first + timedelta(days=10)).date()
        filters = {
            "none": audit_search.Filters(), "staff": audit_search.Filters(staff_id=17),
            "action": audit_search.Filters(action=AuditAction.REVEAL_NIK),
            "record": audit_search.Filters(record_type="resident", record_id=1234),
            "address": audit_search.Filters(ip="10.7.7.0"), "resident": audit_search.Filters(resident_id=4321),
            "day": audit_search.Filters(start=day, end=day),
            "staff+action": audit_search.Filters(staff_id=17, action=AuditAction.VIEW),
        }
        firsts, deeps = [], []
        print(f"{count:,} entries, {first:%Y-%m-%d} .. {newest:%Y-%m-%d}")
        print(f"{'filter':<14}{'first page ms':>15}{'deep page ms':>15}")
        for name, chosen in filters.items():
            first_ms = timed(lambda chosen=chosen: audit_search.page(chosen))
            deep_ms = timed(lambda chosen=chosen: audit_search.page(chosen, deep))
            firsts.append(first_ms)
            deeps.append(deep_ms)
            print(f"{name:<14}{first_ms:>15.1f}{deep_ms:>15.1f}")
        history = timed(lambda: audit_search.access_history(4321))
        own = timed(lambda: audit_search.own_activity(17))
        print(f"access history (Riwayat akses) {history:.1f} ms; own activity {own:.1f} ms")
        print(f"audit_log entries={count} first_page_ms={max(firsts):.1f} deep_page_ms={max(deeps):.1f} "
              f"resident_ms={history:.1f} own_activity_ms={own:.1f}")


if __name__ == "__main__":
    main()
