"""/metrics for the operator's Prometheus: only with the token, and the figures match what happened."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from fakes.builders import make_case
from slrt import ops, reminders
from slrt.models import SmsMessage
from slrt.models.enums import SmsStatus
from slrt.ports import GatewayError
from tests.test_outbox import FlakyGateway
from tests.test_setup_import import STAFF_HEADER, _csv, _manager, _run

TOKEN = "scrape-token-0123456789abcdef"


@pytest.fixture
def scrape(app, monkeypatch):
    monkeypatch.setitem(app.config, "SLRT_METRICS_TOKEN", TOKEN)
    client = app.test_client()

    def get(token: str | None = TOKEN):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with app.app_context():
            return client.get("/metrics", headers=headers)

    return get


def _value(text: str, metric: str, **labels: str) -> float | None:
    """The sample ``metric{labels}`` of an exposition text, or None."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != metric:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(4))
    return None


def test_no_token_set_means_no_metrics_and_a_wrong_token_is_refused(app, scrape, monkeypatch):
    assert scrape(None).status_code == 401
    assert scrape("guess").status_code == 401
    answer = scrape()
    assert answer.status_code == 200 and "Set-Cookie" not in answer.headers
    monkeypatch.setitem(app.config, "SLRT_METRICS_TOKEN", "")
    assert scrape().status_code == 404


def test_outbox_sending_and_errors_are_what_the_database_holds(district, db_session, scrape, send):
    make_case(district)
    make_case(district)
    db_session.commit()
    pending = db_session.scalar(select(func.count()).select_from(SmsMessage).where(
        SmsMessage.status == SmsStatus.PENDING))
    ops.beat("worker1@blora", ops.WORKER)
    db_session.commit()
    text = scrape().get_data(as_text=True)
    assert _value(text, "slrt_database_up") == 1
    assert _value(text, "slrt_outbox_messages", status="pending", gateway="") == pending >= 2
    assert _value(text, "slrt_outbox_waiting") == pending
    assert _value(text, "slrt_outbox_oldest_due_seconds") >= 0
    assert _value(text, "slrt_heartbeat_age_seconds", kind="worker", name="worker1@blora") < 60
    assert _value(text, "slrt_sending_paused") == 0

    first, second = db_session.scalars(select(SmsMessage.id).order_by(SmsMessage.id).limit(2)).all()
    send(first, FlakyGateway(GatewayError("30003", "unreachable", transient=True), failures=1))
    send(second, FlakyGateway())
    text = scrape().get_data(as_text=True)
    assert _value(text, "slrt_sms_provider_errors_total", gateway="flaky", code="30003") == 1
    assert _value(text, "slrt_outbox_messages", status="sent", gateway="flaky") == 1
    assert _value(text, "slrt_sms_sent_last_hour") == 1
    assert _value(text, "slrt_sms_send_latency_seconds", quantile="0.5") is not None


def test_imports_and_reminder_sweeps_are_counted(district, db_session, scrape, frozen):
    _run(_csv(STAFF_HEADER, "rina.blora;Rina Pratiwi;Front office;Sekretariat SLRT Blora;"), _manager(district))
    reminders.run_sweep()
    db_session.commit()
    text = scrape().get_data(as_text=True)
    assert _value(text, "slrt_job_runs_total", job="import_staff") == 1
    assert _value(text, "slrt_job_last_run_items", job="import_staff") == 1
    assert _value(text, "slrt_job_runs_total", job="reminder_sweep") == 1
    assert _value(text, "slrt_job_failures_total", job="reminder_sweep") == 0


def test_a_reminder_sweep_out_of_office_hours_is_counted_too(district, db_session, scrape, frozen):
    """It sends nothing then, but it ran: the last run's time must not look stale every night and weekend."""
    frozen.move_to(datetime(2026, 11, 28, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta")))  # a Saturday
    assert reminders.run_sweep().digests == 0
    db_session.commit()
    text = scrape().get_data(as_text=True)
    assert _value(text, "slrt_job_runs_total", job="reminder_sweep") == 1
    assert _value(text, "slrt_job_last_run_items", job="reminder_sweep") == 0
    assert _value(text, "slrt_job_last_run_timestamp_seconds", job="reminder_sweep") == \
        datetime(2026, 11, 28, 3, 0, tzinfo=UTC).timestamp()


def test_requests_are_counted_per_screen_not_per_url(app, scrape):
    with app.app_context():
        client = app.test_client()
        for number in (1, 2, 3):
            client.get(f"/admin/case/details/?id={number}")
    text = scrape().get_data(as_text=True)
    assert "flask_http_request_total" in text and "id=" not in text
