"""Audit retention (UU PDP 27/2022): entries are kept SLRT_AUDIT_RETENTION_YEARS, then dropped in whole months.

A month goes once every one of its entries is older than the period: on PostgreSQL its partition is
dropped (cheap at any size), on SQLite its rows are deleted (slrt.audit.drop_months_before). The chain
still verifies from the oldest kept entry, and each run is counted for the operator (slrt.runs).
"""

from __future__ import annotations

import logging
import time
from datetime import date

from flask import current_app

from slrt import audit, clock, runs
from slrt.access import SYSTEM_ACTOR

log = logging.getLogger(__name__)

#: The run's name in the operator's metrics.
RUN = "audit_retention"


def cutoff(today: date, years: int) -> date:
    """The day ``years`` years before ``today`` (29 February falls back to the 28th)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def drop_expired(*, years: int | None = None, actor: audit.AuditActorLike = SYSTEM_ACTOR) -> int:
    """Drop the whole months of the audit log older than the retention period; return the entries dropped.

    Counts the run (slrt.runs); flushes, the caller commits.
    """
    started = time.perf_counter()
    years = years if years is not None else int(current_app.config["SLRT_AUDIT_RETENTION_YEARS"])
    before = cutoff(clock.today(), years)
    dropped = audit.drop_months_before(before, actor=actor)
    runs.record(RUN, seconds=time.perf_counter() - started, items=dropped)
    log.info("audit retention", extra={"dropped": dropped, "before": before.replace(day=1).isoformat()})
    return dropped
