"""Reminder digests and the escalation ladder (DESIGN.md, "Reminders and escalation")."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from fakes.builders import make_referral
from slrt import clock, gsm, referrals, reminders
from slrt.codes import format_code
from slrt.errors import PermissionDenied
from slrt.models import Event, ReminderDigest, SmsMessage
from slrt.models.enums import EscalationRung, Role, SmsAudience
from tests.conftest import JAKARTA


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=JAKARTA)


def digests_to(db_session, contact) -> list[SmsMessage]:
    return list(db_session.scalars(select(SmsMessage).where(
        SmsMessage.template_key == "agency_reminder_digest", SmsMessage.contact_id == contact.id)
        .order_by(SmsMessage.id)))


def messages(db_session, key: str) -> list[SmsMessage]:
    return list(db_session.scalars(select(SmsMessage).where(SmsMessage.template_key == key).order_by(SmsMessage.id)))


def sweep_days(frozen, first: date, last: date, hour: int = 10) -> list[tuple[date, reminders.SweepResult]]:
    """Run the sweep at ``hour`` on every calendar day from ``first`` to ``last``."""
    results, day = [], first
    while day <= last:
        frozen.move_to(at(day, hour))
        results.append((day, reminders.run_sweep()))
        day += timedelta(days=1)
    return results


@pytest.fixture
def contacts(district):
    ani, bambang, citra = district.agencies["bpjs"].contacts
    return ani, bambang, citra


def test_schedule_is_the_agencys_override_else_the_services(district, db_session):
    referral = make_referral(district)
    assert reminders.schedule(referral) == (3, 2, 3)
    district.agencies["bpjs"].reminder_every_days = 5
    assert reminders.schedule(referral) == (3, 5, 3)


def test_first_reminder_after_n_working_days_skipping_the_weekend_and_christmas(district, db_session, frozen,
                                                                                  contacts):
    ani = contacts[0]
    frozen.move_to(at(date(2026, 12, 22)))  # Tuesday
    referral = make_referral(district)
    # Wed 23 is 1; Thu 24 (cuti bersama), Fri 25 (Christmas), the weekend skipped; Mon 28 is 2, Tue 29 is 3
    results = sweep_days(frozen, date(2026, 12, 22), date(2026, 12, 30))
    reminded_on = [day for day, result in results if result.referrals]
    assert reminded_on == [date(2026, 12, 29)]
    assert not reminders.due_for_reminder(referral, date(2026, 12, 28))
    [digest] = digests_to(db_session, ani)
    assert digest.body == (f"SLRT Blora: 1 rujukan menunggu: 1) {format_code(referral.code)} Aktivasi BPJS PBI 3hr "
                           "Balas SELESAI 1 atau SELESAI <kode>")
    assert digest.audience == SmsAudience.AGENCY and digest.dedupe_key == f"digest:c{ani.id}:2026-12-29"
    db_session.refresh(referral)
    assert referral.reminders_sent == 1 and referral.last_reminded_at is not None


def test_then_every_m_working_days_at_most_k_times(district, db_session, frozen, contacts):
    district.services["bpjs_pbi"].sla_days = 40  # not overdue meanwhile
    referral = make_referral(district)  # Tue 24 Nov
    results = sweep_days(frozen, date(2026, 11, 24), date(2026, 12, 18))
    reminded_on = [day for day, result in results if result.referrals]
    # 3 working days, then every 2, three in all
    assert reminded_on == [date(2026, 11, 27), date(2026, 12, 1), date(2026, 12, 3)]
    db_session.refresh(referral)
    assert referral.reminders_sent == 3
    assert len(digests_to(db_session, contacts[0])) == 3


@pytest.mark.parametrize("moment", [at(date(2026, 11, 27), 17), at(date(2026, 11, 28), 10),
                                    at(date(2026, 11, 27), 6)], ids=["17:00", "saturday", "06:00"])
def test_no_digest_outside_office_hours(district, db_session, frozen, moment):
    make_referral(district)
    frozen.move_to(moment)
    assert reminders.run_sweep() == reminders.SweepResult(0, 0, 0)
    assert messages(db_session, "agency_reminder_digest") == []
    frozen.move_to(at(date(2026, 11, 30), 9))  # Monday morning: due, it goes
    assert reminders.run_sweep().digests == 2


def test_one_digest_per_contact_numbered_oldest_first(district, db_session, frozen, contacts):
    ani, bambang, citra = contacts
    made = []
    for day in (date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 26)):
        frozen.move_to(at(day))
        made.append(make_referral(district))
    frozen.move_to(at(date(2026, 12, 1)))
    make_referral(district, service="bansos")  # another agency, not due yet
    result = reminders.run_sweep()
    assert result == reminders.SweepResult(digests=2, referrals=3, escalations=0)
    # Citra is inactive: the active contacts get one digest each, not one SMS per referral
    assert digests_to(db_session, citra) == []
    for contact in (ani, bambang):
        [sms] = digests_to(db_session, contact)
        codes = [format_code(r.code) for r in made]
        assert sms.body.startswith(f"SLRT Blora: 3 rujukan menunggu: 1) {codes[0]} Aktivasi BPJS PBI 5hr "
                                   f"2) {codes[1]} Aktivasi BPJS PBI 4hr 3) {codes[2]} Aktivasi BPJS PBI 3hr")
        assert sms.body.endswith("Balas SELESAI 2 atau SELESAI <kode>")
        assert gsm.segments(sms.body)[1] <= 2
        digest = db_session.scalar(select(ReminderDigest).where(ReminderDigest.contact_id == contact.id))
        assert digest.message_id == sms.id
        assert [(i.position, i.referral_id) for i in digest.items] == [(n, r.id) for n, r in enumerate(made, 1)]
    for referral in made:
        db_session.refresh(referral)
        assert referral.reminders_sent == 1  # once, though two contacts were told


def test_a_second_sweep_the_same_day_sends_nothing_twice(district, db_session, frozen):
    make_referral(district)
    frozen.move_to(at(date(2026, 11, 27), 9))
    assert reminders.run_sweep().digests == 2
    before = db_session.scalar(select(SmsMessage.id).order_by(SmsMessage.id.desc()).limit(1))
    frozen.move_to(at(date(2026, 11, 27), 9) + timedelta(minutes=15))
    assert reminders.run_sweep() == reminders.SweepResult(0, 0, 0)
    assert db_session.scalar(select(SmsMessage.id).order_by(SmsMessage.id.desc()).limit(1)) == before
    assert len(db_session.scalars(select(ReminderDigest)).all()) == 2


def test_an_accepted_referral_is_not_reminded(district, db_session, frozen, contacts):
    referral = make_referral(district)
    referrals.accept(referral, actor=contacts[0])
    results = sweep_days(frozen, date(2026, 11, 25), date(2026, 12, 1))
    assert all(result.referrals == 0 for _, result in results)
    assert messages(db_session, "agency_reminder_digest") == []


def test_reminders_spent_escalate_to_the_agency_head(district, db_session, frozen, contacts):
    ani, bambang, _ = contacts
    district.services["bpjs_pbi"].sla_days = 40
    district.services["bpjs_pbi"].reminder_max = 2
    referral = make_referral(district)
    results = dict(sweep_days(frozen, date(2026, 11, 25), date(2026, 12, 8)))
    # reminders on Fri 27 Nov and Tue 1 Dec; the last one gets its 2 working days, then the head
    assert [d for d, r in results.items() if r.referrals] == [date(2026, 11, 27), date(2026, 12, 1)]
    # (then the second rung on Mon 7 Dec: no supervisor has a phone here, so only an event)
    assert [d for d, r in results.items() if r.escalations] == [date(2026, 12, 3), date(2026, 12, 7)]
    assert messages(db_session, "staff_escalation") == []
    db_session.refresh(referral)
    assert referral.reminders_sent == 2 and referral.escalated_at is not None
    [sms] = messages(db_session, "agency_escalation")
    assert sms.phone == bambang.phone and sms.contact_id == bambang.id and sms.referral_id == referral.id
    assert sms.dedupe_key == f"escalate:r{referral.id}:head"
    assert format_code(referral.code) in sms.body and "PROSES" in sms.body and sms.segments == 1
    event = db_session.scalar(select(Event).where(Event.referral_id == referral.id, Event.action == "escalate"))
    assert "Bambang Head" in event.note and event.actor_staff_id is None
    assert len(digests_to(db_session, ani)) == 2


def test_past_due_escalates_even_with_reminders_left(district, db_session, frozen):
    referral = make_referral(district)  # due end of Tue 1 Dec (5 working days)
    results = dict(sweep_days(frozen, date(2026, 11, 25), date(2026, 12, 2)))
    assert results[date(2026, 12, 2)].escalations == 1
    assert len(messages(db_session, "agency_escalation")) == 1
    db_session.refresh(referral)
    assert referral.escalated_at is not None


def test_an_accepted_referral_escalates_only_once_past_due(district, db_session, frozen, contacts):
    referral = make_referral(district)
    referrals.accept(referral, actor=contacts[0])
    results = dict(sweep_days(frozen, date(2026, 11, 25), date(2026, 12, 2)))
    assert [d for d, r in results.items() if r.escalations] == [date(2026, 12, 2)]


def test_proses_pauses_the_ladder(district, db_session, frozen, contacts):
    referral = make_referral(district)
    frozen.move_to(at(date(2026, 11, 27)))
    referrals.mark_in_process(referral, actor=contacts[0], note="berkas diverifikasi")
    results = sweep_days(frozen, date(2026, 11, 27), date(2026, 12, 18))
    assert all(result.escalations == 0 and result.referrals == 0 for _, result in results)
    db_session.refresh(referral)
    assert referral.escalated_at is None
    assert messages(db_session, "agency_escalation") == [] and messages(db_session, "staff_escalation") == []


def test_second_rung_the_case_units_supervisor(district, db_session, frozen):
    supervisor = district.user(Role.SUPERVISOR, district.puskesos[0])
    supervisor.phone = "+6281225559999"
    referral = make_referral(district)  # the case is at Puskesos Jepon
    results = dict(sweep_days(frozen, date(2026, 11, 25), date(2026, 12, 10)))
    # overdue Wed 2 Dec -> the head; two working days later still unanswered -> the supervisor
    assert [d for d, r in results.items() if r.escalations] == [date(2026, 12, 2), date(2026, 12, 4)]
    [sms] = messages(db_session, "staff_escalation")
    assert sms.audience == SmsAudience.STAFF and sms.staff_id == supervisor.id and sms.phone == supervisor.phone
    assert sms.dedupe_key == f"escalate:r{referral.id}:supervisor"
    assert format_code(referral.code) in sms.body and sms.segments == 1
    notes = [e.note for e in db_session.scalars(select(Event).where(
        Event.referral_id == referral.id, Event.action == "escalate").order_by(Event.id))]
    assert len(notes) == 2 and supervisor.full_name in notes[1]


def test_the_rung_is_stored_on_the_referral_and_a_reopening_starts_the_ladder_again(district, db_session, frozen):
    district.user(Role.SUPERVISOR, district.puskesos[0]).phone = "+6281225559999"
    referral = make_referral(district)
    sweep_days(frozen, date(2026, 11, 25), date(2026, 12, 2))
    assert referral.escalation_rung == EscalationRung.AGENCY_HEAD
    sweep_days(frozen, date(2026, 12, 3), date(2026, 12, 4))
    assert referral.escalation_rung == EscalationRung.SUPERVISOR
    # the second rung's event is at the sweep's time: nothing is nudged to tell the rungs apart
    second = db_session.scalars(select(Event).where(
        Event.referral_id == referral.id, Event.action == "escalate").order_by(Event.id)).all()[-1]
    assert second.at == clock.now()
    back_office = district.user(Role.BACK_OFFICE)
    referrals.complete(referral, actor=back_office)
    referrals.reopen(referral, actor=back_office)
    assert (referral.escalation_rung, referral.escalated_at) == (EscalationRung.NONE, None)


def test_second_rung_goes_up_the_units_when_the_puskesos_has_no_supervisor_phone(district, db_session, frozen):
    head_office = district.user(Role.SUPERVISOR)  # the secretariat's
    head_office.phone = "+6281225558888"
    make_referral(district)
    sweep_days(frozen, date(2026, 11, 25), date(2026, 12, 4))
    [sms] = messages(db_session, "staff_escalation")
    assert sms.staff_id == head_office.id


def test_an_answer_after_the_head_was_told_stops_the_second_rung(district, db_session, frozen, contacts):
    district.user(Role.SUPERVISOR, district.puskesos[0]).phone = "+6281225559999"
    referral = make_referral(district)
    sweep_days(frozen, date(2026, 11, 25), date(2026, 12, 2))
    referrals.mark_in_process(referral, actor=contacts[1])
    sweep_days(frozen, date(2026, 12, 3), date(2026, 12, 10))
    assert messages(db_session, "staff_escalation") == []


def test_digest_referral_reads_the_frozen_numbering_of_the_last_digest(district, db_session, frozen, contacts):
    ani, _, citra = contacts
    first = make_referral(district)
    frozen.move_to(at(date(2026, 11, 25)))
    second = make_referral(district)
    frozen.move_to(at(date(2026, 11, 30)))
    reminders.run_sweep()
    assert reminders.digest_referral(ani, 1) == first
    assert reminders.digest_referral(ani, 2) == second
    assert reminders.digest_referral(ani, 3) is None
    assert reminders.digest_referral(citra, 1) is None  # never got one
    referrals.complete(first, actor=ani)
    assert reminders.digest_referral(ani, 1) == first  # still what that digest listed first
    frozen.move_to(at(date(2026, 12, 2)))
    reminders.send_reminder_now(second, actor=district.user(Role.BACK_OFFICE))
    assert reminders.digest_referral(ani, 1) == second  # the newest digest's numbering
    assert reminders.digest_referral(ani, 2) is None


def test_a_long_list_keeps_to_two_segments_and_counts_the_rest(district, db_session, frozen, contacts):
    ani = contacts[0]
    made = [make_referral(district) for _ in range(25)]
    frozen.move_to(at(date(2026, 11, 27)))
    assert reminders.run_sweep().referrals == 25
    [sms] = digests_to(db_session, ani)
    digest = db_session.scalar(select(ReminderDigest).where(ReminderDigest.contact_id == ani.id))
    listed = len(digest.items)
    assert 2 <= listed < 25
    assert sms.body.startswith("SLRT Blora: 25 rujukan menunggu: 1) ")
    assert f"dan {25 - listed} lainnya." in sms.body
    assert sms.segments == 2 and gsm.segments(sms.body)[1] == 2
    assert [i.position for i in digest.items] == list(range(1, listed + 1))
    assert [i.referral_id for i in digest.items] == [r.id for r in made[:listed]]
    assert f"{listed}) {format_code(made[listed - 1].code)}" in sms.body
    assert f"{listed + 1}) " not in sms.body
    for referral in made:  # all of them were counted in the reminder
        db_session.refresh(referral)
        assert referral.reminders_sent == 1


def test_send_reminder_now(district, db_session, frozen, contacts):
    ani, bambang, _ = contacts
    referral = make_referral(district)
    clerk = district.user(Role.BACK_OFFICE)
    sent = reminders.send_reminder_now(referral, actor=clerk)
    assert len(sent) == 2
    event = db_session.scalar(select(Event).where(Event.referral_id == referral.id, Event.action == "remind"))
    assert event.actor_staff_id == clerk.id
    for contact in (ani, bambang):
        [sms] = digests_to(db_session, contact)
        assert sms.dedupe_key == f"digest:c{contact.id}:r{referral.id}:2026-11-24"  # one per office day
        assert sms.body.startswith(f"SLRT Blora: 1 rujukan menunggu: 1) {format_code(referral.code)} ")
    assert referral.reminders_sent == 1 and referral.last_reminded_at is not None
    # the sweep the same day does not remind it again
    assert reminders.run_sweep().referrals == 0


@pytest.mark.parametrize("role", [Role.FRONT_OFFICE])
def test_front_office_may_not_send_a_reminder(district, db_session, frozen, role):
    referral = make_referral(district)
    with pytest.raises(PermissionDenied):
        reminders.send_reminder_now(referral, actor=district.user(role, district.puskesos[0]))
    assert messages(db_session, "agency_reminder_digest") == []
    assert referral.reminders_sent == 0


def test_another_units_back_office_may_not_send_a_reminder(district, db_session, frozen):
    referral = make_referral(district)  # at Puskesos Jepon
    with pytest.raises(PermissionDenied):
        reminders.send_reminder_now(referral, actor=district.user(Role.BACK_OFFICE, district.puskesos[1]))


def test_the_task_sweeps_and_commits(app, district, db_session, frozen):
    make_referral(district)
    frozen.move_to(at(date(2026, 11, 27)))
    task = app.extensions["celery"].tasks["slrt.sweep_reminders"]
    assert task.apply().get() == {"digests": 2, "referrals": 1, "escalations": 0}
    from tasks.schedule import beat_schedule

    assert beat_schedule(app.config)["sweep-reminders"]["task"] == "slrt.sweep_reminders"


def test_escalated_referrals_are_flagged_in_the_list_and_on_the_dashboard(district, db_session, frozen, app):
    import re

    from tests.test_admin_matrix import signed_in

    make_referral(district)
    sweep_days(frozen, date(2026, 11, 25), date(2026, 12, 2))
    db_session.commit()
    browser = signed_in(app, district, Role.SUPERVISOR)
    listing = browser.get("/admin/referral/").get_data(as_text=True)
    assert listing.count(">eskalasi</span>") == 1
    dashboard = browser.get("/admin/").get_data(as_text=True)
    assert re.search(r'<span class="n">1</span>rujukan dieskalasi', dashboard)
