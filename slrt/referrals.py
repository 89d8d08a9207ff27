"""Referrals: refer a case's need to an agency and record the agency's answers."""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from slrt import clock, notices, outbox, residents, text, workdays, workflow
from slrt.access import INTAKE_ROLES, REFERRAL_ROLES, Actor, check_case_scope, check_referral_scope, role_of
from slrt.codes import format_code, new_code
from slrt.errors import DomainError, IllegalTransition, PermissionDenied, ValidationError
from slrt.extensions import db
from slrt.models import Agency, Case, Document, Event, Referral, Service
from slrt.models.enums import (
    REFERRAL_ACTIVE,
    CaseStatus,
    EscalationRung,
    EventKind,
    ReferralStatus,
    ResidentVerification,
)
from slrt.workflow import REFERRAL_MOVES


class DuplicateReferral(DomainError):
    """The resident already has an active referral for this service; confirm to refer again."""

    def __init__(self, message, existing: list[Referral]) -> None:
        super().__init__(message, field="service")
        self.existing = existing


def active_referrals_for(case: Case, service: Service) -> list[Referral]:
    """Active referrals of the case's resident (same NIK) for ``service``, in any unit."""
    return list(
        db.session.scalars(
            select(Referral)
            .join(Referral.case)
            .where(
                Case.resident_id == case.resident_id,
                Referral.service_id == service.id,
                Referral.status.in_(REFERRAL_ACTIVE),
            )
            .order_by(Referral.sent_at)
        )
    )


def refer(
    case: Case,
    *,
    service: Service,
    actor: Actor,
    agency: Agency | None = None,
    documents_checked: Iterable[str] = (),
    confirm_duplicate: bool = False,
) -> Referral:
    """Refer one need of ``case`` to ``agency`` (the service's default if None).

    The due date is the SLA in working days from today. The resident is told where to go
    and what to bring, the agency's contacts that a referral is waiting. If the resident
    already has an active referral for the service — here or in another unit — this
    raises DuplicateReferral unless ``confirm_duplicate`` is set.
    """
    check_case_scope(actor, case)
    if role_of(actor) not in REFERRAL_ROLES:
        raise PermissionDenied(_l("Your role may not %(action)s this.", action=workflow.ACTION_LABELS["refer"]))
    with db.session.begin_nested():
        workflow.lock(case)
        if case.status not in workflow.REFERABLE:
            raise IllegalTransition(_l("Cannot %(action)s: it is %(status)s.",
                                       action=workflow.ACTION_LABELS["refer"],
                                       status=workflow.status_label(case.status)))
        if not service.is_active:
            raise ValidationError(_l("Service no longer offered: %(names)s.", names=service.name), field="service")
        agency = agency or service.default_agency
        if agency is None:
            raise ValidationError(_l("Choose the agency to refer to."), field="agency")
        if not agency.is_active:
            raise ValidationError(_l("%(agency)s no longer takes referrals.", agency=agency.name), field="agency")
        required = {d.code for d in service.documents}
        checked = [c for c in dict.fromkeys(documents_checked)]
        unknown = [c for c in checked if c not in required]
        if unknown:
            raise ValidationError(_l("Not a document of this service: %(codes)s.", codes=", ".join(unknown)),
                                  field="documents_checked")
        existing = active_referrals_for(case, service)
        if existing and not confirm_duplicate:
            other = existing[0]
            if other.case.unit_id != case.unit_id:
                message = _l("%(service)s is already referred for this resident by %(unit)s (referral %(code)s). "
                             "Confirm to refer again.", service=service.name, unit=other.case.unit.name,
                             code=format_code(other.code))
            else:
                message = _l("%(service)s is already referred for this resident (referral %(code)s). "
                             "Confirm to refer again.", service=service.name, code=format_code(other.code))
            raise DuplicateReferral(message, existing)

        now = clock.now()
        referral = Referral(
            code=new_code(),
            case=case,
            service=service,
            agency=agency,
            status=ReferralStatus.SENT,
            due_at=workdays.due_at(clock.to_local(now).date(), service.sla_days),
            documents_checked=checked,
            created_by=actor,
            sent_at=now,
        )
        db.session.add(referral)
        event = workflow.record(referral, "refer", actor, to_status=ReferralStatus.SENT, at=now)
        workflow.after_referral_change(case, actor)
        _notify_referral_made(referral, event)
    return referral


def unticked_documents(service: Service, documents_checked: Iterable[str]) -> list[Document]:
    """The documents ``service`` requires that are not among ``documents_checked``, in catalogue order."""
    checked = set(documents_checked)
    return [d for d in service.documents if d.code not in checked]


def missing_documents(referral: Referral) -> list[Document]:
    """The documents the referral's service requires that were not ticked when it was sent:
    what the resident still has to bring (shown on the slip and the case page)."""
    return unticked_documents(referral.service, referral.documents_checked or ())


def record_documents(referral: Referral, documents: Iterable[str], *, actor: Actor) -> list[Document]:
    """Tick documents the resident brought after the referral was sent; returns those newly ticked.

    Any staff member of the case's units may (the counter receives them), while the referral is
    still with the agency; the timeline notes which.
    """
    check_referral_scope(actor, referral)
    if role_of(actor) not in INTAKE_ROLES:
        raise PermissionDenied(_l("Your role may not %(action)s this.", action=workflow.ACTION_LABELS["documents"]))
    with db.session.begin_nested():
        workflow.lock(referral)
        if referral.status not in REFERRAL_ACTIVE:
            raise IllegalTransition(_l("Cannot %(action)s: it is %(status)s.",
                                       action=workflow.ACTION_LABELS["documents"],
                                       status=workflow.status_label(referral.status)))
        chosen = set(documents)
        unknown = chosen - {d.code for d in referral.service.documents}
        if unknown:
            raise ValidationError(_l("Not a document of this service: %(codes)s.", codes=", ".join(sorted(unknown))),
                                  field="documents")
        brought = [d for d in missing_documents(referral) if d.code in chosen]
        if not brought:
            raise ValidationError(_l("Tick the documents the resident brought."), field="documents")
        referral.documents_checked = [*referral.documents_checked, *(d.code for d in brought)]
        workflow.record(referral, "documents", actor, kind=EventKind.NOTE,
                        note=", ".join(d.name for d in brought)[:1000])
    return brought


def move_consequences(referral: Referral, name: str, *, actor: Actor, note: str | None = None) -> list[str]:
    """What move ``name`` ("reject", "cancel") will do to ``referral``, for the confirmation screen.

    Raises what the move itself would (scope, state, role, a missing reason), so nothing
    is confirmed that would then be refused.
    """
    check_referral_scope(actor, referral)
    note = text.clean(note, Referral.reason, field="note", label=_l("reason"), multiline=True)
    workflow.check(REFERRAL_MOVES, name, referral, actor, note)
    what = {"code": format_code(referral.code), "service": referral.service.name, "agency": referral.agency.name,
            "reason": note}
    resident = referral.case.resident
    if name == "reject":
        said = [str(_l("Referral %(code)s (%(service)s) is recorded as rejected by %(agency)s; reason: %(reason)s.",
                       **what)),
                residents.sms_line(resident, _l("the referral was rejected, with the reason."))]
    elif name == "cancel":
        said = [str(_l("Referral %(code)s (%(service)s) to %(agency)s is cancelled; reason: %(reason)s.", **what)),
                residents.sms_line(resident, _l("the referral was cancelled, with the reason."))]
    else:
        said = []
    others = [r for r in referral.case.referrals if r is not referral and r.status in REFERRAL_ACTIVE]
    if not others:
        said.append(str(_l("No other referral of case %(ticket)s is open: the case becomes resolved, "
                           "ready to be closed.", ticket=format_code(referral.case.ticket))))
    said.append(str(_l("This cannot be undone: a new referral is needed to try again.")))
    return said


def accept(referral: Referral, *, actor: Actor, note: str | None = None) -> Referral:
    """The agency takes the referral on."""
    return _answer(referral, "accept", actor, note)


def complete(referral: Referral, *, actor: Actor, note: str | None = None) -> Referral:
    """The agency delivered the service; the resident is told; the case may resolve."""
    return _answer(referral, "complete", actor, note)


def reject(referral: Referral, *, reason: str, actor: Actor) -> Referral:
    """The agency cannot help; the reason is required and sent to the resident."""
    return _answer(referral, "reject", actor, reason)


def cancel_referral(referral: Referral, *, reason: str, actor: Actor) -> Referral:
    """Staff withdraw a referral (wrong agency, duplicate, resident withdrew)."""
    return _answer(referral, "cancel", actor, reason)


def cancel_with_case(case: Case, *, reason: str, actor: Actor) -> None:
    """Cancel the case's active referrals as part of cancelling the case (slrt.cases.cancel_case).

    The case moves itself, and the resident is not sent one SMS per referral.
    """
    for referral in case.referrals:
        if referral.status in REFERRAL_ACTIVE:
            _answer(referral, "cancel", actor, reason, cascade=False)


def reopen(referral: Referral, *, actor: Actor, note: str | None = None) -> Referral:
    """A completed referral whose service never came: back to sent, with a fresh due date."""
    return _answer(referral, "reopen", actor, note)


def mark_in_process(referral: Referral, *, actor: Actor, note: str | None = None) -> Referral:
    """The agency says it is working on it: an event, not a state; it pauses escalation.

    On a referral not yet accepted, the answer accepts it first.
    """
    check_referral_scope(actor, referral)
    note = text.clean(note, Event.note, field="note", label=_l("note"), multiline=True)
    if role_of(actor) not in workflow.ANSWER_ROLES:
        raise PermissionDenied(_l("Your role may not %(action)s this.", action=workflow.ACTION_LABELS["in_process"]))
    with db.session.begin_nested():
        workflow.lock(referral)
        if referral.status == ReferralStatus.SENT:
            workflow.apply(REFERRAL_MOVES, "accept", referral, actor)
        elif referral.status != ReferralStatus.ACCEPTED:
            raise IllegalTransition(_l("Cannot %(action)s: it is %(status)s.",
                                       action=workflow.ACTION_LABELS["in_process"],
                                       status=workflow.status_label(referral.status)))
        referral.in_process_at = clock.now()
        workflow.record(referral, "in_process", actor, kind=EventKind.IN_PROCESS, note=note,
                        at=referral.in_process_at)
    return referral


def _answer(referral: Referral, name: str, actor: Actor, note: str | None, cascade: bool = True) -> Referral:
    check_referral_scope(actor, referral)
    # The same words become the event's note and the referral's reason or completion note.
    note = text.clean(note, Referral.reason, field="note", label=_l("reason") if name in ("reject", "cancel")
                      else _l("note"), multiline=True)
    with db.session.begin_nested():
        workflow.lock(referral)
        case = referral.case
        if name == "reopen" and case.status in (CaseStatus.CLOSED, CaseStatus.CANCELLED):
            raise IllegalTransition(_l("The case is %(status)s; open a new case instead.",
                                       status=workflow.status_label(case.status)))
        event = workflow.apply(REFERRAL_MOVES, name, referral, actor, note=note)
        if name == "complete":
            referral.completion_note = note or None
            referral.accepted_at = referral.accepted_at or event.at
        elif name in ("reject", "cancel"):
            referral.reason = note
        elif name == "reopen":
            referral.reopened_count += 1
            referral.due_at = workdays.due_at(clock.to_local(event.at).date(), referral.service.sla_days)
            referral.accepted_at = referral.completed_at = referral.in_process_at = None
            referral.reminders_sent, referral.last_reminded_at = 0, None
            referral.escalated_at, referral.escalation_rung = None, EscalationRung.NONE
            referral.resident_verification, referral.verification_asked_at = ResidentVerification.NOT_ASKED, None
        if cascade:
            workflow.after_referral_change(case, actor)
            _notify_answer(referral, name, event)
    return referral


def _notify_referral_made(referral: Referral, event) -> None:
    resident = referral.case.resident
    documents = ", ".join(d.sms_name for d in referral.service.documents) or "KTP"
    outbox.notify_resident(
        referral.case,
        "referral_made",
        event,
        {
            "code": format_code(referral.code),
            "agency": referral.agency.short_name,
            "agency_address": referral.agency.address,
            "documents": documents,
            "due": notices.short_date(referral.due_at, resident.language),
            "service": referral.service.short_name,
        },
        referral=referral,
    )
    outbox.notify_agency(
        referral,
        "agency_new_referral",
        event,
        {
            "code": format_code(referral.code),
            "service": referral.service.short_name,
            "due": notices.short_date(referral.due_at, "id"),
        },
    )


_ANSWER_NOTICES = {
    "complete": "referral_completed",
    "reject": "referral_rejected",
    "cancel": "referral_cancelled",
}


def _notify_answer(referral: Referral, name: str, event) -> None:
    key = _ANSWER_NOTICES.get(name)
    if key is None:
        return
    asked = outbox.notify_resident(
        referral.case,
        key,
        event,
        {
            "code": format_code(referral.code),
            "agency": referral.agency.short_name,
            "service": referral.service.short_name,
            "reason": referral.reason or "",
        },
        referral=referral,
    )
    if name == "complete" and asked is not None:  # its text asks "sudah Anda terima? 1 Ya / 2 Belum"
        referral.resident_verification, referral.verification_asked_at = ResidentVerification.ASKED, event.at


