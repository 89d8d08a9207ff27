"""A real Celery worker and beat on the embedded SQLite broker: the heartbeat makes the round trip.

Nothing is mocked: `flask db upgrade`, `celery -A app beat` and `celery -A app worker` run as
separate processes, as `make run` starts them, and the test waits for the heartbeat that
beat scheduled and the worker wrote to the database.
"""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest

from tests.worker import migrate, wait_until, worker_and_beat, worker_app, worker_env


def _heartbeats(db_path: Path) -> dict[str, tuple[str, str]]:
    """Each heartbeat row: name -> (kind, detail)."""
    if not db_path.exists():
        return {}
    with sqlite3.connect(db_path, timeout=5) as conn:
        try:
            rows = conn.execute("SELECT name, kind, detail FROM heartbeat").fetchall()
        except sqlite3.OperationalError:
            return {}
    return {name: (kind, detail) for name, kind, detail in rows}


@pytest.mark.slow
def test_beat_and_worker_really_run_on_the_sqlite_broker(tmp_path):
    env = worker_env(tmp_path)
    migrate(env)
    node = f"celery@{socket.gethostname()}"  # the worker's default node name
    db_path = tmp_path / "slrt.sqlite"
    with worker_and_beat(tmp_path, env) as procs:
        wait_until(lambda: {node, "beat"} <= _heartbeats(db_path).keys()
                   and "Sending due task heartbeat" in (tmp_path / "beat.log").read_text(), procs, tmp_path, 90)
        beats = _heartbeats(db_path)
        assert node in beats, "no heartbeat:\n" + (tmp_path / "worker.log").read_text()
        # each written by its own process: the worker under its node name, beat its tick
        assert beats[node][0] == "worker" and beats[node][1].endswith(f"pid {procs['worker'].pid}")
        assert beats["beat"][0] == "beat" and beats["beat"][1].endswith(f"pid {procs['beat'].pid}")
        assert "Sending due task heartbeat" in (tmp_path / "beat.log").read_text()
    # warm shutdown: both stopped on SIGTERM (what honcho sends on Ctrl-C)
    assert all(proc.returncode is not None for proc in procs.values())
    # a worker stopped on purpose is no longer expected: its heartbeat is gone, beat's last tick stays
    assert _heartbeats(db_path).keys() == {"beat"}


@pytest.mark.slow
def test_a_burst_of_notices_goes_out_exactly_once_and_the_sweep_catches_the_unqueued(tmp_path):
    """120 cases opened: 100 queued after commit, 20 never queued (as if the broker was down)."""
    from fakes.builders import make_case, make_district
    from slrt.extensions import db

    env = worker_env(tmp_path, SLRT_QUIET_FROM="00:00", SLRT_QUIET_TO="00:00", SLRT_SWEEP_SECONDS="2")
    migrate(env)
    app = worker_app(env)
    with app.app_context():
        district = make_district()
        db.session.commit()
        for _ in range(100):
            make_case(district)
        db.session.commit()  # after this commit, 100 send tasks are queued
        app.config["SLRT_SMS_DISPATCH"] = False
        for _ in range(20):
            make_case(district)
        db.session.commit()  # these 20 wait for the sweep
        db.engine.dispose()

    def messages() -> list[tuple]:
        with sqlite3.connect(tmp_path / "slrt.sqlite", timeout=10) as conn:
            return conn.execute("SELECT status, attempts, provider_id FROM sms_message").fetchall()

    def all_sent() -> bool:
        rows = messages()
        return bool(rows) and all(status == "sent" for status, _a, _p in rows)

    with worker_and_beat(tmp_path, env, pool=("--pool", "threads", "--concurrency", "2")) as procs:
        wait_until(all_sent, procs, tmp_path, 120)
        rows = messages()
        statuses = sorted({status for status, _a, _p in rows})
        assert len(rows) == 120 and statuses == ["sent"], (statuses, (tmp_path / "worker.log").read_text()[-3000:])
        assert all(attempts == 1 for _s, attempts, _p in rows)  # none sent twice
        assert len({provider for _s, _a, provider in rows}) == 120
        worker_log = (tmp_path / "worker.log").read_text()
        assert worker_log.count("SMS to ") == 120  # the console gateway printed each one once
