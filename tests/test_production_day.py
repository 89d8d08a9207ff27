"""A production day, as README's "Production" and "Going live" say, on PostgreSQL with RabbitMQ.

The operator's steps, word for word where they run without root: the keys generated with the
Settings file's commands, the settings file written from deploy/slrt.env.example with its
uncommented lines filled in, every `flask` command run as README shows it
(`sh -c 'set -a; . <settings file>; set +a; exec .venv/bin/flask ...'`, only the paths
substituted), then gunicorn, two workers (worker1@, worker2@) and one beat from deploy/'s units'
ExecStart lines, all from the production virtualenv (requirements.txt alone). SMS go to the local
Twilio stand-in, which posts signed delivery receipts back to gunicorn.

The day: a facilitator signs in (one-time password, then their own) and opens a case at intake;
the back office refers it; the resident's notices reach the stand-in and are delivered; the
agency's contact answers "SELESAI <code>" by SMS through the signed inbound webhook and the
referral is completed; the reminder sweep runs and /metrics counts it. Then a burst of 60
intake notices, with worker 1 SIGKILLed in the middle: every notice reaches the stand-in
exactly once, /readyz names the dead worker until `flask slrt forget-worker`, and /metrics'
outbox counts are the database's. Last, no log line of any process (logging at DEBUG, so the
libraries' lines count too) holds a NIK, a full phone number or an SQL parameter.

Agencies hear from us on working days only: on a weekend or a holiday the agency's notice waits
(with its reason) and the sweep sends nothing, and the test checks that instead.
"""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import time
from datetime import date
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from app import create_app
from fakes.builders import make_nik
from fakes.pipeline import free_port, postgres_database, wait_for
from fakes.twilio import FakeTwilio
from slrt import cases, clock, quiet_hours, residents
from slrt.codes import format_code
from slrt.extensions import begin_write, db
from slrt.models import Case, Referral, Region, Service, SmsAttempt, SmsMessage, Staff, Unit
from slrt.models.enums import ReferralStatus, SmsAudience, SmsDirection
from tests.production import (
    ROOT,
    UNITS,
    Processes,
    base_env,
    command,
    postgres_server,
    rabbitmq_broker,
    serving,
    unit_defaults,
)
from tests.test_going_live import FILES, NIK, _workbook, going_live_commands, intake_form
from tests.web import csrf_token

pytestmark = pytest.mark.slow

README = (ROOT / "README.md").read_text(encoding="utf-8")
HOST = socket.gethostname()
WORKERS = ("worker1", "worker2")
#: The intake's resident (test_going_live's Sumarni) and the agency's contact who answers (its spreadsheet's).
RESIDENT_PHONE, CONTACT_PHONE = "+6281325550177", "+6281225550305"
BURST = 60
METRICS_TOKEN = "prometheus-scrape-token"


# ---- README's words ------------------------------------------------------------------------------------


def _section(title: str) -> str:
    return README.split(f"\n{title}\n", 1)[1].split("\n## ", 1)[0]


def _blocks(section: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


def _key_commands() -> list[str]:
    """The Settings file's two commands that print a key, as written (their comment names the setting)."""
    block = _blocks(_section("### Settings file"))[0]
    return [line for line in block.splitlines() if re.search(r"#\s+SLRT_\w+_KEY$", line)]


def _flask_wrapper() -> str:
    """The Settings file's way to run a command by hand: `sudo -u slrt sh -c '... exec .venv/bin/flask ...'`."""
    block = _blocks(_section("### Settings file"))[1]
    line = next(line for line in block.splitlines() if "sh -c" in line)
    argv = shlex.split(line)
    assert argv[:4] == ["sudo", "-u", "slrt", "sh"], argv  # unprivileged here: the test's user runs it
    script = argv[-1]
    assert script.endswith("exec .venv/bin/flask --app app db upgrade"), script
    return script.split("exec ", 1)[0]  # "set -a; . /etc/slrt/slrt.env; set +a; "


def _operator_command(name: str) -> list[str]:
    block = _blocks(_section("## Operator commands"))[0]
    line = next(line for line in block.splitlines() if f" slrt {name} " in line)
    return shlex.split(line.split("#", 1)[0])


# ---- the operator's shell ------------------------------------------------------------------------------


class Operator:
    """Runs README's commands from the checkout, with the settings file read as README says."""

    def __init__(self, venv: Path, settings: Path, base: dict[str, str]) -> None:
        self.venv, self.settings, self.base = venv, settings, base
        self.prefix = _flask_wrapper().replace("/etc/slrt/slrt.env", shlex.quote(str(settings)))

    def path(self, word: str) -> str:
        return word.replace(".venv/", f"{self.venv}/", 1) if word.startswith(".venv/") else word

    def run(self, argv: list[str], timeout: float = 180) -> str:
        script = self.prefix + "exec " + shlex.join(self.path(word) for word in argv)
        done = subprocess.run(["sh", "-c", script], cwd=ROOT, env=self.base, capture_output=True, text=True,
                              timeout=timeout)
        assert done.returncode == 0, (argv, done.stdout[-3000:], done.stderr[-3000:])
        return done.stdout

    def environment(self) -> dict[str, str]:
        """What a unit's process gets: the units' own defaults, then the settings file (EnvironmentFile=)."""
        script = self.prefix + "exec env -0"
        out = subprocess.run(["sh", "-c", script], cwd=ROOT, env={**self.base, **unit_defaults()},
                             capture_output=True, check=True).stdout.decode()
        return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


def _settings_file(path: Path, values: dict[str, str]) -> None:
    """deploy/slrt.env.example with ``values`` filled in: its uncommented lines, and the commented defaults
    this deployment changes (uncommented, as an operator edits them)."""
    lines = (ROOT / "deploy" / "slrt.env.example").read_text(encoding="utf-8").splitlines()
    missing = dict(values)
    for n, line in enumerate(lines):
        match = re.match(r"^#?([A-Z_]+)=", line)
        if match and match[1] in missing:
            value = missing.pop(match[1])
            lines[n] = f'{match[1]}="{value}"' if " " in value else f"{match[1]}={value}"
    assert not missing, f"not in deploy/slrt.env.example: {sorted(missing)}"
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "SLRT_SECRET_KEY", "SLRT_PII_KEY", "SLRT_PUBLIC_URL"):
        assert name in values  # every uncommented line is filled in
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o640)


# ---- a browser on gunicorn ---------------------------------------------------------------------------


class WebBrowser:
    """requests against gunicorn, keeping the cookie and the last page's CSRF token."""

    def __init__(self, base: str) -> None:
        self.base, self.session, self.token = base, requests.Session(), None

    def get(self, path: str) -> requests.Response:
        response = self.session.get(self.base + path, allow_redirects=False, timeout=30)
        if response.status_code == 200 and "csrf_token" in response.text:
            self.token = csrf_token(response.text)
        return response

    def post(self, path: str, data: dict) -> requests.Response:
        return self.session.post(self.base + path, data={**data, "csrf_token": self.token}, allow_redirects=False,
                                 timeout=60)

    def sign_in_first_time(self, username: str, one_time: str) -> None:
        """The one-time password, then the password change every screen leads to."""
        self.get("/login")
        response = self.post("/login", {"username": username, "password": one_time})
        assert response.status_code == 302, (username, response.text[:500])
        page = self.get("/admin/")
        assert page.status_code == 302 and page.headers["Location"].endswith("/change"), page.status_code
        self.get("/change")
        own = f"{username}-pilihan-2026"
        changed = self.post("/change", {"password": one_time, "new_password": own, "new_password_confirm": own})
        assert changed.status_code == 302, changed.text[:1000]
        assert self.get("/admin/").status_code == 200


# ---- reading the database ------------------------------------------------------------------------------


def _outbound(app, *where) -> list[SmsMessage]:
    with app.app_context():
        rows = list(db.session.scalars(select(SmsMessage).where(SmsMessage.direction == SmsDirection.OUTBOUND,
                                                                *where).order_by(SmsMessage.id)))
        db.session.expunge_all()
        db.session.remove()
        return rows


def _metric(text: str, metric: str, /, **labels: str) -> float | None:
    """The value of ``metric`` with exactly these labels in a Prometheus scrape, or None."""
    for line in text.splitlines():
        if line.startswith((metric + "{", metric + " ")):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0])) if "{" in line else {}
            if found == labels:
                return float(line.rsplit(" ", 1)[1])
    return None


def _letters(n: int) -> str:
    """A name's word for the burst's ``n``-th resident (names hold no digits): Aa, Ab, ..."""
    return chr(65 + n // 26) + chr(97 + n % 26)


def _phone_forms(e164: str) -> list[str]:
    """+6281325550177, 6281325550177 and 081325550177: any of them in a log is a leak."""
    return [e164, e164[1:], "0" + e164[3:]]


# ---- the day ---------------------------------------------------------------------------------------------


def test_a_production_day_on_postgresql_and_rabbitmq(production_venv, tmp_path):
    started = time.monotonic()
    server = postgres_server()
    port = free_port()
    public_url = f"http://127.0.0.1:{port}"
    base = base_env(production_venv)
    with postgres_database(server) as database_url, rabbitmq_broker(tmp_path) as broker_url, \
            serving(FakeTwilio()) as fake:
        # ---- Settings file: the keys from README's commands, the example file filled in.
        keys = {}
        for line in _key_commands():
            name = line.rsplit("#", 1)[1].strip()
            cmd = line.split("#", 1)[0].strip().replace(".venv/", f"{production_venv}/", 1)
            keys[name] = subprocess.run(["sh", "-c", cmd], cwd=ROOT, env=base, capture_output=True, text=True,
                                        check=True).stdout.strip()
        assert set(keys) == {"SLRT_SECRET_KEY", "SLRT_PII_KEY"} and all(keys.values())
        settings = tmp_path / "slrt.env"
        _settings_file(settings, {
            "DATABASE_URL": database_url, "CELERY_BROKER_URL": broker_url, **keys,
            "SLRT_PUBLIC_URL": public_url, "SLRT_PROXY_HOPS": "1", "SLRT_WEB_BIND": f"127.0.0.1:{port}",
            "SLRT_SMS_GATEWAY": "twilio", "TWILIO_ACCOUNT_SID": fake.account_sid,
            "TWILIO_AUTH_TOKEN": fake.auth_token, "TWILIO_FROM_NUMBER": fake.number,
            "SLRT_TWILIO_API_BASE": fake.url, "SLRT_METRICS_TOKEN": METRICS_TOKEN,
            "SLRT_SMS_SENDER_NAME": "SLRT Blora",  # a value with a space: in double quotes, as README says
            # Real time, day or night: residents' quiet hours off, the agencies' whole working day open.
            "SLRT_QUIET_FROM": "00:00", "SLRT_QUIET_TO": "00:00", "SLRT_OFFICE_HOURS": "00:00-23:59",
            # Seconds, not minutes: sweeps, heartbeats, and a dead worker's claims and heartbeat expire soon.
            "SLRT_SWEEP_SECONDS": "1", "SLRT_HEARTBEAT_SECONDS": "2", "SLRT_READY_HEARTBEAT_SECONDS": "10",
            "SLRT_SMS_TIMEOUT": "2", "SLRT_SMS_CLAIM_LEASE_SECONDS": "8", "SLRT_SMS_RETRY_BASE_SECONDS": "1",
            "SLRT_WORKER_CONCURRENCY": "4", "SLRT_DB_POOL_SIZE": "6",
            # Every line the libraries write too (the HTTP client's URLs, the provider client's), not only INFO's.
            "SLRT_LOG_LEVEL": "DEBUG",
        })
        operator = Operator(production_venv, settings, base)
        env = operator.environment()
        assert env["SLRT_SMS_SENDER_NAME"] == "SLRT Blora" and env["SLRT_PII_KEY"] == keys["SLRT_PII_KEY"]

        # ---- This process works on the same database (spreadsheets, the burst, what the test reads).
        app = create_app({
            "SQLALCHEMY_DATABASE_URI": database_url, "CELERY_BROKER_URL": broker_url,
            "SECRET_KEY": keys["SLRT_SECRET_KEY"], "SLRT_PII_KEY": keys["SLRT_PII_KEY"], "SLRT_SMS_DISPATCH": True,
            **{k: v for k, v in env.items() if k.startswith(("SLRT_", "TWILIO_"))
               and k not in ("SLRT_SECRET_KEY", "SLRT_PII_KEY", "SLRT_LOG_LEVEL")},  # the test's own log: as set
        })
        with app.app_context():
            for name, kind in FILES.items():
                (tmp_path / name).write_bytes(_workbook(kind))

        # ---- Going live, as written (the spreadsheets' paths substituted).
        printed = []
        for argv in going_live_commands():
            printed.append(operator.run([str(tmp_path / word) if word in FILES else word for word in argv]))
        passwords = dict(re.findall(r"^(\w[\w.]*)\t(\S+)$", "\n".join(printed), flags=re.M))
        assert {"agus", "rina"} <= set(passwords)
        with app.app_context():
            ids = {"kepoh": db.session.scalar(select(Unit.id).where(Unit.name == "Puskesos Desa Kepoh")),
                   "doplang": db.session.scalar(select(Region.id).where(Region.code == "33.16.01.2009")),
                   "pbi": db.session.scalar(select(Service.id).where(Service.code == "BPJS_PBI_AKTIVASI"))}
            agency_open = quiet_hours.next_window(SmsAudience.AGENCY, clock.now()) is None
            db.session.remove()

        # ---- The processes: gunicorn, two workers, one beat, with the units' command lines.
        procs = Processes(tmp_path)
        try:
            procs.start("web", command(UNITS["web"], production_venv, tmp_path, env), ROOT, env)
            for n, worker in enumerate(WORKERS, start=1):
                procs.start(worker, command(UNITS["worker"], production_venv, tmp_path, env, instance=n), ROOT, env)
            procs.start("beat", command(UNITS["beat"], production_venv, tmp_path, env), ROOT, env)

            def ready():
                procs.alive()
                try:
                    response = requests.get(f"{public_url}/readyz", timeout=5)
                except requests.RequestException:
                    return False
                return response.status_code == 200 and all(f"{w}@{HOST}" in response.text for w in WORKERS)

            wait_for(ready, 90, "/readyz to answer 200 (gunicorn, both workers, beat)", procs.logs)
            report = requests.get(f"{public_url}/readyz", timeout=5).json()
            assert report["status"] == "ok", report
            listed = str(report)
            assert f"worker1@{HOST}" in listed and f"worker2@{HOST}" in listed, report

            # ---- Intake: the facilitator at the Kepoh post, first sign-in.
            agus = WebBrowser(public_url)
            agus.sign_in_first_time("agus", passwords["agus"])
            agus.get("/admin/intake/")
            agus.post("/admin/intake/", {"step": "find", "nik": NIK})
            opened = agus.post("/admin/intake/", intake_form(ids))
            assert opened.status_code == 302 and "/admin/case/details/" in opened.headers["Location"], \
                opened.text[:2000]
            case_id = int(re.search(r"id=(\d+)", opened.headers["Location"])[1])

            def at_twilio(phone: str, count: int = 1):
                procs.alive()
                found = [m for m in fake.messages if m.to == phone]
                return found if len(found) >= count else None

            ticket = wait_for(lambda: at_twilio(RESIDENT_PHONE), 30, "the intake notice at the stand-in",
                              procs.logs)[0]
            with app.app_context():
                code = format_code(db.session.get(Case, case_id).ticket)
                db.session.remove()
            assert code in ticket.body

            # ---- The back office refers it (first sign-in too).
            rina = WebBrowser(public_url)
            rina.sign_in_first_time("rina", passwords["rina"])
            assert rina.get(f"/admin/case/details/?id={case_id}").status_code == 200
            referred = rina.post(f"/admin/case/{case_id}/refer", {"service_id": ids["pbi"], "confirm_missing": "1"})
            assert referred.status_code == 302, referred.text[:1000]
            with app.app_context():
                referral = db.session.scalar(select(Referral).where(Referral.case_id == case_id))
                assert referral.status == ReferralStatus.SENT
                referral_id, referral_code = referral.id, format_code(referral.code)
                db.session.remove()
            wait_for(lambda: at_twilio(RESIDENT_PHONE, 2), 30, "the referral notice at the stand-in", procs.logs)
            agency_notices = _outbound(app, SmsMessage.referral_id == referral_id,
                                       SmsMessage.audience == SmsAudience.AGENCY)
            assert agency_notices, "the agency's contacts get a notice"
            if agency_open:
                wait_for(lambda: at_twilio(CONTACT_PHONE), 30, "the agency's notice at the stand-in", procs.logs)
            else:  # a weekend or a holiday: it waits for the next working day, at the stand-in nothing yet
                time.sleep(3)
                assert not at_twilio(CONTACT_PHONE)
                assert {m.status.value for m in _outbound(app, SmsMessage.phone == CONTACT_PHONE)} == {"pending"}

            # Signed receipts came back through gunicorn: the resident's notices are delivered.
            wait_for(lambda: {m.status.value for m in _outbound(app, SmsMessage.phone == RESIDENT_PHONE)}
                     == {"delivered"}, 30, "the resident's notices to be delivered", procs.logs)

            # ---- The agency's contact answers by SMS, through the signed inbound webhook.
            assert fake.send_inbound(f"{public_url}/sms/twilio/inbound", CONTACT_PHONE,
                                     f"SELESAI {referral_code} kartu KIS sudah aktif") == 200

            def completed():
                procs.alive()
                with app.app_context():
                    status = db.session.get(Referral, referral_id).status
                    db.session.remove()
                return status == ReferralStatus.COMPLETED

            wait_for(completed, 30, "the referral to be completed by the agency's SMS", procs.logs)
            wait_for(lambda: at_twilio(RESIDENT_PHONE, 3), 30, "the completion notice to the resident", procs.logs)
            wait_for(lambda: at_twilio(CONTACT_PHONE, 2 if agency_open else 1), 30,
                     "the reply to the agency's contact", procs.logs)

            # ---- The reminder sweep, queued by hand (beat runs it every 15 minutes), counted in /metrics.
            celery = [f"{production_venv}/bin/celery", "-A", "app", "call", "slrt.sweep_reminders"]
            subprocess.run(["sh", "-c", operator.prefix + "exec " + shlex.join(celery)], cwd=ROOT, env=base,
                           check=True, capture_output=True, timeout=60)

            def scrape() -> str:
                response = requests.get(f"{public_url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
                                        timeout=10)
                assert response.status_code == 200, response.text[:500]
                return response.text

            wait_for(lambda: (_metric(scrape(), "slrt_job_runs_total", job="reminder_sweep") or 0) >= 1, 30,
                     "the reminder sweep to be counted in /metrics", procs.logs)
            assert _metric(scrape(), "slrt_job_failures_total", job="reminder_sweep") == 0
            assert requests.get(f"{public_url}/metrics", timeout=10).status_code == 401

            # ---- The burst: 60 cases opened in one commit, worker 1 SIGKILLed while they go out.
            before = fake.accepted_count()
            fake.latency = 0.4
            burst_niks, burst_phones = [], []
            with app.app_context():
                begin_write()
                agus_staff = db.session.scalar(select(Staff).where(Staff.username == "agus"))
                kepoh, doplang = db.session.get(Unit, ids["kepoh"]), db.session.get(Region, ids["doplang"])
                pbi = db.session.get(Service, ids["pbi"])
                for n in range(BURST):
                    nik, phone = make_nik("M", birth=date(1970 + n % 30, 1 + n % 12, 1 + n % 28)), f"+62813900{n:05d}"
                    burst_niks.append(nik)
                    burst_phones.append(phone)
                    resident = residents.register_resident(
                        nik=nik, name=f"Warga {_letters(n)}", sex="M",
                        birth_date=date(1970 + n % 30, 1 + n % 12, 1 + n % 28), village=doplang,
                        address="Dk. Krajan RT 01 RW 01", actor=agus_staff, phone=phone, phone_owner="own")
                    cases.open_case(resident=resident, unit=kepoh, channel="walk_in", needs=[pbi], actor=agus_staff,
                                    summary="Kartu KIS tidak aktif saat berobat")
                db.session.commit()  # the 60 send tasks are queued here
                db.session.remove()
            wait_for(lambda: fake.accepted_count() - before >= 12, 60, "the burst to be under way", procs.logs)
            procs.kill("worker1")
            killed_at = fake.accepted_count() - before
            assert killed_at < BURST, "the burst was over before worker 1 was killed"
            fake.latency = 0.0

            def burst_rows():
                return _outbound(app, SmsMessage.phone.in_(burst_phones))

            wait_for(lambda: procs.alive() or {m.status.value for m in burst_rows()} == {"delivered"}
                     and len(burst_rows()) == BURST, 90, "every burst notice to be delivered",
                     lambda: procs.logs() + f"\n{[(m.id, m.status.value) for m in burst_rows()]}")

            # Nothing lost, nothing doubled: one message each at the stand-in, one provider id each.
            time.sleep(2)  # a doubled send would arrive late
            at_fake = [m for m in fake.messages if m.to in set(burst_phones)]
            assert sorted(m.to for m in at_fake) == sorted(burst_phones)
            assert not fake.duplicates()
            rows = _outbound(app)
            callbacks = [m.status_callback for m in fake.messages]
            for row in rows:
                if row.status.value in ("sent", "delivered"):
                    assert sum(url.endswith(f"/sms/twilio/status/{row.id}") for url in callbacks) == 1, row.id
            provider_ids = [row.provider_id for row in rows if row.provider_id]
            assert len(provider_ids) == len(set(provider_ids)) == fake.accepted_count()
            with app.app_context():
                attempts = db.session.execute(select(SmsAttempt.provider_id)
                                              .where(SmsAttempt.provider_id.is_not(None))).scalars().all()
                db.session.remove()
            assert len(attempts) == len(set(attempts))

            # ---- /readyz names the dead worker (its heartbeat goes stale) until it is forgotten.
            def names_the_dead_worker():
                response = requests.get(f"{public_url}/readyz", timeout=5)
                return response.json() if response.status_code == 503 else None  # (a 503 Response is falsy)

            failing = wait_for(names_the_dead_worker, 30, "/readyz to report worker 1 down", procs.logs)
            assert set(failing["failing"]) == {"workers"}, failing
            assert f"worker1@{HOST}" in failing["failing"]["workers"], failing
            seen = failing["checks"]["workers"]["workers"]
            assert not seen[f"worker1@{HOST}"]["ok"] and seen[f"worker2@{HOST}"]["ok"], seen
            forget = _operator_command("forget-worker")
            assert forget[-1] == "worker2@host"
            printed = operator.run([*forget[:-1], f"worker1@{HOST}"])
            assert f"worker1@{HOST}" in printed
            report = requests.get(f"{public_url}/readyz", timeout=5)
            assert report.status_code == 200, report.text
            assert f"worker1@{HOST}" not in report.text and f"worker2@{HOST}" in report.text

            # ---- /metrics: the outbox as the database has it.
            text = scrape()
            with app.app_context():
                counts = db.session.execute(select(SmsMessage.status, SmsMessage.gateway, func.count())
                                            .where(SmsMessage.direction == SmsDirection.OUTBOUND)
                                            .group_by(SmsMessage.status, SmsMessage.gateway)).all()
                db.session.remove()
            assert counts
            for status, gateway, count in counts:
                assert _metric(text, "slrt_outbox_messages", status=status.value, gateway=gateway or "") == count
            assert sum(count for _, _, count in counts) >= BURST + 4
            assert _metric(text, "slrt_heartbeat_age_seconds", kind="worker", name=f"worker2@{HOST}") is not None
            assert _metric(text, "slrt_heartbeat_age_seconds", kind="worker", name=f"worker1@{HOST}") is None
            procs.alive()
        finally:
            procs.stop()
            with app.app_context():
                db.engine.dispose()

    # ---- The logs: no NIK, no full phone number, no SQL parameter, in any process's.
    logs = {name: (tmp_path / f"{name}.log").read_text(errors="replace") for name in ("web", *WORKERS, "beat")}
    assert "POST /sms/twilio/status/" in logs["web"] and "POST /sms/twilio/inbound" in logs["web"]
    assert "worker1@" in logs["worker1"] and "worker2@" in logs["worker2"]
    secrets = [NIK, *burst_niks]
    for phone in (RESIDENT_PHONE, CONTACT_PHONE, *burst_phones):
        secrets += _phone_forms(phone)
    for name, log in logs.items():
        for secret in secrets:
            assert secret not in log, f"{name}'s log holds {secret}"
        for marker in ("[SQL:", "[parameters:", "[generated in", "[cached since", "sqlalchemy.engine"):
            assert marker not in log, f"{name}'s log dumps SQL ({marker})"
    assert time.monotonic() - started < 240, f"the day took {time.monotonic() - started:.0f} s"
