"""Who may act, and on which unit's records.

An actor is a staff account, an agency contact answering by SMS, a resident answering
from their phone, or the system itself (automatic moves such as resolving a case).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from slrt.errors import PermissionDenied
from slrt.models import AgencyContact, Case, Referral, Staff, Unit
from slrt.models.enums import Role, UnitKind

#: Pseudo-roles of actors that are not staff.
AGENCY = "agency"
RESIDENT = "resident"
SYSTEM = "system"


@dataclass(frozen=True)
class ResidentPhone:
    """A resident acting by SMS from the phone registered on their case."""

    phone: str


@dataclass(frozen=True)
class System:
    """The application acting on its own (a rule, a schedule)."""

    reason: str = "system"


SYSTEM_ACTOR = System()

Actor = Staff | AgencyContact | ResidentPhone | System

#: Staff roles grouped by what they may do (DESIGN.md, "Who uses it").
INTAKE_ROLES = frozenset(Role)  # every staff role may register residents and open cases
REFERRAL_ROLES = frozenset({Role.BACK_OFFICE, Role.SUPERVISOR, Role.MANAGER})
OVERSIGHT_ROLES = frozenset({Role.SUPERVISOR, Role.MANAGER})


def role_of(actor: Actor) -> str:
    if isinstance(actor, Staff):
        return Role(actor.role)
    if isinstance(actor, AgencyContact):
        return AGENCY
    if isinstance(actor, ResidentPhone):
        return RESIDENT
    if isinstance(actor, System):
        return SYSTEM
    raise TypeError(f"not an actor: {actor!r}")


def staff_covers(staff: Staff, unit: Unit) -> bool:
    """True when ``unit`` is the staff member's own unit or below it."""
    return any(u.id == staff.unit_id for u in unit.lineage())


def check_active(actor: Actor) -> None:
    if isinstance(actor, Staff | AgencyContact) and not actor.is_active:
        raise PermissionDenied(_l("This account is not active."))


def check_case_scope(actor: Actor, case: Case) -> None:
    """Refuse a staff member acting on another unit's case (a Puskesos sees only its own)."""
    check_active(actor)
    if isinstance(actor, Staff) and not staff_covers(actor, case.unit):
        raise PermissionDenied(_l("This case belongs to another unit (%(unit)s).", unit=case.unit.name))
    if isinstance(actor, ResidentPhone) and actor.phone != case.resident.phone:
        raise PermissionDenied(_l("This phone is not the one registered on the case."))


def check_referral_scope(actor: Actor, referral: Referral) -> None:
    """Like :func:`check_case_scope`; an agency contact may answer only its own agency's referrals."""
    if isinstance(actor, AgencyContact):
        check_active(actor)
        if actor.agency_id != referral.agency_id:
            raise PermissionDenied(_l("This referral was sent to another agency."))
        return
    check_case_scope(actor, referral.case)


def covered_units(staff: Staff) -> list[Unit]:
    """The staff member's unit and every unit below it (a secretariat covers its Puskesos)."""
    from slrt.extensions import db

    found, frontier = [staff.unit], [staff.unit]
    while frontier:
        children = list(db.session.scalars(select(Unit).where(Unit.parent_id.in_([u.id for u in frontier]))))
        children = [c for c in children if c not in found]
        found.extend(children)
        frontier = children
    return found


def covered_village_ids(staff: Staff) -> set[int] | None:
    """Villages whose residents the staff member may see; None means the whole district."""
    units = covered_units(staff)
    if any(u.kind == UnitKind.SECRETARIAT for u in units):
        return None
    return {u.region_id for u in units}
