"""Subject access (UU PDP 27/2022): everything held about one resident, in one file for them.

:func:`subject_export` gives a ZIP with ``ringkasan.html`` (a print-friendly summary in Indonesian, no
script, every value escaped) and ``data.json`` (the same, machine-readable): identity and family card,
cases with their needs, referrals and timelines, follow-ups, SMS to and from the resident or about their
cases (metadata; texts while retained), DTSEN data and the changes imports made, DTSEN proposals, and the
processing history: the audit log's entries about them (who, when, what; making the file is one). Only
what is about this resident: the other members of the family are not named, agencies' contacts and staff
are named without their phones.
"""

from __future__ import annotations

import io
import itertools
import json
import zipfile
from datetime import date, datetime

from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from slrt import audit, clock, erasure, identity, notices, workflow
from slrt.access import MANAGER_ROLES, Actor, System, check_active, role_of
from slrt.codes import format_code
from slrt.errors import PermissionDenied
from slrt.extensions import db
from slrt.models import (
    AuditEntry,
    Case,
    CaseNeed,
    DtsenChange,
    DtsenProposal,
    Event,
    FollowUp,
    Referral,
    ReferralLetter,
    Resident,
    SmsMessage,
)
from slrt.models.enums import (
    AuditAction,
    AuditActor,
    CaseStatus,
    Channel,
    DtsenStatus,
    FollowUpReason,
    FollowUpStatus,
    Outcome,
    PhoneOwner,
    Programme,
    ReferralStatus,
    Sex,
    SmsAudience,
    SmsDirection,
    SmsStatus,
    Urgency,
    label_of,
)
from slrt.residents import check_resident_scope

#: Bumped when data.json changes shape.
FORMAT_VERSION = 1


def check_may_export(resident: Resident, actor: Actor) -> None:
    """A manager of the resident's village, or the system (the operator's CLI)."""
    check_active(actor)
    if isinstance(actor, System):
        return
    if role_of(actor) not in MANAGER_ROLES:
        raise PermissionDenied(_l("Only a manager may export everything held about a resident."))
    check_resident_scope(actor, resident)


def filename(resident: Resident) -> str:
    """The file's name: the resident's row id and the day, never the NIK."""
    return f"data-warga-{resident.id}-{clock.today():%Y%m%d}.zip"


def subject_export(resident: Resident, actor: Actor) -> bytes:
    """The ZIP of everything held about ``resident`` (``ringkasan.html`` and ``data.json``)."""
    check_may_export(resident, actor)
    # Logged first: the file's processing history ends with its own making.
    audit.record(AuditAction.SUBJECT_EXPORT, record=resident, resident_ids=[resident.id], actor=actor)
    data = subject_data(resident)
    with force_locale("id"):
        summary = render_summary(data)
    stamp = clock.to_local(clock.now()).timetuple()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in (("ringkasan.html", summary),
                              ("data.json", json.dumps(data, ensure_ascii=False, indent=2, default=_json_value))):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content.encode())
    return buffer.getvalue()


def _json_value(value):
    if isinstance(value, datetime):
        return clock.as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def _at(value: datetime | None) -> str | None:
    return clock.as_utc(value).isoformat() if value is not None else None


def _value(member) -> str | None:
    return getattr(member, "value", member)


# ---- the data ----------------------------------------------------------------------------------------

def subject_data(resident: Resident) -> dict:
    """Everything held about ``resident`` as plain values (codes, ISO dates in UTC), for data.json."""
    cases = list(db.session.scalars(
        select(Case).where(Case.resident_id == resident.id).order_by(Case.opened_at, Case.id).options(
            joinedload(Case.unit), joinedload(Case.assignee), joinedload(Case.opened_by),
            selectinload(Case.needs).joinedload(CaseNeed.service),
            selectinload(Case.referrals).joinedload(Referral.service),
            selectinload(Case.referrals).joinedload(Referral.agency),
            selectinload(Case.events).joinedload(Event.actor_staff),
            selectinload(Case.events).joinedload(Event.actor_contact))))
    case_ids = [case.id for case in cases]
    referral_ids = [r.id for case in cases for r in case.referrals]
    letters = {letter.referral_id: letter.reference for letter in db.session.scalars(
        select(ReferralLetter).where(ReferralLetter.referral_id.in_(referral_ids)))} if referral_ids else {}
    follow_ups = list(db.session.scalars(select(FollowUp).where(FollowUp.case_id.in_(case_ids))
                                         .order_by(FollowUp.created_at, FollowUp.id))) if case_ids else []
    proposals = list(db.session.scalars(select(DtsenProposal).where(DtsenProposal.case_id.in_(case_ids))
                                        .options(joinedload(DtsenProposal.proposed_by)))) if case_ids else []
    household = resident.household
    about = [DtsenChange.resident_id == resident.id]
    if household is not None:
        about.append(DtsenChange.household_id == household.id)
    changes = db.session.scalars(select(DtsenChange).where(or_(*about)).order_by(DtsenChange.at, DtsenChange.id))
    return {
        "format": FORMAT_VERSION,
        "made_at": _at(clock.now()),
        "resident": _identity(resident),
        "household": None if household is None else {
            "kk_number": household.kk_number, "address": household.address,
            "village": household.village.name, "village_code": household.village.code,
            "dtks_id": household.dtks_id, "desil": household.desil, "dtsen_as_of": household.dtsen_as_of,
            "registered_at": _at(household.created_at),
        },
        "cases": [_case(case, letters) for case in cases],
        "follow_ups": [{
            "case_ticket": next(format_code(c.ticket) for c in cases if c.id == f.case_id), "reason": _value(f.reason),
            "detail": f.detail, "status": _value(f.status), "created_at": _at(f.created_at),
            "done_at": _at(f.done_at), "done_by": f.done_by.username if f.done_by else None, "note": f.note,
        } for f in follow_ups],
        "sms": [_message(m) for m in _messages(resident, case_ids, referral_ids)],
        "dtsen_changes": [{
            "about": "resident" if change.resident_id == resident.id else "household",
            "import_id": change.import_id, "at": _at(change.at), "changes": change.changes,
        } for change in changes],
        "dtsen_refused_rows": [{
            "import_id": error.import_id, "row_number": error.row_number, "column": error.column,
            "why": error.message, "cells": cells,
        } for error, cells in erasure.import_rows_holding({resident.nik})],
        "processing": processing_history(resident),
        "dtsen_proposals": [{
            "case_ticket": next(format_code(c.ticket) for c in cases if c.id == p.case_id),
            "proposed_at": _at(p.proposed_at),
            "proposed_by": p.proposed_by.username if p.proposed_by else None, "note": p.note,
        } for p in proposals],
    }


def processing_history(resident: Resident) -> list[dict]:
    """The audit log's entries about the resident, oldest first: when, who (a staff username, a masked
    phone, the system or the server's operator), what, on which record. Not the other residents an
    entry also touched, nor the address it came from."""
    written = db.session.scalars(select(AuditEntry).where(audit.concerns(resident.id))
                                 .order_by(AuditEntry.id).execution_options(yield_per=1000))
    # This transaction's entries (the export's own) are written at its commit: after the ones stored.
    entries = itertools.chain(written, (e for e in audit.queued() if resident.id in e.resident_ids))
    return [{"at": _at(e.at), "who": e.actor_label, "actor_kind": _value(e.actor_kind), "action": _value(e.action),
             "record_type": e.record_type, "record_id": e.record_id, "rows": e.rows} for e in entries]


def _identity(resident: Resident) -> dict:
    return {
        "nik": resident.nik, "name": resident.name, "sex": _value(resident.sex), "birth_date": resident.birth_date,
        "birth_place": resident.birth_place, "address": resident.address, "village": resident.village.name,
        "village_code": resident.village.code, "phone": resident.phone, "phone_owner": _value(resident.phone_owner),
        "phone_owner_name": resident.phone_owner_name, "sms_language": resident.language,
        "sms_stopped": resident.is_sms_opted_out, "sms_stopped_at": _at(resident.sms_opted_out_at),
        "family_relation": resident.family_relation, "dtsen_status": _value(resident.dtsen_status),
        "dtsen_programmes": resident.dtsen_programmes.split(), "dtsen_as_of": resident.dtsen_as_of,
        "registered_at": _at(resident.created_at),
    }


def _case(case: Case, letters: dict[int, str]) -> dict:
    return {
        "ticket": format_code(case.ticket), "unit": case.unit.name, "channel": _value(case.channel),
        "summary": case.summary,
        "urgency": _value(case.urgency), "status": _value(case.status), "opened_at": _at(case.opened_at),
        "opened_by": case.opened_by.username, "assignee": case.assignee.username if case.assignee else None,
        "resolved_at": _at(case.resolved_at), "closed_at": _at(case.closed_at),
        "cancelled_at": _at(case.cancelled_at), "outcome": _value(case.outcome), "outcome_note": case.outcome_note,
        "needs": [{"service": need.service.name, "note": need.note} for need in case.needs],
        "referrals": [{
            "code": r.code, "service": r.service.name, "agency": r.agency.name, "status": _value(r.status),
            "due_at": _at(r.due_at), "sent_at": _at(r.sent_at), "accepted_at": _at(r.accepted_at),
            "completed_at": _at(r.completed_at), "rejected_at": _at(r.rejected_at),
            "cancelled_at": _at(r.cancelled_at), "reopened_at": _at(r.reopened_at), "reason": r.reason,
            "completion_note": r.completion_note, "documents_checked": list(r.documents_checked or []),
            "reopened_count": r.reopened_count, "resident_verification": _value(r.resident_verification),
            "letter": letters.get(r.id),
        } for r in case.referrals],
        "timeline": [{
            "at": _at(e.at), "action": e.action, "from": e.from_status, "to": e.to_status,
            "by": _event_actor(e), "referral": next((r.code for r in case.referrals if r.id == e.referral_id), None),
            "note": e.note,
        } for e in case.events],
    }


def _event_actor(event: Event) -> str:
    """Who acted: a staff username, an agency contact and agency (no phone), the resident, or the system."""
    if event.actor_staff is not None:
        return event.actor_staff.username
    if event.actor_contact is not None:
        return f"{event.actor_contact.name} ({event.actor_contact.agency.name})"
    if event.actor_phone:
        return "resident"
    return "system"


def _messages(resident: Resident, case_ids: list[int], referral_ids: list[int]) -> list[SmsMessage]:
    """SMS to or from the resident, and those about their cases (to agencies and staff too)."""
    theirs = [SmsMessage.resident_id == resident.id]
    if case_ids:
        theirs.append(SmsMessage.case_id.in_(case_ids))
    if referral_ids:
        theirs.append(SmsMessage.referral_id.in_(referral_ids))
    return list(db.session.scalars(select(SmsMessage).where(or_(*theirs)).options(joinedload(SmsMessage.contact))
                                   .order_by(SmsMessage.created_at, SmsMessage.id)))


def _message(m: SmsMessage) -> dict:
    to_resident = m.audience == SmsAudience.RESIDENT
    return {
        "direction": _value(m.direction), "audience": _value(m.audience),
        # The resident's own number (or the one held for them); an agency's or staff member's is not theirs.
        "phone": m.phone if to_resident else None,
        "agency": m.contact.agency.name if m.contact is not None else None,
        "notice": m.template_key, "status": _value(m.status), "segments": m.segments,
        "created_at": _at(m.created_at), "sent_at": _at(m.sent_at), "delivered_at": _at(m.delivered_at),
        "error_code": m.error_code, "body": m.body, "body_erased": m.body is None,
    }


# ---- the summary -----------------------------------------------------------------------------------

_STYLE = """body{font-family:sans-serif;max-width:60rem;margin:2rem auto;color:#111;line-height:1.4}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #999}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #bbb;padding:.25rem .4rem;
text-align:left;vertical-align:top}th{background:#eee}dl{display:grid;grid-template-columns:14rem 1fr;gap:.2rem}
dt{font-weight:bold}@media print{body{margin:0}h2{break-after:avoid}tr{break-inside:avoid}}"""


def _date(value: str | date | None, to: str = "minute") -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    return clock.format_date(value, to if isinstance(value, datetime) else "day")


def _or_dash(value) -> str:
    return "-" if value in (None, "", []) else str(value)


def _fields(pairs: list[tuple]) -> Markup:
    return Markup("<dl>{}</dl>").format(Markup("").join(
        Markup("<dt>{}</dt><dd>{}</dd>").format(label, _or_dash(value)) for label, value in pairs))


def _table(headers: list, rows: list[list]) -> Markup:
    if not rows:
        return Markup("<p>{}</p>").format(gettext("None."))
    head = Markup("").join(Markup("<th>{}</th>").format(h) for h in headers)
    body = Markup("").join(
        Markup("<tr>{}</tr>").format(Markup("").join(Markup("<td>{}</td>").format(_or_dash(c)) for c in row))
        for row in rows)
    return Markup("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>").format(head, body)


def _status(value: str | None) -> str:
    for enum in (CaseStatus, ReferralStatus):
        try:
            return workflow.status_label(enum(value))
        except ValueError:
            continue
    return _or_dash(value)


def render_summary(data: dict) -> str:
    """``ringkasan.html``: the data in words, in the current locale (Indonesian for the resident)."""
    person, household = data["resident"], data["household"]
    parts = [
        Markup("<h1>{}</h1>").format(gettext("Personal data held by SLRT about %(name)s", name=person["name"])),
        Markup("<p>{}</p>").format(gettext(
            "Made on %(when)s at your request (UU PDP 27/2022). data.json, in the same file, holds the same data "
            "for a computer.", when=_date(data["made_at"]))),
        Markup("<h2>{}</h2>").format(gettext("Identity")),
        _fields([
            ("NIK", person["nik"]), (gettext("Name"), person["name"]),
            (gettext("Sex"), label_of(Sex, person["sex"])), (gettext("Birth date"), _date(person["birth_date"])),
            (gettext("Birth place"), person["birth_place"]), (gettext("Address"), person["address"]),
            (gettext("Village"), f"{person['village']} ({person['village_code']})"),
            (gettext("Phone"), identity.display_phone(person["phone"]) if person["phone"] else None),
            (gettext("Whose phone"), label_of(PhoneOwner, person["phone_owner"])),
            (gettext("Phone holder"), person["phone_owner_name"]),
            (gettext("SMS stopped"), gettext("yes") if person["sms_stopped"] else gettext("no")),
            (gettext("Registered"), _date(person["registered_at"])),
        ]),
        Markup("<h2>{}</h2>").format(gettext("Family card (KK)")),
        Markup("<p>{}</p>").format(gettext("No family card registered.")) if household is None else _fields([
            (gettext("KK number"), household["kk_number"]), (gettext("Address"), household["address"]),
            (gettext("Village"), household["village"]), ("DTKS", household["dtks_id"]),
        ]),
        Markup("<h2>{}</h2>").format("DTSEN"),
        _fields([
            (gettext("Status"), label_of(DtsenStatus, person["dtsen_status"]) if person["dtsen_status"]
             else gettext("not in DTSEN")),
            (gettext("DTSEN desil"), household["desil"] if household else None),
            (gettext("Programmes"), ", ".join(str(label_of(Programme, p)) for p in person["dtsen_programmes"])),
            (gettext("DTSEN data as of"), _date(person["dtsen_as_of"] or (household or {}).get("dtsen_as_of"))),
        ]),
        Markup("<h3>{}</h3>").format(gettext("Changes made by DTSEN imports")),
        _table([gettext("When"), gettext("About"), gettext("Changed fields")], [
            [_date(c["at"]), gettext("you") if c["about"] == "resident" else gettext("your family"),
             ", ".join(sorted(c["changes"]))] for c in data["dtsen_changes"]]),
        Markup("<p>{}</p>").format(gettext("Rows about you that a DTSEN import refused: %(rows)s",
                                           rows="; ".join(f"{r['row_number']}: {r['why']}"
                                                          for r in data["dtsen_refused_rows"])))
        if data["dtsen_refused_rows"] else Markup(""),
        _table([gettext("Ticket"), gettext("Proposed"), gettext("By"), gettext("Note")], [
            [p["case_ticket"], _date(p["proposed_at"]), p["proposed_by"], p["note"]] for p in data["dtsen_proposals"]])
        if data["dtsen_proposals"] else Markup(""),
        Markup("<h2>{}</h2>").format(gettext("Cases")),
    ]
    if not data["cases"]:
        parts.append(Markup("<p>{}</p>").format(gettext("None.")))
    for case in data["cases"]:
        parts += [
            Markup("<h3>{}</h3>").format(gettext("Ticket %(ticket)s", ticket=case["ticket"])),
            _fields([
                (gettext("Unit"), case["unit"]), (gettext("Channel"), label_of(Channel, case["channel"])),
                (gettext("What you said"), case["summary"]), (gettext("Urgency"), label_of(Urgency, case["urgency"])),
                (gettext("Status"), _status(case["status"])), (gettext("Opened"), _date(case["opened_at"])),
                (gettext("Closed"), _date(case["closed_at"] or case["cancelled_at"])),
                (gettext("Outcome"), label_of(Outcome, case["outcome"]) if case["outcome"] else None),
                (gettext("Closing note"), case["outcome_note"]),
                (gettext("Needs"), "; ".join(n["service"] + (f" ({n['note']})" if n["note"] else "")
                                            for n in case["needs"])),
            ]),
            _table([gettext("Referral"), gettext("Service"), gettext("Agency"), gettext("Status"), gettext("Sent"),
                    gettext("Due"), gettext("Note")], [
                [r["code"], r["service"], r["agency"], _status(r["status"]), _date(r["sent_at"]), _date(r["due_at"]),
                 r["reason"] or r["completion_note"]] for r in case["referrals"]]),
            _table([gettext("When"), gettext("What"), gettext("By"), gettext("Note")], [
                [_date(e["at"]), str(workflow.ACTION_LABELS.get(e["action"], e["action"])), _actor_words(e["by"]),
                 e["note"]] for e in case["timeline"]]),
        ]
    parts += [
        Markup("<h2>{}</h2>").format(gettext("Follow-ups by phone or visit")),
        _table([gettext("Ticket"), gettext("Why"), gettext("Status"), gettext("When"), gettext("Note")], [
            [f["case_ticket"], label_of(FollowUpReason, f["reason"]), label_of(FollowUpStatus, f["status"]),
             _date(f["created_at"]), f["note"]] for f in data["follow_ups"]]),
        Markup("<h2>{}</h2>").format(gettext("SMS")),
        Markup("<p>{}</p>").format(gettext("Texts are erased after the retention period; what was sent stays listed.")),
        _table([gettext("When"), gettext("Direction"), gettext("To or from"), gettext("Notice"), gettext("Status"),
                gettext("Text")], [
            [_date(m["created_at"]), label_of(SmsDirection, m["direction"]),
             identity.display_phone(m["phone"]) if m["phone"] else m["agency"] or label_of(SmsAudience, m["audience"]),
             notices.notice_name(m["notice"]), label_of(SmsStatus, m["status"]),
             m["body"] if m["body"] is not None else gettext("(erased)")] for m in data["sms"]]),
    ]
    parts += [
        Markup("<h2>{}</h2>").format(gettext("Who saw or changed your data")),
        _table([gettext("When"), gettext("Who"), gettext("What"), gettext("Record")], [
            [_date(p["at"]), _who(p), label_of(AuditAction, p["action"]), _record_words(p)]
            for p in data["processing"]]),
    ]
    title = gettext("Your data at SLRT")
    return str(Markup('<!DOCTYPE html>\n<html lang="id"><head><meta charset="utf-8"><title>{}</title>'
                      '<style>{}</style></head><body>{}</body></html>\n').format(
        title, Markup(_STYLE), Markup("\n").join(parts)))


def _who(entry: dict) -> str:
    """A staff username as it is; the others with what they are ("sistem", "petugas server: root@host")."""
    if entry["actor_kind"] == AuditActor.STAFF:
        return entry["who"]
    return f"{label_of(AuditActor, entry['actor_kind'])}: {entry['who']}"


def _record_words(entry: dict) -> str:
    if entry["record_type"] is None:
        return gettext("a list of %(rows)s row(s)", rows=entry["rows"]) if entry["rows"] is not None else "-"
    words = {"resident": gettext("your data"), "household": gettext("your family card"), "case": gettext("case"),
             "referral": gettext("referral"), "sms": "SMS"}.get(entry["record_type"], entry["record_type"])
    return f"{words} #{entry['record_id']}" if entry["record_id"] is not None else words


def _actor_words(by: str) -> str:
    return {"resident": gettext("you (by SMS)"), "system": gettext("the system")}.get(by, by)

