"""A real Celery worker and beat on the embedded SQLite broker: the heartbeat makes the round trip.

Nothing is mocked: `flask db upgrade`, `celery -A app beat` and `celery -A app worker` run as
separate processes, as `make run` starts them, and the test waits for the heartbeat that
beat scheduled and the worker wrote to the database.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from slrt.pii import new_key

ROOT = Path(__file__).resolve().parents[1]


def _env(tmp_path: Path) -> dict[str, str]:
    # No PYTHONPATH: `celery -A app` must find the project as `make run` starts it.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "CELERY_", "SLRT_", "PYTHONPATH"))}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'slrt.sqlite'}",
        CELERY_BROKER_URL=f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
        SLRT_PII_KEY=new_key(),
        SLRT_SECRET_KEY="worker-test",
        SLRT_HEARTBEAT_SECONDS="2",
        FLASK_APP="app",
    )
    return env


def _heartbeat(db_path: Path) -> str | None:
    if not db_path.exists():
        return None
    with sqlite3.connect(db_path, timeout=5) as conn:
        try:
            row = conn.execute("SELECT detail FROM heartbeat WHERE name = 'worker'").fetchone()
        except sqlite3.OperationalError:
            return None
    return row[0] if row else None


@contextmanager
def worker_and_beat(tmp_path: Path, env: dict[str, str], pool: tuple[str, ...] = ("--pool", "solo")):
    """Run ``celery worker`` and ``celery beat`` as make run does; SIGTERM both on exit."""
    bin_dir = Path(sys.executable).parent
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("worker", "beat")}
    procs = {
        "worker": subprocess.Popen(
            [bin_dir / "celery", "-A", "app", "worker", *pool, "--loglevel", "INFO",
             "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=logs["worker"], stderr=subprocess.STDOUT),
        "beat": subprocess.Popen(
            [bin_dir / "celery", "-A", "app", "beat", "--loglevel", "INFO",
             "--schedule", str(tmp_path / "beat-schedule")],
            cwd=ROOT, env=env, stdout=logs["beat"], stderr=subprocess.STDOUT),
    }
    try:
        yield procs
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for fh in logs.values():
            fh.close()


def _alive(procs, tmp_path: Path) -> None:
    for name, proc in procs.items():
        assert proc.poll() is None, f"{name} died:\n" + (tmp_path / f"{name}.log").read_text()


def _migrate(env: dict[str, str]) -> None:
    subprocess.run([Path(sys.executable).parent / "flask", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)


@pytest.mark.slow
def test_beat_and_worker_really_run_on_the_sqlite_broker(tmp_path):
    env = _env(tmp_path)
    _migrate(env)
    with worker_and_beat(tmp_path, env) as procs:
        deadline = time.monotonic() + 90
        detail = None
        while time.monotonic() < deadline and detail is None:
            _alive(procs, tmp_path)
            time.sleep(1)
            detail = _heartbeat(tmp_path / "slrt.sqlite")
        assert detail is not None, "no heartbeat:\n" + (tmp_path / "worker.log").read_text()
        assert f"pid {procs['worker'].pid}" in detail  # written by the worker process itself
        assert "Sending due task heartbeat" in (tmp_path / "beat.log").read_text()
    # warm shutdown: both stopped on SIGTERM (what honcho sends on Ctrl-C)
    assert all(proc.returncode is not None for proc in procs.values())


@pytest.mark.slow
def test_a_burst_of_notices_goes_out_exactly_once_and_the_sweep_catches_the_unqueued(tmp_path):
    """120 cases opened: 100 queued after commit, 20 never queued (as if the broker was down)."""
    from app import create_app
    from fakes.builders import make_case, make_district
    from slrt.extensions import db

    env = _env(tmp_path)
    env.update(SLRT_QUIET_FROM="00:00", SLRT_QUIET_TO="00:00", SLRT_SWEEP_SECONDS="2")
    _migrate(env)
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"], "CELERY_BROKER_URL": env["CELERY_BROKER_URL"],
        "SLRT_PII_KEY": env["SLRT_PII_KEY"], "SECRET_KEY": "x", "SLRT_PASSWORD_HASH": "plaintext",
    })
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

    database = tmp_path / "slrt.sqlite"
    with worker_and_beat(tmp_path, env, pool=("--pool", "threads", "--concurrency", "2")) as procs:
        deadline = time.monotonic() + 120
        rows = []
        while time.monotonic() < deadline:
            with sqlite3.connect(database, timeout=10) as conn:
                rows = conn.execute("SELECT status, attempts, provider_id FROM sms_message").fetchall()
            if rows and all(status == "sent" for status, _a, _p in rows):
                break
            _alive(procs, tmp_path)
            time.sleep(1)
        statuses = sorted({status for status, _a, _p in rows})
        assert len(rows) == 120 and statuses == ["sent"], (statuses, (tmp_path / "worker.log").read_text()[-3000:])
        assert all(attempts == 1 for _s, attempts, _p in rows)  # none sent twice
        assert len({provider for _s, _a, provider in rows}) == 120
        worker_log = (tmp_path / "worker.log").read_text()
        assert worker_log.count("SMS to ") == 120  # the console gateway printed each one once
