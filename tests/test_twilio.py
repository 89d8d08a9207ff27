"""The Twilio gateway on the real twilio client, against the local fake of Twilio's Messages API."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from twilio.request_validator import RequestValidator

from fakes.twilio import FakeTwilio
from slrt.ports import GatewayError
from sms.errors import parse_retry_after
from sms.twilio import ERRORS, TwilioGateway, classify

FROM = "+15005550006"
TO = "+6281234567890"
TIMEOUT = 0.5


# ---- fixtures ----------------------------------------------------------------------------------

@pytest.fixture
def fake():
    with FakeTwilio() as server:
        server.hang = 3 * TIMEOUT
        yield server


@pytest.fixture
def gateway(fake):
    return TwilioGateway(fake.account_sid, fake.auth_token, from_number=FROM, timeout=TIMEOUT, api_base=fake.url)


class Receiver:
    """A webhook endpoint that checks X-Twilio-Signature and records every POST."""

    def __init__(self, token: str, status: int = 204) -> None:
        self.validator, self.status = RequestValidator(token), status
        self.received: list[dict] = []
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"])).decode()
                params = {key: values[-1] for key, values in parse_qs(raw).items()}
                url = f"http://127.0.0.1:{receiver.port}{self.path}"
                valid = receiver.validator.validate(url, params, self.headers.get("X-Twilio-Signature", ""))
                with receiver.changed:
                    receiver.received.append({"path": self.path, "params": params, "valid": valid})
                    receiver.changed.notify_all()
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self, path: str = "/sms/status") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, count: int, timeout: float = 3.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.received) < count and time.monotonic() < deadline:
                self.changed.wait(deadline - time.monotonic())
            return list(self.received)

    def statuses(self) -> list[str]:
        return [r["params"].get("MessageStatus") for r in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(fake):
    endpoint = Receiver(fake.auth_token)
    yield endpoint
    endpoint.close()


def send(gateway, body="Kasus SLRT-12345 sudah dirujuk.", callback_url=None, to=TO):
    return gateway.send(to=to, body=body, reference="slrt-1", callback_url=callback_url)


def failure(gateway, **kwargs) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        send(gateway, **kwargs)
    return caught.value


def wait_until(predicate, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


# ---- sending -----------------------------------------------------------------------------------

def test_send_returns_the_sid_and_twilio_holds_the_message(gateway, fake):
    sid = send(gateway, callback_url="https://slrt.example/sms/status/41?sig=x")

    [message] = fake.messages
    assert sid == message.sid and sid.startswith("SM") and len(sid) == 34
    assert (message.to, message.body, message.from_) == (TO, "Kasus SLRT-12345 sudah dirujuk.", FROM)
    assert message.status_callback == "https://slrt.example/sms/status/41?sig=x"
    assert message.validity_period == "14400" and message.messaging_service_sid is None


def test_send_through_a_messaging_service_without_callback(fake):
    gateway = TwilioGateway(fake.account_sid, fake.auth_token, messaging_service_sid="MG" + "a" * 32,
                            validity_period=600, timeout=TIMEOUT, api_base=fake.url)

    send(gateway)

    [message] = fake.messages
    assert message.messaging_service_sid == "MG" + "a" * 32 and message.from_ is None
    assert message.status_callback is None and message.validity_period == "600"


@pytest.mark.parametrize("senders", [{}, {"from_number": FROM, "messaging_service_sid": "MG" + "a" * 32}])
def test_exactly_one_sender_is_required(senders):
    with pytest.raises(ValueError):
        TwilioGateway("AC" + "0" * 32, "token", **senders)


def test_wrong_credentials_pause_sending_and_keep_the_message(fake):
    gateway = TwilioGateway(fake.account_sid, "wrong-token", from_number=FROM, timeout=TIMEOUT, api_base=fake.url)

    error = failure(gateway)

    assert (error.code, error.transient, error.effect) == ("20003", True, "pause")
    assert fake.accepted_count() == 0


@pytest.mark.parametrize("kind, code, transient, effect", [
    ("500", "20500", True, None),
    ("503", "20503", True, None),
    ("502", "http-502", True, None),
    ("21211", "21211", False, None),
    ("21610", "21610", False, "opt_out"),
    ("21614", "21614", False, None),
    ("21611", "21611", True, None),
])
def test_refusals_map_to_gateway_errors(gateway, fake, kind, code, transient, effect):
    fake.fail_next(kind)

    error = failure(gateway)

    assert (error.code, error.transient, error.effect) == (code, transient, effect)
    # A 5xx may come after Twilio stored the message: look it up before sending again.
    assert error.outcome_unknown == kind.startswith("5")
    assert fake.accepted_count() == 0
    assert send(gateway)  # the next one goes through


def test_provider_messages_do_not_carry_the_number(gateway, fake):
    fake.fail_next("502")
    fake.fail_next("21614")
    assert failure(gateway).message == "unknown provider error"

    error = failure(gateway)

    assert "6281234567890" not in error.message and "8123" not in str(error)


def test_429_is_transient_with_retry_after(gateway, fake):
    fake.retry_after = 7
    fake.fail_next("429")

    error = failure(gateway)

    assert (error.code, error.transient, error.outcome_unknown, error.retry_after) == ("20429", True, False, 7.0)


def test_retry_after_is_read_per_thread(gateway, fake):
    """Each thread sees the Retry-After of its own response, not another thread's."""
    fake.retry_after = 3
    fake.fail_rate("429", 0.5)

    def attempt(i):
        try:
            send(gateway, body=f"m{i}")
            return None
        except GatewayError as error:
            return error.retry_after

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(40)))

    assert {r for r in results if r is not None} == {3.0}
    assert fake.accepted_count() == results.count(None)


def test_parse_retry_after_accepts_seconds_and_dates():
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert parse_retry_after("2") == 2.0
    assert 25 < parse_retry_after(format_datetime(later, usegmt=True)) <= 30
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None


# ---- timeouts and lost connections -----------------------------------------------------------

def test_a_hang_before_acceptance_is_bounded_by_the_timeout(gateway, fake):
    """Twilio read the request and never answered: the client cannot tell whether it was stored."""
    fake.fail_next("timeout")
    since = datetime.now(UTC)
    started = time.monotonic()

    error = failure(gateway)

    assert time.monotonic() - started < TIMEOUT + 1
    assert (error.code, error.transient, error.outcome_unknown) == ("timeout", True, True)
    assert gateway.lookup(to=TO, body="Kasus SLRT-12345 sudah dirujuk.", reference="slrt-1", since=since) is None


def test_a_timeout_after_acceptance_is_found_by_lookup(gateway, fake):
    fake.fail_next("timeout_after_accept")
    since = datetime.now(UTC)
    started = time.monotonic()

    error = failure(gateway)

    assert time.monotonic() - started < TIMEOUT + 1
    assert (error.code, error.transient, error.outcome_unknown) == ("timeout", True, True)
    [accepted] = fake.messages
    assert gateway.lookup(to=TO, body="Kasus SLRT-12345 sudah dirujuk.", reference="slrt-1", since=since) \
        == accepted.sid


def test_a_refused_connection_never_reached_twilio(fake):
    with FakeTwilio() as gone:
        dead_url = gone.url
    gateway = TwilioGateway(fake.account_sid, fake.auth_token, from_number=FROM, timeout=TIMEOUT, api_base=dead_url)

    error = failure(gateway)

    assert (error.code, error.transient, error.outcome_unknown) == ("connect-error", True, False)


def test_a_dropped_connection_leaves_the_outcome_unknown(gateway, fake):
    fake.fail_next("reset")

    error = failure(gateway)

    assert (error.code, error.transient, error.outcome_unknown) == ("network-error", True, True)


# ---- lookup ------------------------------------------------------------------------------------

def test_lookup_finds_nothing_when_nothing_was_sent(gateway):
    assert gateway.lookup(to=TO, body="x", reference="slrt-1", since=datetime.now(UTC)) is None


def test_lookup_matches_body_skips_excluded_and_returns_the_newest(gateway):
    since = datetime.now(UTC)
    first = send(gateway, body="same")
    send(gateway, body="other")
    send(gateway, body="same", to="+6289999999999")
    second = send(gateway, body="same")

    assert gateway.lookup(to=TO, body="same", reference="slrt-1", since=since) == second
    assert gateway.lookup(to=TO, body="same", reference="slrt-1", since=since, exclude=[second]) == first
    assert gateway.lookup(to=TO, body="same", reference="slrt-1", since=since, exclude=[first, second]) is None


def test_lookup_ignores_messages_older_than_since(gateway):
    send(gateway, body="same")

    later = datetime.now(UTC) + timedelta(seconds=2)

    assert gateway.lookup(to=TO, body="same", reference="slrt-1", since=later) is None


def test_lookup_counts_a_message_created_in_the_same_second(gateway):
    """Twilio's date_created has whole seconds: a since with microseconds must not miss it."""
    since = datetime.now(UTC)
    sid = send(gateway, body="same")

    assert gateway.lookup(to=TO, body="same", reference="slrt-1", since=since.replace(microsecond=999_999)) == sid


def test_lookup_ignores_failed_messages(gateway, fake):
    fake.fail_next("30002")
    since = datetime.now(UTC)
    sid = send(gateway, body="same")
    wait_until(lambda: fake.message(sid).status == "failed")

    assert gateway.lookup(to=TO, body="same", reference="slrt-1", since=since) is None


def test_a_failed_lookup_is_transient_and_unknown(gateway, fake):
    fake.fail_next("500", on="read")

    with pytest.raises(GatewayError) as caught:
        gateway.lookup(to=TO, body="x", reference="slrt-1", since=datetime.now(UTC))

    assert (caught.value.code, caught.value.transient, caught.value.outcome_unknown) == ("lookup-failed", True, True)


# ---- the error table ---------------------------------------------------------------------------

@pytest.mark.parametrize("code, transient, max_attempts, effect", [
    (20429, True, None, None),
    (30001, True, None, None),
    (21611, True, None, None),
    (30003, True, 3, None),
    (30008, True, 3, None),
    (30002, True, None, "pause"),
    (21211, False, None, None),
    (21610, False, None, "opt_out"),
    (21614, False, None, None),
    (30005, False, None, None),
    (30006, False, None, None),
    (30007, False, None, "flag_template"),
])
def test_classify_follows_the_table(code, transient, max_attempts, effect):
    for given in (code, str(code)):  # ints from the client, strings from a callback's ErrorCode
        error = classify(given)
        assert (error.code, error.transient, error.max_attempts, error.effect) == \
            (str(code), transient, max_attempts, effect)
        assert error.message == ERRORS[code].meaning


def test_classify_unknown_codes_by_http_status():
    assert classify(None, 429, retry_after=2).transient and classify(None, 429, retry_after=2).retry_after == 2
    assert classify(429, 429).code == "http-429"
    assert (classify(500, 500).code, classify(500, 500).transient) == ("http-500", True)
    assert (classify(21999, 503).code, classify(21999, 503).transient) == ("21999", True)
    assert (classify(21999, 400, "Something odd").transient, classify(21999, 400, "Something odd").message) == \
        (False, "Something odd")
    assert classify("31999").transient is False  # an unknown delivery failure in a callback
    assert classify(21211, 400, retry_after=5).retry_after is None


# ---- status callbacks and inbound SMS ---------------------------------------------------------

def test_status_callbacks_are_signed_and_in_order(gateway, fake, receiver):
    sid = send(gateway, callback_url=receiver.url("/sms/status/41"))

    got = receiver.wait_for(2)

    assert [r["params"]["MessageStatus"] for r in got] == ["sent", "delivered"]
    assert all(r["valid"] and r["path"] == "/sms/status/41" for r in got)
    params = got[-1]["params"]
    assert (params["MessageSid"], params["SmsSid"], params["SmsStatus"]) == (sid, sid, "delivered")
    assert (params["To"], params["From"], params["AccountSid"]) == (TO, FROM, fake.account_sid)
    assert params["ApiVersion"] == "2010-04-01" and "ErrorCode" not in params
    wait_until(lambda: fake.message(sid).status == "delivered")


def test_a_forged_signature_does_not_validate(fake, receiver):
    params = {"MessageSid": "SM1", "MessageStatus": "delivered"}
    other = RequestValidator("another-token").compute_signature(receiver.url(), params)

    assert not receiver.validator.validate(receiver.url(), params, other)
    assert receiver.validator.validate(receiver.url(), params, fake.sign(receiver.url(), params))


def test_undeliverable_numbers_end_with_their_error_code(gateway, fake, receiver):
    fake.undeliverable[TO] = "30003"
    sid = send(gateway, callback_url=receiver.url())

    got = receiver.wait_for(2)

    assert [r["params"]["MessageStatus"] for r in got] == ["sent", "undelivered"]
    assert got[-1]["params"]["ErrorCode"] == "30003" and got[-1]["valid"]
    assert classify(got[-1]["params"]["ErrorCode"]).max_attempts == 3
    wait_until(lambda: fake.message(sid).error_code == 30003)


def test_a_suspended_account_fails_the_queued_message(gateway, fake, receiver):
    fake.fail_next("30002")
    send(gateway, callback_url=receiver.url())

    [got] = receiver.wait_for(1)

    assert (got["params"]["MessageStatus"], got["params"]["ErrorCode"]) == ("failed", "30002")
    assert classify(got["params"]["ErrorCode"]).effect == "pause"


def test_dropped_receipts_are_lost_on_the_way_but_twilio_knows(gateway, fake, receiver):
    fake.drop_receipts = 1.0
    sid = send(gateway, callback_url=receiver.url())

    receiver.wait_for(2, timeout=0.5)

    assert receiver.statuses() == ["sent"]
    assert fake.message(sid).status == "delivered"  # a fetch tells what the lost callback would have
    assert gateway.status(sid) == ("delivered", None)


def test_unconfirmed_handsets_leave_the_message_sent_at_twilio_too(gateway, fake, receiver):
    fake.unconfirmed.add(TO)
    sid = send(gateway, callback_url=receiver.url())

    receiver.wait_for(2, timeout=0.5)

    assert receiver.statuses() == ["sent"]
    assert fake.message(sid).status == "sent" and gateway.status(sid) == ("sent", None)


def test_duplicate_callbacks(gateway, fake, receiver):
    fake.duplicate_callbacks = True
    send(gateway, callback_url=receiver.url())

    receiver.wait_for(4)

    assert receiver.statuses() == ["sent", "sent", "delivered", "delivered"]


def test_reordered_callbacks(gateway, fake, receiver):
    fake.reorder_callbacks = True
    sid = send(gateway, callback_url=receiver.url())

    receiver.wait_for(2)

    assert receiver.statuses() == ["delivered", "sent"]
    assert fake.message(sid).status == "delivered"  # a late "sent" does not undo it


def test_callback_delay_and_disabled_callbacks(gateway, fake, receiver):
    fake.callback_delay = 0.3
    started = time.monotonic()
    send(gateway, callback_url=receiver.url())
    receiver.wait_for(1)
    assert time.monotonic() - started >= 0.3

    fake.callbacks_enabled = False
    fake.callback_delay = 0
    sid = send(gateway, callback_url=receiver.url())
    wait_until(lambda: fake.message(sid).status == "delivered")
    receiver.wait_for(3, timeout=0.3)
    assert len(receiver.received) == 2


def test_callback_failures_are_counted_not_raised(gateway, fake):
    failing = Receiver(fake.auth_token, status=500)
    try:
        send(gateway, callback_url=failing.url())
        failing.wait_for(2)
        wait_until(lambda: fake.callback_errors == 2)
    finally:
        failing.close()
    send(gateway, callback_url="http://127.0.0.1:1/nobody")
    wait_until(lambda: fake.callback_errors == 4)
    assert fake.callbacks_posted == 0


def test_inbound_sms_is_signed(fake, receiver):
    status = fake.send_inbound(receiver.url("/sms/inbound"), "+6281111111111", "STATUS SLRT-12345")

    [got] = receiver.received
    assert status == 204 and got["valid"] and got["path"] == "/sms/inbound"
    params = got["params"]
    assert (params["From"], params["To"], params["Body"]) == ("+6281111111111", fake.number, "STATUS SLRT-12345")
    assert params["MessageSid"].startswith("SM") and params["AccountSid"] == fake.account_sid
    assert params["NumSegments"] == "1"


# ---- many threads ------------------------------------------------------------------------------

def test_many_threads_share_one_gateway(fake):
    # What is shared is the point, not the timeout: 16 threads and the fake share one process and
    # two CPUs, so an answer may take longer than the short TIMEOUT the timeout tests use.
    gateway = TwilioGateway(fake.account_sid, fake.auth_token, from_number=FROM, timeout=10, api_base=fake.url)

    def one(i):
        return send(gateway, body=f"pesan {i}", callback_url=f"https://slrt.example/sms/status/{i}")

    with ThreadPoolExecutor(16) as pool:
        sids = list(pool.map(one, range(160)))

    assert len(set(sids)) == 160 == fake.accepted_count()
    assert fake.duplicates() == {}
    assert len(fake.acceptance_times()) == 160


def test_duplicates_are_same_recipient_body_and_callback(gateway, fake):
    first = send(gateway, body="a", callback_url="https://slrt.example/sms/status/7")
    second = send(gateway, body="a", callback_url="https://slrt.example/sms/status/7")
    send(gateway, body="a", callback_url="https://slrt.example/sms/status/8")

    assert fake.duplicates() == {(TO, "a", "https://slrt.example/sms/status/7"): [first, second]}
