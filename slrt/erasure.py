"""Erasure (UU PDP 27/2022): a resident's personal data anonymized on request or after the retention period.

What is erased: the NIK (its token, masked form and lookup hash: the old NIK no longer finds the row), the
name and its search words, the address, birth place, phone and its holder's name, the DTSEN programmes and
place in the family; the free text of the resident's cases, needs, referrals, timeline entries, follow-ups
and DTSEN proposals; the texts of every SMS to or from the resident or about their cases, and their phone
on those rows; refused rows of DTSEN imports that held the NIK. The family's KK number and address go too
when no other member (not erased) remains.

What is kept, the minimum the reports and the dashboard count (slrt.reports): the rows themselves and their
links, their statuses, dates, units, services, agencies, channels, urgencies and outcomes; the resident's
village, sex and birth year (the date becomes 1 January: columns that must hold a value, coarse enough),
their DTSEN status and the family's desil (the report's desil lines), SMS metadata (status, segments, cost).

An erased resident is marked by :data:`ERASED` in ``nik_masked``; an anonymized case by it in ``summary``.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, String, and_, case, exists, func, or_, select, update

from slrt import audit, clock, runs, text
from slrt.access import MANAGER_ROLES, SYSTEM_ACTOR, Actor, System, check_active, role_of
from slrt.codes import format_code
from slrt.errors import PermissionDenied, ValidationError
from slrt.extensions import db
from slrt.models import (
    AgencyContact,
    Case,
    CaseNeed,
    DtsenProposal,
    Event,
    FollowUp,
    Household,
    Referral,
    Resident,
    ResidentImportError,
    SmsAttempt,
    SmsMessage,
    Staff,
)
from slrt.models.enums import AuditAction, CaseStatus, SmsAudience, SmsStatus
from slrt.pii import ERASED, mask_numbers, vault
from slrt.residents import check_resident_scope
from slrt.workflow import ENDED

#: The longest reason kept (it goes to the audit log, not to any table of the resident).
REASON = Column("reason", String(500))
#: The job's name in slrt.runs (the operator's metrics).
RETENTION_RUN = "retention"


def is_erased(record: Resident | Household) -> bool:
    """Whether the resident's data (or the family card's number and address) was erased: nothing to reveal."""
    return (record.nik_masked if isinstance(record, Resident) else record.kk_masked) == ERASED


def open_cases(resident: Resident) -> list[Case]:
    """The resident's cases that are not over (neither closed nor cancelled): they block erasure."""
    return list(db.session.scalars(select(Case).where(Case.resident_id == resident.id, Case.status.not_in(ENDED))
                                   .order_by(Case.id)))


def check_may_erase(resident: Resident, actor: Actor) -> None:
    """Refuse anyone but a manager of the resident's village (or the system: the CLI, retention)."""
    check_active(actor)
    if isinstance(actor, System):
        return
    if role_of(actor) not in MANAGER_ROLES:
        raise PermissionDenied(_l("Only a manager may erase a resident's data."))
    check_resident_scope(actor, resident)


def clean_reason(reason: str | None) -> str:
    """The reason for an erasure or an export, required; stripped and checked like any text."""
    reason = text.clean(reason, REASON, field="reason", label=_l("Reason"), multiline=True)
    if not reason:
        raise ValidationError(_l("Give the reason (for example the resident's written request and its date)."),
                              field="reason")
    return mask_numbers(reason)  # the audit log keeps it for good: no NIK, KK or phone number in it


#: What the erased resident's name is replaced by in the reason the audit log keeps.
NAME_IN_REASON = "(nama warga)"


def without_name(reason: str, name: str | None) -> str:
    """``reason`` with the words of ``name`` (three letters or more, any letter case) replaced: the log keeps
    the reason for good, and it must not name the resident it erased."""
    words = sorted({word for word in re.findall(r"\w+", name or "") if len(word) >= 3}, key=len, reverse=True)
    if not words:
        return reason
    named = re.compile(r"\b(?:" + "|".join(re.escape(word) for word in words) + r")\b", re.IGNORECASE)
    reason = named.sub(NAME_IN_REASON, reason)
    return re.sub(rf"{re.escape(NAME_IN_REASON)}(?:\s+{re.escape(NAME_IN_REASON)})+", NAME_IN_REASON, reason)


def _check_erasable(resident: Resident, reason: str | None, actor: Actor) -> str:
    check_may_erase(resident, actor)
    _lock(resident.id)
    reason = without_name(clean_reason(reason), resident.name)
    if is_erased(resident):
        raise ValidationError(_l("This resident's data has already been erased."))
    still_open = open_cases(resident)
    if still_open:
        raise ValidationError(_l("The resident still has an open case (%(tickets)s): close or cancel it first.",
                                 tickets=", ".join(format_code(case.ticket) for case in still_open)))
    return reason


def _lock(resident_id: int) -> None:
    """Lock the resident's row before deciding to erase them. PostgreSQL: a case opened for them meanwhile
    waits on it (its foreign key), then sees them erased, or is seen as open. SQLite's write lock does the same."""
    db.session.execute(select(Resident.id).where(Resident.id == resident_id).with_for_update())


def erase_consequences(resident: Resident, *, reason: str | None, actor: Actor) -> list[str]:
    """What :func:`erase_resident` would do, in sentences for the confirmation page; raises as it would."""
    _check_erasable(resident, reason, actor)
    cases = db.session.scalar(select(func.count()).select_from(Case).where(Case.resident_id == resident.id))
    household = resident.household
    lines = [
        str(_l("Name, NIK, address, birth place and phone of %(name)s are replaced by \"%(erased)s\"; the NIK "
               "no longer finds anyone.", name=resident.name, erased=ERASED)),
        str(_l("The notes of their %(cases)s case(s), referrals and timelines, and the texts of SMS to and from "
               "them, are erased.", cases=cases)),
        str(_l("Kept for the reports: village, sex, birth year, DTSEN status and desil, and the cases' dates, "
               "services, agencies and statuses.")),
    ]
    if household is not None and _erase_household_too(household, resident):
        lines.append(str(_l("The family card (KK) and its address are erased too: no other member remains.")))
    lines.append(str(_l("This cannot be undone.")))
    return lines


def erase_resident(resident: Resident, *, reason: str, actor: Actor) -> None:
    """Anonymize ``resident`` and what is held about them (see the module's docstring); flushes.

    Refused without a reason, while a case of theirs is not over, and for anyone but a manager of
    their village or the system. The audit log keeps one entry: the fact, the reason and what was
    erased, never the values (the changes themselves are not logged field by field).
    """
    reason = _check_erasable(resident, reason, actor)
    with audit.changes_not_logged():
        facts = _erase(resident)
    audit.record(AuditAction.ERASE, record=resident, resident_ids=[resident.id], actor=actor,
                 detail={"reason": reason, **facts})


def _erase(resident: Resident) -> dict:
    """Anonymize the resident; what was erased, in counts (for the audit log)."""
    nik, phone = resident.nik, resident.phone
    case_ids = list(db.session.scalars(select(Case.id).where(Case.resident_id == resident.id)))
    _anonymize_cases(case_ids)
    messages = _erase_messages(resident, case_ids, phone)
    import_rows = _erase_import_rows({nik})
    household = resident.household

    resident.nik_encrypted = vault.encrypt(ERASED)
    resident.nik_hash = vault.lookup_hash("erased", secrets.token_hex(16))
    resident.nik_masked = ERASED
    resident.name = ERASED
    resident.name_words = []  # an erased resident is found by no word
    resident.address = ERASED
    resident.birth_place = None
    resident.birth_date = date(resident.birth_date.year, 1, 1)
    resident.phone = None
    resident.phone_owner_name = None
    resident.family_relation = None
    resident.dtsen_programmes = ""
    db.session.flush()
    household_erased = household is not None and _erase_household_too(household, resident)
    if household_erased:
        kk = household.kk_number
        household.kk_encrypted = vault.encrypt(ERASED)
        household.kk_hash = vault.lookup_hash("erased", secrets.token_hex(16))
        household.kk_masked = ERASED
        household.address = ERASED
        household.dtks_id = None
        import_rows += _erase_import_rows({kk})
        db.session.flush()
    return {"cases": len(case_ids), "messages": messages, "import_rows": import_rows,
            "household_erased": household_erased}


def _erase_household_too(household: Household, resident: Resident) -> bool:
    """Whether the family's KK goes with the resident: no other member left that is not erased."""
    return household.kk_masked != ERASED and not db.session.scalar(select(exists().where(
        Resident.household_id == household.id, Resident.id != resident.id, Resident.nik_masked != ERASED)))


def _anonymize_cases(case_ids: list[int]) -> None:
    """Blank the free text of these cases and of everything on them; the rows and their facts stay."""
    if not case_ids:
        return
    for chunk in _chunks(case_ids):
        referral_ids = select(Referral.id).where(Referral.case_id.in_(chunk))
        db.session.execute(update(Case).where(Case.id.in_(chunk)).values(
            summary=ERASED, outcome_note=_erased_if_set(Case.outcome_note), version=Case.version + 1))
        db.session.execute(update(CaseNeed).where(CaseNeed.case_id.in_(chunk), CaseNeed.note.is_not(None))
                           .values(note=None))
        db.session.execute(update(Referral).where(Referral.case_id.in_(chunk)).values(
            reason=_erased_if_set(Referral.reason), completion_note=_erased_if_set(Referral.completion_note),
            version=Referral.version + 1))
        # Timeline notes and the phones residents and contacts answered from (the contact stays named).
        db.session.execute(update(Event).where(Event.case_id.in_(chunk)).values(
            note=_erased_if_set(Event.note), actor_phone=None))
        db.session.execute(update(FollowUp).where(FollowUp.case_id.in_(chunk)).values(
            note=_erased_if_set(FollowUp.note), detail=None))
        db.session.execute(update(DtsenProposal).where(DtsenProposal.case_id.in_(chunk)).values(note=None))
        messages = select(SmsMessage.id).where(or_(SmsMessage.case_id.in_(chunk),
                                                   SmsMessage.referral_id.in_(referral_ids)))
        _blank_messages(list(db.session.scalars(messages)))
    db.session.expire_all()  # the objects in the session read the blanked values again


def _erased_if_set(column):
    """SQL: ERASED where the column holds a text, NULL stays NULL (a note that was never written)."""
    return case((column.is_(None), None), else_=ERASED)


def _blank_messages(ids: list[int]) -> None:
    """Erase the texts and the providers' error texts (they may quote the number) of these messages;
    one still waiting is not sent."""
    for chunk in _chunks(ids):
        db.session.execute(update(SmsMessage).where(SmsMessage.id.in_(chunk)).values(body=None, error_message=None)
                           .execution_options(synchronize_session=False))
        db.session.execute(update(SmsMessage).where(SmsMessage.id.in_(chunk),
                                                    SmsMessage.status == SmsStatus.PENDING)
                           .values(status=SmsStatus.DROPPED).execution_options(synchronize_session=False))
        db.session.execute(update(SmsAttempt).where(SmsAttempt.message_id.in_(chunk)).values(error_message=None)
                           .execution_options(synchronize_session=False))


def _erase_messages(resident: Resident, case_ids: list[int], phone: str | None) -> int:
    """Texts of every SMS to or from the resident or about their cases; the resident's phone on them.

    Rows with the resident's phone and nobody's name on them (texts from the phone before it was
    known, replies to it) go too, unless another resident or a contact still has that phone.
    """
    theirs = SmsMessage.resident_id == resident.id
    if case_ids:
        theirs = or_(theirs, and_(SmsMessage.case_id.in_(case_ids), SmsMessage.audience == SmsAudience.RESIDENT))
    if phone and not _phone_used_elsewhere(phone, resident):
        theirs = or_(theirs, and_(SmsMessage.phone == phone, SmsMessage.contact_id.is_(None),
                                  SmsMessage.staff_id.is_(None)))
    ids = list(db.session.scalars(select(SmsMessage.id).where(theirs)))
    _blank_messages(ids)
    for chunk in _chunks(ids):
        db.session.execute(update(SmsMessage).where(SmsMessage.id.in_(chunk), SmsMessage.audience ==
                                                    SmsAudience.RESIDENT).values(phone=ERASED)
                           .execution_options(synchronize_session=False))
    db.session.expire_all()
    return len(ids)


def _phone_used_elsewhere(phone: str, resident: Resident) -> bool:
    return bool(db.session.scalar(select(exists().where(Resident.phone == phone, Resident.id != resident.id)))
                or db.session.scalar(select(exists().where(AgencyContact.phone == phone)))
                or db.session.scalar(select(exists().where(Staff.phone == phone))))


def import_rows_holding(numbers: set[str]) -> list[tuple[ResidentImportError, list[str]]]:
    """Refused rows of DTSEN imports with one of ``numbers`` (a NIK, a KK) in a cell, and their cells.

    The cells are encrypted, so each row is read and decrypted; the table holds only refused rows.
    """
    numbers = {n for n in numbers if n}
    if not numbers:
        return []
    found = []
    for error in db.session.scalars(select(ResidentImportError).order_by(ResidentImportError.id)
                                    .execution_options(yield_per=500)):
        cells = json.loads(vault.decrypt(error.cells_encrypted))
        if any("".join(ch for ch in str(cell) if ch.isdigit()) in numbers for cell in cells):
            found.append((error, cells))
    return found


def _erase_import_rows(numbers: set[str]) -> int:
    """Blank every cell of the refused import rows holding one of ``numbers``; the row and its reason stay."""
    found = import_rows_holding(numbers)
    for error, cells in found:
        error.cells_encrypted = vault.encrypt(json.dumps([ERASED] * len(cells)))
    db.session.flush()
    return len(found)


def _chunks(ids: list[int], size: int = 500):
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


# ---- retention -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RetentionCounts:
    """What one retention run anonymized."""

    cases: int
    residents: int


def retention_cutoff(now: datetime) -> datetime:
    """The moment before which an ended case is anonymized: SLRT_RETENTION_YEARS before ``now``."""
    years = int(current_app.config["SLRT_RETENTION_YEARS"])
    try:
        return now.replace(year=now.year - years)
    except ValueError:  # 29 February
        return now.replace(year=now.year - years, day=28)


def _ended_before(cutoff: datetime):
    """SQL: the case ended (closed or cancelled) before ``cutoff``."""
    return or_(and_(Case.status == CaseStatus.CLOSED, Case.closed_at < cutoff),
               and_(Case.status == CaseStatus.CANCELLED, Case.cancelled_at < cutoff))


def retire_closed_cases(now: datetime | None = None, *, batch: int = 500) -> RetentionCounts:
    """Anonymize cases that ended more than SLRT_RETENTION_YEARS ago, and their residents when no newer case
    of theirs remains (they are erased as on request). Flushes; counts the run for the operator and
    logs it in the audit log (one entry: the cut-off, the counts, the residents touched)."""
    started = time.perf_counter()
    now = now or clock.now()
    cutoff = retention_cutoff(now)
    due = select(Case.id).where(_ended_before(cutoff), Case.summary != ERASED).order_by(Case.id)
    resident_ids: set[int] = set()
    with audit.changes_not_logged():
        case_count, erased = _retire(due, batch, cutoff, resident_ids)
    audit.record(AuditAction.RETENTION, resident_ids=resident_ids, rows=case_count, actor=SYSTEM_ACTOR,
                 detail={"cutoff": cutoff.isoformat(), "cases": case_count, "residents_erased": erased})
    runs.record(RETENTION_RUN, seconds=time.perf_counter() - started, items=case_count + erased)
    return RetentionCounts(case_count, erased)


def _retire(due, batch: int, cutoff: datetime, resident_ids: set[int]) -> tuple[int, int]:
    case_count = 0
    while True:
        chunk = list(db.session.scalars(due.limit(batch)))
        if not chunk:
            break
        resident_ids.update(db.session.scalars(select(Case.resident_id).where(Case.id.in_(chunk))))
        _anonymize_cases(chunk)
        case_count += len(chunk)
    erased = 0
    for resident_id in sorted(resident_ids):
        _lock(resident_id)
        resident = db.session.get(Resident, resident_id)
        newer = db.session.scalar(select(exists().where(Case.resident_id == resident_id, ~_ended_before(cutoff))))
        if resident is None or is_erased(resident) or newer:
            continue
        _erase(resident)
        erased += 1
    return case_count, erased

