"""Audit retention: the daily task drops whole months older than SLRT_AUDIT_RETENTION_YEARS, counts its
run, and leaves a chain that still verifies."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from fakes.builders import make_resident
from slrt import audit, audit_retention, clock
from slrt.models import AuditEntry, JobRun
from slrt.models.enums import AuditAction
from tasks.schedule import beat_schedule


def _count(db_session, *where) -> int:
    return db_session.scalar(select(func.count()).select_from(AuditEntry).where(*where))


def test_seven_years_of_entries_keep_the_last_five_and_still_verify(app, district, db_session, frozen):
    resident = make_resident(district)
    db_session.commit()
    # A page view every six months from November 2026 to November 2033 (PostgreSQL: some in monthly
    # partitions made as beat makes them, the rest in the DEFAULT one).
    moment = clock.now()
    for step in range(15):
        frozen.move_to(moment.replace(year=2026 + (10 + 6 * step) // 12, month=(10 + 6 * step) % 12 + 1))
        if step % 2:
            audit.ensure_partitions(months_ahead=0)
        audit.record_view(resident)
        db_session.commit()
    assert clock.today().isoformat().startswith("2033-11")
    cutoff = datetime(2028, 11, 1, tzinfo=UTC)  # 24 November 2033 less five years: its month is kept whole
    old, kept = _count(db_session, AuditEntry.at < cutoff), _count(db_session, AuditEntry.at >= cutoff)
    assert old > 0 and kept >= 11

    task = app.extensions["celery"].tasks["slrt.audit_retention"]
    assert task.apply().get() == old

    assert _count(db_session, AuditEntry.at < cutoff) == 0
    assert _count(db_session, AuditEntry.at >= cutoff) == kept + 1  # and the purge's own entry
    views = db_session.scalars(select(AuditEntry.at).where(AuditEntry.action == AuditAction.VIEW)).all()
    assert min(clock.as_utc(at) for at in views) == datetime(2028, 11, 24, 3, 0, tzinfo=UTC)
    assert audit.verify().ok
    run = db_session.get(JobRun, audit_retention.RUN)
    assert (run.runs, run.failures, run.last_items, run.last_ok) == (1, 0, old, True)

    # The next day: nothing more to drop, the run still counted, the chain still whole.
    frozen.move_to(clock.now().replace(day=25))
    assert task.apply().get() == 0
    db_session.refresh(run)
    assert (run.runs, run.last_items) == (2, 0) and audit.verify().ok


def test_the_period_is_the_setting(app, district, db_session, frozen):
    make_resident(district)
    db_session.commit()
    frozen.move_to(clock.now().replace(year=2029))
    app.config["SLRT_AUDIT_RETENTION_YEARS"] = 3
    try:
        assert audit_retention.drop_expired() == 0  # November 2026 is within three years of November 2029
        frozen.move_to(clock.now().replace(year=2030))
        assert audit_retention.drop_expired() > 0
    finally:
        app.config["SLRT_AUDIT_RETENTION_YEARS"] = 5
    db_session.commit()  # as the task does: the purge's own entry is written at the commit
    assert _count(db_session, AuditEntry.at < datetime(2027, 11, 1, tzinfo=UTC)) == 0 and audit.verify().ok


def test_a_leap_day_counts_back_to_the_28th():
    from datetime import date

    assert audit_retention.cutoff(date(2028, 2, 29), 5) == date(2023, 2, 28)
    assert audit_retention.cutoff(date(2031, 11, 24), 5) == date(2026, 11, 24)


def test_beat_runs_it_daily(app):
    entry = beat_schedule(app.config)["audit-retention"]
    assert entry["task"] == "slrt.audit_retention" and entry["schedule"] == 86400.0
