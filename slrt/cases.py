"""Cases: open, reassign, cancel, close; resolved automatically when the last referral ends."""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from slrt import clock, codes, outbox, referrals, residents, text, workflow
from slrt.access import INTAKE_ROLES, OVERSIGHT_ROLES, Actor, check_case_scope, role_of, staff_covers
from slrt.errors import IllegalTransition, PermissionDenied, ValidationError
from slrt.extensions import db
from slrt.models import Case, CaseNeed, Resident, Service, Staff, Unit
from slrt.models.enums import REFERRAL_ACTIVE, CaseStatus, Channel, EventKind, Outcome, ReferralStatus, Urgency
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
        channel, urgency, summary, services = _complaint(channel, urgency, summary, needs)
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


def _complaint(channel, urgency, summary, needs) -> tuple[Channel, Urgency, str, list[Service]]:
    """The checked channel, urgency, summary and needed services of a complaint taken at intake."""
    channel, urgency = _channel_urgency(channel, urgency)
    return channel, urgency, _summary(summary), _services(needs)


def _channel_urgency(channel, urgency) -> tuple[Channel, Urgency]:
    try:
        return Channel(channel), Urgency(urgency)
    except ValueError:
        raise ValidationError(_l("Choose the channel and urgency."), field="channel") from None


def _summary(summary: str | None) -> str:
    summary = text.clean(summary, Case.summary, field="summary", label=_l("What the resident says"),
                         multiline=True)
    if not summary:
        raise ValidationError(_l("Write what the resident needs."), field="summary")
    return summary


def _services(needs: Iterable[Service]) -> list[Service]:
    services = list(dict.fromkeys(needs))
    if not services:
        raise ValidationError(_l("Choose at least one needed service."), field="needs")
    inactive = [s.name for s in services if not s.is_active]
    if inactive:
        raise ValidationError(_l("Service no longer offered: %(names)s.", names=", ".join(inactive)),
                              field="needs")
    return services


def complaint_errors(*, channel, urgency, summary, needs: Iterable[Service]) -> dict[str, str]:
    """Every problem of a complaint's fields at once, by field (empty when all are right)."""
    errors: dict[str, str] = {}
    for field, run in (("channel", lambda: _channel_urgency(channel, urgency)),
                       ("summary", lambda: _summary(summary)),
                       ("needs", lambda: _services(needs))):
        try:
            run()
        except ValidationError as exc:
            errors[exc.field or field] = str(exc)
    return errors


def open_cases_of(resident: Resident, actor: Actor) -> list[Case]:
    """The resident's cases not yet closed or cancelled that ``actor`` may see, oldest first: at intake
    the clerk adds a new complaint to one of them rather than opening a duplicate."""
    found = db.session.scalars(select(Case).where(Case.resident_id == resident.id,
                                                  Case.status.not_in(workflow.ENDED)).order_by(Case.opened_at))
    return [case for case in found if _sees(actor, case)]


def _sees(actor: Actor, case: Case) -> bool:
    try:
        check_case_scope(actor, case)
    except PermissionDenied:
        return False
    return True


#: What the intake form sends to open a new case although the resident has one open.
NEW_CASE = "new"


def take_complaint(
    *,
    resident: Resident,
    choice: str | None,
    unit: Unit,
    channel: Channel | str,
    summary: str,
    needs: Iterable[Service],
    actor: Actor,
    urgency: Urgency | str = Urgency.NORMAL,
) -> tuple[Case, bool]:
    """Take a resident's complaint at intake: a new case, or added to one of their open cases.

    A resident with an open case is not given a second one unless the clerk says so:
    ``choice`` is the id of the open case to add to, or :data:`NEW_CASE`. Returns the case
    and whether it was opened now.
    """
    chosen = chosen_case(resident, choice, actor)
    if chosen is not None:
        return add_complaint(chosen, summary=summary, needs=needs, channel=channel, actor=actor), False
    return open_case(resident=resident, unit=unit, channel=channel, summary=summary, needs=needs,
                     actor=actor, urgency=urgency), True


def chosen_case(resident: Resident, choice: str | None, actor: Actor) -> Case | None:
    """The open case of ``resident`` the clerk chose to add a complaint to, or None for a new case.

    With open cases and neither one of them nor :data:`NEW_CASE` chosen, raises ValidationError
    (field ``case_choice``) naming them: duplicates of a case still open are opened on purpose only.
    """
    open_now = open_cases_of(resident, actor)
    if not open_now or choice == NEW_CASE:
        return None
    chosen = next((c for c in open_now if str(c.id) == (choice or "").strip()), None)
    if chosen is None:
        raise ValidationError(
            _l("This resident already has an open case (%(tickets)s): add the complaint to it, or choose "
               "to open a new case.", tickets=", ".join(codes.format_code(c.ticket) for c in open_now)),
            field="case_choice")
    return chosen


def add_complaint(case: Case, *, summary: str, needs: Iterable[Service], channel: Channel | str,
                  actor: Actor) -> Case:
    """Add a new complaint of the resident to their open ``case``: its needs not yet on the case join
    it, and the timeline notes what they said. No SMS: the resident already has the ticket."""
    check_case_scope(actor, case)
    if role_of(actor) not in INTAKE_ROLES:
        raise PermissionDenied(_l("Only staff may open cases."))
    with db.session.begin_nested():
        workflow.lock(case)
        if case.status in workflow.ENDED:
            raise IllegalTransition(_l("The case is %(status)s; open a new case instead.",
                                       status=workflow.status_label(case.status)))
        _channel, _urgency, summary, services = _complaint(channel, case.urgency, summary, needs)
        present = {n.service_id for n in case.needs}
        added = [s for s in services if s.id not in present]
        case.needs.extend(CaseNeed(service=s) for s in added)
        note = summary
        if added:
            note += "\n+ " + ", ".join(s.name for s in added)
        workflow.record(case, "complaint", actor, kind=EventKind.NOTE, note=note[:1000])
    return case


#: The outcomes' words by member (declared once with the enum, slrt.models.enums).
OUTCOME_LABELS = {outcome: outcome.label for outcome in Outcome}
#: What each outcome means, for the clerk choosing it when closing a case.
OUTCOME_HELP = {
    Outcome.FULFILLED: _l("every need was met: each needed service was completed by an agency"),
    Outcome.PARTIAL: _l("some needs were met: a service was completed, another was rejected, cancelled "
                        "or never referred"),
    Outcome.UNFULFILLED: _l("no need was met: no referral was completed"),
}


def suggested_outcome(case: Case) -> Outcome:
    """The outcome the case's referrals point to, the default when it is closed.

    Per needed service (the case's needs and every service referred): met when one of its
    referrals was completed. All met: fulfilled; some: partly; none: not fulfilled. A need
    whose referral was rejected or cancelled, and not completed elsewhere, is not met.
    """
    services = {n.service_id for n in case.needs} | {r.service_id for r in case.referrals}
    met = {r.service_id for r in case.referrals if r.status == ReferralStatus.COMPLETED}
    if services and met >= services:
        return Outcome.FULFILLED
    return Outcome.PARTIAL if met else Outcome.UNFULFILLED


def close_consequences(case: Case, *, outcome: Outcome | str, actor: Actor, note: str | None = None) -> list[str]:
    """What closing ``case`` will do, for the confirmation screen; raises what :func:`close_case` would."""
    check_case_scope(actor, case)
    text.clean(note, Case.outcome_note, field="note", label=_l("closing note"), multiline=True)
    workflow.check(CASE_MOVES, "close", case, actor)
    try:
        outcome = Outcome(outcome)
    except ValueError:
        raise ValidationError(_l("Choose the outcome of the case."), field="outcome") from None
    said = [str(_l("Case %(ticket)s is closed with the outcome \"%(outcome)s\"; it cannot be reopened.",
                   ticket=codes.format_code(case.ticket), outcome=OUTCOME_LABELS[outcome]))]
    if outcome != suggested_outcome(case):
        said.append(str(_l("The referrals suggest \"%(outcome)s\".", outcome=OUTCOME_LABELS[suggested_outcome(case)])))
    said.append(residents.sms_line(case.resident, _l("the case is closed.")))
    return said


def cancel_consequences(case: Case, *, reason: str, actor: Actor) -> list[str]:
    """What cancelling ``case`` will do, for the confirmation screen; raises what :func:`cancel_case` would."""
    check_case_scope(actor, case)
    reason = text.clean(reason, Case.outcome_note, field="note", label=_l("reason"), multiline=True)
    workflow.check(CASE_MOVES, "cancel", case, actor, reason)
    said = [str(_l("Case %(ticket)s is cancelled (reason: %(reason)s); it cannot be reopened.",
                   ticket=codes.format_code(case.ticket), reason=reason))]
    active = [r for r in case.referrals if r.status in REFERRAL_ACTIVE]
    if active:
        said.append(str(_l("Its open referrals are cancelled too: %(codes)s.",
                           codes=", ".join(f"{codes.format_code(r.code)} ({r.agency.name})" for r in active))))
    said.append(str(_l("No SMS is sent to the resident or the agencies.")))
    return said


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

