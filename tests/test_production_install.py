"""The production install: requirements.txt alone runs what deploy/ runs, on Redis and on RabbitMQ.

A fresh virtualenv gets requirements.txt and nothing else (no dev requirements: pytest would bring
`packaging`, which kombu's Redis transport needs and a production install once lacked). From it,
with the command lines of deploy/'s systemd units: gunicorn with gunicorn.conf.py, a Celery
worker and beat, each broker on a PostgreSQL database of its own, the Twilio gateway pointed at
the local Twilio stand-in. Smoke: the sign-in page answers through gunicorn, an SMS that Twilio
posts in (signed, through gunicorn) gets its reply sent by the worker to the stand-in, whose
delivery receipt (through gunicorn again) marks it delivered, and beat queues its sweeps.

The virtualenv is built once per run, in the test's temporary folder; pip uses the machine's
package index and cache as `pip install -r requirements.txt` does for an operator.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from fakes.pipeline import RedisServer, free_port, postgres_database, wait_for
from fakes.twilio import FakeTwilio
from slrt import config
from slrt.config import _normalize_db_url
from slrt.pii import new_key

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNITS = {"web": "slrt-web.service", "worker": "slrt-worker@.service", "beat": "slrt-beat.service"}
#: A resident texting the number for the first time: the reply is the help text, naming this number.
RESIDENT, REPLY_NUMBER = "+6281299990000", "(0296) 531234"
#: What the dev requirements add; none of it may be in the production virtualenv.
DEV_ONLY = {"pytest", "ruff", "time-machine", "import-linter", "pytest-httpserver", "playwright", "pypdf", "openpyxl"}


# ---- the units' command lines (fast checks) -------------------------------------------------------


def unit_lines(unit: str, key: str) -> list[str]:
    """The values of ``key=`` in a unit file, continuation lines joined."""
    text = (DEPLOY / unit).read_text(encoding="utf-8").replace("\\\n", " ")
    return [line[len(key) + 1:].strip() for line in text.splitlines() if line.startswith(f"{key}=")]


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


def command(unit: str, venv: Path, state: Path, env: dict[str, str]) -> list[str]:
    """The unit's ExecStart= for this machine: the virtualenv and checkout for /opt/slrt, ``state`` for
    /var/lib/slrt, worker 1 on this host, ${VARIABLES} from ``env``."""
    line = unit_lines(unit, "ExecStart")[0]
    line = line.replace("/opt/slrt/.venv", str(venv)).replace("/opt/slrt", str(ROOT))
    line = line.replace("/var/lib/slrt", str(state)).replace("%i", "1").replace("%H", socket.gethostname())
    return shlex.split(re.sub(r"\$\{(\w+)\}", lambda m: env[m[1]], line))


# ---- the production virtualenv ----------------------------------------------------------------------


def _postgres_server() -> str:
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    return server


@pytest.fixture(scope="module")
def production_venv(tmp_path_factory) -> Path:
    """A virtualenv with requirements.txt alone, and the message catalogues compiled with its pybabel."""
    _postgres_server()
    venv = tmp_path_factory.mktemp("production") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    pip = subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                          "-r", str(ROOT / "requirements.txt")], capture_output=True, text=True, timeout=900)
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]
    listed = subprocess.run([python, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
                            capture_output=True, text=True, check=True).stdout
    installed = {package["name"].lower() for package in json.loads(listed)}
    assert not installed & DEV_ONLY, f"the production install has dev requirements: {installed & DEV_ONLY}"
    # README's "Production": the catalogues, compiled by the production install's own pybabel.
    pybabel = str(venv / "bin" / "pybabel")
    for domain, folder in (("messages", "slrt/translations"), ("admin", "admin_views/translations"),
                           ("wtforms", "admin_views/translations"), ("flask_security", "slrt/translations")):
        subprocess.run([pybabel, "compile", "-D", domain, "-d", folder], cwd=ROOT, check=True, capture_output=True)
    return venv


# ---- brokers ------------------------------------------------------------------------------------------


@contextmanager
def redis_broker(workdir: Path):
    """A redis-server of the test's own, on a spare port: no other test's keys, no other worker."""
    server = RedisServer(workdir)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@contextmanager
def rabbitmq_broker(workdir: Path):
    """A virtual host of the test's own on the machine's RabbitMQ: its queues are no one else's."""
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
    except OSError:
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
    vhost = f"slrt_production_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    subprocess.run(["rabbitmqctl", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
                   check=True, capture_output=True)
    try:
        yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    finally:
        subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True)


BROKERS = {"redis": redis_broker, "rabbitmq": rabbitmq_broker}


@contextmanager
def _serving(fake: FakeTwilio):
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


# ---- the smoke test -------------------------------------------------------------------------------------


class Processes:
    """The units' processes, each logging to ``<name>.log`` in the test's folder."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: dict[str, subprocess.Popen] = {}
        self._logs = []

    def start(self, name: str, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        log = open(self.workdir / f"{name}.log", "w")
        self._logs.append(log)
        self.procs[name] = subprocess.Popen(args, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)

    def log(self, name: str) -> str:
        return (self.workdir / f"{name}.log").read_text(errors="replace")

    def alive(self) -> None:
        for name, proc in self.procs.items():
            assert proc.poll() is None, f"{name} died:\n{self.log(name)[-4000:]}"

    def logs(self) -> str:
        return "\n".join(f"--- {name}\n{self.log(name)[-3000:]}" for name in self.procs)

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in self._logs:
            log.close()


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
    server = _postgres_server()
    started = time.monotonic()
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    with postgres_database(server) as database_url, BROKERS[broker](tmp_path) as broker_url, \
            _serving(FakeTwilio()) as fake:
        bin_dir = production_venv / "bin"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DATABASE_URL", "CELERY_", "SLRT_", "TWILIO_", "PYTHON", "VIRTUAL_ENV",
                                    "FLASK_", "GUNICORN_", "WEB_CONCURRENCY", "TEST_DATABASE_URL"))}
        env.update(
            PATH=f"{bin_dir}:{env.get('PATH', '/usr/bin:/bin')}", PYTHONNOUSERSITE="1",
            DATABASE_URL=database_url, CELERY_BROKER_URL=broker_url,
            SLRT_SECRET_KEY=os.urandom(32).hex(), SLRT_PII_KEY=new_key(),
            SLRT_WEB_BIND=f"127.0.0.1:{port}", SLRT_PUBLIC_URL=public_url, SLRT_PROXY_HOPS="1",
            SLRT_SMS_GATEWAY="twilio", TWILIO_ACCOUNT_SID=fake.account_sid, TWILIO_AUTH_TOKEN=fake.auth_token,
            TWILIO_FROM_NUMBER=fake.number, SLRT_TWILIO_API_BASE=fake.url, SLRT_REPLY_NUMBER=REPLY_NUMBER,
            # Real time, day or night: quiet hours off; beat's sweep every 2 s so it shows soon.
            SLRT_QUIET_FROM="00:00", SLRT_QUIET_TO="00:00", SLRT_SWEEP_SECONDS="2",
        )
        for unit in UNITS.values():  # the units' own defaults, unless the environment file sets them
            for assignment in unit_lines(unit, "Environment"):
                name, _, value = assignment.partition("=")
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
