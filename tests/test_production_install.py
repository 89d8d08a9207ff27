"""The production install: requirements.txt alone runs what deploy/ runs, on Redis and on RabbitMQ.

A fresh virtualenv gets requirements.txt and nothing else (no dev requirements: pytest would bring
`packaging`, which kombu's Redis transport needs and a production install once lacked). From it,
with the command lines of deploy/'s systemd units: gunicorn with gunicorn.conf.py, a Celery
worker and beat, each broker on a PostgreSQL database of its own, the Twilio gateway pointed at
the local Twilio stand-in. Smoke: the sign-in page answers through gunicorn, an SMS that Twilio
posts in (signed, through gunicorn) gets its reply sent by the worker to the stand-in, whose
delivery receipt (through gunicorn again) marks it delivered, and beat queues its sweeps.

The virtualenv is built once per test session (tests/production.py); pip uses the machine's
package index and cache as `pip install -r requirements.txt` does for an operator.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import requests
import sqlalchemy as sa

from fakes.pipeline import free_port, postgres_database, wait_for
from fakes.twilio import FakeTwilio
from slrt import config
from slrt.config import _normalize_db_url
from slrt.pii import new_key
from tests.production import (
    BROKERS,
    ROOT,
    UNITS,
    Processes,
    base_env,
    command,
    postgres_server,
    serving,
    unit_defaults,
    unit_lines,
)

#: A resident texting the number for the first time: the reply is the help text, naming this number.
RESIDENT, REPLY_NUMBER = "+6281299990000", "(0296) 531234"


# ---- the units' command lines (fast checks) -------------------------------------------------------

def test_the_units_run_as_the_service_user_with_the_environment_file():
    for unit in UNITS.values():
        assert unit_lines(unit, "User") == ["slrt"] and unit_lines(unit, "Group") == ["slrt"], unit
        assert unit_lines(unit, "EnvironmentFile") == ["/etc/slrt/slrt.env"], unit
        assert unit_lines(unit, "WantedBy") == ["slrt.target"], unit
    worker = unit_lines(UNITS["worker"], "ExecStart")[0]
    assert "--pool threads" in worker and "--concurrency ${SLRT_WORKER_CONCURRENCY}" in worker
    assert "--hostname worker%i@%H" in worker
    assert "--schedule /var/lib/slrt/" in unit_lines(UNITS["beat"], "ExecStart")[0]
    assert unit_lines(UNITS["beat"], "StateDirectory") == ["slrt"]


def test_the_units_defaults_are_the_declared_ones():
    """A default a unit sets itself (before the environment file) is the one slrt/config.py declares."""
    for unit in UNITS.values():
        for assignment in unit_lines(unit, "Environment"):
            name, _, value = assignment.partition("=")
            assert config.BY_KEY[name].convert(value) == config.BY_KEY[name].default, (unit, name)


def test_workers_take_one_task_per_thread_and_acknowledge_it_after_it_ran(app):
    conf = app.extensions["celery"].conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost and conf.worker_prefetch_multiplier == 1


# ---- the smoke test -------------------------------------------------------------------------------------


def _reply_status(database_url: str) -> str | None:
    engine = sa.create_engine(_normalize_db_url(database_url))
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT status FROM sms_message WHERE direction = 'outbound' AND phone = :phone"),
                {"phone": RESIDENT}).scalar()
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("broker", sorted(BROKERS))
def test_the_production_install_serves_and_sends(broker, production_venv, tmp_path):
    server = postgres_server()
    started = time.monotonic()
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    with postgres_database(server) as database_url, BROKERS[broker](tmp_path) as broker_url, \
            serving(FakeTwilio()) as fake:
        bin_dir = production_venv / "bin"
        env = base_env(production_venv)
        env.update(
            DATABASE_URL=database_url, CELERY_BROKER_URL=broker_url,
            SLRT_SECRET_KEY=os.urandom(32).hex(), SLRT_PII_KEY=new_key(),
            SLRT_WEB_BIND=f"127.0.0.1:{port}", SLRT_PUBLIC_URL=public_url, SLRT_PROXY_HOPS="1",
            SLRT_SMS_GATEWAY="twilio", TWILIO_ACCOUNT_SID=fake.account_sid, TWILIO_AUTH_TOKEN=fake.auth_token,
            TWILIO_FROM_NUMBER=fake.number, SLRT_TWILIO_API_BASE=fake.url, SLRT_REPLY_NUMBER=REPLY_NUMBER,
            # Real time, day or night: quiet hours off; beat's sweep every 2 s so it shows soon.
            SLRT_QUIET_FROM="00:00", SLRT_QUIET_TO="00:00", SLRT_SWEEP_SECONDS="2",
        )
        for name, value in unit_defaults().items():  # the units' own defaults, unless the environment file sets them
            env.setdefault(name, value)
        migrated = subprocess.run([str(bin_dir / "flask"), "--app", "app", "db", "upgrade"], cwd=ROOT, env=env,
                                  capture_output=True, text=True)
        assert migrated.returncode == 0, migrated.stderr[-3000:]

        procs = Processes(tmp_path)
        try:
            for name, unit in UNITS.items():
                assert unit_lines(unit, "WorkingDirectory") == ["/opt/slrt"], unit  # the checkout, here ROOT
                procs.start(name, command(unit, production_venv, tmp_path, env), ROOT, env)

            def sign_in_page():
                procs.alive()
                try:
                    return requests.get(f"{public_url}/login?next=%2Fadmin%2F", timeout=5)
                except (requests.ConnectionError, requests.Timeout):
                    return None

            page = wait_for(sign_in_page, 60, "gunicorn to answer", procs.logs)
            assert page.status_code == 200 and 'name="password"' in page.text

            wait_for(lambda: procs.alive() or "ready." in procs.log("worker"), 60, "the worker to be ready",
                     procs.logs)
            assert fake.send_inbound(f"{public_url}/sms/twilio/inbound", RESIDENT, "halo") == 200

            def reply_at_twilio():
                procs.alive()
                return [m for m in fake.messages if m.to == RESIDENT]

            replies = wait_for(reply_at_twilio, 60, "the reply to reach the Twilio stand-in",
                               lambda: procs.logs() + f"\nstatus: {_reply_status(database_url)}")
            assert len(replies) == 1 and REPLY_NUMBER in replies[0].body
            wait_for(lambda: _reply_status(database_url) == "delivered", 30,
                     "the delivery receipt to come back through gunicorn", procs.logs)
            wait_for(lambda: "Sending due task" in procs.log("beat"), 30, "beat to queue its sweep", procs.logs)

            # `systemctl reload slrt-web`: HUP, new workers, and the pages still answer.
            workers = config.BY_KEY["SLRT_WEB_WORKERS"].default
            assert procs.log("web").count("Booting worker") == workers
            os.kill(procs.procs["web"].pid, signal.SIGHUP)
            wait_for(lambda: procs.log("web").count("Booting worker") == 2 * workers, 60, "gunicorn to reload",
                     procs.logs)
            page = wait_for(sign_in_page, 30, "gunicorn to answer after its reload", procs.logs)
            assert page.status_code == 200
            procs.alive()
        finally:
            procs.stop()

    web = procs.log("web")
    assert "Using worker: gthread" in web and "Handling signal: hup" in web
    assert '"GET /login HTTP/1.1" 200' in web and "next=" not in web  # the access log keeps no query string
    assert "POST /sms/twilio/status/" in web  # the receipt came through gunicorn
    assert "worker1@" in procs.log("worker")
    assert (tmp_path / "celerybeat-schedule").exists() or list(tmp_path.glob("celerybeat-schedule*"))
    assert time.monotonic() - started < 90
