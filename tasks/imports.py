"""Residents' imports from DTSEN files: a thin task around slrt.dtsen_import.run.

The engine commits each batch and records how far it is, so the screen follows the progress;
a worker lost mid-file delivers the task again and the run starts over (nothing doubles).
The uploaded file is deleted afterwards, except a dry run's (kept for "Import this file now",
a day at most: slrt.dtsen_uploads).
"""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app

from slrt import dtsen_import, dtsen_uploads, logs
from slrt.models.enums import ImportState

log = logging.getLogger(__name__)


@shared_task(name="slrt.import_residents", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def import_residents(import_id: int, path: str) -> str | None:
    """Run the import recorded as ``import_id`` from the uploaded file at ``path``; its final state."""
    with logs.bound(import_id=import_id):
        try:
            record = dtsen_import.run(import_id, path)
        except LookupError:
            log.warning("no residents' import %s to run", import_id)
            dtsen_uploads.remove(path)
            return None
        state = record.state
        log.info("residents' import finished", extra={"state": state.value, "rows": record.rows_done,
                                                      "refused": record.rows_refused})
        if not (record.is_dry_run and state == ImportState.DONE):
            dtsen_uploads.remove(path)  # only a file inside the upload folder, never another
        dtsen_uploads.remove_stale()
        return state.value


def queue_import(import_id: int, path) -> None:
    """Queue the import on this app's own Celery (tests build several apps in one process)."""
    current_app.extensions["celery"].tasks["slrt.import_residents"].delay(import_id, str(path))
