"""Why an SMS waits and when it goes: the sending hours said on the screens, and followed as set now.

Quiet hours (residents, staff) and office hours (agencies) are read from the settings at
each sweep, so messages held at night go out as soon as the current setting allows; the
outbox, the case timeline, the intake and "send reminder now" say when that will be.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import select

import tasks.outbox
from fakes.builders import make_case, make_referral, make_resident
from slrt import outbox, quiet_hours
from slrt.models import SmsMessage
from slrt.models.enums import Role, SmsAudience, SmsDirection, SmsStatus
from tests.conftest import JAKARTA
from tests.test_admin_matrix import signed_in

#: Tuesday 24 November 2026, 22:00 in Jakarta: resident notices wait for 07:00, agencies for 08:00.
NIGHT = datetime(2026, 11, 24, 22, 0, tzinfo=JAKARTA)


def _flash(html: str) -> str:
    return " ".join(re.findall(r'class="alert[^"]*"[^>]*>(.*?)</div>', html, re.S))


def _outbound(db_session) -> list[SmsMessage]:
    db_session.expire_all()
    return list(db_session.scalars(select(SmsMessage).where(SmsMessage.direction == SmsDirection.OUTBOUND)
                                   .order_by(SmsMessage.id)))


@pytest.fixture
def sweep(app, send, monkeypatch):
    """Run the beat's outbox sweep; the send tasks it queues run here, through the configured gateway."""
    swept: list[list[int]] = []

    def queue_send(ids):
        swept.append(list(ids))
        for message_id in ids:
            send(message_id)

    monkeypatch.setattr(tasks.outbox, "queue_send", queue_send)
    task = app.extensions["celery"].tasks["slrt.sweep_outbox"]

    def run() -> list[int]:
        task.apply()
        return swept[-1] if swept else []

    return run


@pytest.mark.parametrize(
    ("now", "moment", "plain", "spoken"),
    [
        ("2026-11-24T22:00", "2026-11-25T07:00", "besok 07:00", "besok pukul 07:00"),
        ("2026-11-25T02:00", "2026-11-25T07:00", "07:00", "hari ini pukul 07:00"),
        ("2026-11-27T17:00", "2026-11-30T08:00", "Senin 08:00", "Senin pukul 08:00"),  # Friday -> Monday
        ("2026-12-23T17:00", "2026-12-28T08:00", "Senin 08:00", "Senin pukul 08:00"),  # Christmas leave
        ("2026-12-23T17:00", "2027-01-04T08:00", "Senin 04-01-2027 08:00", "Senin 04-01-2027 pukul 08:00"),
    ],
)
def test_a_send_time_is_said_as_staff_read_it(app, now, moment, plain, spoken):
    at = {name: datetime.fromisoformat(text).replace(tzinfo=JAKARTA) for name, text in (("now", now),
                                                                                        ("moment", moment))}
    with app.test_request_context():
        assert quiet_hours.say_when(at["moment"], at["now"]) == plain
        assert quiet_hours.say_when(at["moment"], at["now"], spoken=True) == spoken


def test_switching_quiet_hours_off_sends_the_held_messages_at_the_next_sweep(app, district, db_session, frozen,
                                                                              sweep, send, monkeypatch):
    frozen.move_to(NIGHT)
    make_referral(district)  # the resident's notices and the agency's new-referral SMS
    make_case(district)
    db_session.commit()
    for message in _outbound(db_session):
        send(message.id)  # dispatched after the commit: held by the hours
    held = _outbound(db_session)
    residents = [m for m in held if m.audience == SmsAudience.RESIDENT]
    agency = [m for m in held if m.audience == SmsAudience.AGENCY]
    assert len(residents) >= 2 and agency
    assert {m.status for m in held} == {SmsStatus.PENDING} and {m.attempts for m in held} == {0}
    assert sweep() == []  # still night: the sweep leaves them

    # The operator switches quiet hours off (equal times) and restarts: nothing new is written,
    # yet what waits for the morning goes at the next sweep.
    monkeypatch.setitem(app.config, "SLRT_QUIET_FROM", "00:00")
    monkeypatch.setitem(app.config, "SLRT_QUIET_TO", "00:00")
    assert sorted(sweep()) == sorted(m.id for m in residents)
    after = {m.id: m for m in _outbound(db_session)}
    assert all(after[m.id].status == SmsStatus.SENT and after[m.id].attempts == 1 for m in residents)
    # Agencies keep to office hours, which did not change.
    assert all(after[m.id].status == SmsStatus.PENDING for m in agency)
    assert outbox.waiting_reason(after[agency[0].id]) == "menunggu jam kirim besok 08:00"
    assert sweep() == []
    frozen.move_to(datetime(2026, 11, 25, 8, 0, tzinfo=JAKARTA))
    assert sorted(sweep()) == sorted(m.id for m in agency)
    assert {m.status for m in _outbound(db_session)} == {SmsStatus.SENT}


def test_longer_quiet_hours_keep_the_held_messages_until_the_new_end(app, district, db_session, frozen, sweep,
                                                                     monkeypatch):
    frozen.move_to(NIGHT)
    make_case(district)
    db_session.commit()
    [notice] = _outbound(db_session)
    monkeypatch.setitem(app.config, "SLRT_QUIET_TO", "09:00")
    frozen.move_to(datetime(2026, 11, 25, 7, 30, tzinfo=JAKARTA))
    assert sweep() == []
    assert outbox.waiting_reason(notice) == "menunggu jam kirim 09:00"
    frozen.move_to(datetime(2026, 11, 25, 9, 0, tzinfo=JAKARTA))
    assert sweep() == [notice.id]
    assert _outbound(db_session)[0].status == SmsStatus.SENT


def test_the_outbox_and_the_timeline_say_when_a_night_notice_goes(app, district, db_session, frozen):
    frozen.move_to(NIGHT)
    case_id = make_case(district).id
    db_session.commit()
    [notice] = _outbound(db_session)
    browser = signed_in(app, district, Role.FRONT_OFFICE, district.puskesos[0])
    listed = browser.get("/admin/sms/").get_data(as_text=True)
    assert "Alasan menunggu" in listed and "menunggu jam kirim besok 07:00" in listed
    detail = browser.get(f"/admin/sms/details/?id={notice.id}").get_data(as_text=True)
    assert "menunggu jam kirim besok 07:00" in detail
    page = browser.get(f"/admin/case/details/?id={case_id}").get_data(as_text=True)
    timeline = page.split('<ol class="timeline">', 1)[1].split("</ol>", 1)[0]
    assert "menunggu jam kirim besok 07:00" in timeline
    frozen.move_to(datetime(2026, 11, 25, 7, 0, tzinfo=JAKARTA))  # morning: it may go, nothing to explain
    assert "menunggu jam kirim" not in browser.get("/admin/sms/").get_data(as_text=True)


@pytest.mark.parametrize(("at", "said"), [(NIGHT, "SMS terkirim besok pukul 07:00 (menunggu jam kirim)."),
                                          (datetime(2026, 11, 24, 10, 0, tzinfo=JAKARTA), None)])
def test_the_intake_says_when_the_resident_gets_the_sms(app, district, db_session, frozen, at, said):
    resident = make_resident(district, name="Sumarni")
    db_session.commit()
    frozen.move_to(at)
    clerk = signed_in(app, district, Role.FRONT_OFFICE, district.puskesos[0])
    clerk.get("/admin/intake/")
    response = clerk.post("/admin/intake/", {
        "nik": resident.nik, "unit_id": district.puskesos[0].id, "channel": "walk_in", "urgency": "normal",
        "summary": "KIS tidak aktif saat berobat", "needs": [str(district.services["bpjs_pbi"].id)]})
    assert response.status_code == 302, response.get_data(as_text=True)
    flashed = _flash(clerk.get(response.headers["Location"]).get_data(as_text=True))
    assert "dibuka untuk Sumarni" in flashed
    if said:
        assert said in flashed
    else:
        assert "menunggu jam kirim" not in flashed


def test_send_reminder_now_after_office_hours_says_when_it_goes(app, district, db_session, frozen):
    referral = make_referral(district)
    db_session.commit()
    frozen.move_to(datetime(2026, 11, 27, 17, 0, tzinfo=JAKARTA))  # Friday, after office hours
    clerk = signed_in(app, district, Role.BACK_OFFICE)
    clerk.get("/admin/referral/")
    response = clerk.post("/admin/referral/action/", {"action": "remind", "rowid": str(referral.id)})
    flashed = _flash(clerk.get(response.headers["Location"]).get_data(as_text=True))
    assert "SMS ke lembaga terkirim Senin pukul 08:00 (di luar jam kantor)." in flashed
    digests = db_session.scalars(select(SmsMessage).where(SmsMessage.template_key == "agency_reminder_digest")).all()
    assert digests and all(outbox.waiting_reason(m) == "menunggu jam kirim Senin 08:00" for m in digests)


@pytest.mark.slow
def test_a_worker_restarted_without_quiet_hours_sends_what_the_night_held(tmp_path):
    """Real processes: beat and worker with quiet hours around the present moment hold the notices;
    restarted with quiet hours switched off, their first sweeps send them (nothing rewritten)."""
    import sqlite3
    import time
    from datetime import timedelta

    from fakes.builders import make_district
    from slrt.extensions import db
    from tests.worker import migrate, wait_until, worker_and_beat, worker_app, worker_env

    local = datetime.now(JAKARTA)
    env = worker_env(tmp_path, SLRT_QUIET_FROM=f"{local - timedelta(hours=1):%H:%M}",
                     SLRT_QUIET_TO=f"{local + timedelta(hours=1):%H:%M}", SLRT_SWEEP_SECONDS="1")
    migrate(env)
    app = worker_app(env)
    with app.app_context():
        district = make_district()
        db.session.commit()
        for _ in range(5):
            make_case(district)
        db.session.commit()  # five notices, their send tasks queued on the broker
        db.engine.dispose()

    def rows():
        with sqlite3.connect(tmp_path / "slrt.sqlite", timeout=10) as conn:
            return conn.execute("SELECT status, attempts FROM sms_message WHERE direction = 'outbound'").fetchall()

    def sweeps() -> int:
        return (tmp_path / "beat.log").read_text().count("slrt.sweep_outbox")

    with worker_and_beat(tmp_path, env) as procs:
        wait_until(lambda: sweeps() >= 3, procs, tmp_path, 90)
        time.sleep(2)  # the last sweep's tasks, if any, have run
        worker_log = (tmp_path / "worker.log").read_text()
    assert sweeps() >= 3
    assert rows() == [("pending", 0)] * 5 and "SMS to " not in worker_log

    env.update(SLRT_QUIET_FROM="00:00", SLRT_QUIET_TO="00:00")  # the operator switches quiet hours off
    with worker_and_beat(tmp_path, env) as procs:
        wait_until(lambda: {status for status, _ in rows()} == {"sent"}, procs, tmp_path, 90)
        worker_log = (tmp_path / "worker.log").read_text()
    assert rows() == [("sent", 1)] * 5, worker_log[-3000:]
    assert worker_log.count("SMS to ") == 5


def test_a_notice_to_an_opted_out_resident_is_not_said_to_wait(district, db_session, frozen):
    frozen.move_to(NIGHT)
    case = make_case(district)
    db_session.commit()
    [notice] = _outbound(db_session)
    assert outbox.waiting_reason(notice) == "menunggu jam kirim besok 07:00"
    case.resident.is_sms_opted_out = True  # STOP: it will be dropped, not sent in the morning
    db_session.flush()
    assert outbox.waiting_reason(notice) is None and outbox.send_time_notice([notice]) is None
