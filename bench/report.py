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
import sys
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))

from _fill import bench_app, fill  # noqa: E402  (the benches' shared fill)
from list_pages import measure, sign_in  # noqa: E402  (a sibling script)

URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/slrt_bench_report")


#: What the report reads besides: each bench case's need (its referral's service).
CASE_NEEDS_SQL = """INSERT INTO case_need (case_id, service_id)
    SELECT case_id, service_id FROM referral WHERE code LIKE '8%' AND length(code) = 8"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    app, must_fill = bench_app(URL, "bench-report-pii.key", args.rebuild)
    if must_fill:
        fill(app, args.cases, CASE_NEEDS_SQL)
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
