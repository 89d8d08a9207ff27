"""Exactly one beat: a second `celery beat` started by mistake schedules nothing, says so, and takes over
when the first dies.

Real processes, as an operator would start them by mistake: two `celery -A app beat` on one
database (PostgreSQL: the advisory lock; SQLite: the file lock beside the database), no worker
needed: what a beat schedules is in its log ("Sending due task") and its tick in the database.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import sqlalchemy as sa

from fakes.pipeline import postgres_database
from slrt.config import _normalize_db_url
from tests.worker import beat_process, migrate, stop, wait_until, worker_env

SENT = "Sending due task"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request, tmp_path):
    """The beats' database: SQLite in the test's folder, or a fresh one on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'slrt.sqlite'}"
        return
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        pytest.skip("needs TEST_DATABASE_URL")
    with postgres_database(server) as url:
        yield url


def _log(tmp_path: Path, name: str) -> str:
    return (tmp_path / f"{name}.log").read_text()


def _tick_detail(url: str) -> str | None:
    engine = sa.create_engine(_normalize_db_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return conn.scalar(sa.text("SELECT detail FROM heartbeat WHERE name = 'beat'"))
    finally:
        engine.dispose()


@pytest.mark.slow
def test_a_second_beat_stands_by_and_takes_over_when_the_first_dies(tmp_path, database):
    env = worker_env(tmp_path, DATABASE_URL=database)
    migrate(env)
    procs = {"first": beat_process(tmp_path, env, "first")}
    try:
        wait_until(lambda: SENT in _log(tmp_path, "first"), procs, tmp_path, 60, 0.5)
        assert "beat lock taken" in _log(tmp_path, "first"), _log(tmp_path, "first")

        procs["second"] = beat_process(tmp_path, env, "second")
        wait_until(lambda: "standing by" in _log(tmp_path, "second"), procs, tmp_path, 60, 0.5)
        sent_before = _log(tmp_path, "first").count(SENT)
        # The heartbeat is due every 2 s: the first keeps sending it, the second sends nothing.
        wait_until(lambda: _log(tmp_path, "first").count(SENT) >= sent_before + 2, procs, tmp_path, 30, 0.5)
        second = _log(tmp_path, "second")
        assert SENT not in second and "another beat holds the beat lock" in second, second
        assert _tick_detail(database).endswith(f"pid {procs['first'].pid}")

        procs["first"].send_signal(signal.SIGKILL)  # no clean shutdown: the lock must still come free
        procs["first"].wait()
        dead = procs.pop("first")
        wait_until(lambda: SENT in _log(tmp_path, "second"), procs, tmp_path, 30, 0.5)
        second = _log(tmp_path, "second")
        assert "beat lock taken" in second and SENT in second, second
        wait_until(lambda: _tick_detail(database).endswith(f"pid {procs['second'].pid}"), procs, tmp_path, 15, 0.5)
        assert dead.returncode == -signal.SIGKILL
    finally:
        stop(procs)
