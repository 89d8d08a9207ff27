"""Real Celery worker and beat processes on the embedded SQLite broker, as `make run` starts them.

For the slow tests that need the whole thing: ``worker_env`` and ``migrate`` prepare a database
in the test's folder, ``worker_app`` fills it from the test, ``worker_and_beat`` runs the
processes and ``wait_until`` watches them (their logs are ``worker.log`` and ``beat.log``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from flask import Flask

from slrt.pii import new_key

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def worker_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The processes' environment: a database and a broker in ``tmp_path``, then ``settings``."""
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
    env.update(settings)
    return env


def migrate(env: dict[str, str]) -> None:
    """`flask db upgrade` on the processes' database."""
    subprocess.run([BIN / "flask", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)


def worker_app(env: dict[str, str]) -> Flask:
    """An app in this process on the processes' database and broker, to build what they will work on."""
    from app import create_app

    return create_app({
        "SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"], "CELERY_BROKER_URL": env["CELERY_BROKER_URL"],
        "SLRT_PII_KEY": env["SLRT_PII_KEY"], "SECRET_KEY": "x", "SLRT_PASSWORD_HASH": "plaintext",
    })


def beat_process(tmp_path: Path, env: dict[str, str], name: str = "beat") -> subprocess.Popen:
    """Start ``celery beat`` as make run does, its schedule and log (``<name>.log``) in ``tmp_path``."""
    with open(tmp_path / f"{name}.log", "w") as log:
        return subprocess.Popen(
            [BIN / "celery", "-A", "app", "beat", "--loglevel", "INFO",
             "--schedule", str(tmp_path / f"{name}-schedule")],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop(procs: dict[str, subprocess.Popen]) -> None:
    """SIGTERM every process still running and wait for it (SIGKILL after 20 s)."""
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def worker_and_beat(tmp_path: Path, env: dict[str, str], pool: tuple[str, ...] = ("--pool", "solo")):
    """Run ``celery worker`` and ``celery beat`` as make run does; SIGTERM both on exit."""
    with open(tmp_path / "worker.log", "w") as log:
        procs = {
            "worker": subprocess.Popen(
                [BIN / "celery", "-A", "app", "worker", *pool, "--loglevel", "INFO",
                 "--without-gossip", "--without-mingle"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT),
        }
    procs["beat"] = beat_process(tmp_path, env)
    try:
        yield procs
    finally:
        stop(procs)


def alive(procs, tmp_path: Path) -> None:
    """Fail with its log if the worker or beat has died."""
    for name, proc in procs.items():
        assert proc.poll() is None, f"{name} died:\n" + (tmp_path / f"{name}.log").read_text()


def wait_until(done: Callable[[], object], procs, tmp_path: Path, seconds: float, step: float = 1.0) -> None:
    """Poll ``done()`` every ``step`` seconds until it is true or ``seconds`` have passed; fail at once
    if a process died. The caller asserts what it waited for."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not done():
        alive(procs, tmp_path)
        time.sleep(step)
