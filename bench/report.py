"""The monthly report over a million cases on PostgreSQL: time per report and SQL statements per report.

Builds (once) a database like bench/list_pages.py's (the demo district plus N cases over the
last year, spread over the Puskesos units, each with a referral), with what the report reads
besides: each case's need, and a completion time for the completed referrals. Then times the
report screen, its CSV and XLSX as a supervisor of the whole district and as a Puskesos clerk,
for last month and for a whole year (the longest period a report may cover). Prints medians
of several runs and, last, one summary line:

    report cases=<n> month_ms=<ms> month_csv_ms=<ms> month_xlsx_ms=<ms> year_ms=<ms> ... max_queries=<n>

Usage: .venv/bin/python bench/report.py [--cases 1000000] [--rebuild]
Needs PostgreSQL at BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/slrt_bench_report).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))

from list_pages import bench_app, residents_sql, sign_in  # noqa: E402  (a sibling script)

URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/slrt_bench_report")


def fill(app, cases: int) -> None:
    """Demo district, then bulk rows with INSERT ... SELECT generate_series (seconds, not hours)."""
    from flask_migrate import upgrade

    from slrt import demo
    from slrt.extensions import db

    with app.app_context():
        upgrade()
        demo.seed(residents=40, random_seed=1)
        db.session.commit()
        residents = max(cases // 4, 1)
        started = time.perf_counter()
        sql = [
            residents_sql(residents),
            f"""INSERT INTO "case" (ticket, resident_id, unit_id, channel, summary, urgency, status, opened_by_id,
                    opened_at, version)
                SELECT (9000000 + g)::text, r.id, u.id, 'walk_in', 'Keluhan warga nomor ' || g, 'normal',
                       (ARRAY['open','in_progress','resolved','closed','cancelled'])[1 + g % 5],
                       (SELECT min(id) FROM staff), now() - (g % 365) * interval '1 day', 1
                FROM generate_series(1, {cases}) g,
                     (SELECT min(id) AS first FROM resident WHERE nik_encrypted = 'bench') b,
                     (SELECT ARRAY(SELECT id FROM unit WHERE kind = 'puskesos' ORDER BY id) AS ids) p,
                     LATERAL (SELECT b.first + g % {residents} AS id) r,
                     LATERAL (SELECT p.ids[1 + g % array_length(p.ids, 1)] AS id) u""",
            # one referral per case, completed ones after 1 to 20 days
            """INSERT INTO referral (code, case_id, service_id, agency_id, status, due_at, documents_checked,
                    created_by_id, sent_at, completed_at, reopened_count, reminders_sent, version,
                    resident_verification, escalation_rung)
               SELECT (80000000 + c.id)::text, c.id, s.id, s.default_agency_id, st.status,
                      c.opened_at + interval '7 days', '[]', c.opened_by_id, c.opened_at,
                      CASE WHEN st.status = 'completed' THEN c.opened_at + (1 + c.id % 20) * interval '1 day' END,
                      0, 0, 1, 'not_asked', 0
               FROM "case" c,
                    (SELECT ARRAY(SELECT id FROM service WHERE default_agency_id IS NOT NULL ORDER BY id) AS ids) a,
                    LATERAL (SELECT id, default_agency_id FROM service
                             WHERE id = a.ids[1 + c.id % array_length(a.ids, 1)]) s,
                    LATERAL (SELECT (ARRAY['sent','accepted','completed','rejected','cancelled'])[1 + c.id % 5]
                             AS status) st
               WHERE c.ticket LIKE '9%' AND length(c.ticket) = 7""",
            """INSERT INTO case_need (case_id, service_id)
               SELECT case_id, service_id FROM referral WHERE code LIKE '8%' AND length(code) = 8""",
        ]
        with db.engine.begin() as conn:
            for statement in sql:
                conn.exec_driver_sql(statement.replace("%", "%%"))
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
        print(f"filled {cases} cases in {time.perf_counter() - started:.0f} s", flush=True)


def measure(app, client, url: str, runs: int) -> tuple[float, int]:
    """Median milliseconds to the whole answer (a CSV streams: read to its end) and SQL statements per run."""
    from slrt.extensions import db

    with app.app_context():
        engine = db.engine
    counted: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: counted.append(a[2]))
    timings = []
    for _ in range(runs):
        counted.clear()
        started = time.perf_counter()
        response = client.get(url)
        body = response.get_data()
        response.close()
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200 and body, (url, response.status_code)
    return statistics.median(timings), len(counted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    app, must_fill = bench_app(URL, "bench-report-pii.key", args.rebuild)
    if must_fill:
        fill(app, args.cases)
    with app.app_context():
        from slrt.extensions import db

        total = db.session.execute(sa.text('SELECT count(*) FROM "case"')).scalar()
    supervisor, clerk = sign_in(app, "supervisor"), sign_in(app, "frontoffice")
    last_month = (date.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    year = f"from={date.today() - timedelta(days=365):%Y-%m-%d}&to={date.today():%Y-%m-%d}"
    reports = [
        ("month", supervisor, f"/admin/report/?month={last_month}"),
        ("month_csv", supervisor, f"/admin/report.csv?month={last_month}"),
        ("month_xlsx", supervisor, f"/admin/report.xlsx?month={last_month}"),
        ("puskesos_month", clerk, f"/admin/report/?month={last_month}"),
        ("year", supervisor, f"/admin/report/?{year}"),
        ("year_xlsx", supervisor, f"/admin/report.xlsx?{year}"),
        ("puskesos_year", clerk, f"/admin/report/?{year}"),
    ]
    results = {}
    for name, client, url in reports:
        ms, queries = measure(app, client, url, runs=5)
        results[name] = (ms, queries)
        print(f"{name:<16} {ms:8.1f} ms  {queries:3d} SQL statements  {url}", flush=True)
    summary = " ".join(f"{name}_ms={ms:.0f}" for name, (ms, _q) in results.items())
    print(f"report cases={total} {summary} max_queries={max(q for _ms, q in results.values())}")


if __name__ == "__main__":
    main()
