"""Extension singletons, bound to an app with ``init_app`` in :func:`app.create_app`."""

from __future__ import annotations

import sqlite3
import time

from flask_babel import Babel
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from slrt.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
babel = Babel()


def init_sqlite(engine: Engine) -> None:
    """Install the SQLite fixes below on the app's own engine (not on the Celery broker's)."""
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)


def _sqlite_connect(dbapi_connection, _record) -> None:
    """Make SQLite behave: foreign keys on, WAL for concurrent readers, real SAVEPOINTs.

    pysqlite opens transactions lazily on its own, which breaks SAVEPOINT; SQLAlchemy's
    documented fix is to switch that off and emit BEGIN ourselves (see ``_sqlite_begin``).
    """
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "memory":
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin(conn) -> None:
    # A unit of work that reads then writes asks for the write lock up front (IMMEDIATE):
    # a deferred one would fail at once, not wait, when another writer committed meanwhile.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("slrt_write") else "BEGIN")


def begin_write() -> None:
    """Start the session's transaction as a writer (on SQLite: BEGIN IMMEDIATE; elsewhere nothing).

    Call first in a unit of work that reads and then writes while other processes write
    (web requests that change things, worker tasks): SQLite then waits its turn
    (busy_timeout) instead of failing with "database is locked" when the read is stale.
    """
    session = db.session()
    if session.get_bind().dialect.name != "sqlite":
        return
    if session.in_transaction():
        if session.connection().get_execution_options().get("slrt_write"):
            return  # a writer already
        if session.new or session.dirty or session.deleted or session.in_nested_transaction():
            return  # in the middle of a change: not ours to end
        # A read-only snapshot (the signed-in user, loaded before the view ran). Written to
        # later, it could not take the lock once another process had committed since it
        # began: SQLite fails that at once ("database is locked"), whatever the busy timeout.
        session.commit()
    session.connection(execution_options={"slrt_write": True})


def persist(record, tries: int = 6):
    """Run ``record`` and commit, retrying a busy database: what the provider said must not be lost.

    (SQLite, the embedded default, refuses a second writer at once instead of waiting when
    both had read first; PostgreSQL waits on the row lock.) Should every try fail, the
    error goes up: a claimed message's lease then runs out, the sweep re-queues it and the
    lookup at the provider finds it sent; a webhook is retried by the provider.
    """
    for attempt in range(tries):
        try:
            begin_write()
            result = record()
            db.session.commit()
            return result
        except OperationalError:
            db.session.rollback()
            if attempt == tries - 1:
                raise
            time.sleep(0.05 * 2**attempt)
