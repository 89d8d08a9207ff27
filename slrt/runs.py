"""Counting runs for the operator's metrics: each reminder sweep and set-up import adds to its row.

The caller's transaction carries it (a sweep's count commits with its digests); a run that
failed is counted by :func:`record` with ``ok=False`` in a transaction of its own.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from slrt import clock
from slrt.extensions import db
from slrt.models import JobRun


def record(name: str, *, seconds: float, items: int = 0, ok: bool = True) -> None:
    """Add one run of ``name``: its length, what it handled, whether it went well. Flushes."""
    for attempt in (1, 2):
        row = db.session.scalar(select(JobRun).where(JobRun.name == name).with_for_update())
        if row is None:
            savepoint = db.session.begin_nested()
            row = JobRun(name=name, runs=0, failures=0)
            db.session.add(row)
            try:
                savepoint.commit()
            except IntegrityError:  # another process counted its first run meanwhile
                if attempt == 2:
                    raise
                continue
        row.runs += 1
        row.failures += 0 if ok else 1
        row.last_at, row.last_seconds, row.last_items, row.last_ok = clock.now(), round(seconds, 3), items, ok
        db.session.flush()
        return
