"""Cases: open, reassign, cancel, close; resolved automatically when the last referral ends."""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from slrt import clock, codes, outbox, referrals, text, workflow
from slrt.access import INTAKE_ROLES, OVERSIGHT_ROLES, Actor, check_case_scope, role_of, staff_covers
from slrt.errors import PermissionDenied, ValidationError
from slrt.extensions import db
from slrt.models import Case, CaseNeed, Resident, Service, Staff, Unit
from slrt.models.enums import CaseStatus, Channel, EventKind, Outcome, Urgency
from slrt.workflow import CASE_MOVES


def open_case(
    *,
    resident: Resident,
    unit: Unit,
    channel: Channel | str,
    summary: str,
    needs: Iterable[Service],
    actor: Actor,
    urgency: Urgency | str = Urgency.NORMAL,
    assignee: Staff | None = None,
) -> Case:
    """Open a case for ``resident`` at ``unit`` and tell them its ticket by SMS."""
    if role_of(actor) not in INTAKE_ROLES:
        raise PermissionDenied(_l("Only staff may open cases."))
    with db.session.begin_nested():
        try:
            channel, urgency = Channel(channel), Urgency(urgency)
        except ValueError:
            raise ValidationError(_l("Choose the channel and urgency.")) from None
        summary = text.clean(summary, Case.summary, field="summary", label=_l("What the resident says"),
                             multiline=True)
        if not summary:
            raise ValidationError(_l("Write what the resident needs."), field="summary")
        services = list(dict.fromkeys(needs))
        if not services:
            raise ValidationError(_l("Choose at least one needed service."), field="needs")
        inactive = [s.name for s in services if not s.is_active]
        if inactive:
            raise ValidationError(_l("Service no longer offered: %(names)s.", names=", ".join(inactive)),
                                  field="needs")
        case = Case(
            ticket=codes.new_code(),
            resident=resident,
            unit=unit,
            channel=channel,
            summary=summary,
            urgency=urgency,
            status=CaseStatus.OPEN,
            opened_at=clock.now(),
            assignee=assignee or (actor if isinstance(actor, Staff) else None),
            opened_by=actor,
            needs=[CaseNeed(service=s) for s in services],
        )
        check_case_scope(actor, case)
        if case.assignee is not None:
            _check_assignee(case, case.assignee)
        db.session.add(case)
        event = workflow.record(case, "open", actor, to_status=CaseStatus.OPEN, at=case.opened_at)
        outbox.notify_resident(case, "case_registered", event, {})
    return case


def cancel_case(case: Case, *, reason: str, actor: Actor) -> Case:
    """Cancel a case (withdrawn, duplicate); its referrals still open are cancelled too."""
    check_case_scope(actor, case)
    reason = text.clean(reason, Case.outcome_note, field="note", label=_l("reason"), multiline=True)
    with db.session.begin_nested():
        workflow.lock(case)
        workflow.check(CASE_MOVES, "cancel", case, actor, reason)
        referrals.cancel_with_case(case, reason=reason, actor=actor)
        workflow.apply(CASE_MOVES, "cancel", case, actor, note=reason)
        case.outcome_note = reason
    return case


def close_case(case: Case, *, outcome: Outcome | str, actor: Actor, note: str | None = None) -> Case:
    """Close a resolved case with its outcome and tell the resident."""
    check_case_scope(actor, case)
    note = text.clean(note, Case.outcome_note, field="note", label=_l("closing note"), multiline=True)
    with db.session.begin_nested():
        workflow.lock(case)
        workflow.check(CASE_MOVES, "close", case, actor)
        try:
            outcome = Outcome(outcome)
        except ValueError:
            raise ValidationError(_l("Choose the outcome of the case."), field="outcome") from None
        event = workflow.apply(CASE_MOVES, "close", case, actor, note=note)
        case.outcome = outcome
        case.outcome_note = note or None
        outbox.notify_resident(case, "case_closed", event, {})
    return case


def reassign_case(case: Case, *, assignee: Staff, actor: Actor, note: str | None = None) -> Case:
    """Hand a case to another staff member of a unit that covers it."""
    check_case_scope(actor, case)
    if role_of(actor) not in OVERSIGHT_ROLES:
        raise PermissionDenied(_l("Only a supervisor or manager may reassign cases."))
    if case.status in workflow.ENDED:
        raise ValidationError(_l("A closed or cancelled case cannot be reassigned."))
    with db.session.begin_nested():
        _check_assignee(case, assignee)
        previous = case.assignee
        case.assignee = assignee
        workflow.record(
            case, "reassign", actor, kind=EventKind.REASSIGNED,
            note=note or f"{previous.full_name if previous else '-'} -> {assignee.full_name}",
        )
    return case


def assignees(case: Case) -> list[Staff]:
    """Who may follow ``case``: the active staff of its unit and of the units above it, by name."""
    units = [u.id for u in case.unit.lineage()]
    return list(db.session.scalars(select(Staff).where(Staff.active, Staff.unit_id.in_(units))
                                   .order_by(Staff.full_name)))


def _check_assignee(case: Case, staff: Staff) -> None:
    if not staff.is_active or not staff_covers(staff, case.unit):
        raise ValidationError(_l("%(name)s cannot follow this case (inactive or another unit).",
                                 name=staff.full_name), field="assignee")

