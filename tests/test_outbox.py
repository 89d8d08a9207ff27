"""The outbox: claimed once, checked at send time, retried from the row, quiet at night."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from fakes.builders import make_case, make_referral
from slrt import outbox, referrals
from slrt.models import SmsMessage
from slrt.models.enums import Role, SmsStatus
from slrt.ports import GatewayError


class FlakyGateway:
    """A provider double: fails the first ``failures`` sends with ``error``, then accepts."""

    name = "flaky"
    receipts = None  # reports no delivery

    def callback_path(self, message_id):
        return None

    def __init__(self, error: GatewayError | None = None, failures: int = 0) -> None:
        self.error, self.failures, self.sent, self.known = error, failures, [], {}

    def send(self, *, to, body, reference, callback_url):
        if self.failures:
            self.failures -= 1
            raise self.error
        self.sent.append(reference)
        self.known[reference] = f"id-{len(self.sent)}"
        return self.known[reference]

    def lookup(self, *, to, body, reference, since, exclude=()):
        return self.known.get(reference)


def _message(db_session, key="case_registered"):
    return db_session.scalar(select(SmsMessage).where(SmsMessage.template_key == key).order_by(SmsMessage.id.desc()))


def test_a_message_is_claimed_by_one_worker_only(district, db_session):
    make_case(district)
    message = _message(db_session)
    assert outbox.claim_many([message.id]) == [message]
    assert outbox.claim_many([message.id]) == []
    assert message.status == SmsStatus.SENDING and message.attempts == 1


def test_send_task_sends_through_the_gateway_and_records_it(district, db_session, send):
    make_case(district)
    message_id = _message(db_session).id
    gateway = FlakyGateway()
    send(message_id, gateway)
    send(message_id, gateway)  # delivered twice by the broker: sent once
    message = db_session.get(SmsMessage, message_id, populate_existing=True)
    assert message.status == SmsStatus.SENT and message.provider_id == "id-1" and message.gateway == "flaky"
    assert gateway.sent == [f"slrt-{message_id}"]


def test_transient_errors_retry_from_the_row_then_fail(district, db_session, send, frozen):
    make_case(district)
    message_id = _message(db_session).id
    gateway = FlakyGateway(GatewayError("429", "too many requests", transient=True, retry_after=40), failures=99)
    send(message_id, gateway)
    message = db_session.get(SmsMessage, message_id, populate_existing=True)
    assert message.status == SmsStatus.PENDING and message.error_code == "429"
    from slrt import clock

    assert message.next_attempt_at - clock.now() >= timedelta(seconds=40)  # Retry-After respected
    for _ in range(outbox.MAX_ATTEMPTS + 12):  # nights in between defer, they do not count
        frozen.shift(timedelta(hours=2))
        send(message_id, gateway)
    message = db_session.get(SmsMessage, message_id, populate_existing=True)
    assert message.status == SmsStatus.FAILED and message.attempts == outbox.MAX_ATTEMPTS
    assert gateway.sent == []


def test_a_retry_is_not_sent_before_its_time(district, db_session, send, frozen):
    make_case(district)
    message_id = _message(db_session).id
    gateway = FlakyGateway(GatewayError("30003", "unreachable", transient=True), failures=1)
    send(message_id, gateway)
    send(message_id, gateway)  # too early: nothing happens
    assert gateway.sent == []
    frozen.shift(timedelta(minutes=5))
    send(message_id, gateway)
    assert gateway.sent == [f"slrt-{message_id}"]


def test_permanent_errors_fail_at_once(district, db_session, send):
    make_case(district)
    message_id = _message(db_session).id
    send(message_id, FlakyGateway(GatewayError("21211", "invalid number"), failures=1))
    message = db_session.get(SmsMessage, message_id, populate_existing=True)
    assert message.status == SmsStatus.FAILED and message.error_code == "21211" and message.attempts == 1


def test_an_unknown_outcome_is_looked_up_not_failed_even_with_a_permanent_code(district, db_session, send, frozen):
    """A 5xx carrying a permanent code may come after the provider stored the message: ask before failing it."""
    make_case(district)
    message_id = _message(db_session).id
    gateway = FlakyGateway(GatewayError("21211", "invalid number", outcome_unknown=True), failures=1)
    gateway.known[f"slrt-{message_id}"] = "stored-anyway"  # the provider kept it despite the error
    send(message_id, gateway)
    message = db_session.get(SmsMessage, message_id, populate_existing=True)
    assert message.status == SmsStatus.PENDING and message.error_code == "21211"  # not failed: asked first
    frozen.shift(timedelta(hours=1))
    send(message_id, gateway)
    message = db_session.get(SmsMessage, message_id, populate_existing=True)
    assert message.status == SmsStatus.SENT and message.provider_id == "stored-anyway" and message.attempts == 2
    assert gateway.sent == []  # found at the provider, not sent twice


def test_unknown_outcome_is_looked_up_before_sending_again(district, db_session, send, frozen):
    make_case(district)
    message_id = _message(db_session).id
    gateway = FlakyGateway()
    gateway.known[f"slrt-{message_id}"] = "already-there"  # the provider got it; the worker died
    db_session.get(SmsMessage, message_id).attempts = 1  # a previous attempt happened
    db_session.commit()
    send(message_id, gateway)
    message = db_session.get(SmsMessage, message_id, populate_existing=True)
    assert message.status == SmsStatus.SENT and message.provider_id == "already-there" and gateway.sent == []


def test_stale_notice_is_dropped_and_says_why(district, db_session, send):
    referral = make_referral(district)
    notice = _message(db_session, "agency_new_referral")
    referrals.cancel_referral(referral, reason="salah lembaga", actor=district.user(Role.BACK_OFFICE))
    db_session.commit()
    send(notice.id, FlakyGateway())
    notice = db_session.get(SmsMessage, notice.id, populate_existing=True)
    assert notice.status == SmsStatus.DROPPED and notice.error_code == "stale"
    assert "cancelled" in notice.error_message


def test_opted_out_resident_gets_nothing(district, db_session, send):
    case = make_case(district)
    case.resident.is_sms_opted_out = True
    db_session.commit()
    message_id = _message(db_session).id
    gateway = FlakyGateway()
    send(message_id, gateway)
    assert db_session.get(SmsMessage, message_id, populate_existing=True).status == SmsStatus.DROPPED
    assert gateway.sent == []


@pytest.mark.parametrize(
    ("now", "audience", "opens"),
    [
        ("2026-11-24T14:00:00+00:00", "resident", "2026-11-25T00:00:00+00:00"),  # 21:00 WIB -> 07:00
        ("2026-11-24T19:00:00+00:00", "resident", "2026-11-25T00:00:00+00:00"),  # 02:00 WIB -> 07:00
        ("2026-11-24T03:00:00+00:00", "resident", None),  # 10:00 WIB
        ("2026-11-24T03:00:00+00:00", "agency", None),  # Tuesday 10:00 WIB
        ("2026-11-24T10:00:00+00:00", "agency", "2026-11-25T01:00:00+00:00"),  # 17:00 -> Wed 08:00
        ("2026-11-28T03:00:00+00:00", "agency", "2026-11-30T01:00:00+00:00"),  # Saturday -> Monday
        ("2026-12-23T10:00:00+00:00", "agency", "2026-12-28T01:00:00+00:00"),  # Christmas leave
    ],
)
def test_quiet_hours(app, now, audience, opens):
    from datetime import datetime

    from slrt import quiet_hours
    from slrt.models.enums import SmsAudience

    with app.app_context():
        window = quiet_hours.next_window(SmsAudience(audience), datetime.fromisoformat(now))
    assert (window.isoformat() if window else None) == opens


def test_a_message_due_at_night_waits_for_the_morning(district, db_session, send, frozen):
    make_case(district)
    message_id = _message(db_session).id
    frozen.move_to("2026-11-24T15:00:00+00:00")  # 22:00 in Jakarta
    gateway = FlakyGateway()
    send(message_id, gateway)
    message = db_session.get(SmsMessage, message_id, populate_existing=True)
    assert message.status == SmsStatus.PENDING and message.attempts == 0
    assert outbox.held_until(message).isoformat() == "2026-11-25T00:00:00+00:00"
    assert gateway.sent == []
    db_session.commit()
    assert message_id not in outbox.due_ids()  # the sweep leaves it for the night
    frozen.move_to("2026-11-25T00:00:00+00:00")  # 07:00
    assert message_id in outbox.due_ids()
    send(message_id, gateway)
    assert gateway.sent == [f"slrt-{message_id}"]


def test_sweep_requeues_lost_claims_and_due_retries(district, db_session, frozen):
    make_case(district)
    make_case(district)
    first, second = db_session.scalars(select(SmsMessage.id).order_by(SmsMessage.id)).all()[:2]
    outbox.claim_many([first])  # a worker took it and died
    db_session.commit()
    assert outbox.due_ids() == [second]
    frozen.shift(outbox.claim_lease() + timedelta(seconds=1))
    assert sorted(outbox.due_ids()) == [first, second]


def test_a_claim_outlasted_by_a_long_rate_wait_is_not_used(district, db_session, frozen):
    make_case(district)
    message_id = _message(db_session).id
    [claimed] = outbox.claim_many([message_id])
    db_session.commit()
    assert outbox.renew_claim(message_id, claimed.attempts)  # still ours: the lease is extended
    frozen.shift(outbox.claim_lease() + timedelta(seconds=1))
    assert outbox.due_ids() == [message_id]  # the sweep took it back while we waited
    assert not outbox.renew_claim(message_id, claimed.attempts)  # so this worker must not send it
