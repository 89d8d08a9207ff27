"""Twilio's webhooks: delivery status callbacks and inbound SMS.

Every request must carry a valid X-Twilio-Signature (HMAC of the URL and form under
the auth token); anything else is refused with 403 and changes nothing. Nothing personal
is logged: message ids, statuses and error codes only. Exempt from CSRF (Twilio has no
session); the signature is the proof of origin.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, current_app, request
from twilio.request_validator import RequestValidator

from slrt import identity, inbound, outbox
from slrt.extensions import db, persist
from sms.twilio import STATUSES, classify

log = logging.getLogger(__name__)

bp = Blueprint("sms_webhooks", __name__, url_prefix="/sms")

_EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@bp.post("/twilio/status/<int:message_id>")
def twilio_status(message_id: int):
    """A message's status changed at Twilio; the URL carries our id (see sms.callback_url)."""
    _verify()
    form = request.form
    status, sid = form.get("MessageStatus", ""), form.get("MessageSid", "")
    code = form.get("ErrorCode") or None
    error = classify(code, message=form.get("ErrorMessage") or "") if code else None
    if not sid:
        abort(400)

    def record():
        outbox.record_status(message_id, STATUSES.get(status, status), provider_id=sid, error=error)

    persist(record)
    log.info("sms status", extra={"sms_id": message_id, "status": status, "code": code})
    return Response(status=204)


@bp.post("/twilio/inbound")
def twilio_inbound():
    """An SMS to our number: stored and acted on (slrt.inbound); the reply goes through the outbox."""
    _verify()
    form = request.form
    sid = form.get("MessageSid") or form.get("SmsSid")
    if not sid:
        abort(400)
    try:
        phone = identity.normalize_mobile(form.get("From", ""))
    except Exception:  # noqa: BLE001  (a foreign or odd sender is still kept, as given)
        phone = (form.get("From") or "")[:16]

    def record():
        inbound.receive(phone=phone, body=form.get("Body", ""), provider_id=sid, gateway="twilio")

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
