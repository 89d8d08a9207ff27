"""What a message row says after a race or a retry: its gateway, no stale error, the attempts behind it."""

from datetime import timedelta

from sqlalchemy import select

from fakes.builders import make_case
from slrt import outbox
from slrt.extensions import persist
from slrt.models import SmsMessage
from slrt.models.enums import SmsStatus
from slrt.ports import GatewayError


class FastCallbackGateway:
    """A provider whose "sent" callback is recorded before the worker records the send itself.

    Fails the first ``failures`` sends with ``error`` (a transient one, so the row retries).
    """

    name = "fast"
    receipts = None  # reports no delivery

    def callback_path(self, message_id):
        return None

    def __init__(self, error: GatewayError | None = None, failures: int = 0) -> None:
        self.error, self.failures, self.sent = error, failures, []

    def send(self, *, to, body, reference, callback_url):
        if self.failures:
            self.failures -= 1
            raise self.error
        provider_id = f"SM{len(self.sent) + 1:032d}"
        self.sent.append(provider_id)
        message_id = int(reference.removeprefix("slrt-"))
        persist(lambda: outbox.record_status(message_id, SmsStatus.SENT, provider_id=provider_id))
        return provider_id

    def lookup(self, *, to, body, reference, since, exclude=()):
        return None


def _notice(db_session):
    return db_session.scalar(select(SmsMessage).where(SmsMessage.template_key == "case_registered"))


def test_the_gateway_is_recorded_even_when_the_callback_beats_the_worker(district, db_session, send):
    make_case(district)
    db_session.commit()
    message_id = _notice(db_session).id
    gateway = FastCallbackGateway()
    send(message_id, gateway)
    message = db_session.get(SmsMessage, message_id, populate_existing=True)
    assert message.status == SmsStatus.SENT and message.provider_id == gateway.sent[0]
    assert message.gateway == "fast"


def test_a_later_success_clears_the_error_and_keeps_the_failed_attempt(district, db_session, send, frozen):
    make_case(district)
    db_session.commit()
    message_id = _notice(db_session).id
    gateway = FastCallbackGateway(GatewayError("30001", "queue overflow", transient=True), failures=1)
    send(message_id, gateway)
    message = db_session.get(SmsMessage, message_id, populate_existing=True)
    assert message.status == SmsStatus.PENDING and message.error_code == "30001"
    frozen.shift(timedelta(minutes=10))
    send(message_id, gateway)
    message = db_session.get(SmsMessage, message_id, populate_existing=True)
    db_session.expire(message, ["failed_attempts"])
    assert message.status == SmsStatus.SENT and message.attempts == 2
    assert (message.error_code, message.error_message) == (None, None)
    assert [(a.attempt, a.gateway, a.error_code) for a in message.failed_attempts] == [(1, "fast", "30001")]


def test_an_undelivered_receipt_is_kept_in_the_history_after_the_resend_succeeds(district, db_session, send,
                                                                                  frozen):
    make_case(district)
    db_session.commit()
    message_id = _notice(db_session).id
    gateway = FastCallbackGateway()
    send(message_id, gateway)
    first = gateway.sent[0]
    outbox.record_status(message_id, SmsStatus.UNDELIVERED, provider_id=first,
                         error=GatewayError("30003", "unreachable handset", transient=True, max_attempts=3))
    db_session.commit()
    frozen.shift(timedelta(minutes=10))
    send(message_id, gateway)
    message = db_session.get(SmsMessage, message_id, populate_existing=True)
    db_session.expire(message, ["failed_attempts"])
    assert message.status == SmsStatus.SENT and message.provider_id == gateway.sent[1] and message.error_code is None
    assert [(a.attempt, a.provider_id, a.error_code) for a in message.failed_attempts] == [(1, first, "30003")]


def test_the_outbox_screen_shows_the_failed_attempts_behind_a_sent_message(app, district, db_session, send,
                                                                           frozen):
    from slrt.models.enums import Role
    from tests.web import Browser

    make_case(district)
    db_session.commit()
    message_id = _notice(db_session).id
    gateway = FastCallbackGateway(GatewayError("30001", "queue <overflow>", transient=True), failures=1)
    send(message_id, gateway)
    frozen.shift(timedelta(minutes=10))
    send(message_id, gateway)
    supervisor = Browser(app)
    supervisor.login(district.user(Role.SUPERVISOR).username)
    page = supervisor.get(f"/admin/sms/details/?id={message_id}").get_data(as_text=True)
    assert "Percobaan gagal" in page
    assert "1. 24-11-2026 10:00 fast 30001: terlalu banyak SMS sekaligus: dikirim ulang otomatis nanti" in page
    assert 'title="queue &lt;overflow&gt;"' in page  # the provider's own words, escaped
