"""Delivery receipts are reconciled: a lost status callback does not send a facilitator out.

Twilio through the real twilio client against the local Twilio server, whose status
callbacks are dropped (it still knows each message's status, as Twilio does); the Android
phone through the real android-sms-gateway client against the fake phone, and its signed
sms:sent / sms:delivered / sms:failed webhooks through the app. The tasks run in-process.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from fakes.android import FakeAndroidPhone
from fakes.builders import make_case
from fakes.twilio import FakeTwilio
from slrt import clock, outbox
from slrt.models import FollowUp, SmsMessage
from slrt.models.enums import FollowUpReason, SmsAudience, SmsDirection, SmsStatus
from slrt.sending import Gateways, callback_url
from sms import ratelimit
from sms.android import AndroidGateway, message_id_of
from sms.console import ConsoleGateway
from sms.twilio import TwilioGateway
from tests.test_android import signed_with
from tests.test_twilio import Receiver, wait_until

KEY = "test-android-signing-key"
#: Nothing listens here: the callbacks the fake does post are lost (as if dropped).
NOWHERE = "http://127.0.0.1:9"


class RecordingLimiter:
    """A gateway's pace that only notes each slot taken (in ``events``, shared with the gateway spy)."""

    rate = 1.0

    def __init__(self, events: list[str], name: str) -> None:
        self.events, self.name = events, name

    def acquire(self) -> float:
        self.events.append(f"pace:{self.name}")
        return 0.0


class NeverLimiter:
    rate = 1.0

    def acquire(self) -> float:
        raise AssertionError("paced on another gateway's limiter")


# ---- fixtures ----------------------------------------------------------------------------------

@pytest.fixture
def fake():
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def phone():
    with FakeAndroidPhone() as server:
        yield server


@pytest.fixture
def gateways(app, monkeypatch, fake, phone):
    """Twilio as the primary gateway, the phone beside it, both reporting delivery; no pace."""
    twilio = TwilioGateway(fake.account_sid, fake.auth_token, from_number=fake.number, timeout=2, api_base=fake.url)
    android = AndroidGateway(phone.login, phone.password, phone.url, 2)
    monkeypatch.setitem(app.extensions, "slrt_sms", Gateways(
        primary=twilio, by_name={"twilio": twilio, "android": android}, limiter=ratelimit.Unlimited(),
        limiters={"android": ratelimit.Unlimited()}))
    monkeypatch.setitem(app.config, "TWILIO_AUTH_TOKEN", fake.auth_token)
    monkeypatch.setitem(app.config, "SLRT_PUBLIC_URL", NOWHERE)
    monkeypatch.setitem(app.config, "SLRT_ANDROID_SIGNING_KEY", KEY)
    return {"twilio": twilio, "android": android}


def receipt_gateways(app) -> dict:
    """The configured gateways that report delivery (those the reconciliation asks)."""
    return app.extensions["slrt_sms"].with_receipts()


def run(app, task: str, *args):
    """Run a task in this process, as a worker would (exceptions surface)."""
    return app.extensions["celery"].tasks[task].apply(args=list(args)).get()


def notice(district, db_session) -> SmsMessage:
    """A case's registration notice to its resident, committed and pending."""
    case = make_case(district)
    db_session.commit()
    return db_session.scalar(select(SmsMessage).where(SmsMessage.case_id == case.id,
                                                      SmsMessage.template_key == "case_registered"))


def sent(app, db_session, message: SmsMessage, gateway: str = "twilio") -> SmsMessage:
    if gateway == "android":
        message.gateway = "android"  # as the sending policy would route it
        db_session.commit()
    run(app, "slrt.send_sms", message.id)
    got = reload(db_session, message.id)
    assert got.status == SmsStatus.SENT and got.gateway == gateway, got
    return got


def reload(db_session, message_id: int) -> SmsMessage:
    return db_session.get(SmsMessage, message_id, populate_existing=True)


def follow_ups(db_session, reason: FollowUpReason | None = None) -> list[FollowUp]:
    query = select(FollowUp).order_by(FollowUp.id)
    if reason is not None:
        query = query.where(FollowUp.reason == reason)
    return list(db_session.scalars(query.execution_options(populate_existing=True)))


def past_the_deadline(app, frozen) -> None:
    frozen.shift(timedelta(hours=app.config["SLRT_RECEIPT_HOURS"], minutes=1))


def check_wait(app) -> timedelta:
    return timedelta(minutes=app.config["SLRT_RECEIPT_CHECK_MINUTES"], seconds=1)


# ---- Twilio: what a lost callback would have said, read from Twilio ---------------------------

def test_delivered_messages_whose_callbacks_were_lost_end_delivered_and_nobody_is_sent_out(
        app, district, db_session, frozen, fake, gateways):
    fake.drop_receipts = 1.0
    messages = [sent(app, db_session, notice(district, db_session)) for _ in range(3)]
    wait_until(lambda: all(fake.message(m.provider_id).status == "delivered" for m in messages))
    assert all(reload(db_session, m.id).status == SmsStatus.SENT for m in messages)  # no receipt came

    assert run(app, "slrt.reconcile_receipts")["asked"] == 0  # too early: a receipt may still come
    frozen.shift(check_wait(app))
    assert run(app, "slrt.reconcile_receipts") == {"asked": 3, "settled": 3, "followed_up": 0}

    for m in messages:
        message = reload(db_session, m.id)
        assert message.status == SmsStatus.DELIVERED and message.delivered_at == clock.now()
        assert message.receipt_due_at is None and message.next_attempt_at is None and message.attempts == 1
    past_the_deadline(app, frozen)
    run(app, "slrt.check_receipts")
    assert run(app, "slrt.reconcile_receipts")["asked"] == 0
    assert follow_ups(db_session) == []
    assert len(fake.messages) == 3  # nothing sent again


def test_the_provider_is_asked_once_more_before_a_no_receipt_follow_up(app, district, db_session, frozen, fake,
                                                                       gateways):
    fake.drop_receipts = 1.0
    message = sent(app, db_session, notice(district, db_session))
    wait_until(lambda: fake.message(message.provider_id).status == "delivered")
    past_the_deadline(app, frozen)  # never looked up before (the reconciliation was not running)

    assert run(app, "slrt.check_receipts") == 0  # Twilio can be asked: that is the reconciliation's
    assert run(app, "slrt.reconcile_receipts")["settled"] == 1
    assert reload(db_session, message.id).status == SmsStatus.DELIVERED
    assert follow_ups(db_session) == []


def test_a_message_twilio_still_holds_as_sent_opens_exactly_one_follow_up_at_the_deadline(
        app, district, db_session, frozen, fake, gateways):
    message = notice(district, db_session)
    fake.unconfirmed.add(message.phone)  # the handset never confirms: "sent" at Twilio too
    message = sent(app, db_session, message)

    frozen.shift(check_wait(app))
    assert run(app, "slrt.reconcile_receipts") == {"asked": 1, "settled": 0, "followed_up": 0}
    asked_at = clock.now()
    waiting = reload(db_session, message.id)
    assert waiting.status == SmsStatus.SENT and waiting.next_attempt_at > asked_at  # asked again later
    assert run(app, "slrt.reconcile_receipts")["asked"] == 0  # not on every sweep
    frozen.move_to(waiting.next_attempt_at)
    assert run(app, "slrt.reconcile_receipts")["asked"] == 1
    later = reload(db_session, message.id).next_attempt_at
    assert later - clock.now() > waiting.next_attempt_at - asked_at  # at growing intervals

    past_the_deadline(app, frozen)
    for _ in range(2):
        run(app, "slrt.check_receipts")
        run(app, "slrt.reconcile_receipts")
    [follow_up] = follow_ups(db_session)
    assert follow_up.reason == FollowUpReason.NO_RECEIPT and follow_up.message_id == message.id
    assert "'sent'" in follow_up.detail
    message = reload(db_session, message.id)
    assert message.status == SmsStatus.SENT and message.attempts == 1 and message.receipt_due_at is None
    assert message.id not in outbox.due_ids() and len(fake.messages) == 1  # a follow-up, not a resend


def test_a_handful_of_questions_at_growing_intervals_the_last_at_the_deadline(app, district, db_session, frozen,
                                                                             fake, gateways):
    message = notice(district, db_session)
    fake.unconfirmed.add(message.phone)
    message = sent(app, db_session, message)
    deadline = message.receipt_due_at
    asked_at = []
    frozen.shift(check_wait(app))
    while not follow_ups(db_session) and len(asked_at) < 50:
        assert run(app, "slrt.reconcile_receipts")["asked"] == 1
        asked_at.append(clock.now())
        next_at = reload(db_session, message.id).next_attempt_at
        if next_at is not None:
            assert next_at <= deadline
            frozen.move_to(next_at)
    gaps = [later - earlier for earlier, later in zip(asked_at, asked_at[1:], strict=False)]
    assert len(asked_at) <= 9  # not one question per sweep
    assert all(a < b for a, b in zip(gaps[:-2], gaps[1:-1], strict=True))  # each wait longer than the last
    assert asked_at[-1] == deadline  # the last look is at the deadline: the follow-up waits no longer
    assert len(follow_ups(db_session, FollowUpReason.NO_RECEIPT)) == 1


def test_undelivered_with_a_permanent_code_ends_undelivered_with_a_failure_follow_up(
        app, district, db_session, frozen, fake, gateways):
    fake.drop_receipts = 1.0
    message = notice(district, db_session)
    fake.undeliverable[message.phone] = "30005"  # the number does not exist
    message = sent(app, db_session, message)
    wait_until(lambda: fake.message(message.provider_id).status == "undelivered")

    frozen.shift(check_wait(app))
    assert run(app, "slrt.reconcile_receipts")["settled"] == 1

    message = reload(db_session, message.id)
    assert message.status == SmsStatus.UNDELIVERED and message.error_code == "30005"
    assert message.next_attempt_at is None and message.receipt_due_at is None
    [follow_up] = follow_ups(db_session)
    assert follow_up.reason == FollowUpReason.SMS_FAILED and "30005" in follow_up.detail
    past_the_deadline(app, frozen)
    run(app, "slrt.check_receipts")
    run(app, "slrt.reconcile_receipts")
    assert len(follow_ups(db_session)) == 1


def test_a_failed_lookup_leaves_the_message_as_it_was_and_asks_again_later(app, district, db_session, frozen, fake,
                                                                          gateways):
    fake.drop_receipts = 1.0
    message = sent(app, db_session, notice(district, db_session))
    wait_until(lambda: fake.message(message.provider_id).status == "delivered")
    frozen.shift(check_wait(app))
    fake.fail_next("500", on="read")

    assert run(app, "slrt.reconcile_receipts") == {"asked": 1, "settled": 0, "followed_up": 0}
    after = reload(db_session, message.id)
    assert (after.status, after.error_code, after.attempts) == (SmsStatus.SENT, None, 1)
    assert after.receipt_due_at == message.receipt_due_at
    assert after.next_attempt_at == clock.now() + timedelta(minutes=app.config["SLRT_RECEIPT_CHECK_MINUTES"])
    assert run(app, "slrt.reconcile_receipts")["asked"] == 0

    frozen.move_to(after.next_attempt_at)
    assert run(app, "slrt.reconcile_receipts")["settled"] == 1
    assert reload(db_session, message.id).status == SmsStatus.DELIVERED
    assert follow_ups(db_session) == []


def test_at_the_deadline_a_provider_that_cannot_be_asked_cannot_confirm(app, district, db_session, frozen, fake,
                                                                        gateways):
    message = sent(app, db_session, notice(district, db_session))
    past_the_deadline(app, frozen)
    fake.fail_next("503", on="read")
    run(app, "slrt.reconcile_receipts")
    [follow_up] = follow_ups(db_session)
    assert follow_up.reason == FollowUpReason.NO_RECEIPT and "could not be asked" in follow_up.detail
    assert reload(db_session, message.id).status == SmsStatus.SENT


def test_lookups_are_paced_by_their_gateways_limiter(app, district, db_session, frozen, fake, gateways, monkeypatch):
    fake.drop_receipts = 1.0
    messages = [sent(app, db_session, notice(district, db_session)) for _ in range(3)]
    wait_until(lambda: all(fake.message(m.provider_id).status == "delivered" for m in messages))
    events: list[str] = []
    twilio = gateways["twilio"]
    ask = twilio.status
    monkeypatch.setattr(twilio, "status", lambda sid: (events.append("ask"), ask(sid))[1])
    monkeypatch.setitem(app.extensions, "slrt_sms", replace(
        app.extensions["slrt_sms"], limiter=RecordingLimiter(events, "twilio"), limiters={"android": NeverLimiter()}))
    frozen.shift(check_wait(app))
    run(app, "slrt.reconcile_receipts")
    assert events == ["pace:twilio", "ask"] * 3  # each question waits for its slot first


def test_a_run_out_of_time_hands_the_rest_to_the_next_run(app, district, db_session, frozen, fake, gateways):
    fake.drop_receipts = 1.0
    messages = [sent(app, db_session, notice(district, db_session)) for _ in range(3)]
    wait_until(lambda: all(fake.message(m.provider_id).status == "delivered" for m in messages))
    frozen.shift(check_wait(app))
    checks = outbox.take_receipt_checks(receipt_gateways(app))
    db_session.commit()
    answers = outbox.ask_providers(checks, receipt_gateways(app), budget=0)
    assert [a.asked for a in answers] == [True, False, False]  # the first is always asked
    assert outbox.record_receipt_answers(answers).settled == 1
    db_session.commit()
    assert [c.id for c in outbox.take_receipt_checks(receipt_gateways(app))] == [m.id for m in messages[1:]]


def test_two_runs_at_once_ask_about_different_messages(app, district, db_session, frozen, fake, gateways):
    messages = [sent(app, db_session, notice(district, db_session)) for _ in range(4)]
    frozen.shift(check_wait(app))
    first = outbox.take_receipt_checks(receipt_gateways(app), limit=2)
    second = outbox.take_receipt_checks(receipt_gateways(app))
    assert len(first) == 2 and {c.id for c in first} | {c.id for c in second} == {m.id for m in messages}
    assert not {c.id for c in first} & {c.id for c in second}


def test_a_fifth_of_callbacks_dropped_opens_no_false_follow_ups(app, district, db_session, frozen, fake, gateways,
                                                                 monkeypatch):
    """The trial's figure: 100 notices, 20 % of the final callbacks lost; every one delivered."""
    receiver = Receiver(fake.auth_token)
    try:
        monkeypatch.setitem(app.config, "SLRT_PUBLIC_URL", receiver.url(""))
        fake.drop_receipts = 0.2
        case = make_case(district)
        context = outbox.common_context(case)
        ids = [outbox.queue(audience=SmsAudience.RESIDENT, phone=f"+62812555{n:05d}", key="case_registered",
                            language="id", context=context, dedupe_key=f"trial:{n}", resident=case.resident,
                            case=case) for n in range(100)]
        db_session.commit()
        ids = [m.id for m in ids]
        for first in range(0, 100, 10):
            run(app, "slrt.send_sms_batch", ids[first:first + 10])
        wait_until(lambda: sum(m.status == "delivered" for m in fake.messages) == 100, timeout=20)
        wait_until(lambda: len(receiver.received) == fake.callbacks_posted + fake.callback_errors, timeout=10)
        time.sleep(0.2)
        client = app.test_client()
        for callback in list(receiver.received):  # the callbacks that did arrive, into the app
            url = receiver.url(callback["path"])
            client.post(callback["path"], data=callback["params"],
                        headers={"X-Twilio-Signature": fake.sign(url, callback["params"])})
    finally:
        receiver.close()
    unconfirmed = db_session.scalar(select(func.count()).select_from(SmsMessage).where(
        SmsMessage.id.in_(ids), SmsMessage.status == SmsStatus.SENT))
    assert 5 <= unconfirmed <= 40  # about a fifth: these would each have become a follow-up

    frozen.shift(check_wait(app))
    assert run(app, "slrt.reconcile_receipts")["settled"] == unconfirmed
    past_the_deadline(app, frozen)
    run(app, "slrt.check_receipts")
    run(app, "slrt.reconcile_receipts")

    assert follow_ups(db_session, FollowUpReason.NO_RECEIPT) == []
    statuses = db_session.scalars(select(SmsMessage.status).where(SmsMessage.id.in_(ids))).all()
    assert set(statuses) == {SmsStatus.DELIVERED}


# ---- the Android phone: its receipts come by webhook ------------------------------------------

def test_the_phone_reports_delivery_by_webhook_not_by_callback_url(app, gateways):
    twilio, android, console = gateways["twilio"], gateways["android"], ConsoleGateway()
    assert (twilio.receipts, android.receipts, console.receipts) == ("callback", "webhook", None)
    with app.test_request_context():
        assert callback_url(android, 7) is None and callback_url(console, 7) is None
        assert callback_url(twilio, 7) == f"{NOWHERE}/sms/twilio/status/7"
        assert set(receipt_gateways(app)) == {"twilio", "android"}
    # the path Twilio is given is the webhook that records its reports
    assert app.url_map.bind("localhost").match(twilio.callback_path(7), method="POST") == \
        ("sms_webhooks.twilio_status", {"message_id": 7})


def webhook(app, phone: FakeAndroidPhone, body: dict, *, key: str = KEY, path: str = "/sms/android/status"):
    raw = json.dumps(body).encode()
    return app.test_client().post(path, data=raw, headers=FakeAndroidPhone.signed_headers(key, raw))


def test_sms_delivered_from_the_phone_is_a_receipt(app, district, db_session, frozen, phone, gateways):
    message = sent(app, db_session, notice(district, db_session), "android")
    assert message.provider_id == f"slrt-{message.id}" and message.receipt_due_at is not None  # a receipt is due
    assert webhook(app, phone, phone.status_payload(message.provider_id, "sms:sent")).status_code == 204
    assert reload(db_session, message.id).status == SmsStatus.SENT
    assert webhook(app, phone, phone.status_payload(message.provider_id, "sms:delivered"),
                   path="/sms/android/inbound").status_code == 204  # either URL takes every event
    message = reload(db_session, message.id)
    assert message.status == SmsStatus.DELIVERED and message.receipt_due_at is None
    past_the_deadline(app, frozen)
    run(app, "slrt.check_receipts")
    run(app, "slrt.reconcile_receipts")
    assert follow_ups(db_session) == []


def test_sms_failed_from_the_phone_fails_the_message_with_its_reason(app, district, db_session, phone, gateways):
    message = sent(app, db_session, notice(district, db_session), "android")
    body = phone.status_payload(message.provider_id, "sms:failed", reason="RESULT_ERROR_NO_SERVICE")
    assert webhook(app, phone, body).status_code == 204
    message = reload(db_session, message.id)
    assert message.status == SmsStatus.FAILED and message.error_code == "phone-failed"
    assert "RESULT_ERROR_NO_SERVICE" in message.error_message
    [follow_up] = follow_ups(db_session)
    assert follow_up.reason == FollowUpReason.SMS_FAILED


def test_phone_receipts_are_never_backwards_and_a_replay_changes_nothing(app, district, db_session, frozen, phone,
                                                                         gateways):
    message = sent(app, db_session, notice(district, db_session), "android")
    delivered = phone.status_payload(message.provider_id, "sms:delivered")
    assert webhook(app, phone, delivered).status_code == 204
    at = reload(db_session, message.id).delivered_at
    frozen.shift(timedelta(seconds=30))
    assert webhook(app, phone, delivered).status_code == 204  # replayed (or retried by the phone)
    assert webhook(app, phone, phone.status_payload(message.provider_id, "sms:sent")).status_code == 204  # late
    assert webhook(app, phone, phone.status_payload(message.provider_id, "sms:failed")).status_code == 204
    message = reload(db_session, message.id)
    assert message.status == SmsStatus.DELIVERED and message.delivered_at == at and message.error_code is None
    assert follow_ups(db_session) == []


def test_a_forged_phone_receipt_is_refused_and_changes_nothing(app, district, db_session, phone, gateways):
    message = sent(app, db_session, notice(district, db_session), "android")
    body = phone.status_payload(message.provider_id, "sms:failed")
    assert webhook(app, phone, body, key="not-our-key").status_code == 403
    raw = json.dumps(body).encode()
    good = FakeAndroidPhone.signed_headers(KEY, raw)
    tampered = json.dumps({**body, "event": "sms:delivered"}).encode()
    assert app.test_client().post("/sms/android/status", data=tampered, headers=good).status_code == 403
    assert reload(db_session, message.id).status == SmsStatus.SENT
    assert follow_ups(db_session) == []
    assert webhook(app, phone, body).status_code == 204  # the genuine one is applied
    assert reload(db_session, message.id).status == SmsStatus.FAILED


def test_receipts_for_messages_that_are_not_ours_change_nothing(app, district, db_session, phone, gateways):
    message = sent(app, db_session, notice(district, db_session), "android")
    for other in ("a1b2c3", f"slrt-{message.id + 1000}", "slrt-x"):
        assert webhook(app, phone, phone.status_payload(other, "sms:failed", phone="+6281200000000")).status_code \
            == 204
    twilio_sent = sent(app, db_session, notice(district, db_session))  # the phone never had it
    body = phone.status_payload(f"slrt-{twilio_sent.id}", "sms:failed", phone=twilio_sent.phone)
    assert webhook(app, phone, body).status_code == 204
    assert reload(db_session, message.id).status == SmsStatus.SENT
    assert reload(db_session, twilio_sent.id).status == SmsStatus.SENT
    assert follow_ups(db_session) == []
    assert webhook(app, phone, phone.status_payload(message.provider_id, "sms:delivered")).status_code == 204
    assert reload(db_session, message.id).status == SmsStatus.DELIVERED  # while ours is recorded


def test_a_lost_phone_webhook_is_read_from_the_phone(app, district, db_session, frozen, phone, gateways):
    delivered = sent(app, db_session, notice(district, db_session), "android")
    failed = sent(app, db_session, notice(district, db_session), "android")
    phone.set_state(delivered.provider_id, "Delivered")  # the webhooks never reached us
    phone.set_state(failed.provider_id, "Failed", "RESULT_ERROR_GENERIC_FAILURE")
    frozen.shift(check_wait(app))
    assert run(app, "slrt.reconcile_receipts")["settled"] == 2
    assert reload(db_session, delivered.id).status == SmsStatus.DELIVERED
    failed = reload(db_session, failed.id)
    assert failed.status == SmsStatus.FAILED and "GENERIC_FAILURE" in failed.error_message


def test_received_sms_take_sender_over_the_deprecated_phone_number(app, district, db_session, phone, gateways):
    case = make_case(district)
    db_session.commit()
    body = phone.inbound_payload(case.resident.phone, "CEK 1", message_id="in-sender")
    body["payload"]["phoneNumber"] = "+6281299999999"  # what an odd app version might put there
    assert webhook(app, phone, body, path="/sms/android/inbound").status_code == 204
    stored = db_session.scalar(select(SmsMessage).where(SmsMessage.direction == SmsDirection.INBOUND,
                                                        SmsMessage.provider_id == "android:in-sender"))
    assert stored.phone == case.resident.phone and stored.resident_id == case.resident_id


def test_message_ids_the_phone_reports_map_back_to_ours():
    assert message_id_of("slrt-12") == 12
    assert message_id_of("slrt-") is None and message_id_of("xslrt-12") is None and message_id_of(None) is None


def test_the_fake_phone_posts_signed_status_webhooks(phone, httpserver):
    phone_id = "slrt-77"
    phone._accept({"id": phone_id, "phoneNumbers": ["+6281234567890"], "textMessage": {"text": "Halo"}})
    httpserver.expect_request("/sms/android/status", method="POST").respond_with_data("", status=204)
    url = httpserver.url_for("/sms/android/status")
    assert phone.deliver_status(url, phone_id, "sms:failed", KEY, reason="RESULT_ERROR_RADIO_OFF") == 204
    seen = [(json.loads(request.get_data()), signed_with(KEY, request)) for request, _response in httpserver.log]
    [(body, valid)] = seen
    assert valid and body["event"] == "sms:failed"
    payload = body["payload"]
    assert payload["messageId"] == phone_id and payload["recipient"] == "+6281234567890"
    assert payload["reason"] == "RESULT_ERROR_RADIO_OFF" and "failedAt" in payload
    assert phone.message(phone_id).state == "Failed" and phone.message(phone_id).error == "RESULT_ERROR_RADIO_OFF"
