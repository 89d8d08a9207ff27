"""Operational tasks and threads: each worker's own heartbeat, and the broker probe for readiness."""

from __future__ import annotations

import logging
import threading
import time

from celery import Celery, shared_task
from flask import Flask

from slrt import audit, audit_retention, ops, runs
from slrt.extensions import begin_write, db, persist

log = logging.getLogger(__name__)

#: Seconds the readiness probe waits for the broker.
BROKER_TIMEOUT = 3.0


@shared_task(name="slrt.heartbeat", bind=True)
def heartbeat(self) -> None:
    """Record, under this worker's name, that it ran a task from beat just now (the whole path works)."""
    persist(lambda: ops.beat(self.request.hostname or "worker"))


@shared_task(name="slrt.audit_partitions")
def audit_partitions() -> None:
    """Prepare the audit log's monthly partitions for this month and the next two (PostgreSQL)."""
    audit.ensure_partitions(months_ahead=2)
    db.session.commit()


@shared_task(name="slrt.audit_retention")
def audit_retention_task() -> int:
    """Drop the audit log's whole months older than SLRT_AUDIT_RETENTION_YEARS (the run is counted), then log
    the chain's newest entry: the day's anchor (audit-verify --anchor)."""
    begin_write()
    started = time.perf_counter()
    try:
        dropped = audit_retention.drop_expired()
        db.session.commit()
        audit.log_anchor()  # each day's newest entry in the shipped log: audit-verify --anchor checks it
    except Exception:
        db.session.rollback()  # nothing dropped; the failure is counted for the operator
        begin_write()
        runs.record(audit_retention.RUN, seconds=time.perf_counter() - started, ok=False)
        db.session.commit()
        raise
    return dropped


class WorkerHeartbeat:
    """A thread in each worker process that records its heartbeat every ``every`` seconds, by node name.

    Beat's heartbeat task reaches one worker at a time; this one proves every worker is alive,
    idle or busy. A warm shutdown removes the row (the worker is no longer expected); a worker
    that dies keeps its old row, which readiness reports as down.
    """

    def __init__(self, app: Flask, name: str, every: float) -> None:
        self.app, self.name, self.every = app, name, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slrt-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        with self.app.app_context():
            try:
                ops.forget(self.name)
                db.session.commit()
            except Exception as exc:  # the worker is stopping; readiness will say it is down
                log.warning("heartbeat not removed at shutdown: %s", type(exc).__name__, extra={"worker": self.name})
            finally:
                db.session.remove()

    def _run(self) -> None:
        while not self._stop.is_set():
            with self.app.app_context():
                try:
                    persist(lambda: ops.beat(self.name))
                except Exception as exc:  # try again next time; readiness shows the gap
                    log.warning("heartbeat not recorded: %s", type(exc).__name__, extra={"worker": self.name})
                finally:
                    db.session.remove()
            self._stop.wait(self.every)


def broker_problem(celery_app: Celery, timeout: float = BROKER_TIMEOUT) -> str | None:
    """None when the broker answers within ``timeout`` seconds, else the kind of error."""
    try:
        with celery_app.connection_for_write(connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=timeout)
            conn.default_channel  # noqa: B018  (opens a channel: the broker really answers)
    except Exception as exc:  # any failure means unreachable; the kind is reported
        return type(exc).__name__
    return None
