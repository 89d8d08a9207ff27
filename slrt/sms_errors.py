"""What an SMS error or hold code means for the clerk who reads it, and what to do about it.

The gateways (sms/) classify a provider's codes for sending (retry, fail, pause); this table says
them in words for the screens: the outbox, the case page and the follow-ups. A code no entry
names is said as a generic failure with the code itself, never the provider's English.
"""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

from slrt.models import FollowUp, SmsMessage
from slrt.models.enums import FollowUpReason

#: Provider error codes (Twilio's numbers, the Android phone's ``http-<status>`` and ``phone-failed``,
#: the gateways' network codes) and the outbox's own reasons for dropping a message -> explanation.
EXPLANATIONS = {
    # the number: sending again cannot help, someone has to reach the resident another way
    "21211": _l("the number is not valid: check it with the resident, or reach them through the RT/RW"),
    "21614": _l("the number is not a mobile number: ask the resident for a mobile number"),
    "30005": _l("the number is not active: reach the resident through the RT/RW"),
    "30006": _l("a landline or an unreachable network: ask for another mobile number or visit"),
    "http-400": _l("the phone gateway refused the number: check it with the resident"),
    "phone-failed": _l("the office phone could not send it: check its SIM credit and signal"),
    # the handset: it may come back
    "30003": _l("the phone is off or out of coverage: it is tried again a few times"),
    "30008": _l("the network did not say why: it is tried again a few times"),
    # the resident's choice
    "21610": _l("the resident answered STOP: they get no more SMS until they send MULAI"),
    "opted_out": _l("not sent: the resident answered STOP"),
    "deceased": _l("not sent: DTSEN records the resident as deceased"),
    "stale": _l("not sent: the referral changed before the SMS went out (a newer SMS says so)"),
    # the text
    "30007": _l("filtered by the network as spam: a manager should review the template's wording"),
    # the account or the gateway: the managers are told, messages wait
    "10001": _l("the SMS account is not active: a manager must contact the provider"),
    "20003": _l("the SMS account's password was refused: a manager must check the settings"),
    "20403": _l("the SMS account is suspended: a manager must contact the provider"),
    "30002": _l("the SMS account is suspended: a manager must contact the provider"),
    "http-401": _l("the office phone refused the password: a manager must check its settings"),
    "http-403": _l("the office phone refused the request: a manager must check its settings"),
    # capacity and the line: sent again later by itself
    "20429": _l("too many SMS at once: sent again later by itself"),
    "30001": _l("too many SMS at once: sent again later by itself"),
    "21611": _l("too many SMS at once: sent again later by itself"),
    "http-429": _l("too many SMS at once: sent again later by itself"),
    "timeout": _l("the provider did not answer in time: checked and sent again later by itself"),
    "connect-timeout": _l("the provider could not be reached: sent again later by itself"),
    "connect-error": _l("the provider could not be reached: sent again later by itself"),
    "network-error": _l("the connection to the provider was lost: checked and sent again later by itself"),
    "bad-response": _l("the provider's answer could not be read: checked and sent again later by itself"),
    "lookup-failed": _l("the provider could not be asked about it: asked again later"),
}


def explain(code: str | None) -> str | None:
    """The explanation of an error or hold code in the reader's language; None when there is no code."""
    if not code:
        return None
    known = EXPLANATIONS.get(code)
    if known is None and code.startswith("http-5"):
        known = EXPLANATIONS["connect-error"]
    if known is None:
        return str(_l("not sent by the provider (code %(code)s): call or visit the resident", code=code))
    return str(known)


def message_problem(message: SmsMessage) -> str | None:
    """What went wrong with a message, in words, or None."""
    return explain(message.error_code)


def follow_up_detail(follow_up: FollowUp) -> str:
    """Why a follow-up was opened, in words a clerk can act on."""
    message = follow_up.message
    if follow_up.reason == FollowUpReason.SMS_FAILED and message is not None and message.error_code:
        return explain(message.error_code) or ""
    if follow_up.reason == FollowUpReason.NO_RECEIPT:
        hours = current_app.config["SLRT_RECEIPT_HOURS"]
        return str(_l("no delivery report within %(hours)s hours: make sure the resident got the message",
                      hours=f"{float(hours):g}"))
    return str(follow_up.reason.label)
