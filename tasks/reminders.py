"""Reminder digests and the escalation ladder: a thin task around slrt.reminders."""

from __future__ import annotations

import logging
import time

from celery import shared_task

from slrt import reminders, runs
from slrt.extensions import begin_write, db

log = logging.getLogger(__name__)


@shared_task(name="slrt.sweep_reminders", ignore_result=True)
def sweep_reminders() -> dict[str, int]:
    """Write today's digests and escalations (office hours only); the outbox sends them after commit."""
    begin_write()
    started = time.perf_counter()
    try:
        result = reminders.run_sweep()
        db.session.commit()
    except Exception:
        db.session.rollback()  # nothing of the sweep is kept; the failure is counted for the operator
        runs.record(reminders.SWEEP_RUN, seconds=time.perf_counter() - started, ok=False)
        db.session.commit()
        raise
    if result.digests or result.escalations:
        log.info("reminders swept", extra={"digests": result.digests, "referrals": result.referrals,
                                           "escalations": result.escalations})
    return {"digests": result.digests, "referrals": result.referrals, "escalations": result.escalations}
