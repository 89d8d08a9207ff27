"""The whole SMS pipeline as separate processes, for the fault tests and the benchmark.

``Pipeline`` runs what production runs, nothing mocked but the far end: a redis-server of
its own (on a spare port, so the tests may stop and kill it), ``celery worker`` and
``celery beat`` processes on the app, the app's webhooks served over HTTP, and a local
server that speaks Twilio's Messages API (fakes.twilio) posting signed status
callbacks to them. The real twilio client in the worker talks to that server.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import func, select
from werkzeug.serving import make_server

from app import create_app
from fakes.builders import make_case, make_district
from fakes.twilio import FakeTwilio
from slrt import outbox
from slrt.config import _normalize_db_url
from slrt.extensions import begin_write, db
from slrt.models import Case, SmsMessage
from slrt.models.enums import SmsAudience, SmsDirection
from slrt.pii import new_key

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
_databases = itertools.count(1)


@contextmanager
def postgres_database(server_url: str) -> Iterator[str]:
    """A new, empty database on ``server_url``'s PostgreSQL server for one pipeline; dropped afterwards.

    The pipeline's own (``slrt_pipeline_<pid>_<n>``), not the one ``server_url`` names: the
    test session's app uses that one, and empties it when it starts.
    """
    server = sa.engine.make_url(_normalize_db_url(server_url))
    name = f"slrt_pipeline_{os.getpid()}_{next(_databases)}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:  # a killed worker's connections may linger: FORCE ends them
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], object], timeout: float, what: str, on_timeout: Callable[[], str] = str):
    """Poll ``condition`` until it is truthy; fail with ``what`` (and ``on_timeout()``) after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{on_timeout()}")
        time.sleep(0.25)


class RedisServer:
    """A redis-server of the test's own, that the test may stop and start again on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self._started = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start redis-server; the first time, on another spare port if the one picked was taken meanwhile.

        ``free_port`` only finds a port that was free a moment ago: another process on this shared
        machine may bind it before redis-server does, which then exits at once. A restart keeps
        its port (the workers hold the URL).
        """
        first_start = not self._started
        for _ in range(5 if first_start else 1):
            exe = shutil.which("redis-server") or "/usr/bin/redis-server"
            log = open(self.workdir / "redis.log", "a")
            self.proc = subprocess.Popen(
                [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", str(self.workdir)],
                stdout=log, stderr=subprocess.STDOUT)
            log.close()
            wait_for(lambda: self.answers() or self.proc.poll() is not None, 30, "redis-server to answer",
                     self._log_tail)
            if self.proc.poll() is None:
                self._started = True
                return
            if first_start:
                self.port = free_port()
        raise AssertionError(f"redis-server did not start\n{self._log_tail()}")

    def _log_tail(self) -> str:
        path = self.workdir / "redis.log"
        return path.read_text()[-2000:] if path.exists() else ""

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


class Pipeline:
    """Database, broker, fake Twilio, webhooks, workers and beats for one test."""

    def __init__(self, workdir: Path, *, broker: str = "redis", database_url: str | None = None,
                 settings: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.database = workdir / "slrt.sqlite"
        self.database_url = database_url or f"sqlite:///{self.database}"
        self.redis = RedisServer(workdir) if broker == "redis" else None
        self.broker_url = self.redis.url if self.redis else f"sqla+sqlite:///{workdir / 'broker.sqlite'}"
        self.fake = FakeTwilio()
        self.webhook_port = free_port()
        self.public_url = f"http://127.0.0.1:{self.webhook_port}"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("DATABASE_URL", "CELERY_", "SLRT_", "TWILIO_"))}
        self.env.update(
            DATABASE_URL=self.database_url, CELERY_BROKER_URL=self.broker_url,
            SLRT_PII_KEY=new_key(), SLRT_SECRET_KEY="pipeline-test", FLASK_APP="app", PYTHONPATH=str(ROOT),
            SLRT_SMS_GATEWAY="twilio", TWILIO_ACCOUNT_SID=self.fake.account_sid,
            TWILIO_AUTH_TOKEN=self.fake.auth_token, TWILIO_FROM_NUMBER=self.fake.number,
            SLRT_TWILIO_API_BASE=self.fake.url, SLRT_PUBLIC_URL=self.public_url,
            # Real time, day or night: quiet hours off. Short timers so faults heal in seconds.
            SLRT_QUIET_FROM="00:00", SLRT_QUIET_TO="00:00", SLRT_SWEEP_SECONDS="1",
            SLRT_SMS_TIMEOUT="2", SLRT_SMS_CLAIM_LEASE_SECONDS="8", SLRT_SMS_RETRY_BASE_SECONDS="0.5",
            SLRT_HEARTBEAT_SECONDS="60",
        )
        self.env.update(settings or {})
        self.procs: dict[str, subprocess.Popen] = {}
        self._logs: dict[str, object] = {}
        self.app = None
        self._server = None

    # ---- set-up ------------------------------------------------------------------------------

    def start(self) -> Pipeline:
        if self.redis:
            self.redis.start()  # its port may have moved: the workers are given the one it got
            self.broker_url = self.env["CELERY_BROKER_URL"] = self.redis.url
        self.fake.start()
        subprocess.run([BIN / "flask", "db", "upgrade"], cwd=ROOT, env=self.env, check=True, capture_output=True)
        self.app = self._build_app()
        self._serve_webhooks()
        return self

    def _build_app(self):
        config = {key: self.env[var] for key, var in
                  (("SQLALCHEMY_DATABASE_URI", "DATABASE_URL"), ("CELERY_BROKER_URL", "CELERY_BROKER_URL"),
                   ("SLRT_PII_KEY", "SLRT_PII_KEY"), ("SECRET_KEY", "SLRT_SECRET_KEY"))}
        config.update({k: v for k, v in self.env.items() if k.startswith(("SLRT_", "TWILIO_"))
                       and k not in ("SLRT_PII_KEY", "SLRT_SECRET_KEY")})
        config.update(SLRT_PASSWORD_HASH="plaintext", SLRT_SMS_DISPATCH=True)
        return create_app(config)

    def _serve_webhooks(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per callback otherwise
        self._server = make_server("127.0.0.1", self.webhook_port, self.app, threaded=True)
        threading.Thread(target=self._server.serve_forever, name="webhooks", daemon=True).start()

    # ---- processes ---------------------------------------------------------------------------

    def worker(self, name: str = "worker", concurrency: int = 8, loglevel: str = "INFO") -> subprocess.Popen:
        return self._spawn(name, ["worker", "--pool", "threads", "--concurrency", str(concurrency),
                                  "--loglevel", loglevel, "--without-gossip", "--without-mingle", "-n", f"{name}@%h"])

    def beat(self, name: str = "beat") -> subprocess.Popen:
        return self._spawn(name, ["beat", "--loglevel", "INFO", "--schedule", str(self.workdir / f"{name}-schedule")])

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "a")
        self._logs[name] = log
        proc = subprocess.Popen([BIN / "celery", "-A", "app", *args], cwd=ROOT, env=self.env,
                                stdout=log, stderr=subprocess.STDOUT)
        self.procs[name] = proc
        return proc

    def kill(self, name: str) -> None:
        """SIGKILL: no warm shutdown, no acknowledgement, claims left as they were."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text()[-4000:] if path.exists() else ""

    def stop(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in self._logs.values():
            log.close()
        if self._server is not None:
            self._server.shutdown()
        self.fake.stop()
        if self.redis:
            self.redis.stop()
        if self.app is not None:
            with self.app.app_context():
                db.engine.dispose()

    def __enter__(self) -> Pipeline:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ---- work and what became of it ----------------------------------------------------------

    def queue_notices(self, count: int, *, dispatch: bool = True, stamp: dict | None = None) -> list[int]:
        """Commit ``count`` resident notices for one case (each its own phone), as the workflow would.

        With ``dispatch`` the send tasks are queued after the commit; without, they wait for
        the sweep (as when the broker was down at commit time). ``stamp["commit"]`` gets the
        time the commit began.
        """
        with self.app.app_context():
            self.app.config["SLRT_SMS_DISPATCH"] = dispatch
            begin_write()  # as a web request that changes things would
            case = db.session.query(Case).first()
            if case is None:
                self.app.config["SLRT_SMS_DISPATCH"] = False
                case = make_case(make_district())
                db.session.commit()
                self.app.config["SLRT_SMS_DISPATCH"] = dispatch
            start = int(time.time() * 1000) % 10_000_000
            context = outbox.common_context(case)
            ids = []
            for n in range(count):
                message = outbox.queue(
                    audience=SmsAudience.RESIDENT, phone=f"+62812{start + n:08d}"[:14], key="case_registered",
                    language="id", context=context, dedupe_key=f"pipeline:{start}:{n}", resident=case.resident,
                    case=case)
                ids.append(message)
            if stamp is not None:
                db.session.flush()
                stamp["commit"] = time.time()  # the send tasks are queued inside commit()
            db.session.commit()
            ids = [m.id for m in ids]
            self.app.config["SLRT_SMS_DISPATCH"] = True
        return ids

    def statuses(self) -> dict[str, int]:
        """The queued notices (not the case's own) per status, read straight from the database."""
        with self.app.app_context():
            rows = db.session.execute(select(SmsMessage.status, func.count()).where(
                SmsMessage.direction == SmsDirection.OUTBOUND, SmsMessage.dedupe_key.like("pipeline:%"))
                .group_by(SmsMessage.status)).all()
            db.session.remove()
        return {str(status.value): n for status, n in rows}

    def all_out(self, expected: int, states=("sent", "delivered")) -> bool:
        counts = self.statuses()
        return sum(counts.get(s, 0) for s in states) == expected

    def settle(self, quiet: float = 3.0, timeout: float = 60) -> None:
        """Wait until the statuses stop changing for ``quiet`` seconds (callbacks drained)."""
        deadline, last, since = time.monotonic() + timeout, None, time.monotonic()
        while time.monotonic() < deadline:
            now = (self.statuses(), self.fake.accepted_count(), self.fake.callbacks_posted)
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.5)

    def rows(self) -> list[tuple]:
        """(id, status, attempts, provider id) of every queued notice."""
        with self.app.app_context():
            rows = db.session.execute(select(
                SmsMessage.id, SmsMessage.status, SmsMessage.attempts, SmsMessage.provider_id,
            ).where(SmsMessage.dedupe_key.like("pipeline:%"))).all()
            db.session.remove()
        return [(i, str(s.value), a, p) for i, s, a, p in rows]

    def diagnosis(self) -> str:
        return (f"statuses={self.statuses()} accepted={self.fake.accepted_count()}\n"
                + "\n".join(f"--- {name}\n{self.log(name)}" for name in list(self.procs)))
