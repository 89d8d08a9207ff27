"""Reminder digests and the escalation ladder: a thin task around slrt.reminders."""

from __future__ import annotations

import logging

from celery import shared_task

from slrt import reminders
from slrt.extensions import begin_write, db

log = logging.getLogger(__name__)


@shared_task(name="slrt.sweep_reminders", ignore_result=True)
def sweep_reminders() -> dict[str, int]:
    """Write today's digests and escalations (office hours only); the outbox sends them after commit."""
    begin_write()
    result = reminders.run_sweep()
    db.session.commit()
    if result.digests or result.escalations:
        log.info("reminders swept", extra={"digests": result.digests, "referrals": result.referrals,
                                           "escalations": result.escalations})
    return {"digests": result.digests, "referrals": result.referrals, "escalations": result.escalations}
