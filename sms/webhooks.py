"""Twilio's webhooks (delivery status callbacks, inbound SMS) and SMS Gateway for Android's (inbound SMS, receipts).

Every request must carry a valid X-Twilio-Signature (HMAC of the URL and form under
the auth token); anything else is refused with 403 and changes nothing. Nothing personal
is logged: message ids, statuses and error codes only. Exempt from CSRF (Twilio has no
session); the signature is the proof of origin.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re

from flask import Blueprint, Response, abort, current_app, request
from twilio.request_validator import RequestValidator

from slrt import clock, identity, inbound, outbox
from slrt.extensions import db, persist
from slrt.models.base import MAX_ROW_ID
from sms import android
from sms.twilio import STATUSES, classify

log = logging.getLogger(__name__)

bp = Blueprint("sms_webhooks", __name__, url_prefix="/sms")

_SID = re.compile(r"[A-Za-z0-9]{1,64}")
_PHONE = re.compile(r"[+0-9A-Za-z :()./-]{1,64}")
_TEXT = re.compile(r".{0,20000}", re.S)

#: What each field a provider's webhook may carry looks like (the whole value). A field of another
#: type (an object, a list, a number where text is due) or another shape is refused with 400 and
#: nothing is stored; text is made storable by the domain (slrt.text).
FIELDS = {
    # Twilio (form fields)
    "MessageSid": _SID, "SmsSid": _SID,
    "MessageStatus": re.compile(r"[a-z_]{1,32}"),
    "ErrorCode": re.compile(r"[0-9]{1,9}"),
    "ErrorMessage": _TEXT,
    "From": _PHONE,
    "Body": _TEXT,
    # SMS Gateway for Android (JSON payload); "android:" + the id fits our 64-character column
    "messageId": re.compile(r"[A-Za-z0-9._:-]{1,56}"),
    "sender": _PHONE, "phoneNumber": _PHONE,
    "message": _TEXT,
    "reason": _TEXT,
}


def fields(data, *, required: tuple[str, ...] = (), optional: tuple[str, ...] = ()) -> dict[str, str | None]:
    """The named fields of a webhook's form or JSON payload, each checked against FIELDS; 400 otherwise.

    A required field missing or empty is refused; an optional one is None.
    """
    found: dict[str, str | None] = {}
    for name in (*required, *optional):
        value = data.get(name)
        if value is None or value == "":
            if name in required:
                abort(400)
            found[name] = None
        elif isinstance(value, str) and FIELDS[name].fullmatch(value):
            found[name] = value
        else:
            abort(400)
    return found


def _sender(number: str) -> str:
    """The sender in E.164; a foreign or odd sender is still kept, as given (cut to the column)."""
    try:
        return identity.normalize_mobile(number)
    except Exception:  # noqa: BLE001
        return number[:16]


_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@bp.post("/twilio/status/<int:message_id>")
def twilio_status(message_id: int):
    """A message's status changed at Twilio; the URL carries our id (TwilioGateway.callback_path)."""
    _verify()
    if not 0 < message_id <= MAX_ROW_ID:
        abort(404)  # signed, but no message of ours has such an id
    form = fields(request.form, required=("MessageSid",), optional=("MessageStatus", "ErrorCode", "ErrorMessage"))
    status, sid, code = form["MessageStatus"] or "", form["MessageSid"], form["ErrorCode"]
    error = classify(code, message=form["ErrorMessage"] or "") if code else None

    def record():
        outbox.record_status(message_id, STATUSES.get(status, status), provider_id=sid, error=error)

    persist(record)
    log.info("sms status", extra={"sms_id": message_id, "status": status, "code": code})
    return Response(status=204)


@bp.post("/twilio/inbound")
def twilio_inbound():
    """An SMS to our number: stored and acted on (slrt.inbound); the reply goes through the outbox."""
    _verify()
    form = fields(request.form, required=("From",), optional=("MessageSid", "SmsSid", "Body"))
    sid = form["MessageSid"] or form["SmsSid"]
    if not sid:
        abort(400)
    phone = _sender(form["From"])

    def record():
        inbound.receive(phone=phone, body=form["Body"] or "", provider_id=sid, gateway="twilio")

    persist(record)
    log.info("sms received", extra={"provider_id": sid})
    return Response(_EMPTY_TWIML, mimetype="text/xml")


def _verify() -> None:
    """Refuse (403) a request Twilio did not sign with our auth token."""
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    signature = request.headers.get("X-Twilio-Signature", "")
    if token and signature:
        validator = RequestValidator(token)
        public = current_app.config["SLRT_PUBLIC_URL"].rstrip("/") + request.full_path.rstrip("?")
        params = request.form.to_dict()
        if validator.validate(public, params, signature) or validator.validate(request.url, params, signature):
            return
    log.warning("webhook refused: bad or missing signature", extra={"path": request.path})
    db.session.rollback()
    abort(403)


#: Seconds an SMS Gateway for Android webhook's X-Timestamp may be off our clock.
ANDROID_MAX_SKEW = 300
_STAMP = re.compile(r"[0-9]{1,12}")


#: SMS Gateway for Android's events about a message the phone sent -> what the outbox records.
ANDROID_RECEIPTS = {"sms:sent": "sent", "sms:delivered": "delivered", "sms:failed": "failed"}


@bp.post("/android/inbound")
@bp.post("/android/status")
def android_inbound():
    """A webhook from the Android phone (SMS Gateway for Android): an SMS it received, or a receipt.

    ``sms:received`` is stored and acted on; ``sms:sent``, ``sms:delivered`` and ``sms:failed``
    are delivery receipts for messages the phone sent for us. Either URL takes every event.
    """
    _verify_android()
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        abort(400)
    event = data.get("event")
    if event != "sms:received" and event not in ANDROID_RECEIPTS:
        return Response(status=204)  # system:ping, mms:...: nothing to do
    payload = data.get("payload")
    if not isinstance(payload, dict):
        abort(400)
    if event in ANDROID_RECEIPTS:
        return _android_receipt(ANDROID_RECEIPTS[event], fields(payload, required=("messageId",), optional=("reason",)))
    # ``phoneNumber`` is deprecated in favour of ``sender`` (older app versions send only it).
    payload = fields(payload, required=("messageId",), optional=("sender", "phoneNumber", "message"))
    if not (payload["sender"] or payload["phoneNumber"]):
        abort(400)
    phone = _sender(payload["sender"] or payload["phoneNumber"])
    provider_id = f"android:{payload['messageId']}"
    body = payload["message"] or ""

    def record():
        inbound.receive(phone=phone, body=body, provider_id=provider_id, gateway="android")

    persist(record)
    log.info("sms received", extra={"provider_id": provider_id})
    return Response(status=204)


def _android_receipt(status: str, payload: dict) -> Response:
    """Record what the phone says of a message it sent for us; its id is our reference ("slrt-<id>")."""
    reference = payload["messageId"]
    message_id = android.message_id_of(reference)
    if message_id is None:
        return Response(status=204)  # not one of ours (sent from the phone's own screen, ...)
    error = android.failure(payload["reason"]) if status == "failed" else None

    def record():
        outbox.record_status(message_id, status, provider_id=reference, error=error)

    persist(record)
    log.info("sms status", extra={"sms_id": message_id, "status": status, "gateway": "android"})
    return Response(status=204)


def _verify_android() -> None:
    """Refuse (403) a webhook not signed with our signing key, or signed too long ago.

    The app signs each webhook: X-Signature = hex HMAC-SHA256(key, raw body + X-Timestamp).
    """
    key = current_app.config.get("SLRT_ANDROID_SIGNING_KEY") or ""
    signature = request.headers.get("X-Signature", "")
    stamp = request.headers.get("X-Timestamp", "")
    # Unix seconds in ASCII digits (str.isdigit alone would take "١٢٣" and 5,000 digits int() refuses).
    if key and signature and _STAMP.fullmatch(stamp) and abs(clock.now().timestamp() - int(stamp)) <= ANDROID_MAX_SKEW:
        expected = hmac.new(key.encode(), request.get_data() + stamp.encode(), hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, signature.strip().lower()):
            return
    log.warning("webhook refused: bad, stale or missing signature", extra={"path": request.path})
    db.session.rollback()
    abort(403)
