"""The two state machines of DESIGN.md as tables, and the one function that applies a move.

Every status change in the application goes through :func:`apply`: it checks the
actor's role and the current state, records an Event and sets the status and its
timestamp. Callers (slrt.cases, slrt.referrals) add the side effects (SMS) and run it
inside a savepoint, so a refused or failed move changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect, select
from sqlalchemy.orm.exc import StaleDataError

from slrt import audit, clock, text
from slrt.access import AGENCY, OVERSIGHT_ROLES, REFERRAL_ROLES, RESIDENT, SYSTEM, SYSTEM_ACTOR, Actor, role_of
from slrt.errors import ConcurrentChange, IllegalTransition, PermissionDenied, ValidationError
from slrt.extensions import db
from slrt.models import AgencyContact, Case, Event, Referral, Staff
from slrt.models.enums import REFERRAL_ACTIVE, AuditAction, EventKind, Labelled
from slrt.models.enums import CaseStatus as C
from slrt.models.enums import ReferralStatus as R


@dataclass(frozen=True)
class Move:
    """One allowed transition: from any of ``sources`` to ``target``, by one of ``roles``."""

    sources: frozenset
    target: str
    roles: frozenset
    #: The move needs a reason or outcome note (reject, cancel).
    needs_note: bool = False
    #: Column stamped with the time of the move.
    stamp: str | None = None


def _move(sources, target, roles, needs_note=False, stamp=None) -> Move:
    return Move(frozenset(sources), target, frozenset(roles), needs_note, stamp)


#: Answers an agency gives; staff record them from the screens, contacts by SMS.
ANSWER_ROLES = REFERRAL_ROLES | {AGENCY}

CASE_MOVES: dict[str, Move] = {
    # the first referral, a new referral on a resolved case, or a reopened referral
    "start": _move({C.OPEN, C.RESOLVED}, C.IN_PROGRESS, REFERRAL_ROLES | {RESIDENT, SYSTEM}),
    "resolve": _move({C.IN_PROGRESS}, C.RESOLVED, {SYSTEM}, stamp="resolved_at"),
    "close": _move({C.RESOLVED}, C.CLOSED, OVERSIGHT_ROLES, stamp="closed_at"),
    "cancel": _move({C.OPEN, C.IN_PROGRESS}, C.CANCELLED, OVERSIGHT_ROLES, needs_note=True, stamp="cancelled_at"),
}

#: Case states in which a need may be referred (a referral on a resolved case starts it again).
REFERABLE = frozenset({C.OPEN, C.IN_PROGRESS, C.RESOLVED})
#: Case states in which the case is over: nobody is handed it any more.
ENDED = frozenset({C.CLOSED, C.CANCELLED})

REFERRAL_MOVES: dict[str, Move] = {
    "accept": _move({R.SENT}, R.ACCEPTED, ANSWER_ROLES, stamp="accepted_at"),
    # an agency may report completion straight from a reminder digest
    "complete": _move({R.SENT, R.ACCEPTED}, R.COMPLETED, ANSWER_ROLES, stamp="completed_at"),
    "reject": _move({R.SENT, R.ACCEPTED}, R.REJECTED, ANSWER_ROLES, needs_note=True, stamp="rejected_at"),
    "cancel": _move({R.SENT, R.ACCEPTED}, R.CANCELLED, REFERRAL_ROLES, needs_note=True, stamp="cancelled_at"),
    # the resident says the service never came, or staff reopen it
    "reopen": _move({R.COMPLETED}, R.SENT, REFERRAL_ROLES | {RESIDENT}, stamp="reopened_at"),
}

ACTION_LABELS = {
    "open": _l("open case"),
    "complaint": _l("complaint added"),
    "documents": _l("record documents brought"),
    "refer": _l("refer"),
    "start": _l("start"),
    "resolve": _l("resolve"),
    "close": _l("close"),
    "cancel": _l("cancel"),
    "accept": _l("accept"),
    "complete": _l("complete"),
    "reject": _l("reject"),
    "reopen": _l("reopen"),
    "verify": _l("verify"),
    "in_process": _l("in process"),
    "reassign": _l("reassign"),
    "escalate": _l("escalated"),
    "remind": _l("Send reminder now"),
    "follow_up": _l("follow-up done"),
    "dtsen_propose": _l("proposed to DTSEN"),
    "dtsen_withdraw": _l("DTSEN proposal withdrawn"),
}


def status_label(status) -> str:
    """A case's or referral's state in words (the labels of slrt.models.enums)."""
    return str(status.label) if isinstance(status, Labelled) else str(status)


def allowed_moves(table: dict[str, Move], obj, actor: Actor) -> list[str]:
    """Names of the moves ``actor`` may make on ``obj`` now (for buttons on a screen)."""
    role = role_of(actor)
    return [name for name, move in table.items() if obj.status in move.sources and role in move.roles]


def may_refer(case: Case, actor: Actor) -> bool:
    """Whether ``actor`` may refer a need of ``case`` now (for the refer form on a screen)."""
    return role_of(actor) in REFERRAL_ROLES and case.status in REFERABLE


def may_reassign(case: Case, actor: Actor) -> bool:
    """Whether ``actor`` may hand ``case`` to another staff member now (for the reassign form on a screen)."""
    return role_of(actor) in OVERSIGHT_ROLES and case.status not in ENDED


def check(table: dict[str, Move], name: str, obj, actor: Actor, note: str | None = None) -> Move:
    """Raise unless ``actor`` may make move ``name`` on ``obj`` now; return the move."""
    move = table[name]
    if role_of(actor) not in move.roles:
        raise PermissionDenied(_l("Your role may not %(action)s this.", action=ACTION_LABELS.get(name, name)))
    if obj.status not in move.sources:
        raise IllegalTransition(
            _l("Cannot %(action)s: it is %(status)s.", action=ACTION_LABELS.get(name, name),
               status=status_label(obj.status))
        )
    if move.needs_note and not (note or "").strip():
        raise ValidationError(_l("A reason is required."), field="note")
    return move


def apply(table: dict[str, Move], name: str, obj: Case | Referral, actor: Actor, note: str | None = None) -> Event:
    """Make move ``name`` on ``obj`` (a Case or a Referral) and return its Event (flushed)."""
    move = check(table, name, obj, actor, note)
    source = obj.status
    obj.status = move.target
    at = clock.now()
    if move.stamp:
        setattr(obj, move.stamp, at)
    event = record(obj, name, actor, note=note, from_status=source, to_status=move.target, at=at)
    # The one entry of a status change (the audit's change listener leaves status columns out).
    audit.record(AuditAction.TRANSITION, record=obj, actor=actor, resident_ids=audit.residents_of(obj),
                 detail={"move": name, "from": getattr(source, "value", source),
                         "to": getattr(move.target, "value", move.target)})
    return event


def record(
    obj: Case | Referral,
    action: str,
    actor: Actor,
    *,
    note: str | None = None,
    from_status=None,
    to_status=None,
    kind: EventKind = EventKind.STATUS,
    at=None,
) -> Event:
    """Add one timeline Event for ``obj`` and flush it, so its id can key the SMS it causes."""
    note = text.clean(note, Event.note, field="note", label=_l("note"), multiline=True)
    is_referral = isinstance(obj, Referral)
    event = Event(
        case=obj.case if is_referral else obj,
        referral=obj if is_referral else None,
        kind=kind,
        action=action,
        from_status=getattr(from_status, "value", from_status),
        to_status=getattr(to_status, "value", to_status),
        note=note or None,
        at=at or clock.now(),
    )
    _set_actor(event, actor)
    db.session.add(event)
    try:
        db.session.flush()
    except StaleDataError:
        # Someone else saved this case or referral since it was read (the version column).
        raise ConcurrentChange(_l("Someone else changed this record just now. Reload it and try again.")) from None
    return event


def after_referral_change(case: Case, actor: Actor) -> None:
    """Move the case with its referrals: in progress while one is active, resolved when none is."""
    if case.status in (C.CLOSED, C.CANCELLED):
        return
    any_active = any(r.status in REFERRAL_ACTIVE for r in case.referrals)
    if any_active and case.status in (C.OPEN, C.RESOLVED):
        apply(CASE_MOVES, "start", case, actor if role_of(actor) in CASE_MOVES["start"].roles else SYSTEM_ACTOR)
    elif not any_active and case.referrals and case.status == C.IN_PROGRESS:
        apply(CASE_MOVES, "resolve", case, SYSTEM_ACTOR)


def _set_actor(event: Event, actor: Actor) -> None:
    role = role_of(actor)
    if isinstance(actor, Staff):
        event.actor_staff = actor
    elif isinstance(actor, AgencyContact):
        event.actor_contact = actor
        event.actor_phone = actor.phone
    elif role == RESIDENT:
        event.actor_phone = actor.phone


def lock(obj: Case | Referral) -> None:
    """Re-read ``obj`` with a row lock (PostgreSQL: SELECT ... FOR UPDATE).

    Two clerks, or a clerk and an SMS reply, moving one referral at once: the second
    waits, then sees the first one's state and gets a clear refusal instead of a lost
    update. On SQLite the write lock and the version column do the same job.
    """
    state = inspect(obj)
    if state.persistent and not state.modified:
        model = type(obj)
        # Lock the row alone (the object may have been loaded with outer joins, which
        # PostgreSQL will not lock), then re-read it: it is now the latest committed state.
        db.session.execute(select(model.id).where(model.id == obj.id).with_for_update())
        db.session.refresh(obj)
