"""SMS commands end to end: a signed Twilio webhook in, the domain's move, the reply in the outbox."""

from datetime import datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import select

from fakes.builders import make_referral, make_resident
from slrt import clock, inbound, outbox, referrals
from slrt.codes import format_code
from slrt.models import Event, Referral, Resident, SmsMessage
from slrt.models.enums import ReferralStatus, ResidentVerification, Role, SmsAudience, SmsDirection, SmsStatus
from tests.conftest import JAKARTA
from tests.test_delivery import signed  # noqa: F401  (the signed-webhook fixture)

_sid = count(1)


@pytest.fixture
def text(signed):  # noqa: F811
    """Send an SMS from ``phone`` to our number through the signed inbound webhook."""

    def post(phone, body):
        response = signed("/sms/twilio/inbound", {"MessageSid": f"SMin{next(_sid):06d}", "From": phone,
                                                  "To": "+15005550006", "Body": body})
        assert response.status_code == 200
        return response

    return post


def replies(db_session, phone):
    return db_session.scalars(select(SmsMessage).where(
        SmsMessage.direction == SmsDirection.OUTBOUND, SmsMessage.phone == phone,
        SmsMessage.template_key.like("reply%")).order_by(SmsMessage.id)).all()


def last_reply(db_session, phone) -> SmsMessage:
    found = replies(db_session, phone)
    assert found, "no reply was queued"
    return found[-1]


def reload(db_session, obj):
    return db_session.get(type(obj), obj.id, populate_existing=True)


def tamper(code: str) -> str:
    """The same code with its last body digit changed: the check digit no longer matches."""
    return code[:-2] + str((int(code[-2]) + 1) % 10) + code[-1]


# ---- residents ------------------------------------------------------------------------------

@pytest.mark.parametrize("typed", ["CEK {t}", "cek {t}", "CEK{d}", "Cek  {d}", "{d}", "{t}"])
def test_a_resident_checks_the_case_from_the_registered_phone(district, db_session, text, typed):
    referral = make_referral(district)
    case = referral.case
    text(case.resident.phone, typed.format(t=format_code(case.ticket), d=case.ticket))
    answer = last_reply(db_session, case.resident.phone)
    assert answer.template_key == "reply_status" and answer.status == SmsStatus.PENDING
    assert format_code(case.ticket) in answer.body
    assert "sedang diproses" in answer.body and "BPJS Blora terkirim" in answer.body
    assert "NIK" not in answer.body and answer.segments == 1


def test_another_phone_learns_nothing_about_the_case(district, db_session, text):
    case = make_referral(district).case
    stranger = "+6281399990000"
    text(stranger, f"CEK {format_code(case.ticket)}")
    answer = last_reply(db_session, stranger)
    assert answer.template_key == "reply_not_found"
    assert "BPJS" not in answer.body and case.resident.name.split()[0] not in answer.body


def test_a_mistyped_ticket_is_explained_and_finds_no_other_case(district, db_session, text):
    case = make_referral(district).case
    text(case.resident.phone, f"CEK {tamper(case.ticket)}")
    answer = last_reply(db_session, case.resident.phone)
    assert answer.template_key == "reply_error"
    assert "salah ketik" in answer.body or "tertukar" in answer.body, answer.body


def test_anything_else_gets_a_one_line_help(district, db_session, text):
    case = make_referral(district).case
    text(case.resident.phone, "halo pak kapan bantuannya cair")
    answer = last_reply(db_session, case.resident.phone)
    assert answer.template_key == "reply_help_resident" and "CEK" in answer.body and answer.segments == 1


def test_stop_opts_out_with_a_confirmation_and_mulai_opts_in(district, db_session, text, app):
    referral = make_referral(district)
    resident = referral.case.resident
    text(resident.phone, "berhenti")
    assert reload(db_session, resident).is_sms_opted_out
    confirmation = last_reply(db_session, resident.phone)
    assert confirmation.template_key == "reply_stopped"
    assert outbox.hold_reason(confirmation) is None  # the confirmation itself still goes out
    referrals.complete(referral, actor=district.user(Role.BACK_OFFICE))
    notice = db_session.scalar(select(SmsMessage).where(SmsMessage.template_key == "referral_completed"))
    held = outbox.hold_reason(notice)
    assert held.reason == "opted_out"  # no more notices
    assert notice.status == SmsStatus.PENDING  # asking changes nothing; hold() drops it
    outbox.hold(notice, held)
    assert (notice.status, notice.error_code) == (SmsStatus.DROPPED, "opted_out")
    text(resident.phone, "MULAI")
    assert not reload(db_session, resident).is_sms_opted_out
    assert last_reply(db_session, resident.phone).template_key == "reply_started"


def test_a_reply_goes_out_at_night_while_notices_wait(district, db_session, text, frozen):
    case = make_referral(district).case
    frozen.move_to(datetime(2026, 11, 24, 22, 30, tzinfo=JAKARTA))
    text(case.resident.phone, f"CEK {case.ticket}")
    assert outbox.hold_reason(last_reply(db_session, case.resident.phone)) is None


def test_a_retried_webhook_acts_and_replies_once(district, db_session, signed):  # noqa: F811
    case = make_referral(district).case
    form = {"MessageSid": "SMdup1", "From": case.resident.phone, "To": "+15005550006", "Body": "STOP"}
    signed("/sms/twilio/inbound", form)
    signed("/sms/twilio/inbound", form)
    assert len(replies(db_session, case.resident.phone)) == 1


def test_replies_per_phone_per_hour_are_capped(district, db_session, text, app, frozen):
    phone = "+6281399991111"  # an auto-responder answering our help with its own text
    cap = app.config["SLRT_REPLY_CAP_PER_HOUR"]
    for _ in range(cap + 3):
        text(phone, "Maaf, nomor ini otomatis membalas")
    assert len(replies(db_session, phone)) == cap
    withheld = db_session.scalars(select(SmsMessage).where(
        SmsMessage.direction == SmsDirection.INBOUND, SmsMessage.phone == phone).order_by(SmsMessage.id)).all()[-1]
    assert (withheld.reply_key, withheld.error_message) == ("reply_help_resident", "reply not sent: hourly cap")
    frozen.move_to(clock.now() + timedelta(minutes=61))
    text(phone, "Maaf, nomor ini otomatis membalas")
    assert len(replies(db_session, phone)) == cap + 1


# ---- agency contacts -----------------------------------------------------------------------

BPJS_ANI = "+6281225550101"  # an active BPJS contact (fakes/builders.py)


def test_selesai_from_the_agency_completes_the_referral_as_that_contact(district, db_session, text):
    referral = make_referral(district)
    text(BPJS_ANI, f"selesai {format_code(referral.code)} kartu KIS sudah aktif")
    referral = reload(db_session, referral)
    assert referral.status == ReferralStatus.COMPLETED
    assert referral.completion_note == "kartu KIS sudah aktif"
    event = db_session.scalar(select(Event).where(Event.referral_id == referral.id, Event.action == "complete"))
    assert event.actor_contact.name == "Ani Lestari" and event.actor_staff_id is None
    answer = last_reply(db_session, BPJS_ANI)
    assert answer.template_key == "reply_done" and answer.audience == SmsAudience.AGENCY
    assert format_code(referral.code) in answer.body
    asked = db_session.scalar(select(SmsMessage).where(SmsMessage.template_key == "referral_completed"))
    assert "Balas 1 Ya / 2 Belum" in asked.body


@pytest.mark.parametrize(("typed", "status"), [
    ("TERIMA {c}", ReferralStatus.ACCEPTED),
    ("proses {c} sedang verifikasi", ReferralStatus.ACCEPTED),
    ("TOLAK {c} sudah terdaftar mandiri", ReferralStatus.REJECTED),
])
def test_agency_answers_by_sms(district, db_session, text, typed, status):
    referral = make_referral(district)
    text(BPJS_ANI, typed.format(c=format_code(referral.code)))
    referral = reload(db_session, referral)
    assert referral.status == status
    if typed.startswith("proses"):
        assert referral.in_process_at is not None
    if status == ReferralStatus.REJECTED:
        assert referral.reason == "sudah terdaftar mandiri"
    assert last_reply(db_session, BPJS_ANI).template_key == "reply_done"


@pytest.mark.parametrize("case_", ["wrong_digit", "other_agency", "illegal", "no_reason", "inactive"])
def test_refused_agency_answers_are_explained_and_change_nothing(district, db_session, text, case_):
    referral = make_referral(district)
    code, phone = format_code(referral.code), BPJS_ANI
    if case_ == "wrong_digit":
        body = f"SELESAI {tamper(referral.code)}"
    elif case_ == "other_agency":
        body, phone = f"SELESAI {code}", "+6285725550201"  # Baznas' contact
    elif case_ == "illegal":
        referrals.reject(referral, reason="dobel", actor=district.user(Role.BACK_OFFICE))
        body = f"TERIMA {code}"
    elif case_ == "no_reason":
        body = f"TOLAK {code}"
    else:
        body, phone = f"SELESAI {code}", "+6281225550103"  # Citra, no longer active
    before = reload(db_session, referral).status
    events = db_session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1))
    text(phone, body)
    assert reload(db_session, referral).status == before
    assert db_session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) == events
    answer = last_reply(db_session, phone)
    assert answer.template_key in ("reply_error", "reply_help_resident", "reply_not_found")
    if case_ == "other_agency":
        assert "tidak ditemukan" in answer.body
    if case_ == "illegal":
        assert "ditolak" in answer.body, answer.body


# ---- resident-verified closure --------------------------------------------------------------

def test_a_resident_saying_not_received_reopens_it_and_alerts_the_facilitator(district, db_session, text):
    referral = make_referral(district)
    facilitator = district.user(Role.FACILITATOR, referral.case.unit)
    facilitator.phone = "+6281311112222"
    text(BPJS_ANI, f"SELESAI {referral.code}")
    phone = referral.case.resident.phone
    text(phone, "2")
    referral = reload(db_session, referral)
    assert referral.status == ReferralStatus.SENT and referral.reopened_count == 1
    event = db_session.scalar(select(Event).where(Event.referral_id == referral.id, Event.action == "reopen"))
    assert event.actor_phone == phone
    assert last_reply(db_session, phone).template_key == "reply_reopened"
    alert = db_session.scalar(select(SmsMessage).where(SmsMessage.template_key == "staff_service_not_received"))
    assert alert.phone == facilitator.phone and format_code(referral.code) in alert.body


def test_a_resident_confirming_receipt_is_recorded_and_changes_no_state(district, db_session, text):
    referral = make_referral(district)
    text(BPJS_ANI, f"SELESAI {referral.code}")
    text(referral.case.resident.phone, "1")
    assert reload(db_session, referral).status == ReferralStatus.COMPLETED
    assert db_session.scalar(select(Event).where(Event.referral_id == referral.id, Event.action == "verify"))
    assert last_reply(db_session, referral.case.resident.phone).template_key == "reply_verified"


def test_one_or_two_with_no_question_asked_gets_help(district, db_session, text):
    resident = make_resident(district)
    text(resident.phone, "2")
    assert last_reply(db_session, resident.phone).template_key == "reply_help_resident"


def test_the_inbox_row_records_what_was_read(district, db_session, text):
    referral = make_referral(district)
    text(BPJS_ANI, f"TERIMA {referral.code}")
    row = db_session.scalar(select(SmsMessage).where(SmsMessage.direction == SmsDirection.INBOUND))
    assert row.template_key == "cmd:accept" and row.contact_id is not None
    assert (row.reply_key, row.error_message) == ("reply_done", None)  # the reply's key has its own column


def test_handle_is_the_same_for_any_gateway(district, db_session):
    referral = make_referral(district)
    row = inbound.receive(phone=BPJS_ANI, body=f"TERIMA {referral.code}", provider_id="android-1",
                          gateway="android")
    assert reload(db_session, referral).status == ReferralStatus.ACCEPTED
    answer = last_reply(db_session, BPJS_ANI)
    assert answer.gateway == "android" and row.gateway == "android"
    assert db_session.scalar(select(Referral).where(Referral.id == referral.id)).accepted_at is not None
    assert db_session.scalar(select(Resident).limit(1)) is not None


def test_the_reply_reaches_the_sender_through_the_real_twilio_client(district, db_session, text, send):
    from fakes.twilio import FakeTwilio
    from sms.twilio import TwilioGateway

    case = make_referral(district).case
    phone, ticket = case.resident.phone, format_code(case.ticket)
    text(phone, f"cek{case.ticket}")
    answer = last_reply(db_session, phone)
    with FakeTwilio() as fake:
        gateway = TwilioGateway(fake.account_sid, fake.auth_token, from_number="+15005550006", timeout=2,
                                api_base=fake.url)
        send(answer.id, gateway)
        delivered = [m for m in fake.messages if m.to == phone]
    assert len(delivered) == 1 and ticket in delivered[0].body and "terkirim" in delivered[0].body
    assert reload(db_session, answer).status == SmsStatus.SENT


def test_selesai_with_a_digest_position_completes_what_that_digest_listed(district, db_session, text, frozen):
    from slrt import reminders

    made = []
    for day in (24, 25, 26):
        frozen.move_to(datetime(2026, 11, day, 10, 0, tzinfo=JAKARTA))
        made.append(make_referral(district))
    frozen.move_to(datetime(2026, 12, 1, 10, 0, tzinfo=JAKARTA))
    assert reminders.run_sweep().referrals == 3
    # the digest listed them oldest first: 1) 24 Nov, 2) 25 Nov, 3) 26 Nov
    text(BPJS_ANI, "SELESAI 2 sudah aktif")
    statuses = [reload(db_session, r).status for r in made]
    assert statuses == [ReferralStatus.SENT, ReferralStatus.COMPLETED, ReferralStatus.SENT]
    text(BPJS_ANI, "SELESAI 9")
    assert "nomor 9" in last_reply(db_session, BPJS_ANI).body


def test_back_office_sends_a_reminder_now_from_the_referral_list(district, db_session, app):
    from tests.test_admin_matrix import signed_in

    referral = make_referral(district)
    db_session.commit()
    for role, queued in ((Role.FRONT_OFFICE, 0), (Role.BACK_OFFICE, 2)):
        browser = signed_in(app, district, role)
        browser.get("/admin/referral/")
        browser.post("/admin/referral/action/", {"action": "remind", "rowid": str(referral.id)})
        rows = db_session.scalars(select(SmsMessage).where(
            SmsMessage.template_key == "agency_reminder_digest")).all()
        assert len(rows) == queued, role  # one to each active BPJS contact
        assert all(format_code(referral.code) in row.body for row in rows)


def test_no_answer_in_time_leaves_it_completed_but_unverified_on_the_screens(district, db_session, text, app,
                                                                             frozen):
    import re

    from tests.test_admin_matrix import signed_in

    asked, confirmed = make_referral(district), make_referral(district)
    for referral in (asked, confirmed):
        text(BPJS_ANI, f"SELESAI {referral.code}")
    text(confirmed.case.resident.phone, "1")
    assert reload(db_session, asked).resident_verification == ResidentVerification.ASKED
    assert reload(db_session, confirmed).resident_verification == ResidentVerification.CONFIRMED
    db_session.commit()
    browser = signed_in(app, district, Role.SUPERVISOR)
    assert ">belum dikonfirmasi</span>" not in browser.get("/admin/referral/").get_data(as_text=True)
    frozen.move_to(clock.now() + timedelta(days=app.config["SLRT_VERIFY_DAYS"] + 1))
    assert reload(db_session, asked).is_unverified and not reload(db_session, confirmed).is_unverified
    unverified = db_session.scalars(select(Referral.id).where(Referral.is_unverified)).all()
    assert unverified == [asked.id]  # the SQL side of the same hybrid property
    browser = signed_in(app, district, Role.SUPERVISOR)  # a week later: a new session
    listing = browser.get("/admin/referral/").get_data(as_text=True)
    assert listing.count(">belum dikonfirmasi</span>") == 1
    dashboard = browser.get("/admin/").get_data(as_text=True)
    assert re.search(r'<span class="n">1</span>layanan belum dikonfirmasi warga', dashboard)


def test_an_answer_after_the_verification_window_gets_help_and_changes_nothing(district, db_session, text, app,
                                                                              frozen):
    """One window (SLRT_VERIFY_DAYS): once the referral shows unverified, a late "1" no longer confirms it."""
    referral = make_referral(district)
    text(BPJS_ANI, f"SELESAI {referral.code}")
    phone = referral.case.resident.phone
    frozen.move_to(clock.now() + timedelta(days=app.config["SLRT_VERIFY_DAYS"] + 1))
    text(phone, "1")
    assert last_reply(db_session, phone).template_key == "reply_help_resident"
    referral = reload(db_session, referral)
    assert referral.resident_verification == ResidentVerification.ASKED and referral.is_unverified


def test_an_answer_within_the_verification_window_is_taken(district, db_session, text, app, frozen):
    referral = make_referral(district)
    text(BPJS_ANI, f"SELESAI {referral.code}")
    frozen.move_to(clock.now() + timedelta(days=app.config["SLRT_VERIFY_DAYS"] - 1))
    text(referral.case.resident.phone, "1")
    assert reload(db_session, referral).resident_verification == ResidentVerification.CONFIRMED
