"""What the provider tells us after a send: receipts, failures, account trouble, inbound SMS.

Webhooks are exercised through the app with real Twilio signatures; the domain rules
(never backwards, follow-ups, pause, opt-out, spam flag, purge) through slrt.outbox.
"""

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from fakes.builders import make_case
from slrt import clock, outbox
from slrt.models import Event, FollowUp, Resident, SmsMessage, SmsPause, SmsTemplate
from slrt.models.enums import FollowUpReason, FollowUpStatus, Role, SmsDirection, SmsStatus
from slrt.ports import GatewayError
from sms.twilio import classify
from tests.test_admin_matrix import signed_in
from tests.test_outbox import FlakyGateway, _message
from tests.web import Browser

TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC = "https://slrt.blorakab.go.id"


@pytest.fixture
def signed(app, monkeypatch):
    """Post a webhook as Twilio would: form-encoded, signed with the auth token over the public URL."""
    monkeypatch.setitem(app.config, "TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setitem(app.config, "SLRT_PUBLIC_URL", PUBLIC)
    client = app.test_client()

    def post(path, form, *, token=TOKEN, signature=None):
        if signature is None:
            signature = RequestValidator(token).compute_signature(PUBLIC + path, form)
        with app.app_context():
            return client.post(path, data=form, headers={"X-Twilio-Signature": signature})

    return post


def _sent_message(db_session, send, district, sid="SM0001"):
    make_case(district)
    message_id = _message(db_session).id
    gateway = FlakyGateway()
    gateway.send = lambda **kw: sid  # the provider's id for it
    send(message_id, gateway)
    return message_id


def _status(post, message_id, status, sid="SM0001", **extra):
    return post(f"/sms/twilio/status/{message_id}", {"MessageSid": sid, "MessageStatus": status, **extra})


def _reload(db_session, message_id) -> SmsMessage:
    return db_session.get(SmsMessage, message_id, populate_existing=True)


def test_delivered_receipt_is_recorded_and_late_or_repeated_callbacks_change_nothing(
        district, db_session, send, signed):
    message_id = _sent_message(db_session, send, district)
    assert _status(signed, message_id, "delivered").status_code == 204
    assert _status(signed, message_id, "delivered").status_code == 204  # Twilio retried
    assert _status(signed, message_id, "sent").status_code == 204  # arrived late
    assert _status(signed, message_id, "failed", ErrorCode="30008").status_code == 204
    message = _reload(db_session, message_id)
    assert message.status == SmsStatus.DELIVERED and message.delivered_at is not None
    assert message.attempts == 1 and message.receipt_due_at is None
    assert db_session.scalar(select(func.count()).select_from(FollowUp)) == 0


def test_a_callback_reconciles_a_message_whose_worker_died_after_the_provider_took_it(
        district, db_session, signed, frozen):
    make_case(district)
    message_id = _message(db_session).id
    outbox.claim_many([message_id])  # claimed, sent, then the worker was killed before recording
    db_session.commit()
    assert _status(signed, message_id, "sent", sid="SMlost").status_code == 204
    message = _reload(db_session, message_id)
    assert message.status == SmsStatus.SENT and message.provider_id == "SMlost"
    frozen.shift(outbox.claim_lease() * 2)
    assert message_id not in outbox.due_ids()  # the sweep does not send it again


def test_a_callback_about_an_earlier_attempt_is_ignored(district, db_session, send, signed):
    message_id = _sent_message(db_session, send, district, sid="SMnew")
    _status(signed, message_id, "undelivered", sid="SMold", ErrorCode="30003")
    assert _reload(db_session, message_id).status == SmsStatus.SENT


def test_unreachable_handset_is_sent_again_a_few_times_then_the_facilitator_follows_up(
        district, db_session, send, signed, frozen):
    message_id = _sent_message(db_session, send, district, sid="SM1")
    _status(signed, message_id, "undelivered", sid="SM1", ErrorCode="30003")
    _status(signed, message_id, "undelivered", sid="SM1", ErrorCode="30003")  # duplicate: one retry only
    message = _reload(db_session, message_id)
    assert message.status == SmsStatus.PENDING and message.error_code == "30003"
    for attempt in (2, 3):
        frozen.shift(timedelta(hours=1))
        gateway = FlakyGateway()
        gateway.send = lambda attempt=attempt, **kw: f"SM{attempt}"
        send(message_id, gateway)
        _status(signed, message_id, "undelivered", sid=f"SM{attempt}", ErrorCode="30003")
    message = _reload(db_session, message_id)
    assert message.status == SmsStatus.UNDELIVERED and message.attempts == 3
    follow_up = db_session.scalar(select(FollowUp).where(FollowUp.message_id == message_id))
    assert follow_up.reason == FollowUpReason.SMS_FAILED and "30003" in follow_up.detail
    assert follow_up.unit_id == message.case.unit_id


def test_unsubscribed_number_fails_at_once_and_the_resident_is_opted_out(district, db_session, send):
    case = make_case(district)
    message_id = _message(db_session).id
    send(message_id, FlakyGateway(classify(21610), failures=1))
    message = _reload(db_session, message_id)
    assert message.status == SmsStatus.FAILED and message.error_code == "21610" and message.attempts == 1
    resident = db_session.get(Resident, case.resident_id, populate_existing=True)
    assert resident.is_sms_opted_out and resident.sms_opted_out_at is not None
    assert db_session.scalar(select(FollowUp).where(FollowUp.message_id == message_id)) is not None


@pytest.mark.parametrize("code", [21211, 21614, 30005, 30006])
def test_numbers_that_can_never_receive_are_not_retried(district, db_session, send, code):
    make_case(district)
    message_id = _message(db_session).id
    send(message_id, FlakyGateway(classify(code), failures=1))
    message = _reload(db_session, message_id)
    assert message.status == SmsStatus.FAILED and message.error_code == str(code)
    assert message.next_attempt_at is None


def test_suspended_account_pauses_all_sending_until_a_manager_resumes(district, db_session, send, app, frozen):
    make_case(district)
    make_case(district)
    first, second = db_session.scalars(select(SmsMessage.id).order_by(SmsMessage.id)).all()[:2]
    send(first, FlakyGateway(classify(30002), failures=1))
    assert db_session.scalar(select(SmsPause).where(SmsPause.resumed_at.is_(None))).code == "30002"
    gateway = FlakyGateway()
    send(second, gateway)  # nothing goes out while paused, and waiting is not an attempt
    assert gateway.sent == [] and _reload(db_session, second).attempts == 0
    frozen.shift(timedelta(hours=2))
    assert outbox.due_ids() == []

    manager, clerk = signed_in(app, district, Role.MANAGER), signed_in(app, district, Role.FRONT_OFFICE)
    page = manager.get("/admin/").get_data(as_text=True)
    assert "Pengiriman SMS dihentikan" in page and "30002" in page
    assert "Pengiriman SMS dihentikan" not in clerk.get("/admin/").get_data(as_text=True)
    clerk.post("/admin/sms/resume")  # refused by the domain: the pause stays
    assert db_session.scalar(select(SmsPause).where(SmsPause.resumed_at.is_(None))) is not None

    assert manager.post("/admin/sms/resume").status_code == 302
    pause = db_session.scalar(select(SmsPause).order_by(SmsPause.id.desc()).execution_options(populate_existing=True))
    assert pause.resumed_at is not None and pause.resumed_by_id == district.user(Role.MANAGER).id
    assert sorted(outbox.due_ids()) == [first, second]
    assert "Pengiriman SMS dihentikan" not in manager.get("/admin/").get_data(as_text=True)


def test_a_pause_opened_elsewhere_is_seen_once_this_apps_cache_runs_out(app, district, db_session, monkeypatch):
    """Each app reads the pause at most every PAUSE_CACHE_SECONDS of its own timer (here the test's)."""
    now = [0.0]
    monkeypatch.setitem(app.extensions, "slrt_sending_paused", outbox.pause_reader(timer=lambda: now[0]))
    assert not outbox.sending_paused()
    db_session.add(SmsPause(gateway="twilio", code="30002"))  # by another worker process
    db_session.flush()
    now[0] += outbox.PAUSE_CACHE_SECONDS / 2
    assert not outbox.sending_paused()  # as read a moment ago
    now[0] += outbox.PAUSE_CACHE_SECONDS
    assert outbox.sending_paused()
    assert outbox.resume_sending(actor=district.user(Role.MANAGER)) == 0
    assert not outbox.sending_paused()  # this app's own change is seen at once


def test_spam_filtered_message_flags_its_template_for_review(district, db_session, send, app):
    make_case(district)
    message_id = _message(db_session).id
    send(message_id, FlakyGateway(classify(30007), failures=1))
    template = db_session.scalar(select(SmsTemplate).where(SmsTemplate.key == "case_registered"))
    assert template.is_flagged and template.language == "id" and "{ticket}" in template.body
    assert _reload(db_session, message_id).status == SmsStatus.FAILED


def test_no_receipt_in_time_opens_a_follow_up_and_never_resends(district, db_session, app, frozen):
    make_case(district)
    message_id = _message(db_session).id
    outbox.claim_many([message_id])
    outbox.record_sent(message_id, "twilio", "SMx", receipts=True)
    db_session.commit()
    assert outbox.open_receipt_follow_ups() == 0
    frozen.shift(timedelta(hours=app.config["SLRT_RECEIPT_HOURS"], minutes=1))
    assert outbox.open_receipt_follow_ups() == 1
    assert outbox.open_receipt_follow_ups() == 0  # once per message
    message = _reload(db_session, message_id)
    assert message.status == SmsStatus.SENT and message.attempts == 1
    assert message_id not in outbox.due_ids()
    follow_up = db_session.scalar(select(FollowUp).where(FollowUp.message_id == message_id))
    assert follow_up.reason == FollowUpReason.NO_RECEIPT


def test_agency_messages_and_console_sends_wait_for_no_receipt(district, db_session):
    make_case(district)
    message_id = _message(db_session).id
    outbox.claim_many([message_id])
    outbox.record_sent(message_id, "console", "c-1", receipts=False)
    assert _reload(db_session, message_id).receipt_due_at is None


def test_bodies_are_purged_after_the_retention_but_the_rows_stay(district, db_session, send, frozen):
    make_case(district)
    old_id = _message(db_session).id
    send(old_id, FlakyGateway())
    frozen.shift(timedelta(days=31))
    make_case(district)
    new_id = _message(db_session).id
    assert outbox.purge_bodies() == 1
    old, new = _reload(db_session, old_id), _reload(db_session, new_id)
    assert old.body is None and old.status == SmsStatus.SENT and old.segments == 1 and old.template_key
    assert new.body


def test_follow_up_is_closed_on_the_case_page_with_a_note(district, db_session, send, app):
    case = make_case(district, unit=district.puskesos[0])
    message_id = _message(db_session).id
    send(message_id, FlakyGateway(classify(21211), failures=1))
    follow_up = db_session.scalar(select(FollowUp).where(FollowUp.message_id == message_id))
    assert follow_up.unit_id == district.puskesos[0].id

    facilitator, other = Browser(app), Browser(app)
    facilitator.login(district.user(Role.FACILITATOR, district.puskesos[0]).username)
    other.login(district.user(Role.FACILITATOR, district.puskesos[1]).username)
    listing = facilitator.get("/admin/follow_up/").get_data(as_text=True)
    assert case.resident.name in listing and case.resident.phone not in listing  # masked
    assert case.resident.name not in other.get("/admin/follow_up/").get_data(as_text=True)
    page = facilitator.get(f"/admin/case/details/?id={case.id}").get_data(as_text=True)
    assert "Perlu tindak lanjut" in page

    url = f"/admin/case/follow-up/{follow_up.id}/done"
    assert other.post(url, {"note": "x"}).status_code == 404
    facilitator.post(url, {"note": ""})
    follow_up = db_session.get(FollowUp, follow_up.id, populate_existing=True)
    assert follow_up.status == FollowUpStatus.OPEN  # a note is required
    facilitator.post(url, {"note": "Dikunjungi, tiket disampaikan langsung."})
    follow_up = db_session.get(FollowUp, follow_up.id, populate_existing=True)
    assert follow_up.status == FollowUpStatus.DONE and follow_up.note.startswith("Dikunjungi")
    assert db_session.scalar(select(Event).where(Event.case_id == case.id, Event.action == "follow_up"))


def test_forged_or_unsigned_callbacks_are_refused_and_change_nothing(district, db_session, send, signed, caplog):
    message_id = _sent_message(db_session, send, district)
    path = f"/sms/twilio/status/{message_id}"
    form = {"MessageSid": "SM0001", "MessageStatus": "delivered"}
    assert signed(path, form, token="not-our-token").status_code == 403
    assert signed(path, form, signature="").status_code == 403
    good = RequestValidator(TOKEN).compute_signature(PUBLIC + path, form)
    assert signed(path, {**form, "MessageStatus": "failed"}, signature=good).status_code == 403  # tampered
    assert signed(f"/sms/twilio/status/{message_id + 1}", form, signature=good).status_code == 403  # replayed
    assert _reload(db_session, message_id).status == SmsStatus.SENT


def test_inbound_sms_is_stored_once_and_nothing_personal_is_logged(district, db_session, signed, caplog):
    case = make_case(district)
    phone = case.resident.phone
    form = {"MessageSid": "SMin1", "From": phone, "To": "+15005550006", "Body": "CEK 12345-6 sakit gigi"}
    caplog.set_level("DEBUG")
    response = signed("/sms/twilio/inbound", form)
    assert response.status_code == 200 and response.mimetype == "text/xml"
    signed("/sms/twilio/inbound", form)  # Twilio retried the webhook
    inbound = db_session.scalars(select(SmsMessage).where(SmsMessage.direction == SmsDirection.INBOUND)).all()
    assert len(inbound) == 1
    assert inbound[0].resident_id == case.resident_id and inbound[0].status == SmsStatus.RECEIVED
    assert inbound[0].body == form["Body"]
    assert signed("/sms/twilio/inbound", {**form, "MessageSid": "SMin2"}, token="forged").status_code == 403
    logged = caplog.text
    assert phone not in logged and phone[-8:] not in logged and "sakit" not in logged


def test_the_error_table_decides_retry_and_effects():
    assert classify(20429).transient and classify(30001).transient and classify(21611).transient
    assert classify(30003).transient and classify(30003).max_attempts == 3
    assert classify(30008).max_attempts == 3
    for code in (21211, 21610, 21614, 30005, 30006, 30007):
        assert not classify(code).transient, code
    assert classify(21610).effect == "opt_out"
    assert classify(30002).effect == "pause"
    assert classify(30007).effect == "flag_template"


def test_record_status_ignores_unknown_statuses_and_inbound_rows(district, db_session):
    make_case(district)
    message_id = _message(db_session).id
    assert outbox.record_status(message_id, "receiving", provider_id="SMz") is None
    assert _reload(db_session, message_id).status == SmsStatus.PENDING
    error = GatewayError("30008", "unknown", transient=True, max_attempts=3)
    assert outbox.record_status(999999, "failed", provider_id="SMz", error=error) is None
    assert clock.now()  # the frozen clock is in use


def test_late_news_about_a_failed_attempt_does_not_cancel_its_retry(district, db_session, send, signed):
    message_id = _sent_message(db_session, send, district, sid="SM1")
    _status(signed, message_id, "undelivered", sid="SM1", ErrorCode="30003")
    retry_at = _reload(db_session, message_id).next_attempt_at
    _status(signed, message_id, "sent", sid="SM1")  # arrived late
    _status(signed, message_id, "undelivered", sid="SM1", ErrorCode="30003")  # repeated
    message = _reload(db_session, message_id)
    assert message.status == SmsStatus.PENDING and message.next_attempt_at == retry_at and message.attempts == 1


def test_a_failure_reported_before_the_worker_records_the_send_is_kept(district, db_session, signed):
    make_case(district)
    message_id = _message(db_session).id
    outbox.claim_many([message_id])
    db_session.commit()
    _status(signed, message_id, "undelivered", sid="SMfast", ErrorCode="30003")  # the provider was quick
    outbox.record_sent(message_id, "twilio", "SMfast", receipts=True)  # the worker, a moment later
    db_session.commit()
    message = _reload(db_session, message_id)
    assert message.status == SmsStatus.PENDING and message.error_code == "30003"


def test_a_sent_callback_before_the_worker_records_still_sets_the_receipt_deadline(district, db_session, signed):
    make_case(district)
    message_id = _message(db_session).id
    outbox.claim_many([message_id])
    db_session.commit()
    _status(signed, message_id, "sent", sid="SMfast")
    outbox.record_sent(message_id, "twilio", "SMfast", receipts=True)
    db_session.commit()
    message = _reload(db_session, message_id)
    assert message.status == SmsStatus.SENT and message.receipt_due_at is not None


def test_resume_lifts_every_open_pause_and_keeps_retry_after_times(district, db_session, frozen):
    make_case(district)
    message_id = _message(db_session).id
    db_session.add_all([SmsPause(gateway="twilio", code="30002"), SmsPause(gateway="twilio", code="30002")])
    message = _reload(db_session, message_id)
    message.error_code, message.next_attempt_at = "20429", clock.now() + timedelta(minutes=30)
    db_session.commit()
    outbox.resume_sending(actor=district.user(Role.MANAGER))
    db_session.commit()
    assert outbox.active_pause() is None
    assert _reload(db_session, message_id).next_attempt_at == clock.now() + timedelta(minutes=30)


def test_status_filters_take_the_values_their_links_send_and_ignore_forged_ones(district, db_session, app, send):
    make_case(district)
    make_case(district)
    first = _message(db_session).id
    send(first, FlakyGateway())
    browser = signed_in(app, district, Role.SUPERVISOR)
    pending = browser.get("/admin/sms/?flt1_0=pending")  # the dashboard tile's link
    assert pending.status_code == 200
    assert f"/admin/sms/details/?id={first}" not in pending.get_data(as_text=True)
    sent = browser.get("/admin/sms/?flt1_0=sent")
    assert sent.status_code == 200 and f"/admin/sms/details/?id={first}" in sent.get_data(as_text=True)
    assert browser.get("/admin/sms/?flt1_0=nonsense").status_code == 200  # ignored, not a 500
    assert browser.get("/admin/case/?flt1_0=open").status_code == 200
