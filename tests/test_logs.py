"""Logs an operator can read: one format for web, worker and beat, with time, level and context
fields, JSON with one setting, and never a NIK, a full phone number or an SQL value."""

from __future__ import annotations

import io
import json
import logging
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from slrt import logs
from tests.worker import migrate, wait_until, worker_and_beat, worker_app, worker_env

ROOT = Path(__file__).resolve().parent.parent
#: 2026-12-06T02:37:58.901Z INFO slrt.sending: ...
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")


@pytest.fixture
def stream():
    """The log's lines as the configured handler writes them; the suite's own set-up afterwards."""
    buffer = io.StringIO()
    logs.configure("INFO", "text", buffer)
    yield buffer
    logs.configure("WARNING", "text")


def _app_process(code: str, **env: str) -> subprocess.CompletedProcess:
    """Build the app in a new process (as gunicorn or a worker would) and run ``code`` there."""
    environment = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("SLRT_", "DATABASE_URL"))}
    environment.update(DATABASE_URL="sqlite://", SLRT_SECRET_KEY="x", SLRT_PII_KEY=_key(), **env)
    program = f"from app import create_app\nimport logging\napp = create_app()\n{code}"
    return subprocess.run([sys.executable, "-c", program], cwd=ROOT, env=environment, capture_output=True,
                          text=True, timeout=60)


def _key() -> str:
    from slrt.pii import new_key

    return new_key()


def test_an_app_process_logs_info_lines_with_time_level_and_fields():
    """Under gunicorn nobody sets up logging for the app: its own INFO lines must still come out."""
    done = _app_process("logging.getLogger('slrt.sending').info('sms failed', extra={'sms_id': 5, 'code': '30005'})\n"
                        "logging.getLogger('py.warnings').warning('a warning')")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 0, done.stderr
    failed = next(line for line in lines if "sms failed" in line)
    assert LINE.match(failed) and failed.endswith("sms failed sms_id=5 code=30005"), failed
    assert LINE.match(next(line for line in lines if "a warning" in line))


def test_json_with_one_setting():
    done = _app_process("logging.getLogger('slrt.outbox').warning('sms claims expired', extra={'count': 3})",
                        SLRT_LOG_FORMAT="json")
    line = next(line for line in done.stderr.splitlines() if "claims expired" in line)
    record = json.loads(line)
    assert record["level"] == "WARNING" and record["logger"] == "slrt.outbox" and record["count"] == 3
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"])


def test_a_bad_setting_is_refused_at_start():
    done = _app_process("", SLRT_LOG_FORMAT="xml")
    assert done.returncode != 0 and "SLRT_LOG_FORMAT" in done.stderr


def test_each_request_has_an_id_its_lines_carry_and_its_answer_names(app, stream):
    client = app.test_client()
    response = client.post("/sms/twilio/inbound", data={"From": "+6281325550177", "Body": "CEK 12345-6"})
    assert response.status_code in (400, 403)
    request_id = response.headers["X-Request-ID"]
    refused = next(line for line in stream.getvalue().splitlines() if "webhook refused" in line)
    assert f"request_id={request_id}" in refused and LINE.match(refused)
    assert "6281325550177" not in stream.getvalue()
    # a proxy's id is kept; a made-up one that is not a sane token is replaced
    assert client.get("/healthz", headers={"X-Request-ID": "nginx-42a"}).headers["X-Request-ID"] == "nginx-42a"
    odd = client.get("/healthz", headers={"X-Request-ID": "x" * 65}).headers["X-Request-ID"]
    assert odd != "x" * 65 and re.fullmatch(r"[0-9a-f]{16}", odd)


def test_no_nik_or_full_phone_in_a_message_a_field_or_a_traceback(stream):
    log = logging.getLogger("slrt.test")
    log.info("resident 3316085503800007 asked from 0813-2555-0177", extra={"to": "+6281325550177",
                                                                          "kk": "3316012005100007"})
    try:
        raise ValueError("duplicate key (nik_hash, phone)=(3316085503800007, 6281325550177)")
    except ValueError:
        log.exception("insert failed")
    text = stream.getvalue()
    for secret in ("3316085503800007", "3316012005100007", "2555-0177", "81325550177"):
        assert secret not in text
    assert "[NIK]" in text and "+62813****177" in text and "Traceback" in text


def test_a_phone_number_in_a_logged_url_is_masked_and_a_task_id_is_not(stream):
    """An HTTP client's debug line names the provider URL, the number URL-encoded; an id is left whole."""
    log = logging.getLogger("slrt.test")
    log.info('"GET /2010-04-01/Accounts/AC1/Messages.json?To=%2B6281390000013&PageSize=20 HTTP/1.1" 200',
             extra={"task_id": "62248277-4951-4b7c-8edb-a6f4263491da"})
    text = stream.getvalue()
    assert "6281390000013" not in text and "To=+62813****013&" in text
    assert "task_id=62248277-4951-4b7c-8edb-a6f4263491da" in text


@pytest.mark.slow
def test_worker_and_beat_log_in_the_same_format_with_worker_and_task(tmp_path):
    from fakes.builders import make_case, make_district
    from slrt.extensions import db

    env = worker_env(tmp_path, SLRT_QUIET_FROM="00:00", SLRT_QUIET_TO="00:00")
    migrate(env)
    app = worker_app(env)
    with app.app_context():
        make_case(make_district())
        db.session.commit()  # a notice, queued after the commit
        db.engine.dispose()

    def sent() -> bool:
        with sqlite3.connect(tmp_path / "slrt.sqlite", timeout=10) as conn:
            return conn.execute("SELECT count(*) FROM sms_message WHERE status = 'sent'").fetchone()[0] > 0

    with worker_and_beat(tmp_path, env) as procs:
        wait_until(sent, procs, tmp_path, 90)
        wait_until(lambda: "Sending due task" in (tmp_path / "beat.log").read_text(), procs, tmp_path, 30)
    worker_lines = [line for line in (tmp_path / "worker.log").read_text().splitlines() if LINE.match(line)]
    beat_lines = [line for line in (tmp_path / "beat.log").read_text().splitlines() if LINE.match(line)]
    sms = next(line for line in worker_lines if "SMS to " in line)
    assert "worker=celery@" in sms and "task_id=" in sms and "task=slrt.send_sms" in sms, sms
    assert any("ready" in line and "worker=celery@" in line for line in worker_lines)
    assert any("Sending due task" in line and "worker=beat" in line for line in beat_lines)
    for text in ((tmp_path / "worker.log").read_text(), (tmp_path / "beat.log").read_text()):
        assert not re.search(r"(?<!\d)\d{16}(?!\d)", text) and not re.search(r"\+628\d{8,}", text)
