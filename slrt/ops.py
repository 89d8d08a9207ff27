"""Operational state: each worker's heartbeat, beat's tick, and the lock that lets one beat schedule.

Every worker records its own heartbeat under its node name (``celery worker -n worker1@%h``) and
beat records its tick; ``slrt.health`` reads them. A worker stopped on purpose (warm shutdown)
removes its row, so only a worker that died keeps an old one and is reported down.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.engine import URL, make_url

from slrt import clock
from slrt.extensions import db
from slrt.models import Heartbeat

log = logging.getLogger(__name__)

WORKER = "worker"
BEAT = "beat"


def beat(name: str, kind: str = WORKER) -> Heartbeat:
    """Record that process ``name`` (a worker's node name, or ``beat``) is alive now."""
    row = db.session.get(Heartbeat, name) or Heartbeat(name=name, kind=kind)
    row.kind = kind
    row.at = clock.now()
    row.detail = f"{socket.gethostname()} pid {os.getpid()}"[:120]
    db.session.add(row)
    db.session.flush()
    return row


def tick() -> Heartbeat:
    """Record that the scheduling beat is alive now."""
    return beat(BEAT, BEAT)


def forget(name: str) -> None:
    """Remove a worker's heartbeat: it stopped on purpose and is no longer expected."""
    db.session.execute(delete(Heartbeat).where(Heartbeat.name == name))


def heartbeats(kind: str = WORKER) -> list[Heartbeat]:
    """The heartbeats of ``kind``, by name."""
    return list(db.session.scalars(select(Heartbeat).where(Heartbeat.kind == kind).order_by(Heartbeat.name)))


def last_beat(kind: str = WORKER) -> datetime | None:
    """The latest heartbeat of any process of ``kind``."""
    return max((row.at for row in heartbeats(kind)), default=None)


def stale_after() -> timedelta:
    """A heartbeat older than this means its process is down (``SLRT_READY_HEARTBEAT_SECONDS``)."""
    return timedelta(seconds=current_app.config["SLRT_READY_HEARTBEAT_SECONDS"])


def is_alive(kind: str = WORKER) -> bool:
    """Whether some process of ``kind`` beat recently enough."""
    at = last_beat(kind)
    return at is not None and clock.now() - at < stale_after()


# ---- one beat per deployment --------------------------------------------------------------------------

#: The PostgreSQL advisory lock key beat holds while it schedules ("SLRTBEAT" in ASCII).
BEAT_LOCK_KEY = 0x534C525442454154


class BeatLock:
    """The lock the one scheduling beat holds for its lifetime; a second beat does not get it.

    On PostgreSQL a session-level advisory lock on a connection of its own: it is released
    when that connection ends, however the process ends (even SIGKILL: the server sees the
    socket close). On SQLite (one machine by nature) an exclusive ``flock`` on a file beside
    the database (``instance/slrt.sqlite.beat-lock`` by default), released by the kernel when
    the process ends: one beat per database, whatever instance folder each beat was started with.
    """

    def __init__(self, database_url: str | URL, instance_path: str) -> None:
        self.url = make_url(database_url)
        database = self.url.database if self.url.get_backend_name() == "sqlite" else None
        if database and database != ":memory:":
            self.path = Path(database).with_name(Path(database).name + ".beat-lock")
        else:
            self.path = Path(instance_path) / "beat.lock"
        self._conn: psycopg.Connection | None = None
        self._file = None

    @property
    def where(self) -> str:
        """What the lock is, for the log."""
        if self.url.get_backend_name() == "postgresql":
            return f"PostgreSQL advisory lock {BEAT_LOCK_KEY} on {self.url.render_as_string(hide_password=True)}"
        return f"file lock {self.path}"

    def acquire(self) -> bool:
        """Take the lock if it is free, or confirm it is still held; False if another beat has it."""
        if self.url.get_backend_name() == "postgresql":
            return self._acquire_pg()
        return self._acquire_file()

    def release(self) -> None:
        if self._conn is not None:
            with suppress(psycopg.Error):
                self._conn.close()  # ends the session, and with it the advisory lock
            self._conn = None
        if self._file is not None:
            self._file.close()  # closing the descriptor drops the flock
            self._file = None

    def _acquire_pg(self) -> bool:
        if self._conn is not None:
            try:
                self._conn.execute("SELECT 1")
                return True  # the session is alive, so the lock is still ours
            except psycopg.Error:
                log.warning("beat lost its database connection, and with it the beat lock")
                self.release()
        try:
            conn = psycopg.connect(self.url.set(drivername="postgresql").render_as_string(hide_password=False),
                                   autocommit=True, connect_timeout=10, application_name="slrt beat lock",
                                   keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3)
        except psycopg.Error as exc:
            log.warning("beat cannot reach the database to take the beat lock: %s", type(exc).__name__)
            return False
        if conn.execute("SELECT pg_try_advisory_lock(%s)", (BEAT_LOCK_KEY,)).fetchone()[0]:
            self._conn = conn
            return True
        conn.close()
        return False

    def _acquire_file(self) -> bool:
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115  (kept open while the lock is held)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.truncate(0)
        handle.write(f"{socket.gethostname()} pid {os.getpid()}\n")
        handle.flush()
        self._file = handle
        return True
