"""Follow-ups: a resident the SMS could not reach is called or visited by the village facilitator.

Opened by the outbox when a resident notice fails for good, or when no delivery receipt
came in time; closed by the facilitator with a note of what was done. One per message.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from slrt import clock, text, workflow
from slrt.access import Actor, check_active, check_case_scope, role_of
from slrt.errors import PermissionDenied, ValidationError
from slrt.extensions import db
from slrt.models import FollowUp, SmsMessage
from slrt.models.enums import EventKind, FollowUpReason, FollowUpStatus, Role

#: Who may mark a follow-up done: the people who work the case in the village and above.
CLOSERS = {Role.FACILITATOR, Role.FRONT_OFFICE, Role.BACK_OFFICE, Role.SUPERVISOR, Role.MANAGER}


def open_for(message: SmsMessage, reason: FollowUpReason, detail: str) -> FollowUp | None:
    """Ask the case's facilitator to reach the resident instead (once per message)."""
    if message.case is None:
        return None
    existing = db.session.scalar(select(FollowUp).where(FollowUp.message_id == message.id))
    if existing is not None:
        return existing
    follow_up = FollowUp(case=message.case, unit=message.case.unit, message=message, reason=reason,
                         detail=detail[:255])
    db.session.add(follow_up)
    return follow_up


def complete(follow_up: FollowUp, *, actor: Actor, note: str) -> FollowUp:
    """The facilitator called or visited: close the follow-up and note it on the case's timeline."""
    check_active(actor)
    if role_of(actor) not in CLOSERS:
        raise PermissionDenied(_l("You may not close follow-ups."))
    check_case_scope(actor, follow_up.case)
    note = text.clean(note, FollowUp.note, field="note", label=_l("note"), multiline=True)
    if not note:
        raise ValidationError(_l("Say what was done: called, visited, message passed on."), field="note")
    if follow_up.status == FollowUpStatus.DONE:
        return follow_up
    follow_up.status = FollowUpStatus.DONE
    follow_up.done_at = clock.now()
    follow_up.done_by = actor
    follow_up.note = note
    workflow.record(follow_up.case, "follow_up", actor, kind=EventKind.NOTE, note=note, at=follow_up.done_at)
    return follow_up
