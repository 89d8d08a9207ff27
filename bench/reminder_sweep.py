"""The reminder sweep over a million referrals on PostgreSQL: wall time and peak memory.

Builds (once) a database ``slrt_bench_reminders`` with the demo district plus N referrals
(one case each), of which ``--due`` are waiting for a first reminder (sent two weeks before
the sweep, nobody answered) and the rest are answered, ended, or sent too recently. Then
runs ``slrt.reminders.run_sweep`` at a fixed working-day morning, rolled back after each
run so runs are alike, and prints each run and, last, one summary line:

    reminder_sweep referrals=<n> due=<n> sms=<n> seconds=<s> peak_mb=<n>

``seconds`` is the median wall time of the runs; ``peak_mb`` the largest Python heap the
sweep reached (tracemalloc, measured in a run of its own since tracing slows it), and the
process's resident size is shown beside it.

Usage: .venv/bin/python bench/reminder_sweep.py [--referrals 1000000] [--due 50000] [--runs 3] [--rebuild]
Needs PostgreSQL at BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/slrt_bench_reminders).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _fill import bench_app, cases_sql, load, residents_sql  # noqa: E402  (the benches' shared fill)

URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/slrt_bench_reminders")
#: The sweep runs at Tuesday 24 November 2026, 10:00 in Jakarta: a working day, office hours.
SWEEP_AT = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def fill(app, referrals: int, due: int) -> None:
    """Demo district, then bulk rows: ``referrals`` cases in progress, one referral each, ``due`` of them due."""
    residents = max(referrals // 4, 1)
    every = max(referrals // max(due, 1), 1)
    at = f"TIMESTAMPTZ '{SWEEP_AT.isoformat()}'"
    load(app, [
        residents_sql(residents, created_at=at),
        cases_sql(referrals, residents, first_ticket=90000000, status="'in_progress'",
                  opened_at=f"{at} - interval '14 days'"),
        # Demo referrals are dated by the real clock; keep them out of the count.
        "UPDATE referral SET status = 'completed' WHERE status IN ('sent', 'accepted')",
        # Every ``every``-th referral waits for its first reminder (sent 14 days ago, unanswered,
        # due date still ahead); the others are answered or ended, or were sent an hour ago.
        f"""INSERT INTO referral (code, case_id, service_id, agency_id, status, due_at, documents_checked,
                created_by_id, sent_at, reopened_count, reminders_sent, escalation_rung,
                resident_verification, version)
           SELECT (800000000 + c.id)::text, c.id, s.id, s.default_agency_id,
                  CASE WHEN n % {every} = 0 THEN 'sent'
                       ELSE (ARRAY['sent','accepted','completed','rejected','cancelled'])[1 + n % 5] END,
                  {at} + interval '30 days', '[]', c.opened_by_id,
                  CASE WHEN n % {every} = 0 THEN {at} - interval '14 days' ELSE {at} - interval '1 hour' END,
                  0, 0, 0, 'not_asked', 1
           FROM (SELECT c.*, row_number() OVER (ORDER BY c.id) AS n FROM "case" c
                 WHERE c.ticket LIKE '9%' AND length(c.ticket) = 8) c,
                (SELECT ARRAY(SELECT id FROM service WHERE default_agency_id IS NOT NULL ORDER BY id) AS ids) a,
                LATERAL (SELECT id, default_agency_id FROM service
                         WHERE id = a.ids[1 + c.n % array_length(a.ids, 1)]) s""",
    ], f"{referrals} referrals")


def sweep_once(app, trace: bool = False) -> tuple[float, int, int, float]:
    """One sweep, rolled back: (seconds, referrals reminded, digest SMS, peak MB or 0)."""
    import time_machine

    from slrt import reminders
    from slrt.extensions import db
    from slrt.models import SmsMessage

    with app.app_context(), time_machine.travel(SWEEP_AT, tick=True):
        before = db.session.scalar(sa.select(sa.func.count()).select_from(SmsMessage))
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        result = reminders.run_sweep()
        db.session.flush()
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 2**20 if trace else 0.0
        if trace:
            tracemalloc.stop()
        sms = db.session.scalar(sa.select(sa.func.count()).select_from(SmsMessage)) - before
        db.session.rollback()
    return seconds, result.referrals, sms, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    app, must_fill = bench_app(URL, "bench-reminders-pii.key", args.rebuild, SLRT_SMS_DISPATCH=False)
    if must_fill:
        fill(app, args.referrals, args.due)
    with app.app_context():
        from flask_migrate import upgrade

        from slrt.extensions import db

        upgrade()  # a database filled before a newer migration

        total = db.session.execute(sa.text("SELECT count(*) FROM referral")).scalar()
    timings = []
    for run in range(args.runs):
        seconds, reminded, sms, _ = sweep_once(app)
        timings.append(seconds)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"run {run + 1}: {seconds:.2f} s, {reminded} referrals reminded, {sms} SMS, rss {rss:.0f} MB",
              flush=True)
    _, _, _, peak = sweep_once(app, trace=True)
    print(f"traced run: peak Python heap {peak:.0f} MB", flush=True)
    print(f"reminder_sweep referrals={total} due={reminded} sms={sms} seconds={statistics.median(timings):.2f} "
          f"peak_mb={peak:.0f}")


if __name__ == "__main__":
    main()
