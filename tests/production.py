"""What the production tests share: deploy/'s units' command lines, the production virtualenv, the brokers
and the processes they start (tests/test_production_install.py, tests/test_production_day.py).

The virtualenv holds requirements.txt alone (no dev requirements: pytest would bring `packaging`,
which kombu's Redis transport needs and a production install once lacked); it is built once per
test session (the ``production_venv`` fixture in tests/conftest.py), with the machine's package
index and cache as `pip install -r requirements.txt` does for an operator.
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
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest

from fakes.pipeline import RedisServer
from fakes.twilio import FakeTwilio

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
UNITS = {"web": "slrt-web.service", "worker": "slrt-worker@.service", "beat": "slrt-beat.service"}
#: What the dev requirements add; none of it may be in the production virtualenv.
DEV_ONLY = {"pytest", "ruff", "time-machine", "import-linter", "pytest-httpserver", "playwright", "pypdf", "openpyxl"}


# ---- the units' command lines ---------------------------------------------------------------------


def unit_lines(unit: str, key: str) -> list[str]:
    """The values of ``key=`` in a unit file, continuation lines joined."""
    text = (DEPLOY / unit).read_text(encoding="utf-8").replace("\\\n", " ")
    return [line[len(key) + 1:].strip() for line in text.splitlines() if line.startswith(f"{key}=")]


def unit_defaults() -> dict[str, str]:
    """The settings the units set themselves (``Environment=``), before the environment file."""
    defaults = {}
    for unit in UNITS.values():
        for assignment in unit_lines(unit, "Environment"):
            name, _, value = assignment.partition("=")
            defaults[name] = value
    return defaults


def command(unit: str, venv: Path, state: Path, env: dict[str, str], instance: int = 1) -> list[str]:
    """The unit's ExecStart= for this machine: the virtualenv and checkout for /opt/slrt, ``state`` for
    /var/lib/slrt, worker ``instance`` on this host, ${VARIABLES} from ``env``."""
    line = unit_lines(unit, "ExecStart")[0]
    line = line.replace("/opt/slrt/.venv", str(venv)).replace("/opt/slrt", str(ROOT))
    line = line.replace("/var/lib/slrt", str(state)).replace("%i", str(instance)).replace("%H", socket.gethostname())
    return shlex.split(re.sub(r"\$\{(\w+)\}", lambda m: env[m[1]], line))


def base_env(venv: Path) -> dict[str, str]:
    """This machine's environment without any setting of ours, the production virtualenv first on PATH."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_URL", "CELERY_", "SLRT_", "TWILIO_", "PYTHON", "VIRTUAL_ENV",
                                "FLASK_", "GUNICORN_", "WEB_CONCURRENCY", "TEST_DATABASE_URL", "SENTRY_"))}
    env.update(PATH=f"{venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}", PYTHONNOUSERSITE="1")
    return env


# ---- the production virtualenv ----------------------------------------------------------------------


def postgres_server() -> str:
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL)")
    return server


def build_production_venv(folder: Path) -> Path:
    """A virtualenv with requirements.txt alone, and the message catalogues compiled with its pybabel."""
    venv = folder / "venv"
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
    for domain, folder_ in (("messages", "slrt/translations"), ("admin", "admin_views/translations"),
                            ("wtforms", "admin_views/translations"), ("flask_security", "slrt/translations")):
        subprocess.run([pybabel, "compile", "-D", domain, "-d", folder_], cwd=ROOT, check=True, capture_output=True)
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
def serving(fake: FakeTwilio):
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


# ---- the processes ----------------------------------------------------------------------------------------


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

    def kill(self, name: str) -> None:
        """SIGKILL: no warm shutdown, no acknowledgement, claims and heartbeat left as they were."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

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
