"""The SMS texts the workflow sends, and how they are filled in.

Defaults live here, in Bahasa Indonesia and English, each fitting one GSM-7 segment
with realistic data; a manager's edit is an SmsTemplate row that overrides one.
A message to a phone that is not the resident's own uses the ``.proxy`` variant,
which names no service or condition and never the word "miskin".
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from dataclasses import dataclass

from babel.dates import format_date
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import select

from slrt import clock, gsm
from slrt.access import Actor, check_keeps_settings
from slrt.errors import ValidationError
from slrt.extensions import db
from slrt.models import SmsTemplate, Staff
from slrt.models.enums import SmsEncoding

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

#: Suffix of the variant of a notice for a phone that is not the resident's own.
PROXY = ".proxy"

#: Each notice's name on screens (the outbox, the timeline, the template editor); a ``.proxy``
#: variant is named after its notice, "to a phone held for the resident".
NAMES = {
    "case_registered": _l("Case registered (ticket)"),
    "referral_made": _l("Referral made (where to go, what to bring)"),
    "referral_completed": _l("Referral completed (was the service received?)"),
    "referral_rejected": _l("Referral rejected"),
    "referral_cancelled": _l("Referral cancelled"),
    "case_closed": _l("Case closed"),
    "reply_status": _l("Reply: status of a ticket"),
    "reply_not_found": _l("Reply: ticket not found"),
    "reply_help_resident": _l("Reply: help for residents"),
    "reply_help_agency": _l("Reply: help for agencies"),
    "reply_error": _l("Reply: the command could not be done"),
    "reply_done": _l("Reply: agency answer recorded"),
    "reply_stopped": _l("Reply: SMS stopped"),
    "reply_started": _l("Reply: SMS on again"),
    "reply_not_registered": _l("Reply: number not registered"),
    "reply_verified": _l("Reply: service confirmed by the resident"),
    "reply_reopened": _l("Reply: referral reopened"),
    "staff_service_not_received": _l("To staff: resident did not receive the service"),
    "agency_new_referral": _l("To the agency: new referral"),
    "agency_reminder_digest": _l("To the agency: reminder of waiting referrals"),
    "agency_escalation": _l("To the agency head: referral not handled"),
    "staff_escalation": _l("To the supervisor: referral not handled"),
}

#: What each field of a template is filled with, for the managers who edit them.
FIELDS = {
    "office": _l("the office's name, as SMS are signed"),
    "ticket": _l("the case's ticket number, e.g. 48213-7"),
    "reply_to": _l("the number residents send SMS or call for information"),
    "first_name": _l("the resident's first name"),
    "resident_name": _l("the resident's full name"),
    "code": _l("the referral code, e.g. 97612-9"),
    "agency": _l("the agency's name in SMS"),
    "agency_address": _l("the agency's address"),
    "documents": _l("the documents to bring (shortened if the SMS gets too long)"),
    "due": _l("the date by which the agency should have answered"),
    "service": _l("the service's name in SMS"),
    "reason": _l("the agency's reason for rejecting"),
    "status": _l("the status in words"),
    "referrals": _l("each referral's code and status"),
    "reference": _l("the ticket number the resident sent"),
    "error": _l("why the command could not be done"),
    "body": _l("the numbered list of waiting referrals"),
}

#: Example values for the template editor's preview (made up: no real person's data).
EXAMPLE_VALUES = {
    "ticket": "48213-7", "first_name": "Sri", "resident_name": "Sri Wahyuni", "code": "97612-9",
    "agency": "Dinkes Blora", "agency_address": "Jl. Dr. Sutomo 42", "documents": "SKTM, FC KK, FC KTP, map",
    "due": "15 Des 2026", "service": "Aktivasi BPJS PBI", "reason": "berkas belum lengkap",
    "status": "diproses", "referrals": "97612-9 diterima", "reference": "48213-7",
    "error": "kode rujukan salah", "reply_to": "0296 531234",
    "body": "2 rujukan menunggu: 1) 97612-9 Aktivasi BPJS PBI 5hr 2) 97613-7 SKTM 3hr. Balas SELESAI 1",
}


def notice_name(key: str | None) -> str:
    """A notice's name in words for a template key (``referral_made.proxy`` too); an unknown key as it is."""
    if not key:
        return "-"
    base, proxy = (key[: -len(PROXY)], True) if key.endswith(PROXY) else (key, False)
    if base not in NAMES:
        return key
    if proxy:
        return str(_l("%(notice)s, to a phone held for the resident", notice=NAMES[base]))
    return str(NAMES[base])


def notice_choices() -> list[tuple[str, LazyString]]:
    """(key, name) of every notice, in the order above: a dropdown's options (named when shown)."""
    return [(key, LazyString(notice_name, key)) for key in DEFAULTS]


def allowed_fields(key: str) -> list[str]:
    """The fields notice ``key`` fills in, in the order its default text uses them."""
    seen: list[str] = []
    for _, name, _, _ in string.Formatter().parse(DEFAULTS[key]["id"]):
        if name and name not in seen:
            seen.append(name)
    return seen


def fields_of(key: str) -> list[tuple[str, str]]:
    """(field, what it is filled with) of each field notice ``key`` may use, for the template editor."""
    return [(name, str(FIELDS.get(name, name))) for name in allowed_fields(key)]


@dataclass(frozen=True)
class Preview:
    """A template filled with example values, as its reader would get it, and what it costs."""

    text: str
    encoding: SmsEncoding
    segments: int
    #: Characters (GSM-7 septets, UCS-2 units) it takes, and how many the parts it takes hold.
    length: int
    capacity: int
    #: The characters that made it UCS-2 (none for GSM-7).
    outside_gsm7: list[str]

    @property
    def ucs2_warning(self) -> str | None:
        """Which characters make the SMS UCS-2 and what that costs, or None when it stays GSM-7."""
        if not self.outside_gsm7:
            return None
        return ucs2_warning(" ".join(f"\u201c{ch}\u201d" for ch in self.outside_gsm7))


def ucs2_warning(chars: str) -> str:
    """Why ``chars`` (quoted, one or more) cost more: the template editor says it beside the text."""
    return str(_l("Not in the GSM-7 alphabet: %(chars)s. One such character makes the whole SMS UCS-2: "
                  "70 characters per SMS part instead of 160 (67 instead of 153 when it takes several parts). "
                  "Replace it to pay for fewer parts.", chars=chars))


def preview(body: str, office: str) -> Preview:
    """Template text ``body`` filled with example values (a field no notice has is left as written)."""
    body = gsm.normalize(body or "")
    values = {**EXAMPLE_VALUES, "office": office}
    text = "".join(literal + (values.get(name, f"{{{name}}}") if name else "")
                   for literal, name, _spec, _conv in _parts(body))
    encoding, count = gsm.segments(text)
    return Preview(text=text, encoding=encoding, segments=count, length=gsm.length_units(text, encoding),
                   capacity=gsm.segment_size(encoding, count) * count, outside_gsm7=gsm.outside_gsm7(text))


@dataclass(frozen=True)
class NoticeText:
    """One notice for the template editor: its name, default wording, fields and the managers' own."""

    key: str
    name: str
    default: str
    fields: list[tuple[str, str]]
    #: language -> id of the manager's own wording (SmsTemplate), where there is one.
    own: dict[str, int]


def catalogue(language: str = "id", templates: Iterable[SmsTemplate] | None = None) -> list[NoticeText]:
    """Every notice with its default text in ``language``, in the order of DEFAULTS; the managers' own
    wordings among ``templates`` (those a screen already read), or all of them."""
    own: dict[str, dict[str, int]] = {}
    rows = ((t.id, t.key, t.language) for t in templates) if templates is not None else db.session.execute(
        select(SmsTemplate.id, SmsTemplate.key, SmsTemplate.language))
    for template_id, key, lang in rows:
        own.setdefault(key, {})[lang] = template_id
    return [NoticeText(key=key, name=notice_name(key), default=texts.get(language, texts["id"]),
                       fields=fields_of(key), own=own.get(key, {}))
            for key, texts in DEFAULTS.items()]


def _parts(body: str) -> list[tuple[str, str | None, str | None, str | None]]:
    """``string.Formatter().parse`` of ``body``, or the text as it is when its braces do not pair."""
    try:
        return list(string.Formatter().parse(body))
    except ValueError:
        return [(body, None, None, None)]


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
        try:
            unknown = template_fields(body) - set(allowed_fields(key))
        except ValueError:  # an unmatched brace
            raise ValidationError(_l("Write each field in braces, like {ticket}; a lone { or } is not allowed."),
                                  field="body") from None
        if unknown:
            raise ValidationError(_l("Unknown fields: %(names)s. This notice may use: %(allowed)s.",
                                     names=", ".join(sorted(unknown)),
                                     allowed=", ".join(f"{{{name}}}" for name in allowed_fields(key))),
                                  field="body")
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
