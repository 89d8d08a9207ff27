"""The SMS texts the workflow sends, and how they are filled in.

Defaults live here, in Bahasa Indonesia and English, each fitting one GSM-7 segment
with realistic data; a manager's edit is an SmsTemplate row that overrides one.
A message to a phone that is not the resident's own uses the ``.proxy`` variant,
which names no service or condition and never the word "miskin".
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from babel.dates import format_date
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from slrt import clock, gsm
from slrt.access import Actor, check_keeps_settings
from slrt.errors import ValidationError
from slrt.extensions import db
from slrt.models import SmsTemplate, Staff

DEFAULTS: dict[str, dict[str, str]] = {
    "case_registered": {
        "id": "{office}: pengaduan Anda tercatat, tiket {ticket}. Cek status: SMS CEK {ticket} ke {reply_to}.",
        "en": "{office}: your request is registered, ticket {ticket}. Status: SMS CEK {ticket} to {reply_to}.",
    },
    "case_registered.proxy": {
        "id": "{office}: pengaduan {first_name} tercatat, tiket {ticket}. Mohon sampaikan. Info: {reply_to}.",
        "en": "{office}: {first_name}'s request is registered, ticket {ticket}. Please pass it on. Info: {reply_to}.",
    },
    "referral_made": {
        "id": "{office}: rujukan {code} ke {agency}, {agency_address}. Bawa: {documents}. Paling lambat {due}.",
        "en": "{office}: referral {code} to {agency}, {agency_address}. Bring: {documents}. By {due}.",
    },
    "referral_made.proxy": {
        "id": "{office}: utk {first_name}, rujukan {code} ke {agency}, {agency_address}. Bawa: {documents}.",
        "en": "{office}: for {first_name}, referral {code} to {agency}, {agency_address}. Bring: {documents}.",
    },
    "referral_completed": {
        "id": "{office}: rujukan {code} ({service}) diselesaikan {agency}. Apakah layanan sudah Anda terima? "
              "Balas 1 Ya / 2 Belum",
        "en": "{office}: referral {code} ({service}) was completed by {agency}. Did you receive the service? "
              "Reply 1 Yes / 2 Not yet",
    },
    "referral_completed.proxy": {
        "id": "{office}: rujukan {code} utk {first_name} sudah selesai. Sudah diterima? Balas 1 Ya / 2 Belum",
        "en": "{office}: referral {code} for {first_name} is done. Received? Reply 1 Yes / 2 Not yet",
    },
    "referral_rejected": {
        "id": "{office}: rujukan {code} ditolak {agency}: {reason}. Hubungi {reply_to}.",
        "en": "{office}: referral {code} was declined by {agency}: {reason}. Call {reply_to}.",
    },
    "referral_rejected.proxy": {
        "id": "{office}: ada kabar rujukan {code} utk {first_name}. Mohon hubungi {reply_to}.",
        "en": "{office}: news on referral {code} for {first_name}. Please call {reply_to}.",
    },
    "referral_cancelled": {
        "id": "{office}: rujukan {code} ke {agency} dibatalkan. Info: {reply_to}.",
        "en": "{office}: referral {code} to {agency} was cancelled. Info: {reply_to}.",
    },
    "referral_cancelled.proxy": {
        "id": "{office}: ada kabar rujukan {code} utk {first_name}. Mohon hubungi {reply_to}.",
        "en": "{office}: news on referral {code} for {first_name}. Please call {reply_to}.",
    },
    "case_closed": {
        "id": "{office}: pengaduan tiket {ticket} sudah ditutup. Terima kasih. Info: {reply_to}.",
        "en": "{office}: request {ticket} is closed. Thank you. Info: {reply_to}.",
    },
    # Replies to SMS commands (slrt.inbound); they go out at once, quiet hours or not.
    "reply_status": {
        "id": "{office}: tiket {ticket} {status}. Rujukan: {referrals}",
        "en": "{office}: ticket {ticket} {status}. Referrals: {referrals}",
    },
    "reply_not_found": {
        "id": "{office}: tiket {reference} tidak ditemukan untuk nomor ini. Periksa nomor tiket Anda.",
        "en": "{office}: ticket {reference} was not found for this number. Check your ticket number.",
    },
    "reply_help_resident": {
        "id": "{office}: ketik CEK <nomor tiket>, mis. CEK 48213-7. Berhenti SMS: STOP. Info: {reply_to}",
        "en": "{office}: send CEK <ticket number>, e.g. CEK 48213-7. No more SMS: STOP. Info: {reply_to}",
    },
    "reply_help_agency": {
        "id": "{office}: balas TERIMA, PROSES atau SELESAI <kode>, atau TOLAK <kode> <alasan>. "
              "Kode = no. rujukan atau urutan di SMS pengingat.",
        "en": "{office}: reply TERIMA, PROSES or SELESAI <code>, or TOLAK <code> <reason>. "
              "Code = referral no. or its place in the reminder.",
    },
    "reply_error": {
        "id": "{office}: {error}",
        "en": "{office}: {error}",
    },
    "reply_done": {
        "id": "{office}: rujukan {code} {service} tercatat: {status}. Terima kasih.",
        "en": "{office}: referral {code} {service} recorded: {status}. Thank you.",
    },
    "reply_stopped": {
        "id": "{office}: Anda tidak akan menerima SMS pemberitahuan lagi. Ketik MULAI untuk menerima kembali.",
        "en": "{office}: you will get no more notices by SMS. Send MULAI to get them again.",
    },
    "reply_started": {
        "id": "{office}: SMS pemberitahuan aktif kembali. Ketik STOP untuk berhenti.",
        "en": "{office}: SMS notices are on again. Send STOP to end them.",
    },
    "reply_not_registered": {
        "id": "{office}: nomor ini tidak terdaftar. Info: {reply_to}",
        "en": "{office}: this number is not registered. Info: {reply_to}",
    },
    "reply_verified": {
        "id": "{office}: terima kasih, konfirmasi rujukan {code} tercatat.",
        "en": "{office}: thank you, your confirmation for referral {code} is recorded.",
    },
    "reply_reopened": {
        "id": "{office}: maaf, rujukan {code} kami buka kembali. Petugas akan menghubungi Anda.",
        "en": "{office}: sorry, referral {code} is reopened. Our staff will contact you.",
    },
    "staff_service_not_received": {
        "id": "{office}: warga tiket {ticket} membalas belum menerima layanan rujukan {code} ({agency}). "
              "Mohon tindak lanjut.",
        "en": "{office}: the resident of ticket {ticket} says referral {code} ({agency}) never came. "
              "Please follow up.",
    },
    "agency_new_referral": {
        "id": "{office}: rujukan baru {code} {service} a.n. {resident_name}, batas {due}. Balas TERIMA {code}",
        "en": "{office}: new referral {code} {service} for {resident_name}, due {due}. Reply TERIMA {code}",
    },
    # Reminders and escalation (slrt.reminders): the digest's numbered list is composed there.
    "agency_reminder_digest": {
        "id": "{office}: {body}",
        "en": "{office}: {body}",
    },
    "agency_escalation": {
        "id": "{office}: rujukan {code} {service} ke {agency}, batas {due}, belum ditangani. Balas PROSES {code}",
        "en": "{office}: referral {code} {service} to {agency}, due {due}, not handled. Reply PROSES {code}",
    },
    "staff_escalation": {
        "id": "{office}: rujukan {code} (tiket {ticket}) ke {agency}, batas {due}, belum ditangani. "
              "Pimpinan lembaga sudah diberi tahu.",
        "en": "{office}: referral {code} (ticket {ticket}) to {agency}, due {due}, not handled. "
              "The agency head was told.",
    },
}

#: Which variable gives way (is shortened) when a filled template would need two segments.
_ELASTIC = {
    "referral_made": "documents",
    "referral_made.proxy": "documents",
    "referral_rejected": "reason",
    "agency_new_referral": "resident_name",
    "reply_status": "referrals",
    "reply_error": "error",
}


#: Templates whose key starts so answer an SMS command (slrt.inbound): they go out at once.
REPLY_PREFIX = "reply_"
#: A reply is never billed as more than this, whatever the SMS it answers held.
MAX_REPLY_SEGMENTS = 2


def is_reply(key: str | None) -> bool:
    """Is this the answer to someone who just texted us (no quiet hours, capped per phone)?"""
    return (key or "").startswith(REPLY_PREFIX)


@dataclass(frozen=True)
class Rendered:
    key: str
    body: str
    encoding: object
    segments: int


def template_body(key: str, language: str) -> str:
    """Return the manager's text for ``key`` in ``language``, else the default."""
    language = language if language in ("id", "en") else "id"
    row = db.session.scalar(select(SmsTemplate.body).where(SmsTemplate.key == key, SmsTemplate.language == language))
    if row:
        return row
    return DEFAULTS[key][language]


def template_fields(body: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(body) if name}


def check_template(key: str | None, body: str | None) -> str:
    """Return a manager's text for notice ``key`` as it will be sent (GSM-7 where it can be), or refuse it.

    The text may use only the fields its notice fills in, and never the word "miskin" (poor):
    a resident's SMS is read by whoever holds the phone.
    """
    if not body:
        raise ValidationError(_l("The text cannot be empty."), field="body")
    body = gsm.normalize(body)
    if key in DEFAULTS:
        unknown = template_fields(body) - template_fields(DEFAULTS[key]["id"])
        if unknown:
            raise ValidationError(_l("Unknown fields: %(names)s.", names=", ".join(sorted(unknown))), field="body")
    if "miskin" in body.lower():
        raise ValidationError(_l("Do not use the word \"miskin\" in SMS."), field="body")
    return body


def save_template(template: SmsTemplate | None, *, key: str, language: str, body: str,
                  actor: Actor) -> SmsTemplate:
    """Store a manager's wording of one notice (a new row if ``template`` is None): checked, signed,
    and no longer flagged as spam, since a manager has reviewed it."""
    check_keeps_settings(actor)
    body = check_template(key, body)
    other = db.session.scalar(select(SmsTemplate.id).where(SmsTemplate.key == key, SmsTemplate.language == language))
    if other is not None and (template is None or other != template.id):
        raise ValidationError(_l("This notice already has its own text in this language: edit that one."),
                              field="key")
    if template is None:
        template = SmsTemplate()
        db.session.add(template)
    template.key, template.language, template.body = key, language, body
    template.updated_by_id = actor.id if isinstance(actor, Staff) else None
    template.is_flagged = False
    db.session.flush()
    return template


def render(key: str, language: str, context: dict[str, object]) -> Rendered:
    """Fill template ``key``; shorten its elastic field so it keeps to one segment if it can."""
    body = template_body(key, language)
    values = {name: gsm.normalize(str(context.get(name, ""))) for name in template_fields(body)}
    text = gsm.normalize(body.format(**values))
    elastic = _ELASTIC.get(key)
    if elastic and elastic in values:
        encoding, count = gsm.segments(text)
        while count > 1 and len(values[elastic]) > 8:
            values[elastic] = values[elastic][: max(len(values[elastic]) - 10, 8)].rstrip(" ,") + ".."
            text = gsm.normalize(body.format(**values))
            encoding, count = gsm.segments(text)
    if is_reply(key):
        text = gsm.truncate(text, MAX_REPLY_SEGMENTS)
    encoding, count = gsm.segments(text)
    return Rendered(key=key, body=text, encoding=encoding, segments=count)


def short_date(moment, language: str) -> str:
    """Return a due date as residents read it: 5 Des 2026 (local time)."""
    return format_date(clock.to_local(moment).date(), "d MMM yyyy", locale="id" if language != "en" else "en")
