"""Retention (UU PDP 27/2022): a thin daily task around slrt.erasure.retire_closed_cases."""

from __future__ import annotations

import logging
import time

from celery import shared_task

from slrt import erasure, runs
from slrt.extensions import begin_write, db

log = logging.getLogger(__name__)


@shared_task(name="slrt.retire_closed_cases", ignore_result=True)
def retire_closed_cases() -> dict[str, int]:
    """Anonymize cases ended more than SLRT_RETENTION_YEARS ago (and their residents with no newer case)."""
    begin_write()
    started = time.perf_counter()
    try:
        counts = erasure.retire_closed_cases()
        db.session.commit()
    except Exception:
        db.session.rollback()  # nothing of the run is kept; the failure is counted for the operator
        runs.record(erasure.RETENTION_RUN, seconds=time.perf_counter() - started, ok=False)
        db.session.commit()
        raise
    if counts.cases or counts.residents:
        log.info("retention: data anonymized", extra={"cases": counts.cases, "residents": counts.residents})
    return {"cases": counts.cases, "residents": counts.residents}
